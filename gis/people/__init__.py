"""People and their rights: users, teams and API keys, the role × action permission table, and the
secrets behind log-in (password hashes, tokens)."""

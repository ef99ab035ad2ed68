"""Limits of the store's column types, so that input beyond them is refused where it arrives (a 422 or a
NotFound naming the field) instead of reaching PostgreSQL, whose refusal would be a server error."""

from __future__ import annotations

INT4_MAX = 2**31 - 1
"""The largest ``integer`` (every id column, every count): an id above it names nothing."""

BIGINT_MAX = 2**63 - 1
"""The largest ``bigint`` (LIMIT and OFFSET are bigints)."""

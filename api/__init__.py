"""Wangge's adapters and composition root: the HTTP API (FastAPI) and the `wangge` CLI.

Only this package opens transactions and turns domain errors into answers (HTTP statuses, exit codes).
"""

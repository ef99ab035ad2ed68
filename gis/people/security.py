"""Secrets: password hashes (Argon2id), signed access tokens (JWT, HS256) and API keys.

Nothing here reads settings or touches the database: callers pass the signing secret and lifetime, so the
same functions serve the API, the CLI and the tests. Every failure to verify raises ``Unauthenticated``
with a message safe to show (it never says whether the user or the password was wrong).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from gis.errors import Unauthenticated

TOKEN_ALGORITHM = "HS256"
MIN_SECRET_LENGTH = 32  # HS256 wants at least 256 bits of key
API_KEY_MARK = "wg_"  # lets people (and secret scanners) recognise a Wangge key
API_KEY_PREFIX_LENGTH = len(API_KEY_MARK) + 8  # stored in clear to find the key and to name it in lists

# Argon2id with pwdlib's defaults (64 MiB, 3 passes): about 0.1 s per hash on a small server.
_passwords = PasswordHash((Argon2Hasher(),))


# -- passwords ------------------------------------------------------------------------------------------
def hash_password(plain: str) -> str:
    """An Argon2id hash of ``plain`` (salted; two calls give two different strings)."""
    return _passwords.hash(plain)


def verify_password(plain: str, hashed: str | None) -> bool:
    """Whether ``plain`` matches ``hashed``. With no hash (a user without a password) the check still
    costs one hash, so response times do not reveal which usernames exist."""
    if not hashed:
        _passwords.verify(plain, _dummy_hash())
        return False
    try:
        return _passwords.verify(plain, hashed)
    except Exception:  # a malformed stored hash must read as "wrong password", not as a server error
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _passwords.hash(secrets.token_urlsafe(16))


# -- access tokens --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int  # seconds
    expires_at: datetime


def create_access_token(
    subject: str, *, secret: str, minutes: float, now: datetime | None = None
) -> AccessToken:
    """A signed token naming ``subject`` (the user id as text), valid for ``minutes`` from ``now``.

    ``now`` exists so tests can mint tokens that are already expired."""
    _check_secret(secret)
    issued = now or datetime.now(UTC)
    expires = issued + timedelta(minutes=minutes)
    claims = {"sub": subject, "iat": issued, "exp": expires, "typ": "access"}
    return AccessToken(
        token=jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM),
        expires_in=max(0, round((expires - issued).total_seconds())),
        expires_at=expires,
    )


def token_subject(token: str, *, secret: str) -> str:
    """The subject of a valid token; raises Unauthenticated when it is malformed, forged or expired."""
    _check_secret(secret)
    try:
        claims = jwt.decode(
            token, secret, algorithms=[TOKEN_ALGORITHM], options={"require": ["exp", "iat", "sub"]}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the access token has expired; log in again") from None
    except jwt.InvalidTokenError:
        raise Unauthenticated("the access token is not valid") from None
    if claims.get("typ") != "access":
        raise Unauthenticated("the access token is not valid")
    return str(claims["sub"])


def _check_secret(secret: str) -> None:
    # A short key makes HS256 tokens forgeable by brute force: refuse rather than sign weakly.
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"the token secret must be at least {MIN_SECRET_LENGTH} characters")


def persistent_secret(path: Path) -> str:
    """The secret stored at ``path``, created (random, mode 0600) on first use.

    Lets a fresh install sign tokens that survive restarts without anyone choosing a key; a configured
    secret, when there is one, takes precedence (the caller decides)."""
    if path.exists():
        stored = path.read_text().strip()
        if len(stored) >= MIN_SECRET_LENGTH:
            return stored
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return secret


# -- API keys -------------------------------------------------------------------------------------------
def new_api_key() -> tuple[str, str, str]:
    """A fresh key as ``(plain, prefix, sha256 hex of plain)``.

    The plain key is shown once and never stored. SHA-256 (not Argon2) suffices: the key carries 256
    random bits, so there is nothing to brute-force, and every API request must check it fast."""
    plain = API_KEY_MARK + secrets.token_urlsafe(32)
    return plain, api_key_prefix(plain), hash_api_key(plain)


def api_key_prefix(plain: str) -> str:
    return plain[:API_KEY_PREFIX_LENGTH]


def hash_api_key(plain: str) -> str:
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def api_key_matches(plain: str, key_hash: str) -> bool:
    """Constant-time comparison of a presented key with a stored hash."""
    return hmac.compare_digest(hash_api_key(plain), key_hash)

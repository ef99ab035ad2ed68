import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from gis.errors import Unauthenticated
from gis.people import security

SECRET = "s" * 40
OTHER_SECRET = "o" * 40


def test_a_password_verifies_against_its_hash_and_nothing_else() -> None:
    hashed = security.hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert security.verify_password("correct horse", hashed)
    assert not security.verify_password("correct hors", hashed)


def test_hashing_the_same_password_twice_gives_different_salted_hashes() -> None:
    assert security.hash_password("same-password") != security.hash_password("same-password")


def test_a_missing_or_malformed_hash_never_verifies() -> None:
    assert not security.verify_password("anything", None)
    assert not security.verify_password("anything", "not-a-hash")


def test_a_token_names_its_subject_and_lifetime() -> None:
    token = security.create_access_token("42", secret=SECRET, minutes=30)
    assert token.expires_in == 30 * 60
    assert security.token_subject(token.token, secret=SECRET) == "42"


def test_an_expired_token_is_refused() -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    token = security.create_access_token("42", secret=SECRET, minutes=60, now=long_ago)
    with pytest.raises(Unauthenticated, match="expired"):
        security.token_subject(token.token, secret=SECRET)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = security.create_access_token("42", secret=OTHER_SECRET, minutes=5)
    with pytest.raises(Unauthenticated, match="not valid"):
        security.token_subject(token.token, secret=SECRET)


def test_a_token_with_a_tampered_subject_is_refused() -> None:
    token = security.create_access_token("42", secret=SECRET, minutes=5).token
    header, _payload, signature = token.split(".")
    forged_payload = jwt.encode({"sub": "1", "iat": 0, "exp": 2**31, "typ": "access"}, "x" * 40).split(".")[1]
    with pytest.raises(Unauthenticated):
        security.token_subject(f"{header}.{forged_payload}.{signature}", secret=SECRET)


def test_a_token_signed_with_the_none_algorithm_is_refused() -> None:
    unsigned = jwt.encode({"sub": "1", "iat": 0, "exp": 2**31, "typ": "access"}, None, algorithm="none")
    with pytest.raises(Unauthenticated):
        security.token_subject(unsigned, secret=SECRET)


def test_a_short_secret_is_refused_rather_than_used() -> None:
    with pytest.raises(ValueError, match="at least"):
        security.create_access_token("42", secret="short", minutes=5)


def test_a_new_api_key_carries_its_prefix_and_the_sha256_of_itself() -> None:
    plain, prefix, key_hash = security.new_api_key()
    assert plain.startswith("wg_") and len(plain) > 40
    assert plain.startswith(prefix) and len(prefix) == security.API_KEY_PREFIX_LENGTH
    assert len(key_hash) == 64 and plain not in key_hash
    assert security.api_key_matches(plain, key_hash)
    other, _, _ = security.new_api_key()
    assert other != plain
    assert not security.api_key_matches(other, key_hash)


def test_the_persistent_secret_is_created_private_and_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "token_secret"
    first = security.persistent_secret(path)
    assert len(first) >= security.MIN_SECRET_LENGTH
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert security.persistent_secret(path) == first

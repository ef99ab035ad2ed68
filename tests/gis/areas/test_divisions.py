from __future__ import annotations

import pytest

from gis.areas.divisions import is_valid_code, level_of_code, normalise_code, parent_of_code, parse_level
from gis.models import AdminLevel


@pytest.mark.parametrize(
    ("code", "level", "parent"),
    [
        ("433100000000", AdminLevel.prefecture, None),
        ("433101000000", AdminLevel.city, "433100000000"),
        ("433101004000", AdminLevel.subdistrict, "433101000000"),
        ("433101004003", AdminLevel.community, "433101004000"),
        ("433101100200", AdminLevel.community, "433101100000"),
        ("430000000000", None, None),
    ],
)
def test_the_level_and_parent_follow_from_the_lowest_non_zero_part(
    code: str, level: AdminLevel | None, parent: str | None
) -> None:
    assert level_of_code(code) == level
    assert parent_of_code(code) == parent


def test_codes_stored_as_numbers_or_padded_text_are_normalised() -> None:
    values = [433101004003, 433101004003.0, " 433101004003 ", None, float("nan"), "", "4331010040"]
    assert [normalise_code(v) for v in values] == [
        "433101004003", "433101004003", "433101004003", None, None, None, "4331010040"]


def test_only_twelve_digits_make_a_code() -> None:
    assert is_valid_code("433101004003")
    assert not any(is_valid_code(c) for c in (None, "4331010040", "43310100400a", "4331010040030"))


def test_level_words_of_several_vocabularies_are_understood() -> None:
    assert [parse_level(w) for w in ("community", "Village", "社区", "街道", "镇", "县", "州", " city ")] == [
        AdminLevel.community, AdminLevel.community, AdminLevel.community, AdminLevel.subdistrict,
        AdminLevel.subdistrict, AdminLevel.city, AdminLevel.prefecture, AdminLevel.city]
    assert parse_level("province") is None and parse_level(None) is None

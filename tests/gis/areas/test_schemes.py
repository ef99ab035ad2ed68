from __future__ import annotations

import pytest

from gis.areas.schemes import MAX_CODE_LENGTH, CodeScheme
from gis.models.areas import AdminLevel


@pytest.mark.parametrize(("value", "stored"), [
    (433101, "433101000000"), ("433101", "433101000000"), (433101004.0, "433101004000"),
    ("433101004003", "433101004003"), (" 433100 ", "433100000000"), (None, None),
])
def test_adcodes_are_padded_to_twelve_digits(value: object, stored: str | None) -> None:
    assert CodeScheme.adcode.normalise(value) == stored


def test_an_adcode_says_its_level_and_parent_as_a_division_code_does() -> None:
    code = CodeScheme.adcode.normalise(433101)
    assert code is not None and CodeScheme.adcode.problem(code) is None
    assert CodeScheme.adcode.level_of(code) is AdminLevel.city
    assert CodeScheme.adcode.parent_of(code) == "433100000000"


@pytest.mark.parametrize(("scheme", "code", "problem"), [
    (CodeScheme.cn, "433101", "not 12 digits"),
    (CodeScheme.adcode, "4331", "not a 6-, 9- or 12-digit adcode"),
    (CodeScheme.any, "BK 03", "other than letters"),
    (CodeScheme.any, "x" * (MAX_CODE_LENGTH + 1), "longer than"),
    (CodeScheme.any, None, "missing"),
])
def test_codes_outside_their_scheme_are_named(scheme: CodeScheme, code: str | None, problem: str) -> None:
    found = scheme.problem(code)
    assert found is not None and problem in found


def test_any_id_is_a_code_that_says_nothing_of_its_level_or_parent() -> None:
    code = CodeScheme.any.normalise(311.0)

    assert code == "311" and CodeScheme.any.problem(code) is None
    assert CodeScheme.any.level_of(code) is None and CodeScheme.any.parent_of(code) is None


@pytest.mark.parametrize(("scheme", "community", "sequence", "digits", "code"), [
    (CodeScheme.cn, "433101004003", 7, 3, "433101004003007"),
    (CodeScheme.cn, "433101004003", 1234, 4, "4331010040031234"),
    (CodeScheme.any, "311", 42, 3, "311-042"),
])
def test_cell_codes_number_within_their_community(
    scheme: CodeScheme, community: str, sequence: int, digits: int, code: str
) -> None:
    assert scheme.cell_code(community, sequence, digits) == code


def test_a_cell_number_that_does_not_fit_its_digits_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit 3 digits"):
        CodeScheme.cn.cell_code("433101004003", 1000)


@pytest.mark.parametrize("parent", [{"adcode": 433100}, '{ "adcode": 433100 }'])
def test_a_datav_parent_object_gives_its_adcode(parent: object) -> None:
    assert CodeScheme.adcode.normalise(parent) == "433100000000"


@pytest.mark.parametrize(("scheme", "cell", "community"), [
    (CodeScheme.cn, "433101004003001", "433101004003"),
    (CodeScheme.cn, "4331010040030001", "433101004003"),  # a long sequence
    (CodeScheme.cn, "43310100400301", None),
    (CodeScheme.cn, "433101004003OO1", None),
    (CodeScheme.adcode, "433101000000017", "433101000000"),
    (CodeScheme.any, "311-042", "311"),
    (CodeScheme.any, "BK-03-0042", "BK-03"),
    (CodeScheme.any, "311042", None),
    (CodeScheme.any, "-042", None),
    (CodeScheme.any, "311-42", None),
])
def test_a_cell_code_names_its_community_in_every_scheme(scheme: CodeScheme, cell: str, community: str | None) -> None:
    assert scheme.community_of_cell(cell) == community
    assert (scheme.cell_problem(cell) is None) == (community is not None)
    if community is not None:
        assert scheme.cell_code(community, 42) == {"cn": "433101004003042", "adcode": "433101000000042",
                                                    "any": f"{community}-042"}[scheme.value]

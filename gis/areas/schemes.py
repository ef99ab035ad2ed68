"""Code schemes: how the codes of areas and cells are written, and what a code says about its area.

A deployment uses one scheme (``Settings.code_scheme``, written by ``wangge city init``):

``cn`` (the default)
    12-digit statistical division codes (see :mod:`gis.areas.divisions`); the level and the parent are read
    from the code; cells get the national 15-digit code (the community's 12 digits and a 3-digit number).
``adcode``
    Codes as DataV / AMap publish them: the 6-digit county adcode, or a 9-digit township code, padded with
    zeros to 12 digits (``433101`` → ``433101000000``); from there on exactly as ``cn``.
``any``
    Any unique id per level (``311``, ``BK-03``, ``cartodb_id`` values): letters, digits and ``_ . -``, up
    to :data:`MAX_CODE_LENGTH` characters. A code says nothing of its level or parent: the level comes from
    ``--level`` or a level column, the parent from a parent column or from spatial containment. Cells are
    ``<community>-<number>``.

Long sequences: a community that needs more than 999 cells can be numbered with more digits when the user
asks for it (``wangge grid build --big-areas long``). The cell code is then longer than the 15 digits of the
national standard — a documented departure, chosen once for a whole build.
"""

from __future__ import annotations

import enum
import json
import re

from gis.areas.divisions import is_valid_code, level_of_code, normalise_code, parent_of_code
from gis.models.areas import AdminLevel

MAX_CODE_LENGTH = 40  # admin_area.code; a cell code adds a separator and its number
MAX_CELL_CODE_LENGTH = 48  # grid_cell.code
STANDARD_SEQUENCE_DIGITS = 3  # the national 15-digit cell code: 12 + 3
TOKEN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.\-]*$")


class CodeScheme(enum.StrEnum):
    cn = "cn"
    adcode = "adcode"
    any = "any"

    @property
    def derives_hierarchy(self) -> bool:
        """Whether a code alone gives its level and parent (the digit schemes) or not (``any``)."""
        return self is not CodeScheme.any

    def normalise(self, value: object) -> str | None:
        """The code as stored, from whatever the file holds (int, float, padded text); None when absent.

        The result is not checked: see :meth:`problem`.
        """
        if self is CodeScheme.adcode:
            value = _datav_parent(value)
        code = normalise_code(value)
        if code is None or self is not CodeScheme.adcode:
            return code
        if code.isdigit() and len(code) in (6, 9):
            return code.ljust(12, "0")
        return code

    def problem(self, code: str | None) -> str | None:
        """What is wrong with a normalised code, as a phrase naming the rule; None when it is good."""
        if code is None:
            return "is missing"
        if self is CodeScheme.cn:
            return None if is_valid_code(code) else f"{code!r} is not 12 digits"
        if self is CodeScheme.adcode:
            return None if is_valid_code(code) else f"{code!r} is not a 6-, 9- or 12-digit adcode"
        if len(code) > MAX_CODE_LENGTH:
            return f"{code!r} is longer than {MAX_CODE_LENGTH} characters"
        if not TOKEN.match(code):
            return f"{code!r} holds characters other than letters, digits and _ . -"
        return None

    def wanted(self) -> str:
        """What a good code is, for a person fixing a file."""
        return {
            "cn": "the full 12-digit statistical division code, e.g. 433101004003",
            "adcode": "a 6-digit adcode (DataV, AMap) or a 9- or 12-digit division code, e.g. 433101",
            "any": f"an id of letters, digits and _ . - (at most {MAX_CODE_LENGTH}), unique in the level, e.g. 311",
        }[self.value]

    def level_of(self, code: str) -> AdminLevel | None:
        """The level a good code denotes; None when the scheme does not say (``any``) or for a province."""
        return level_of_code(code) if self.derives_hierarchy else None

    def parent_of(self, code: str) -> str | None:
        """The parent's code when the code says it (the digit schemes), else None."""
        return parent_of_code(code) if self.derives_hierarchy else None

    def cell_code(self, community_code: str, sequence: int, digits: int = STANDARD_SEQUENCE_DIGITS) -> str:
        """The code of cell number ``sequence`` (from 1) of a community, with ``digits`` digits of number."""
        if not 1 <= sequence < 10**digits:
            raise ValueError(f"cell number {sequence} does not fit {digits} digits")
        separator = "-" if self is CodeScheme.any else ""
        return f"{community_code}{separator}{sequence:0{digits}d}"

    def community_of_cell(self, code: str) -> str | None:
        """The community code that a cell code begins with (the inverse of :meth:`cell_code`, for numbers of
        any length: long sequences too); None when ``code`` is not a cell code of this scheme."""
        if self is CodeScheme.any:
            community, _, number = code.rpartition("-")
            community_good = bool(community) and self.problem(community) is None
        else:
            community, number = code[:12], code[12:]
            community_good = community.isascii() and community.isdigit()
        number_good = number.isascii() and number.isdigit() and len(number) >= STANDARD_SEQUENCE_DIGITS
        return community if community_good and number_good and len(code) <= MAX_CELL_CODE_LENGTH else None

    def cell_problem(self, code: str | None) -> str | None:
        """What is wrong with a cell code, as a phrase naming the rule; None when it is good."""
        if code is None:
            return "is missing"
        if self.community_of_cell(code) is not None:
            return None
        if self is CodeScheme.any:
            return f"{code!r} is not a community id, '-' and a number of at least 3 digits"
        return f"{code!r} is not 15 digits (a 12-digit community code and a 3-digit number, or a longer number)"

    def cell_wanted(self) -> str:
        """What a good cell code is, for a person fixing a file."""
        if self is CodeScheme.any:
            return "the community's id, '-' and the cell's number, e.g. 311-042"
        return "the community's 12 digits followed by a 3-digit number, e.g. 433101004003001"


def _datav_parent(value: object) -> object:
    """DataV writes a feature's parent as an object, ``{"adcode": 433100}`` (GDAL may hand it over as JSON
    text): its adcode is the code."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, dict):
        return value.get("adcode")
    return value

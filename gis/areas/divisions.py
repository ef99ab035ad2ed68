"""Administrative division codes: the 12-digit statistical code (GB/T 2260 + 3 + 3 digits) and what it says.

A code reads province(2) prefecture(2) county(2) township(3) village(3); the level is the last non-zero
part and the parent is the code with that part zeroed::

    433100000000  prefecture  (湘西州)        parent: a province, which Wangge does not hold
    433101000000  city/county (吉首市)        parent 433100000000
    433101004000  subdistrict (乾州街道)      parent 433101000000
    433101004003  community   (a 社区 or 村)  parent 433101004000
"""

from __future__ import annotations

import math
import re
from typing import TypeGuard

from gis.models.areas import AdminLevel

CODE_PATTERN = re.compile(r"^[0-9]{12}$")

# Words found in the level columns of real files (ours, the adcode data's, Chinese labels) → our levels.
# "city" is ours (县级市); the adcode data calls the prefecture "city" and the county "county", so a file
# in that vocabulary is best read through its codes (leave --level-field out).
LEVEL_WORDS: dict[str, AdminLevel] = {
    "prefecture": AdminLevel.prefecture, "州": AdminLevel.prefecture, "地级": AdminLevel.prefecture,
    "市州": AdminLevel.prefecture, "地区": AdminLevel.prefecture,
    "city": AdminLevel.city, "county": AdminLevel.city, "district": AdminLevel.city, "市": AdminLevel.city,
    "县": AdminLevel.city, "区": AdminLevel.city, "县级": AdminLevel.city, "县级市": AdminLevel.city,
    "subdistrict": AdminLevel.subdistrict, "town": AdminLevel.subdistrict, "township": AdminLevel.subdistrict,
    "street": AdminLevel.subdistrict, "街道": AdminLevel.subdistrict, "乡": AdminLevel.subdistrict,
    "镇": AdminLevel.subdistrict, "乡镇": AdminLevel.subdistrict,
    "community": AdminLevel.community, "village": AdminLevel.community, "社区": AdminLevel.community,
    "村": AdminLevel.community, "居委会": AdminLevel.community, "村委会": AdminLevel.community,
}


def normalise_code(value: object) -> str | None:
    """The code as a string of digits, whatever type the file stored it as; None when absent.

    GeoJSON and DBF numeric fields come back as int or float (``433101004003.0``); text may carry spaces.
    The result is not checked: see :func:`is_valid_code`.
    """
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    text = str(value).strip()
    return text or None


def is_valid_code(code: str | None) -> TypeGuard[str]:
    return code is not None and CODE_PATTERN.match(code) is not None


def level_of_code(code: str) -> AdminLevel | None:
    """The level a valid 12-digit code denotes; None for a province code (not a level Wangge holds)."""
    if code[9:] != "000":
        return AdminLevel.community
    if code[6:9] != "000":
        return AdminLevel.subdistrict
    if code[4:6] != "00":
        return AdminLevel.city
    if code[2:4] != "00":
        return AdminLevel.prefecture
    return None


def parent_of_code(code: str) -> str | None:
    """The parent's code by zeroing the code's lowest non-zero part; None for a prefecture (its parent,
    a province, is not held by Wangge) or a province."""
    level = level_of_code(code)
    if level is AdminLevel.community:
        return code[:9] + "000"
    if level is AdminLevel.subdistrict:
        return code[:6] + "000000"
    if level is AdminLevel.city:
        return code[:4] + "00000000"
    return None


def parse_level(value: object) -> AdminLevel | None:
    """A level from a file's level column (our values, adcode words or Chinese labels); None if unknown."""
    text = str(value).strip().lower() if value is not None else ""
    return LEVEL_WORDS.get(text)

import math

import pytest

from gis.errors import InvalidInput
from gis.spatial.bbox import BBox, check_bbox, parse_bbox


def test_a_box_from_a_url_or_command_line_is_a_checked_bbox() -> None:
    assert parse_bbox("109.70,28.25,109.76,28.33") == BBox(109.70, 28.25, 109.76, 28.33)
    assert parse_bbox(None) is None
    assert check_bbox((1, 2, 3, 4)) == BBox(1.0, 2.0, 3.0, 4.0)


@pytest.mark.parametrize(("value", "fix"), [
    ("109.7,28.2", "four numbers"), ("a,b,c,d", "four numbers"), ("1,2,3,4,5", "four numbers"),
    ("0,95,1,96", "latitudes"), ("181,0,182,1", "longitudes"), ("109.8,28.2,109.7,28.3", "antimeridian"),
    ("109.7,28.3,109.8,28.2", "southern"),
])
def test_a_bad_box_names_the_field_and_the_fix(value: str, fix: str) -> None:
    with pytest.raises(InvalidInput, match=f"^--bbox: .*{fix}"):
        parse_bbox(value, "--bbox")


def test_infinite_or_nan_corners_are_refused() -> None:
    for bad in ((0, 0, math.inf, 1), (0, math.nan, 1, 1)):
        with pytest.raises(InvalidInput, match="finite"):
            check_bbox(bad)

import numpy as np
import shapely
from sqlalchemy.orm import Session

from gis.incidents.location import Atlas, locate
from tests.gis.conftest import StreetWorld

# Inside A, inside B, on the A/B shared edge, on a cell edge inside A, on the outer corner, outside.
POINTS = [(109.705, 28.305), (109.715, 28.305), (109.71, 28.305), (109.70 + 0.01 / 3, 28.302), (109.70, 28.30),
          (109.73, 28.305)]


def test_the_atlas_places_points_exactly_as_the_single_report_does(db: Session, street_world: StreetWorld) -> None:
    atlas = Atlas.load(db)
    points = shapely.points(np.array(POINTS))
    community = atlas.community_of(points)
    cells = atlas.cell_of(points, community, np.zeros(len(POINTS), dtype=bool))
    teams = [int(t) if t >= 0 else None for t in atlas.teams_at(community)]
    in_memory = [
        None if c < 0 else (atlas.codes[c], cell, atlas.parents[c], team)
        for c, cell, team in zip(community, cells, teams, strict=True)
    ]
    in_sql = [
        None if (where := locate(db, x, y)) is None
        else (where.community_code, where.cell_code, where.subdistrict_code, where.team_id)
        for x, y in POINTS
    ]
    assert in_memory == in_sql
    assert in_sql[2] is not None and in_sql[2][0] == "433101004001"  # the shared edge goes to the lowest code
    assert in_sql[-1] is None


def test_nearest_measures_metres_in_the_metric_crs(db: Session, street_world: StreetWorld) -> None:
    atlas = Atlas.load(db)
    nearest, metres = atlas.nearest(shapely.points(np.array([(109.725, 28.305)])), 4546)
    assert atlas.codes[nearest[0]] == "433101004002"
    assert 480 < metres[0] < 500

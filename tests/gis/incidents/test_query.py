from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.incidents.query import IncidentFilter, count_incidents, list_incidents
from gis.models import Incident
from tests.gis.conftest import BOX_A, COMMUNITY_A, COMMUNITY_B, T0, StreetWorld, geojson_ids, ids


def test_filters_narrow_the_list(db: Session, cases: list[Incident], street_world: StreetWorld) -> None:
    def listed(**kwargs: object) -> list[int]:
        filters, now = IncidentFilter(**kwargs), T0 + timedelta(days=1)  # type: ignore[arg-type]
        rows = ids(list_incidents(db, filters, sort="id", now=now).items)
        assert geojson_ids(db, filters, sort="id", now=now) == rows  # the map's path lists the same cases
        return rows

    assert listed() == ids(cases)
    assert listed(bbox=BOX_A) == ids(cases[:4])
    assert listed(categories=["06010"]) == ids([cases[2], cases[3], cases[5]])
    assert listed(statuses=["dispatched"]) == ids(cases[:1])
    assert listed(community_code=COMMUNITY_B) == ids(cases[4:])
    assert listed(cell_code=f"{COMMUNITY_A}001") == ids(cases[1:2])
    assert listed(subdistrict_code="433101004000") == ids(cases)
    assert listed(team_id=street_world.community_b_team.id) == ids(cases[4:])
    assert listed(reported_from=T0 + timedelta(hours=2), reported_to=T0 + timedelta(hours=4)) == ids(cases[2:4])
    assert listed(overdue=True) == ids(cases[:1])  # 2 working hours from Monday 09:00
    assert listed(overdue=False) == ids(cases[1:])
    assert listed(within_communities={COMMUNITY_B}) == ids(cases[4:])
    assert listed(within_communities=set()) == []
    assert listed(within_communities=set(), also_reported_by=street_world.grid_worker.id) == ids(cases)
    assert count_incidents(db, IncidentFilter(bbox=BOX_A)) == 4


def test_bad_filter_values_are_refused_naming_the_field(db: Session, cases: list[Incident]) -> None:
    with pytest.raises(InvalidInput, match=r"^status: unknown"):
        list_incidents(db, IncidentFilter(statuses=["open"]))
    with pytest.raises(InvalidInput, match=r"^bbox: "):
        list_incidents(db, IncidentFilter(bbox=(109.8, 28.3, 109.7, 28.4)))
    with pytest.raises(InvalidInput, match=r"^reported_from: give a time zone"):
        list_incidents(db, IncidentFilter(reported_from=datetime(2026, 3, 1)))
    with pytest.raises(InvalidInput, match=r"^sort: "):
        list_incidents(db, sort="category")
    with pytest.raises(InvalidInput, match=r"^limit: "):
        list_incidents(db, limit=0)


@pytest.mark.parametrize("sort", ["-reported_at", "reported_at", "-updated_at", "id", "-id"])
def test_walking_the_keyset_cursor_visits_every_case_once_in_order(db: Session, cases: list[Incident], sort) -> None:
    expected = ids(list_incidents(db, sort=sort, limit=100).items)
    seen: list[int] = []
    cursor = None
    while True:
        page = list_incidents(db, sort=sort, limit=4, cursor=cursor)
        seen += ids(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected and len(seen) == 6
    assert ids(list_incidents(db, sort=sort, limit=2, offset=2).items) == expected[2:4]


def test_a_cursor_from_another_sort_or_a_made_up_one_is_refused(db: Session, cases: list[Incident]) -> None:
    cursor = list_incidents(db, sort="-reported_at", limit=2).next_cursor
    assert cursor is not None
    with pytest.raises(InvalidInput, match="made for sort"):
        list_incidents(db, sort="id", cursor=cursor)
    with pytest.raises(InvalidInput, match=r"^cursor: not a cursor"):
        list_incidents(db, cursor="bm90LWEtY3Vyc29y")
    with pytest.raises(InvalidInput, match="not both"):
        list_incidents(db, cursor=cursor, offset=2)

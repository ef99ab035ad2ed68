"""The two forms of overdue (``Incident.is_overdue`` in Python, ``Incident.overdue_clause`` in SQL) agree."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gis.models import Incident, Status
from gis.models.incidents import CLOCK_STOPPED
from tests.gis.conftest import T0


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("deadline_hours", [None, -1, 1])
def test_python_and_sql_overdue_agree_for_every_status(
    db: Session, cases: list[Incident], status: Status, deadline_hours: int | None
) -> None:
    incident = cases[0]
    deadline = None if deadline_hours is None else T0 + timedelta(hours=deadline_hours)
    db.execute(update(Incident).where(Incident.id == incident.id).values(status=status.value, deadline_at=deadline))
    db.expire(incident)
    now = T0
    in_sql = db.scalar(select(Incident.overdue_clause(now)).where(Incident.id == incident.id))
    in_python = incident.is_overdue(now)
    assert in_sql == in_python
    assert in_python == (deadline_hours == -1 and status not in CLOCK_STOPPED)

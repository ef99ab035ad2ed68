"""Replay the Jishou sample's year of incidents through the real workflow.

Each row of ``data/incidents/jishou_incidents.csv`` names a case and where it stands now (its *outcome*);
the loader reports it with :func:`gis.incidents.service.create` at ``days_ago`` before now and walks it through
:func:`gis.incidents.workflow.transition` step by step, with plausible times between steps, so the history, deadlines,
overdue flags and event rows are exactly what real use would have produced. Loading is idempotent: the
report event of each sample case carries its ``sample_ref``, and refs already present are skipped.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.errors import OutsideJurisdiction
from gis.incidents import service as incidents
from gis.incidents.location import locate
from gis.incidents.photos import store_photo
from gis.incidents.visibility import full_view
from gis.incidents.workflow import transition
from gis.models import Incident, IncidentEvent, PhotoKind, Role, Status, User
from gis.progress import ProgressReporter, no_progress

# The moves that take a fresh report to each outcome, in order; "after" marks a handle step with a photo.
PATHS: dict[str, tuple[str, ...]] = {
    "reported": (),
    "registered": ("register",),
    "rejected": ("reject",),
    "dispatched": ("register", "dispatch"),
    "overdue": ("register", "dispatch"),
    "in_progress": ("register", "dispatch", "take"),
    "extended": ("register", "dispatch", "take", "extend"),
    "handled": ("register", "dispatch", "take", "handle"),
    "closed": ("register", "dispatch", "take", "handle", "verify", "close"),
    "rework": ("register", "dispatch", "take", "handle", "rework"),
    "rework_closed": ("register", "dispatch", "take", "handle", "rework", "handle", "verify", "close"),
    "shelved": ("register", "dispatch", "shelve"),
    "void": ("void",),
    "duplicate": ("mark_duplicate",),
}
REASONS = {
    "reject": "经核实不属于城市管理问题，已告知上报人",
    "rework": "现场核查仍有残留，退回返工",
    "extend": "涉及多个部门协调，申请延期",
    "shelve": "需结合片区改造统一处理，暂时挂账",
    "void": "重复录入，作废",
    "mark_duplicate": "与同一地点已有案件重复",
}


@dataclass(frozen=True)
class SampleSummary:
    loaded: int
    skipped: int
    events: int

    def __str__(self) -> str:
        return f"{self.loaded} incidents replayed ({self.events} events), {self.skipped} already present"


@dataclass
class _Cast:
    """Who plays which part: the supervision centre, officers by team, grid workers by community."""

    supervisor: User
    officers: dict[int, User]
    grid_workers: dict[str, User]

    @classmethod
    def of(cls, session: Session) -> _Cast:
        people = list(session.scalars(select(User).where(User.is_active.is_(True)).order_by(User.id)))
        supervisor = next((u for u in people if u.role == Role.supervisor), None)
        if supervisor is None:
            raise RuntimeError("the sample incidents need the demo people: seed them first")
        officers: dict[int, User] = {}
        for u in people:
            if u.role == Role.officer and u.team_id is not None:
                officers.setdefault(u.team_id, u)
        workers = {u.community_code: u for u in people if u.role == Role.grid_worker and u.community_code}
        return cls(supervisor, officers, workers)


def read_plan(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _after_photo(ref: str, step: int) -> bytes:
    """A small, unique JPEG standing in for the after-handling photo a real officer would take."""
    image = Image.new("RGB", (160, 120), (90, 140, 90))
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 150, 110), outline=(255, 255, 255), width=3)
    draw.text((20, 50), f"{ref} #{step}", fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=70)
    return buffer.getvalue()


def _times(start: datetime, now: datetime, steps: int, rng: random.Random) -> Iterator[datetime]:
    """Plausible times for ``steps`` moves after ``start``: hours apart, never past ``now``."""
    t = start
    budget = max((now - start).total_seconds() - 60, 60.0)
    for _ in range(steps):
        t = t + timedelta(seconds=min(rng.uniform(0.3, 20) * 3600, budget / (steps + 1)))
        yield min(t, now)


def load_sample_incidents(
    session: Session,
    plan_path: Path,
    *,
    photo_dir: Path,
    now: datetime | None = None,
    progress: ProgressReporter = no_progress,
) -> SampleSummary:
    """Report and replay every planned case not yet present; flush. Needs categories, grid and people."""
    now = now or datetime.now(UTC)
    plan = read_plan(plan_path)
    present = set(session.scalars(
        select(IncidentEvent.data["sample_ref"].astext).where(IncidentEvent.data.has_key("sample_ref"))
    ))
    todo = [row for row in plan if row["ref"] not in present]
    if not todo:
        return SampleSummary(0, len(plan), 0)
    cast = _Cast.of(session)
    rng = random.Random(433101)
    events = 0
    # Oldest first, so that duplicates find their originals and public ids follow report order.
    todo.sort(key=lambda row: -float(row["days_ago"]))
    for done, row in enumerate(todo, start=1):
        events += _replay(session, row, cast=cast, rng=rng, now=now, photo_dir=photo_dir)
        progress("sample incidents 示例案件", done, len(todo))
    return SampleSummary(len(todo), len(plan) - len(todo), events)


def _replay(session: Session, row: dict[str, str], *, cast: _Cast, rng: random.Random, now: datetime,
            photo_dir: Path) -> int:
    reported_at = now - timedelta(days=float(row["days_ago"]))
    reporter = None
    if row["source"] == "patrol":  # the grid worker of the place, where the demo has one
        where = locate(session, float(row["lon"]), float(row["lat"]))
        reporter = cast.grid_workers.get(where.community_code) if where else None
    created = incidents.create(
        session, category_code=row["category"], lon=float(row["lon"]), lat=float(row["lat"]),
        description=row["description"], source=row["source"], reporter=reporter or cast.supervisor,
        reported_at=reported_at, now=reported_at, photo_dir=photo_dir,
    )
    incident = created.incident
    report = incident.events[0]
    report.data = {**(report.data or {}), "sample_ref": row["ref"]}
    moves = PATHS[row["outcome"]]
    if row["outcome"] == "duplicate":
        original = _open_original(session, incident)
        if original is None:
            moves = ("void",)
        else:
            incidents.mark_duplicate(session, incident=incident, of=original, actor=cast.supervisor,
                                     expected_version=incident.version, note=REASONS["mark_duplicate"],
                                     now=reported_at + timedelta(hours=2))
            return 2
    for step, (move, at) in enumerate(zip(moves, _times(reported_at, now, len(moves), rng), strict=True)):
        actor = cast.supervisor
        if move in {"take", "handle"}:
            actor = cast.officers.get(incident.team_id or -1) or cast.supervisor
        elif move == "verify" and incident.community_code in cast.grid_workers and rng.random() < 0.5 \
                and _reads(session, cast.grid_workers[incident.community_code], incident):
            actor = cast.grid_workers[incident.community_code]  # on site, in a cell they patrol
        photos = []
        if move == "handle":
            photos = [store_photo(session, incident=incident, photo=_after_photo(row["ref"], step),
                                  photo_dir=photo_dir, kind=PhotoKind.after, uploader=actor)]
        data = {"hours": 16} if move == "extend" else None
        transition(session, incident=incident, to=move, actor=actor, note=REASONS.get(move),
                   expected_version=incident.version, data=data, photos=photos, now=at)
    if row["outcome"] == "overdue" and incident.deadline_at is not None and incident.deadline_at > now:
        # Dispatched too recently to have run out by itself: the sample wants some overdue cases.
        incident.deadline_at = now - timedelta(hours=rng.uniform(1, 30))
        session.flush()
    return 1 + len(moves)


def _open_original(session: Session, incident: Incident) -> Incident | None:
    candidates = [c for c in incidents.find_duplicates(session, incident, radius_m=300)
                  if c.id != incident.id and c.status != Status.duplicate]
    return candidates[0] if candidates else None


def _reads(session: Session, user: User, incident: Incident) -> bool:
    """Whether ``user`` reads the case, so may act on it (verifying needs the same scope as reading)."""
    try:
        return full_view(session, user, incident)
    except OutsideJurisdiction:
        return False

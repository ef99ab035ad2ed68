"""Foreign keys of a bulk load checked once per distinct value, not once per row.

PostgreSQL checks a foreign key row by row: for every incident of a load, a look-up of its category with a
``FOR KEY SHARE`` lock; for every event, the same on its incident. That is the dearest part of an online load
after the indexes (``bench/bench_historic_load.py``), and almost all of it is repetition: a year of a hotline
has a few hundred categories and teams, and the events' incidents are the ones this very load inserts.

So, when the database lets this role switch them off (``session_replication_role``: a superuser, or a role
granted ``SET`` on it, PostgreSQL 15), a load takes the same guarantee in one statement per referenced table:
every distinct category, team and user the rows name is looked up and locked ``FOR KEY SHARE`` until the
transaction ends — what the row-by-row checks would have done, once — and the per-row triggers are off for
the COPY only (``SET LOCAL``, reset right after). An event's incident needs no look-up: it was inserted by
the same transaction, invisible to anyone who could delete it. Primary keys, unique indexes and CHECK
constraints are not triggers and are checked as always.

Every other trigger on the incident tables is off for the COPY too: whatever keeps a table derived from
incidents up to date on each write must be refreshed after a bulk load, at the point
``gis.incidents.bulk_copy.copy_incidents`` names.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import InvalidInput

# (table, key column, the referencing field named in an error); our constants, never user input.
_REFERENCED = {"category": ("category", "code", "category"), "team": ("team", "id", "team_id"),
               "user": ("app_user", "id", "actor")}


@contextmanager
def keys_checked_once(session: Session, *, categories: Collection[str], teams: Collection[int],
                      users: Collection[int]) -> Iterator[bool]:
    """For the block, the rows' keys held once per value and the per-row key triggers off; yields whether it
    could (False: this role may not set ``session_replication_role``, and the keys are checked row by row).

    Raises InvalidInput naming a key that no longer exists (deleted since the rows were checked)."""
    allowed = session.scalar(text("SELECT has_parameter_privilege('session_replication_role', 'SET')"))
    if not allowed:
        yield False
        return
    for kind, values in (("category", categories), ("team", teams), ("user", users)):
        _hold(session, kind, values)
    before = session.scalar(text("SELECT current_setting('session_replication_role')"))
    session.execute(text("SELECT set_config('session_replication_role', 'replica', true)"))
    yield True
    # Not in a finally: after an error the transaction is aborted, and its end resets the setting anyway.
    session.execute(text("SELECT set_config('session_replication_role', :before, true)"), {"before": before})


def _hold(session: Session, kind: str, values: Collection[str] | Collection[int]) -> None:
    """Look up and lock ``FOR KEY SHARE`` the rows of ``kind`` with these keys, as a key check would."""
    if not values:
        return
    table, column, field = _REFERENCED[kind]
    found = set(session.scalars(text(
        f"SELECT {column} FROM {table} WHERE {column} = ANY(:values) FOR KEY SHARE"
    ), {"values": list(set(values))}).all())
    missing = sorted(map(str, set(values) - found))
    if missing:
        listed = ", ".join(map(str, missing[:5])) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise InvalidInput(f"{field}: {listed} no longer exist(s); it was removed while the file was imported")

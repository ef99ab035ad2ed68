"""Writing checked incidents: PostgreSQL COPY of the rows ``gis.incidents.bulk_import`` has checked and located,
and one ``import`` event per incident, also by COPY.

Both tables are loaded in COPY's text format, written a block at a time from whole columns (escaped and
joined by vectorised string operations), not row by row through the driver; a writer thread sends each block
while the next is formatted.

A load keeps the city running: COPY into the live tables takes only ROW EXCLUSIVE locks, so the API goes on
reading and creating cases while it runs, and sees the load whole at its commit
(``tests/api/test_historic_load_live.py``). Only an ``offline`` load (the operator says the city is not
running) may drop the secondary indexes and foreign keys of a table no bigger than itself and rebuild them
after (see ``bulk_load``): faster, but it holds ACCESS EXCLUSIVE locks on the incident tables until the
import ends, which would stop every reader.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd
from psycopg import Copy
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.db import driver_connection
from gis.evaluation import facts
from gis.incidents.bulk_keys import keys_checked_once
from gis.models import SRID, User
from gis.progress import ProgressReporter
from gis.settings import Settings, get_settings

INCIDENT_COLUMNS = (
    "id", "public_id", "category_code", "description", "location", "address", "source", "cell_code",
    "community_code", "subdistrict_code", "team_id", "status", "version", "deadline_at", "reported_at",
    "updated_at", "closed_at",
)
EVENT_COLUMNS = ("incident_id", "actor_id", "at", "action", "from_status", "to_status", "data")
# Row by row, foreign keys and secondary indexes are the dearest part of a load: PostgreSQL checks each key
# with a look-up and a row lock, and inserts into twelve indexes per incident (COPY of 500,000 incidents:
# 8.5 s with them, 1.9 s without, plus 3.4 s to build the indexes afterwards, each in one sorted pass). A load
# of at least BULK_ROWS rows that is also at least as large as the table (a first or historic load) drops
# them and adds them back after, the foreign keys validated by one join each (every value was checked
# against the same tables in this transaction anyway). Primary keys, unique and CHECK constraints stay:
# they are checked row by row as always. The price: the incident tables are locked (ACCESS EXCLUSIVE) until
# the import commits — so only an offline load does it. Smaller loads into a large table keep everything,
# where rebuilding the whole table's indexes would cost more than it saves.
BULK_ROWS = 10_000
COPY_CHUNK = 50_000  # rows per block sent to COPY (and per progress report)
# Hex EWKB of a little-endian POINT with our SRID, up to its coordinates.
_EWKB_POINT = "0101000020" + SRID.to_bytes(4, "little").hex().upper()
_NULL = "\\N"  # COPY text format's NULL


def copy_incidents(session: Session, columns: dict[str, Any], rows: np.ndarray, good: np.ndarray, file_name: str,
                   actor: User | None, now: datetime, progress: ProgressReporter, *, offline: bool = False,
                   settings: Settings | None = None) -> int:
    """COPY the ``good`` rows of the checked ``columns`` (as ``gis.incidents.bulk_import`` leaves them: located,
    parsed, stripped), then one ``import`` event each naming the file's row (``rows``); returns how many
    incidents were written.

    Both tables are loaded by COPY in its text format, written a block at a time from whole columns (escaped
    and joined by vectorised string operations), not row by row through the driver. A writer thread sends
    the blocks, so PostgreSQL reads one while the next is being formatted here. Foreign keys are checked once
    per distinct value rather than per row where the database allows it (``gis.incidents.bulk_keys``).
    ``offline`` allows :func:`bulk_load` to drop and rebuild indexes and keys (locking the tables); never while
    the city runs."""
    settings = settings or get_settings()
    n = int(good.sum())
    ids = _reserve_ids(session, n)
    id_text = ids.astype(str)
    now_text = _timestamps(pd.Series([pd.Timestamp(now)]))[0]
    c = columns
    status = _texts(c["status"][good])
    session.flush()
    connection = driver_connection(session)
    teams = c["team_id"][good]
    with bulk_load(session, n, offline=offline), keys_checked_once(
        session, categories=set(c["category_code"][good].tolist()), teams={int(t) for t in np.unique(teams) if t >= 0},
        users=set() if actor is None else {actor.id},
    ), connection.cursor() as cursor:
        # Table and column names are ours (constants above), never user input.
        with cursor.copy(f"COPY incident ({', '.join(INCIDENT_COLUMNS)}) FROM STDIN",
                         writer=QueuedLibpqWriter(cursor)) as copy:
            _send(copy, _incident_columns(c, good, id_text, status, now_text, settings), n, "copy incidents", progress)
            # Formatted while PostgreSQL is still reading the incidents.
            events = _event_columns(rows[good], id_text, status, now_text, file_name, actor)
        with cursor.copy(f"COPY incident_event ({', '.join(EVENT_COLUMNS)}) FROM STDIN",
                         writer=QueuedLibpqWriter(cursor)) as copy:
            _send(copy, events, n, "import events", progress)
    # The rows are in (and an offline load's indexes and keys are back), in the caller's transaction: what is
    # derived from incidents (rollups, evaluation facts) is brought up to date here, for ids[0]..ids[-1].
    progress("incident facts", 0, n)
    facts.refresh_for_ids(session, ids)  # the evaluation's copy of each case, after the indexes are back
    progress("incident facts", n, n)
    # The map's tile cache keys on a data version its statement triggers move; the COPY ran with those
    # triggers off (keys_checked_once), so the load moves it itself: a new tile shows the imported cases.
    session.execute(text("SELECT wangge_bump_map_version('incident')"))
    return n


def _incident_columns(c: dict[str, Any], good: np.ndarray, id_text: np.ndarray, status: np.ndarray,
                      now_text: str, settings: Settings) -> list[np.ndarray]:
    """The values of ``INCIDENT_COLUMNS`` as COPY text, one array per column."""
    n = len(id_text)
    reported = c["reported_at"][good]
    # The case number as gis.incidents.service.case_number_head makes it: the year in the city's zone.
    years = reported.dt.tz_convert(settings.zone).dt.year.to_numpy().astype(str)
    teams = c["team_id"][good]
    return [
        id_text,
        np.char.add(np.char.add(f"{settings.case_prefix}-", years), np.char.add("-", np.char.zfill(id_text, 6))),
        _texts(c["category_code"][good]),
        _texts(c["description"][good]),
        _ewkb_points(c["x"][good], c["y"][good]),
        _texts(c["address"][good]),
        _texts(c["source"][good]),
        _texts(c["cell_code"][good]),
        _texts(c["community_code"][good]),
        _texts(c["subdistrict_code"][good]),
        np.where(teams < 0, _NULL, teams.astype(str)),
        status,
        np.full(n, "1", dtype=object),
        _timestamps(c["deadline_at"][good]),
        _timestamps(reported),
        np.full(n, now_text, dtype=object),
        _timestamps(c["closed_at"][good]),
    ]


def _event_columns(rows: np.ndarray, id_text: np.ndarray, status: np.ndarray, now_text: str, file_name: str,
                   actor: User | None) -> list[np.ndarray]:
    """The values of ``EVENT_COLUMNS`` as COPY text: an ``import`` event per incident, naming file and row."""
    n = len(id_text)
    # The same jsonb as jsonb_build_object('file', …, 'row', …): {"row": 2, "file": "cases.csv"}.
    prefix = '{"file": ' + orjson.dumps(file_name).decode() + ', "row": '
    data = _texts(np.array([f"{prefix}{row}}}" for row in rows.tolist()], dtype=object))
    return [
        id_text,
        np.full(n, _NULL if actor is None else str(actor.id), dtype=object),
        np.full(n, now_text, dtype=object),
        np.full(n, "import", dtype=object),
        np.full(n, _NULL, dtype=object),
        status,
        data,
    ]


def _send(copy: Copy, columns: list[np.ndarray], n: int, stage: str, progress: ProgressReporter) -> None:
    progress(stage, 0, n)
    for begin in range(0, n, COPY_CHUNK):
        end = min(begin + COPY_CHUNK, n)
        copy.write(_block([column[begin:end] for column in columns]))
        progress(stage, end, n)


def _block(columns: list[np.ndarray]) -> bytes:
    """Rows of COPY text: the columns' values (already escaped) joined by tabs, one line per row."""
    return ("\n".join(map("\t".join, zip(*(column.tolist() for column in columns), strict=True))) + "\n").encode()


def _texts(values: pd.Series | np.ndarray) -> np.ndarray:
    """Text values escaped for COPY's text format (backslash, tab, newline, carriage return); None → NULL."""
    items = np.asarray(values, dtype=object)
    missing = pd.isna(items)
    result = np.where(missing, "", items)
    joined = "".join(result.tolist())  # one scan in C finds whether any value needs escaping at all
    if any(special in joined for special in _COPY_SPECIALS):
        escaped = pd.Series(result, dtype=object)
        for raw, replacement in _COPY_SPECIALS.items():
            escaped = escaped.str.replace(raw, replacement, regex=False)
        result = np.array(escaped, dtype=object)
    result[missing] = _NULL
    return result


_COPY_SPECIALS = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}  # backslash first


def _timestamps(values: pd.Series) -> np.ndarray:
    """UTC times as ISO 8601 text with a zone (what ``timestamptz`` reads); NaT → NULL. Each distinct time
    is formatted once (a file's times repeat: a day's reports, empty deadlines)."""
    utc = values.dt.tz_convert(UTC).dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    codes, distinct = pd.factorize(utc, use_na_sentinel=False)
    distinct = np.asarray(distinct, dtype="datetime64[us]")
    formatted = np.char.add(np.datetime_as_string(distinct, unit="us"), "+00:00").astype(object)
    formatted[np.isnat(distinct)] = _NULL
    return formatted[codes]  # type: ignore[no-any-return]


@contextmanager
def bulk_load(session: Session, rows: int, *, offline: bool = False) -> Iterator[None]:
    """For an ``offline`` load of at least BULK_ROWS rows and at least the table's size, drop the foreign keys
    and the secondary indexes of the incident tables for the block, and add them back (validated, rebuilt)
    after it. Online (the default) it does nothing: the live API must not wait on the import."""
    if not offline or not drops_indexes(session, rows):
        yield
        return
    # Statements are made by the catalogue (format with %I / regclass quoting, pg_get_indexdef), never from
    # the file's data.
    constraints = session.execute(text("""
        SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
               format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
        FROM pg_constraint
        WHERE contype = 'f' AND conrelid IN ('incident'::regclass, 'incident_event'::regclass)
        ORDER BY conname
    """)).all()
    # Indexes that back no constraint (primary keys and unique constraints keep theirs, and keep checking).
    # Partial indexes stay too: closed history, most of a historic load, is not in them, and PostgreSQL would
    # re-read a predicate from pg_get_indexdef into other (equivalent) words, drifting from the migrations.
    indexes = session.execute(text("""
        SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid IN ('incident'::regclass, 'incident_event'::regclass)
          AND i.indpred IS NULL
          AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY i.indexrelid::regclass::text
    """)).all()
    for drop, _ in [*constraints, *indexes]:
        session.execute(text(drop))
    yield
    for _, restore in [*indexes, *constraints]:
        session.execute(text(restore))


def drops_indexes(session: Session, rows: int) -> bool:
    """Whether a load of ``rows`` rows is one for :func:`bulk_load`: at least BULK_ROWS and no fewer than the
    table holds (by the planner's estimate, -1 when never analysed)."""
    if rows < BULK_ROWS:
        return False
    existing = session.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'incident'::regclass")) or 0
    return rows >= existing


def _reserve_ids(session: Session, n: int) -> np.ndarray:
    """``n`` fresh incident ids from the table's sequence (usually one contiguous run: sent as a range)."""
    # The sequence is named once: resolving it per row (pg_get_serial_sequence in the select list) costs
    # twenty times the drawing itself.
    sequence = session.scalar(text("SELECT pg_get_serial_sequence('incident', 'id')"))
    low, high = session.execute(text("""
        SELECT min(v), max(v)
        FROM (SELECT nextval(CAST(:sequence AS regclass)) AS v FROM generate_series(1, :n)) AS drawn
    """), {"sequence": sequence, "n": n}).one()
    if high - low + 1 == n:
        return np.arange(low, high + 1, dtype=np.int64)
    # Another session drew numbers in between: ours are not contiguous, so ask for a fresh run whole.
    return np.array(session.scalars(text(
        "SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :n)"
    ), {"sequence": sequence, "n": n}).all(), dtype=np.int64)


def _ewkb_points(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Hex EWKB of POINT(x y) with SRID 4326 for each pair, without building geometries."""
    hexed = np.column_stack([x, y]).astype("<f8").tobytes().hex().upper()
    return np.array([_EWKB_POINT + hexed[i : i + 32] for i in range(0, len(hexed), 32)], dtype=object)

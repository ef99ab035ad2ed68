"""The ceiling of a historic load on this machine: how fast PostgreSQL alone can take a year of a big city's
hotline (1,000,000 cases and their events; 200,000 with ``--quick``), into the live tables as today, and into
a detached partition that is indexed on its own and then attached (the design of issue 15).

Both ways get the same rows as ready COPY text (made by PostgreSQL beforehand, untimed), so nothing here is
client code: the figures say what any importer in front of the database can at most reach.

* **Live tables** (today's online load, ``gis.incidents.bulk_copy``): COPY into ``incident`` and
  ``incident_event`` with all their indexes and foreign keys, in one transaction.
* **Detached partition** (a prototype in a schema ``proto`` of the throwaway database, never the project's
  tables): a parent shaped like ``incident`` partitioned by ``RANGE (id)`` with the same indexes and keys, and an
  event parent partitioned by ``RANGE (id)`` of the event; the batch reserves an id range of each, is COPYed
  into two standalone tables shaped like partitions, indexed there (one sorted pass an index, spread over
  ``BUILDERS`` connections), given the range CHECK and the foreign keys (validated by one join each), then
  ATTACHed — the CHECK makes PostgreSQL skip the validation scan, and the indexes and keys are adopted, not
  rebuilt. The case number's uniqueness cannot be a unique index across partitions; it follows from the
  primary key with a CHECK that the case number ends in the id (as ``gis.incidents.service.case_number``
  makes it).

Each step is timed on its own, and while the ATTACH holds its transaction open a second connection tries
to read the parent and to insert a live event (``lock_timeout`` 1 s) — what the API would feel.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg

from bench import BenchContext, Row, benchmark
from gis.incidents import bulk_copy

BUILDERS = 2  # connections building the batch's indexes at once (the machine's cores)
GOAL_PER_S = 100_000
LIVE_RANGE = 100_000_000  # ids of the prototype's live partition: [1, LIVE_RANGE)


@benchmark("historic_load")
def historic_load(ctx: BenchContext) -> list[Row]:
    n = 200_000 if ctx.quick else 1_000_000
    with psycopg.connect(ctx.psycopg_url, autocommit=True) as conn:
        incidents, events = _rows(conn, n)
        live_s = _load_live(conn, incidents, events)
        conn.execute("TRUNCATE incident_event, incident_photo, idempotency_key, incident")
        once_s = _load_live(conn, incidents, events, keys_once=True)
        conn.execute("TRUNCATE incident_event, incident_photo, idempotency_key, incident")
        _prototype_schema(conn)
        steps = _load_partition(ctx.psycopg_url, conn, incidents, events, n)
        conn.execute("DROP SCHEMA proto CASCADE")
    partition_s = sum(steps.values())
    detail = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in steps.items())
    goal = "goal met" if n / partition_s >= GOAL_PER_S else f"goal ≥{GOAL_PER_S:,}/s: MISSED even here"
    return [
        Row(f"ceiling: PostgreSQL alone, {n:,} cases + events COPYed into the live indexed tables, keys checked "
            "row by row", live_s, None, f"{n / live_s:,.0f}/s: the online load before gis.incidents.bulk_keys"),
        Row("ceiling: the same, keys held once per value (gis.incidents.bulk_keys)", once_s, live_s,
            f"{n / once_s:,.0f}/s: today's online load can at most reach this; baseline: row by row"),
        Row(f"ceiling: PostgreSQL alone, {n:,} cases + events into a detached id-range partition, indexed, "
            "attached", partition_s, live_s,
            f"{n / partition_s:,.0f}/s ({goal}); baseline the live tables above; {detail}"),
    ]


# -- the rows ---------------------------------------------------------------------------------------------------
def _rows(conn: psycopg.Connection, n: int) -> tuple[bytes, bytes]:
    """COPY text of ``n`` closed cases of a year over a city of 100 communities and 60,000 cells, with ids
    1..n, and one ``import`` event each (ids 1..n) — made by PostgreSQL, untimed."""
    incidents = _dump(conn, f"""
        SELECT g, 'JS-2025-' || lpad(g::text, greatest(6, length(g::text)), '0'), c.code, '历史案件 ' || g,
               ST_SetSRID(ST_MakePoint(
                   109.6 + random() * 0.2, 28.2 + random() * 0.15), 4326), NULL, 'hotline_12345',
               '430000000' || lpad((g % 100)::text, 3, '0') || lpad((g % 600)::text, 3, '0'),
               '430000000' || lpad((g % 100)::text, 3, '0'), '43000000' || lpad((g % 10)::text, 4, '0'),
               NULL, 'closed', 1, NULL, r, r, r + interval '6 hours'
        FROM generate_series(1, {int(n)}) AS g
        CROSS JOIN LATERAL (SELECT timestamptz '2025-01-01 08:00+08' + (g % 365) * interval '1 day'
                                   + (g % 600) * interval '1 minute' AS r) AS t
        JOIN (SELECT code, row_number() OVER (ORDER BY code) - 1 AS k FROM category) AS c
          ON c.k = g % (SELECT count(*) FROM category)
        ORDER BY g""")
    events = _dump(conn, f"""
        SELECT g, g, NULL, timestamptz '2026-03-02 10:00+00', 'import', NULL, 'closed',
               jsonb_build_object('file', 'hotline-2025.csv', 'row', g + 1)
        FROM generate_series(1, {int(n)}) AS g ORDER BY g""")
    return incidents, events


def _dump(conn: psycopg.Connection, query: str) -> bytes:
    chunks: list[bytes] = []
    with conn.cursor() as cursor, cursor.copy(f"COPY ({query}) TO STDOUT") as copy:  # our own text
        chunks.extend(bytes(data) for data in copy)
    return b"".join(chunks)


def _copy(conn: psycopg.Connection, table: str, columns: tuple[str, ...], data: bytes) -> None:
    with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for start in range(0, len(data), 1 << 20):
            copy.write(data[start : start + (1 << 20)])


# -- today: the live tables -------------------------------------------------------------------------------------
def _load_live(conn: psycopg.Connection, incidents: bytes, events: bytes, *, keys_once: bool = False) -> float:
    """COPY into the live tables in one transaction; ``keys_once``: as ``gis.incidents.bulk_keys`` does it (the
    distinct categories locked once, the per-row key triggers off for the COPY)."""
    start = time.perf_counter()
    with conn.transaction():
        if keys_once:
            conn.execute("SELECT code FROM category FOR KEY SHARE")  # every category: a superset of the rows'
            conn.execute("SET LOCAL session_replication_role = replica")
        _copy(conn, "incident", ("id", *bulk_copy.INCIDENT_COLUMNS[1:]), incidents)
        _copy(conn, "incident_event", ("id", *bulk_copy.EVENT_COLUMNS), events)
        if keys_once:
            conn.execute("SET LOCAL session_replication_role = origin")
    return time.perf_counter() - start


# -- the prototype: partitioned by id range ---------------------------------------------------------------------
def _prototype_schema(conn: psycopg.Connection) -> None:
    """``proto.incident`` and ``proto.incident_event``: shaped like the project's tables (columns, CHECKs,
    every index, every foreign key) but partitioned by id range, each with a live partition [1, LIVE_RANGE)."""
    conn.execute("DROP SCHEMA IF EXISTS proto CASCADE")
    conn.execute("CREATE SCHEMA proto")
    conn.execute("CREATE TABLE proto.incident (LIKE public.incident INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
                 "PARTITION BY RANGE (id)")
    conn.execute("CREATE TABLE proto.incident_event (LIKE public.incident_event INCLUDING DEFAULTS "
                 "INCLUDING CONSTRAINTS) PARTITION BY RANGE (id)")
    conn.execute("ALTER TABLE proto.incident ADD PRIMARY KEY (id), "
                 "ADD CONSTRAINT ck_public_id_ends_in_id CHECK (split_part(public_id, '-', -1)::bigint = id)")
    conn.execute("ALTER TABLE proto.incident_event ADD PRIMARY KEY (id)")
    for statement in _index_statements(conn):
        conn.execute(statement)
    conn.execute("CREATE INDEX ON proto.incident (public_id)")  # look-ups; uniqueness by the CHECK above
    for table in ("incident", "incident_event"):
        conn.execute(f"CREATE TABLE proto.{table}_live PARTITION OF proto.{table} "
                     f"FOR VALUES FROM (1) TO ({LIVE_RANGE})")
    for statement in _foreign_keys(conn):
        conn.execute(statement)


def _index_statements(conn: psycopg.Connection) -> list[str]:
    """The project's secondary indexes of both tables, made again on the prototype's parents."""
    rows = conn.execute("""
        SELECT i.indrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid IN ('public.incident'::regclass, 'public.incident_event'::regclass)
          AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)
    """).fetchall()
    return [definition.replace(" INDEX ", " INDEX proto_", 1).replace(f" ON public.{table} ", f" ON proto.{table} ")
            for table, definition in rows]


def _foreign_keys(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute("""
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
        FROM pg_constraint
        WHERE contype = 'f' AND conrelid IN ('public.incident'::regclass, 'public.incident_event'::regclass)
    """).fetchall()
    return [f"ALTER TABLE proto.{table} ADD CONSTRAINT {name} "
            + definition.replace("REFERENCES incident(", "REFERENCES proto.incident(")
            for table, name, definition in rows]


def _load_partition(url: str, conn: psycopg.Connection, incidents: bytes, events: bytes, n: int) -> dict[str, float]:
    """The batch into ``proto`` by the detached-partition way; the seconds of each step."""
    low, high = LIVE_RANGE, LIVE_RANGE + n  # the reserved id range of the batch (ids in the data are 1..n)
    steps: dict[str, float] = {}
    incidents, events = _shift(incidents, low - 1, ids=1), _shift(events, low - 1, ids=2)
    # One live case with an event, for the probe of the open ATTACH.
    conn.execute(f"""INSERT INTO proto.incident ({', '.join(bulk_copy.INCIDENT_COLUMNS)})
        SELECT 1, 'JS-2026-000001', min(code), 'live', ST_SetSRID(ST_MakePoint(109.7, 28.3), 4326), NULL,
               'patrol', NULL, '430000000001', NULL, NULL, 'reported', 1, NULL, now(), now(), NULL
        FROM category""")
    with _step(steps, "COPY"):
        for table in ("incident", "incident_event"):
            conn.execute(f"CREATE TABLE proto.{table}_batch (LIKE proto.{table} INCLUDING DEFAULTS "
                         "INCLUDING CONSTRAINTS)")
        _copy(conn, "proto.incident_batch", bulk_copy.INCIDENT_COLUMNS, incidents)
        _copy(conn, "proto.incident_event_batch", ("id", *bulk_copy.EVENT_COLUMNS), events)
    with _step(steps, "indexes"):
        statements = [
            *[s.replace(" ON proto.incident ", " ON proto.incident_batch ").replace(" ON proto.incident_event ",
                                                                                     " ON proto.incident_event_batch ")
              .replace("INDEX proto_", "INDEX batch_") for s in _index_statements(conn)],
            "CREATE INDEX ON proto.incident_batch (public_id)",
            "ALTER TABLE proto.incident_batch ADD PRIMARY KEY (id)",
            "ALTER TABLE proto.incident_event_batch ADD PRIMARY KEY (id)",
        ]
        _in_parallel(url, statements)
    with _step(steps, "range CHECKs"):
        _in_parallel(url, [f"ALTER TABLE proto.{table}_batch ADD CONSTRAINT batch_range "
                           f"CHECK (id IS NOT NULL AND id >= {low} AND id < {high})"
                           for table in ("incident", "incident_event")])
    with _step(steps, "keys of the cases"):
        _in_parallel(url, [s.replace("proto.incident ", "proto.incident_batch ", 1)
                           for s in _foreign_keys(conn) if s.startswith("ALTER TABLE proto.incident ")
                           and "REFERENCES proto." not in s])
    blocked: dict[str, bool] = {}
    with conn.transaction():
        with _step(steps, "ATTACH cases"):
            conn.execute(f"ALTER TABLE proto.incident ATTACH PARTITION proto.incident_batch "
                         f"FOR VALUES FROM ({low}) TO ({high})")
        blocked = _probe(url)  # untimed: it waits on purpose
    with _step(steps, "keys of the events"):
        _in_parallel(url, [s.replace("proto.incident_event ", "proto.incident_event_batch ", 1)
                           for s in _foreign_keys(conn) if s.startswith("ALTER TABLE proto.incident_event ")])
    with _step(steps, "ATTACH events"):
        conn.execute(f"ALTER TABLE proto.incident_event ATTACH PARTITION proto.incident_event_batch "
                     f"FOR VALUES FROM ({low}) TO ({high})")
    counted = conn.execute("SELECT count(*) FROM proto.incident WHERE id >= %s", (low,)).fetchone()
    assert counted is not None and counted[0] == n, counted
    steps = {name: seconds for name, seconds in steps.items()}
    steps[f"(while attaching: reads {'blocked' if blocked['read'] else 'answered'}, live event inserts "
          f"{'blocked' if blocked['insert'] else 'answered'})"] = 0.0
    return steps


def _shift(data: bytes, by: int, *, ids: int) -> bytes:
    """The COPY text with its first ``ids`` columns (integers) moved by ``by``: the batch's reserved range."""
    out = []
    for line in data.split(b"\n"):
        if not line:
            continue
        parts = line.split(b"\t", ids)
        out.append(b"\t".join([*(str(int(v) + by).encode() for v in parts[:ids]), parts[ids]]))
    shifted = b"\n".join(out) + b"\n"
    if ids == 1:  # the case number ends in the id
        shifted = b"\n".join(_renumber(line) for line in shifted.split(b"\n") if line) + b"\n"
    return shifted


def _renumber(line: bytes) -> bytes:
    first, number, rest = line.split(b"\t", 2)
    return b"\t".join([first, number.rsplit(b"-", 1)[0] + b"-" + first, rest])


def _in_parallel(url: str, statements: list[str]) -> None:
    """Run ``statements`` over BUILDERS connections at once, longest (the GiST indexes) first."""
    queue = sorted(statements, key=lambda s: "gist" not in s)
    lock, failures = threading.Lock(), []

    def work() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET max_parallel_maintenance_workers = 0")
            while True:
                with lock:
                    if not queue:
                        return
                    statement = queue.pop(0)
                try:
                    conn.execute(statement)
                except Exception as exc:  # reported below
                    failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(BUILDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def _probe(url: str) -> dict[str, bool]:
    """Whether a reader of the parent and a writer of a live event wait on the open ATTACH (1 s timeout)."""
    def waits(action: Callable[[psycopg.Connection], object]) -> bool:
        with psycopg.connect(url) as other:
            other.execute("SET lock_timeout = '1s'")
            try:
                action(other)
            except psycopg.errors.LockNotAvailable:
                return True
            finally:
                other.rollback()
            return False

    return {
        "read": waits(lambda c: c.execute("SELECT count(*) FROM proto.incident WHERE id < 10")),
        "insert": waits(lambda c: c.execute(
            "INSERT INTO proto.incident_event (id, incident_id, action, to_status) "
            "SELECT 2, id, 'note', status FROM proto.incident WHERE id = 1")),
    }


@contextmanager
def _step(steps: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    steps[name] = time.perf_counter() - start

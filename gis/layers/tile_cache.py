"""Finished vector tiles kept in memory for a short while, so a screen of the command map drawn again costs
a dictionary look-up instead of a statement (the last layer of the tiles' speed, after the SQL itself).

A tile is kept under everything that decides its bytes: the layer as the caller may read it (its filters and
the caller's read scope, ``gis.incidents.visibility.readable_layer``: two callers share a tile only when they
may read the same cases), z/x/y, the datum, and the **data version** — the counters that migration 0017's
statement-level triggers move on every write to incidents, and to the places a tile draws (areas, cells,
compounds, categories, facilities, bookings, units). A new case therefore shows on the next tile drawn;
layers that count no incidents keep their tiles across incident writes.

What the version cannot see is time: a density tile without a time window counts the last year up to now,
and overdue cases become overdue as the clock runs. ``seconds`` bounds that (setting ``tile_cache_seconds``,
30 s by default), as ``Cache-Control: max-age=60`` already lets a browser keep a tile. One more window: a
tile drawn between a writer's statement and its commit is kept under the new version without the new row,
for at most ``seconds``. ``max_bytes`` bounds the memory (least recently used tiles go first).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.layers.base import Layer

_ENTRY_OVERHEAD = 200  # bytes a kept tile costs besides its body (key, tuple, dict slot), roughly


@dataclass(frozen=True)
class DataVersion:
    """Where the two counters of migration 0017 stand."""

    incidents: int
    places: int

    @classmethod
    def read(cls, session: Session) -> DataVersion:
        """One round trip: ``last_value`` of both sequences (a read that takes no lock)."""
        row = session.execute(text(
            "SELECT (SELECT last_value FROM incident_data_version), (SELECT last_value FROM place_data_version)"
        )).one()
        return cls(int(row[0]), int(row[1]))


def tile_key(layer: Layer, z: int, x: int, y: int, datum: str, version: DataVersion) -> bytes:
    """The key of one tile. ``repr`` of the configured layer holds every field that shapes its rows (filters,
    scope, radius, metric CRS: layers are frozen dataclasses); hashed, so a grid worker's long cell list does
    not make a long key."""
    counters = (version.incidents, version.places) if layer.counts_incidents else (version.places,)
    spec = f"{layer.id}|{z}/{x}/{y}|{datum}|{counters}|{layer!r}"
    return hashlib.blake2b(spec.encode(), digest_size=20).digest()


class TileCache:
    """A bounded, thread-safe LRU of tile bytes with a lifetime. ``max_bytes == 0`` keeps nothing."""

    def __init__(self, max_bytes: int, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self.seconds = seconds
        self._clock = clock
        self._entries: OrderedDict[bytes, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0 and self.seconds > 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> bytes | None:
        """The kept bytes, or None when absent or older than ``seconds`` (then dropped)."""
        if not self.enabled:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._clock() - entry[0] > self.seconds:
                if entry is not None:
                    self._drop(key)
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]

    def put(self, key: bytes, body: bytes) -> None:
        """Keep ``body``; the least recently used tiles go until the cache fits ``max_bytes`` again."""
        cost = len(body) + _ENTRY_OVERHEAD
        if not self.enabled or cost > self.max_bytes:
            return
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = (self._clock(), body)
            self._bytes += cost
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _drop(self, key: bytes) -> None:
        _, body = self._entries.pop(key)
        self._bytes -= len(body) + _ENTRY_OVERHEAD

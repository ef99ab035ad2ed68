"""Benchmarks: one command (`python -m bench [--quick]`), one table of figures and ratios.

A benchmark is a function ``(ctx: BenchContext) -> list[Row]`` registered by name with ``@benchmark``
in a module ``bench/bench_<subject>.py``; the runner imports every such module, so adding a file is
all it takes. Each row holds our time and the time of a baseline measured in the same run (the naive
way of doing the same thing), so the ratio compares like with like on whatever machine runs it.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gis.settings import Settings

T = TypeVar("T")


@dataclass(frozen=True)
class Row:
    """One line of the results table; seconds are the best of the repetitions, None when not measured."""

    name: str
    ours_s: float | None
    baseline_s: float | None = None
    notes: str = ""

    @property
    def ratio(self) -> float | None:
        """How many times faster ours is than the baseline (baseline / ours)."""
        if self.ours_s is None or self.baseline_s is None or self.ours_s <= 0:
            return None
        return self.baseline_s / self.ours_s


@dataclass
class BenchContext:
    """What a benchmark gets: the mode, a throwaway database (never the user's), and a scratch folder."""

    quick: bool
    engine: Engine
    sessions: sessionmaker[Session]
    settings: Settings
    workdir: Path

    @property
    def repeat(self) -> int:
        """Repetitions per measurement; the best is kept (the least disturbed by other processes)."""
        return 1 if self.quick else 3

    @property
    def psycopg_url(self) -> str:
        """The throwaway database's URL for a bare ``psycopg.connect`` (no SQLAlchemy driver suffix)."""
        return self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


Benchmark = Callable[[BenchContext], list[Row]]
BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(name: str) -> Callable[[Benchmark], Benchmark]:
    """Register a benchmark under ``name`` (the runner's ``--only`` picks by it)."""

    def register(func: Benchmark) -> Benchmark:
        if name in BENCHMARKS:
            raise ValueError(f"benchmark {name!r} is registered twice")
        BENCHMARKS[name] = func
        return func

    return register


def timed(func: Callable[[], T], repeat: int = 1, *, setup: Callable[[], object] | None = None) -> tuple[float, T]:
    """The best wall time of ``repeat`` calls of ``func`` (``setup`` runs untimed before each), and the
    last result."""
    best = float("inf")
    result: T
    for _ in range(max(repeat, 1)):
        if setup is not None:
            setup()
        gc.collect()
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result

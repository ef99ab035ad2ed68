"""Where the evaluation statement spends its time: `PYTHONPATH=. .venv/bin/python -m bench.explain_evaluation [N]`.

Builds the evaluation benchmark's world with N incidents (default 100,000) in a throwaway database, prints
``EXPLAIN ANALYZE`` of the by-community statement for the year under two ``work_mem`` settings, and times the
Mann–Kendall test over 2,000 rows of 53 weeks both ways (pymannkendall per row, ours vectorised), and
libpysal's queen weights over a 100 × 101 lattice of squares (what ``hotspots.compute`` now asks PostGIS for).
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pymannkendall
from libpysal.weights import Queen
from shapely.geometry import box
from sqlalchemy import text

from bench import BenchContext
from bench.__main__ import throwaway_database
from bench.bench_evaluation import YEAR, _world
from gis.db import make_sessionmaker
from gis.evaluation.hotspots import mann_kendall
from gis.evaluation.indicators import statement
from gis.evaluation.periods import Grouping
from gis.evaluation.scope import EvaluationScope
from gis.settings import Settings


def main() -> None:
    incidents = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with throwaway_database() as engine:
        ctx = BenchContext(quick=True, engine=engine, sessions=make_sessionmaker(engine),
                           settings=Settings(database_url="postgresql://unused/unused"),
                           workdir=Path(tempfile.mkdtemp(prefix="wangge-explain-")))
        _world(ctx, incidents)
        sql, params, _ = statement(period=YEAR, by=Grouping.community, scope=EvaluationScope.everywhere())
        for work_mem in ("4MB", "256MB"):
            with ctx.sessions() as session:
                session.execute(text(f"SET LOCAL work_mem = '{work_mem}'"))  # our constant
                started = time.perf_counter()
                session.execute(text(sql), params).all()
                print(f"work_mem {work_mem}: {time.perf_counter() - started:.2f} s")
                if work_mem == "4MB":
                    for line in session.execute(text("EXPLAIN (ANALYZE, BUFFERS off) " + sql), params).scalars():
                        print(line[:160])
    counts = np.random.default_rng(13).poisson(2, size=(2000, 53))
    started = time.perf_counter()
    for row in counts:
        pymannkendall.original_test(row.astype(float))
    print(f"pymannkendall, 2,000 rows: {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    mann_kendall(counts)
    print(f"mann_kendall (vectorised), 2,000 rows: {time.perf_counter() - started:.3f} s")
    lattice = gpd.GeoDataFrame(geometry=[box(i * 0.001, j * 0.001, (i + 1) * 0.001, (j + 1) * 0.001)
                                         for i in range(100) for j in range(101)], crs=4326)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Queen.from_dataframe(lattice, use_index=False, ids=list(range(len(lattice))))
    print(f"libpysal Queen.from_dataframe, {len(lattice):,} square cells: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()

"""Import an existing unit grid from a file (real cities already have one), validated like a built one.

All or nothing: each community named in the file ends up with exactly the file's cells, upserted by code
(see ``gis.areas.grid_store``), so assignments of codes that stay survive; codes not in the file are deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.areas import grid
from gis.areas.grid_store import STAGED_TABLE, WriteCounts, merge_staged, stage_cells
from gis.areas.schemes import CodeScheme
from gis.errors import Problem, ValidationFailed
from gis.settings import Settings, get_settings

IMPORT_OUTSIDE_SHARE = 0.01  # share of an imported cell that may lie outside its community (digitising slack)
IMPORT_OVERLAP_M2 = 1.0  # overlap between two imported cells allowed before it is an error
CODE_FIELD_GUESSES = ("code", "cell_code", "grid_code", "wgbm", "网格编码", "网格代码", "编码", "bm")


@dataclass(frozen=True)
class ImportReport:
    """The outcome of :func:`import_grid`: what was written and the warnings (gaps, repairs)."""

    source: str
    communities: int
    cells: int
    written: WriteCounts
    warnings: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        warned = f"; {len(self.warnings)} warning(s)" if self.warnings else ""
        return f"{self.cells} cells in {self.communities} communities from {self.source}: {self.written}{warned}"


def import_grid(
    session: Session,
    path: str | Path,
    *,
    settings: Settings | None = None,
    code_field: str | None = None,
    crs: str | None = None,
) -> ImportReport:
    """Import an existing unit grid from a vector file (GeoJSON, GeoPackage, Shapefile), all or nothing.

    The cells of every community named in the file become exactly the file's (upserted by code, codes
    not in the file deleted); other communities are not touched. ``code_field`` names the column of the
    cell codes (guessed otherwise); ``crs`` is used when the file has none. Codes follow the settings'
    ``code_scheme`` (:mod:`gis.areas.schemes`): 15 digits (or a long sequence) under ``cn`` and ``adcode``,
    ``<community id>-<number>`` under ``any``.

    Errors, each naming the cell: a code that is not a cell code of the scheme, a duplicate code, a missing or
    non-polygonal geometry, a community part of the code that is not a current community, more than
    1% of a cell outside its community, two cells overlapping by more than 1 m². Gaps left in a community
    are warnings.

    Raises
    ------
    InvalidInput
        The file cannot be read, has no CRS, or has no code column.
    ValidationFailed
        Any error above; nothing is written.
    """
    from gis.spatial import readers  # reading files pulls in GDAL; only imports need it

    settings = settings or get_settings()
    metric = settings.metric_crs
    scheme = CodeScheme(settings.code_scheme)
    file = readers.read_vector(path, crs=crs)
    column = readers.pick_column(file, code_field, CODE_FIELD_GUESSES, what="cell code", option="--code-field")
    source = Path(path).name
    problems, codes, geoms = _check_features(file.frame[column].tolist(), list(file.frame.geometry.values), scheme)
    problems = [*file.warnings, *problems]
    community_of = {code: scheme.community_of_cell(code) or "" for code in codes}  # all good after the check
    if codes:
        stage_cells(session, codes=codes, community_codes=[community_of[c] for c in codes],
                    geoms=np.asarray(geoms, dtype=object), areas=None, indexed=True)
        problems += _check_staged(session, metric_crs=metric, community_of=community_of)
    if not codes and not any(p.severity == "error" for p in problems):
        problems.append(Problem("error", source, "holds no cell", "give a file with one polygon per cell"))
    failed = ValidationFailed(problems=problems, what=f"grid file {source}")
    if failed.errors:
        raise failed
    communities = sorted(set(community_of.values()))
    written = merge_staged(session, communities, metric_crs=metric)
    return ImportReport(source=source, communities=len(communities), cells=len(codes), written=written,
                        warnings=[p for p in problems if p.severity != "error"])


def _check_features(
    values: Sequence[object], geometries: Sequence[BaseGeometry | None], scheme: CodeScheme
) -> tuple[list[Problem], list[str], list[BaseGeometry]]:
    """The checks that need no database: codes (cell codes of ``scheme``, unique) and geometries (polygonal,
    valid).

    Returns the problems and the codes and geometries that passed.
    """
    from gis.areas.divisions import normalise_code
    from gis.spatial.validation import repair_polygonal

    problems: list[Problem] = []
    first_row: dict[str, int] = {}
    codes: list[str] = []
    geoms: list[BaseGeometry] = []
    for row, (value, geom) in enumerate(zip(values, geometries, strict=True), start=1):
        code = normalise_code(value)
        label = f"cell {code} (row {row})" if code else f"row {row}"
        wrong = scheme.cell_problem(code)
        if wrong is not None or code is None:
            problems.append(Problem("error", label, f"code {wrong}", f"codes are {scheme.cell_wanted()}"))
            continue
        if code in first_row:
            problems.append(Problem("error", label, f"duplicate code: row {first_row[code]} has it too",
                                    "give every cell its own code"))
            continue
        first_row[code] = row
        fixed, found = repair_polygonal(geom, label)
        problems += found
        if fixed is not None:
            codes.append(code)
            geoms.append(fixed)
    return problems, codes, geoms


_UNKNOWN_COMMUNITY_SQL = text(f"""
SELECT s.code FROM {STAGED_TABLE} AS s
WHERE NOT EXISTS (SELECT 1 FROM admin_area AS a
                  WHERE a.code = s.community_code AND a.level = 'community' AND a.valid_to IS NULL)
ORDER BY s.row_no
""")

_OUTSIDE_SQL = text(f"""
SELECT code, outside, area FROM (
    SELECT s.row_no, s.code,
           ST_Area(ST_Difference(ST_Transform(s.geom, :metric), ST_Transform(a.geom, :metric))) AS outside,
           ST_Area(ST_Transform(s.geom, :metric)) AS area
    FROM {STAGED_TABLE} AS s
    JOIN admin_area AS a ON a.code = s.community_code AND a.level = 'community' AND a.valid_to IS NULL
    WHERE NOT ST_CoveredBy(s.geom, a.geom)
) AS measured
WHERE outside > :share * area
ORDER BY row_no
""")

_OVERLAP_SQL = text(f"""
SELECT code_a, code_b, shared FROM (
    SELECT a.row_no, a.code AS code_a, b.code AS code_b,
           ST_Area(ST_Intersection(ST_Transform(a.geom, :metric), ST_Transform(b.geom, :metric))) AS shared
    FROM {STAGED_TABLE} AS a
    JOIN {STAGED_TABLE} AS b ON a.row_no < b.row_no AND ST_Intersects(a.geom, b.geom)
    WHERE ST_Relate(a.geom, b.geom, '2********')
) AS measured
WHERE shared > :allowed
ORDER BY row_no, code_b
""")

_GAP_SQL = text(f"""
SELECT a.code, ST_Area(ST_Difference(ST_Transform(a.geom, :metric), ST_Transform(u.geom, :metric))) AS gap,
       ST_Area(ST_Transform(a.geom, :metric)) AS area
FROM (SELECT community_code, ST_Union(geom) AS geom FROM {STAGED_TABLE} GROUP BY community_code) AS u
JOIN admin_area AS a ON a.code = u.community_code AND a.level = 'community' AND a.valid_to IS NULL
ORDER BY a.code
""")


def _check_staged(session: Session, *, metric_crs: int, community_of: dict[str, str]) -> list[Problem]:
    """The checks against the store and between cells, in PostGIS on the staged cells."""
    problems = [
        Problem("error", f"cell {code}", f"community {community_of[code]} (the code's community part) is not a "
                "current community", "correct the code, or load that community's boundary first")
        for (code,) in session.execute(_UNKNOWN_COMMUNITY_SQL)
    ]
    params = {"metric": metric_crs}
    problems += [
        Problem("error", f"cell {code}", f"{outside:,.1f} m² ({outside / area:.1%}) lies outside its community "
                f"{community_of[code]}", "redraw the cell inside its community, or correct its code")
        for code, outside, area in session.execute(_OUTSIDE_SQL, {**params, "share": IMPORT_OUTSIDE_SHARE})
    ]
    problems += [
        Problem("error", f"cell {a}", f"overlaps cell {b} by {shared:,.1f} m²",
                "redraw the shared edge so that neighbouring cells meet without overlapping")
        for a, b, shared in session.execute(_OVERLAP_SQL, {**params, "allowed": IMPORT_OVERLAP_M2})
    ]
    problems += [
        Problem("warning", f"community {code}", f"{gap:,.1f} m² ({gap / area:.2%}) is covered by no cell",
                "extend the neighbouring cells over it, or add a cell")
        for code, gap, area in session.execute(_GAP_SQL, params)
        if gap > grid.COVERAGE_TOLERANCE * area
    ]
    return problems

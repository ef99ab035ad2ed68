"""Importing administrative boundaries from GIS files: read, validate all, then load all.

Nothing is written unless every feature passes: the file's problems are gathered into one
:class:`~gis.errors.ValidationFailed` naming each feature (code and name) and the fix. Loading compares
with what is stored, so importing the same file twice changes nothing, and a re-drawn or renamed area
closes its current row (``valid_to`` = today) and adds a new version, keeping history. Services flush;
the caller commits.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import shapely
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from gis.areas import containment
from gis.areas.divisions import parse_level
from gis.areas.import_summary import ImportSummary
from gis.areas.schemes import CodeScheme
from gis.errors import Problem, ValidationFailed
from gis.models.areas import SRID, AdminArea, AdminLevel
from gis.progress import ProgressReporter, no_progress
from gis.settings import Settings, get_settings
from gis.spatial.crs import InputDatum
from gis.spatial.readers import VectorFile, find_column, pick_column, read_vector, text_value
from gis.spatial.validation import (
    DEFAULT_TOLERANCE,
    Metric,
    Region,
    Tolerance,
    check_inside,
    check_lonlat,
    check_overlaps,
    find_gaps,
    repair_polygonal,
    same_geometry,
)

CODE_FIELDS = ("code", "adcode", "区划代码", "行政区划代码", "xzqdm", "dm", "代码")
NAME_FIELDS = ("name", "名称", "区划名称", "xzqmc", "mc")
PARENT_FIELDS = ("parent_code", "parent", "pcode", "parent_adcode", "上级代码", "上级区划代码", "sjdm")
LEVEL_FIELDS = ("level", "级别", "层级", "jb")
NAME_LENGTH = 100  # admin_area.name


@dataclass(frozen=True)
class _Columns:
    """Which attribute column holds what; parent and level may be absent (then derived from the code)."""

    code: str
    name: str
    parent: str | None
    level: str | None


@dataclass
class _Area:
    """One area as the import sees it: from the file, or the current stored version (``row_id``)."""

    code: str
    name: str
    level: AdminLevel
    parent_code: str | None
    geom: MultiPolygon  # EPSG:4326
    row_id: int | None = None

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}"

    def same_as(self, other: _Area) -> bool:
        return (
            (self.name, self.level, self.parent_code) == (other.name, other.level, other.parent_code)
            and same_geometry(self.geom, other.geom)
        )


def import_boundaries(
    session: Session,
    path: str | Path,
    *,
    layer: str | None = None,
    crs: str | None = None,
    datum: InputDatum = InputDatum.wgs84,
    encoding: str | None = None,
    code_field: str | None = None,
    name_field: str | None = None,
    parent_field: str | None = None,
    level_field: str | None = None,
    level: AdminLevel | None = None,
    scheme: CodeScheme | None = None,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    retire_missing: bool = False,
    region: Region | None = None,
    settings: Settings | None = None,
    progress: ProgressReporter | None = None,
) -> ImportSummary:
    """Validate every area of a boundary file, then add, re-version or keep each one by code.

    Codes follow ``scheme`` (default: the settings' ``code_scheme``, see :mod:`gis.areas.schemes`). The level
    of every feature is ``level`` when given, else its level column's, else the code's (digit schemes); a
    missing level is derived, never an error of its own. Parent codes come from their column when the file
    has one, else from the code (digit schemes), else from spatial containment: the current area of a higher
    level, in the file or stored, that holds most of it (``any``). Features must lie in ``region``
    (default: the settings' ``WANGGE_REGION``). An area's parent must be in the file or already stored.
    Areas are measured in ``settings.metric_crs``;
    ``tolerance`` bounds the area a child may have outside its parent or share with a sibling. Stored areas
    missing from the file stay, unless ``retire_missing``: then the current areas that share a parent with
    an area of the file, but are not in it, are closed.

    Raises InvalidInput when the file cannot be read, and ValidationFailed (with every problem, warnings
    included) when any feature has an error; nothing is written then.
    """
    settings = settings or get_settings()
    scheme = scheme or CodeScheme(settings.code_scheme)
    progress = progress or no_progress
    progress("reading", 0, 1)
    file = read_vector(path, layer=layer, crs=crs, datum=datum, encoding=encoding)
    # DataV calls a prefecture "city" and a county "district": its level column is only read when named.
    guess_level = scheme is not CodeScheme.adcode or level_field is not None
    columns = _Columns(
        code=pick_column(file, code_field, CODE_FIELDS, what="code", option="--code-field"),
        name=pick_column(file, name_field, NAME_FIELDS, what="name", option="--name-field"),
        parent=find_column(file, parent_field, PARENT_FIELDS, option="--parent-field"),
        level=find_column(file, level_field, LEVEL_FIELDS, option="--level-field") if guess_level else None,
    )
    progress("reading", 1, 1)

    areas, problems = _areas_from_file(file, columns, region or Region.of(settings), scheme, level)
    progress("validating", 0, len(areas))
    if not scheme.derives_hierarchy and columns.parent is None:
        containment.assign_parents(session, areas)
    stored = _stored_areas(session, areas)
    retiring = _missing_siblings(areas, stored) if retire_missing else []
    retired_codes = {a.code for a in retiring}
    staying = {code: a for code, a in stored.items() if code not in retired_codes}
    problems += _check_hierarchy(areas, staying, file_codes=_valid_codes(file, columns.code, scheme),
                                 tolerance=tolerance, metric=Metric(settings.metric_crs),
                                 judge_gaps=not any(p.severity == "error" for p in problems),
                                 top_rank=_top_rank(session, areas))
    progress("validating", len(areas), len(areas))
    problems = list(file.warnings) + problems
    if any(p.severity == "error" for p in problems):
        raise ValidationFailed(problems=problems, what=file.source)

    summary = _write(session, areas, stored, source=file.source, retiring=retiring, progress=progress)
    summary.warnings = problems
    return summary


def _valid_codes(file: VectorFile, column: str, scheme: CodeScheme) -> set[str]:
    return {c for c in (scheme.normalise(v) for v in file.frame[column]) if c and scheme.problem(c) is None}


def _areas_from_file(
    file: VectorFile, columns: _Columns, region: Region, scheme: CodeScheme, level: AdminLevel | None
) -> tuple[dict[str, _Area], list[Problem]]:
    """The file's usable areas by code, and the problems of each feature on its own."""
    frame = file.frame
    problems: list[Problem] = []
    areas: dict[str, _Area] = {}
    codes = [scheme.normalise(v) for v in frame[columns.code]]
    seen = Counter(codes)
    for number, (code, values) in enumerate(zip(codes, frame.to_dict("records"), strict=True), start=1):
        name = text_value(values.get(columns.name))
        label = f"{code or f'feature #{number}'} {name or '(no name)'}"
        found, area_level = _area_problems(code, name, values, columns, label, seen, scheme, level)
        geom, geometry_problems = repair_polygonal(values.get(frame.geometry.name), label)
        found += geometry_problems
        if geom is not None and (implausible := check_lonlat(geom, label, region)):
            found.append(implausible)
        problems += found
        if any(p.severity == "error" for p in found) or geom is None or name is None:
            continue
        if code is None or area_level is None:
            continue  # reported by _area_problems
        parent = scheme.normalise(values.get(columns.parent)) if columns.parent else None
        areas[code] = _Area(code, name, area_level, parent or scheme.parent_of(code), geom)
    return areas, problems


def _area_problems(
    code: str | None,
    name: str | None,
    values: dict[str, object],
    columns: _Columns,
    label: str,
    seen: Counter[str | None],
    scheme: CodeScheme,
    given_level: AdminLevel | None,
) -> tuple[list[Problem], AdminLevel | None]:
    """What is wrong with one feature's attributes, each naming the fix, and the feature's level (None when
    it cannot be told)."""
    problems = []
    if name is None:
        problems.append(Problem("error", label, "has no name", "fill in its name column"))
    elif len(name) > NAME_LENGTH:
        problems.append(Problem("error", label, f"name is {len(name)} characters long",
                                f"shorten it to {NAME_LENGTH}"))
    if (wrong := scheme.problem(code)) is not None or code is None:
        problems.append(Problem("error", label, f"code {wrong} ({scheme.value} scheme)",
                                f"give {scheme.wanted()}"))
        return problems, None
    if seen[code] > 1:
        problems.append(Problem("error", label, f"code {code} appears {seen[code]} times in the file",
                                "keep one feature per code (merge the parts into one multipolygon)"))
    level = scheme.level_of(code)
    if scheme.derives_hierarchy and level is None:
        problems.append(Problem("error", label, f"code {code} is a province; Wangge holds prefectures and below",
                                "leave the province out of the file"))
        return problems, None
    stated: AdminLevel | None = given_level
    given = text_value(values.get(columns.level)) if columns.level else None
    if stated is None and given is not None:  # an empty cell is a level to derive, not a level "nan"
        stated = parse_level(given)
        if stated is None:
            problems.append(Problem("error", label, f"level {given!r} is not one Wangge knows",
                                    f"use one of {', '.join(AdminLevel)}, or leave the level column out"))
            return problems, None
    if stated is not None and level is not None and stated is not level:
        problems.append(Problem("error", label, f"level {'--level' if given_level else 'column'} says "
                                f"{stated.value}, but code {code} is a {level.value} code",
                                "correct the level or the code"))
    level = level or stated
    if level is None:
        problems.append(Problem("error", label, f"has no level, and a code of the {scheme.value} scheme does not "
                                "say it", f"give --level (one of {', '.join(AdminLevel)}) or a level column"))
    if columns.parent:
        parent = scheme.normalise(values.get(columns.parent))
        if parent is not None and (wrong := scheme.problem(parent)) is not None:
            problems.append(Problem("error", label, f"parent code {wrong}",
                                    "give the parent's code, or leave it empty to derive it"))
        elif parent == code:
            problems.append(Problem("error", label, "is its own parent", "correct the parent code"))
    return problems, level


def _stored_areas(session: Session, areas: dict[str, _Area]) -> dict[str, _Area]:
    """Current stored areas the file touches: the same codes, their parents, and the children of both."""
    keys = set(areas) | {a.parent_code for a in areas.values() if a.parent_code}
    if not keys:
        return {}
    rows = session.execute(
        select(AdminArea.id, AdminArea.code, AdminArea.name, AdminArea.level, AdminArea.parent_code,
               func.ST_AsBinary(AdminArea.geom))
        .where(AdminArea.valid_to.is_(None), or_(AdminArea.code.in_(keys), AdminArea.parent_code.in_(keys)))
    )
    return {
        code: _Area(code, name, AdminLevel(level), parent, shapely.from_wkb(bytes(wkb)), row_id=row_id)
        for row_id, code, name, level, parent, wkb in rows
    }


def _check_hierarchy(
    areas: dict[str, _Area],
    stored: dict[str, _Area],
    *,
    file_codes: set[str],
    tolerance: Tolerance,
    metric: Metric,
    judge_gaps: bool,
    top_rank: int = 0,
) -> list[Problem]:
    """Parents exist, children lie inside parents, siblings do not overlap (errors) or leave gaps (warnings),
    judged on the world as it would be after the import. Gaps are only judged when every feature of the
    file is usable: a feature left out for its errors would show as a gap that is not there."""
    world = {**stored, **areas}
    problems = [
        Problem("error", area.label, f"parent {area.parent_code} is neither in the file nor in the database",
                "import the parent first (or add it to the file), or correct the parent code")
        for area in areas.values()
        if area.parent_code and area.level is not AdminLevel.prefecture  # a province: not held
        and area.level.rank > top_rank  # the top of what is held (a city without its prefecture) may lack it
        and area.parent_code not in file_codes and area.parent_code not in stored
    ]
    codes = list(world)
    metric_geoms = dict(zip(codes, metric.project([world[c].geom for c in codes]), strict=True))

    children: defaultdict[str | None, list[str]] = defaultdict(list)
    for code, area in world.items():
        children[area.parent_code].append(code)
    for code, area in world.items():
        parent = world.get(area.parent_code or "")
        if parent is None or (code not in areas and parent.code not in areas):
            continue
        problem = check_inside(metric_geoms[code], metric_geoms[parent.code], tolerance, metric,
                               child_label=area.label, parent_label=parent.label)
        if problem:
            problems.append(problem)

    for parent_code in sorted({a.parent_code for a in areas.values()}, key=str):
        siblings = children[parent_code]
        geoms = [metric_geoms[c] for c in siblings]
        problems += check_overlaps(geoms, [world[c].label for c in siblings], tolerance, metric,
                                   concerns=_touches_file(siblings, areas))
        if judge_gaps and parent_code in world:
            problems += find_gaps(metric_geoms[parent_code], geoms, tolerance, metric,
                                  parent_label=world[parent_code].label)
    return problems


def _top_rank(session: Session, areas: dict[str, _Area]) -> int:
    """The rank of the highest level held, stored or in the file: areas of that level need no parent."""
    stored = session.scalars(select(AdminArea.level).where(AdminArea.valid_to.is_(None)).distinct())
    ranks = [AdminLevel(level).rank for level in stored] + [a.level.rank for a in areas.values()]
    return min(ranks, default=0)


def _missing_siblings(areas: dict[str, _Area], stored: dict[str, _Area]) -> list[_Area]:
    """Stored areas that share a parent with an area of the file but are not in it."""
    parents = {a.parent_code for a in areas.values()}
    return [a for code, a in stored.items() if code not in areas and a.parent_code in parents]


def _touches_file(codes: list[str], areas: dict[str, _Area]) -> Callable[[int, int], bool]:
    """Pairs worth reporting: at least one side comes from the file (stored pairs were checked before)."""
    return lambda i, j: codes[i] in areas or codes[j] in areas


def _write(
    session: Session,
    areas: dict[str, _Area],
    stored: dict[str, _Area],
    *,
    source: str,
    retiring: list[_Area],
    progress: ProgressReporter,
) -> ImportSummary:
    """Close changed and ``retiring`` rows, then insert the new versions in one statement."""
    summary = ImportSummary()
    progress("writing", 0, len(areas))
    new_rows: list[dict[str, object]] = []
    closing: list[int] = []
    for area in areas.values():
        old = stored.get(area.code)
        if old is not None and old.same_as(area):
            summary.unchanged += 1
            continue
        if old is not None:
            assert old.row_id is not None
            closing.append(old.row_id)
            summary.changed += 1
        else:
            summary.added += 1
        new_rows.append({"code": area.code, "name": area.name, "level": area.level.value,
                         "parent_code": area.parent_code, "geom": from_shape(area.geom, srid=SRID),
                         "source": source})
    closing += [a.row_id for a in retiring if a.row_id is not None]
    summary.retired = len(retiring)
    _close(session, closing)
    if new_rows:
        session.execute(insert(AdminArea), new_rows)
    session.flush()
    progress("writing", len(areas), len(areas))
    return summary


def _close(session: Session, row_ids: Iterable[int]) -> None:
    """End the current versions (valid_to = today) before their successors take the current-code slot."""
    ids = list(row_ids)
    if ids:
        session.execute(
            update(AdminArea).where(AdminArea.id.in_(ids)).values(valid_to=func.current_date()),
            execution_options={"synchronize_session": False},
        )


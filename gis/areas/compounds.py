"""Residential compounds (小区) from a file: their attributes, the community each lies in, and the upsert.

The service that ties these steps together is :func:`import_compounds`. A compound is
identified by (community code, name); its community comes from the file or, when the file has none, from
PostGIS: the current community that holds most of the compound.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import shapely
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from gis.areas.divisions import is_valid_code, level_of_code, normalise_code
from gis.areas.import_summary import ImportSummary
from gis.errors import Problem, ValidationFailed
from gis.models.areas import SRID, AdminArea, AdminLevel, Compound
from gis.progress import ProgressReporter, no_progress
from gis.settings import Settings, get_settings
from gis.spatial.crs import InputDatum
from gis.spatial.readers import VectorFile, find_column, int_value, pick_column, read_vector, text_value
from gis.spatial.validation import (
    DEFAULT_TOLERANCE,
    Metric,
    Region,
    Tolerance,
    check_inside,
    check_lonlat,
    repair_polygonal,
    same_geometry,
)

NAME_FIELDS = ("name", "小区名称", "名称", "xqmc", "mc")
COMMUNITY_FIELDS = ("community_code", "community", "社区代码", "所属社区代码", "sqdm")
ATTRIBUTE_FIELDS = {
    "address": ("address", "地址", "dz"),
    "households": ("households", "户数", "hs"),
    "property_company": ("property_company", "物业公司", "物业", "wygs"),
    "built_year": ("built_year", "建成年份", "建成年代", "jcnf"),
}
TEXT_LIMITS = {"name": 100, "address": 200, "property_company": 200}  # the columns' lengths
EARLIEST_BUILT_YEAR = 1900

_LOCATE = text("""
    SELECT DISTINCT ON (t.n) t.n, a.code
    FROM unnest(CAST(:numbers AS integer[]), CAST(:shapes AS bytea[])) AS t(n, wkb)
    JOIN admin_area AS a
      ON a.valid_to IS NULL AND a.level = 'community' AND ST_Intersects(a.geom, ST_GeomFromWKB(t.wkb, 4326))
    ORDER BY t.n, ST_Area(ST_Intersection(a.geom, ST_GeomFromWKB(t.wkb, 4326))) DESC
""")


@dataclass
class CompoundFeature:
    """One compound of the file, its values checked; ``community_code`` may be filled in by locating."""

    number: int
    name: str
    community_code: str | None
    address: str | None
    households: int | None
    property_company: str | None
    built_year: int | None
    geom: MultiPolygon  # EPSG:4326

    @property
    def label(self) -> str:
        return f"{self.name} ({self.community_code or f'feature #{self.number}'})"

    def values(self) -> dict[str, object]:
        return {"name": self.name, "community_code": self.community_code, "address": self.address,
                "households": self.households, "property_company": self.property_company,
                "built_year": self.built_year}


def compounds_from_file(
    file: VectorFile, *, name_field: str | None, community_field: str | None, region: Region
) -> tuple[list[CompoundFeature], list[Problem]]:
    """The file's usable compounds and the problems of each feature on its own."""
    columns = {
        "name": pick_column(file, name_field, NAME_FIELDS, what="compound name", option="--name-field"),
        "community_code": find_column(file, community_field, COMMUNITY_FIELDS, option="--community-field"),
        **{key: find_column(file, None, guesses, option="") for key, guesses in ATTRIBUTE_FIELDS.items()},
    }
    features: list[CompoundFeature] = []
    problems: list[Problem] = []
    for number, record in enumerate(file.frame.to_dict("records"), start=1):
        cell = {key: (record.get(column) if column else None) for key, column in columns.items()}
        name, community = text_value(cell["name"]), normalise_code(cell["community_code"])
        label = f"{name or '(no name)'} ({community or f'feature #{number}'})"
        feature = CompoundFeature(
            number=number, name=name or "", community_code=community, address=text_value(cell["address"]),
            households=_whole_number(cell, "households", 0, None), geom=MultiPolygon(),
            property_company=text_value(cell["property_company"]),
            built_year=_whole_number(cell, "built_year", EARLIEST_BUILT_YEAR, date.today().year + 5),
        )
        found = _value_problems(feature, cell, label)
        geom, geometry_problems = repair_polygonal(record.get(file.frame.geometry.name), label)
        found += geometry_problems
        if geom is not None and (implausible := check_lonlat(geom, label, region)):
            found.append(implausible)
        problems += found
        if geom is not None and not any(p.severity == "error" for p in found):
            feature.geom = geom
            features.append(feature)
    return features, problems


def _whole_number(cell: dict[str, object], key: str, lowest: int, highest: int | None) -> int | None:
    """The cell as a whole number within bounds; None when empty or unusable (see _value_problems)."""
    try:
        number = int_value(cell[key])
    except ValueError:
        return None
    if number is None or number < lowest or (highest is not None and number > highest):
        return None
    return number


def _value_problems(feature: CompoundFeature, cell: dict[str, object], label: str) -> list[Problem]:
    """What is wrong with one compound's attributes, each naming the fix."""
    problems = []
    if not feature.name:
        problems.append(Problem("error", label, "has no name", "fill in its name column"))
    community = feature.community_code
    fix = "give the community's full code (e.g. 433101004003), or leave it empty to locate the compound"
    if community is not None and not is_valid_code(community):
        problems.append(Problem("error", label, f"community code {community!r} is not 12 digits", fix))
    elif community is not None and (level := level_of_code(community)) is not AdminLevel.community:
        problems.append(Problem("error", label, f"community code {community} is a "
                                f"{level.value if level else 'province'} code, not a community's", fix))
    for key, limit in TEXT_LIMITS.items():
        value = getattr(feature, key)
        if isinstance(value, str) and len(value) > limit:
            problems.append(Problem("error", label, f"{key} is {len(value)} characters long",
                                    f"shorten it to {limit}"))
    for key, span in (("households", "of at least 0"),
                      ("built_year", f"from {EARLIEST_BUILT_YEAR} to {date.today().year + 5}")):
        if getattr(feature, key) is None and text_value(cell[key]) is not None:
            problems.append(Problem("error", label, f"{key} {cell[key]!r} is not a whole number {span}",
                                    f"correct {key}, or leave it empty"))
    return problems


def locate_communities(session: Session, features: list[CompoundFeature]) -> list[Problem]:
    """Fill in the community of each compound that lacks one: the current community holding most of it."""
    unplaced = [f for f in features if f.community_code is None]
    if not unplaced:
        return []
    rows = session.execute(_LOCATE, {"numbers": [f.number for f in unplaced],
                                     "shapes": [shapely.to_wkb(f.geom) for f in unplaced]})
    found: dict[int, str] = {number: code for number, code in rows}
    for feature in unplaced:
        feature.community_code = found.get(feature.number)
    return [
        Problem("error", feature.label, "lies in no community in the database",
                "import the community boundaries first, or give the compound's community_code")
        for feature in unplaced
        if feature.community_code is None
    ]


def check_compounds(
    session: Session, features: list[CompoundFeature], tolerance: Tolerance, metric: Metric
) -> list[Problem]:
    """Each compound's community exists, holds it (within tolerance), and names no other compound alike."""
    codes = {f.community_code for f in features if f.community_code}
    communities = {
        code: (level, f"{code} {name}", shapely.from_wkb(bytes(wkb)))
        for code, level, name, wkb in session.execute(
            select(AdminArea.code, AdminArea.level, AdminArea.name, func.ST_AsBinary(AdminArea.geom))
            .where(AdminArea.valid_to.is_(None), AdminArea.code.in_(codes))
        )
    }
    problems = []
    keys = Counter((f.community_code, f.name) for f in features)
    placed = []
    for feature in features:
        if (times := keys[(feature.community_code, feature.name)]) > 1:
            problems.append(Problem("error", feature.label, f"appears {times} times in the same community",
                                    "keep one feature per compound, or tell them apart by name"))
        community = communities.get(feature.community_code or "")
        if community is None:
            problems.append(Problem("error", feature.label, f"community {feature.community_code} is not in the "
                                    "database", "import the community boundaries first, or correct community_code"))
        elif community[0] != AdminLevel.community:
            problems.append(Problem("error", feature.label, f"{community[1]} is a {community[0]}, not a community",
                                    "give the code of the community the compound belongs to"))
        else:
            placed.append((feature, community))
    if placed:
        shapes = metric.project([f.geom for f, _ in placed] + [c[2] for _, c in placed])
        for (feature, community), mine, theirs in zip(placed, shapes[:len(placed)], shapes[len(placed):],
                                                       strict=True):
            if problem := check_inside(mine, theirs, tolerance, metric, child_label=feature.label,
                                       parent_label=community[1]):
                problems.append(problem)
    return problems


def write_compounds(session: Session, features: list[CompoundFeature]) -> tuple[int, int, int]:
    """Insert new compounds and update changed ones, by (community code, name): (added, changed, unchanged)."""
    codes = {f.community_code for f in features}
    stored = {
        (row.community_code, row.name): row
        for row in session.execute(
            select(Compound.id, Compound.community_code, Compound.name, Compound.address, Compound.households,
                   Compound.property_company, Compound.built_year, func.ST_AsBinary(Compound.geom).label("wkb"))
            .where(Compound.community_code.in_(codes))
        )
    }
    new_rows, changed_rows, unchanged = [], [], 0
    for feature in features:
        values = {**feature.values(), "geom": from_shape(feature.geom, srid=SRID)}
        old = stored.get((feature.community_code, feature.name))
        if old is None:
            new_rows.append(values)
        elif all(getattr(old, k) == v for k, v in feature.values().items()) and same_geometry(
            shapely.from_wkb(bytes(old.wkb)), feature.geom
        ):
            unchanged += 1
        else:
            changed_rows.append({"id": old.id, **values})
    if new_rows:
        session.execute(insert(Compound), new_rows)
    if changed_rows:
        session.execute(update(Compound), changed_rows)
    session.flush()
    return len(new_rows), len(changed_rows), unchanged


def import_compounds(
    session: Session,
    path: str | Path,
    *,
    layer: str | None = None,
    crs: str | None = None,
    datum: InputDatum = InputDatum.wgs84,
    encoding: str | None = None,
    name_field: str | None = None,
    community_field: str | None = None,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    region: Region | None = None,
    settings: Settings | None = None,
    progress: ProgressReporter | None = None,
) -> ImportSummary:
    """Validate every compound of a file, then insert or update each by (community code, name).

    Attributes are name, community_code, address, households, property_company and built_year (usual
    Chinese column names are recognised too). A compound without community code is placed in the current
    community that holds most of it, so the communities must be imported first. Each compound must lie in
    its community within ``tolerance``. Compounds missing from the file are kept.

    Raises InvalidInput when the file cannot be read, and ValidationFailed when any feature has an error;
    nothing is written then.
    """
    settings = settings or get_settings()
    progress = progress or no_progress
    progress("reading", 0, 1)
    file = read_vector(path, layer=layer, crs=crs, datum=datum, encoding=encoding)
    features, problems = compounds_from_file(file, name_field=name_field,
                                                       community_field=community_field,
                                                       region=region or Region.of(settings))
    progress("reading", 1, 1)
    progress("validating", 0, len(features))
    problems += locate_communities(session, features)
    problems += check_compounds(session, [f for f in features if f.community_code], tolerance,
                                          Metric(settings.metric_crs))
    progress("validating", len(features), len(features))
    problems = list(file.warnings) + problems
    if any(p.severity == "error" for p in problems):
        raise ValidationFailed(problems=problems, what=file.source)
    progress("writing", 0, len(features))
    added, changed, unchanged = write_compounds(session, features)
    progress("writing", len(features), len(features))
    return ImportSummary(added=added, changed=changed, unchanged=unchanged, warnings=problems)

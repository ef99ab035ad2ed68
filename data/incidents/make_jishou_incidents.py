"""Generate the Jishou sample's year of incidents: `data/incidents/jishou_incidents.csv`.

    .venv/bin/python data/incidents/make_jishou_incidents.py          # rewrite the CSV
    .venv/bin/python data/incidents/make_jishou_incidents.py --check  # exit 1 if the CSV is stale

Deterministic (fixed seed). The counts of the press-reported clean-ups are real (see README.md); every
position, date, text and outcome is synthetic, placed by rules that make the density map tell a plausible
story: road-occupying shops, stalls and mobile vendors cluster around markets and the station, illegal sheds
and clutter sit in old compounds (built before 2001, no property management), sewage near the old town by
the river. Dates are stored as ``days_ago`` so that the sample is always "the last year" when loaded.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import Point

HERE = Path(__file__).resolve().parent
BOUNDARIES = HERE.parent / "boundaries"
OUT = HERE / "jishou_incidents.csv"
METRIC = 4546
SEED = 433101

# Press-reported clean-ups (category code → count): the floor of the sample.
PRESS = {
    "09005": 51,  # 店外经营: road-occupying shops
    "06001": 19,  # 私搭乱建: illegal sheds
    "06036": 52,  # 乱堆杂物: clutter piles ("50+")
    "06030": 6,  # 乱倒乱排污水: sewage spills
    "06011": 8,  # 积存垃圾: garbage piles
    "07003": 15,  # 违规户外广告: illegal ads
    "07001": 60,  # 非法小广告 (牛皮癣): sticker ads
    "09001": 6,  # 无照经营游商: mobile vendors
    "06034": 3,  # 废弃车辆: zombie cars
}
# The everyday background of a year, on top of the press figures.
BACKGROUND = {  # code: (count, name in the transcribed GB/T 47678.5 list)
    "09006": (70, "占道经营"),
    "06010": (35, "暴露垃圾"),
    "09009": (15, "机动车乱停放"),
    "06012": (10, "道路不洁"),
    "06042": (10, "垃圾站（箱）满溢"),
    "06013": (8, "道路破损"),
    "06029": (8, "露天烧烤"),
    "09010": (8, "非机动车乱停放"),
    "06040": (6, "私设地锁、阻车桩"),
    "01001": (6, "供水井盖异常"),
    "09012": (5, "占用消防通道"),
    "06028": (5, "噪声扰民"),
}

# Illustrative hotspots: community code → (label, offset from the community's representative point, m).
HOTSPOTS = {
    "market": [
        ("433101005007", "商业城农贸市场(示意位置)", (60, -40)),
        ("433101002005", "光明菜市场(示意位置)", (-50, 30)),
        ("433101004003", "乾州菜市场(示意位置)", (40, 60)),
        ("433101002001", "峒河农贸市场(示意位置)", (-30, -50)),
    ],
    "station": [("433101007002", "火车站片区(示意位置)", (120, 80))],
    "old_town": [("433101002001", "峒河老街(示意位置)", (0, 0)), ("433101002003", "向阳老街(示意位置)", (0, 0))],
}

TEXTS = {
    "09005": ["{p}附近商户将货架摆出店外，占用人行道约{n}米", "{p}一带门店出店经营，堆放货物影响通行"],
    "09006": ["{p}早市摊点占道经营，堵塞车行道", "{p}路边流动摊点占道摆卖水果蔬菜"],
    "09001": ["{p}附近有流动商贩推车叫卖", "{p}出口处无照游商聚集"],
    "06001": ["{c}内有住户在楼道口私自搭建棚子约{n}平方米", "{c}围墙边新搭建铁皮棚一处"],
    "06036": ["{c}楼下堆放废旧家具杂物", "{c}消防通道堆放杂物，影响通行"],
    "06030": ["{p}附近有商户向雨水井倾倒污水", "{p}路段污水外溢，气味明显"],
    "06011": ["{c}垃圾收集点积存垃圾未及时清运", "{c}旁空地积存生活垃圾"],
    "06010": ["{c}附近垃圾桶满溢，垃圾暴露", "路边暴露垃圾一处，位于{c}附近"],
    "07003": ["{p}附近商铺擅自设置户外广告牌", "{p}路段违规悬挂横幅广告"],
    "07001": ["{c}单元门、电线杆张贴小广告（牛皮癣）", "{c}外墙喷涂办证小广告"],
    "06034": ["{c}内一辆无牌小轿车长期停放，积灰严重，疑似僵尸车", "{c}路边废弃车辆一辆，轮胎漏气"],
}
GENERIC = ["{c}附近发现{name}问题，请尽快处置", "巡查发现{c}周边{name}"]

SOURCES = (["patrol"] * 14) + (["hotline_12345"] * 3) + (["resident"] * 2) + ["transfer"]


@dataclass(frozen=True)
class World:
    communities: gpd.GeoDataFrame  # metric CRS
    compounds: gpd.GeoDataFrame  # metric CRS
    union: shapely.Geometry


def load_world() -> World:
    admin = gpd.read_file(BOUNDARIES / "jishou_admin.geojson")
    communities = admin[admin["level"] == "community"].to_crs(METRIC).reset_index(drop=True)
    compounds = gpd.read_file(BOUNDARIES / "jishou_compounds.geojson").to_crs(METRIC).reset_index(drop=True)
    return World(communities, compounds, shapely.union_all(communities.geometry.values))


def _hotspot_points(world: World, kind: str) -> list[tuple[Point, str]]:
    by_code = world.communities.set_index("code")
    out = []
    for code, label, (dx, dy) in HOTSPOTS[kind]:
        rp = by_code.loc[code].geometry.representative_point()
        out.append((Point(rp.x + dx, rp.y + dy), label))
    return out


def _inside(world: World, rng: np.random.Generator, make: callable) -> Point:  # type: ignore[valid-type]
    """Draw with ``make`` until the point falls inside a community (a cell, once the grid is built)."""
    for _ in range(200):
        p = make()
        if world.union.contains(p):
            return p
    raise RuntimeError("could not place a point inside the sample area")


def _place(world: World, rng: np.random.Generator, code: str) -> tuple[Point, str, str]:
    """A position, a place label and a compound name for one incident of category ``code``."""
    old = world.compounds[(world.compounds["built_year"] <= 2000)]
    near_market = code in {"09005", "09006", "09001", "07003", "06029", "09009"}
    if near_market:
        spots = _hotspot_points(world, "market") + _hotspot_points(world, "station")
        weights = np.array([3, 2, 2, 1, 2.5 if code in {"09001", "09006"} else 1.0])
        spot, label = spots[rng.choice(len(spots), p=weights / weights.sum())]
        sigma = 90 if code == "09005" else 160
        p = _inside(world, rng, lambda: Point(spot.x + rng.normal(0, sigma), spot.y + rng.normal(0, sigma)))
        return p, label, ""
    if code == "06030":
        spots = _hotspot_points(world, "old_town")
        spot, label = spots[rng.integers(len(spots))]
        return _inside(world, rng, lambda: Point(spot.x + rng.normal(0, 150), spot.y + rng.normal(0, 150))), label, ""
    if code in {"06001", "06036", "06011", "06034", "07001"}:
        pool = old if code in {"06001", "06036", "06011"} or rng.random() < 0.6 else world.compounds
        row = pool.iloc[rng.integers(len(pool))]
        geom = row.geometry
        if code in {"06001", "06034"}:  # inside the compound
            minx, miny, maxx, maxy = geom.bounds
            p = _inside(world, rng, lambda: Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy)))
            if not geom.contains(p):
                p = geom.representative_point()
        else:  # in and around it
            c = geom.centroid
            p = _inside(world, rng, lambda: Point(c.x + rng.normal(0, 80), c.y + rng.normal(0, 80)))
        return p, "", row["name"]
    # Anything else: anywhere, weighted towards the denser old communities.
    minx, miny, maxx, maxy = world.union.bounds
    p = _inside(world, rng, lambda: Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy)))
    home = world.communities[world.communities.contains(p)]
    return p, (str(home.iloc[0]["name"]) if len(home) else ""), ""


def _outcome(rng: np.random.Generator, days_ago: float) -> str:
    """The status a case has reached by now: old cases are mostly closed, recent ones are in every state."""
    if days_ago > 45:
        states = ["closed", "rejected", "void", "shelved", "duplicate", "rework_closed"]
        p = [0.80, 0.05, 0.03, 0.04, 0.03, 0.05]
    else:
        states = ["reported", "registered", "rejected", "dispatched", "in_progress", "handled", "closed",
                  "rework", "shelved", "overdue", "extended", "void"]
        p = [0.08, 0.08, 0.03, 0.10, 0.12, 0.08, 0.28, 0.05, 0.02, 0.10, 0.04, 0.02]
    return str(rng.choice(states, p=np.array(p) / sum(p)))


def build() -> list[dict[str, str]]:
    world = load_world()
    rng = np.random.default_rng(SEED)
    rows: list[dict[str, str]] = []
    plan = [(code, n, "") for code, n in PRESS.items()] + [(c, n, name) for c, (n, name) in BACKGROUND.items()]
    for code, count, name in plan:
        for _ in range(count):
            p, place, compound = _place(world, rng, code)
            days_ago = float(rng.uniform(0.05, 365)) if rng.random() < 0.85 else float(rng.uniform(0.05, 30))
            status = _outcome(rng, days_ago)
            template = rng.choice(TEXTS.get(code, GENERIC))
            label = (place or compound or "巡查路段").replace("(示意位置)", "")
            text = template.format(p=label, c=(compound or label), n=int(rng.integers(2, 15)), name=name)
            rows.append({"category": code, "x": p.x, "y": p.y, "days_ago": round(days_ago, 3),
                         "source": str(rng.choice(SOURCES)), "outcome": status, "description": text,
                         "place": place, "compound": compound})
    pts = gpd.GeoSeries([Point(r["x"], r["y"]) for r in rows], crs=METRIC).to_crs(4326)
    out = []
    for i, (r, pt) in enumerate(zip(rows, pts, strict=True), start=1):
        out.append({
            "ref": f"S{i:04d}", "category": r["category"], "lon": f"{pt.x:.6f}", "lat": f"{pt.y:.6f}",
            "days_ago": f"{r['days_ago']:.3f}", "source": r["source"], "outcome": r["outcome"],
            "description": r["description"], "place": r["place"], "compound": r["compound"],
        })
    return out


def dumps(rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed CSV is out of date")
    args = parser.parse_args()
    text = dumps(build())
    if args.check:
        return 0 if OUT.exists() and OUT.read_text(encoding="utf-8") == text else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({text.count(chr(10)) - 1} incidents)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Build the synthetic Jishou facility sample: units, pairings and shared facilities (场所联享).

    .venv/bin/python data/facilities/make_jishou_facilities.py          # rewrites the three CSV files
    .venv/bin/python data/facilities/make_jishou_facilities.py --check  # exit status 1 if out of date

Unit names, kinds and which community each facility lies in are written below by hand; every facility
point is drawn (deterministically, seeded by its name) inside its community's polygon in
``data/boundaries/jishou_admin.geojson``, at least 40 m from the edge. See README.md for what is real.
"""

# ruff: noqa: E501  (the tables below read best one record a line)
from __future__ import annotations

import csv
import io
import sys
import zlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

HERE = Path(__file__).resolve().parent
ADMIN = HERE.parent / "boundaries" / "jishou_admin.geojson"
METRIC = 4546
RONGCHANGPING = "433101007002"  # 荣昌坪社区

# name, kind, synthetic credit code prefix (17 chars; the check character is computed)
UNITS = [
    ("湘西土家族苗族自治州人民医院", "hospital", "12433100MB1000001"),
    ("吉首大学", "school", "12430000MB1000002"),
    ("湘西州眼科医院", "hospital", "12433100MB1000003"),
    ("湘西州州直机关事务服务中心", "government", "11433100MB1000004"),
    ("吉首市石家冲街道办事处", "government", "11433101MB1000005"),
    ("吉首市文化馆", "government", "12433101MB1000006"),
    ("乾州街道社区卫生服务中心", "hospital", "12433101MB1000007"),
    ("吉首市峒河学校", "school", "12433101MB1000008"),
    ("湘西州体育运动学校", "school", "12433100MB1000009"),
    ("吉首市老年大学", "school", "12433101MB1000010"),
    ("吉首市城市建设投资有限公司", "enterprise", "91433101MA1000011"),
    ("吉首市商业城物业管理有限公司", "enterprise", "91433101MA1000012"),
    ("武陵山志愿服务协会", "social_org", "51433101MJ1000013"),
]

# unit, community, since, commitment
PAIRINGS = [
    ("湘西土家族苗族自治州人民医院", RONGCHANGPING, "2023-03-01", "夜间及周末开放职工停车场部分车位；开放会议室供社区议事；每季度义诊一次"),
    ("吉首大学", RONGCHANGPING, "2023-03-01", "开放停车场和学术报告厅；组织大学生志愿者参与社区服务"),
    ("吉首大学", "433101007001", "2023-09-01", "开放体育场馆供社区居民错峰健身"),
    ("湘西州眼科医院", RONGCHANGPING, "2023-05-01", "开放停车场、会议室；为社区老人免费眼科筛查"),
    ("湘西州州直机关事务服务中心", "433101004003", "2022-07-01", "开放机关食堂、停车场"),
    ("吉首市石家冲街道办事处", "433101007004", "2022-01-01", "开放文化活动室、多功能厅"),
    ("吉首市文化馆", "433101005007", "2021-10-01", "开放排练厅、展厅，免费开展文化培训"),
    ("乾州街道社区卫生服务中心", "433101004901", "2022-04-01", "开放健康教室，每月健康讲座"),
    ("吉首市峒河学校", "433101002001", "2023-02-01", "课余时间开放操场、篮球场"),
    ("湘西州体育运动学校", "433101002008", "2022-09-01", "开放田径场、羽毛球馆"),
    ("吉首市老年大学", "433101005003", "2021-03-01", "开放教室开展老年课程"),
    ("吉首市城市建设投资有限公司", "433101005008", "2023-06-01", "开放停车场夜间车位"),
    ("吉首市商业城物业管理有限公司", "433101005007", "2023-06-01", "开放地下停车场部分车位"),
    ("武陵山志愿服务协会", "433101002002", "2022-05-01", "开放活动室用于居民议事和志愿服务"),
]

WEEKDAY_NIGHTS_WEEKENDS = "Mo-Fr 18:30-07:30; Sa,Su 00:00-24:00"
OFFICE_EVENINGS = "Mo-Fr 18:00-21:30; Sa,Su 09:00-17:00"
SCHOOL_AFTER_CLASS = "Mo-Fr 17:30-21:00; Sa,Su 07:00-21:00"
DAYTIME = "Mo-Su 08:30-17:30"
HOLIDAYS_2026 = "2026-01-01,2026-10-01..2026-10-07"
CARS = "仅限7座及以下小型客车；不得过夜停放货车；服从单位保安指挥"

# unit, name, type, community, capacity, open share, opening hours, holidays, booking needed, rules
FACILITIES = [
    ("湘西土家族苗族自治州人民医院", "职工停车场（夜间及周末开放）", "parking_lot", RONGCHANGPING, 320, "30%", WEEKDAY_NIGHTS_WEEKENDS, "", "否", CARS),
    ("湘西土家族苗族自治州人民医院", "行政楼三楼会议室", "meeting_room", RONGCHANGPING, 60, "100%", OFFICE_EVENINGS, HOLIDAYS_2026, "是", "提前两天预约；禁止吸烟"),
    ("湘西土家族苗族自治州人民医院", "健康教育室", "education_room", RONGCHANGPING, 40, "100%", "Sa 09:00-12:00", HOLIDAYS_2026, "是", "健康讲座优先"),
    ("湘西土家族苗族自治州人民医院", "职工食堂（长者助餐）", "canteen", RONGCHANGPING, 200, "20%", "Mo-Fr 11:30-13:00,17:30-18:30", HOLIDAYS_2026, "否", "社区60岁以上老人凭证就餐"),
    ("吉首大学", "东门停车场", "parking_lot", "433101007001", 400, "25%", WEEKDAY_NIGHTS_WEEKENDS, "", "否", CARS),
    ("吉首大学", "学术报告厅", "meeting_room", "433101007001", 300, "100%", "Sa,Su 09:00-17:00", HOLIDAYS_2026, "是", "提前一周预约；活动结束恢复原状"),
    ("吉首大学", "体育馆篮球场", "sports_court", "433101007001", 120, "50%", SCHOOL_AFTER_CLASS, "", "是", "穿运动鞋入场；每次不超过2小时"),
    ("吉首大学", "田径场", "sports_court", "433101005004", 500, "100%", "Mo-Su 06:00-08:00,18:00-21:30", "", "否", "错峰开放，考试周暂停"),
    ("吉首大学", "图书馆社区阅览室", "culture_room", "433101005004", 80, "50%", "Sa,Su 09:00-17:00", HOLIDAYS_2026, "否", "保持安静"),
    ("湘西州眼科医院", "门诊楼停车场", "parking_lot", RONGCHANGPING, 120, "30%", WEEKDAY_NIGHTS_WEEKENDS, "", "否", CARS),
    ("湘西州眼科医院", "五楼会议室", "meeting_room", RONGCHANGPING, 40, "100%", OFFICE_EVENINGS, HOLIDAYS_2026, "是", "提前两天预约"),
    ("湘西州州直机关事务服务中心", "机关食堂", "canteen", "433101004003", 300, "20%", "Mo-Fr 11:30-13:00", HOLIDAYS_2026, "否", "社区老人、环卫工人优先"),
    ("湘西州州直机关事务服务中心", "机关大院停车场", "parking_lot", "433101004003", 200, "40%", WEEKDAY_NIGHTS_WEEKENDS, HOLIDAYS_2026, "否", CARS),
    ("湘西州州直机关事务服务中心", "第二会议室", "meeting_room", "433101004003", 50, "100%", OFFICE_EVENINGS, HOLIDAYS_2026, "是", "提前三天预约"),
    ("吉首市石家冲街道办事处", "文化活动室", "culture_room", "433101007004", 60, "100%", DAYTIME, HOLIDAYS_2026, "否", ""),
    ("吉首市石家冲街道办事处", "多功能厅", "meeting_room", "433101007004", 120, "100%", OFFICE_EVENINGS, HOLIDAYS_2026, "是", "提前两天预约"),
    ("吉首市石家冲街道办事处", "院内停车场", "parking_lot", "433101007003", 60, "50%", WEEKDAY_NIGHTS_WEEKENDS, "", "否", CARS),
    ("吉首市文化馆", "排练厅", "culture_room", "433101005007", 80, "100%", "Tu-Su 09:00-21:00", HOLIDAYS_2026, "是", "文艺团队排练需预约"),
    ("吉首市文化馆", "非遗展厅", "other", "433101005007", 150, "100%", "Tu-Su 09:00-17:00", "", "否", "免费参观"),
    ("吉首市文化馆", "书画培训教室", "education_room", "433101005007", 30, "100%", "Sa,Su 14:00-17:00", HOLIDAYS_2026, "是", ""),
    ("乾州街道社区卫生服务中心", "健康教室", "education_room", "433101004901", 50, "100%", "Mo-Fr 14:30-17:00", HOLIDAYS_2026, "是", ""),
    ("乾州街道社区卫生服务中心", "康复训练室", "other", "433101004902", 20, "50%", "Mo-Fr 09:00-11:30", HOLIDAYS_2026, "是", "需在医生指导下使用器械"),
    ("吉首市峒河学校", "操场", "sports_court", "433101002001", 400, "100%", SCHOOL_AFTER_CLASS, "", "否", "上课时间不开放"),
    ("吉首市峒河学校", "篮球场", "sports_court", "433101002003", 60, "100%", SCHOOL_AFTER_CLASS, "", "是", ""),
    ("吉首市峒河学校", "阶梯教室", "education_room", "433101002001", 120, "100%", "Sa,Su 09:00-17:00", HOLIDAYS_2026, "是", ""),
    ("湘西州体育运动学校", "田径场", "sports_court", "433101002008", 600, "100%", "Mo-Su 06:00-08:00,18:30-21:30", "", "否", ""),
    ("湘西州体育运动学校", "羽毛球馆", "sports_court", "433101002005", 48, "50%", "Mo-Fr 19:00-21:30; Sa,Su 09:00-21:30", "", "是", "每次不超过2小时"),
    ("吉首市老年大学", "书法教室", "education_room", "433101005003", 40, "100%", "Mo-Fr 14:00-17:00", HOLIDAYS_2026, "是", ""),
    ("吉首市老年大学", "舞蹈室", "culture_room", "433101005003", 50, "100%", "Mo-Fr 08:30-11:30", HOLIDAYS_2026, "是", "穿软底鞋"),
    ("吉首市城市建设投资有限公司", "办公楼停车场", "parking_lot", "433101005008", 150, "30%", WEEKDAY_NIGHTS_WEEKENDS, "", "否", CARS),
    ("吉首市城市建设投资有限公司", "职工之家", "culture_room", "433101005001", 40, "100%", OFFICE_EVENINGS, "", "是", ""),
    ("吉首市商业城物业管理有限公司", "地下停车场", "parking_lot", "433101005007", 500, "10%", "Mo-Su 20:00-08:00", "", "否", CARS),
    ("吉首市商业城物业管理有限公司", "物业服务中心会议室", "meeting_room", "433101005006", 30, "100%", OFFICE_EVENINGS, "", "是", ""),
    ("武陵山志愿服务协会", "志愿者之家", "culture_room", "433101002002", 30, "100%", "Mo-Su 09:00-20:00", "", "否", ""),
    ("武陵山志愿服务协会", "共享厨房", "canteen", "433101002006", 20, "100%", "Sa,Su 10:00-14:00", "", "是", "使用后清洁"),
]


def _check_character(first17: str) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    total = sum(alphabet.index(c) * w for c, w in zip(first17, weights, strict=True))
    return first17 + alphabet[(31 - total % 31) % 31]


def _point_inside(polygon_m: shapely.Geometry, seed_text: str) -> shapely.Point:
    """A point drawn inside ``polygon_m`` (metric) at least 40 m from its edge, seeded by ``seed_text``."""
    inner = polygon_m.buffer(-40)
    rng = np.random.default_rng(zlib.crc32(seed_text.encode()))
    x0, y0, x1, y1 = inner.bounds
    while True:
        point = shapely.Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
        if inner.contains(point):
            return point


def _csv(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def build() -> dict[str, str]:
    """The three CSV files' text, by file name."""
    admin = gpd.read_file(ADMIN)
    communities = admin[admin["level"] == "community"].set_index("code")
    names = communities["name"].to_dict()
    subdistricts = admin.set_index("code")["name"].to_dict()
    metric = communities.to_crs(METRIC).geometry
    placed: dict[str, shapely.Point] = {}
    facility_rows = []
    for unit, name, kind, community, capacity, share, hours, holidays, booking, rules in FACILITIES:
        point_m = _point_inside(metric[community], f"{unit}/{name}")
        point = gpd.GeoSeries([point_m], crs=METRIC).to_crs(4326).iloc[0]
        placed.setdefault(unit, point)
        address = f"吉首市{subdistricts[community[:9] + '000']}{names[community]}"
        facility_rows.append([unit, name, kind, f"{point.x:.6f}", f"{point.y:.6f}", capacity, share, hours,
                              holidays, booking, rules, address])
    unit_rows = []
    for name, kind, code in UNITS:
        point = placed[name]
        unit_rows.append([name, kind, _check_character(code), "", f"{point.x:.6f}", f"{point.y:.6f}", "办公室", ""])
    return {
        "jishou_units.csv": _csv(["name", "kind", "credit_code", "address", "lon", "lat", "contact_name",
                                  "contact_phone"], unit_rows),
        "jishou_pairings.csv": _csv(["unit", "community_code", "since", "commitment"],
                                    [list(p) for p in PAIRINGS]),
        "jishou_facilities.csv": _csv(["unit", "name", "type", "lon", "lat", "capacity", "open_share",
                                       "opening_hours", "holidays", "booking_required", "rules", "address"],
                                      facility_rows),
    }


def main(argv: list[str]) -> int:
    files = build()
    if "--check" in argv:
        stale = [name for name, text in files.items() if (HERE / name).read_text(encoding="utf-8") != text]
        for name in stale:
            print(f"{name} is out of date; run {Path(__file__).name}", file=sys.stderr)
        return 1 if stale else 0
    for name, text in files.items():
        (HERE / name).write_text(text, encoding="utf-8")
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

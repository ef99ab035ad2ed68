"""Maps to take away: the self-contained HTML file and the PNG picture, from the layers' own rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy.orm import Session

from api.routes.pages import STATIC_DIR
from gis.errors import InvalidInput
from gis.layers import registry
from gis.settings import Settings
from maps.assets import external_urls
from maps.takeaway import picture, plan_for, standalone_html
from tests.api.test_tiles import add_tile_world
from tests.factories import FIRST_COMMUNITY, WORLD_CELLS

LAYERS = registry(Settings(database_url="postgresql://unused/unused"))


def test_a_density_file_inlines_leaflet_and_the_areas_counts(db: Session) -> None:
    add_tile_world(db)
    plan = plan_for(db, LAYERS, "density", area=FIRST_COMMUNITY)
    counts = dict(zip(plan.frame["code"], plan.frame["incidents"], strict=True))
    assert counts == {WORLD_CELLS[0]: 1, WORLD_CELLS[1]: 2, WORLD_CELLS[2]: 0}
    html = standalone_html(plan, STATIC_DIR)
    # Leaflet's own source names its web site (attribution, comments); nothing else names another host.
    leaflet = {url for name in ("leaflet.js", "leaflet.css")
               for url in external_urls((STATIC_DIR / "vendor/leaflet-1.9.4" / name).read_text(encoding="utf-8"))}
    assert set(external_urls(html)) <= leaflet
    assert 'src="/static' not in html and 'href="/static' not in html and "<script src=" not in html
    assert "L.map(" in html and WORLD_CELLS[1] in html
    assert plan.classes.bounds[-1] == 2.0


def test_a_density_picture_is_a_png_with_something_drawn(db: Session, tmp_path: Path) -> None:
    add_tile_world(db)
    plan = plan_for(db, LAYERS, "density", level="community")
    assert len(plan.frame) == 4  # every community of the world, not only those holding cells
    artifacts = Path(__file__).resolve().parent.parent / "artifacts"
    artifacts.mkdir(exist_ok=True)
    out = picture(plan, artifacts / "picture-density-communities.png")
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width > 400
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 10


@pytest.mark.parametrize(("kwargs", "field"), [({"kind": "heat"}, "kind"), ({"level": "street"}, "level"),
                                               ({"field": "code"}, "field"), ({"area": "433101999999"}, "area")])
def test_bad_arguments_are_refused_naming_them(db: Session, kwargs: dict[str, str], field: str) -> None:
    add_tile_world(db)
    arguments = {"kind": "density", **kwargs}
    with pytest.raises(InvalidInput, match=f"^{field}:"):
        plan_for(db, LAYERS, arguments.pop("kind"), **arguments)  # type: ignore[arg-type]

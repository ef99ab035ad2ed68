"""api.routes.pages: the worker page at / and the static files it loads, all from Wangge itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.routes.pages import JISHOU_CENTER, STATIC_DIR
from maps.assets import external_urls
from tests.factories import add_world
from tests.maps.test_vendor import has_licence


class _Assets(HTMLParser):
    """Collects the URLs a page makes the browser fetch (script src, stylesheet href, img src)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        url = values.get("src") if tag in {"script", "img"} else values.get("href") if tag == "link" else None
        if url:
            self.urls.append(url)


def assets_of(html: str) -> list[str]:
    parser = _Assets()
    parser.feed(html)
    return parser.urls


def test_the_worker_page_is_served_at_the_root_without_a_login(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert "网格员登录" in response.text
    assert external_urls(response.text) == []


def test_the_page_opens_on_the_middle_of_the_loaded_communities(client: TestClient, db: Session) -> None:
    add_world(db)  # communities cover 109.70–109.76 E, 28.25–28.33 N
    html = client.get("/").text
    assert re.search(r"center: \[28\.29\d*, 109\.73\d*\]", html), re.search(r"center: \[[^\]]*\]", html)


def test_with_no_community_loaded_the_page_opens_on_jishou(client: TestClient) -> None:
    lon, lat = JISHOU_CENTER
    assert f"center: [{lat}, {lon}]" in client.get("/").text


def test_every_asset_the_page_links_is_served(client: TestClient) -> None:
    urls = assets_of(client.get("/").text)
    assert "/static/vendor/leaflet-1.9.4/leaflet.js" in urls
    assert "/static/worker.js" in urls and "/static/worker.css" in urls
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.content, url


def test_leaflet_is_the_vendored_1_9_4_with_the_images_its_css_names(client: TestClient) -> None:
    script = client.get("/static/vendor/leaflet-1.9.4/leaflet.js")
    assert "javascript" in script.headers["content-type"]
    assert 't.version="1.9.4"' in script.text
    css = client.get("/static/vendor/leaflet-1.9.4/leaflet.css").text
    images = set(re.findall(r"url\((images/[^)]+)\)", css))
    assert images, "leaflet.css names no images: is this the real file?"
    for image in images:
        response = client.get(f"/static/vendor/leaflet-1.9.4/{image}")
        assert response.status_code == 200, image
        assert response.headers["content-type"] == "image/png"


def test_every_vendored_package_keeps_its_licence_and_is_listed() -> None:
    vendor = STATIC_DIR / "vendor"
    readme = (vendor / "README.md").read_text()
    packages = [p for p in vendor.iterdir() if p.is_dir()]
    assert packages
    for package in packages:
        assert has_licence(package), package.name
        assert package.name in readme, package.name


def test_the_static_mount_serves_nothing_outside_its_folder(client: TestClient) -> None:
    assert client.get("/static/../routes/pages.py").status_code == 404
    assert client.get("/static/%2e%2e/routes/pages.py").status_code == 404
    assert client.get("/static/no-such-file.js").status_code == 404

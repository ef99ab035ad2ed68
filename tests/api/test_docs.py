"""api.routes.docs: Swagger UI and ReDoc pages that link only Wangge's vendored files.

Until ``api.main`` is created with ``docs_url=None, redoc_url=None`` and includes ``docs.router``,
``docs_app`` does that wiring here: it drops FastAPI's own CDN pages from the real app and adds the router,
so the pages are tested over the app's real OpenAPI document. No database is needed: nothing here reads it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from api.main import create_app
from api.routes import docs
from gis.settings import Settings
from maps.assets import Asset, external_urls
from maps.vendor import REDOC_JS, SWAGGER_UI_CSS, SWAGGER_UI_FAVICON, SWAGGER_UI_JS

DOC_PATHS = {docs.DOCS_URL, docs.OAUTH2_REDIRECT_URL, docs.REDOC_URL}


def docs_app(settings: Settings) -> FastAPI:
    """The real app with FastAPI's CDN doc pages replaced by ``docs.router``."""
    app = create_app(settings, sessions=sessionmaker())
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) not in DOC_PATHS]
    app.include_router(docs.router)
    return app


@pytest.fixture
def docs_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(docs_app(settings)) as client:
        yield client


def test_fastapi_s_own_docs_would_load_from_a_cdn() -> None:
    # Why this router exists (a bare FastAPI app: Wangge's own no longer has these pages once wired); if
    # FastAPI ever stops doing this, the router may go.
    with TestClient(FastAPI()) as client:
        for path in (docs.DOCS_URL, docs.REDOC_URL):
            assert any("cdn" in url for url in external_urls(client.get(path).text))


@pytest.mark.parametrize("path", sorted(DOC_PATHS))
def test_each_doc_page_names_no_other_host_and_sends_its_policy(docs_client: TestClient, path: str) -> None:
    answer = docs_client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["content-security-policy"] == docs.CONTENT_SECURITY_POLICY
    assert external_urls(answer.text) == []


def test_swagger_ui_links_the_vendored_files_and_the_app_s_schema(docs_client: TestClient) -> None:
    html = docs_client.get("/docs").text
    assert f'<script src="{SWAGGER_UI_JS.url()}"></script>' in html
    assert f'href="{SWAGGER_UI_CSS.url()}"' in html
    assert f'href="{SWAGGER_UI_FAVICON.url()}"' in html
    assert "url: '/openapi.json'" in html
    assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in html
    assert '"validatorUrl": null' in html


def test_redoc_links_the_vendored_bundle_without_google_fonts(docs_client: TestClient) -> None:
    html = docs_client.get("/redoc").text
    assert f'<script src="{REDOC_JS.url()}"> </script>' in html
    assert '<redoc spec-url="/openapi.json"></redoc>' in html
    assert "fonts.googleapis" not in html


@pytest.mark.parametrize("asset", [SWAGGER_UI_JS, SWAGGER_UI_CSS, SWAGGER_UI_FAVICON, REDOC_JS], ids=lambda a: a.name)
def test_every_file_the_pages_link_is_served(docs_client: TestClient, asset: Asset) -> None:
    answer = docs_client.get(asset.url())
    assert answer.status_code == 200
    assert len(answer.content) > 0


def test_the_pages_follow_the_root_path_behind_a_proxy(settings: Settings) -> None:
    with TestClient(docs_app(settings), root_path="/wangge") as client:
        swagger = client.get("/docs").text
        redoc = client.get("/redoc").text
    assert f'src="/wangge{SWAGGER_UI_JS.url()}"' in swagger
    assert "url: '/wangge/openapi.json'" in swagger
    assert "window.location.origin + '/wangge/docs/oauth2-redirect'" in swagger
    assert f'src="/wangge{REDOC_JS.url()}"' in redoc
    assert 'spec-url="/wangge/openapi.json"' in redoc


def test_the_doc_pages_are_not_in_the_schema(docs_client: TestClient) -> None:
    paths = docs_client.get("/openapi.json").json()["paths"]
    assert not DOC_PATHS & set(paths)

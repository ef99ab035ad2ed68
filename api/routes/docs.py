"""The API's documentation pages, Swagger UI at ``/docs`` and ReDoc at ``/redoc``, from vendored files.

FastAPI's own ``/docs`` and ``/redoc`` load their scripts from a CDN, which an isolated network does not
reach, so the app is created with ``docs_url=None, redoc_url=None`` and includes this router instead. The
pages are FastAPI's (``get_swagger_ui_html``, ``get_redoc_html``) with every URL pointed at
``/static/vendor/…`` (``maps.vendor``) and no Google Fonts.

Each page also carries a Content-Security-Policy that allows images, fonts and requests from Wangge only
(and the ``data:``/``blob:`` URLs the bundles make themselves): ReDoc 2's menu footer has an ``<img>`` of
Redocly's logo on a CDN, and the policy keeps the browser from asking for it (ReDoc hides the image when it
fails). Scripts and styles are not restricted: FastAPI's Swagger page starts Swagger UI from an inline
script, and ReDoc injects its styles and starts a Web Worker from a ``blob:`` URL.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

from api.routes.pages import STATIC_URL
from maps.vendor import REDOC_JS, SWAGGER_UI_CSS, SWAGGER_UI_FAVICON, SWAGGER_UI_JS

DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
REDOC_URL = "/redoc"

CONTENT_SECURITY_POLICY = "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'"
_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY}

router = APIRouter(include_in_schema=False)


def _root(request: Request) -> str:
    """The prefix the app is served under (``root_path`` behind a proxy), as FastAPI's own pages use it."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _openapi_url(request: Request) -> str:
    return f"{_root(request)}{request.app.openapi_url}"


def _static(request: Request) -> str:
    return f"{_root(request)}{STATIC_URL}"


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    page.headers.update(_HEADERS)
    return page


@router.get(DOCS_URL, response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    static = _static(request)
    page = get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - Swagger UI",
        oauth2_redirect_url=f"{_root(request)}{OAUTH2_REDIRECT_URL}",
        swagger_js_url=SWAGGER_UI_JS.url(static),
        swagger_css_url=SWAGGER_UI_CSS.url(static),
        swagger_favicon_url=SWAGGER_UI_FAVICON.url(static),
        # No badge that would send the schema's URL to the public validator.
        swagger_ui_parameters={"validatorUrl": None},
    )
    return _with_policy(page)


@router.get(OAUTH2_REDIRECT_URL, response_class=HTMLResponse)
def swagger_ui_oauth2_redirect() -> HTMLResponse:
    return _with_policy(get_swagger_ui_oauth2_redirect_html())


@router.get(REDOC_URL, response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    static = _static(request)
    page = get_redoc_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=REDOC_JS.url(static),
        redoc_favicon_url=SWAGGER_UI_FAVICON.url(static),
        with_google_fonts=False,
    )
    return _with_policy(page)

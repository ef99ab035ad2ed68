"""What routes need, as ``Annotated`` aliases, so a handler's signature reads as its list of needs::

    @router.post("/{incident_id}/dispatch")
    def dispatch(session: SessionDep, user: Annotated[User, require(Action.incident_dispatch)], ...): ...

- ``SessionDep``: one session per request in one transaction, committed when the handler (and the
  response's serialisation) ends without error, rolled back otherwise — before the response is sent,
  so a client never sees success for a write that failed to commit.
- ``CurrentUser`` / ``OptionalUser``: the caller, from ``Authorization: Bearer <jwt>``, an ``X-API-Key``
  header or an ``api_key`` query parameter (Open311 clients). Bad credentials are a 401 even where a
  user is optional: a client that sends a wrong key must hear about it.
- ``RequiredCredentials`` + ``user_for(session, credentials)``: the same, in two steps, for a hot route that
  does all its database work in one worker-thread hop: the credentials are checked on the event loop (a
  token's signature; 401 when absent or bad), the user is looked up in the route's own transaction.
- ``require(action)``: the current user, if their role may do ``action``; else 403.
- ``BBoxDep``, ``PageDep``: validated query parameters shared by every listing.
- ``forbid_extra_query``: a dependency that answers 422 to query parameters the route does not declare.

Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in a worker thread,
and each such hop costs more than the work itself. The user is looked up in the database on every request
(a disabled user is refused at once); only a token's signature check is remembered, per process, for the
token's own lifetime (see ``verified_subject``).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import Depends, Path, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, APIKeyQuery, OAuth2PasswordBearer
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from gis.errors import InvalidInput, Unauthenticated
from gis.layers import Layer
from gis.models import User
from gis.models.limits import INT4_MAX
from gis.people import permissions, security, users
from gis.people.permissions import Action
from gis.settings import Settings
from gis.spatial.bbox import BBox, parse_bbox
from gis.timespan import Timespan, parse_timespan

TOKEN_URL = "/api/v1/auth/token"
DEFAULT_PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 1000
# An offset costs the rows it skips: deeper pages are walked with a list's cursor, whose cost does not grow.
MAX_OFFSET = 100_000


# -- what the app holds: settings and the layer registry, built once at start --------------------------------
def get_settings_of_app(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_layers(request: Request) -> dict[str, Layer]:
    """The app's layer registry, built once in the lifespan (``gis.layers.registry``)."""
    layers: dict[str, Layer] = request.app.state.layers
    return layers


SettingsDep = Annotated[Settings, Depends(get_settings_of_app)]
LayersDep = Annotated[dict[str, Layer], Depends(get_layers)]


# -- the session ----------------------------------------------------------------------------------------
def get_session(request: Request) -> Iterator[Session]:
    sessions: sessionmaker[Session] = request.app.state.sessions
    with sessions() as session, session.begin():
        yield session


# scope="function": the commit runs when the handler returns, before the response goes out.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


# -- token settings -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenConfig:
    secret: str
    minutes: float


def token_config(settings: Settings) -> TokenConfig:
    """Signing secret and token lifetime: ``WANGGE_SECRET_KEY`` (else a random secret kept in
    ``state_dir/token_secret``, so tokens survive a restart) and ``WANGGE_TOKEN_MINUTES``."""
    configured = settings.secret_key.get_secret_value() if settings.secret_key else None
    secret = configured or security.persistent_secret(settings.state_dir / "token_secret")
    return TokenConfig(secret=secret, minutes=float(settings.token_minutes))


async def app_token_config(request: Request) -> TokenConfig:
    state = request.app.state
    if getattr(state, "token_config", None) is None:
        state.token_config = token_config(state.settings)
    config: TokenConfig = state.token_config
    return config


TokenConfigDep = Annotated[TokenConfig, Depends(app_token_config)]


# -- who is calling -------------------------------------------------------------------------------------
# auto_error=False: absent credentials are not an error until a route asks for CurrentUser.
bearer_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)
api_key_header_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="A per-user API key")
api_key_query_scheme = APIKeyQuery(name="api_key", auto_error=False, description="The same key, for Open311 clients")


@dataclass(frozen=True)
class Credentials:
    """What a caller presented, checked as far as it can be without the database: a token's verified
    subject, or an API key (whose owner only the database knows)."""

    user_id: int | None = None
    api_key: str | None = None


async def credentials(
    config: TokenConfigDep,
    token: Annotated[str | None, Depends(bearer_scheme)],
    header_key: Annotated[str | None, Depends(api_key_header_scheme)],
    query_key: Annotated[str | None, Depends(api_key_query_scheme)],
) -> Credentials | None:
    """The credentials sent, or None; a malformed, forged or expired token raises Unauthenticated here,
    before anything else is read. CPU only (a signature check), so it runs on the event loop."""
    if token:
        subject = verified_subject(token, config.secret)
        if not subject.isdigit():
            raise Unauthenticated("the access token is not valid")
        return Credentials(user_id=int(subject))
    key = header_key or query_key
    if key:
        return Credentials(api_key=key)
    return None


CredentialsDep = Annotated[Credentials | None, Depends(credentials)]


# Tokens whose signature was checked, with the window they are valid in: a phone sends the same token with
# every request, and checking an HMAC signature costs more than the rest of reading the credentials. A hit
# needs the very same token string (signature included) and secret, inside the token's own [iat, exp)
# window; anything else is checked in full, which also words the refusal. Only the signature check is
# remembered: whether the user is still active is asked of the database on every request.
_VERIFIED: dict[tuple[str, str], tuple[str, float, float]] = {}
_VERIFIED_MAX = 4096


def verified_subject(token: str, secret: str) -> str:
    """``security.token_subject`` (Unauthenticated for a malformed, forged or expired token), remembered
    per process for the token's lifetime."""
    known = _VERIFIED.get((secret, token))
    if known is not None and known[1] <= time.time() < known[2]:
        return known[0]
    subject = security.token_subject(token, secret=secret)
    claims = orjson.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))  # verified just now
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[(secret, token)] = (subject, float(claims["iat"]), float(claims["exp"]))
    return subject

AUTHENTICATION_REQUIRED = (
    f"authentication required: send 'Authorization: Bearer <token>' (POST {TOKEN_URL}) or an 'X-API-Key' header"
)


async def required_credentials(given: CredentialsDep) -> Credentials:
    """The credentials sent; Unauthenticated when there are none (for routes that look the user up
    themselves, with :func:`user_for`, in the same worker thread as the rest of their database work)."""
    if given is None:
        raise Unauthenticated(AUTHENTICATION_REQUIRED)
    return given


RequiredCredentials = Annotated[Credentials, Depends(required_credentials)]


def user_for(session: Session, given: Credentials | None) -> User | None:
    """The active user behind ``given`` (None for None), looked up now, in ``session``'s transaction:
    Unauthenticated when the user was disabled or deleted since the token was issued, or the key is
    unknown or revoked. Never cached across requests, so disabling a user takes effect at once."""
    if given is None:
        return None
    if given.user_id is not None:
        return users.active_user(session, given.user_id)
    assert given.api_key is not None
    return users.user_for_api_key(session, given.api_key)


def optional_user(session: SessionDep, given: CredentialsDep) -> User | None:
    """The caller, or None when no credentials were sent; invalid credentials raise Unauthenticated."""
    return user_for(session, given)


OptionalUser = Annotated[User | None, Depends(optional_user)]


async def current_user(user: OptionalUser) -> User:
    if user is None:
        raise Unauthenticated(AUTHENTICATION_REQUIRED)
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require(action: Action) -> Any:
    """A dependency giving the current user if their role may do ``action`` (else 403 naming both).

    Use as a parameter, ``user: Annotated[User, require(Action.incident_close)]``, or in a decorator's
    ``dependencies=[require(...)]`` when the handler does not need the user."""

    async def allowed_user(user: CurrentUser) -> User:
        permissions.require(user, action)
        return user

    allowed_user.__name__ = f"require_{action.name}"
    return Depends(allowed_user)


# -- common query parameters ----------------------------------------------------------------------------
def _query_error(name: str, message: str, value: object, kind: str = "value_error") -> RequestValidationError:
    # FastAPI's own shape, so clients parse one kind of 422.
    return RequestValidationError([{"type": kind, "loc": ("query", name), "msg": message, "input": value}])


async def bbox_param(
    bbox: Annotated[
        str | None,
        Query(description="minLon,minLat,maxLon,maxLat in EPSG:4326", examples=["109.70,28.25,109.76,28.30"]),
    ] = None,
) -> BBox | None:
    try:
        return parse_bbox(bbox)
    except InvalidInput as exc:
        raise _query_error("bbox", str(exc).removeprefix("bbox: "), bbox) from None


BBoxDep = Annotated[BBox | None, Depends(bbox_param)]


async def timespan_param(
    datetime_: Annotated[
        str | None,
        Query(alias="datetime", description="An instant or interval, RFC 3339 (.. for an open end): features whose "
              "time lies in it, for layers with a time field", examples=["2026-01-01T00:00:00Z/.."]),
    ] = None,
) -> Timespan | None:
    try:
        return parse_timespan(datetime_)
    except InvalidInput as exc:
        raise _query_error("datetime", str(exc).removeprefix("datetime: "), datetime_) from None


TimespanDep = Annotated[Timespan | None, Depends(timespan_param)]


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT, description="Items per page")] = DEFAULT_PAGE_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip (deeper: next_cursor)")] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(page_params)]


# -- unknown query parameters ---------------------------------------------------------------------------
def declared_query_names(dependant: Dependant) -> set[str]:
    """Every query parameter a route (with all its dependencies) reads, under the names clients send."""
    names: set[str] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        for field in current.query_params:
            annotation = field.field_info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):  # a query parameter model
                names.update(info.alias or name for name, info in annotation.model_fields.items())
            else:
                names.add(field.alias)
        if isinstance(current.call, APIKeyQuery):
            names.add(current.call.model.name)
        pending.extend(current.dependencies)
    return names


async def forbid_extra_query(request: Request) -> None:
    """Answer 422 naming any query parameter the matched route does not declare (a typo such as
    ``?limt=5`` must not silently return the default page).

    Add it to a router, ``APIRouter(..., dependencies=[Depends(forbid_extra_query)])``, or to one route.
    Leave it off routes whose protocol tolerates unknown parameters."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = declared_query_names(route.dependant)
    unknown = [name for name in dict.fromkeys(request.query_params.keys()) if name not in allowed]
    if unknown:
        takes = f"this endpoint takes: {', '.join(sorted(allowed))}" if allowed else "this endpoint takes none"
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name),
                    "msg": f"unknown query parameter {name!r}; {takes}",
                    "input": request.query_params.get(name),
                }
                for name in unknown
            ]
        )


# -- ids ------------------------------------------------------------------------------------------------------
# One validated type for every id a client sends, so that an id beyond the column's type (2^31 and up), a
# negative one or non-ASCII digits (``²``, ``١٢``) is a 422 naming the parameter, never a database error.
Id = Annotated[int, Path(ge=1, le=INT4_MAX, description="A positive integer id")]
"""An integer id in a path (``/facilities/{facility_id}``)."""

IdQuery = Annotated[int | None, Query(ge=1, le=INT4_MAX, description="A positive integer id")]
"""An optional integer id in a query (``?team_id=3``)."""

IdField = Annotated[int, Field(ge=1, le=INT4_MAX)]
"""An integer id in a request body (``photo_ids``, ``team_id``)."""

INCIDENT_REF_PATTERN = r"^(?:[0-9]{1,10}|[A-Za-z][A-Za-z0-9]{0,15}-[0-9]{4}-[0-9]{1,12})$"
IncidentRef = Annotated[str, Path(
    pattern=INCIDENT_REF_PATTERN, max_length=40,
    description="The case's id (ASCII digits) or its public id (JS-2026-000123)", examples=["JS-2026-000123"],
)]
"""A case named in a path: its id or its public id; anything else is a 422 naming ``ref``."""

"""Log-in (OAuth2 password flow → a bearer token) and "who am I"."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from api.deps import CurrentUser, SessionDep, TokenConfigDep, forbid_extra_query
from api.throttle import LoginThrottle
from gis.errors import Forbidden, Unauthenticated
from gis.people import permissions, security, users

router = APIRouter(prefix="/api/v1", tags=["auth"], dependencies=[Depends(forbid_extra_query)])


class TokenRead(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int  # seconds


class TeamRef(BaseModel):
    id: int
    name: str


class MeRead(BaseModel):
    username: str
    display_name: str
    phone: str | None
    role: str
    team: TeamRef | None
    community_code: str | None
    cells: list[str]  # grid cells the user patrols
    actions: list[str]  # what the user's role may do (see gis.people.permissions.Action)


class PasswordChange(BaseModel):
    current_password: str
    new_password: str = Field(min_length=users.MIN_PASSWORD_LENGTH)


class LoginBody(BaseModel):
    """A log-in, as an OAuth2 password form (``grant_type=password&username=…&password=…``) or as JSON."""

    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)
    grant_type: Literal["password"] | None = None


_FORM = "application/x-www-form-urlencoded"
_LOGIN_BODY: dict[str, object] = {
    "required": True,
    "content": {
        _FORM: {"schema": LoginBody.model_json_schema()},
        "application/json": {"schema": LoginBody.model_json_schema()},
    },
}


async def login_body(request: Request) -> LoginBody:
    """The credentials of a log-in, from JSON when the request says it is JSON, else from the form.

    OAuth2 clients (Swagger UI's "Authorize") send the form; scripts and pages often send JSON, which
    FastAPI's ``OAuth2PasswordRequestForm`` answered with a bare 422. Both go through one model, so a
    missing field is the same 422 naming ``body.password`` either way."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        try:
            raw: object = await request.json()
        except ValueError:
            raise RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error",
                                           "input": None}]) from None
    else:
        raw = dict((await request.form()).items())
    try:
        return LoginBody.model_validate(raw)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        ) from None


@router.post("/auth/token", operation_id="auth_token", summary="Log in: trade a username and password for a token",
             openapi_extra={"requestBody": _LOGIN_BODY})
def login(
    request: Request,
    session: SessionDep,
    config: TokenConfigDep,
    form: Annotated[LoginBody, Depends(login_body)],
) -> TokenRead:
    throttle = login_throttle(request)
    account, address = form.username.strip().lower(), request.client.host if request.client else None
    throttle.check(account, address)  # before the password is looked at: 429 whatever it is
    try:
        user = users.authenticate(session, form.username, form.password)
    except Unauthenticated:
        throttle.failed(account, address)
        raise
    throttle.succeeded(account)
    token = security.create_access_token(str(user.id), secret=config.secret, minutes=config.minutes)
    return TokenRead(access_token=token.token, expires_in=token.expires_in)


def login_throttle(request: Request) -> LoginThrottle:
    state = request.app.state
    if getattr(state, "login_throttle", None) is None:
        state.login_throttle = LoginThrottle()
    throttle: LoginThrottle = state.login_throttle
    return throttle


@router.get("/me", operation_id="me", summary="The calling user, their team, cells and permitted actions")
def me(session: SessionDep, user: CurrentUser) -> MeRead:
    return MeRead(
        username=user.username,
        display_name=user.display_name,
        phone=user.phone,
        role=user.role,
        team=TeamRef(id=user.team.id, name=user.team.name) if user.team else None,
        community_code=user.community_code,
        cells=users.user_cell_codes(session, user),
        actions=[str(a) for a in permissions.allowed_actions(user)],
    )


@router.post("/me/password", operation_id="change_password", status_code=status.HTTP_204_NO_CONTENT,
             summary="Change one's own password (the current one is asked again)")
def change_password(session: SessionDep, user: CurrentUser, change: PasswordChange) -> None:
    # Asking the current password again keeps a stolen token or key from taking over the account.
    # 403, not 401: the caller is authenticated, and a 401 would make clients drop a valid token.
    if not security.verify_password(change.current_password, user.password_hash):
        raise Forbidden("the current password is wrong")
    users.set_password(session, user, change.new_password)

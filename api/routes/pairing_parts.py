"""The unit's pairings (结对共建) on the shared-facility page (``/sharing``): a unit manager pairs their unit with
a community (since when, what the unit commits to) and ends a pairing — through ``gis.facilities.service``'s
``pair`` and ``unpair``, the same functions as the JSON API (``PUT``/``DELETE /api/v1/units/{id}/pairings/…``).

Each answer is the list part again (``api.routes.facility_parts``), saying what was done.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse

from api.deps import CurrentUser, SessionDep
from api.routes.facility_parts import community_names, facility_list_part
from gis.errors import InvalidInput
from gis.facilities import service as facilities

router = APIRouter(prefix="/app/units", include_in_schema=False)


def _since(text: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"since: not a date (YYYY-MM-DD): {text!r}") from None


@router.post("/{unit_id}/pairings", response_class=HTMLResponse)
def pair(unit_id: int, session: SessionDep, user: CurrentUser,
         community_code: Annotated[str, Form(max_length=40)],
         since: Annotated[str, Form(max_length=10)] = "",
         commitment: Annotated[str, Form(max_length=2000)] = "") -> HTMLResponse:
    """Pair the unit with a community, or change the pairing's date and commitment."""
    unit = facilities.get_unit_or_raise(session, unit_id)
    facilities.require_manages(session, user, unit.id)
    code = community_code.strip()
    facilities.pair(session, unit=unit, community_code=code, since=_since(since),
                    commitment=commitment.strip() or None)
    session.expire(unit, ["pairings"])
    name = community_names(session, {code}).get(code, code)
    return facility_list_part(session, user, f"{unit.name} 已与 {name} 结对共建")


@router.post("/{unit_id}/pairings/{community_code}/end", response_class=HTMLResponse)
def unpair(unit_id: int, community_code: str, session: SessionDep, user: CurrentUser) -> HTMLResponse:
    unit = facilities.get_unit_or_raise(session, unit_id)
    facilities.require_manages(session, user, unit.id)
    facilities.unpair(session, unit=unit, community_code=community_code)
    session.expire(unit, ["pairings"])
    name = community_names(session, {community_code}).get(community_code, community_code)
    return facility_list_part(session, user, f"{unit.name} 与 {name} 的结对已解除")

"""Who sees which incidents, and how much of each: the one visibility rule.

REST lists and reads, the Open311 facade, the map's GeoJSON, OGC API, tiles and exports all ask here. A caller
whose role may read incidents sees full cases within reach (grid workers: the cells they patrol; officers: their
team's jurisdiction; the centre: everywhere) and their own reports; one whose role may only read exports
(planners) gets the de-personalised view: no reporter, no free text, no address, no photos. Reporter details go
to the supervision centre and the reporter alone. Roles and reach themselves are ``gis.people.permissions``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from gis.incidents.query import IncidentFilter
from gis.layers.base import Layer
from gis.models import Incident, User
from gis.people import permissions
from gis.people.permissions import Action


def full_view(session: Session, user: User, incident: Incident) -> bool:
    """True: ``user`` reads the whole case; False: the de-personalised view. Forbidden when neither.

    The whole case needs ``incident.read`` and the case within the user's reach (or their own report); the
    de-personalised view needs ``export.read`` (planners)."""
    if permissions.can(user, Action.incident_read):
        if incident.reporter_id != user.id:
            permissions.require_read(session, user, incident.community_code, incident.cell_code)
        return True
    if permissions.can(user, Action.export_read):
        return False
    permissions.require(user, Action.incident_read)  # raises, naming the role and the action
    return False


def require_incident_reader(user: User) -> None:
    """Forbidden unless ``user``'s role reads incidents in some view (whole or de-personalised): a check of
    who is asking, made before any case is looked up, so that its answer tells nothing about a case."""
    if not (permissions.can(user, Action.incident_read) or permissions.can(user, Action.export_read)):
        permissions.require(user, Action.incident_read)  # raises, naming the role and the action


def list_scope(session: Session, user: User) -> tuple[IncidentFilter, bool]:
    """The part of every list filter that the caller's role imposes, and whether they get the full view."""
    if permissions.can(user, Action.incident_read):
        scope = permissions.read_scope(session, user)
        return IncidentFilter(within_communities=scope.communities, within_cells=scope.cells,
                              also_reported_by=None if scope.anywhere else user.id), True
    if permissions.can(user, Action.export_read):
        return IncidentFilter(), False
    permissions.require(user, Action.incident_read)
    return IncidentFilter(), False


def sees_reporter(user: User, incident: Incident) -> bool:
    return incident.reporter_id == user.id or permissions.can(user, Action.incident_read_all)


def reporter_of(session: Session, user: User, incident: Incident) -> User | None:
    """The reporter, when ``user`` may see who reported (the reporter themself, the centre)."""
    if incident.reporter_id is None or not sees_reporter(user, incident):
        return None
    return user if incident.reporter_id == user.id else session.get(User, incident.reporter_id)


def readable_layer(session: Session, user: User, layer: Layer) -> Layer:
    """``layer`` as ``user`` may read it, for every consumer of layers (OGC API, the layers API, tiles,
    exports): a layer of incidents or of their counts (``counts_incidents``) limited to the cases the caller
    may read — a grid worker's cells, an officer's jurisdiction, everywhere for the centre and planners — and
    Forbidden for a role that reads no incident; any other layer as it is. Checked before anything is read."""
    if not layer.counts_incidents:
        return layer
    scope, _ = list_scope(session, user)
    return layer.filtered(scope)

"""Whose cases an evaluation counts, and whether its rows may name people: the caller's rights.

The figures are read from the same scope as the incident lists (``gis.incidents.visibility``): an officer
evaluates their team's jurisdiction, community staff their community, a grid worker the cells they patrol,
the supervision centre everywhere. Planners (``export.read`` without ``incident.read``) evaluate everywhere,
de-personalised. Only roles that may see reporters (``incident.read_all``: the centre) get grid workers'
names in ``by=worker`` rows; everyone else gets rows without names or user ids.

Unlike a list, an evaluation does not add "and what I reported myself" outside the scope: a rank must
count the same cases for every row of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from gis.models import User
from gis.people import permissions
from gis.people.permissions import Action


@dataclass(frozen=True)
class EvaluationScope:
    """Cases within ``communities`` and ``cells`` (None: no limit on that); ``names_people``: worker names."""

    communities: frozenset[str] | None = None
    cells: frozenset[str] | None = None
    names_people: bool = False

    @classmethod
    def everywhere(cls, *, names_people: bool = True) -> EvaluationScope:
        """The whole city (the CLI run by an operator on the server, the weekly report)."""
        return cls(names_people=names_people)


def evaluation_scope(session: Session, user: User) -> EvaluationScope:
    """The scope of ``user``'s evaluations; Forbidden (naming role and action) for roles that read neither
    incidents nor exports."""
    if permissions.can(user, Action.incident_read):
        scope = permissions.read_scope(session, user)
        return EvaluationScope(scope.communities, scope.cells, permissions.can(user, Action.incident_read_all))
    if permissions.can(user, Action.export_read):
        return EvaluationScope(names_people=False)
    permissions.require(user, Action.incident_read)  # raises, naming the role and the action
    raise AssertionError("unreachable")  # pragma: no cover

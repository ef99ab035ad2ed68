"""Domain errors. They carry meaning, not HTTP statuses: ``api`` maps them in one table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


class WanggeError(Exception):
    """Base of every error Wangge raises on purpose; its message is meant for a person."""


class NotFound(WanggeError):
    pass


class Conflict(WanggeError):
    pass


class StaleVersion(Conflict):
    """The caller changed a row from an outdated copy (its version no longer matches); reload and retry."""


class Unauthenticated(WanggeError):
    """No credentials, or credentials that do not identify an active user (wrong password, bad token)."""


class Forbidden(WanggeError):
    """The user is known but may not do this; the message is the reason (role and action)."""


class OutsideJurisdiction(Forbidden):
    """The user may do this kind of thing, but not here (outside the team's communities)."""


class InvalidInput(WanggeError):
    """Input that cannot be used as given; the message names the field and the fix."""


class SetupError(WanggeError):
    """Something the machine lacks (a binary, a package); the message names the command that installs it."""


@dataclass(frozen=True)
class Problem:
    """One finding of a validation pass, tied to the feature it is about."""

    severity: str  # "error" | "warning"
    feature: str  # how a person finds the feature: its code, name or row number
    message: str
    fix: str = ""

    def __str__(self) -> str:
        tail = f" — fix: {self.fix}" if self.fix else ""
        return f"[{self.severity}] {self.feature}: {self.message}{tail}"


@dataclass
class ValidationFailed(WanggeError):
    """A validation pass found errors; nothing was written."""

    problems: Sequence[Problem] = field(default_factory=list)
    what: str = "input"

    def __post_init__(self) -> None:
        super().__init__(str(self))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def __str__(self) -> str:
        lines = [f"{self.what}: {len(self.errors)} error(s), nothing was written"]
        lines += [f"  {p}" for p in self.errors]
        return "\n".join(lines)

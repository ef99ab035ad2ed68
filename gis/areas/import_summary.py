"""What an import of areas did (boundaries or compounds): the counts and the warnings a person reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from gis.errors import Problem


@dataclass
class ImportSummary:
    """What an import did; ``str()`` gives the one line a person reads."""

    added: int = 0
    changed: int = 0
    unchanged: int = 0
    retired: int = 0
    warnings: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [f"{self.added} added", f"{self.changed} changed", f"{self.unchanged} unchanged"]
        if self.retired:
            parts.append(f"{self.retired} retired")
        if self.warnings:
            parts.append(f"{len(self.warnings)} warning(s)")
        return ", ".join(parts)

"""The progress protocol of long work (imports, grid builds, exports): gis reports, adapters draw.

A reporter is called as ``progress(stage, done, total)``; ``total`` may be None when unknown.
"""

from __future__ import annotations

from typing import Protocol


class ProgressReporter(Protocol):
    def __call__(self, stage: str, done: int, total: int | None = None, /) -> None: ...


def no_progress(stage: str, done: int, total: int | None = None, /) -> None:
    """The default reporter: says nothing."""

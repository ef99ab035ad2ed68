"""Field types every request body shares, so that input the store cannot hold is a 422 naming the field.

- ``Text``: a string without NUL (PostgreSQL's text cannot hold one; the driver would fail, a 500).
- ``Finite``: a finite number, not a boolean: NaN, ±Infinity and ``true`` (which Python counts as 1) are
  refused; an integer is taken as a number.
- ``Count``: a whole number from 0 to the largest ``integer`` column value.
- ``Moment``, ``ZonedMoment``: a date-time from 2000 to 2099: calendars and deadlines add days and hours to it,
  which beyond Python's years 1-9999 would overflow (a 500), and no booking or case lies outside.
Ids are ``api.deps.IdField``.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, FiniteFloat

from gis.models.limits import INT4_MAX


def _no_nul(value: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL; refuse it here, with the field's name, rather than fail in the driver.
    if value is not None and "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


def _a_number(value: object) -> object:
    # ``true`` is not a longitude: pydantic's lax mode would read it as 1.0.
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    # A NaN that reaches an error message would make the 422 body itself invalid JSON; spelled as text it
    # is still refused (FiniteFloat) and the error can quote it.
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


Finite = Annotated[FiniteFloat, BeforeValidator(_a_number)]
"""A finite float; NaN, ±Infinity and booleans are a 422 naming the field."""


def _not_a_boolean(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true or false")
    return value


Count = Annotated[int, BeforeValidator(_not_a_boolean), Field(ge=0, le=INT4_MAX)]
"""A whole number that fits the store's integer columns."""


YEARS = range(2000, 2100)


def _in_years(value: datetime) -> datetime:
    if value.year not in YEARS:
        raise ValueError(f"must lie in the years {YEARS.start}-{YEARS.stop - 1}")
    return value


Moment = Annotated[datetime, AfterValidator(_in_years)]
"""A date-time in the years 2000-2099 (without a zone where the route gives one, as bookings do)."""

ZonedMoment = Annotated[AwareDatetime, AfterValidator(_in_years)]
"""A date-time with a zone, in the years 2000-2099."""

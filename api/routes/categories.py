"""The incident taxonomy (GB/T 47678.5 matter types with the city's working-hour deadlines).

Public: a reporting form needs the list before anyone signs in, and the list holds no personal data.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import SessionDep, forbid_extra_query
from api.schemas.incidents import CategoryRead
from gis.incidents.categories import get_category, list_categories
from gis.models import Category

router = APIRouter(prefix="/api/v1/categories", tags=["categories"], dependencies=[Depends(forbid_extra_query)])


def category_read(category: Category) -> CategoryRead:
    return CategoryRead(
        code=category.code, major_code=category.major_code, major_name=category.major_name,
        name_zh=category.name_zh, name_en=category.name_en, deadline_hours=category.deadline_hours,
        after_photo_required=category.after_photo_required, active=category.active,
    )


@router.get("", operation_id="list_categories", summary="Incident categories, by code")
def list_all(
    session: SessionDep,
    include_inactive: Annotated[bool, Query(description="Also codes no longer used for new reports")] = False,
) -> list[CategoryRead]:
    return [category_read(c) for c in list_categories(session, include_inactive=include_inactive)]


@router.get("/{code}", operation_id="get_category", summary="One incident category")
def get_one(code: str, session: SessionDep) -> CategoryRead:
    return category_read(get_category(session, code))

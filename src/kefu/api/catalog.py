"""Configuration lists (read-only): case types and customer grades. Short lists, answered whole."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from kefu.cases.models import CaseType
from kefu.customers.models import Grade

from .common import ERRORS
from .pagination import Page

router = Router(tags=["configuration"])


class CaseTypeOut(Schema):
    id: int
    code: str
    name: str
    name_zh: str
    name_en: str
    is_complaint: bool
    is_active: bool


class GradeOut(Schema):
    id: int
    code: str
    name: str
    rank: int
    description: str


@router.get("/case-types", response={200: Page[CaseTypeOut], **ERRORS}, summary="List case types")
def list_case_types(request: HttpRequest):
    """Every case type in display order (the list is short, so it comes in one page)."""
    items = [{"id": t.pk, "code": t.code, "name": t.label, "name_zh": t.name, "name_en": t.name_en,
              "is_complaint": t.is_complaint, "is_active": t.is_active} for t in CaseType.objects.all()]
    return {"items": items, "next_cursor": None}


@router.get("/grades", response={200: Page[GradeOut], **ERRORS}, summary="List customer grades")
def list_grades(request: HttpRequest):
    """Every grade, most valuable first (one page)."""
    items = [{"id": g.pk, "code": g.code, "name": g.label, "rank": g.rank, "description": g.description}
             for g in Grade.objects.all()]
    return {"items": items, "next_cursor": None}

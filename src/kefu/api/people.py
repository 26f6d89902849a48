"""Teams and staff (read-only), and ``/users/me``."""

from __future__ import annotations

from typing import Literal

from django.db.models import Prefetch
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from kefu.people.models import Team, User

from .common import ERRORS, DepartmentRef, Id, PageParams, TeamRef, UserRef, get_or_404, user
from .pagination import Page, by_id

router = Router(tags=["people"])

Role = Literal[tuple(User.Role.values)]


class TeamOut(Schema):
    id: int
    name: str
    department: DepartmentRef
    lead: UserRef | None
    members: list[UserRef]
    is_active: bool


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    email: str
    role: str
    department: DepartmentRef | None
    teams: list[TeamRef]
    is_active: bool
    sees_all_cases: bool = Field(description="Managers and administrators see every case.")


class TeamFilters(PageParams):
    active: bool | None = None


class UserFilters(PageParams):
    team: Id | None = None
    role: Role | None = None
    active: bool | None = None


def _user_ref(u: User | None) -> dict | None:
    return {"id": u.pk, "username": u.username, "display_name": str(u)} if u else None


def _dept(d) -> dict | None:
    return {"id": d.pk, "code": d.code, "name": d.name} if d else None


def team_out(t: Team) -> dict:
    return {"id": t.pk, "name": t.name, "department": _dept(t.department), "lead": _user_ref(t.lead),
            "members": [_user_ref(m) for m in t.members.all()], "is_active": t.is_active}


def user_out(u: User) -> dict:
    return {"id": u.pk, "username": u.username, "display_name": str(u), "email": u.email, "role": u.role,
            "department": _dept(u.department), "teams": [{"id": t.pk, "name": t.name} for t in u.teams.all()],
            "is_active": u.is_active, "sees_all_cases": u.sees_everything}


def _teams_qs():
    return Team.objects.select_related("department", "lead").prefetch_related(
        Prefetch("members", queryset=User.objects.order_by("id")))


def _users_qs():
    return User.objects.select_related("department").prefetch_related(
        Prefetch("teams", queryset=Team.objects.order_by("name")))


@router.get("/teams", response={200: Page[TeamOut], **ERRORS}, summary="List teams")
def list_teams(request: HttpRequest, filters: Query[TeamFilters]):
    qs = _teams_qs()
    if filters.active is not None:
        qs = qs.filter(is_active=filters.active)
    rows, cursor = by_id(qs, "teams", filters.cursor, filters.limit)
    return {"items": [team_out(t) for t in rows], "next_cursor": cursor}


@router.get("/teams/{int:team_id}", response={200: TeamOut, **ERRORS}, summary="Read a team")
def get_team(request: HttpRequest, team_id: Id):
    return team_out(get_or_404(_teams_qs(), team_id, _("team")))


@router.get("/users", response={200: Page[UserOut], **ERRORS}, summary="List staff")
def list_users(request: HttpRequest, filters: Query[UserFilters]):
    qs = _users_qs()
    if filters.team is not None:
        qs = qs.filter(teams=filters.team)
    if filters.role is not None:
        qs = qs.filter(role=filters.role)
    if filters.active is not None:
        qs = qs.filter(is_active=filters.active)
    rows, cursor = by_id(qs, "users", filters.cursor, filters.limit)
    return {"items": [user_out(u) for u in rows], "next_cursor": cursor}


@router.get("/users/me", response={200: UserOut, **ERRORS}, summary="Who am I")
def me(request: HttpRequest):
    return user_out(_users_qs().get(pk=user(request).pk))


@router.get("/users/{int:user_id}", response={200: UserOut, **ERRORS}, summary="Read a staff member")
def get_user(request: HttpRequest, user_id: Id):
    return user_out(get_or_404(_users_qs(), user_id, _("user")))

"""Read helpers for cases. ``visible_cases`` is the one permission helper every list, page and search uses."""

from __future__ import annotations

from collections.abc import Callable, Collection

from django.db.models import Q, QuerySet

from kefu.core.errors import NotFound
from kefu.people.queries import team_ids_of

from .models import Case


def visible_cases(user, qs: QuerySet | None = None) -> QuerySet:
    qs = Case.objects.all() if qs is None else qs
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.sees_everything:
        return qs
    if user.department_id:
        # Involvement through the department is an M2M join; use a subquery so rows are not duplicated.
        ids = Case.departments.through.objects.filter(department_id=user.department_id).values("case_id")
        return qs.filter(Q(team_id__in=team_ids_of(user)) | Q(pk__in=ids))
    return qs.filter(team_id__in=team_ids_of(user))


def visible_case_scopes(user) -> list[Q] | None:
    """The cases ``visible_cases`` lets the user see, as disjoint parts that each follow an index: one
    part per team (``team_id = t``) and one for cases involving the user's department outside those
    teams. None means every case (nothing to split). Lists query each part (still through
    ``visible_cases``) and merge them, so no part needs the OR that keeps databases from using an index.
    Keep this in step with ``visible_cases``; a test checks that the parts add up to it."""
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    if user.sees_everything:
        return None
    teams = team_ids_of(user)
    scopes = [Q(team_id=t) for t in teams]
    if user.department_id:
        ids = Case.departments.through.objects.filter(department_id=user.department_id).values("case_id")
        scopes.append(Q(pk__in=ids) & ~Q(team_id__in=teams) if teams else Q(pk__in=ids))
    return scopes


def can_see(user, case: Case) -> bool:
    return _can_see(user, case.team_id, lambda: case.departments.filter(pk=user.department_id).exists())


def can_see_ids(user, team_id: int | None, department_ids: Collection[int]) -> bool:
    """``can_see`` for a case read as values: its team and the departments it involves."""
    return _can_see(user, team_id, lambda: user.department_id in department_ids)


def _can_see(user, team_id: int | None, involves_department: Callable[[], bool]) -> bool:
    if user.sees_everything:
        return True
    if team_id in team_ids_of(user):
        return True
    return bool(user.department_id) and involves_department()


def case_not_found(case_id: int) -> NotFound:
    """The answer for a case that does not exist and for one the user may not see: the same."""
    return NotFound(f"case {case_id} does not exist")


def get_visible_case(user, case_id: int, qs: QuerySet | None = None) -> Case:
    """The case, or NotFound if it does not exist or the user may not see it (the same answer for both)."""
    qs = Case.objects.all() if qs is None else qs
    case = qs.filter(pk=case_id).first()
    if case is None or not can_see(user, case):
        raise case_not_found(case_id)
    return case

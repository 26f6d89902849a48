"""The only write path for staff, departments and teams."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from kefu.core import events
from kefu.core.errors import DomainError

from .models import Department, Team, User


def create_department(actor, *, name: str, code: str, kind: str = Department.Kind.BACK) -> Department:
    if Department.objects.filter(code=code).exists():
        raise DomainError(f"a department with code {code!r} exists already", field="code")
    with transaction.atomic():
        dept = Department.objects.create(name=name, code=code, kind=kind)
        events.record("department.created", actor=actor, subject_type="department", subject_id=dept.pk,
                      data={"name": name, "code": code})
    return dept


def create_team(actor, *, name: str, department: Department, lead: User | None = None,
                members: Iterable[User] = ()) -> Team:
    if Team.objects.filter(name=name).exists():
        raise DomainError(f"a team named {name!r} exists already", field="name")
    with transaction.atomic():
        team = Team.objects.create(name=name, department=department, lead=lead)
        members = list(members)
        if lead and lead not in members:
            members.append(lead)
        team.members.set(members)
        events.record("team.created", actor=actor, subject_type="team", subject_id=team.pk,
                      data={"name": name, "members": [m.pk for m in members]})
    return team


def set_team_members(actor, team: Team, members: Iterable[User]) -> None:
    members = list(members)
    with transaction.atomic():
        old = sorted(team.members.values_list("pk", flat=True))
        team.members.set(members)
        new = sorted(m.pk for m in members)
        if old != new:
            events.record("team.members_changed", actor=actor, subject_type="team", subject_id=team.pk,
                          field="members", old=old, new=new)


def create_staff(actor, *, username: str, password: str | None, role: str = User.Role.AGENT,
                 display_name: str = "", email: str = "", department: Department | None = None,
                 teams: Iterable[Team] = (), check_password: bool = True) -> User:
    username = (username or "").strip()
    if not username:
        raise DomainError("a username is required", field="username")
    if role not in User.Role.values:
        raise DomainError(f"unknown role {role!r}; choose one of {', '.join(User.Role.values)}", field="role")
    if User.objects.filter(username=username).exists():
        raise DomainError(f"the username {username!r} is taken", field="username", code="conflict")
    user = User(username=username, role=role, display_name=display_name, email=email, department=department)
    user.is_staff = role in (User.Role.MANAGER, User.Role.ADMIN)
    user.is_superuser = role == User.Role.ADMIN
    if password:
        if check_password:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise DomainError(" ".join(exc.messages), field="password") from exc
        user.set_password(password)
    else:
        user.set_unusable_password()
    with transaction.atomic():
        user.save()
        if teams:
            user.teams.set(teams)
        events.record("staff.created", actor=actor, subject_type="user", subject_id=user.pk,
                      data={"username": username, "role": role})
    return user

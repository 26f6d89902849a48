"""The only write path for staff, departments and teams.

Who may change a member of staff: the system (``actor`` None, e.g. the command line) and administrators
change anyone; a manager changes staff who are not administrators (and cannot make anyone one); everybody
may change their own name, e-mail address, phone and password. Nobody changes their own role or
deactivates themselves, and at least one active administrator always remains.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kefu.core import events
from kefu.core.errors import DomainError, Forbidden

from .models import Department, Team, User

STAFF_FIELDS = ("display_name", "email", "phone", "role", "department", "is_active", "teams")
SELF_SERVICE_FIELDS = frozenset({"display_name", "email", "phone", "password"})
TEAM_FIELDS = ("name", "department", "lead", "is_active")
DEPARTMENT_FIELDS = ("name", "kind", "parent")


def _max_length(model, field: str) -> int:
    return model._meta.get_field(field).max_length


def _text(value, field: str, model, *, required: bool = False, label: str = "") -> str:
    """A stripped text value, checked against the model field's length."""
    value = (value or "").strip()
    if required and not value:
        raise DomainError(_("%(field)s cannot be empty") % {"field": label or field}, field=field)
    limit = _max_length(model, field)
    if len(value) > limit:
        raise DomainError(_("%(field)s is longer than %(max)d characters") % {"field": label or field,
                                                                             "max": limit}, field=field)
    return value


def _unknown(changes: dict, allowed: Iterable[str]) -> None:
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise DomainError(_("these fields cannot be changed here: %(fields)s; the fields that can are "
                            "%(allowed)s") % {"fields": ", ".join(unknown), "allowed": ", ".join(allowed)})


def is_administrator(user) -> bool:
    return getattr(user, "role", None) == User.Role.ADMIN or bool(getattr(user, "is_superuser", False))


def _role_flags(role: str) -> dict[str, bool]:
    """Managers and administrators may use the admin site; administrators have every permission."""
    return {"is_staff": role in (User.Role.MANAGER, User.Role.ADMIN), "is_superuser": role == User.Role.ADMIN}


# --- departments ------------------------------------------------------------------------------------------

def _check_parent(dept: Department | None, parent: Department | None) -> None:
    """``parent`` may hold ``dept`` unless it is ``dept`` or lies inside it."""
    if parent is None:
        return
    if not isinstance(parent, Department):
        raise DomainError(_("the parent must be a department"), field="parent")
    if dept is None or dept.pk is None:
        return
    seen = set()
    node = parent
    while node is not None and node.pk not in seen:
        if node.pk == dept.pk:
            if parent.pk == dept.pk:
                raise DomainError(_("a department cannot be its own parent"), field="parent")
            raise DomainError(_("%(parent)s lies inside %(department)s, so it cannot be its parent")
                              % {"parent": parent.name, "department": dept.name}, field="parent")
        seen.add(node.pk)
        node = Department.objects.filter(pk=node.parent_id).first() if node.parent_id else None


def _check_department_name(name, dept: Department | None = None) -> str:
    name = _text(name, "name", Department, required=True, label=_("the name"))
    if Department.objects.filter(name=name).exclude(pk=dept.pk if dept else None).exists():
        raise DomainError(_("a department named %(name)s exists already") % {"name": name}, field="name",
                          code="conflict")
    return name


def create_department(actor, *, name: str, code: str, kind: str = Department.Kind.BACK,
                      parent: Department | None = None) -> Department:
    name = _check_department_name(name)
    code = (code or "").strip()
    if not code:
        raise DomainError(_("a department needs a code"), field="code")
    if Department.objects.filter(code=code).exists():
        raise DomainError(_("a department with code %(code)s exists already") % {"code": code}, field="code",
                          code="conflict")
    if kind not in Department.Kind.values:
        raise DomainError(_("unknown department kind %(kind)s") % {"kind": kind}, field="kind")
    _check_parent(None, parent)
    with transaction.atomic():
        dept = Department.objects.create(name=name, code=code, kind=kind, parent=parent)
        events.record("department.created", actor=actor, subject_type="department", subject_id=dept.pk,
                      data={"name": name, "code": code, "kind": kind, "parent": parent})
    return dept


def update_department(actor, dept: Department, **changes) -> Department:
    """Change a department's name, kind or parent department (never one inside itself). The code does not
    change: it is how other systems and the demo data refer to the department."""
    _unknown(changes, DEPARTMENT_FIELDS)
    if "name" in changes:
        changes["name"] = _check_department_name(changes["name"], dept)
    if "kind" in changes and changes["kind"] not in Department.Kind.values:
        raise DomainError(_("unknown department kind %(kind)s") % {"kind": changes["kind"]}, field="kind")
    if "parent" in changes:
        _check_parent(dept, changes["parent"])
    now = timezone.now()
    with transaction.atomic():
        log = events.apply_changes("department.updated", dept, changes, actor=actor, subject_type="department",
                                   at=now)
        if log:
            dept.save(update_fields=[e.field for e in log])
            events.record_many(log)
    return dept


# --- teams ------------------------------------------------------------------------------------------------

def _check_team_name(name, team: Team | None = None) -> str:
    name = _text(name, "name", Team, required=True, label=_("the name"))
    if Team.objects.filter(name=name).exclude(pk=team.pk if team else None).exists():
        raise DomainError(_("a team named %(name)s exists already") % {"name": name}, field="name",
                          code="conflict")
    return name


def _check_lead(lead: User | None) -> None:
    if lead is None:
        return
    if not isinstance(lead, User):
        raise DomainError(_("the team lead must be a member of staff"), field="lead")
    if not lead.is_active:
        raise DomainError(_("%(name)s is deactivated and cannot lead a team") % {"name": lead}, field="lead")


def _check_new_members(team: Team | None, members: list[User]) -> None:
    """Deactivated staff stay in their teams, but none joins one."""
    current = set(team.members.values_list("pk", flat=True)) if team is not None and team.pk else set()
    inactive = [str(m) for m in members if m.pk not in current and not m.is_active]
    if inactive:
        raise DomainError(_("deactivated staff cannot join a team: %(names)s") % {"names": ", ".join(inactive)},
                          field="members")


def create_team(actor, *, name: str, department: Department, lead: User | None = None,
                members: Iterable[User] = ()) -> Team:
    name = _check_team_name(name)
    if not isinstance(department, Department):
        raise DomainError(_("a team belongs to a department"), field="department")
    _check_lead(lead)
    members = list(members)
    if lead and lead not in members:
        members.append(lead)
    _check_new_members(None, members)
    with transaction.atomic():
        team = Team.objects.create(name=name, department=department, lead=lead)
        team.members.set(members)
        events.record("team.created", actor=actor, subject_type="team", subject_id=team.pk,
                      data={"name": name, "department": department, "lead": lead,
                            "members": [m.pk for m in members]})
    return team


def _members_event(actor, team: Team, old: list[int], new: list[int], at=None):
    return events.build("team.members_changed", actor=actor, subject_type="team", subject_id=team.pk,
                        field="members", old=old, new=new, at=at)


def set_team_members(actor, team: Team, members: Iterable[User]) -> None:
    """Make ``members`` the team's members. The team lead is always one of them (as on creation)."""
    members = list(members)
    if team.lead_id and team.lead_id not in {m.pk for m in members}:
        members.append(team.lead)
    _check_new_members(team, members)
    with transaction.atomic():
        old = sorted(team.members.values_list("pk", flat=True))
        new = sorted({m.pk for m in members})
        if old != new:
            team.members.set(members)
            events.record_many([_members_event(actor, team, old, new)])


def open_case_count(team: Team) -> int:
    from kefu.cases.models import OPEN_STATUSES, Case

    return Case.objects.filter(team=team, status__in=OPEN_STATUSES).count()


def update_team(actor, team: Team, **changes) -> Team:
    """Rename a team, move it to another department, change its lead (who joins the members), or
    (de)activate it. A team that still has open cases is not deactivated: its cases would have no active
    team to answer them."""
    _unknown(changes, TEAM_FIELDS)
    if "name" in changes:
        changes["name"] = _check_team_name(changes["name"], team)
    if "department" in changes and not isinstance(changes["department"], Department):
        raise DomainError(_("a team belongs to a department"), field="department")
    if "lead" in changes:
        _check_lead(changes["lead"])
    if "is_active" in changes:
        changes["is_active"] = bool(changes["is_active"])
    now = timezone.now()
    with transaction.atomic():
        if changes.get("is_active") is False and team.is_active:
            Team.objects.select_for_update().filter(pk=team.pk).first()
            count = open_case_count(team)
            if count:
                raise DomainError(ngettext(
                    "%(team)s still has %(count)d open case; transfer it to another team or close it first",
                    "%(team)s still has %(count)d open cases; transfer them to another team or close them "
                    "first", count) % {"team": team.name, "count": count}, field="is_active")
        log = events.apply_changes("team.updated", team, changes, actor=actor, subject_type="team", at=now)
        if log:
            team.save(update_fields=[e.field for e in log])
            lead = changes.get("lead")
            if lead is not None and any(e.field == "lead" for e in log) \
                    and not team.members.filter(pk=lead.pk).exists():
                old = sorted(team.members.values_list("pk", flat=True))
                team.members.add(lead)
                log.append(_members_event(actor, team, old, sorted([*old, lead.pk]), at=now))
            events.record_many(log)
    return team


# --- staff ------------------------------------------------------------------------------------------------

def _check_may_change(actor, user: User, fields: Iterable[str], *, new_role: str | None = None) -> None:
    fields = set(fields)
    if not fields or actor is None or is_administrator(actor):
        return
    if getattr(actor, "is_customer", False):
        raise Forbidden(_("only staff can change staff accounts"))
    if actor.pk == user.pk and fields <= SELF_SERVICE_FIELDS:
        return
    if getattr(actor, "role", None) == User.Role.MANAGER and not is_administrator(user) \
            and new_role != User.Role.ADMIN:
        return
    if is_administrator(user) or new_role == User.Role.ADMIN:
        raise Forbidden(_("only an administrator can change an administrator's account or make someone "
                          "an administrator"))
    raise Forbidden(_("only a manager or an administrator can change another member of staff"))


def _check_an_administrator_remains(user: User, field: str) -> None:
    """Inside the transaction: some active administrator other than ``user`` exists. The rows of every
    active administrator are locked first, so two administrators cannot demote each other at once."""
    admins = list(User.objects.select_for_update().filter(Q(role=User.Role.ADMIN) | Q(is_superuser=True),
                                                          is_active=True).order_by("pk").values_list("pk", flat=True))
    if not [pk for pk in admins if pk != user.pk]:
        raise DomainError(_("%(name)s is the last active administrator; make another member of staff an "
                            "administrator first") % {"name": user}, field=field, code="last_administrator")


def _clean_staff_changes(user: User, changes: dict) -> dict:
    if "display_name" in changes:
        changes["display_name"] = _text(changes["display_name"], "display_name", User, label=_("the name"))
    if "email" in changes:
        changes["email"] = _text(changes["email"], "email", User, label=_("the e-mail address"))
        if changes["email"]:
            try:
                validate_email(changes["email"])
            except ValidationError as exc:
                raise DomainError(_("%(email)s is not an e-mail address") % {"email": changes["email"]},
                                  field="email") from exc
    if "phone" in changes:
        changes["phone"] = _text(changes["phone"], "phone", User, label=_("the phone number"))
    if "role" in changes and changes["role"] not in User.Role.values:
        raise DomainError(_("unknown role %(role)s; choose one of %(roles)s")
                          % {"role": changes["role"], "roles": ", ".join(User.Role.values)}, field="role")
    if changes.get("department") is not None and not isinstance(changes["department"], Department):
        raise DomainError(_("the department must be a department"), field="department")
    if "is_active" in changes:
        changes["is_active"] = bool(changes["is_active"])
    return changes


def _teams_change(user: User, teams) -> tuple[list[int], list[Team]] | None:
    """(old team ids, new teams) if the teams change, else None."""
    teams = list(dict.fromkeys(teams))
    if any(not isinstance(t, Team) for t in teams):
        raise DomainError(_("teams must be teams"), field="teams")
    old = sorted(user.teams.values_list("pk", flat=True))
    new = sorted(t.pk for t in teams)
    if old == new:
        return None
    joining = [t.name for t in teams if t.pk not in old and not t.is_active]
    if joining:
        raise DomainError(_("nobody joins a deactivated team: %(teams)s") % {"teams": ", ".join(joining)},
                          field="teams")
    led = list(Team.objects.filter(lead=user).exclude(pk__in=new).values_list("name", flat=True))
    if led:
        raise DomainError(_("%(name)s leads %(teams)s; choose another team lead there first")
                          % {"name": user, "teams": ", ".join(led)}, field="teams")
    return old, teams


def update_staff(actor, user: User, **changes) -> User:
    """Change a member of staff: display_name, email, phone, role, department, is_active, teams.

    A role change sets ``is_staff``/``is_superuser`` as :func:`create_staff` does. A deactivated member of
    staff can no longer sign in (Django refuses inactive accounts, and their sessions end) nor use their API
    tokens (kefu.api.auth refuses the tokens of inactive accounts); they keep their teams and their cases.
    One ``staff.updated`` event per changed field."""
    _unknown(changes, STAFF_FIELDS)
    teams = changes.pop("teams", None)
    changes = _clean_staff_changes(user, changes)
    changed = {field: value for field, value in changes.items() if getattr(user, field) != value}
    team_change = _teams_change(user, teams) if teams is not None else None
    fields = set(changed) | ({"teams"} if team_change else set())
    _check_may_change(actor, user, fields, new_role=changed.get("role"))
    loses_admin = is_administrator(user) and user.is_active and (
        ("role" in changed and changed["role"] != User.Role.ADMIN) or changed.get("is_active") is False)
    is_self = actor is not None and getattr(actor, "pk", None) == user.pk and not getattr(actor, "is_customer",
                                                                                           False)
    now = timezone.now()
    with transaction.atomic():
        if loses_admin:
            _check_an_administrator_remains(user, "role" if "role" in changed else "is_active")
        if is_self and "role" in changed:
            raise DomainError(_("you cannot change your own role; ask another administrator"), field="role")
        if is_self and changed.get("is_active") is False:
            raise DomainError(_("you cannot deactivate your own account; ask another administrator"),
                              field="is_active")
        log = []
        for field, value in changed.items():
            log.append(events.build("staff.updated", actor=actor, subject_type="user", subject_id=user.pk,
                                    field=field, old=getattr(user, field), new=value, at=now))
            setattr(user, field, value)
        update_fields = list(changed)
        if "role" in changed:
            for flag, value in _role_flags(user.role).items():
                setattr(user, flag, value)
                update_fields.append(flag)
        if update_fields:
            user.save(update_fields=update_fields)
        if team_change:
            old, new_teams = team_change
            user.teams.set(new_teams)
            log.append(events.build("staff.updated", actor=actor, subject_type="user", subject_id=user.pk,
                                    field="teams", old=old, new=sorted(t.pk for t in new_teams), at=now))
        events.record_many(log)
    return user


def set_password(actor, user: User, password: str) -> User:
    """Set a new password, checked by the password validators (AUTH_PASSWORD_VALIDATORS). The event says
    who set it and when, never the password."""
    _check_may_change(actor, user, {"password"})
    if not password:
        raise DomainError(_("the password cannot be empty"), field="password")
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field="password") from exc
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        events.record("staff.password_set", actor=actor, subject_type="user", subject_id=user.pk)
    return user


def create_staff(actor, *, username: str, password: str | None, role: str = User.Role.AGENT,
                 display_name: str = "", email: str = "", department: Department | None = None,
                 teams: Iterable[Team] = (), check_password: bool = True) -> User:
    username = (username or "").strip()
    if not username:
        raise DomainError(_("a username is required"), field="username")
    if role not in User.Role.values:
        raise DomainError(_("unknown role %(role)s; choose one of %(roles)s")
                          % {"role": role, "roles": ", ".join(User.Role.values)}, field="role")
    if User.objects.filter(username=username).exists():
        raise DomainError(_("the username %(username)s is taken") % {"username": username}, field="username",
                          code="conflict")
    user = User(username=username, role=role, display_name=display_name, email=email, department=department,
                **_role_flags(role))
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

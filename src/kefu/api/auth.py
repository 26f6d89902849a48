"""API authentication: personal API tokens (``Authorization: Bearer kefu_…``) or the Django session.

Only active staff users are let in. A token costs one query: the token row joined with the few fields of
its user that requests need and the user's teams (which every visibility check asks for); the user's
other fields load if something uses them. ``last_used_at`` is written at most once a minute. Session
requests that change something must carry the CSRF token (``X-CSRFToken`` header), as the web pages do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from kefu.core import tokens
from kefu.core.models import ApiToken, hash_token
from kefu.core.prepared import PreparedQuery
from kefu.people.models import User
from kefu.people.queries import remember_team_ids

from .errors import CsrfFailed, NotAuthenticated

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


@dataclass(slots=True)
class TokenRow:
    """What authentication reads of an API token (``tokens.note_used`` updates ``last_used_at``)."""

    pk: int
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    user: User


# The user's fields that requests need, in the model's order (as ``Model.from_db`` takes them); the others
# are deferred and load if something uses them.
_USER_FIELDS = tuple(f.attname for f in User._meta.concrete_fields if f.attname in {
    "id", "username", "display_name", "role", "is_superuser", "is_staff", "is_active", "department_id"})
# One row per team of the user (one with team None if they have none).
_LOOKUP = PreparedQuery(lambda digest: ApiToken.objects.filter(digest=digest).values_list(
    "id", "last_used_at", "expires_at", "revoked_at", *(f"user__{f.removesuffix('_id')}" for f in _USER_FIELDS),
    "user__teams__id"), str)


def lookup_token(raw: str) -> TokenRow | None:
    """The token for a raw token string with its user (None if unknown), in one query. The user comes
    with their team ids for ``team_ids_of``. The caller checks revocation, expiry and whether the user is
    active."""
    if not raw.startswith(tokens.TOKEN_PREFIX) or len(raw) > 200:
        return None
    rows = _LOOKUP.rows(hash_token(raw))
    if not rows:
        return None
    user = User.from_db(DEFAULT_DB_ALIAS, _USER_FIELDS, rows[0][4:-1])
    remember_team_ids(user, [row[-1] for row in rows if row[-1] is not None])
    return TokenRow(*rows[0][:4], user=user)


class TokenAuth(HttpBearer):
    """A personal API token. A request that sends an Authorization header is judged by it alone: a bad
    token is a 401 with the reason, never a fall-back to the session."""

    def __call__(self, request: HttpRequest):
        header = request.META.get("HTTP_AUTHORIZATION")  # request.headers would copy every header first
        if not header:
            return None
        scheme, _sep, raw = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise NotAuthenticated(_("the Authorization header must be 'Bearer <token>'"))
        return self.authenticate(request, raw.strip())

    def authenticate(self, request: HttpRequest, token: str):
        row = lookup_token(token)
        if row is None:
            raise NotAuthenticated(_("the API token is not valid"))
        now = timezone.now()
        if row.revoked_at is not None:
            raise NotAuthenticated(_("the API token was revoked"))
        if row.expires_at is not None and row.expires_at <= now:
            raise NotAuthenticated(_("the API token has expired"))
        if not row.user.is_active:
            raise NotAuthenticated(_("the account of this API token is disabled"))
        tokens.note_used(row, now)
        request.user = row.user
        request.api_token = row
        return row.user


class SessionAuth(APIKeyCookie):
    """The signed-in user of the web pages; unsafe methods need the CSRF token."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def __call__(self, request: HttpRequest):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not isinstance(user, User) or not user.is_active:
            return None
        if request.method not in SAFE_METHODS and not getattr(request, "_ninja_csrf_exempt", False):
            if check_csrf(request) is not None:
                raise CsrfFailed(_("CSRF check failed: send the csrftoken cookie's value in the "
                                   "X-CSRFToken header, or use an API token"))
        return user

    def authenticate(self, request: HttpRequest, key):  # the abstract hook; __call__ does the work
        return self(request)


token_auth = TokenAuth()
session_auth = SessionAuth()
AUTH = [token_auth, session_auth]

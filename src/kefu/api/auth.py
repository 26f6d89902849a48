"""API authentication: personal API tokens (``Authorization: Bearer kefu_…``) or the Django session.

Only active staff users are let in. A token costs one query (the token row joined with its user);
``last_used_at`` is written at most once a minute. Session requests that change something must carry
the CSRF token (``X-CSRFToken`` header), as the web pages do.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from kefu.core import tokens
from kefu.people.models import User

from .errors import CsrfFailed, NotAuthenticated

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


class TokenAuth(HttpBearer):
    """A personal API token. A request that sends an Authorization header is judged by it alone: a bad
    token is a 401 with the reason, never a fall-back to the session."""

    def __call__(self, request: HttpRequest):
        header = request.headers.get("Authorization")
        if not header:
            return None
        scheme, _sep, raw = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise NotAuthenticated(_("the Authorization header must be 'Bearer <token>'"))
        return self.authenticate(request, raw.strip())

    def authenticate(self, request: HttpRequest, token: str):
        row = tokens.lookup_token(token)
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

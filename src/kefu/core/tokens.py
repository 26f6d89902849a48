"""The only write path for personal API tokens: create, revoke, and note when a token was used.

A token is ``kefu_`` followed by 43 random URL-safe characters. Only its SHA-256 digest is stored
(``ApiToken.digest``); the raw token is returned once by :func:`create_token` and never again.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import events
from .errors import DomainError, Forbidden
from .models import ApiToken, hash_token

TOKEN_PREFIX = "kefu_"
PREFIX_LENGTH = 12  # "kefu_" and the first 7 random characters: enough to recognise a token in a list
NAME_MAX = ApiToken._meta.get_field("name").max_length
# last_used_at is written at most this often per token, so reads do not turn into writes.
USED_RESOLUTION = timedelta(minutes=1)


def _may_manage(actor, user) -> bool:
    return actor is None or actor.pk == user.pk or actor.is_superuser


def create_token(actor, user, name: str, expires_at=None) -> tuple[ApiToken, str]:
    """A new token for ``user``. Returns the row and the raw token, which is shown once.

    ``actor`` is the person creating it (themselves, or an administrator), or None for the command line."""
    name = (name or "").strip()
    if not name:
        raise DomainError(_("a token needs a name, so you can recognise it later"), field="name")
    if len(name) > NAME_MAX:
        raise DomainError(_("the token name is longer than %(max)d characters") % {"max": NAME_MAX},
                          field="name")
    if not getattr(user, "is_active", False):
        raise DomainError(_("tokens can only be created for active staff"), field="user")
    if not _may_manage(actor, user):
        raise Forbidden(_("you can only create tokens for yourself"))
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        raise DomainError(_("the expiry time must be in the future"), field="expires_at")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(user=user, name=name, prefix=raw[:PREFIX_LENGTH],
                                        digest=hash_token(raw), created_at=now, expires_at=expires_at)
        events.record("token.created", actor=actor, subject_type="api_token", subject_id=token.pk,
                      data={"user": user.pk, "name": name, "prefix": token.prefix,
                            "expires_at": expires_at}, at=now)
    return token, raw


def revoke_token(actor, token: ApiToken) -> ApiToken:
    """Revoke a token; it stops working at once. Revoking a revoked token changes nothing."""
    if not _may_manage(actor, token.user):
        raise Forbidden(_("you can only revoke your own tokens"))
    if token.revoked_at is not None:
        return token
    now = timezone.now()
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
        if updated:
            token.revoked_at = now
            events.record("token.revoked", actor=actor, subject_type="api_token", subject_id=token.pk,
                          data={"user": token.user_id, "name": token.name, "prefix": token.prefix}, at=now)
        else:
            token.refresh_from_db(fields=["revoked_at"])
    return token


def note_used(token: ApiToken, now=None) -> None:
    """Record that the token was used, at most once a minute (a conditional UPDATE, so concurrent
    requests write it once)."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).exclude(last_used_at__gt=now - USED_RESOLUTION).update(last_used_at=now)
    token.last_used_at = now

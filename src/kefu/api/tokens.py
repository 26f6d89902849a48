"""The signed-in user's own personal API tokens."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from kefu.core import tokens
from kefu.core.models import ApiToken

from . import idempotency
from .common import ERRORS, Id, In, PageParams, get_or_404, text, user
from .filters import since
from .pagination import Page, by_id

router = Router(tags=["tokens"])


class TokenOut(Schema):
    id: int
    name: str
    prefix: str = Field(description="The first characters of the token, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    is_active: bool


class NewTokenOut(TokenOut):
    token: str | None = Field(description="The token itself. Shown only in this answer: store it now. "
                                          "A replay of the request (same Idempotency-Key) answers null.")


class TokenCreate(In):
    name: text(100)
    expires_at: datetime | None = Field(None, description="When the token stops working (default: never).")


def token_out(t: ApiToken) -> dict:
    return {"id": t.pk, "name": t.name, "prefix": t.prefix, "created_at": t.created_at,
            "last_used_at": t.last_used_at, "expires_at": t.expires_at, "revoked_at": t.revoked_at,
            "is_active": t.is_active}


@router.get("", response={200: Page[TokenOut], **ERRORS}, summary="List my API tokens")
def list_tokens(request: HttpRequest, page: Query[PageParams]):
    """Your tokens, newest first (revoked ones included)."""
    rows, cursor = by_id(ApiToken.objects.filter(user=user(request)), "tokens", page.cursor, page.limit,
                         descending=True)
    return {"items": [token_out(t) for t in rows], "next_cursor": cursor}


@router.post("", response={201: NewTokenOut, **ERRORS}, summary="Create an API token")
def create_token(request: HttpRequest, payload: TokenCreate):
    """A new token for yourself. The answer carries the token once; only its digest is kept."""
    expires_at = since(payload.expires_at, "expires_at") if payload.expires_at is not None else None

    def run():
        token, raw = tokens.create_token(user(request), user(request), payload.name, expires_at=expires_at)
        return 201, {**token_out(token), "token": raw}

    return idempotency.create(request, run, secret_fields=("token",))


@router.delete("/{int:token_id}", response={204: None, **ERRORS}, summary="Revoke an API token")
def revoke_token(request: HttpRequest, token_id: Id):
    token = get_or_404(ApiToken.objects.filter(user=user(request)).select_related("user"), token_id,
                       _("API token"))
    tokens.revoke_token(user(request), token)
    return Status(204, None)

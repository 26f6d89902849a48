"""Small helpers for list filters."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from .errors import Unprocessable


def since(moment: datetime, field: str = "updated_since") -> datetime:
    """A time without an offset is read in the centre's time zone (Asia/Shanghai by default)."""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise Unprocessable(_("the time is out of range"), field=field) from None

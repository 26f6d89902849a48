"""Read helpers for staff and teams."""

from __future__ import annotations

from .models import User


def team_ids_of(user: User) -> list[int]:
    """The ids of the teams a user belongs to, cached on the user object for the request."""
    cached = getattr(user, "_kefu_team_ids", None)
    if cached is None:
        cached = list(user.teams.values_list("pk", flat=True))
        user._kefu_team_ids = cached
    return cached

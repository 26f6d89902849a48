"""Read helpers for staff and teams."""

from __future__ import annotations

from kefu.core.prepared import PreparedQuery

from .models import Team, User

# Every request of an agent asks for their teams: compiled once (see kefu.core.prepared).
_TEAM_IDS = PreparedQuery(
    lambda user_id: Team.members.through.objects.filter(user_id=user_id).order_by("team_id")
    .values_list("team_id"), int)


def team_ids_of(user: User) -> list[int]:
    """The ids of the teams a user belongs to (ascending), cached on the user object for the request."""
    cached = getattr(user, "_kefu_team_ids", None)
    if cached is None:
        cached = [team_id for (team_id,) in _TEAM_IDS.rows(user.pk)]
        user._kefu_team_ids = cached
    return cached


def remember_team_ids(user: User, team_ids: list[int]) -> None:
    """Give ``team_ids_of`` the user's teams when they were read already (API token authentication joins
    them to the token's row)."""
    user._kefu_team_ids = sorted(team_ids)

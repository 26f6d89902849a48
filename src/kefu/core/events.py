"""Writing the event log. Services call :func:`record` inside their transaction."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from .models import Event


def actor_fields(actor) -> dict[str, Any]:
    """``actor`` is a staff user, a customer (anything with ``is_customer``), or None for the system."""
    if actor is None:
        return {"actor": None, "actor_kind": Event.ActorKind.SYSTEM, "actor_label": ""}
    if getattr(actor, "is_customer", False):
        return {"actor": None, "actor_kind": Event.ActorKind.CUSTOMER, "actor_label": str(actor)[:150]}
    label = getattr(actor, "display_name", "") or actor.get_username()
    return {"actor": actor, "actor_kind": Event.ActorKind.STAFF, "actor_label": label[:150]}


def json_value(value: Any) -> Any:
    """Model instances are logged by id; enums by value; dates as ISO strings."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "pk"):
        return value.pk
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (list, tuple, set)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return str(value)


def build(
    verb: str,
    *,
    actor,
    subject_type: str,
    subject_id: int,
    case_id: int | None = None,
    customer_id: int | None = None,
    field: str = "",
    old: Any = None,
    new: Any = None,
    data: dict | None = None,
    at=None,
) -> Event:
    return Event(
        at=at or timezone.now(),
        verb=verb,
        subject_type=subject_type,
        subject_id=subject_id,
        case_id=case_id,
        customer_id=customer_id,
        field=field,
        old=json_value(old),
        new=json_value(new),
        data=json_value(data or {}),
        **actor_fields(actor),
    )


def record(verb: str, **kwargs) -> Event:
    event = build(verb, **kwargs)
    event.save(force_insert=True)
    return event


def record_many(events: list[Event]) -> None:
    if events:
        Event.objects.bulk_create(events)


def apply_changes(verb: str, obj, changes: dict[str, Any], *, actor, subject_type: str, at,
                  **ids) -> list[Event]:
    """Set each changed attribute on ``obj`` and return one unsaved event per field that really changed
    (old -> new). The caller saves ``obj`` (``update_fields=[e.field for e in events]``) and the events."""
    log = []
    for field, value in changes.items():
        old = getattr(obj, field)
        if old != value:
            setattr(obj, field, value)
            log.append(build(verb, actor=actor, subject_type=subject_type, subject_id=obj.pk, field=field,
                             old=old, new=value, at=at, **ids))
    return log

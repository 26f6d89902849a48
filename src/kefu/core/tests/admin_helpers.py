"""Helpers for the admin tests of every app: form data as the admin page would post it, and query counts."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext


def form_data(response) -> dict:
    """The data the change/add form on ``response`` would post unchanged (like a browser would)."""
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            data[name] = [str(v) for v in value]
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = field.widget.format_value(value) if hasattr(field.widget, "format_value") else value
            if data[name] is None:
                del data[name]
    return data


def errors_of(response) -> dict:
    form = response.context["adminform"].form
    return {field: [str(e) for e in errs] for field, errs in form.errors.items()}


def count_queries(client, url) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    return len(ctx.captured_queries), response

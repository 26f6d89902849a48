"""Keyset paging: pages follow each other without gaps or duplicates, also while rows change."""

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from kefu.api.pagination import encode_cursor
from kefu.cases import services
from kefu.cases.models import Case
from kefu.core.testing import CaseFactory, CustomerFactory
from kefu.customers.models import Customer

from .conftest import Api, assert_error

pytestmark = pytest.mark.django_db


def walk(api, path, limit, between=None, **params):
    """All pages of a list; ``between(page_number)`` runs after each page is read."""
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": limit, **params}
        if cursor:
            query["cursor"] = cursor
        r = api.get(path, query)
        assert r.status_code == 200, r.content
        data = r.json()
        seen.extend(item["id"] for item in data["items"])
        pages += 1
        cursor = data["next_cursor"]
        if between:
            between(pages)
        if cursor is None:
            return seen, pages


def test_pages_cover_every_case_once_including_ties(centre):
    now = timezone.now()
    cases = [CaseFactory(team=centre.hospital_team) for _ in range(23)]
    for i, case in enumerate(cases):
        # groups of three share the same updated_at: ties are broken by id
        Case.objects.filter(pk=case.pk).update(updated_at=now - timedelta(seconds=i // 3))
    seen, pages = walk(Api(centre.limanager), "cases", 5)
    assert pages == 5
    expected = list(Case.objects.order_by("-updated_at", "-id").values_list("id", flat=True))
    assert seen == expected and len(set(seen)) == 23


def test_no_gaps_or_duplicates_while_rows_change(centre):
    now = timezone.now()
    cases = [CaseFactory(team=centre.hospital_team) for _ in range(30)]
    for i, case in enumerate(cases):
        Case.objects.filter(pk=case.pk).update(updated_at=now - timedelta(minutes=i))
    changed = set()

    def change_rows(page):
        # after each page: a case already seen and one not yet seen are changed, and a new case arrives
        seen_case, unseen_case = cases[(page - 1) * 6], cases[min(page * 6 + 3, 29)]
        for case in (seen_case, unseen_case):
            services.update_case(centre.limanager, case, priority="high")
            changed.add(case.pk)
        changed.add(CaseFactory(team=centre.hospital_team).pk)

    api = Api(centre.limanager)
    start = timezone.now()
    seen, _ = walk(api, "cases", 6, between=change_rows)
    assert len(seen) == len(set(seen)), "a case appeared twice"
    unchanged = {c.pk for c in cases} - changed
    assert unchanged <= set(seen), "an unchanged case was skipped"
    # what changed meanwhile is found with updated_since from the start of the walk
    fresh = walk(api, "cases", 100, updated_since=start.isoformat())[0]
    assert changed <= set(fresh)


def test_filtered_pages(centre):
    for i in range(12):
        CaseFactory(team=centre.hospital_team if i % 2 else centre.hotline_team, status="open" if i % 3 else "new")
    api = Api(centre.limanager)
    seen, _ = walk(api, "cases", 2, status="open", team=centre.hotline_team.pk)
    expected = list(Case.objects.filter(status="open", team=centre.hotline_team)
                    .order_by("-updated_at", "-id").values_list("id", flat=True))
    assert seen == expected and expected


def test_customer_pages(centre):
    for _ in range(9):
        CustomerFactory()
    seen, pages = walk(Api(centre.xiaowang), "customers", 4)
    assert seen == list(Customer.objects.order_by("-updated_at", "-id").values_list("id", flat=True))
    assert pages == 3


def b64(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "not a cursor", "%%%", "AAAA", b64({"a": 1}), b64(["cases"]), b64(["customers", "2026-01-01T00:00:00+00:00", 1]),
    b64(["cases", "2026-01-01T00:00:00", 1]), b64(["cases", "yesterday", 1]), b64(["cases", 5, 1]),
    b64(["cases", "2026-01-01T00:00:00+00:00", -1]), b64(["cases", "2026-01-01T00:00:00+00:00", True]),
    b64(["cases", "2026-01-01T00:00:00+00:00", 2**70]), b64(["cases", "2026-01-01T00:00:00+00:00", "1"]),
    b64(["cases", "9999-12-31T23:59:59-14:00", 1]), b64(["cases", "0001-01-01T00:00:00+14:00", 1]),
    "x" * 2000, "\u4e2d\u6587",
])
def test_malformed_cursor_is_400(centre, cursor):
    body = assert_error(Api(centre.limanager).get("cases", {"cursor": cursor}), 400, "invalid_cursor")
    assert body["field"] == "cursor"


def test_cursor_of_another_list_is_400(centre):
    cursor = encode_cursor("teams", 1)
    assert_error(Api(centre.limanager).get("users", {"cursor": cursor}), 400, "invalid_cursor")
    assert_error(Api(centre.limanager).get("tokens", {"cursor": cursor}), 400, "invalid_cursor")

"""Search finds exactly what a LIKE scan finds: generated Chinese, English and mixed cases written through the
services, generated queries, compared with ``icontains`` over the subject and every message (AND of the
terms), for a manager and for an agent who sees one team and the cases involving his department, through
every query path, page by page; counted for every kind of user, after transfers and changes of the
departments involved."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.db.models import Q
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kefu.cases import services
from kefu.cases.models import Case, Message
from kefu.core.errors import DomainError
from kefu.search import queries as sq

# Characters whose case-insensitive LIKE and kefu's folding agree (no full-width forms here: those fold to
# ASCII in kefu and not in LIKE; test_tokens covers them).
ALPHABET = list("退款发票申请药品订单号码王医生") + list("aAbBcC") + list("0123") + list(" .-@、。")
text = st.text(alphabet=st.sampled_from(ALPHABET), min_size=1, max_size=30)


@st.composite
def corpus_and_queries(draw):
    cases = draw(st.lists(st.tuples(text, st.lists(text, min_size=1, max_size=3)), min_size=1, max_size=5))
    pool = [s for s, _ in cases] + [b for _, bodies in cases for b in bodies]
    queries = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            source = draw(st.sampled_from(pool))
            i = draw(st.integers(0, len(source) - 1))
            j = draw(st.integers(i + 1, min(len(source), i + 8)))
            queries.append(source[i:j])
        else:
            queries.append(draw(st.text(alphabet=st.sampled_from(ALPHABET), min_size=1, max_size=6)))
    return cases, queries


def like_scan(q: str, visible):
    qs = visible
    for term in q.split():
        qs = qs.filter(Q(subject__icontains=term) | Q(messages__body__icontains=term))
    return list(qs.distinct().order_by("-updated_at", "-id").values_list("pk", flat=True))


def all_pages(user, q):
    seen, cursor = [], None
    while True:
        page, cursor = sq.search_cases(user, q, limit=2, cursor=cursor)
        seen += [c.pk for c in page]
        if cursor is None:
            return seen


PATHS = {  # (FEW, DENSE, WALK_BUDGET)
    "candidate-ids": (10**9, 10**9, 3000),
    "candidates": (0, 10**9, 3000),
    "walk": (0, 0, 3000),
    "walk-then-candidates": (0, 0, 2),
}


@pytest.mark.parametrize("path", list(PATHS))
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=corpus_and_queries())
def test_search_equals_like_scan(centre, monkeypatch, path, data):
    from kefu.cases.queries import visible_cases

    for name, value in zip(("FEW", "DENSE", "WALK_BUDGET"), PATHS[path], strict=True):
        monkeypatch.setattr(sq, name, value)
    corpus, queries = data
    with transaction.atomic():
        for n, (subject, bodies) in enumerate(corpus):
            subject = subject.strip() or "空"
            team = centre.hospital_team if n % 2 == 0 else centre.hotline_team
            case = services.create_case(centre.xiaowang, customer=centre.zhangdoctor, subject=subject,
                                        type=centre.inquiry, channel="phone", body=bodies[0], team=team)
            for body in bodies[1:]:
                if body.strip():
                    services.add_message(centre.xiaowang, case, kind=Message.Kind.NOTE, body=body)
            if n % 4 == 3:  # seen by 小王 through his department: a second visibility scope to merge
                services.set_departments(centre.xiaowang, case, [centre.service_dept, centre.quality_dept])
            if n % 3 == 2:  # moved to the other team, and one department no longer involved
                other = centre.hotline_team if team == centre.hospital_team else centre.hospital_team
                services.transfer(centre.xiaowang, case, team=other, reason="转组")
                if n % 4 == 3:
                    services.set_departments(centre.xiaowang, case, [centre.quality_dept])
        for q in queries:
            try:
                sq.plan(q)
            except DomainError:
                continue
            for user in (centre.limanager, centre.xiaowang):
                expected = like_scan(q, visible_cases(user))
                assert all_pages(user, q) == expected, (q, user)
            for user in (centre.limanager, centre.xiaowang, centre.xiaoli, centre.chenqa, centre.zhaolead):
                assert sq.count_cases(user, q) == len(like_scan(q, visible_cases(user))), (q, user)
            assert sorted(c.pk for c in sq.search_cases(centre.limanager, q, ranked=True, limit=100)[0]) == sorted(
                like_scan(q, Case.objects.all()))
        transaction.set_rollback(True)

"""Property-based: junk thrown at every creating and changing endpoint answers 2xx or 4xx, always JSON.

Bodies are drawn two ways: from the endpoint's own OpenAPI request schema (right field names, values of
the right shape, wrong, or out of range), and as arbitrary JSON or raw bytes. The same goes for the
list filters.
"""

import base64
import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kefu.cases import services
from kefu.core import tokens

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

NASTY_TEXT = st.sampled_from(["", " ", "\x00", "\ud800", "\udfff", "null", "0", "-1", "9" * 40, "'; DROP TABLE x;--",
                              "中文字段", "A", "me", "none", "x" * 300, "1e309", "NaN", "2026-02-30T25:61:00"])
TEXT = st.one_of(st.text(max_size=30), st.text(alphabet=st.characters(codec="utf-8"), max_size=300), NASTY_TEXT)
INTS = st.one_of(st.integers(min_value=-3, max_value=30), st.integers(), st.sampled_from([2**63 - 1, 2**63, -(2**63) - 1]))
SCALARS = st.one_of(st.none(), st.booleans(), INTS, st.floats(allow_nan=True, allow_infinity=True), TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)


PLAUSIBLE = {
    "type": st.sampled_from(["inquiry", "complaint", "refund", "praise", "nonsense"]),
    "grade": st.sampled_from(["A", "B", "C", "D", "Z"]),
    "value": st.sampled_from(["13800138000", "139 1000 2000", "someone@example.com", "oAbcdef_123", "12"]),
    "expires_at": st.sampled_from(["2030-01-01T00:00:00+08:00", "2001-01-01T00:00:00Z", "2030-01-01"]),
    "birthday": st.sampled_from(["1980-05-04", "2100-01-01", "0001-01-01"]),
}
def from_schema(schema: dict, components: dict, ids: list[int], name: str = "", junk: bool = True
                ) -> st.SearchStrategy:
    """Values shaped like ``schema`` (plausible ids and codes); with ``junk``, sometimes anything at all."""
    if "$ref" in schema:
        return from_schema(components[schema["$ref"].rsplit("/", 1)[1]], components, ids, name, junk)
    if "anyOf" in schema:
        return st.one_of([from_schema(s, components, ids, name, junk) for s in schema["anyOf"]])
    kind = schema.get("type")
    if "enum" in schema:
        shaped = st.sampled_from(schema["enum"])
    elif name in PLAUSIBLE:
        shaped = st.one_of(PLAUSIBLE[name], TEXT)
    elif kind == "integer":
        known = st.sampled_from(ids)  # ids of rows that exist: customers, cases, teams, staff, departments
        shaped = st.one_of(known, known, INTS)
    elif kind == "string":
        shaped = TEXT
    elif kind == "boolean":
        shaped = st.booleans()
    elif kind == "null":
        shaped = st.none()
    elif kind == "array":
        shaped = st.lists(from_schema(schema.get("items", {}), components, ids, name, junk), max_size=4)
    elif kind == "object" and "properties" in schema:
        props = schema["properties"]
        required = set(schema.get("required", []))
        shaped = st.fixed_dictionaries(
            {k: from_schema(v, components, ids, k, junk) for k, v in props.items() if k in required},
            optional={k: from_schema(v, components, ids, k, junk) for k, v in props.items() if k not in required})
    else:
        shaped = JSON
    return st.one_of(*([shaped] * 7), JSON) if junk else shaped


def request_schema(path: str, method: str) -> tuple[dict, dict]:
    from kefu.api.urls import api

    doc = api.get_openapi_schema(path_prefix="/api/v1/")
    body = doc["paths"]["/api/v1" + path][method]["requestBody"]["content"]["application/json"]["schema"]
    return body, doc["components"]["schemas"]


@pytest.fixture
def fuzz_env(centre):
    _, raw = tokens.create_token(None, centre.limanager, "fuzz")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_ACCEPT_LANGUAGE="en")
    case = services.create_case(centre.limanager, customer=centre.zhangdoctor, subject="s", type=centre.inquiry,
                                channel="phone", body="b", team=centre.hospital_team)
    other = services.create_case(centre.limanager, customer=centre.zhangdoctor, subject="t",
                                 type=centre.inquiry, channel="phone", team=centre.hospital_team)
    known = sorted({case.pk, other.pk, centre.zhangdoctor.pk, centre.hospital.pk, centre.hospital_team.pk,
                    centre.hotline_team.pk, centre.xiaowang.pk, centre.xiaoli.pk, centre.zhaolead.pk,
                    centre.quality_dept.pk, centre.logistics_dept.pk})
    ids = {"case_id": case.pk, "other_id": other.pk, "customer_id": centre.zhangdoctor.pk, "known": known}
    return client, ids


def valid_bodies(centre, ids) -> dict:
    """A body each endpoint accepts: the fuzzer changes a few of its fields, or drops them."""
    return {
        "/customers": {"name": "王女士", "identities": [{"channel": "email", "value": "wang@example.com"}],
                       "grade": "B", "grade_reason": "r", "tags": ["t"]},
        "/customers/{customer_id}": {"title": "主任", "consent_marketing": True},
        "/customers/{customer_id}/identities": {"channel": "phone", "value": "13912345678"},
        "/customers/{customer_id}/grade": {"grade": "C", "reason": "r"},
        "/cases": {"customer": centre.zhangdoctor.pk, "subject": "s", "type": "complaint", "channel": "phone",
                   "body": "b", "team": centre.hospital_team.pk, "assignee": centre.xiaowang.pk,
                   "departments": [centre.quality_dept.pk]},
        "/cases/{case_id}": {"subject": "s2", "priority": "high", "assignee": centre.xiaowang.pk,
                             "status": "pending"},
        "/cases/{case_id}/transfer": {"team": centre.hotline_team.pk, "assignee": centre.xiaoli.pk, "reason": "r"},
        "/cases/{case_id}/merge": {"into": ids["other_id"]},
        "/cases/{case_id}/messages": {"kind": "staff", "body": "您好"},
        "/tokens": {"name": "n", "expires_at": "2030-01-01T00:00:00+08:00"},
    }


def mutated(base: dict, schema: dict, components: dict, ids: list[int]) -> st.SearchStrategy:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    props = schema["properties"]
    fields = sorted(props)
    changes = st.dictionaries(st.sampled_from(fields),
                              st.one_of(st.just(DROP),
                                        *[from_schema(props[f], components, ids, f) for f in fields]),
                              max_size=2)

    def apply(change: dict) -> dict:
        body = dict(base)
        for key, value in change.items():
            if value is DROP:
                body.pop(key, None)
            else:
                body[key] = value
        return body

    return changes.map(apply)


DROP = object()

ENDPOINTS = [
    ("post", "/customers"),
    ("patch", "/customers/{customer_id}"),
    ("post", "/customers/{customer_id}/identities"),
    ("put", "/customers/{customer_id}/grade"),
    ("post", "/cases"),
    ("patch", "/cases/{case_id}"),
    ("post", "/cases/{case_id}/transfer"),
    ("post", "/cases/{case_id}/merge"),
    ("post", "/cases/{case_id}/messages"),
    ("post", "/tokens"),
]


def check(response):
    assert response.status_code < 500, (response.status_code, response.content[:300])
    if response.status_code == 204:
        return
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    if response.status_code >= 400:
        assert isinstance(body.get("code"), str) and isinstance(body.get("detail"), str) and body["detail"]


def send(client, method, url, content: bytes, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return getattr(client, method)(url, data=content, content_type="application/json", **headers)


@pytest.mark.parametrize("method,path", ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_junk_bodies_never_5xx(centre, fuzz_env, method, path):
    client, ids = fuzz_env
    schema, components = request_schema(path, method)
    url = "/api/v1" + path.format(**ids)
    base = valid_bodies(centre, ids)[path]

    @FUZZ
    @given(body=st.one_of(mutated(base, schema, components, ids["known"]),
                          from_schema(schema, components, ids["known"])),
           key=st.one_of(st.none(), st.none(), st.sampled_from(["k1", "k2"]), st.text(max_size=5)))
    def run(body, key):
        check(send(client, method, url, json.dumps(body).encode(), key))

    run()


@pytest.mark.parametrize("method,path", [("post", "/cases"), ("patch", "/cases/{case_id}"),
                                         ("post", "/customers"), ("post", "/cases/{case_id}/messages")])
def test_raw_bytes_never_5xx(fuzz_env, method, path):
    client, ids = fuzz_env
    url = "/api/v1" + path.format(**ids)

    @FUZZ
    @given(content=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
    def run(content):
        check(send(client, method, url, content))

    run()


def _cursor(values: list) -> str:
    raw = json.dumps(values).encode("utf-8", "surrogatepass")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Cursors that decode, with sort keys of every kind: times out of range, wrong types, other lists.
CURSORS = st.tuples(st.sampled_from(["cases", "customers", "users", "messages:1", "x"]),
                    st.one_of(st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()), SCALARS),
                    st.one_of(INTS, SCALARS)).map(lambda t: _cursor(list(t)))
QUERY_VALUE = st.one_of(TEXT.filter(lambda s: "\ud800" not in s and "\udfff" not in s), INTS.map(str), CURSORS)


@pytest.mark.parametrize("path,names", [
    ("/cases", ["status", "assignee", "team", "type", "grade", "channel", "priority", "stage", "customer",
                "updated_since", "cursor", "limit"]),
    ("/customers", ["grade", "kind", "organisation", "tag", "updated_since", "cursor", "limit"]),
    ("/users", ["team", "role", "active", "cursor", "limit"]),
    ("/cases/{case_id}/messages", ["cursor", "limit"]),
])
def test_junk_filters_never_5xx(fuzz_env, path, names):
    client, ids = fuzz_env
    url = "/api/v1" + path.format(**ids)

    @FUZZ
    @given(params=st.dictionaries(st.sampled_from(names), st.lists(QUERY_VALUE, min_size=1, max_size=3),
                                  max_size=5))
    def run(params):
        check(client.get(url, params))

    run()

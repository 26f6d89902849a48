"""Creates answer straight from the stored JSON (for idempotent replays); they must still match the
response schemas the OpenAPI document promises, like every other answer does."""

import pytest

from kefu.api.cases import CaseOut, MessageOut
from kefu.api.customers import CustomerOut, IdentityOut
from kefu.api.tokens import NewTokenOut
from kefu.cases import services

from .conftest import Api

pytestmark = pytest.mark.django_db


def test_create_answers_match_their_schemas(centre):
    api = Api(centre.zhaolead)
    r = api.post("cases", {"customer": centre.zhangdoctor.pk, "subject": "s", "type": "inquiry", "channel": "phone",
                           "body": "b", "team": centre.hospital_team.pk, "departments": [centre.quality_dept.pk]})
    CaseOut.model_validate(r.json())
    case = services.create_case(centre.zhaolead, customer=centre.zhangdoctor, subject="s", type=centre.inquiry,
                                channel="phone", team=centre.hospital_team)
    MessageOut.model_validate(api.post(f"cases/{case.pk}/messages", {"kind": "note", "body": "x"}).json())
    CustomerOut.model_validate(api.post("customers", {"name": "王女士", "tags": ["新"]}).json())
    IdentityOut.model_validate(api.post(f"customers/{centre.zhangdoctor.pk}/identities",
                                        {"channel": "wechat_openid", "value": "oAbcdef123"}).json())
    NewTokenOut.model_validate(api.post("tokens", {"name": "n"}).json())
    body = {"customer": centre.zhangdoctor.pk, "subject": "t", "type": "inquiry", "channel": "phone"}
    first = api.post("cases", body, HTTP_IDEMPOTENCY_KEY="k")
    replay = api.post("cases", body, HTTP_IDEMPOTENCY_KEY="k")
    assert replay["Idempotent-Replayed"] == "true"
    for r in (first, replay):
        CaseOut.model_validate(r.json())

import json

import pytest
from django.test import Client

from kefu.core import tokens


class Api:
    """A test client speaking JSON to /api/v1/ as one staff member, with a real API token."""

    def __init__(self, user, **headers):
        self.user = user
        self.token_row, self.token = tokens.create_token(None, user, f"tests {user.username}")
        headers.setdefault("HTTP_ACCEPT_LANGUAGE", "en")
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {self.token}", **headers)

    def _call(self, method, path, data=None, **extra):
        url = path if path.startswith("/") else f"/api/v1/{path}"
        kwargs = dict(extra)
        if data is not None:
            kwargs["data"] = data if isinstance(data, (bytes, str)) else json.dumps(data)
            kwargs.setdefault("content_type", "application/json")
        return getattr(self.client, method)(url, **kwargs)

    def get(self, path, data=None, **extra):
        url = path if path.startswith("/") else f"/api/v1/{path}"
        return self.client.get(url, data=data, **extra)

    def post(self, path, data=None, **extra):
        return self._call("post", path, data, **extra)

    def patch(self, path, data=None, **extra):
        return self._call("patch", path, data, **extra)

    def put(self, path, data=None, **extra):
        return self._call("put", path, data, **extra)

    def delete(self, path, **extra):
        return self._call("delete", path, None, **extra)


@pytest.fixture
def api_as(centre):
    return lambda user, **headers: Api(user, **headers)


@pytest.fixture
def manager_api(centre):
    return Api(centre.limanager)


@pytest.fixture
def agent_api(centre):
    return Api(centre.xiaowang)


def assert_error(response, status, code=None):
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) >= {"code", "detail"}, body
    assert isinstance(body["detail"], str) and body["detail"]
    if code:
        assert body["code"] == code, body
    return body

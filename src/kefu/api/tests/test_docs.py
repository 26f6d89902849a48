"""OpenAPI and the interactive docs page, served without any CDN."""

import re

from django.contrib.staticfiles import finders
from django.test import Client


def test_openapi_lists_every_endpoint_and_both_auth_schemes(db):
    schema = Client().get("/api/v1/openapi.json").json()
    paths = set(schema["paths"])
    for path in ["/customers", "/customers/{customer_id}", "/customers/{customer_id}/identities",
                 "/customers/{customer_id}/identities/{identity_id}", "/customers/{customer_id}/grade",
                 "/cases", "/cases/{case_id}", "/cases/{case_id}/transfer", "/cases/{case_id}/merge",
                 "/cases/{case_id}/messages", "/cases/{case_id}/events", "/teams", "/teams/{team_id}",
                 "/users", "/users/{user_id}", "/users/me", "/case-types", "/grades", "/tokens",
                 "/tokens/{token_id}"]:
        assert "/api/v1" + path in paths, path
    schemes = schema["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    messages = schema["paths"]["/api/v1/cases/{case_id}/messages"]["post"]["requestBody"]["content"]
    assert set(messages) == {"application/json", "multipart/form-data"}


def test_docs_page_uses_vendored_swagger_ui_only(db):
    r = Client().get("/api/v1/docs")
    assert r.status_code == 200
    html = r.content.decode()
    assert "/static/api/swagger-ui/swagger-ui-bundle.js" in html
    assert "/static/api/swagger-ui/swagger-ui.css" in html
    assert "/api/v1/openapi.json" in html
    external = re.findall(r"""(?:src|href)=["'](https?:)?//""", html)
    assert external == [], "the docs page must not load anything from another host"
    for name in ["api/swagger-ui/swagger-ui-bundle.js", "api/swagger-ui/swagger-ui.css",
                 "api/swagger-ui/LICENSE", "api/docs.js"]:
        assert finders.find(name), name


def test_vendored_static_files_are_served(db):
    r = Client().get("/static/api/swagger-ui/swagger-ui-bundle.js")
    assert r.status_code == 200
    assert b"SwaggerUIBundle" in b"".join(r.streaming_content)

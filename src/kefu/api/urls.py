"""The REST API, mounted at /api/v1/: OpenAPI at /api/v1/openapi.json, interactive docs at /api/v1/docs."""

from __future__ import annotations

import functools

from django.http import Http404, HttpRequest, HttpResponseNotAllowed
from django.urls import re_path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import NinjaAPI

from . import cases, catalog, customers, errors, people, tokens
from .auth import AUTH
from .common import RENDERER
from .docs import LocalSwagger

DESCRIPTION = gettext_lazy(
    "The kefu REST API. Authenticate with a personal API token (`Authorization: Bearer kefu_…`, "
    "created with `kefu token create` or POST /tokens) or with the signed-in session (send the CSRF "
    "token in `X-CSRFToken` on changes). Lists page by cursor; creating requests accept an "
    "`Idempotency-Key` header; every error is JSON with `code` and `detail`."
)


def _json_errors(view):
    """Turns what Django would answer as HTML around ninja's operations into JSON: 405 and 404."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return unknown_endpoint(request)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            json_response = errors.json_error(
                405, "method_not_allowed",
                _("%(method)s is not allowed here; allowed: %(allowed)s") % {
                    "method": request.method, "allowed": allowed})
            json_response["Allow"] = allowed
            return json_response
        return response

    wrapper.csrf_exempt = True
    return wrapper


def unknown_endpoint(request: HttpRequest, *args, **kwargs):
    return errors.json_error(404, "not_found", _("there is no API endpoint at %(path)s; see %(docs)s") % {
        "path": request.path, "docs": "/api/v1/docs"})


unknown_endpoint.csrf_exempt = True


class KefuAPI(NinjaAPI):
    def _get_urls(self):
        patterns = super()._get_urls()
        for pattern in patterns:
            pattern.callback = _json_errors(pattern.callback)
        patterns.append(re_path(r"^.*$", unknown_endpoint, name="unknown-endpoint"))
        return patterns


api = KefuAPI(
    title="kefu API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=AUTH,
    docs=LocalSwagger(),
    renderer=RENDERER,
)
errors.install(api)

api.add_router("/customers", customers.router)
api.add_router("/cases", cases.router)
api.add_router("", people.router)
api.add_router("", catalog.router)
api.add_router("/tokens", tokens.router)


@api.get("/ping", tags=["meta"], auth=None, summary="Is the API up")
def ping(request):
    return {"ok": True}

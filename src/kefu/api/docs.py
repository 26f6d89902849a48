"""The interactive API docs page (Swagger UI), served from vendored static files: no CDN, no internet."""

from __future__ import annotations

from ninja.openapi.docs import Swagger


class LocalSwagger(Swagger):
    """Swagger UI from ``api/static/api/swagger-ui`` (vendored by scripts/vendor-swagger.sh)."""

    template = "api/docs.html"
    default_settings = {
        "layout": "BaseLayout",
        "deepLinking": True,
        "persistAuthorization": True,
        "displayRequestDuration": True,
    }

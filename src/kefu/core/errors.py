"""Errors raised by the service layer. Every surface (API, pages, admin, CLI) turns them into a clear message.

- ``DomainError``: the request is understood but not allowed by the rules (HTTP 400/409/422).
- ``NotFound``: an id that does not exist, or that the user may not see (HTTP 404).
- ``Forbidden``: the user may see the object but not do this (HTTP 403).
"""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(str(message))
        self.message = str(message)
        if code:
            self.code = code
        self.field = field

    def as_dict(self) -> dict:
        data = {"code": self.code, "detail": self.message}
        if self.field:
            data["field"] = self.field
        return data


class InvalidTransition(DomainError):
    status = 409
    code = "invalid_transition"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"

"""Normalising channel identities (pure functions, no Django import)."""

from __future__ import annotations

import re

import phonenumbers

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def gettext_noop(message: str) -> str:
    """Marks a message for translation without importing Django (the services translate it)."""
    return message


class InvalidIdentity(ValueError):
    """``template`` is an English message with %(name)s placeholders; ``params`` fill them. The service layer
    shows ``gettext(template) % params`` in the user's language; ``str()`` is the English text."""

    def __init__(self, template: str, **params):
        self.template = template
        self.params = params
        super().__init__(template % params)


def normalize_phone(value: str, region: str = "CN") -> str:
    """A phone number in E.164 form (+8613800138000). Mainland numbers may be given without +86."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentity(gettext_noop("%(value)r is not a phone number"), value=value) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentity(gettext_noop("%(value)r is not a valid phone number"), value=value)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(value: str) -> str:
    value = value.strip()
    if not EMAIL_RE.match(value) or len(value) > 254:
        raise InvalidIdentity(gettext_noop("%(value)r is not an email address"), value=value)
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def normalize_wechat(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9_-]{6,64}", value):
        raise InvalidIdentity(gettext_noop("%(value)r is not a WeChat openid/unionid"), value=value)
    return value


NORMALIZERS = {
    "phone": normalize_phone,
    "email": normalize_email,
    "wechat_openid": normalize_wechat,
    "wechat_unionid": normalize_wechat,
}


def normalize(channel: str, value: str) -> str:
    try:
        normalizer = NORMALIZERS[channel]
    except KeyError:
        raise InvalidIdentity(gettext_noop("unknown channel %(channel)r; choose one of %(choices)s"),
                              channel=channel, choices=", ".join(NORMALIZERS)) from None
    return normalizer(str(value or ""))


def mask(channel: str, value: str) -> str:
    """Personal data masked for lists and logs: +86 138****8000, z***@example.com."""
    if channel == "phone" and len(value) > 7:
        return value[:-8] + "****" + value[-4:]
    if channel == "email" and "@" in value:
        local, _, domain = value.partition("@")
        return (local[:1] + "***@" + domain) if local else value
    if len(value) > 8:
        return value[:4] + "…" + value[-2:]
    return value

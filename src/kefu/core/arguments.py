"""Argument types shared by kefu's commands: a bad value is a clear message and exit status 2."""

from __future__ import annotations

from argparse import ArgumentTypeError

from django.utils.translation import gettext as _


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ArgumentTypeError(_("%(value)r is not a whole number") % {"value": value}) from None
    if number <= 0:
        raise ArgumentTypeError(_("must be greater than zero"))
    return number


def positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ArgumentTypeError(_("%(value)r is not a number") % {"value": value}) from None
    if not number > 0 or number == float("inf"):
        raise ArgumentTypeError(_("must be a number of seconds greater than zero"))
    return number

"""The ``kefu`` command. Subcommands are Django management commands; ``kefu --help`` lists kefu's own."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kefu.config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["kefu", *argv[1:]])
    return 0

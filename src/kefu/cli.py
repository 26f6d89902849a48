"""The ``kefu`` command (also ``python -m kefu``).

``kefu`` or ``kefu --help`` lists kefu's own commands; ``kefu <command> --help`` shows one command's options;
every other Django management command works too (``kefu help`` lists them all). An unknown command is an
error (exit status 2).
"""

from __future__ import annotations

import difflib
import os
import sys


def gettext_noop(message: str) -> str:
    """Marks a string for translation without needing settings yet (makemessages finds it by this name)."""
    return message

# kefu's own commands, in the order a newcomer needs them: (name, one line, translated when shown).
COMMANDS = (
    ("demo", gettext_noop("Run a demo service centre on this machine, with a year of sample data")),
    ("serve", gettext_noop("Run the web server (gunicorn)")),
    ("worker", gettext_noop("Run the background worker (task queue and periodic scheduler)")),
    ("scheduler", gettext_noop("Run only the periodic scheduler")),
    ("migrate", gettext_noop("Create or update the database tables")),
    ("createadmin", gettext_noop("Create an administrator account")),
    ("check", gettext_noop("Check the configuration, database, data directory and Redis")),
    ("seed", gettext_noop("Add generated customers and cases in bulk (trials, benchmarks)")),
    ("token", gettext_noop("Create, list or revoke personal API tokens")),
    ("case", gettext_noop("Show a case or change its status")),
    ("reindex", gettext_noop("Rebuild the search index")),
)


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kefu.config.settings")
    import django

    django.setup()


def usage() -> str:
    from django.utils.translation import gettext as _

    from kefu import __version__

    width = max(len(name) for name, _line in COMMANDS) + 2
    lines = [
        _("kefu %(version)s — the 客服 customer service system") % {"version": __version__},
        "",
        _("Usage: kefu <command> [options]"),
        "",
        _("Commands:"),
    ]
    lines += [f"  {name:<{width}}{_(line)}" for name, line in COMMANDS]
    lines += [
        "",
        _("Any Django management command also works (kefu help lists them all)."),
        _("kefu <command> --help shows a command's options."),
        _("Settings come from KEFU_* environment variables; the data lives in KEFU_DATA_DIR (default ./var)."),
    ]
    return "\n".join(lines)


def _ensure_data_dir() -> None:
    """SQLite cannot create its file in a missing directory: make the data directory on first use."""
    from django.conf import settings

    try:
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # `kefu check` reports it; other commands fail with the database's own message


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    args = argv[1:]
    if not args or args[0] in ("-h", "--help"):
        _setup()
        print(usage())
        return 0
    if args[0] == "--version":
        import django

        from kefu import __version__

        print(f"kefu {__version__} (Django {django.get_version()})")
        return 0
    _setup()
    name = args[0]
    if not name.startswith("-") and name != "help":
        from django.core.management import get_commands
        from django.utils.translation import gettext as _

        known = get_commands()
        if name not in known:
            message = _("kefu: unknown command %(name)r.") % {"name": name}
            close = difflib.get_close_matches(name, [c for c, _line in COMMANDS] + sorted(known), n=1)
            if close:
                message += " " + _("Did you mean %(name)r?") % {"name": close[0]}
            print(message, _("Run `kefu --help` for the list of commands."), file=sys.stderr)
            return 2
        _ensure_data_dir()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["kefu", *args])
    return 0

"""The checks behind ``kefu check`` (and the migration check ``kefu serve`` and ``kefu demo`` use).

Each check returns a :class:`Result`: whether it passed, one line saying what was found, and hints
(warnings that do not fail the check).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.translation import gettext as _


@dataclass
class Result:
    ok: bool
    line: str
    hints: list[str] = field(default_factory=list)


def pending_migrations(database: str = DEFAULT_DB_ALIAS) -> list[str]:
    """``app.migration`` names not applied yet (raises the driver's error when the database is unreachable)."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[database])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def describe_database(database: str = DEFAULT_DB_ALIAS) -> str:
    conn = connections[database]
    if conn.vendor == "sqlite":
        return f"SQLite {conn.settings_dict['NAME']}"
    s = conn.settings_dict
    where = f"{s.get('HOST') or 'localhost'}:{s.get('PORT') or 5432}" if conn.vendor == "postgresql" else ""
    return f"{conn.display_name} {s.get('NAME')}@{where}".rstrip("@")


def check_system(*, deploy: bool = False, tags=None, fail_level: str = "ERROR") -> Result:
    from django.core import checks

    messages = checks.run_checks(tags=tags, include_deployment_checks=deploy)
    level = getattr(checks, fail_level)
    failing = [m for m in messages if m.level >= level and not m.is_silenced()]
    hints = [f"{m.id or ''} {m.msg}".strip() + (f" ({m.hint})" if m.hint else "")
             for m in messages if m.level < level and not m.is_silenced()]
    if failing:
        detail = "; ".join(f"{m.id}: {m.msg}" for m in failing)
        return Result(False, _("Django system checks: %(count)d problem(s): %(detail)s")
                      % {"count": len(failing), "detail": detail}, hints)
    return Result(True, _("Django system checks passed") + (_(" (with deployment checks)") if deploy else ""),
                  hints)


def check_database(database: str = DEFAULT_DB_ALIAS) -> Result:
    where = describe_database(database)
    try:
        with connections[database].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # whatever the driver raises: the point is to report it
        return Result(False, _("Database not reachable (%(where)s): %(error)s") % {"where": where, "error": exc})
    return Result(True, _("Database reachable (%(where)s)") % {"where": where})


def check_migrations(database: str = DEFAULT_DB_ALIAS) -> Result:
    try:
        pending = pending_migrations(database)
    except Exception as exc:
        return Result(False, _("Migrations could not be checked: %(error)s") % {"error": exc})
    if pending:
        names = ", ".join(pending[:5]) + (" …" if len(pending) > 5 else "")
        return Result(False, _("%(count)d migration(s) not applied (%(names)s): run `kefu migrate`")
                      % {"count": len(pending), "names": names})
    return Result(True, _("All migrations applied"))


def check_data_dir() -> Result:
    path = settings.DATA_DIR
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".kefu-check-", delete=True) as fh:
            fh.write(b"ok")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        return Result(False, _("Data directory %(path)s is not writable: %(error)s")
                      % {"path": path, "error": exc.strerror or exc})
    return Result(True, _("Data directory %(path)s is writable") % {"path": path})


def check_redis() -> Result | None:
    """None when Redis is not configured (KEFU_REDIS_URL unset)."""
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return None
    import redis

    shown = redis.connection.parse_url(url)
    where = f"{shown.get('host', 'localhost')}:{shown.get('port', 6379)}/{shown.get('db', 0)}"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        client.ping()
    except Exception as exc:  # redis raises several kinds; report whichever it is
        return Result(False, _("Redis not reachable (%(where)s): %(error)s") % {"where": where, "error": exc})
    return Result(True, _("Redis reachable (%(where)s)") % {"where": where})

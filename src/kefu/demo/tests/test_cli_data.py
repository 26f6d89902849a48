"""`kefu seed` and `kefu demo --reset` as a user runs them, on a SQLite file and (in the PostgreSQL run of the
suite) on a throwaway PostgreSQL database: the paths that write from a second thread or drop tables, which
in-process tests inside a transaction cannot take."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .clitools import kefu, kefu_env

PG_URL = os.environ.get("KEFU_DATABASE_URL", "")


@pytest.fixture(params=["sqlite", "postgresql"])
def seed_database(request, tmp_path):
    """A fresh SQLite file, or (in the PostgreSQL run) a throwaway PostgreSQL database, for `kefu seed`."""
    if request.param == "sqlite":
        yield {}
        return
    if not PG_URL.startswith("postgres"):
        pytest.skip("runs in the PostgreSQL run of the suite")
    import psycopg

    base, _, _name = PG_URL.rpartition("/")
    name = f"kefu_seedcli_{os.getpid()}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {"KEFU_DATABASE_URL": f"{base}/{name}"}
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def python(data, code: str, **env) -> list[str]:
    """Run ``code`` (Django set up) against the data directory's database; its printed words."""
    proc = subprocess.run([sys.executable, "-c", "import django; django.setup()\n" + code],
                          env=kefu_env(data, DJANGO_SETTINGS_MODULE="kefu.config.settings", **env),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.split()


def test_seed_from_a_second_thread_then_demo_reset(tmp_path, seed_database):
    """`kefu seed` writes from a second thread and keeps the invariants; `kefu demo --reset` then drops it all
    (SQLite: the file; PostgreSQL: kefu's tables) and seeds a fresh demo."""
    data = tmp_path / "data"
    result = kefu(data, "migrate", "-v", "0", **seed_database)
    assert result.returncode == 0, result.stderr
    result = kefu(data, "seed", "--customers", "60", "--cases", "300", "--batch", "70", **seed_database)
    assert result.returncode == 0, result.stderr
    assert "Seeded 60 customers and 300 cases" in result.stdout and "rows/s" in result.stdout
    vendor = "postgresql" if seed_database else "sqlite"
    assert python(data, "from django.db import connection\n"
                        "from kefu.cases.models import Case\n"
                        "from kefu.demo.tests.invariants import case_problems, customer_problems\n"
                        "ids = list(Case.objects.values_list('id', flat=True))\n"
                        "print(len(case_problems()), len(customer_problems()), len(set(ids)), connection.vendor)",
                  **seed_database) == ["0", "0", "300", vendor]

    result = kefu(data, "demo", "--reset", "--no-serve", "--customers", "20", "--cases", "60", **seed_database)
    assert result.returncode == 0, result.stderr
    assert "Seeded 20 customers and 60 cases" in result.stdout
    assert python(data, "from kefu.cases.models import Case\nfrom kefu.core.models import Event\n"
                        "print(Case.objects.count(), Event.objects.filter(verb__in=['demo.seeded', 'data.seeded'])"
                        ".values_list('verb', flat=True).get())", **seed_database) == ["67", "demo.seeded"]

"""Helpers for tests that run kefu in other processes against a SQLite file in a data dir of their own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

DB_FILE = "kefu.sqlite3"


def kefu_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a kefu process on the SQLite file in ``data_dir`` (no PostgreSQL, no Redis)."""
    env = {k: v for k, v in os.environ.items() if k not in ("KEFU_DATABASE_URL", "KEFU_REDIS_URL")}
    env.update(KEFU_DATA_DIR=str(data_dir), KEFU_SECRET_KEY="test-only-not-secret", PYTHONUNBUFFERED="1",
               DJANGO_SETTINGS_MODULE="kefu.config.settings", KEFU_LOG_LEVEL="INFO")
    env.update(extra)
    return env


def kefu(args: list[str], env: dict[str, str], timeout: float = 60, check: bool = True):
    return subprocess.run([sys.executable, "-m", "kefu", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=check)


def python(code: str, env: dict[str, str], *args: str, timeout: float = 60) -> str:
    """Run ``code`` with Django set up in a fresh interpreter; returns its stdout."""
    prelude = "import django\ndjango.setup()\n"
    proc = subprocess.run([sys.executable, "-c", prelude + code, *args], env=env, capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"subprocess failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def migrated_data_dir(template: Path, target: Path) -> Path:
    """Copy a migrated data dir (made once per module) to ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for item in template.iterdir():
        if item.name.startswith(DB_FILE) or item.name == "secret_key":
            shutil.copy2(item, target / item.name)
    return target


def make_template(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    kefu(["migrate", "-v0"], kefu_env(path), timeout=120)
    return path

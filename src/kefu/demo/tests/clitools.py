"""Running the real `kefu` console script in a subprocess, on a data directory of its own."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
KEFU = str(BIN / "kefu")


def kefu_env(data_dir: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KEFU_", "DJANGO_")) and k not in ("PYTEST_CURRENT_TEST",)}
    env.update(KEFU_DATA_DIR=str(data_dir), KEFU_SECRET_KEY="test-only-not-secret", KEFU_LANGUAGE="en",
               PYTHONUNBUFFERED="1", **extra)
    return env


def kefu(data_dir: Path, *args: str, timeout: float = 120, **env) -> subprocess.CompletedProcess:
    return subprocess.run([KEFU, *args], env=kefu_env(data_dir, **env), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def db_rows(data_dir: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(data_dir / "kefu.sqlite3") as conn:
        return conn.execute(sql).fetchall()

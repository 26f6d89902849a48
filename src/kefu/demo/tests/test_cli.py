"""The real ``kefu`` console script, run as a user runs it: a subprocess with its own data directory.

These always use SQLite in a temporary KEFU_DATA_DIR (the PostgreSQL run covers the same commands
in-process in test_commands.py and test_seeding.py).
"""

from __future__ import annotations

import fcntl
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from .clitools import KEFU, db_rows, free_port, kefu, kefu_env


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory, worker_id) -> Path:
    """A data directory with a small demo, made once by `kefu demo --no-serve` and shared by the test
    processes (the tests only read it, or try changes that are refused)."""
    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent  # shared by the xdist workers
    path = root / "kefu-demo"
    with open(root / "kefu-demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (path / "ready").exists():
            path.mkdir(exist_ok=True)
            result = kefu(path, "demo", "--no-serve", "--customers", "200", "--cases", "1000", timeout=300)
            assert result.returncode == 0, result.stderr
            assert "Seeded 200 customers and 1,000 cases" in result.stdout
            (path / "ready").touch()
    return path


# --- help and unknown commands ---------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [[KEFU], [sys.executable, "-m", "kefu", "--help"]])
def test_help_lists_kefus_own_commands(tmp_path, argv):
    result = subprocess.run(argv, env=kefu_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for name in ("demo", "serve", "worker", "scheduler", "migrate", "createadmin", "check", "seed", "token",
                 "case"):
        assert f"\n  {name} " in result.stdout
    assert "Any Django management command also works" in result.stdout
    assert "makemigrations" not in result.stdout  # curated: Django's own list is `kefu help`


def test_a_commands_help_is_its_own(tmp_path):
    result = kefu(tmp_path, "seed", "--help")
    assert result.returncode == 0
    assert "usage: kefu seed" in result.stdout and "--customers" in result.stdout and "--batch" in result.stdout


def test_an_unknown_command_is_an_error_with_a_suggestion(tmp_path):
    result = kefu(tmp_path, "demoo")
    assert result.returncode == 2
    assert "unknown command 'demoo'" in result.stderr and "Did you mean 'demo'?" in result.stderr
    assert result.stdout == ""


# --- demo ------------------------------------------------------------------------------------------

def test_demo_prints_the_logins_and_a_second_run_reuses_the_data(demo_dir):
    before = db_rows(demo_dir, "SELECT count(*) FROM cases_case")[0][0]
    result = kefu(demo_dir, "demo", "--no-serve", "--customers", "200", "--cases", "1000")
    assert result.returncode == 0, result.stderr
    assert "Reusing the demo" in result.stdout
    for text in ("xiaowang", "zhaolead", "limanager", "admin", "kefu-demo-2026", "王秀英", "+86 138 0013 8001",
                 "wang.xiuying@example.com", "http://127.0.0.1:8000/"):
        assert text in result.stdout
    assert db_rows(demo_dir, "SELECT count(*) FROM cases_case")[0][0] == before == 1007
    assert db_rows(demo_dir, "SELECT count(*) FROM core_event WHERE verb = 'demo.seeded'")[0][0] == 1


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").exists(), reason="finds the child processes through /proc")
def test_demo_serves_with_the_worker_and_stops_cleanly_on_ctrl_c(demo_dir):
    port = free_port()
    proc = subprocess.Popen([KEFU, "demo", "--port", str(port)], env=kefu_env(demo_dir),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        # Ready when the demo itself says so (it has checked the server's health by then).
        while not any("Ready: open" in line for line in list(lines)):
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "the demo did not start: " + "".join(lines)
            time.sleep(0.3)
        with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
            assert response.status == 200
        with urllib.request.urlopen(base + "/accounts/login/", timeout=5) as response:
            assert response.status == 200
            assert 'name="username"' in response.read().decode()
        children = _descendants(proc.pid)
        commands = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                    for pid in children if _alive(pid)}
        assert any(" worker" in c for c in commands.values()), commands
        assert any(" serve " in c for c in commands.values()), commands

        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        reader.join(timeout=10)
        output = "".join(lines)
        assert proc.returncode == 0, output
        assert "Stopped." in output
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in commands) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in commands if _alive(pid)], "processes left behind"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_demo_refuses_a_port_in_use(demo_dir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = kefu(demo_dir, "demo", "--port", str(busy.getsockname()[1]))
    assert result.returncode == 1
    assert "port is in use" in result.stderr


# --- the other commands on the demo data ------------------------------------------------------------

def test_case_cli_refuses_an_invalid_transition_like_the_service(demo_dir):
    closed = db_rows(demo_dir, "SELECT c.id FROM cases_case c JOIN people_team t ON t.id = c.team_id "
                               "WHERE t.name = '医院客户组' AND c.status = 'closed' ORDER BY c.id LIMIT 1")[0][0]
    result = kefu(demo_dir, "case", "status", str(closed), "open", "--as", "xiaowang")
    assert result.returncode == 1
    assert f"case #{closed} cannot go from Closed to Open" in result.stderr
    assert "Traceback" not in result.stderr
    assert db_rows(demo_dir, f"SELECT status FROM cases_case WHERE id = {closed}")[0][0] == "closed"

    shown = kefu(demo_dir, "case", "show", str(closed))
    assert shown.returncode == 0 and f"#{closed}" in shown.stdout and "status Closed" in shown.stdout


def test_check_passes_on_the_demo_and_fails_on_an_empty_data_dir(demo_dir, tmp_path):
    result = kefu(demo_dir, "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines() if line[:4] in ("OK  ", "FAIL")] == ["OK"] * 4

    empty = tmp_path / "empty"
    result = kefu(empty, "check")
    assert result.returncode == 1
    assert "FAIL" in result.stdout and "not applied" in result.stdout and "kefu migrate" in result.stdout


def test_serve_refuses_an_unmigrated_database(tmp_path):
    result = kefu(tmp_path / "fresh", "serve", "--port", str(free_port()))
    assert result.returncode == 1
    assert "unapplied migration" in result.stderr and "kefu migrate" in result.stderr


def test_createadmin_without_a_terminal_or_a_password_fails_clearly(demo_dir):
    result = kefu(demo_dir, "createadmin", "--username", "boss")
    assert result.returncode == 1
    assert "KEFU_ADMIN_PASSWORD" in result.stderr and "Traceback" not in result.stderr
    assert db_rows(demo_dir, "SELECT count(*) FROM people_user WHERE username = 'boss'") == [(0,)]

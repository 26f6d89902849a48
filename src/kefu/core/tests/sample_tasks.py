"""Tasks used by the background-work tests (module level, so every backend can import them by path)."""

from __future__ import annotations

import os
from pathlib import Path

from django_tasks import task
from django_tasks.backends.dummy import DummyBackend


@task()
def add(a: int, b: int) -> int:
    return a + b


@task()
def append_line(path: str, text: str) -> str:
    """Append one line to a file: a side effect a test in another process can see."""
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.write(f"{text} {os.getpid()}\n")
    return text


@task()
def fail(message: str) -> None:
    raise RuntimeError(message)


class UnreachableBackend(DummyBackend):
    """A queue that cannot be reached (Redis down, say)."""

    def enqueue(self, task, args, kwargs):
        raise ConnectionError("queue is down")

"""One writing command at a time per DOCINGEST_HOME: `ingest`, `rechunk` and `reindex` hold an
exclusive lock file, so a second one waits instead of planning (and redoing) the same work."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = "writer.lock"


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "another process"
    except OSError:
        return "another process"


@contextmanager
def writer_lock(
    home: Path,
    *,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
    poll_s: float = 0.5,
) -> Iterator[None]:
    """Hold `home/writer.lock`; while another process holds it, call `on_wait(holder)` once
    and wait (or raise BlockingIOError at once when `wait` is False). The kernel drops the lock
    when its process dies, so a killed command never blocks the next one."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / LOCK_NAME
    with path.open("a+") as handle:
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    raise BlockingIOError(f"{_holder(path)} is writing to {home}") from None
                if not told and on_wait is not None:
                    on_wait(_holder(path))
                    told = True
                time.sleep(poll_s)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}\n")
            handle.flush()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)

"""Writer locks: one writer at a time per run directory and per compare or sweep directory.

Core objects: :func:`writer_lock` (hold a directory's lock for a block; a second writer is
refused with a one-line :class:`DirectoryBusy`), :func:`live_writer` (who holds a
directory's lock now, or None) and :data:`LOCK` (the lock file's name).

The lock is an advisory ``flock`` on ``DIR/.lock`` (the ``filelock`` package), which the
kernel releases when its process ends however it ends, so a lock left by a killed writer is
stale by construction: the next writer takes it over. While held, the file records the
writer's PID, host and start time for the message a second writer gets. A process may take
a lock it already holds (the outer holder keeps it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from ecosystem.scenario import ScenarioError

__all__ = ["LOCK", "DirectoryBusy", "describe_writer", "held_here", "live_writer", "writer_lock"]

LOCK = ".lock"
"""The lock file of a run, compare or sweep directory."""

_held: dict[str, int] = {}
_held_guard = threading.Lock()


class DirectoryBusy(ScenarioError):
    """Another process is writing the directory (the message is one line)."""


def _key(directory: Path) -> str:
    return str(directory.resolve())


def _file_lock(directory: Path, on_acquired=None) -> FileLock:
    """The non-blocking ``flock`` on ``directory/.lock``, which stays on disk when released."""
    return FileLock(
        directory / LOCK,
        timeout=0,
        thread_local=False,
        preserve_lock_file=True,
        on_acquired=on_acquired,
        fallback_to_soft=False,
    )


def _owner_record(fd: int) -> None:
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(record).encode(), 0)


def describe_writer(owner: dict | None) -> str:
    """A lock holder as text: ``process 123 on host (since ...)``."""
    if not owner:
        return "another process"
    pid, host, since = (owner.get(key, "?") for key in ("pid", "host", "since"))
    return f"process {pid} on {host} (since {since})"


def _read_owner(directory: Path) -> dict | None:
    try:
        owner = json.loads((directory / LOCK).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


@contextlib.contextmanager
def writer_lock(directory: str | Path, what: str = "run directory") -> Iterator[None]:
    """Hold the writer lock of ``directory`` (created if missing) for the block.

    Raises :class:`DirectoryBusy` at once when another process holds it. ``what`` names the
    directory in that message (``run directory``, ``sweep directory``, ...).
    """
    directory = Path(directory)
    key = _key(directory) if directory.exists() else None
    with _held_guard:
        if key is not None and _held.get(key):
            _held[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _held_guard:
                _held[key] -= 1  # type: ignore[index]
        return
    directory.mkdir(parents=True, exist_ok=True)
    key = _key(directory)
    lock = _file_lock(directory, on_acquired=_owner_record)
    try:
        lock.acquire()
    except Timeout:
        owner = _read_owner(directory)
        raise DirectoryBusy(
            f"{what} {directory} is being written by {describe_writer(owner)}; wait for it to "
            "finish or choose another directory"
        ) from None
    with _held_guard:
        _held[key] = 1
    try:
        yield
    finally:
        with _held_guard:
            _held.pop(key, None)
        with contextlib.suppress(OSError):
            (directory / LOCK).write_text("", encoding="utf-8")
        lock.release()


def held_here(directory: str | Path) -> bool:
    """Whether this process holds ``directory``'s writer lock."""
    directory = Path(directory)
    if not directory.exists():
        return False
    with _held_guard:
        return bool(_held.get(_key(directory)))


def live_writer(directory: str | Path) -> dict | None:
    """The writer holding ``directory``'s lock (``pid``, ``host``, ``since``), or None when no
    live process holds it (a lock file left by a killed writer is stale: None)."""
    directory = Path(directory)
    if not (directory / LOCK).exists():
        return None
    with _held_guard:
        if _held.get(_key(directory)):
            return _read_owner(directory) or {"pid": os.getpid(), "host": socket.gethostname()}
    lock = _file_lock(directory)
    try:
        lock.acquire()
    except Timeout:
        return _read_owner(directory) or {}
    except OSError:
        return None
    lock.release()
    return None

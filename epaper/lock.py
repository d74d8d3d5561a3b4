"""One writer per archive: an advisory ``flock`` on ``<data_dir>/.lock``.

The kernel drops a ``flock`` when its holder's file descriptor closes, so a holder that
died (even by SIGKILL) never blocks the archive: the next taker simply gets the lock. The
file's content (JSON ``{pid, since, host, command}``) only serves the message shown to
whoever finds the lock held.

A child crawl started by ``epaper schedule`` (which holds the lock for its lifetime) gets
``EPAPER_LOCK_HELD_BY_PARENT=<scheduler pid>`` in its environment; :func:`archive_lock`
then returns a no-op context instead of trying (and failing) to take the lock again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, ContextManager

from epaper.storage.parquet import UnsafePath, open_regular

LOCK_FILE = ".lock"
HELD_BY_PARENT_ENV = "EPAPER_LOCK_HELD_BY_PARENT"


class LockError(Exception):
    """The archive lock could not be taken; ``str()`` is one line."""


class LockHeld(LockError):
    """Another live process holds the archive lock."""

    def __init__(self, data_dir: Path, holder: Mapping[str, Any]) -> None:
        self.data_dir = data_dir
        self.holder = dict(holder)
        self.pid = holder.get("pid")
        super().__init__(self._message())

    def _message(self) -> str:
        h = self.holder
        if not h.get("pid"):
            return f"archive {self.data_dir} is locked by another process"
        where = ""
        if h.get("host") and h["host"] != socket.gethostname():
            where = f" on {h['host']}"
        since = f" since {h['since']}" if h.get("since") else ""
        command = f" ({h['command']})" if h.get("command") else ""
        return f"archive {self.data_dir} is locked by pid {h['pid']}{where}{since}{command}"


class ArchiveLock:
    """Context manager holding the exclusive lock of ``data_dir`` (created if missing).

    Raises :class:`LockHeld` when another process holds it, :class:`LockError` when the
    lock file cannot be created. Not re-entrant: a second ``ArchiveLock`` on the same
    directory, even in the same process, finds it held.
    """

    def __init__(self, data_dir: str | Path, command: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_FILE
        self.command = command if command is not None else _default_command()
        self._fd: int | None = None

    def acquire(self) -> ArchiveLock:
        if self._fd is not None:
            raise LockError(f"archive {self.data_dir}: lock already taken by this object")
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # Never through a symlink, never a FIFO or device: the lock file's content is
            # truncated and rewritten, which must not reach a file outside the archive.
            fd = open_regular(self.path, os.O_RDWR | os.O_CREAT)
        except UnsafePath as exc:
            raise LockError(f"archive {self.data_dir}: {exc}") from None
        except OSError as exc:
            raise LockError(
                f"archive {self.data_dir}: cannot create lock file: {exc.strerror or exc}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LockHeld(self.data_dir, holder) from None
        except BaseException:
            os.close(fd)
            raise
        info = {
            "pid": os.getpid(),
            "since": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "host": socket.gethostname(),
            "command": self.command,
        }
        data = (json.dumps(info, ensure_ascii=False) + "\n").encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            os.fsync(fd)
        except OSError as exc:  # a full disk (ENOSPC), a quota: nothing started, the lock is let go
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # no half-written holder info left for the next taker to read
            os.close(fd)
            raise LockError(f"archive {self.data_dir}: cannot write the lock file: {exc.strerror or exc}") from None
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        # Empty the holder info before unlocking; the file itself stays (unlinking a
        # flock file races with a process that has it open but not yet locked).
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing drops the flock

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> ArchiveLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def archive_lock(
    data_dir: str | Path,
    command: str | None = None,
    *,
    env: Mapping[str, str] = os.environ,
) -> ContextManager[object]:
    """The lock a command should hold over ``data_dir``.

    A no-op context when ``EPAPER_LOCK_HELD_BY_PARENT`` names this process's parent (the
    scheduler, which holds the real lock); otherwise an :class:`ArchiveLock`. The parent
    check keeps a stray exported variable from switching locking off.
    """
    held_by = env.get(HELD_BY_PARENT_ENV, "").strip()
    if held_by and held_by == str(os.getppid()):
        return contextlib.nullcontext()
    return ArchiveLock(data_dir, command)


def read_holder(data_dir: str | Path) -> dict[str, Any]:
    """The holder info in the lock file ({} when none), whether or not it is still held."""
    try:
        fd = open_regular(Path(data_dir) / LOCK_FILE)
    except OSError:
        return {}
    try:
        return _read_holder(fd, retries=0)
    finally:
        os.close(fd)


def _read_holder(fd: int, retries: int = 5) -> dict[str, Any]:
    # The holder writes its info right after locking; a contender arriving in between
    # sees an empty file, so look again briefly.
    for attempt in range(retries + 1):
        try:
            raw = os.pread(fd, 4096, 0)
            if raw.strip():
                info = json.loads(raw)
                if isinstance(info, dict):
                    return info
        except (OSError, ValueError):
            pass
        if attempt < retries:
            time.sleep(0.02)
    return {}


def _default_command() -> str:
    args = sys.argv[1:]
    return " ".join(["epaper", *args[:1]]) if args else "epaper"

"""One writer per archive: an advisory ``flock`` on ``<data_dir>/.lock``.

The kernel drops a ``flock`` when its holder's file descriptor closes, so a holder that
died (even by SIGKILL) never blocks the archive: the next taker simply gets the lock. The
file's content (JSON ``{pid, since, host, command}``) only serves the message shown to
whoever finds the lock held.

A child crawl started by ``epaper schedule`` or ``epaper update`` (which hold the lock) is
handed the locked descriptor itself (``pass_fds``) and its number in ``EPAPER_LOCK_FD``: a
``flock`` belongs to the open file description, which the child then shares, so the lock stays
held while the child lives, even when the parent is killed (``kill -9``) and the child runs on
as an orphan: no second writer starts beside it. :func:`archive_lock` checks the descriptor
(the archive's own lock file, still locked by this description) and, while the child runs,
names it as the holder. ``EPAPER_LOCK_HELD_BY_PARENT=<parent pid>`` alone (no descriptor) is
the older marker: a no-op context, kept for callers that set it themselves.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import stat
import sys
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, ContextManager

from epaper.storage.parquet import UnsafePath, open_regular
from epaper.timefmt import iso_text

LOCK_FILE = ".lock"
HELD_BY_PARENT_ENV = "EPAPER_LOCK_HELD_BY_PARENT"
LOCK_FD_ENV = "EPAPER_LOCK_FD"


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
        since = f" since {iso_text(h['since'])}" if h.get("since") else ""  # in the portal's zone, as every time shown
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

    def fileno(self) -> int:
        """The locked descriptor, for a child to inherit (``pass_fds``, :data:`LOCK_FD_ENV`)."""
        if self._fd is None:
            raise LockError(f"archive {self.data_dir}: lock not held")
        return self._fd

    def child_env(self) -> dict[str, str]:
        """What a child that inherits :meth:`fileno` needs in its environment."""
        return {HELD_BY_PARENT_ENV: str(os.getpid()), LOCK_FD_ENV: str(self.fileno())}

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

    An :class:`InheritedLock` when ``EPAPER_LOCK_FD`` names a descriptor this process
    inherited; a no-op context when only ``EPAPER_LOCK_HELD_BY_PARENT`` names this process's
    parent (the older marker); otherwise an :class:`ArchiveLock`. The parent check keeps a
    stray exported variable from switching locking off.
    """
    inherited = env.get(LOCK_FD_ENV, "").strip()
    if inherited:
        return InheritedLock(data_dir, inherited, command)
    held_by = env.get(HELD_BY_PARENT_ENV, "").strip()
    if held_by and held_by == str(os.getppid()):
        return contextlib.nullcontext()
    return ArchiveLock(data_dir, command)


class InheritedLock:
    """The archive lock a parent handed down as a descriptor (``EPAPER_LOCK_FD``).

    On enter, the descriptor must be the archive's lock file (same device and inode, a regular
    file) and ``flock`` on it must succeed: on the parent's own open file description that is
    a no-op which confirms the lock; when the parent has already gone, it takes the lock for
    the child (a description nobody else shares). A descriptor that is none of these (a stray
    variable) falls back to an :class:`ArchiveLock`, which the live parent's lock then refuses.
    While held, the lock file names this process (and its parent); on exit the parent's
    holder info comes back if the parent still lives. The lock is never unlocked
    (``LOCK_UN`` would drop the parent's lock too): closing the child's copy leaves it held
    as long as the parent holds its own.
    """

    def __init__(self, data_dir: str | Path, fd: str, command: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.command = command if command is not None else _default_command()
        self._fd_text = fd
        self._fd: int | None = None
        self._fallback: ArchiveLock | None = None
        self._parent_info = b""
        self._parent = os.getppid()

    def _inherited_fd(self) -> int | None:
        try:
            fd = int(self._fd_text)
            held = os.fstat(fd)
            here = os.lstat(self.data_dir / LOCK_FILE)
        except (ValueError, OSError):
            return None
        if not stat.S_ISREG(held.st_mode) or (held.st_dev, held.st_ino) != (here.st_dev, here.st_ino):
            return None
        return fd

    def __enter__(self) -> InheritedLock:
        fd = self._inherited_fd()
        if fd is None:
            self._fallback = ArchiveLock(self.data_dir, self.command).acquire()
            return self
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(self.data_dir, _read_holder(fd)) from None
        except OSError as exc:
            raise LockError(f"archive {self.data_dir}: cannot lock: {exc.strerror or exc}") from None
        os.set_inheritable(fd, False)  # the crawl's own helpers do not carry it further
        self._fd = fd
        with contextlib.suppress(OSError):
            self._parent_info = os.pread(fd, 4096, 0)
            parent = json.loads(self._parent_info) if self._parent_info.strip() else {}
            by = f"pid {self._parent}" + (f" {parent['command']}" if isinstance(parent, dict)
                                          and parent.get("command") else "")
            info = {
                "pid": os.getpid(),
                "since": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "host": socket.gethostname(),
                "command": f"{self.command}, started by {by}",
                "parent": self._parent,
            }
            data = (json.dumps(info, ensure_ascii=False) + "\n").encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
        return self

    def __exit__(self, *exc: object) -> None:
        fallback, self._fallback = self._fallback, None
        if fallback is not None:
            fallback.release()
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            if os.getppid() == self._parent and self._parent_info.strip():
                os.pwrite(fd, self._parent_info, 0)  # the parent holds on: it is the holder again
        os.close(fd)


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

"""One writer per paper: advisory ``flock`` locks in the archive itself.

- ``<data_dir>/.locks/<ID>.lock``: the paper's lock, taken exclusive by every writer of that
  paper (``epaper crawl``/``reparse``/``update``/``schedule``, ``scrapy crawl epaper``, a
  scrapyd job). Two writers of two papers run side by side; a second writer of the same paper
  is refused (:class:`LockHeld`, naming the holder; the commands exit 75).
- ``<data_dir>/.lock``: the archive-wide lock. Every writer holds it *shared* beside its
  papers' locks; ``epaper migrate`` (which moves every paper's files) takes it *exclusive*, so
  it runs alone: it is refused while any writer runs, and every writer is refused while it
  runs. A lock taken with no paper (``ArchiveLock(data_dir)``) is that exclusive lock.

The kernel drops a ``flock`` when its holder's file descriptor closes, so a holder that
died (even by SIGKILL) never blocks: the next taker simply gets the lock. A paper's lock file
(and ``.lock`` while held exclusive) holds JSON ``{pid, since, host, command}``, which only
serves the message shown to whoever finds the lock held. A shared holder writes nothing in
``.lock``; whoever is refused the exclusive lock is shown the holders of the papers' locks.

A child crawl started by ``epaper schedule`` or ``epaper update`` (which hold the locks of
every paper they run) is handed two locked descriptors (``pass_fds``): its paper's, in
``EPAPER_LOCK_FD``, and the shared ``.lock``, in ``EPAPER_ARCHIVE_LOCK_FD``. A ``flock``
belongs to the open file description, which the child then shares, so the locks stay held
while the child lives, even when the parent is killed (``kill -9``) and the child runs on as an
orphan: no second writer of its paper, and no migration, starts beside it. :func:`archive_lock`
checks each descriptor (the very lock file, still locked by this description) and, while the
child runs, the paper's lock file names it as the holder. A descriptor that is not the lock
file expected (a stray variable) is ignored: the lock is then taken afresh, which the live
parent's refuses. ``EPAPER_LOCK_HELD_BY_PARENT=<parent pid>`` alone (no descriptor) is the
older marker: a no-op context, kept for callers that set it themselves.

On a folder several machines mount (NFS), ``flock`` is the server's lock when the mount
passes it on (NFSv4 does); a holder's host is part of the message.
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
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, ContextManager

from epaper.storage.parquet import SOURCE_ID, UnsafePath, make_dirs, open_regular
from epaper.timefmt import iso_text

LOCK_FILE = ".lock"
PAPER_LOCKS = ".locks"
HELD_BY_PARENT_ENV = "EPAPER_LOCK_HELD_BY_PARENT"
LOCK_FD_ENV = "EPAPER_LOCK_FD"  # the paper's locked descriptor (or, from an older parent, .lock's exclusive one)
ARCHIVE_FD_ENV = "EPAPER_ARCHIVE_LOCK_FD"  # the shared .lock descriptor


def lock_path(data_dir: str | Path, source: str | None = None) -> Path:
    """The lock file of a paper (`source`), or the archive-wide one (None)."""
    if source is None:
        return Path(data_dir) / LOCK_FILE
    if not isinstance(source, str) or not SOURCE_ID.fullmatch(source):
        raise LockError(f"archive {data_dir}: not a paper id: {source!r}")
    return Path(data_dir) / PAPER_LOCKS / f"{source}.lock"


class LockError(Exception):
    """A lock could not be taken; ``str()`` is one line."""


class LockHeld(LockError):
    """Another live process holds the lock (of the archive, or of `source`)."""

    def __init__(self, data_dir: Path, holder: Mapping[str, Any], source: str | None = None) -> None:
        self.data_dir = data_dir
        self.holder = dict(holder)
        self.pid = holder.get("pid")
        self.source = source
        super().__init__(self._message())

    def _message(self) -> str:
        h = self.holder
        what = f"archive {self.data_dir}" + (f" (paper {self.source})" if self.source else "")
        if not h.get("pid"):
            return f"{what} is locked by another process"
        where = ""
        if h.get("host") and h["host"] != socket.gethostname():
            where = f" on {h['host']}"
        since = f" since {iso_text(h['since'])}" if h.get("since") else ""  # in the portal's zone, as every time shown
        command = f" ({h['command']})" if h.get("command") else ""
        return f"{what} is locked by pid {h['pid']}{where}{since}{command}"


class _Held:
    """One locked file: its descriptor, the mode, and whether a parent handed it down."""

    def __init__(self, path: Path, fd: int, exclusive: bool, inherited: bool, parent_info: bytes = b"") -> None:
        self.path, self.fd, self.exclusive, self.inherited = path, fd, exclusive, inherited
        self.parent_info = parent_info


class ArchiveLock:
    """Context manager holding the locks of `sources` in ``data_dir`` (each paper's exclusive,
    the archive's shared), or, with no `sources`, the archive-wide lock exclusive (created if
    missing).

    Raises :class:`LockHeld` when another process holds one of them (nothing stays held),
    :class:`LockError` when a lock file cannot be created. Not re-entrant: a second
    ``ArchiveLock`` of the same paper, even in the same process, finds it held. `inherited`:
    the descriptors a parent handed down, by lock file (see :func:`archive_lock`).
    """

    def __init__(self, data_dir: str | Path, command: str | None = None, sources: Iterable[str] | None = None,
                 *, inherited: Mapping[Path, int] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.sources = None if sources is None else list(dict.fromkeys(sources))
        self.path = self.data_dir / LOCK_FILE
        self.command = command if command is not None else _default_command()
        self._inherited = dict(inherited or {})
        self._held: list[_Held] = []
        self._parent = os.getppid()

    # -- taking and letting go

    def acquire(self) -> ArchiveLock:
        if self._held:
            raise LockError(f"archive {self.data_dir}: lock already taken by this object")
        try:
            if self.sources is None:
                self._take(None, exclusive=True)
            else:
                self._take(None, exclusive=False)
                for source in self.sources:
                    self._take(source, exclusive=True)
        except BaseException:
            self.release()
            raise
        return self

    def _take(self, source: str | None, exclusive: bool) -> None:
        path = lock_path(self.data_dir, source)
        fd = self._inherited_fd(path)
        inherited = fd is not None
        if fd is None:
            fd = _open_lock_file(self.data_dir, path)
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            if exclusive and source is None:
                holder, source_held = self._busy_holder(fd)
            else:
                holder, source_held = _read_holder(fd), source
            if not inherited:
                os.close(fd)
            raise LockHeld(self.data_dir, holder, source_held) from None
        except OSError as exc:
            if not inherited:
                os.close(fd)
            raise LockError(f"archive {self.data_dir}: cannot lock {path.name}: {exc.strerror or exc}") from None
        held = _Held(path, fd, exclusive, inherited)
        self._held.append(held)
        if inherited:
            os.set_inheritable(fd, False)  # the crawl's own helpers do not carry it further
        if exclusive:
            self._write_info(held)

    def _inherited_fd(self, path: Path) -> int | None:
        fd = self._inherited.get(path)
        if fd is None:
            return None
        try:
            held = os.fstat(fd)
            here = os.lstat(path)
        except OSError:
            return None
        if not stat.S_ISREG(held.st_mode) or (held.st_dev, held.st_ino) != (here.st_dev, here.st_ino):
            return None
        return fd

    def _write_info(self, held: _Held) -> None:
        info: dict[str, Any] = {
            "pid": os.getpid(),
            "since": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "host": socket.gethostname(),
            "command": self.command,
        }
        if held.inherited:
            with contextlib.suppress(OSError):
                held.parent_info = os.pread(held.fd, 4096, 0)
            parent = _parse(held.parent_info)
            by = f"pid {self._parent}" + (f" {parent['command']}" if parent.get("command") else "")
            info.update(command=f"{self.command}, started by {by}", parent=self._parent)
        data = (json.dumps(info, ensure_ascii=False) + "\n").encode()
        try:
            os.ftruncate(held.fd, 0)
            os.pwrite(held.fd, data, 0)
            os.fsync(held.fd)
        except OSError as exc:  # a full disk (ENOSPC), a quota: nothing started, the lock is let go
            if held.inherited:
                return  # the parent's lock: kept, only its holder info is stale
            with contextlib.suppress(OSError):
                os.ftruncate(held.fd, 0)  # no half-written holder info left for the next taker to read
            raise LockError(f"archive {self.data_dir}: cannot write the lock file: {exc.strerror or exc}") from None

    def _busy_holder(self, fd: int) -> tuple[dict[str, Any], str | None]:
        """Who keeps the archive-wide lock from being taken exclusive: its exclusive holder
        (named in it), else a writer of a paper (named in its paper's lock)."""
        holder = _read_holder(fd, retries=0)
        if holder and not _alive_here(holder):
            holder = {}  # a killed exclusive holder's info; the lock is held shared by writers
        if holder:
            return holder, None
        for source, info in held_papers(self.data_dir):
            return info, source
        return _read_holder(fd), None

    def release(self) -> None:
        held, self._held = self._held, []
        for lock in reversed(held):
            # Empty the holder info before unlocking; the file itself stays (unlinking a
            # flock file races with a process that has it open but not yet locked). An
            # inherited lock is never unlocked (LOCK_UN would drop the parent's too): closing
            # the child's copy leaves it held as long as the parent holds its own.
            if lock.exclusive:
                with contextlib.suppress(OSError):
                    os.ftruncate(lock.fd, 0)
                    if lock.inherited and os.getppid() == self._parent and lock.parent_info.strip():
                        os.pwrite(lock.fd, lock.parent_info, 0)  # the parent holds on: it is the holder again
            os.close(lock.fd)  # closing drops the flock

    # -- for children

    @property
    def held(self) -> bool:
        return bool(self._held)

    def fileno(self, source: str | None = None) -> int:
        """The locked descriptor of `source`'s lock (None: the archive-wide one)."""
        path = lock_path(self.data_dir, source)
        for lock in self._held:
            if lock.path == path:
                return lock.fd
        raise LockError(f"archive {self.data_dir}: lock of {source or 'the archive'} not held")

    def child_fds(self, source: str | None = None) -> list[int]:
        """The descriptors a child crawl of `source` inherits (``pass_fds``)."""
        fds = [self.fileno(None)]
        if source is not None and self.sources is not None:
            fds.append(self.fileno(source))
        return fds

    def child_env(self, source: str | None = None) -> dict[str, str]:
        """What a child that inherits :meth:`child_fds` needs in its environment."""
        env = {HELD_BY_PARENT_ENV: str(os.getpid())}
        if self.sources is None:  # the whole archive, exclusive: the child shares it as it is
            env[LOCK_FD_ENV] = str(self.fileno(None))
        else:
            env[ARCHIVE_FD_ENV] = str(self.fileno(None))
            if source is not None:
                env[LOCK_FD_ENV] = str(self.fileno(source))
        return env

    def __enter__(self) -> ArchiveLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class _WholeArchiveInherited:
    """A child of a parent holding the whole archive exclusive (an older parent, or one run
    with no paper): the child confirms the lock on the shared description and names itself."""

    def __init__(self, data_dir: Path, fd: int, command: str | None) -> None:
        self.lock = ArchiveLock(data_dir, command, None, inherited={Path(data_dir) / LOCK_FILE: fd})

    def __enter__(self) -> _WholeArchiveInherited:
        self.lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def archive_lock(
    data_dir: str | Path,
    command: str | None = None,
    *,
    sources: Sequence[str] | None = None,
    env: Mapping[str, str] = os.environ,
) -> ContextManager[object]:
    """The lock a command should hold over ``data_dir``: the locks of `sources` (each paper's
    exclusive, the archive's shared), or the whole archive exclusive when `sources` is None.

    Descriptors a parent handed down (``EPAPER_LOCK_FD``, ``EPAPER_ARCHIVE_LOCK_FD``) are used
    when they are the very lock files; a no-op context when only ``EPAPER_LOCK_HELD_BY_PARENT``
    names this process's parent (the older marker). The parent check keeps a stray exported
    variable from switching locking off.
    """
    data_dir = Path(data_dir)
    fds = {}
    for name in (LOCK_FD_ENV, ARCHIVE_FD_ENV):
        with contextlib.suppress(ValueError):
            fds[name] = int(env.get(name, "").strip())
    if fds:
        inherited: dict[Path, int] = {}
        whole = data_dir / LOCK_FILE
        if LOCK_FD_ENV in fds and _same_file(fds[LOCK_FD_ENV], whole):
            return _WholeArchiveInherited(data_dir, fds[LOCK_FD_ENV], command)  # exclusive, from the parent
        if ARCHIVE_FD_ENV in fds:
            inherited[whole] = fds[ARCHIVE_FD_ENV]
        if LOCK_FD_ENV in fds:
            for source in sources or ():
                inherited[lock_path(data_dir, source)] = fds[LOCK_FD_ENV]
        return ArchiveLock(data_dir, command, sources, inherited=inherited)
    held_by = env.get(HELD_BY_PARENT_ENV, "").strip()
    if held_by and held_by == str(os.getppid()):
        return contextlib.nullcontext()
    return ArchiveLock(data_dir, command, sources)


def held_papers(data_dir: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """The papers whose lock a live process holds now, with their holder info (by id)."""
    out = []
    folder = Path(data_dir) / PAPER_LOCKS
    if not folder.is_dir() or folder.is_symlink():
        return out
    for path in sorted(folder.glob("*.lock")):
        try:
            fd = open_regular(path, os.O_RDWR)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                out.append((path.name[:-len(".lock")], _read_holder(fd)))
            except OSError:
                continue
        finally:
            os.close(fd)  # drops the probe's lock, if it got one
    return out


def read_holder(data_dir: str | Path, source: str | None = None) -> dict[str, Any]:
    """The holder info in a paper's lock file (`source`; None: the archive-wide one), {} when
    none, whether or not it is still held."""
    try:
        fd = open_regular(lock_path(data_dir, source))
    except (OSError, LockError):
        return {}
    try:
        return _read_holder(fd, retries=0)
    finally:
        os.close(fd)


def _open_lock_file(data_dir: Path, path: Path) -> int:
    try:
        if path.parent == data_dir:
            data_dir.mkdir(parents=True, exist_ok=True)
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            make_dirs(path.parent, data_dir)
        # Never through a symlink, never a FIFO or device: the lock file's content is
        # truncated and rewritten, which must not reach a file outside the archive.
        return open_regular(path, os.O_RDWR | os.O_CREAT, root=data_dir)
    except UnsafePath as exc:
        raise LockError(f"archive {data_dir}: {exc}") from None
    except OSError as exc:
        raise LockError(f"archive {data_dir}: cannot create lock file: {exc.strerror or exc}") from None


def _same_file(fd: int, path: Path) -> bool:
    try:
        held, here = os.fstat(fd), os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(held.st_mode) and (held.st_dev, held.st_ino) == (here.st_dev, here.st_ino)


def _alive_here(holder: Mapping[str, Any]) -> bool:
    """False only for a holder on this machine whose process is gone."""
    from epaper.storage.parquet import pid_alive

    if holder.get("host") not in (None, socket.gethostname()):
        return True
    pid = holder.get("pid")
    return not isinstance(pid, int) or pid_alive(pid)


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        info = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def _read_holder(fd: int, retries: int = 5) -> dict[str, Any]:
    # The holder writes its info right after locking; a contender arriving in between
    # sees an empty file, so look again briefly.
    for attempt in range(retries + 1):
        try:
            info = _parse(os.pread(fd, 4096, 0))
            if info:
                return info
        except OSError:
            pass
        if attempt < retries:
            time.sleep(0.02)
    return {}


def _default_command() -> str:
    args = sys.argv[1:]
    return " ".join(["epaper", *args[:1]]) if args else "epaper"

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from epaper.lock import (
    HELD_BY_PARENT_ENV,
    ArchiveLock,
    LockError,
    LockHeld,
    archive_lock,
    read_holder,
)

ROOT = Path(__file__).resolve().parent.parent

# Takes the lock, says so on stdout, then sleeps until killed.
HOLDER = textwrap.dedent("""
    import sys, time
    from epaper.lock import ArchiveLock
    lock = ArchiveLock(sys.argv[1], command="epaper crawl").acquire()
    print("locked", flush=True)
    time.sleep(120)
""")

# Tries the lock once; prints "taken" or the LockHeld message.
TRIER = textwrap.dedent("""
    import sys
    from epaper.lock import ArchiveLock, LockHeld
    try:
        with ArchiveLock(sys.argv[1], command="epaper status"):
            print("taken")
    except LockHeld as exc:
        print("held:" + str(exc))
""")


def python(code: str, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-c", code, *args], cwd=ROOT, text=True,
        stdout=subprocess.PIPE, **kwargs,
    )


@pytest.fixture
def holder(tmp_path: Path):
    proc = python(HOLDER, str(tmp_path))
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    yield proc
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    proc.wait(timeout=10)


def test_lock_writes_holder_info_and_releases(tmp_path: Path) -> None:
    with ArchiveLock(tmp_path, command="epaper crawl") as lock:
        assert lock.held
        info = json.loads((tmp_path / ".lock").read_text())
        assert info["pid"] == os.getpid()
        assert info["command"] == "epaper crawl"
        assert info["since"].endswith("Z")
        assert info["host"]
    assert not lock.held
    assert read_holder(tmp_path) == {}
    with ArchiveLock(tmp_path):  # free again
        pass


def test_lock_creates_data_dir(tmp_path: Path) -> None:
    with ArchiveLock(tmp_path / "new" / "archive"):
        assert (tmp_path / "new" / "archive" / ".lock").exists()


def test_same_process_second_lock_is_refused(tmp_path: Path) -> None:
    with ArchiveLock(tmp_path, command="epaper crawl"):
        with pytest.raises(LockHeld) as info:
            ArchiveLock(tmp_path).acquire()
        assert info.value.pid == os.getpid()


def test_other_process_gets_lock_held_naming_holder(tmp_path: Path, holder) -> None:
    trier = python(TRIER, str(tmp_path))
    out, _ = trier.communicate(timeout=30)
    line = out.strip()
    assert line.startswith("held:")
    message = line[len("held:"):]
    assert "\n" not in message
    assert message.startswith(f"archive {tmp_path} is locked by pid {holder.pid} since 20")
    assert message.endswith("+08:00 (epaper crawl)")  # the holder's start, in the portal's zone


def test_lock_held_message_format(tmp_path: Path) -> None:
    import socket

    exc = LockHeld(Path("/srv/data"), {"pid": 1234, "since": "2026-11-27T03:00:00Z",
                                       "host": socket.gethostname(), "command": "epaper crawl"})
    assert str(exc) == ("archive /srv/data is locked by pid 1234 since 2026-11-27T11:00:00+08:00 "
                        "(epaper crawl)")
    assert str(LockHeld(Path("/d"), {})) == "archive /d is locked by another process"


def test_sigkilled_holder_does_not_block(tmp_path: Path, holder) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    # The stale info is still in the file, but nobody holds the flock any more.
    assert read_holder(tmp_path)["pid"] == holder.pid
    with ArchiveLock(tmp_path, command="epaper crawl") as lock:
        assert lock.held
        assert read_holder(tmp_path)["pid"] == os.getpid()


def test_lock_in_other_process_after_holder_killed(tmp_path: Path, holder) -> None:
    holder.kill()
    holder.wait(timeout=10)
    trier = python(TRIER, str(tmp_path))
    out, _ = trier.communicate(timeout=30)
    assert out.strip() == "taken"


def test_unwritable_data_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(LockError) as info:
        ArchiveLock(blocker / "archive").acquire()
    assert "\n" not in str(info.value)
    assert str(blocker / "archive") in str(info.value)


def test_archive_lock_honours_parent_marker(tmp_path: Path) -> None:
    # Our parent "holds" the lock: archive_lock gives a no-op context.
    env = {HELD_BY_PARENT_ENV: str(os.getppid())}
    with ArchiveLock(tmp_path):
        with archive_lock(tmp_path, env=env):
            pass
    # A marker naming any other process is ignored: the real lock is taken.
    lock = archive_lock(tmp_path, env={HELD_BY_PARENT_ENV: "1"})
    assert isinstance(lock, ArchiveLock)
    assert isinstance(archive_lock(tmp_path, env={}), ArchiveLock)


def test_child_started_with_marker_skips_lock(tmp_path: Path) -> None:
    code = textwrap.dedent("""
        import sys
        from epaper.lock import archive_lock
        with archive_lock(sys.argv[1], "epaper crawl"):
            print("ran")
    """)
    with ArchiveLock(tmp_path, command="epaper schedule"):
        child = python(code, str(tmp_path), env={**os.environ, HELD_BY_PARENT_ENV: str(os.getpid())})
        out, _ = child.communicate(timeout=30)
        assert out.strip() == "ran"
        # Without the marker, a process still finds the lock held.
        child = python(TRIER, str(tmp_path))
        out, _ = child.communicate(timeout=30)
        assert out.startswith("held:")


"""``epaper schedule``: archive on a cron schedule, catching up recent missing dates.

Each run (once at start, then on every cron tick) works out which of the last
``schedule.catchup_days`` issue dates (today included, in ``schedule.timezone``) are
neither archived completely nor confirmed to have no issue (:mod:`epaper.state`: a "no
issue" found before the day was over is not confirmed), crawls each contiguous run of
them in a child ``epaper crawl --from D1 --to D2`` (``--date D`` for a single day), rechecks
the archived issues ``schedule.recheck_days`` after their date (:func:`recheck_dates`: a crawl
with conditional requests, which catches corrections and removals), then a child ``epaper
crawl --latest`` when it can add anything (an issue archived complete costs it one request). Crawls run in child processes so that a hung or leaking
crawl can be timed out (``schedule.run_timeout``: SIGTERM, then SIGKILL after 30 s) and
Twisted's reactor, which cannot be restarted, lives once per crawl.

The scheduler holds the lock of each of its papers (and the archive's, shared) for its
lifetime; each child inherits its paper's locked descriptor and the archive's (``pass_fds``,
``EPAPER_LOCK_FD``, ``EPAPER_ARCHIVE_LOCK_FD``: :func:`epaper.lock.archive_lock`), so the lock
stays held while a child lives even if the scheduler is killed (``kill -9``) and the child
runs on as an orphan: no other crawl of its paper starts beside it. SIGINT/SIGTERM stop the scheduler, end the crawl in
flight (SIGTERM, then SIGKILL) and return 0; a second signal kills the crawl at once.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import subprocess
import sys
import threading
import time as _time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO

from apscheduler.events import EVENT_SCHEDULER_STARTED, SchedulerEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from epaper.config import Config, parse_cron
from epaper.exits import SUCCESS
from epaper.lock import ArchiveLock, LockError, LockHeld
from epaper.state import date_states

logger = logging.getLogger(__name__)

KILL_GRACE = 30.0  # seconds between SIGTERM and SIGKILL for a child crawl
ARCHIVE_JOB_ID = "archive"
CATCHUP_JOB_ID = "catchup"
RETRY_JOB_ID = "retry"


# ---------------------------------------------------------------------------- dates

def contiguous_runs(dates: Sequence[date]) -> list[tuple[date, date]]:
    """Sorted dates grouped into inclusive (first, last) runs of consecutive days."""
    runs: list[tuple[date, date]] = []
    for d in sorted(set(dates)):
        if runs and d == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], d)
        else:
            runs.append((d, d))
    return runs


def recheck_dates(data_dir: Path, source: str, tz: Any, today: date, days: Sequence[int],
                  catchup_days: int = 1) -> list[date]:
    """Archived issues due for a recheck (``schedule.recheck_days``): issue date D is due when,
    for some k in `days`, D + k is today or earlier and D was last crawled before the day D + k
    began (in `tz`). So each k rechecks once, and an issue crawled today is not fetched again.
    A recheck missed (the portal down, the scheduler stopped) is made up by the next run, as a
    missing date is: when it fell due within the last `catchup_days` days (today included;
    ``schedule.catchup_days``), so the dates scanned reach that far before the last `days`."""
    if not days:
        return []
    due = []
    start = today - timedelta(days=max(days) + max(catchup_days, 1) - 1)
    for state in date_states(data_dir, source, tz=tz, start=start, end=today - timedelta(days=min(days))):
        if state.state != "archived" or not state.last_crawled:
            continue
        try:
            crawled = datetime.fromisoformat(state.last_crawled.replace("Z", "+00:00"))
        except ValueError:
            continue
        if crawled.tzinfo is None:
            crawled = crawled.replace(tzinfo=timezone.utc)
        if any(state.date + timedelta(days=k) <= today
               and crawled < datetime.combine(state.date + timedelta(days=k), datetime.min.time(), tz)
               for k in days):
            due.append(state.date)
    return due


# ---------------------------------------------------------------------------- children

class ChildRunner:
    """Runs child crawls (one per thread: the papers of a run each in their own); can stop
    the ones in flight from another thread.

    The child gets its own session (process group), so the terminal's Ctrl-C reaches only
    the scheduler, which then decides how the child ends; signals go to the whole group
    so a crawl's own helpers end with it. stdout/stderr are inherited: the child's lines
    appear on the scheduler's stdout/stderr as they are written.
    """

    def __init__(self, *, kill_grace: float = KILL_GRACE, env: Mapping[str, str] | None = None,
                 pass_fds: Sequence[int] = (), lock: ArchiveLock | None = None):
        self.kill_grace = kill_grace
        self.extra_env = dict(env or {})
        self.pass_fds = tuple(pass_fds)
        self.lock = lock  # the papers' locks: a child of a paper inherits that paper's (and the archive's)
        self.stopping = False
        self._lock = threading.Lock()
        # Each child in flight, with when it was sent SIGTERM (monotonic; None: not yet), so
        # that it gets one: a second SIGTERM makes Scrapy give up its graceful stop ("Received
        # SIGTERM twice, forcing unclean shutdown"), leaving temporary files and an outcome
        # without reasons.
        self._procs: dict[subprocess.Popen[bytes], float | None] = {}

    def run(self, argv: Sequence[str], *, timeout: float | None,
            env: Mapping[str, str] | None = None, source: str | None = None) -> int | None:
        """The child's exit status; None when not started because of a stop request.
        On timeout the child is terminated and its (negative signal) status returned.
        `env`: more variables for this child; `source`: the paper it crawls, whose locked
        descriptor it inherits."""
        lock_env: dict[str, str] = {}
        fds = self.pass_fds
        if self.lock is not None:
            lock_env = self.lock.child_env(source if source in (self.lock.sources or ()) else None)
            fds = (*fds, *self.lock.child_fds(source if source in (self.lock.sources or ()) else None))
        with self._lock:
            if self.stopping:
                return None
            proc = subprocess.Popen(
                list(argv), env={**os.environ, **self.extra_env, **lock_env, **(env or {})},
                start_new_session=True, pass_fds=fds,
            )
            self._procs[proc] = None
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _emit(f"schedule: child pid {proc.pid} timed out after {timeout:g} s; stopping it",
                  sys.stderr)
            return self._end(proc)
        finally:
            with self._lock:
                self._procs.pop(proc, None)

    def _in_flight(self) -> list[subprocess.Popen[bytes]]:
        with self._lock:
            self.stopping = True
            return list(self._procs)

    def request_stop(self) -> None:
        """No new child; SIGTERM the ones in flight without waiting."""
        for proc in self._in_flight():
            self._terminate(proc)

    def stop(self) -> None:
        """No new child; end the ones in flight (SIGTERM, wait, SIGKILL) and wait for them."""
        procs = self._in_flight()
        for proc in procs:
            self._terminate(proc)
        for proc in procs:
            self._end(proc)

    def kill(self) -> None:
        for proc in self._in_flight():
            _signal_group(proc, signal.SIGKILL)

    def _terminate(self, proc: subprocess.Popen[bytes]) -> float:
        """SIGTERM the child unless it already got it; when it got it (monotonic)."""
        with self._lock:
            termed_at = self._procs.get(proc)
            if termed_at is None:
                _signal_group(proc, signal.SIGTERM)
                termed_at = _time.monotonic()
                if proc in self._procs:
                    self._procs[proc] = termed_at
            return termed_at

    def _end(self, proc: subprocess.Popen[bytes]) -> int:
        termed_at = self._terminate(proc)
        try:
            return proc.wait(timeout=max(0.0, termed_at + self.kill_grace - _time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            return proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is not None:
        return  # reaped: its pid (= group id) may already belong to someone else
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def crawl_argv(
    config: Config,
    data_dir: Path,
    args: Sequence[str],
    *,
    crawl_command: Sequence[str] | None = None,
) -> list[str]:
    """The child command of one paper (`config`: that paper's): ``crawl_command`` (default
    ``python -m epaper crawl``) + ``args`` + ``--data`` + ``--source``, and ``--config`` /
    ``--base-url`` as the scheduler got them."""
    base = list(crawl_command) if crawl_command else [sys.executable, "-m", "epaper", "crawl"]
    # An s3:// archive: the child works on the same local copy (`data_dir`) and publishes (epaper.remote).
    remote = str(config.storage.data_dir).startswith("s3://")
    argv = [*base, *args, "--data", str(config.storage.data_dir if remote else data_dir), "--source", config.portal.id]
    if config.path is not None:
        argv += ["--config", str(config.path)]
    if config.portal.base_url:
        # The effective value (file, env or flag), so the child needs no other source.
        argv += ["--base-url", config.portal.base_url]
    return argv


def run_once(
    config: Config,
    data_dir: Path,
    *,
    runner: ChildRunner,
    today: date | None = None,
    crawl_command: Sequence[str] | None = None,
    out: TextIO | None = None,
    child_flags: Sequence[str] = (),
    quiet: bool = False,
    command: str = "epaper schedule",
) -> int:
    """One scheduled run: catch-up children, then ``--latest`` when it can add anything.
    Logs one line (with ``quiet``, only when a child failed, on stderr); returns the worst
    child exit status (0 when all succeeded or nothing was needed; epaper.exits.worst).
    ``child_flags`` are added to every child's command line (``--quiet``, ``--log-format
    json``). A run that started children leaves its own line in the run log (`command`, the
    worst status), which each child's line names as its parent (epaper.runlog.whole_runs),
    and then writes the metrics of the whole run."""
    from concurrent.futures import ThreadPoolExecutor as Threads

    from epaper.exits import worst as worst_of
    from epaper.runlog import PARENT_RUN_ENV, RunLog

    started = _time.monotonic()
    tz = config.schedule.tzinfo
    today = today or datetime.now(tz).date()
    record = RunLog.start(data_dir, command, [], tz=tz)
    papers = config.papers()

    def one(paper: Config) -> tuple[list[str], list[int]]:
        def child(args: list[str]) -> int | None:
            return runner.run(crawl_argv(paper, data_dir, [*args, *child_flags], crawl_command=crawl_command),
                              timeout=paper.schedule.run_timeout, env={PARENT_RUN_ENV: record.run_id},
                              source=paper.portal.id)

        return _paper_run(paper, data_dir, today, runner, child)

    # Each paper in its own thread, its children one after the other: one paper's failure or
    # slowness never stops or delays another's.
    with Threads(max_workers=max(len(papers), 1), thread_name_prefix="paper") as pool:
        done = list(pool.map(one, papers))
    statuses = [rc for _, paper_statuses in done for rc in paper_statuses]
    parts = [part if len(papers) == 1 else f"{paper.portal.id}: {part}"
             for paper, (paper_parts, _) in zip(papers, done) for part in paper_parts]
    if runner.stopping:
        parts.append("stopped")
    # A failure outranks a suspect date (3: archived, but extracted unlike the recent issues).
    worst = worst_of(statuses)
    if statuses:
        try:
            record.finish(worst)
        except OSError as exc:  # the children's lines are there; they then stand alone
            logger.warning("run log not written: %s", exc)
    write_run_metrics(config, data_dir)
    if not quiet or worst != 0:
        _emit(
            f"schedule: {datetime.now(tz).isoformat(timespec='seconds')} run: "
            f"{'; '.join(parts)} ({_time.monotonic() - started:.0f} s)",
            out if not quiet else (out or sys.stderr), event="run", status=worst, parts=parts,
        )
    return worst


def _paper_run(config: Config, data_dir: Path, today: date, runner: ChildRunner,
               child: Callable[[list[str]], int | None]) -> tuple[list[str], list[int]]:
    """One paper's part of a scheduled run: catch-up children, rechecks, then ``--latest`` when
    it can add anything; (what each did, their exit statuses)."""
    source, tz = config.portal.id, config.schedule.tzinfo
    start = today - timedelta(days=config.schedule.catchup_days - 1)
    window = date_states(data_dir, source, tz=tz, start=start, end=today) if config.schedule.catchup_days else []
    missing = [s.date for s in window if s.needs_crawl]
    parts: list[str] = []
    statuses: list[int] = []
    for first, last in contiguous_runs(missing):
        if first == last:
            args, label = ["--date", first.isoformat()], first.isoformat()
        else:
            args = ["--from", first.isoformat(), "--to", last.isoformat()]
            label = f"{first.isoformat()}..{last.isoformat()}"
        rc = child(args)
        if rc is None:
            return parts, statuses
        statuses.append(rc)
        parts.append(f"{label} {_outcome(rc)}")
    if not missing and window:
        parts.append("nothing to catch up")
    for first, last in contiguous_runs(recheck_dates(data_dir, source, tz, today, config.schedule.recheck_days,
                                                     config.schedule.catchup_days)):
        if runner.stopping:
            return parts, statuses
        args = ["--date", first.isoformat()] if first == last else ["--from", first.isoformat(),
                                                                    "--to", last.isoformat()]
        rc = child(args)
        if rc is None:
            return parts, statuses
        statuses.append(rc)
        parts.append(f"recheck {first.isoformat()}{'' if first == last else '..' + last.isoformat()} {_outcome(rc)}")
    # The newest issue is dated today at the latest (an issue out ahead of its date is
    # today's in the next run's window), so once the window holds a snapshot the newest
    # issue is in it, and the catch-up has just crawled every date of it that needed a
    # crawl: --latest would only fetch an archived issue again. It runs when the window
    # holds none (no window, or the portal has been silent for all of it).
    newest = None
    if window:
        newest = next((s.date for s in reversed(date_states(data_dir, source, tz=tz, start=start, end=today))
                       if s.has_snapshot), None)
    if newest is not None:
        parts.append(f"latest not needed (newest archived issue {newest.isoformat()})")
    elif not runner.stopping:
        rc = child(["--latest"])
        if rc is not None:
            statuses.append(rc)
            parts.append(f"latest {_outcome(rc)}")
    return parts, statuses


def write_run_metrics(config: Config, data_dir: Path) -> None:
    """Old logs and run-log lines pruned (epaper.retention: the children leave it to their
    parent, as they may run at the same time), then DATA/metrics/epaper.prom (epaper.metrics):
    the window's states change with the day even when no child ran. A failure is a warning."""
    from epaper.metrics import write_metrics
    from epaper.retention import apply_retention

    try:
        apply_retention(data_dir, log_days=config.storage.log_retention_days,
                        runs_days=config.storage.runs_retention_days)
    except OSError as exc:  # housekeeping: the next run tries again
        logger.warning("retention not applied: %s", exc)

    try:
        write_metrics(data_dir, tz=config.schedule.tzinfo, window_days=config.schedule.catchup_days,
                      sources=config.ids)
    except (OSError, ValueError) as exc:
        logger.warning("metrics not written: %s", exc)


# ---------------------------------------------------------------------------- scheduler

def build_scheduler(
    config: Config,
    data_dir: Path,
    *,
    run: Callable[[], object] | None = None,
    runner: ChildRunner | None = None,
    crawl_command: Sequence[str] | None = None,
    out: TextIO | None = None,
) -> BlockingScheduler:
    """A configured, not yet started scheduler with two jobs: ``"archive"`` on the cron
    trigger, and ``"catchup"`` once at start; a failed run adds ``"retry"`` (see
    :class:`_Retrying`). All call ``run()`` (default :func:`run_once` with a
    :class:`ChildRunner`) and never overlap: one worker thread."""
    sched_cfg = config.schedule
    tz = sched_cfg.tzinfo
    _Output.tz = tz
    if run is None:
        run = functools.partial(
            run_once, config, data_dir, runner=runner or ChildRunner(),
            crawl_command=crawl_command,
        )
    job_defaults: dict[str, Any] = {
        "coalesce": True,
        "max_instances": 1,
        "misfire_grace_time": sched_cfg.misfire_grace_time,
    }
    scheduler = BlockingScheduler(
        timezone=tz,
        # In memory: the schedule is the config's, nothing to persist across restarts.
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults=job_defaults,
    )
    tick = CronTrigger(**parse_cron(sched_cfg.cron), timezone=tz)  # type: ignore[arg-type]
    job = _Retrying(run, scheduler, tick, sched_cfg.retries, sched_cfg.retry_delay, out)
    scheduler.add_job(
        job,
        tick,
        id=ARCHIVE_JOB_ID,
        name="archive on schedule",
        **job_defaults,
    )
    now = datetime.now(tz)
    scheduler.add_job(
        job,
        DateTrigger(run_date=now, timezone=tz),
        id=CATCHUP_JOB_ID,
        name="catch up at start",
        next_run_time=now,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,  # however late the scheduler gets going, catch up once
    )
    return scheduler


def next_tick(scheduler: BlockingScheduler) -> datetime | None:
    """The next cron tick of a scheduler from :func:`build_scheduler` (None: never)."""
    tick = scheduler.get_job(ARCHIVE_JOB_ID)
    return tick.trigger.get_next_fire_time(None, datetime.now(scheduler.timezone)) if tick else None


class _Retrying:
    """The scheduled job: one run, then a retry with backoff when it failed.

    A run fails when it raises (logged with its traceback on stderr, and the schedule goes
    on) or returns an exit status other than 0 and 3 (3: archived, but suspect; another
    crawl would change nothing). Retry n (1-based) comes ``retry_delay * 2**(n-1)`` seconds
    after the failed run, at most ``retries`` times in a row, and only when it falls before
    the next cron tick, which starts afresh. Each run ends with the time of the next one.

    The job never takes the scheduler's locks in its own thread: ``shutdown(wait=True)``
    holds them while it waits for the job.
    """

    def __init__(self, run: Callable[[], object], scheduler: BlockingScheduler, tick: CronTrigger,
                 retries: int, delay: float, out: TextIO | None):
        self.run, self.scheduler, self.tick = run, scheduler, tick
        self.retries, self.delay, self.out = retries, delay, out
        self.failures = 0  # failed runs in a row
        self.__name__ = self.__qualname__ = "epaper_scheduled_run"

    def __call__(self) -> None:
        failed = False
        try:
            status = self.run()
            failed = isinstance(status, int) and status not in SUCCESS
        except Exception as exc:  # noqa: BLE001 - any failure of one run
            failed = True
            _emit(f"schedule: run failed: {type(exc).__name__}: {exc}", sys.stderr,
                  event="error", traceback=traceback.format_exc())
        if self.scheduler.state == STATE_STOPPED:  # stopping: no next run
            return
        tz = self.scheduler.timezone
        now = datetime.now(tz)
        tick = self.tick.get_next_fire_time(None, now)
        upcoming, note = tick, ""
        self.failures = self.failures + 1 if failed else 0
        if failed and self.failures <= self.retries:
            when = now + timedelta(seconds=self.delay * 2 ** (self.failures - 1))
            if tick is None or when < tick:
                upcoming, note = when, f" (retry {self.failures} of {self.retries})"
                threading.Thread(target=self._add_retry, args=(when,), daemon=True).start()
            else:
                note, self.failures = " (the next scheduled run comes before a retry)", 0
        elif failed:
            note, self.failures = f" (no more retries after {self.retries})", 0
        if upcoming is not None:
            _emit(f"schedule: next run at {_iso(upcoming)}{note}", self.out, event="next_run",
                  at=_iso(upcoming), retry=self.failures if note.startswith(" (retry") else 0)

    def _add_retry(self, when: datetime) -> None:
        with contextlib.suppress(SchedulerNotRunningError):
            self.scheduler.add_job(self, DateTrigger(run_date=when, timezone=self.scheduler.timezone),
                                   id=RETRY_JOB_ID, name="retry a failed run", replace_existing=True,
                                   coalesce=True, max_instances=1, misfire_grace_time=None)


class _Stopper:
    """Turns SIGINT/SIGTERM into a clean stop without doing work in the signal handler:
    the handler writes a byte to a pipe; a watcher thread does the stopping."""

    def __init__(self, scheduler: BlockingScheduler | None, runner: ChildRunner,
                 out: TextIO | None, announce: bool = True):
        self.scheduler = scheduler
        self.announce = announce
        self.runner = runner
        self.out = out
        self.requested = False
        self._r, self._w = os.pipe()
        os.set_blocking(self._w, False)
        self._thread = threading.Thread(target=self._watch, name="epaper-stopper", daemon=True)
        self._previous: dict[int, Any] = {}
        if scheduler is not None:
            scheduler.add_listener(self._on_started, EVENT_SCHEDULER_STARTED)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        self._thread.start()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                # Convention: a SIGINT ignored by whoever started us (a background job of
                # a script) stays ignored.
                if sig == signal.SIGINT and signal.getsignal(sig) == signal.SIG_IGN:
                    continue
                self._previous[sig] = signal.signal(sig, self._handler)
        try:
            yield
        finally:
            for sig, previous in self._previous.items():
                signal.signal(sig, previous)
            self._write(b"q")
            self._thread.join(timeout=5)
            os.close(self._r)
            os.close(self._w)

    def _handler(self, signum: int, frame: object) -> None:
        self._write(b"s")

    def _write(self, byte: bytes) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._w, byte)

    def _watch(self) -> None:
        signals = 0
        while True:
            byte = os.read(self._r, 1)
            if byte in (b"q", b""):
                return
            signals += 1
            if signals == 1:
                if self.announce:
                    _emit("schedule: stopping", self.out)
                self.requested = True
                self.runner.request_stop()
                self._shutdown()
            else:
                self.runner.kill()

    def _on_started(self, event: SchedulerEvent) -> None:
        # A signal that came before start() could not shut the scheduler down yet.
        if self.requested:
            self._shutdown()

    def _shutdown(self) -> None:
        if self.scheduler is None:
            return
        with contextlib.suppress(SchedulerNotRunningError):
            self.scheduler.shutdown(wait=False)


def run_scheduler(
    config: Config,
    data_dir: Path,
    *,
    crawl_command: Sequence[str] | None = None,
    kill_grace: float = KILL_GRACE,
    out: TextIO | None = None,
    json_lines: bool = False,
) -> int:
    """``epaper schedule``: run in the foreground until SIGINT/SIGTERM, then return 0.

    Holds its papers' locks throughout (epaper.lock); returns :data:`epaper.exits.LOCKED` (after one line
    on stderr) when another process holds it. ``crawl_command`` replaces ``python -m epaper
    crawl`` (tests). ``json_lines``: the scheduler's lines and the children's as JSON.
    """
    from epaper.exits import LOCKED, USAGE

    data_dir = Path(data_dir)
    _Output.json_lines, _Output.tz = json_lines, config.schedule.tzinfo
    try:
        lock = ArchiveLock(data_dir, command="epaper schedule", sources=config.ids).acquire()
    except LockError as exc:
        _emit(f"epaper schedule: {exc}", sys.stderr, event="locked")
        return LOCKED if isinstance(exc, LockHeld) else USAGE
    try:
        runner = ChildRunner(kill_grace=kill_grace, lock=lock)
        busy = threading.Lock()
        run = functools.partial(
            run_once, config, data_dir, runner=runner, crawl_command=crawl_command, out=out,
            child_flags=["--log-format", "json"] if json_lines else (),
        )

        def serialized_run() -> int:
            with busy:
                return run()

        scheduler = build_scheduler(config, data_dir, run=serialized_run, out=out)
        stopper = _Stopper(scheduler, runner, out)
        with stopper.installed():
            upcoming = next_tick(scheduler)
            _emit(
                f"schedule: archiving {data_dir} on {config.schedule.cron!r} "
                f"({config.schedule.timezone}), catching up {config.schedule.catchup_days} days "
                f"now; next scheduled run at {_iso(upcoming) if upcoming else 'never'}",
                out, event="start", next_run=_iso(upcoming) if upcoming else None,
            )
            scheduler.start()  # blocks until shut down
            runner.stop()  # the child in flight, if any: SIGTERM, wait, SIGKILL
            # Let the run in flight notice the stop and log its line before we return.
            if busy.acquire(timeout=kill_grace + 5):
                busy.release()
    finally:
        lock.release()
    return 0


def run_update(
    config: Config,
    data_dir: Path,
    *,
    crawl_command: Sequence[str] | None = None,
    kill_grace: float = KILL_GRACE,
    json_lines: bool = False,
    today: date | None = None,
) -> int:
    """``epaper update``: exactly one scheduled run (catch-up window, then ``--latest`` when
    it can add anything), for cron. Quiet unless something is wrong: the children run with
    ``--quiet``, so only failed or incomplete dates (stderr) and, then, the run's line.

    Holds its papers' locks for the run (each child inherits its paper's: ``EPAPER_LOCK_FD``);
    returns :data:`epaper.exits.LOCKED` when another process holds one of them. SIGINT/SIGTERM stop
    the child in flight as they stop the scheduler's.
    """
    from epaper.exits import LOCKED, USAGE

    data_dir = Path(data_dir)
    _Output.json_lines, _Output.tz = json_lines, config.schedule.tzinfo
    try:
        lock = ArchiveLock(data_dir, command="epaper update", sources=config.ids).acquire()
    except LockError as exc:
        _emit_error(f"epaper update: {exc}", json_lines, locked=isinstance(exc, LockHeld))
        return LOCKED if isinstance(exc, LockHeld) else USAGE
    try:
        runner = ChildRunner(kill_grace=kill_grace, lock=lock)
        flags = ["--quiet", *(["--log-format", "json"] if json_lines else [])]
        with _Stopper(None, runner, sys.stderr, announce=False).installed():
            return run_once(config, data_dir, runner=runner, today=today, crawl_command=crawl_command,
                            child_flags=flags, quiet=True, out=sys.stderr, command="epaper update")
    finally:
        lock.release()


def _emit_error(line: str, json_lines: bool, *, locked: bool = False) -> None:
    _Output.json_lines = json_lines
    _emit(line, sys.stderr, event="locked" if locked else "error")


def _outcome(rc: int) -> str:
    if rc < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-rc).name}"
    return f"exit {rc}"


class _Output:
    """How the scheduler's own lines are written: text, or one JSON object a line
    (``--log-format json``), with times in the portal's zone (``schedule.timezone``)."""

    json_lines = False
    tz: Any = None


def _iso(when: datetime) -> str:
    """ISO 8601 with the offset, in the portal's zone: the one way a person reads a time."""
    from epaper.timefmt import iso

    return iso(when, _Output.tz or when.tzinfo)


def _emit(line: str, stream: TextIO | None, **fields: Any) -> None:
    stream = stream or sys.stdout
    if _Output.json_lines:
        import json

        fields.setdefault("event", "schedule")
        text = json.dumps({"time": _iso(datetime.now(timezone.utc)), **fields, "message": line},
                          ensure_ascii=False)
    else:
        trace = fields.get("traceback")
        text = line + ("\n" + trace.rstrip() if trace else "")
    with contextlib.suppress(OSError, ValueError):
        stream.write(text + "\n")
        stream.flush()

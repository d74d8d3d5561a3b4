"""The scheduler (epaper/schedule.py) and the run log it reads (epaper/runlog.py); which dates it
crawls is epaper.state's decision (tests/test_state.py)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_MISSED
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.triggers.cron import CronTrigger
from hypothesis import given
from hypothesis import strategies as st

from epaper.config import Config, load_config
from epaper.lock import HELD_BY_PARENT_ENV, ArchiveLock
from epaper.runlog import RunLog, last_outcomes, read_runs, runs_path
from epaper.schedule import (
    ARCHIVE_JOB_ID,
    CATCHUP_JOB_ID,
    ChildRunner,
    build_scheduler,
    contiguous_runs,
    crawl_argv,
    run_once,
    run_scheduler,
)
from tests.test_state import write_day, write_run

ROOT = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")


def D(text: str) -> date:
    return date.fromisoformat(text)


@pytest.fixture(autouse=True)
def _empty_cwd(tmp_path: Path, monkeypatch) -> None:
    # load_config(None) reads ./epaper.toml: a developer's own must not reach these tests.
    monkeypatch.chdir(tmp_path)


def make_config(**overrides: object) -> Config:
    return load_config(None, env={}, overrides={"storage.data_dir": "unused", **overrides})


# ---------------------------------------------------------------------------- dates

@pytest.mark.parametrize(
    ("dates", "runs"),
    [
        ([], []),
        (["2026-11-27"], [("2026-11-27", "2026-11-27")]),
        (["2026-11-25", "2026-11-26", "2026-11-27"], [("2026-11-25", "2026-11-27")]),
        (["2026-11-27", "2026-11-22", "2026-11-26"],
         [("2026-11-22", "2026-11-22"), ("2026-11-26", "2026-11-27")]),
        (["2026-11-30", "2026-12-01"], [("2026-11-30", "2026-12-01")]),
    ],
)
def test_contiguous_runs(dates: list[str], runs: list[tuple[str, str]]) -> None:
    assert contiguous_runs([D(d) for d in dates]) == [(D(a), D(b)) for a, b in runs]


@given(st.sets(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)), max_size=40))
def test_contiguous_runs_cover_exactly_the_dates(dates: set[date]) -> None:
    runs = contiguous_runs(sorted(dates, reverse=True))
    covered = [a + timedelta(days=i) for a, b in runs for i in range((b - a).days + 1)]
    assert covered == sorted(dates)
    assert all(b + timedelta(days=1) < c for (_, b), (c, _) in zip(runs, runs[1:]))


# ---------------------------------------------------------------------------- run log

def test_runlog_round_trip(tmp_path: Path) -> None:
    run = RunLog.start(tmp_path, "epaper crawl --from 2026-11-26 --to 2026-11-27",
                       [D("2026-11-26"), D("2026-11-27")])
    run.date_outcome(D("2026-11-26"), "archived", articles=40, pages=8, duplicates=2)
    run.date_outcome(D("2026-11-27"), "failed",
                     failures=[{"url": "http://x/a.html", "reason": "HTTP 500"}])
    assert run.exit_status() == 1
    written = run.finish(1)
    assert read_runs(tmp_path) == [written]
    assert written["dates"] == ["2026-11-26", "2026-11-27"]
    assert written["outcomes"]["2026-11-26"] == {
        "status": "archived", "articles": 40, "pages": 8, "duplicates": 2, "failures": []}
    assert written["outcomes"]["2026-11-27"]["failures"] == [
        {"url": "http://x/a.html", "reason": "HTTP 500"}]
    assert written["exit_status"] == 1
    # ISO 8601 with the offset, in the portal's zone (default Asia/Shanghai)
    assert written["started"].endswith("+08:00") and written["ended"].endswith("+08:00")
    assert datetime.fromisoformat(written["ended"]).utcoffset() == timedelta(hours=8)
    with pytest.raises(RuntimeError):
        run.finish(0)


def test_runlog_latest_outcome_wins(tmp_path: Path) -> None:
    for status in ("failed", "no_issue", "archived"):
        with RunLog.start(tmp_path, "epaper crawl", [D("2026-11-27")], source="ahjjb") as run:
            run.date_outcome(D("2026-11-27"), status)
    # another paper's later outcome of that date is not this paper's
    with RunLog.start(tmp_path, "epaper crawl", [D("2026-11-27")], source="other") as run:
        run.date_outcome(D("2026-11-27"), "failed")
    runs = read_runs(tmp_path)
    assert [r["exit_status"] for r in runs] == [1, 0, 0, 1]
    runs = runs[:-1]
    latest = last_outcomes(tmp_path, "ahjjb")[D("2026-11-27")]
    assert latest["status"] == "archived"
    assert latest["run_id"] == runs[-1]["run_id"]


def test_runlog_context_manager_logs_a_crash(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        with RunLog.start(tmp_path, "epaper crawl", [D("2026-11-27")]):
            raise KeyError("boom")
    assert read_runs(tmp_path)[0]["exit_status"] == 1


def test_runlog_rejects_unknown_status(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        RunLog.start(tmp_path, "x", []).date_outcome(D("2026-11-27"), "done")


def test_runlog_tolerates_torn_last_line(tmp_path: Path) -> None:
    RunLog.start(tmp_path, "first", []).finish(0)
    with runs_path(tmp_path).open("ab") as fh:
        fh.write(b'{"run_id": "torn", "comm')  # a crash mid-write
    assert [r["command"] for r in read_runs(tmp_path)] == ["first"]
    RunLog.start(tmp_path, "after", []).finish(0)  # starts on a fresh line
    assert [r["command"] for r in read_runs(tmp_path)] == ["first", "after"]
    assert read_runs(tmp_path / "missing") == []


# ---------------------------------------------------------------------------- factory

def test_factory_jobs_as_configured(tmp_path: Path) -> None:
    config = make_config(**{"schedule.cron": "15 6 * * 1-5", "schedule.misfire_grace_time": 120})
    scheduler = build_scheduler(config, tmp_path, run=lambda: None)
    assert scheduler.state == 0  # built, not started
    assert scheduler.timezone == SHANGHAI
    job = scheduler.get_job(ARCHIVE_JOB_ID)
    assert job.coalesce is True
    assert job.max_instances == 1
    assert job.misfire_grace_time == 120
    trigger = job.trigger
    assert isinstance(trigger, CronTrigger)
    assert trigger.timezone == SHANGHAI
    fields = {f.name: str(f) for f in trigger.fields}
    assert (fields["minute"], fields["hour"], fields["day_of_week"]) == (
        "15", "6", "mon,tue,wed,thu,fri")
    # first fire from a Saturday is Monday 06:15 Shanghai time
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=SHANGHAI)
    assert trigger.get_next_fire_time(None, saturday) == datetime(
        2026, 11, 30, 6, 15, tzinfo=SHANGHAI)

    catchup = scheduler.get_job(CATCHUP_JOB_ID)
    assert catchup.max_instances == 1
    assert abs((catchup.next_run_time - datetime.now(SHANGHAI)).total_seconds()) < 5


def test_factory_timezone_from_config(tmp_path: Path) -> None:
    config = make_config(**{"schedule.timezone": "Europe/Paris", "schedule.cron": "0 5 * * * *"})
    scheduler = build_scheduler(config, tmp_path, run=lambda: None)
    job = scheduler.get_job(ARCHIVE_JOB_ID)
    assert job.trigger.timezone == ZoneInfo("Europe/Paris")
    assert {f.name: str(f) for f in job.trigger.fields}["second"] == "0"


class Runs:
    """A fake ``run`` callable: counts calls, signals each one."""

    def __init__(self) -> None:
        self.count = 0
        self.called = threading.Event()

    def __call__(self) -> None:
        self.count += 1
        self.called.set()


@contextlib.contextmanager
def running(scheduler):
    """The scheduler started in a thread, shut down (its jobs waited for) on leaving."""
    thread = threading.Thread(target=scheduler.start, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        scheduler.shutdown(wait=True)
        thread.join(timeout=10)
    assert not thread.is_alive()


def one_shot_jobs_gone(scheduler, jobs_left: int = 1) -> bool:
    """Until APScheduler has dropped the one-shot jobs that ran (shutting down before that
    races its own removal of the job), at most 5 s."""
    deadline = time.monotonic() + 5
    while len(scheduler.get_jobs()) > jobs_left and time.monotonic() < deadline:
        time.sleep(0.01)
    return len(scheduler.get_jobs()) <= jobs_left


@pytest.mark.parametrize(("late_by", "grace", "runs"), [
    (timedelta(days=3), 4 * 86400, 1),  # three missed daily runs, coalesced into one
    (timedelta(minutes=1), 3600, 1),
    (timedelta(hours=2), 3600, 0),  # beyond the grace time: skipped
])
def test_misfired_run(tmp_path: Path, late_by: timedelta, grace: int, runs: int) -> None:
    # Daily, 12 hours from now: no scheduled time falls between the missed one and now (at
    # "0 0 * * *" the test failed in the two hours after midnight, Shanghai time).
    hour = (datetime.now(SHANGHAI).hour + 12) % 24
    config = make_config(**{"schedule.cron": f"0 {hour} * * *", "schedule.misfire_grace_time": grace})
    fake = Runs()
    scheduler = build_scheduler(config, tmp_path, run=fake)
    assert isinstance(scheduler._jobstores["default"], MemoryJobStore)
    scheduler.remove_job(CATCHUP_JOB_ID)
    scheduler.modify_job(ARCHIVE_JOB_ID, next_run_time=datetime.now(SHANGHAI) - late_by)
    missed = threading.Event()
    scheduler.add_listener(lambda event: missed.set(), EVENT_JOB_MISSED)
    with running(scheduler):
        assert (fake.called if runs else missed).wait(timeout=10)
        assert fake.count == runs
        # the next run is the next scheduled one, not another catch-up of the past: no second run is due
        assert scheduler.get_job(ARCHIVE_JOB_ID).next_run_time > datetime.now(SHANGHAI)


def test_per_second_cron_runs_and_shuts_down(tmp_path: Path) -> None:
    config = make_config(**{"schedule.cron": "* * * * * *"})
    fake = Runs()
    scheduler = build_scheduler(config, tmp_path, run=fake)
    scheduler.remove_job(CATCHUP_JOB_ID)
    with running(scheduler):
        assert fake.called.wait(timeout=5)
    assert fake.count >= 1


def test_catchup_job_runs_at_start(tmp_path: Path) -> None:
    fake = Runs()
    scheduler = build_scheduler(make_config(), tmp_path, run=fake)  # next cron run: 07:30
    with running(scheduler):
        assert fake.called.wait(timeout=5)
        assert one_shot_jobs_gone(scheduler)  # the catch-up: one-shot
        assert scheduler.get_job(CATCHUP_JOB_ID) is None


def test_failing_run_does_not_stop_the_schedule(tmp_path: Path, capsys) -> None:
    calls: list[int] = []
    done = threading.Event()

    def run() -> None:
        calls.append(1)
        if len(calls) >= 2:
            done.set()
        raise OSError("archive unreadable")

    scheduler = build_scheduler(make_config(**{"schedule.cron": "* * * * * *"}), tmp_path,
                                run=run)
    with running(scheduler):
        assert done.wait(timeout=5)
    err = capsys.readouterr().err
    assert "schedule: run failed: OSError: archive unreadable" in err
    assert "Traceback (most recent call last)" in err and 'raise OSError("archive unreadable")' in err


class Lines(io.StringIO):
    """An output stream a test can wait on."""

    def wait_for(self, text: str, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while text not in self.getvalue():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True


@pytest.mark.parametrize(("statuses", "retries", "calls", "last"), [
    ([1, -15, 0], 3, 3, "next run at 2027-01-01T00:00:00+08:00\n"),  # retried until it worked
    ([1, 1, 1, 1], 2, 3, "(no more retries after 2)"),
    ([3], 2, 1, "next run at 2027-01-01T00:00:00+08:00\n"),  # archived but suspect: no retry
])
def test_failed_run_is_retried_with_backoff(tmp_path: Path, statuses, retries, calls, last) -> None:
    config = make_config(**{"schedule.cron": "0 0 1 1 *", "schedule.retries": retries,
                            "schedule.retry_delay": 0.05})
    done: list[int] = []

    def run() -> int:
        done.append(1)
        return statuses[len(done) - 1]

    out = Lines()
    scheduler = build_scheduler(config, tmp_path, run=run, out=out)
    with running(scheduler):
        assert out.wait_for(last), out.getvalue()
        one_shot_jobs_gone(scheduler)
    assert len(done) == calls
    lines = out.getvalue().splitlines()
    assert len(lines) == calls
    retry_lines = [line for line in lines if "(retry" in line]
    assert [line.rsplit("(", 1)[1] for line in retry_lines] == [
        f"retry {n} of {retries})" for n in range(1, len(retry_lines) + 1)]
    assert all(line.startswith("schedule: next run at 20") for line in lines)


def test_no_retry_past_the_next_scheduled_run(tmp_path: Path) -> None:
    config = make_config(**{"schedule.cron": "0 0 1 1 *", "schedule.retry_delay": 86400.0 * 400})
    out = Lines()
    scheduler = build_scheduler(config, tmp_path, run=lambda: 1, out=out)
    with running(scheduler):
        assert out.wait_for("(the next scheduled run comes before a retry)")
        one_shot_jobs_gone(scheduler)


# ---------------------------------------------------------------------------- one run

RECORDER = textwrap.dedent("""
    import json, os, sys
    with open(os.environ["RECORD"], "a") as fh:
        fh.write(json.dumps({"argv": sys.argv[1:],
                             "marker": os.environ.get("EPAPER_LOCK_HELD_BY_PARENT")}) + "\\n")
    sys.exit(int(os.environ.get("EXIT", "0")))
""")


def recorded(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_run_once_crawls_contiguous_gaps_then_latest(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for day in ("2026-11-21", "2026-11-25", "2026-11-26"):
        write_day(data, D(day))
    write_day(data, D("2026-11-22"), complete=False)
    write_run(data, "2026-11-25T02:00:00Z", {"2026-11-24": "no_issue"})  # confirmed
    write_run(data, "2026-11-23T02:00:00Z", {"2026-11-23": "no_issue"})  # 10:00 that day: not yet
    record = tmp_path / "record.jsonl"
    runner = ChildRunner(env={"RECORD": str(record), HELD_BY_PARENT_ENV: "4242"})
    config = make_config(**{"portal.base_url": "http://127.0.0.1:9/paper/",
                            "schedule.catchup_days": 7})
    status = run_once(config, data, runner=runner, today=D("2026-11-27"),
                      crawl_command=[sys.executable, "-c", RECORDER])
    assert status == 0
    calls = recorded(record)
    tail = ["--data", str(data), "--source", "ahjjb", "--base-url", "http://127.0.0.1:9/paper/"]
    assert [c["argv"] for c in calls] == [
        ["--from", "2026-11-22", "--to", "2026-11-23", *tail],
        ["--date", "2026-11-27", *tail],
        # the window holds snapshots, so the newest issue is in it: no --latest
    ]
    assert {c["marker"] for c in calls} == {"4242"}


def test_run_once_latest_when_today_archived_or_failed(tmp_path: Path, capsys) -> None:
    record = tmp_path / "record.jsonl"
    config_file = tmp_path / "epaper.toml"
    config_file.write_text("[schedule]\ncatchup_days = 2\n")
    config = load_config(config_file, env={})
    command = [sys.executable, "-c", RECORDER]
    runner = ChildRunner(env={"RECORD": str(record)})
    today = D("2026-11-27")

    data = tmp_path / "data"
    write_day(data, today)
    write_day(data, today - timedelta(days=1))
    assert run_once(config, data, runner=runner, today=today, crawl_command=command) == 0
    assert not record.exists()  # the newest issue is archived complete: nothing is fetched again
    assert ("nothing to catch up; latest not needed (newest archived issue 2026-11-27)"
            in capsys.readouterr().out)

    # a weekend: the window's days are confirmed without an issue, Friday archived
    weekend = tmp_path / "weekend"
    write_day(weekend, D("2026-11-27"))
    write_run(weekend, "2026-11-30T02:00:00Z", {"2026-11-28": "no_issue", "2026-11-29": "no_issue"})
    # (no recheck: Friday's, due the day after, is tests/test_rechecks.py's)
    assert run_once(make_config(**{"schedule.catchup_days": 3, "schedule.recheck_days": ()}), weekend,
                    runner=runner, today=D("2026-11-29"), crawl_command=command) == 0
    assert not record.exists()
    assert "latest not needed (newest archived issue 2026-11-27)" in capsys.readouterr().out

    runner = ChildRunner(env={"RECORD": str(record), "EXIT": "1"})
    assert run_once(config, tmp_path / "empty", runner=runner, today=today,
                    crawl_command=command) == 1
    assert [c["argv"][:2] for c in recorded(record)] == [["--from", "2026-11-26"],
                                                        ["--latest", "--data"]]
    line = capsys.readouterr().out.strip()
    assert "\n" not in line
    assert "2026-11-26..2026-11-27 exit 1; latest exit 1" in line


def test_run_once_without_a_window_fetches_the_latest(tmp_path: Path, capsys) -> None:
    record = tmp_path / "record.jsonl"
    runner = ChildRunner(env={"RECORD": str(record)})
    config = make_config(**{"schedule.catchup_days": 0})
    write_day(tmp_path / "data", D("2026-11-27"))
    assert run_once(config, tmp_path / "data", runner=runner, today=D("2026-11-27"),
                    crawl_command=[sys.executable, "-c", RECORDER], child_flags=["--quiet"]) == 0
    assert [c["argv"][:2] for c in recorded(record)] == [["--latest", "--quiet"]]


@pytest.mark.parametrize(("exit_status", "quiet_output"), [(0, False), (1, True)])
def test_update_is_one_quiet_run(tmp_path: Path, capfd, exit_status: int, quiet_output: bool) -> None:
    from epaper.schedule import run_update

    record = tmp_path / "record.jsonl"
    data = tmp_path / "data"
    write_day(data, D("2026-11-25"))
    config = make_config(**{"schedule.catchup_days": 3})
    os.environ["RECORD"], os.environ["EXIT"] = str(record), str(exit_status)
    try:
        status = run_update(config, data, crawl_command=[sys.executable, "-c", RECORDER],
                            today=D("2026-11-27"))
    finally:
        del os.environ["RECORD"], os.environ["EXIT"]
    assert status == exit_status
    calls = recorded(record)
    assert [c["argv"][:5] for c in calls] == [["--from", "2026-11-26", "--to", "2026-11-27", "--quiet"]]
    assert {c["marker"] for c in calls} == {str(os.getpid())}  # the lock is ours, held for them
    out, err = capfd.readouterr()
    assert out == ""
    assert bool(err) == quiet_output
    if quiet_output:
        assert "2026-11-26..2026-11-27 exit 1" in err
    assert not ArchiveLock(data).acquire().release()  # released


def test_update_refuses_a_locked_archive(tmp_path: Path, capsys) -> None:
    from epaper.exits import LOCKED
    from epaper.schedule import run_update

    with ArchiveLock(tmp_path, command="epaper crawl"):
        assert run_update(make_config(), tmp_path, crawl_command=[sys.executable, "-c", "pass"]) == LOCKED
        assert run_update(make_config(), tmp_path, crawl_command=[sys.executable, "-c", "pass"],
                          json_lines=True) == LOCKED
    first, second = capsys.readouterr().err.splitlines()
    assert first.startswith("epaper update: archive") and "locked by pid" in first
    assert json.loads(second)["event"] == "locked"


def test_crawl_argv_default_command(tmp_path: Path) -> None:
    argv = crawl_argv(make_config(), tmp_path, ["--latest"])
    assert argv == [sys.executable, "-m", "epaper", "crawl", "--latest",
                    "--data", str(tmp_path), "--source", "ahjjb"]


@pytest.mark.parametrize(("ignore_term", "status"), [(False, -signal.SIGTERM),
                                                     (True, -signal.SIGKILL)])
def test_child_timeout(tmp_path: Path, ignore_term: bool, status: int) -> None:
    code = "import signal, time\n"
    if ignore_term:
        code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    code += "print('started', flush=True)\ntime.sleep(60)\n"
    runner = ChildRunner(kill_grace=0.5)
    start = time.monotonic()
    assert runner.run([sys.executable, "-c", code], timeout=1) == status
    assert time.monotonic() - start < 10


# ---------------------------------------------------------------------------- run_scheduler

SCHEDULER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from epaper.config import load_config
    from epaper.schedule import run_scheduler
    config = load_config(None, env={}, overrides={"schedule.catchup_days": 1,
                                                  "schedule.cron": "0 0 1 1 *"})
    sys.exit(run_scheduler(config, Path(sys.argv[1]), crawl_command=json.loads(sys.argv[2]),
                           kill_grace=float(sys.argv[3])))
""")

SLEEPER = textwrap.dedent("""
    import os, signal, sys, time
    if os.environ.get("IGNORE_TERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with open(os.environ["PIDFILE"], "w") as fh:
        fh.write(str(os.getpid()))
    print("child running", sys.argv[1:3], flush=True)
    time.sleep(60)
""")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize(("sig", "ignore_term"), [
    (signal.SIGTERM, False),
    (signal.SIGINT, False),
    (signal.SIGTERM, True),  # a child that ignores SIGTERM is killed after the grace time
])
def test_signal_stops_scheduler_and_child(tmp_path: Path, sig: int, ignore_term: bool) -> None:
    pidfile = tmp_path / "child.pid"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PIDFILE": str(pidfile)}
    if ignore_term:
        env["IGNORE_TERM"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-c", SCHEDULER, str(tmp_path / "data"),
         json.dumps([sys.executable, "-c", SLEEPER]), "1"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not (pidfile.exists() and pidfile.read_text()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "child crawl never started"
            time.sleep(0.05)
        child = int(pidfile.read_text())
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert not pid_alive(child)
    assert "child running ['--date'" in out  # the child's output reaches ours
    assert "schedule: stopping" in out
    assert "stopped" in out.splitlines()[-1]
    assert "Traceback" not in err


def test_run_scheduler_refuses_a_locked_archive(tmp_path: Path, capsys) -> None:
    with ArchiveLock(tmp_path, command="epaper crawl"):
        status = run_scheduler(make_config(), tmp_path, crawl_command=[sys.executable, "-c", "pass"])
    assert status == 75  # its own status (epaper.exits.LOCKED): not a failed crawl
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"epaper schedule: archive {tmp_path} is locked by pid {os.getpid()}")



def test_stopping_the_scheduler_signals_the_child_once(tmp_path: Path, monkeypatch) -> None:
    # systemctl stop: SIGTERM to the scheduler during a crawl. The stopper asks the child to
    # stop, then the scheduler's exit path ends it: the child must get one SIGTERM (a second
    # one makes Scrapy force an unclean shutdown), and SIGKILL only after the grace time.
    sent: list[int] = []
    real_killpg = os.killpg

    def killpg(pgid: int, sig: int) -> None:
        sent.append(sig)
        real_killpg(pgid, sig)

    monkeypatch.setattr("epaper.schedule.os.killpg", killpg)
    pidfile = tmp_path / "child.pid"
    code = textwrap.dedent(f"""
        import os, signal, sys, time
        signal.signal(signal.SIGTERM, lambda *a: None)
        open({str(pidfile)!r}, "w").write(str(os.getpid()))
        signal.pause()
        time.sleep(0.3)  # winds down as a crawl does
        sys.exit(1)
    """)
    runner = ChildRunner(kill_grace=30)
    result: list[int | None] = []
    thread = threading.Thread(target=lambda: result.append(runner.run([sys.executable, "-c", code],
                                                                      timeout=None)))
    thread.start()
    deadline = time.monotonic() + 20
    while not (pidfile.exists() and pidfile.read_text()):
        assert time.monotonic() < deadline, "child never started"
        time.sleep(0.02)
    runner.request_stop()  # the signal handler's watcher
    runner.stop()  # run_scheduler once the scheduler has shut down
    thread.join(timeout=40)
    assert sent == [signal.SIGTERM]
    assert result == [1]  # it ended by itself

"""What the benchmarks share: the replica, the crawl subprocess, timing, the result rows.

A result row is a dict: name, value, goal (text, "-" for figures without a goal), ok.
"""
from __future__ import annotations

import datetime as dt
import gc
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DELAY = 0.02  # seconds the replica waits before each response (the throughput setting)
BENCH_SETTINGS = {  # the benchmark settings: concurrency 16, no delay, no AutoThrottle
    "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "false",
}


def row(name: str, value, goal: str = "-", ok: bool = True) -> dict:
    return {"name": name, "value": value, "goal": goal, "ok": bool(ok)}


@dataclass
class Span:
    """The replica's dates: `start`..`end` (three months), and the one month of the memory test."""

    start: dt.date
    end: dt.date
    month_end: dt.date


FULL = Span(dt.date(2023, 7, 1), dt.date(2023, 9, 30), dt.date(2023, 7, 31))
QUICK = Span(dt.date(2023, 7, 24), dt.date(2023, 8, 11), dt.date(2023, 8, 4))


@dataclass
class CrawlRun:
    """One `epaper crawl` child: wall time, CPU, peak RSS, exit status, the paths it requested."""

    start: dt.date
    end: dt.date
    data: Path
    status: int
    wall: float
    cpu: float
    max_rss_mb: float
    requests: list[str]
    stdout: str
    stderr: str
    extra: dict = field(default_factory=dict)


class Context:
    """The bench's work folder, the replica built once, and results other benchmarks reuse."""

    def __init__(self, work: Path | None, quick: bool = False, keep: bool = False) -> None:
        self.quick = quick
        self.span = QUICK if quick else FULL
        self.keep = keep or work is not None
        self.work = Path(work) if work else Path(tempfile.mkdtemp(prefix="epaper-bench-"))
        self.work.mkdir(parents=True, exist_ok=True)
        self.replica = self.work / "replica"
        self.cache: dict[str, object] = {}
        self._truth: dict | None = None

    # -- the replica ---------------------------------------------------------------------

    def build_replica(self) -> Path:
        """The pc-rmrb replica of the span (6-8 pages a day, 5-10 articles a page), built once."""
        from epaper.replica.build import build_site

        stamp = self.replica / "span.json"
        want = {"start": self.span.start.isoformat(), "end": self.span.end.isoformat(), "seed": 1}
        if not (stamp.exists() and json.loads(stamp.read_text()) == want):
            build_site(self.replica, start=self.span.start, end=self.span.end, generation="pc",
                       template="pc-rmrb", seed=1)
            stamp.write_text(json.dumps(want))
        return self.replica / "site"

    @property
    def truth(self) -> dict:
        if self._truth is None:
            self._truth = json.loads((self.replica / "truth.json").read_text(encoding="utf-8"))
        return self._truth

    def serve(self, delay: float = DELAY):
        """The replica on 127.0.0.1, answering after `delay` seconds."""
        from epaper.replica.server import serve

        return serve(self.build_replica(), delay=delay)

    def fresh_dir(self, name: str) -> Path:
        path = self.work / name
        if path.exists():
            shutil.rmtree(path)
        return path

    def cleanup(self) -> None:
        if not self.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    # -- crawling ------------------------------------------------------------------------

    def crawl(self, server, start: dt.date, end: dt.date, data: Path,
              settings: dict[str, str] | None = None) -> CrawlRun:
        """`python -m epaper crawl` as a child process, with the benchmark settings."""
        overrides = {**BENCH_SETTINGS, **(settings or {})}
        cmd = [sys.executable, "-m", "epaper", "crawl", "--from", start.isoformat(),
               "--to", end.isoformat(), "--base-url", server.base_url, "--data", str(data)]
        for name, value in overrides.items():
            cmd += ["-s", f"{name}={value}"]
        first = len(server.requests)
        status, wall, cpu, rss, out, err = run_child(cmd)
        return CrawlRun(start, end, data, status, wall, cpu, rss, list(server.requests[first:]), out, err)


class PeakRss(threading.Thread):
    """Polls a process's VmHWM (peak resident set of its own memory since exec) until it exits.

    Not `ru_maxrss` (os.wait4, getrusage(RUSAGE_CHILDREN)): on Linux that survives exec, so a
    child started by a 700 MB bench process reports at least 700 MB whatever it used itself.
    VmHWM only rises, so the last reading before the process ends is its peak.
    """

    def __init__(self, pid: int, every: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.path, self.every, self.kb = f"/proc/{pid}/status", every, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                with open(self.path, "rb") as fh:
                    for line in fh:
                        if line.startswith(b"VmHWM:"):
                            self.kb = max(self.kb, int(line.split()[1]))
                            break
                    else:
                        return  # a zombie: no memory any more
            except (OSError, ValueError):
                return
            time.sleep(self.every)


def run_child(cmd: list[str], cwd: Path = REPO) -> tuple[int, float, float, float, str, str]:
    """Run cmd; return (exit status, wall s, CPU s, peak RSS MB, stdout, stderr) of that child alone."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        peak = PeakRss(proc.pid)
        peak.start()
        _, wait_status, usage = os.wait4(proc.pid, 0)  # this child's own CPU time
        wall = time.perf_counter() - t0
        peak.done.set()
        peak.join()
        proc.returncode = os.waitstatus_to_exitcode(wait_status)
        rss_mb = peak.kb / 1024 if peak.kb else usage.ru_maxrss / 1024  # no /proc: the upper bound
        out.seek(0)
        err.seek(0)
        return (proc.returncode, wall, usage.ru_utime + usage.ru_stime, rss_mb,
                out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))


def best_of(fn, reps: int) -> float:
    """Minimum wall time of `reps` calls of fn (the least disturbed one on a shared machine)."""
    best = float("inf")
    for _ in range(reps):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def machine() -> str:
    """One line naming the machine and the versions that matter."""
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = 0.0
    versions = []
    for mod in ("scrapy", "lxml", "pyarrow", "duckdb", "trafilatura"):
        try:
            versions.append(f"{mod} {__import__(mod).__version__}")
        except Exception:
            pass
    return (f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores, {mem:.0f} GB RAM, "
            f"Python {platform.python_version()}, " + ", ".join(versions))

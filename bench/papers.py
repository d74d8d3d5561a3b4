"""Many papers: one `epaper update` for 50 replica papers of mixed templates, each on its own
port, at the default politeness (DOWNLOAD_DELAY 0.5, AutoThrottle on, CONCURRENT_REQUESTS 4).

    python -m bench.papers [--papers N] [--work DIR] [--md FILE]

The papers are the first N of `replica.papers.plan_papers` (templates cycling, generations
alternating), built for the three weeks up to today (Asia/Shanghai) and served by this process.
The config holds one [[portal]] table per paper, `schedule.catchup_days` the fewest days
(at least 2) whose window holds two issues of the replica's schedule, and no [crawl] key: the
defaults are the measured politeness.

Runs, each into a fresh archive, each `epaper update` a child of this process:
1. `epaper update` for every paper: wall time, CPU of the whole process tree (user+sys: the
   update and every crawl child it waited for, from getrusage(RUSAGE_CHILDREN) once it ended),
   peak memory (the sum of the tree's resident sets, polled, and the largest single process).
2. `epaper update --source ID` for the slowest paper alone: the paper with the most requests
   in the window by the replica's truth (issue pages + articles of its issues), the one whose
   crawl is longest at a fixed delay. Goal: run 1 at most 1.5 times its wall time.
3. `epaper crawl --date D --source ID` of one date with no issue, alone: the fixed cost of a
   crawl child (interpreter, Scrapy, the calendar), which every paper pays once a run.

Both updates are checked against the replicas' truth (every article of every issue in the
window archived under its paper) before a figure is given. From the figures: the number of
papers at which this machine becomes CPU-bound, for the daily update and for a ten-year
backfill (markdown table with the arithmetic, written by --md). Also `python -m bench --only papers`.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import row  # noqa: E402

PAPERS = 50
TZ = ZoneInfo("Asia/Shanghai")
SPAN_DAYS = 21  # the replica's span up to today (under 30: no summer-style break in it)
WINDOW_ISSUES = 2  # issues of each paper the update's catch-up window holds
GOAL_RATIO = 1.5
TIMEOUT = 3600.0
BACKFILL_YEARS = 10
ISSUES_PER_YEAR = 250  # Mon-Fri, minus holidays: the replica's schedule, as of many papers
DAY_S = 86_400


@dataclass
class TreeRun:
    """One child command and everything it started: exit status, wall, CPU, memory."""

    status: int
    wall: float
    cpu: float  # user + sys of the whole tree (the children it waited for)
    peak_sum_mb: float  # the largest sum of the tree's resident sets at one poll
    peak_pss_mb: float  # the largest sum of the tree's proportional sets (shared pages split)
    peak_one_mb: float  # the largest peak resident set of one process of the tree
    max_procs: int
    server_cpu: float  # this process's own CPU meanwhile: the replica servers and the poller
    stderr: str


class TreeMemory(threading.Thread):
    """Polls a process and its descendants (/proc): the peak of their summed VmRSS (a shared
    page counted in each process), of their summed Pss (every `pss_every`-th poll: reading
    smaps_rollup walks each process's memory map) and the largest VmHWM of any one of them."""

    def __init__(self, pid: int, every: float = 0.5, pss_every: int = 4) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.pss_every = pid, every, pss_every
        self.peak_sum_kb = self.peak_pss_kb = self.peak_one_kb = self.max_procs = 0
        self.done = threading.Event()

    def run(self) -> None:
        polls = 0
        while not self.done.is_set():
            self.poll(pss=polls % self.pss_every == 0)
            polls += 1
            self.done.wait(self.every)

    def poll(self, pss: bool = False) -> None:
        parents: dict[int, int] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    with open(f"/proc/{entry.name}/stat", "rb") as fh:
                        stat = fh.read()
                except OSError:
                    continue
                parents[int(entry.name)] = int(stat[stat.rindex(b")") + 2:].split()[1])
        tree, grew = {self.pid}, True
        while grew:
            more = {p for p, pp in parents.items() if pp in tree and p not in tree}
            tree |= more
            grew = bool(more)
        total = pss_total = 0
        for pid in tree:
            rss = hwm = 0
            try:
                with open(f"/proc/{pid}/status", "rb") as fh:
                    for line in fh:
                        if line.startswith(b"VmRSS:"):
                            rss = int(line.split()[1])
                        elif line.startswith(b"VmHWM:"):
                            hwm = int(line.split()[1])
            except (OSError, ValueError):
                continue
            total += rss
            self.peak_one_kb = max(self.peak_one_kb, hwm)
            if pss:
                try:
                    with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
                        pss_total += next((int(ln.split()[1]) for ln in fh if ln.startswith(b"Pss:")), 0)
                except (OSError, ValueError):
                    pass
        self.peak_sum_kb = max(self.peak_sum_kb, total)
        self.peak_pss_kb = max(self.peak_pss_kb, pss_total)
        self.max_procs = max(self.max_procs, len(tree))


def child_env() -> dict[str, str]:
    """This environment without EPAPER_* variables: the config file alone decides."""
    return {k: v for k, v in os.environ.items() if not k.startswith("EPAPER_")}


def run_tree(cmd: list[str], cwd: Path) -> TreeRun:
    before, self_before = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                                env=child_env())
        watch = TreeMemory(proc.pid)
        watch.start()
        try:
            status = proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            status = proc.wait()
        wall = time.perf_counter() - t0
        watch.done.set()
        watch.join()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    after, self_after = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    own = (self_after.ru_utime - self_before.ru_utime) + (self_after.ru_stime - self_before.ru_stime)
    return TreeRun(status, wall, cpu, watch.peak_sum_kb / 1024, watch.peak_pss_kb / 1024, watch.peak_one_kb / 1024,
                   watch.max_procs,
                   own, stderr)


def window(today: dt.date) -> int:
    """The fewest catch-up days (at least 2) whose window, ending today, holds WINDOW_ISSUES
    issues of the replica's schedule."""
    from epaper.replica.plan import issue_dates

    days = 2
    while len(issue_dates(today - dt.timedelta(days=days - 1), today)[0]) < WINDOW_ISSUES:
        days += 1
    return days


def requests_in(truth: dict, dates: set[str]) -> int:
    """Pages and articles of the paper's issues on `dates`: what a crawl of them fetches at least."""
    issues = [v for d, v in truth["issues"].items() if d in dates]
    return sum(len(i["pages"]) for i in issues) + sum(1 for a in truth["articles"] if a["issue_date"] in dates)


def check(data: Path, papers, dates: set[str]) -> list[str]:
    """What the archive lacks or holds beyond the truth, per paper (article URLs by date)."""
    from urllib.parse import urljoin

    from epaper.storage.load import load_articles

    problems = []
    for p in papers:
        want = sorted((a["issue_date"], urljoin(p.base_url, a["url"])) for a in p.truth["articles"]
                      if a["issue_date"] in dates)
        try:
            rows = load_articles(data, columns=["issue_date", "url"], sources=[p.id]).to_pylist()
        except Exception as exc:  # not an archive, no such paper: the update failed it
            problems.append(f"{p.id}: {type(exc).__name__}: {exc}")
            continue
        got = sorted((r["issue_date"].isoformat(), r["url"]) for r in rows)
        if got != want:
            problems.append(f"{p.id}: {len(got)} articles archived, {len(want)} in the truth")
    return problems


def write_config(path: Path, papers, catchup_days: int) -> None:
    from epaper.replica.papers import portal_tables

    path.write_text(f"[schedule]\ncatchup_days = {catchup_days}\ntimezone = \"Asia/Shanghai\"\n\n"
                    + portal_tables(papers), encoding="utf-8")


def update(config: Path, data: Path, *sources: str) -> list[str]:
    cmd = [sys.executable, "-m", "epaper", "update", "--config", str(config), "--data", str(data)]
    for s in sources:
        cmd += ["--source", s]
    return cmd


def measure(n: int, work: Path) -> dict:
    from epaper.replica.papers import plan_papers, serve_papers

    today = dt.datetime.now(TZ).date()
    days = window(today)
    dates = {(today - dt.timedelta(days=k)).isoformat() for k in range(days)}
    start = today - dt.timedelta(days=SPAN_DAYS - 1)
    t0 = time.perf_counter()
    with serve_papers(work / "replica", plan_papers(n), start=start, end=today) as papers:
        built = time.perf_counter() - t0
        issues = {p.id: sorted(d for d in p.truth["issues"] if d in dates) for p in papers}
        no_issue = sorted(d for d in papers[0].truth["no_issue_dates"] if d < min(dates) or d in dates)
        print(f"{n} papers ({len({p.template for p in papers})} templates) built and served in {built:.1f} s; "
              f"today {today}, catch-up window {days} days, {sum(map(len, issues.values()))} issues",
              file=sys.stderr, flush=True)
        config = work / "epaper.toml"
        write_config(config, papers, days)
        cost = {p.id: requests_in(p.truth, dates) for p in papers}
        slowest = max(papers, key=lambda p: (cost[p.id], p.id))

        all_data = work / "all"
        everyone = run_tree(update(config, all_data), REPO)
        print(f"all {n}: status {everyone.status}, {everyone.wall:.1f} s, CPU {everyone.cpu:.1f} s, "
              f"peak {everyone.peak_pss_mb:.0f} MB Pss, {everyone.peak_sum_mb:.0f} MB RSS summed, "
              f"{everyone.max_procs} processes; replica CPU {everyone.server_cpu:.1f} s", file=sys.stderr, flush=True)
        if everyone.stderr.strip():
            print(everyone.stderr.strip()[-3000:], file=sys.stderr, flush=True)
        all_problems = check(all_data, papers, dates)

        alone_data = work / "alone"
        alone = run_tree(update(config, alone_data, slowest.id), REPO)
        print(f"{slowest.id} alone: status {alone.status}, {alone.wall:.1f} s, CPU {alone.cpu:.1f} s",
              file=sys.stderr, flush=True)
        alone_problems = check(alone_data, [slowest], dates)

        idle_data = work / "idle"
        idle = run_tree([sys.executable, "-m", "epaper", "crawl", "--config", str(config), "--source", papers[0].id,
                         "--date", no_issue[-1], "--data", str(idle_data), "--quiet"], REPO)
        if dt.datetime.now(TZ).date() != today:
            all_problems.append(f"the date changed during the bench ({today} to {dt.datetime.now(TZ).date()}): run again")
    return {"papers": n, "templates": len({p.template for p in papers}), "today": today.isoformat(),
            "catchup_days": days, "issues": sum(map(len, issues.values())), "issues_per_paper": WINDOW_ISSUES,
            "slowest": slowest.id, "slowest_template": slowest.template, "slowest_requests": cost[slowest.id],
            "median_requests": sorted(cost.values())[len(cost) // 2],
            "all": everyone.__dict__, "alone": alone.__dict__, "idle": idle.__dict__, "idle_date": no_issue[-1],
            "all_problems": all_problems, "alone_problems": alone_problems}


def derive(m: dict) -> dict:
    """The per-paper figures and the CPU-bound points, with the arithmetic."""
    n, cores = m["papers"], os.cpu_count() or 1
    per_issue_all = m["all"]["cpu"] / m["issues"]  # everything included: children, update, compact
    fixed = m["idle"]["cpu"]  # one crawl child that archives nothing
    marginal = max(m["all"]["cpu"] / n - fixed, 0.0) / m["issues_per_paper"]  # one more issue in a child
    daily = fixed + marginal  # a paper's day: one child, one issue
    # The slowest paper alone is bound by its politeness, not by CPU: its wall time over its
    # issues is how long one issue takes at the default delay (the fixed part left out).
    issue_wall = max(m["alone"]["wall"] - m["idle"]["wall"], 0.0) / m["issues_per_paper"]
    backfill_issues = BACKFILL_YEARS * ISSUES_PER_YEAR
    return {"cores": cores, "cpu_per_issue": per_issue_all, "fixed": fixed, "marginal": marginal,
            "daily": daily, "issue_wall": issue_wall, "daily_wall": m["idle"]["wall"] + issue_wall,
            "daily_papers_run": cores * (m["idle"]["wall"] + issue_wall) / daily,
            "daily_papers_day": cores * DAY_S / daily,
            "backfill_issues": backfill_issues,
            "backfill_papers": cores * issue_wall / marginal if marginal else float("inf"),
            "backfill_days_one": backfill_issues * issue_wall / DAY_S}


def rows(m: dict, d: dict) -> list[dict]:
    a, alone = m["all"], m["alone"]
    ratio = a["wall"] / alone["wall"]
    ok = not m["all_problems"] and not m["alone_problems"] and a["status"] == 0 and alone["status"] == 0
    return [
        row(f"papers: update of {m['papers']} papers, every issue archived", "yes" if ok else
            "; ".join((m["all_problems"] + m["alone_problems"])[:3]) or f"status {a['status']}/{alone['status']}",
            "yes", ok),
        row(f"papers: update of {m['papers']} papers, wall (s)", round(a["wall"], 1)),
        row(f"papers: slowest alone ({m['slowest']}, {m['slowest_requests']} pages+articles), wall (s)",
            round(alone["wall"], 1)),
        row("papers: all / slowest alone, wall", round(ratio, 2), f"<= {GOAL_RATIO}", ratio <= GOAL_RATIO),
        row("papers: CPU per paper-day (s, whole tree / issues)", round(d["cpu_per_issue"], 2)),
        row("papers: CPU of one crawl child archiving nothing (s)", round(d["fixed"], 2)),
        row("papers: peak memory, whole tree, summed Pss (MB)", round(a["peak_pss_mb"])),
        row("papers: peak memory, whole tree, summed RSS (MB)", round(a["peak_sum_mb"])),
        row("papers: peak memory, largest process (MB)", round(a["peak_one_mb"])),
        row("papers: CPU-bound from, daily update (papers)", round(d["daily_papers_run"])),
        row(f"papers: CPU-bound from, {BACKFILL_YEARS}-year backfill (papers)", round(d["backfill_papers"])),
    ]


def arithmetic(m: dict, d: dict) -> str:
    """The CPU-bound table as Markdown, each figure with its arithmetic."""
    a, n = m["all"], m["papers"]
    lines = [
        f"{n} papers, {m['templates']} templates, {m['issues']} issues ({m['issues_per_paper']} a paper) in a "
        f"{m['catchup_days']}-day catch-up window ending {m['today']}; {d['cores']} cores.",
        "",
        "| figure | arithmetic | value |",
        "| --- | --- | ---: |",
        f"| CPU per paper-day, all in | {a['cpu']:.1f} s tree CPU / {m['issues']} issues | {d['cpu_per_issue']:.2f} s |",
        f"| fixed cost of a crawl child (F) | `epaper crawl --date {m['idle_date']}` (no issue), alone | {d['fixed']:.2f} s |",
        f"| one more issue in a child (m) | ({a['cpu']:.1f} / {n} - {d['fixed']:.2f}) / {m['issues_per_paper']} | "
        f"{d['marginal']:.2f} s |",
        f"| a paper's daily update (c = F + m: one child, one issue) | {d['fixed']:.2f} + {d['marginal']:.2f} | "
        f"{d['daily']:.2f} s |",
        f"| one paper's daily update alone, wall (W = no-issue child + t, t below) | {m['idle']['wall']:.1f} + "
        f"{d['issue_wall']:.1f} | {d['daily_wall']:.1f} s |",
        f"| **daily: CPU-bound from** (the run no longer as fast as one paper alone: N c > cores W) | "
        f"{d['cores']} cores x {d['daily_wall']:.1f} s / {d['daily']:.2f} s | **{d['daily_papers_run']:.0f} papers** |",
        f"| daily: a whole day of CPU | {d['cores']} x {DAY_S} s / {d['daily']:.2f} s | {d['daily_papers_day']:,.0f} papers |",
        f"| one issue at the default politeness (t) | ({m['alone']['wall']:.1f} s alone - {m['idle']['wall']:.1f} s "
        f"no-issue child) / {m['issues_per_paper']} | {d['issue_wall']:.1f} s |",
        f"| **{BACKFILL_YEARS}-year backfill: CPU-bound from** (each paper at its politeness uses m / t of a core) | "
        f"{d['cores']} x {d['issue_wall']:.1f} / {d['marginal']:.2f} | **{d['backfill_papers']:.0f} papers** |",
        f"| {BACKFILL_YEARS}-year backfill of one paper, politeness-bound | {d['backfill_issues']} issues x "
        f"{d['issue_wall']:.1f} s | {d['backfill_days_one']:.1f} days |",
    ]
    return "\n".join(lines) + "\n"


def run(ctx=None) -> list[dict]:
    """`python -m bench --only papers`: the default run, in the bench's work folder."""
    work = Path(ctx.work) / "papers" if ctx is not None else Path(tempfile.mkdtemp(prefix="epaper-papers-"))
    m = measure(PAPERS, work)
    return rows(m, derive(m))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.papers", description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=PAPERS, help=f"how many papers (default {PAPERS})")
    parser.add_argument("--work", type=Path, help="work folder (kept); default a temporary one")
    parser.add_argument("--md", type=Path, help="also write the results and the arithmetic as Markdown")
    parser.add_argument("--json", type=Path, help="also write the raw measurements as JSON")
    args = parser.parse_args(argv)
    if args.papers < 2:
        parser.error("--papers: at least 2")
    import shutil

    from bench.__main__ import commit, markdown
    from bench.__main__ import table as text_table
    from bench.common import machine

    work = args.work or Path(tempfile.mkdtemp(prefix="epaper-papers-"))
    try:
        m = measure(args.papers, work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    d = derive(m)
    results = rows(m, d)
    header = (f"Run of {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} at {commit()} on {machine()}.")
    print(header)
    print(text_table(results))
    print(arithmetic(m, d))
    if args.md:
        args.md.write_text(markdown(results, header) + "\n" + arithmetic(m, d), encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps({"measured": m, "derived": d}, indent=1) + "\n", encoding="utf-8")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

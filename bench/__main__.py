"""`python -m bench` (or `make bench`): every benchmark in one run, on the same data, one table.

    python -m bench [--quick] [--only NAME,...] [--work DIR] [--md FILE]

It builds a replica of three months of the paper (pc-rmrb: 6-8 pages a day, 5-10 articles a
page) in a temporary folder (or --work, then kept), runs the benchmarks below and prints one
row per figure with its goal. --quick: a 19-day replica, 50,000 storage rows, fewer passes,
no dedupe benchmark: a smoke run of a minute or two. --md writes the table as Markdown with
the date and the machine (for BENCHMARKS.md). Exit status 1 when a goal is missed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import Context, machine, row  # noqa: E402

# (name, module, heading): run in this order (the crawl benchmarks share the three-month crawl);
# printed in the order.
BENCHES = [
    ("throughput", "bench.throughput", 2),
    ("requests", "bench.requests_eff", 1),
    ("memory", "bench.memory", 4),
    ("cpu", "bench.cpu", 3),
    ("storage", "bench.storage", 5),
    ("dedupe", "bench.dedupe_bench", 6),
    ("media", "bench.media", 7),
    ("alarms", "bench.alarms", 8),  # a year of every template: only when named (--only alarms)
    ("papers", "bench.papers", 9),  # 50 papers at default politeness: only when named (--only papers)
]
ALONE = {"alarms": "python -m bench.alarms, ~30 min", "papers": "python -m bench.papers, ~10 min"}
BUDGET_S = 15 * 60


def commit() -> str:
    """The commit measured (with "+changes" when the working tree differs from it)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "an unknown commit"
    return f"commit {head}{' +changes' if dirty else ''}"


def table(rows: list[dict]) -> str:
    width = max(len(r["name"]) for r in rows)
    vwidth = max(10, *(len(str(r["value"])) for r in rows))
    lines = [f"{'benchmark':<{width}}  {'value':>{vwidth}}  {'goal':>12}  ok"]
    for r in rows:
        lines.append(f"{r['name']:<{width}}  {r['value']!s:>{vwidth}}  {r['goal']!s:>12}  "
                     f"{'yes' if r['ok'] else 'NO'}")
    return "\n".join(lines)


def markdown(rows: list[dict], header: str) -> str:
    out = [header, "", "| benchmark | value | goal | ok |", "| --- | ---: | ---: | --- |"]
    for r in rows:
        out.append(f"| {r['name']} | {r['value']} | {r['goal']} | {'yes' if r['ok'] else '**NO**'} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--only", help="comma-separated: " + ",".join(b[0] for b in BENCHES))
    parser.add_argument("--work", type=Path, help="work folder (kept); default a temporary one")
    parser.add_argument("--md", type=Path, help="also write the table as Markdown to this file")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    if only and only - {b[0] for b in BENCHES}:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(only - {b[0] for b in BENCHES}))}")

    started = time.perf_counter()
    when = dt.datetime.now().astimezone()
    ctx = Context(args.work, quick=args.quick)
    results: dict[int, list[dict]] = {}
    try:
        t0 = time.perf_counter()
        ctx.build_replica()
        print(f"replica {ctx.span.start}..{ctx.span.end}: {len(ctx.truth['issues'])} issues, "
              f"{sum(len(i['pages']) for i in ctx.truth['issues'].values())} pages, "
              f"{len(ctx.truth['articles'])} articles, built in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr, flush=True)
        for name, module, order in BENCHES:
            if only is not None and name not in only:
                continue
            if name in ALONE and (only is None or name not in only):
                results[order] = [row(f"{name}: run alone ({ALONE[name]})", "-")]
                continue
            if name == "dedupe" and args.quick and only is None:
                results[order] = [row("dedupe: skipped in --quick", "-")]
                continue
            t0 = time.perf_counter()
            try:
                rows = __import__(module, fromlist=["run"]).run() if name == "dedupe" else \
                    __import__(module, fromlist=["run"]).run(ctx)
            except Exception as exc:  # one broken benchmark must not hide the others
                traceback.print_exc()
                rows = [row(f"{name}: FAILED", f"{type(exc).__name__}: {exc}"[:120], "runs", False)]
            results[order] = rows
            print(f"{name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
            print(table(rows), file=sys.stderr, flush=True)
    finally:
        ctx.cleanup()

    total = time.perf_counter() - started
    rows = [r for order in sorted(results) for r in results[order]]
    rows.append(row("bench: total wall time (s)", round(total), f"< {BUDGET_S}", total < BUDGET_S))
    header = (f"Run of {when:%Y-%m-%d %H:%M %Z}{' (--quick)' if args.quick else ''} at {commit()} on "
              f"{machine()}; replica {ctx.span.start}..{ctx.span.end}.")
    print()
    print(header)
    print(table(rows))
    if args.md:
        args.md.write_text(markdown(rows, header), encoding="utf-8")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

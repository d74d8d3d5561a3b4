"""The `epaper` command line: crawl, reparse, status, schedule, demo, schema.

Exit status (epaper.exits): 0 every requested date archived completely or confirmed without
an issue; 1 any date incomplete or failed (one stderr line per date); 2 a usage or
configuration error (one short line, never a traceback); 3 every date archived, one of them
suspect (epaper.pipelines.health); 75 the archive locked by another
process (nothing done); 143 stopped by SIGTERM before the crawl could stop by itself.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import sys
import time
from pathlib import Path

from epaper.config import UsageError, scrapy_overrides
from epaper.crawler import arguments
from epaper.storage.objectstore import is_s3

MAX_DAYS_WITHOUT_YES = 366


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors: one line, status 2
        raise UsageError(f"{self.prog}: {message}")


def _date(text: str) -> dt.date:
    try:
        return arguments.parse_date(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> Parser:
    from epaper import __version__

    parser = Parser(prog="epaper", description="Archive a Founder e-paper to Parquet.")
    parser.add_argument("--version", action="version", version=f"epaper {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def dates(p, allow_all=False, allow_latest=True):
        g = p.add_mutually_exclusive_group(required=True)
        g.add_argument("--date", type=_date, help="one issue date, YYYY-MM-DD")
        g.add_argument("--from", dest="start", type=_date, help="first date of a range (with --to)")
        if allow_latest:
            g.add_argument("--latest", action="store_true", help="the newest issue on the portal")
        if allow_all:
            g.add_argument("--all", action="store_true", help="every archived date")
        p.add_argument("--to", dest="end", type=_date, help="last date of the range (inclusive)")
        p.add_argument("--yes", action="store_true", help=f"allow a range over {MAX_DAYS_WITHOUT_YES} days")

    def common(p):
        p.add_argument("--data", help="archive root (default ./data or the config's storage.data_dir)")
        p.add_argument("--config", help="config file (default ./epaper.toml when present)")
        p.add_argument("--source", dest="sources", action="append", default=[], metavar="ID",
                       help="the paper of the config (its [[portal]] id); repeatable; default every paper")

    def crawl_flags(p):
        p.add_argument("-s", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                       help="override a Scrapy setting, as scrapy crawl -s does")
        p.add_argument("--verbose", action="store_true", help="also send the Scrapy log to stderr")
        p.add_argument("--quiet", action="store_true", help="print only failures")
        p.add_argument("--log-format", choices=("text", "json"), default="text",
                       help="json: one JSON object per event on stdout/stderr and in the log file")

    p = sub.add_parser("crawl", help="crawl issue dates and write their snapshots")
    dates(p)
    common(p)
    p.add_argument("--base-url", help="the e-paper root (the folder holding pc/layout/ or html/)")
    p.add_argument("--force", action="store_true",
                   help="--latest: fetch the newest issue even when it is archived complete")
    crawl_flags(p)

    p = sub.add_parser("reparse", help="rebuild snapshots from the raw pages in warc/, offline")
    dates(p, allow_all=True, allow_latest=False)
    common(p)
    crawl_flags(p)

    p = sub.add_parser("status", help="one row per archived issue date; exit status 1 when something needs a look")
    common(p)
    p.add_argument("--json", action="store_true", help="print a JSON list (with --check: every fact, as an object)")
    p.add_argument("--check", action="store_true", help="print only the health check: 'healthy', or its reasons")

    p = sub.add_parser("schedule", help="archive on the configured cron schedule, in the foreground")
    common(p)
    p.add_argument("--base-url", help="the e-paper root")
    p.add_argument("--log-format", choices=("text", "json"), default="text",
                   help="json: one JSON object per line, the child crawls' lines too")

    p = sub.add_parser("update", help="one scheduled run, for cron: catch up the recent days, "
                                      "then the latest issue; quiet unless something is wrong")
    common(p)
    p.add_argument("--base-url", help="the e-paper root")
    p.add_argument("--log-format", choices=("text", "json"), default="text",
                   help="json: one JSON object per line on stderr")

    p = sub.add_parser("demo", help="archive the bundled replica portal, offline")
    p.add_argument("--data", default="demo-data", help="archive root (default ./demo-data)")

    p = sub.add_parser("schema", help="print every column with its type and meaning")
    p.add_argument("--json", action="store_true", help="as JSON: {dataset: [{name, type, nullable, meaning}]}")

    p = sub.add_parser("report", help="draw the archive: a calendar of its days and articles per page name")
    common(p)
    p.add_argument("--out", required=True, metavar="FILE", help="FILE.png, or FILE.html with the PNG embedded")
    p.add_argument("--from", dest="start", type=_date, help="first date drawn (default the archive's first)")
    p.add_argument("--to", dest="end", type=_date, help="last date drawn (default the archive's last)")

    p = sub.add_parser("probe", help="check an unseen e-paper root within a small request budget: "
                                     "would the archive read it right? (exit 0 yes, 1 with reasons, 2 not Founder)")
    p.add_argument("url", metavar="URL", help="the e-paper root (the folder holding pc/layout/ or html/)")
    p.add_argument("--config", help="config file (politeness settings; default ./epaper.toml when present)")
    p.add_argument("--sample", type=int, default=6, help="articles to read (default 6), spread over the pages")
    p.add_argument("--max-pages", type=int, default=40, help="pages of the latest issue to read at most (default 40)")
    p.add_argument("--json", action="store_true", help="print the findings as one JSON object")
    p.add_argument("-s", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                   help="override a Scrapy setting, as scrapy crawl -s does")
    p.add_argument("--verbose", action="store_true", help="send the Scrapy log to stderr")

    p = sub.add_parser("changes", help="corrected and removed articles: what the portal changed after archiving")
    common(p)
    p.add_argument("--from", dest="start", type=_date, help="first issue date (default the archive's first)")
    p.add_argument("--to", dest="end", type=_date, help="last issue date (default the archive's last)")
    p.add_argument("--json", action="store_true", help="print a JSON list")

    p = sub.add_parser("migrate", help="move an archive of the single-paper layout under the config's one paper "
                                       "(keeps every row; can be killed and run again)")
    p.add_argument("--data", help="archive root (default ./data or the config's storage.data_dir)")
    p.add_argument("--config", help="config file naming the one paper the archive holds (default ./epaper.toml)")

    p = sub.add_parser("extract", help="print as JSON what the parser reads from one saved page")
    p.add_argument("file", metavar="FILE", help="a saved page (版面 or article)")
    p.add_argument("--url", required=True, help="the URL the page was served at")
    p.add_argument("--root", help="the e-paper root (default: the page's folder)")
    p.add_argument("--as", dest="kind", choices=("page", "article"), help="the page's kind (default: from the URL)")

    from epaper.cluster import add_parser as cluster_parser

    cluster_parser(sub, _date)
    return parser


# ------------------------------------------------------------------ helpers


def requested_dates(args) -> list[dt.date] | None:
    """The dates asked for; None for --latest / --all."""
    if getattr(args, "latest", False) or getattr(args, "all", False):
        if args.end:
            raise UsageError("--to goes with --from only")
        return None
    if args.date:
        if args.end:
            raise UsageError("--to goes with --from, not with --date")
        return [args.date]
    if not args.end:
        raise UsageError("--from needs --to")
    if args.start > args.end:
        raise UsageError(f"--from {args.start} is after --to {args.end}")
    days = (args.end - args.start).days + 1
    if days > MAX_DAYS_WITHOUT_YES and not args.yes:
        raise UsageError(f"{days} days requested; add --yes to crawl more than {MAX_DAYS_WITHOUT_YES} days")
    return [args.start + dt.timedelta(i) for i in range(days)]


def load_config(args, base_url: str | None = None):
    from epaper.config import ConfigError
    from epaper.config import load_config as _load

    overrides: dict[str, object] = {}
    if base_url:
        overrides["portal.base_url"] = base_url
    if getattr(args, "data", None) is not None and not args.data.strip():
        raise UsageError("--data must name a directory, got an empty string")
    if getattr(args, "data", None):
        if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", args.data) and not args.data.startswith("s3://"):
            raise UsageError(f"--data must be a local directory or s3://bucket/prefix, not a URL: {args.data}")
        overrides["storage.data_dir"] = args.data
    try:
        return _load(args.config, overrides=overrides, sources=getattr(args, "sources", None) or ())
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def check_base_url(url: str | None) -> str:
    try:
        return arguments.check_base_url(url)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def check_data_dir(path: Path) -> Path:
    """The archive root a writing command uses: a writable directory in the layout of several
    papers (an older archive is refused, naming `epaper migrate`)."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"data directory {path} is not a directory")
    check_archive_layout(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"data directory {path} is not writable: {exc.strerror or exc}") from None
    return path


def check_archive_layout(path: Path) -> Path:
    from epaper.storage.layout import OldLayout, check_layout

    try:
        check_layout(path)
    except OldLayout as exc:
        raise UsageError(str(exc)) from None
    return path


# ------------------------------------------------------------------ commands


def run_crawl(args, *, reparse: bool = False) -> int:
    dates = requested_dates(args)  # every usage error before the archive is touched, and before heavy imports
    config = load_config(args, None if reparse else args.base_url)
    papers = config.papers()
    if not reparse:
        for paper in papers:
            check_base_url(paper.portal.base_url)
    extra = scrapy_overrides(args.settings)
    remote = None
    if is_s3(config.storage.data_dir):  # a local working copy, published (epaper.remote)
        from epaper.remote import RemoteArchive

        remote = RemoteArchive.of(config)
    data = check_data_dir(remote.local if remote else Path(config.storage.data_dir))

    from epaper import reparse as replay
    from epaper.config import project_settings
    from epaper.crawl import Paper, run_papers
    from epaper.lock import LockError, LockHeld, archive_lock
    from epaper.storage.leftovers import remove_leftovers

    def replay_plans() -> dict:
        """What each paper's reparse replays. Of several papers not picked by --source, one with
        nothing to replay is left out, said so; none at all is a usage error."""
        plans = {}
        for paper in papers:
            try:
                plans[paper.portal.id] = replay.plan(data, paper.portal.id, dates)
            except UsageError as exc:
                if len(papers) == 1 or args.sources:
                    raise
                say_error(args, f"epaper: {paper.portal.id}: not reparsed: {exc}")
        if not plans:
            raise UsageError(f"nothing to replay under {data / 'warc'} for any paper")
        return plans

    # A local archive's plans before the lock is taken, so that a usage error leaves it as it
    # was (no lock file in an empty folder); an s3:// archive's once its papers are pulled.
    plans = replay_plans() if reparse and remote is None else {}
    papers = [paper for paper in papers if not plans or paper.portal.id in plans]

    settings = project_settings()
    # The add-on in ADDONS applies the config, as for `scrapy crawl`: one way in. It gets the
    # Config resolved here (file, environment, --base-url, --data) rather than the file; each
    # crawl narrows it to its paper (epaper.addon.apply_paper).
    settings.set("EPAPER_CONFIG", config, priority="cmdline")
    settings.set("SNAPSHOT_DIR", str(data), priority="cmdline")
    if reparse:
        settings.set("WARC_REPLAY_DIR", str(data), priority="cmdline")
        settings.setdict(replay.SETTINGS, priority="cmdline")
    if getattr(args, "force", False):
        settings.set("EPAPER_FORCE", True, priority="cmdline")
    if remote is not None:
        from epaper.remote import publisher

        settings.set("SNAPSHOT_PUBLISH", publisher(remote), priority="cmdline")
    settings.setdict(extra, priority="cmdline")

    from epaper.exits import INTERRUPTED, LOCKED, TERMINATED, Terminated
    from epaper.runext import ArchiveRun

    leases = contextlib.ExitStack()
    try:
        # One writer per paper: each selected paper's lock (and the archive's, shared), so a
        # crawl of another paper into the same archive runs beside this one (epaper.lock).
        lock = archive_lock(data, f"epaper {args.command}", sources=[paper.portal.id for paper in papers])
        lock.__enter__()
        if remote is not None:  # the papers' leases in the store: one writer per paper across machines
            try:
                leases = remote.hold([p.portal.id for p in papers], f"epaper {args.command}",
                                     config.storage.lease_seconds)
            except BaseException:
                lock.__exit__(None, None, None)
                raise
    except LockHeld as exc:
        say_error(args, f"epaper: {exc}", event="locked")
        return LOCKED
    except LockError as exc:  # a lock file that is not ours to use (a symlink, unwritable)
        raise UsageError(str(exc)) from None
    runs: list = []
    try:
        if remote is not None:
            for paper in papers:
                remote.pull_paper(paper.portal.id, dates, warc_all=reparse and dates is None)
            if reparse:
                plans = replay_plans()
                papers = [paper for paper in papers if paper.portal.id in plans]
        remove_leftovers(data, [paper.portal.id for paper in papers])  # what a killed writer of these papers left (SIGKILL)
        # From here a SIGTERM or Ctrl-C (before Scrapy's own handlers are in place) still leaves a
        # line per paper, a stopped run (143, 130). The crawls record into these runs
        # (epaper.runext.ArchiveRunExtension), which hold no lock: it is taken here, once,
        # before anything of the archive is read.
        with contextlib.ExitStack() as stack:
            jobs = []
            for paper in papers:
                source, spider_args, days = paper.portal.id, {}, dates
                if reparse:
                    days, base_url, spider_args["layout"] = plans[source]
                else:
                    base_url = check_base_url(paper.portal.base_url)
                if days:
                    spider_args.update(start=days[0].isoformat(), end=days[-1].isoformat())
                else:
                    spider_args["latest"] = "1"
                run = ArchiveRun(data, " ".join(["epaper", *sys.argv[1:]]), days or [], paper)
                runs.append(run)
                rounds = None
                if reparse:
                    rounds = stack.enter_context(replay.session(data, source, days, spider_args,
                                                                settings.getint("WARC_RECORD_MAXSIZE")))
                else:
                    with contextlib.suppress(OSError):  # a stopped reparse's scratch: none runs while we hold the lock
                        replay.clear_scratch(data, source)
                jobs.append(Paper(source, base_url, spider_args, days, run, rounds))
            status = run_papers(args, data, settings, jobs)
            if remote is not None:
                remote.publish([p.portal.id for p in papers])
            return status
    except Terminated:
        for run in runs:
            if not run.finished:
                run.finish(TERMINATED)
        raise
    except KeyboardInterrupt:
        for run in runs:
            if not run.finished:
                run.finish(INTERRUPTED)
        raise
    finally:
        leases.close()
        lock.__exit__(None, None, None)


def say_error(args, line: str, event: str = "error") -> None:
    """One line on stderr; a JSON object with --log-format json."""
    if getattr(args, "log_format", "text") == "json":
        import json

        line = json.dumps({"event": event, "message": line}, ensure_ascii=False)
    print(line, file=sys.stderr, flush=True)


def run_status(args) -> int:
    from epaper.remote import reading_config
    from epaper.status import run_status as status

    config = reading_config(load_config(args))  # an s3:// archive: read from a pulled copy
    check_archive_layout(Path(config.storage.data_dir))
    return status(config, args.json, check=args.check, sources=args.sources)


def run_changes(args) -> int:
    from epaper.changes import run_changes as changes
    from epaper.remote import reading_config

    config = reading_config(load_config(args))  # an s3:// archive: read from a pulled copy
    check_archive_layout(Path(config.storage.data_dir))
    return changes(config, args.start, args.end, args.json, sources=args.sources)


def run_schema(args) -> int:
    from epaper.storage.schema import ARTICLE_COLUMNS, PAGE_COLUMNS

    if getattr(args, "json", False):
        import json

        part = {"name": "issue_date", "type": "date32[day]", "nullable": False,
                "meaning": "the issue date (Hive partition key: in the folder name, not in the files)"}
        print(json.dumps({name: [part] + [{"name": c, "type": str(t), "nullable": n, "meaning": m}
                                          for c, t, n, m in columns]
                          for name, columns in (("articles", ARTICLE_COLUMNS), ("pages", PAGE_COLUMNS))},
                         ensure_ascii=False, indent=1))
        return 0
    for name, columns in (("articles", ARTICLE_COLUMNS), ("pages", PAGE_COLUMNS)):
        print(f"{name} (partitioned by issue_date: date)")
        for col, typ, nullable, meaning in columns:
            print(f"  {col:<15} {str(typ) + (', null' if nullable else ''):<42} {meaning}")
    return 0


def run_schedule(args) -> int:
    from epaper.schedule import run_scheduler

    config = load_config(args, args.base_url)
    for paper in config.papers():
        check_base_url(paper.portal.base_url)
    if is_s3(config.storage.data_dir):  # the children publish; the parent reads a pulled copy (epaper.remote)
        from epaper.remote import parent_run

        with parent_run(config) as local:
            return run_scheduler(config, check_data_dir(local), json_lines=args.log_format == "json")
    data = check_data_dir(Path(config.storage.data_dir))
    return run_scheduler(config, data, json_lines=args.log_format == "json")


def run_update(args) -> int:
    from epaper.schedule import run_update as update

    config = load_config(args, args.base_url)
    for paper in config.papers():
        check_base_url(paper.portal.base_url)
    if is_s3(config.storage.data_dir):  # the children publish; the parent reads a pulled copy (epaper.remote)
        from epaper.remote import parent_run

        with parent_run(config) as local:
            return update(config, check_data_dir(local), json_lines=args.log_format == "json")
    data = check_data_dir(Path(config.storage.data_dir))
    return update(config, data, json_lines=args.log_format == "json")


def run_demo(args) -> int:
    from epaper.demo import run_demo as demo

    return demo(check_data_dir(Path(args.data)))


def run_report(args) -> int:
    from epaper.report import run_report as report

    return report(args)


def run_extract(args) -> int:
    from epaper.extract import run_extract as extract

    return extract(args)


def run_probe(args) -> int:
    from epaper.probe import run_probe as probe

    return probe(args, check_base_url(args.url), load_config(args))


def run_cluster(args) -> int:
    from epaper.cluster import run_cluster as cluster

    return cluster(args, load_config)


def run_migrate(args) -> int:
    from epaper.migrate import run_migrate as migrate

    return migrate(args)


COMMANDS = {
    "crawl": run_crawl,
    "reparse": lambda a: run_crawl(a, reparse=True),
    "status": run_status,
    "schema": run_schema,
    "schedule": run_schedule,
    "update": run_update,
    "demo": run_demo,
    "report": run_report,
    "extract": run_extract,
    "probe": run_probe,
    "changes": run_changes,
    "migrate": run_migrate,
    "cluster": run_cluster,
}


def _json_requested(argv: list[str]) -> bool:
    """--log-format json on the command line, read before (or without) argparse."""
    for i, arg in enumerate(argv):
        if arg == "--log-format" and argv[i + 1:i + 2] == ["json"] or arg == "--log-format=json":
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    import signal
    import threading

    from epaper.exits import TERMINATED, Terminated

    started = time.monotonic()
    argv = sys.argv[1:] if argv is None else list(argv)
    previous = None
    if threading.current_thread() is threading.main_thread():
        # SIGTERM before a command installs its own handling (Scrapy's, the scheduler's):
        # an exception, so that what is under way ends cleanly and the run is logged.
        previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        args = build_parser().parse_args(argv)
        status = COMMANDS[args.command](args)
        sys.stdout.flush()  # here, so that a closed pipe is met inside the try
        return status
    except BrokenPipeError:
        # The reader went away (`epaper status --json | head`): the Python docs' recipe, stdout
        # onto devnull so that the interpreter's own flush at exit finds no pipe to fail on.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 1
    except UsageError as exc:
        line = f"epaper: {exc}" if not str(exc).startswith("epaper") else str(exc)
        if _json_requested(argv):
            import json

            line = json.dumps({"event": "usage_error", "message": line}, ensure_ascii=False)
        print(line, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"epaper: interrupted after {time.monotonic() - started:.0f}s", file=sys.stderr)
        return 130
    except Terminated:
        print(f"epaper: terminated (SIGTERM) after {time.monotonic() - started:.0f}s", file=sys.stderr)
        return TERMINATED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _terminated(signum, frame) -> None:
    from epaper.exits import Terminated

    raise Terminated()

"""The `epaper` command line: crawl, reparse, status, schedule, demo, schema.

Exit status: 0 every requested date archived completely or confirmed without an issue;
1 any date incomplete or failed (one stderr line per date), or the archive locked;
2 a usage or configuration error (one short line, never a traceback).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

MAX_DAYS_WITHOUT_YES = 366


class UsageError(Exception):
    """A mistake the user can fix; printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors: one line, status 2
        raise UsageError(f"{self.prog}: {message}")


def _date(text: str) -> dt.date:
    try:
        if len(text) != 10:
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a valid date (YYYY-MM-DD): {text!r}") from None


def build_parser() -> Parser:
    parser = Parser(prog="epaper", description="Archive a Founder e-paper to Parquet.")
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
    crawl_flags(p)

    p = sub.add_parser("reparse", help="rebuild snapshots from the raw pages in warc/, offline")
    dates(p, allow_all=True, allow_latest=False)
    common(p)
    crawl_flags(p)

    p = sub.add_parser("status", help="one row per archived issue date")
    common(p)
    p.add_argument("--json", action="store_true", help="print a JSON list")

    p = sub.add_parser("schedule", help="archive on the configured cron schedule, in the foreground")
    common(p)
    p.add_argument("--base-url", help="the e-paper root")

    p = sub.add_parser("demo", help="archive the bundled replica portal, offline")
    p.add_argument("--data", default="demo-data", help="archive root (default ./demo-data)")

    sub.add_parser("schema", help="print every column with its type and meaning")

    p = sub.add_parser("report", help="draw the archive: a calendar of its days and articles per page name")
    common(p)
    p.add_argument("--out", required=True, metavar="FILE", help="FILE.png, or FILE.html with the PNG embedded")
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
    from crawler.config import ConfigError
    from crawler.config import load_config as _load

    overrides: dict[str, object] = {}
    if base_url:
        overrides["portal.base_url"] = base_url
    if getattr(args, "data", None) is not None and not args.data.strip():
        raise UsageError("--data must name a directory, got an empty string")
    if getattr(args, "data", None):
        overrides["storage.data_dir"] = args.data
    try:
        return _load(args.config, overrides=overrides)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def check_base_url(url: str | None) -> str:
    if not url:
        raise UsageError("no base URL: pass --base-url or set portal.base_url in epaper.toml")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or any(c.isspace() or ord(c) < 32 for c in url)):
        raise UsageError(f"base URL must be an http(s) URL, got {url!r}")
    return url if url.endswith("/") else url + "/"


def check_data_dir(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise UsageError(f"data directory {path} is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"data directory {path} is not writable: {exc.strerror or exc}") from None
    return path


def scrapy_overrides(pairs: list[str]) -> dict[str, object]:
    """`-s NAME=VALUE` pairs, checked against the type of the setting's default."""
    if not pairs:
        return {}
    from scrapy.settings import Settings

    known = Settings()
    known.setmodule("crawler.settings", priority="project")
    out: dict[str, object] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"-s expects NAME=VALUE, got {pair!r}")
        if name not in known:
            raise UsageError(f"-s {name}: unknown Scrapy setting")
        default = known[name]
        try:
            if isinstance(default, bool):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError
            elif isinstance(default, int):
                int(value)
            elif isinstance(default, float):
                float(value)
        except ValueError:
            raise UsageError(f"-s {name}={value}: expected {type(default).__name__}") from None
        _check_setting_value(name, value, default)
        out[name] = value
    return out


# -s settings that must come from their own flag: they name the archive the lock protects.
NOT_FROM_S = {"SNAPSHOT_DIR": "use --data", "WARC_REPLAY_DIR": "use epaper reparse",
              "ITEM_PIPELINES": "the archive's pipelines are fixed"}
# Numeric settings where 0 means "never" or "nothing": refused.
POSITIVE = {"CONCURRENT_REQUESTS", "CONCURRENT_REQUESTS_PER_DOMAIN", "CONCURRENT_ITEMS", "DOWNLOAD_TIMEOUT",
            "AUTOTHROTTLE_TARGET_CONCURRENCY", "AUTOTHROTTLE_MAX_DELAY", "REACTOR_THREADPOOL_MAXSIZE"}


def _check_setting_value(name: str, value: str, default: object) -> None:
    """Values a crawl cannot run with (or would hang on): one line, before anything starts."""
    import math

    from scrapy.settings import BaseSettings

    if name in NOT_FROM_S:
        raise UsageError(f"-s {name}: not settable with -s ({NOT_FROM_S[name]})")
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        number = float(value)
        if not math.isfinite(number):
            raise UsageError(f"-s {name}={value}: expected a finite number")
        if name in POSITIVE and number <= 0:
            raise UsageError(f"-s {name}={value}: must be greater than 0")
        if number < 0 and "PRIORITY" not in name and not default < 0:
            raise UsageError(f"-s {name}={value}: must not be negative")
    if name == "LOG_LEVEL" and value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise UsageError(f"-s LOG_LEVEL={value}: expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    if isinstance(default, (dict, BaseSettings)):
        try:
            if not isinstance(json.loads(value), dict):
                raise ValueError
        except ValueError:
            raise UsageError(f"-s {name}={value}: expected a JSON object") from None


def log_file(data: Path, command: str) -> Path:
    logs = data / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return logs / f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{command}-{os.getpid()}.log"


# ------------------------------------------------------------------ crawl / reparse


def run_crawl(args, *, reparse: bool = False) -> int:
    dates = requested_dates(args)  # every usage error before the archive is touched, and before heavy imports
    config = load_config(args, None if reparse else args.base_url)
    if not reparse:
        check_base_url(config.portal.base_url)
    extra = scrapy_overrides(args.settings)
    data = check_data_dir(Path(config.storage.data_dir))

    from scrapy.settings import Settings

    from crawler.lock import LockError, archive_lock
    from storage.parquet import archived_dates

    spider_args: dict[str, str] = {}
    if reparse:
        from crawler.warc import replay_source

        if dates is None:
            dates = archived_dates(data, "warc")
            if not dates:
                raise UsageError(f"no WARC files under {data / 'warc'}")
        base_url, generation = replay_source(data, dates)
        spider_args["layout"] = generation
    else:
        base_url = check_base_url(config.portal.base_url)
    if dates:
        spider_args.update(start=dates[0].isoformat(), end=dates[-1].isoformat())
    else:
        spider_args["latest"] = "1"

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.setdict(config.scrapy_settings(), priority="project")
    settings.set("SNAPSHOT_DIR", str(data), priority="cmdline")
    if reparse:
        settings.set("WARC_REPLAY_DIR", str(data), priority="cmdline")
        settings.setdict({"ROBOTSTXT_OBEY": False, "DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False,
                          "CONCURRENT_REQUESTS": 16, "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
                          "WARC_ENABLED": False}, priority="cmdline")
    settings.setdict(extra, priority="cmdline")

    try:
        with archive_lock(data, f"epaper {args.command}"):  # only taking it raises LockError
            return _run_spider(args, data, settings, base_url, spider_args, dates)
    except LockError as exc:
        print(f"epaper: {exc}", file=sys.stderr)
        return 1


def _run_spider(args, data: Path, settings, base_url: str, spider_args: dict, dates) -> int:
    """Run the spider in this process, one line per date as it settles; the exit status."""
    from crawler.runlog import RunLog
    from crawler.spiders.epaper import EpaperSpider
    from pipelines.snapshot import issue_done

    try:  # a -s value Scrapy cannot use (a component path, a reactor) fails here or in crawl()
        process = new_process(settings)
        setup_logging(settings, log_file(data, args.command), args.verbose, args.log_format == "json")
        crawler = process.create_crawler(EpaperSpider)
    except (ImportError, ValueError, TypeError, AttributeError, KeyError, NameError) as exc:
        raise UsageError(f"cannot set up the crawl: {exc}") from None
    record = RunLog.start(data, " ".join(["epaper", *sys.argv[1:]]), dates or [])
    reporter = Reporter(record, len(dates or [None]), quiet=args.quiet, json_lines=args.log_format == "json")
    crawler.signals.connect(reporter.on_issue_done, issue_done)
    failed: list = []
    process.crawl(crawler, base_url=base_url, **spider_args).addErrback(failed.append)
    process.start()
    if failed:
        logging.getLogger(__name__).error("the crawl could not run: %s", failed[0].getTraceback())
        record.finish(2)
        raise UsageError(f"the crawl could not run: {failed[0].getErrorMessage()}")
    spider = crawler.spider
    if spider is None:
        raise UsageError("the crawl did not start; see the log")
    if spider.fatal:
        record.finish(2)
        raise UsageError(spider.fatal)
    status = reporter.finish(spider)
    record.finish(status)
    return status


class JsonFormatter(logging.Formatter):
    """One JSON object per log record, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        event = {"time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False)


def new_process(settings):
    """A CrawlerProcess that leaves logging to us (the setting replaced the argument in Scrapy 2.19)."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import default_settings

    if hasattr(default_settings, "LOG_INSTALL_ROOT_HANDLER"):
        settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
        return CrawlerProcess(settings)
    return CrawlerProcess(settings, install_root_handler=False)


def setup_logging(settings, path: Path, verbose: bool, json_lines: bool) -> None:
    """The Scrapy log to a file per run (and to stderr with --verbose), as text or JSON lines."""
    formatter = JsonFormatter() if json_lines else logging.Formatter(settings.get("LOG_FORMAT"),
                                                                    settings.get("LOG_DATEFORMAT"))
    handlers: list[logging.Handler] = [logging.FileHandler(path, encoding="utf-8")]
    if verbose:
        handlers.append(logging.StreamHandler(sys.stderr))
    root = logging.getLogger()
    root.setLevel(logging.NOTSET)
    for handler in handlers:
        handler.setLevel(settings.get("LOG_LEVEL"))
        handler.setFormatter(formatter)
        root.addHandler(handler)


class Reporter:
    """Prints each date's line as soon as the date is settled, and records it in the run log.

    On a terminal a progress line (dates done, articles, failures, rate) is kept on stderr;
    under cron only the per-date lines appear. `json` prints one JSON object per event.
    """

    def __init__(self, record, total: int, quiet: bool = False, json_lines: bool = False):
        self.record, self.total, self.quiet, self.json = record, total, quiet, json_lines
        self.tty = sys.stderr.isatty() and not quiet and not json_lines
        self.done: set[dt.date] = set()
        self.articles = self.failed = 0
        self.status = 0
        self.started = time.monotonic()

    def on_issue_done(self, date, outcome) -> None:
        if date in self.done:
            return
        self.done.add(date)
        self._clear()
        o = outcome
        if o.status == "no_issue":
            self.record.date_outcome(date, "no_issue")
            self._out(date, "no_issue", f"{date} no issue", o)
        elif o.status == "archived":
            self.articles += o.written
            self.record.date_outcome(date, "archived", o.written, o.pages, o.duplicates)
            self._out(date, "archived", f"{date} archived: {o.pages} pages, {o.written} articles, "
                                        f"{o.duplicates} duplicates", o)
        else:
            self.status, self.failed = 1, self.failed + 1
            self.articles += o.written
            kind = "failed" if not o.written and not o.kept_previous else "incomplete"
            self.record.date_outcome(date, kind, o.written, o.pages, o.duplicates, o.failures)
            shown = "; ".join(f"{f['url']} ({f['reason']})" for f in o.failures)  # every one: nothing silent
            kept = " (previous complete snapshot kept)" if o.kept_previous else ""
            self._out(date, kind, f"{date} {kind}{kept}: {o.written} articles archived, "
                                  f"{len(o.failures)} failed: {shown}", o, sys.stderr)
        self._progress()

    def _out(self, date, kind, line, o, stream=None) -> None:
        stream = stream or sys.stdout
        if self.json:
            line = json.dumps({"event": "issue", "date": date.isoformat(), "status": kind, "pages": o.pages,
                               "articles": o.written, "duplicates": o.duplicates, "failures": o.failures},
                              ensure_ascii=False)
        elif self.quiet and stream is sys.stdout:
            return
        print(line, file=stream, flush=True)

    def _clear(self) -> None:
        if self.tty:
            sys.stderr.write("\r\x1b[2K")

    def _progress(self) -> None:
        if not self.tty or len(self.done) >= self.total:
            return
        width = 24
        filled = width * len(self.done) // max(self.total, 1)
        rate = self.articles / max(time.monotonic() - self.started, 1e-6)
        sys.stderr.write(f"[{'#' * filled}{'.' * (width - filled)}] {len(self.done)}/{self.total} dates, "
                         f"{self.articles} articles, {self.failed} failed, {rate:.1f} articles/s")
        sys.stderr.flush()

    def finish(self, spider) -> int:
        self._clear()
        if spider.error and not spider.dates:
            line = f"latest: failed: {spider.error}"
            print(json.dumps({"event": "error", "message": line}) if self.json else line, file=sys.stderr)
            return 1
        for day in spider.dates:  # anything the pipelines never settled
            if day not in self.done:
                self.on_issue_done(day, spider.outcomes[day])
        self._clear()
        return self.status


# ------------------------------------------------------------------ other commands


def run_status(args) -> int:
    from crawler.runlog import last_outcomes
    from storage.parquet import archived_dates, snapshot_info

    config = load_config(args)
    data = Path(config.storage.data_dir)
    if data.exists() and not data.is_dir():
        raise UsageError(f"data directory {data} is not a directory")
    rows = []
    for day in archived_dates(data):
        info = snapshot_info(data, day)
        rows.append({"date": day.isoformat(), "pages": info.pages, "articles": info.articles,
                     "duplicates": info.duplicates, "complete": info.complete,
                     "last_crawled": info.crawled_at, "error": info.error})
    archived = {r["date"] for r in rows}
    today = dt.datetime.now(config.schedule.tzinfo).date()
    window = [today - dt.timedelta(i) for i in range(config.schedule.catchup_days - 1, -1, -1)]
    outcomes = last_outcomes(data) if data.is_dir() else {}
    no_issue = {d for d, o in outcomes.items() if o.get("status") == "no_issue"}
    gaps = [d.isoformat() for d in window if d.isoformat() not in archived and d not in no_issue]
    incomplete = [r["date"] for r in rows if not r["complete"]]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    print(f"{'date':<10}  {'pages':>5}  {'articles':>8}  {'dups':>4}  {'complete':<8}  last crawled")
    for r in rows:
        flag = "yes" if r["complete"] else ("DAMAGED" if r["error"] else "no")
        print(f"{r['date']:<10}  {r['pages']:>5}  {r['articles']:>8}  {r['duplicates']:>4}  {flag:<8}  "
              f"{(r['last_crawled'] or '-')[:19]}")
    print(f"{len(rows)} dates archived, {len(incomplete)} incomplete"
          + (f" ({', '.join(incomplete[:10])})" if incomplete else "")
          + f"; missing in the last {config.schedule.catchup_days} days: {', '.join(gaps) or 'none'}")
    return 0


def run_schema(args) -> int:
    from storage.schema import ARTICLE_COLUMNS, PAGE_COLUMNS

    for name, columns in (("articles", ARTICLE_COLUMNS), ("pages", PAGE_COLUMNS)):
        print(f"{name} (partitioned by issue_date: date)")
        for col, typ, nullable, meaning in columns:
            print(f"  {col:<15} {str(typ) + (', null' if nullable else ''):<42} {meaning}")
    return 0


def run_schedule(args) -> int:
    from crawler.schedule import run_scheduler

    config = load_config(args, args.base_url)
    check_base_url(config.portal.base_url)
    data = check_data_dir(Path(config.storage.data_dir))
    return run_scheduler(config, data)


def run_demo(args) -> int:
    from crawler.demo import run_demo as demo

    return demo(check_data_dir(Path(args.data)))


def run_report(args) -> int:
    from crawler.report import run_report as report

    return report(args)


COMMANDS = {
    "crawl": run_crawl,
    "reparse": lambda a: run_crawl(a, reparse=True),
    "status": run_status,
    "schema": run_schema,
    "schedule": run_schedule,
    "demo": run_demo,
    "report": run_report,
}


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"epaper: {exc}" if not str(exc).startswith("epaper") else str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"epaper: interrupted after {time.monotonic() - started:.0f}s", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # Run the module under its package name, so that its exception classes are the ones
    # the other modules import (python -m would otherwise load it twice, as __main__ too).
    from crawler.cli import main as _main

    sys.exit(_main())

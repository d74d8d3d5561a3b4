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
    if getattr(args, "data", None):
        overrides["storage.data_dir"] = args.data
    try:
        return _load(args.config, overrides=overrides)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def check_base_url(url: str | None) -> str:
    if not url:
        raise UsageError("no base URL: pass --base-url or set portal.base_url in epaper.toml")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
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
        out[name] = value
    return out


def log_file(data: Path, command: str) -> Path:
    logs = data / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return logs / f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{command}-{os.getpid()}.log"


# ------------------------------------------------------------------ crawl / reparse


def run_crawl(args, *, reparse: bool = False) -> int:
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from crawler.lock import LockError, archive_lock
    from crawler.runlog import RunLog
    from crawler.spiders.epaper import EpaperSpider
    from storage.parquet import archived_dates

    dates = requested_dates(args)
    config = load_config(args, None if reparse else args.base_url)
    data = check_data_dir(Path(config.storage.data_dir))
    extra = scrapy_overrides(args.settings)
    spider_args: dict[str, str] = {}
    if reparse:
        from crawler.warc import replay_root

        if dates is None:
            dates = archived_dates(data, "warc")
            if not dates:
                raise UsageError(f"no WARC files under {data / 'warc'}")
        base_url = replay_root(data, dates)
    else:
        base_url = check_base_url(config.portal.base_url)
    if dates:
        spider_args = {"start": dates[0].isoformat(), "end": dates[-1].isoformat()}
    else:
        spider_args = {"latest": "1"}

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
    settings.set("LOG_FILE", str(log_file(data, args.command)), priority="cmdline")

    try:
        lock = archive_lock(data, f"epaper {args.command}")
        lock.__enter__()
    except LockError as exc:
        print(f"epaper: {exc}", file=sys.stderr)
        return 1
    try:
        process = CrawlerProcess(settings)
        if args.verbose:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s [%(name)s] %(levelname)s: %(message)s"))
            logging.getLogger().addHandler(handler)
        crawler = process.create_crawler(EpaperSpider)
        record = RunLog.start(data, " ".join(["epaper", *sys.argv[1:]]), dates or [])
        process.crawl(crawler, base_url=base_url, **spider_args)
        process.start()
        spider = crawler.spider
        if spider is None:
            raise UsageError("the crawl did not start; see the log")
        if spider.fatal:
            record.finish(2)
            raise UsageError(spider.fatal)
        status = report(spider, record, quiet=args.quiet)
        record.finish(status)
        return status
    finally:
        lock.__exit__(None, None, None)


def report(spider, record, quiet: bool = False) -> int:
    """One line per date: stdout for archived / no issue, stderr for the others."""
    status = 0
    if spider.error and not spider.dates:
        print(f"latest: failed: {spider.error}", file=sys.stderr)
        return 1
    for day in spider.dates:
        o = spider.outcomes[day]
        if o.status == "no_issue":
            record.date_outcome(day, "no_issue")
            if not quiet:
                print(f"{day} no issue")
            continue
        if o.status == "archived":
            record.date_outcome(day, "archived", o.written, o.pages, o.duplicates)
            if not quiet:
                print(f"{day} archived: {o.pages} pages, {o.written} articles, {o.duplicates} duplicates")
            continue
        status = 1
        kind = "failed" if not o.written and not o.kept_previous else "incomplete"
        record.date_outcome(day, kind, o.written, o.pages, o.duplicates, o.failures)
        shown = "; ".join(f"{f['url']} ({f['reason']})" for f in o.failures[:3])
        more = f"; and {len(o.failures) - 3} more" if len(o.failures) > 3 else ""
        kept = " (previous complete snapshot kept)" if o.kept_previous else ""
        print(f"{day} {kind}{kept}: {o.written} articles archived, {len(o.failures)} failed: {shown}{more}",
              file=sys.stderr)
    return status


# ------------------------------------------------------------------ other commands


def run_status(args) -> int:
    from crawler.runlog import last_outcomes
    from storage.parquet import archived_dates, snapshot_info

    config = load_config(args)
    data = Path(config.storage.data_dir)
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

    return demo(Path(args.data))


COMMANDS = {
    "crawl": run_crawl,
    "reparse": lambda a: run_crawl(a, reparse=True),
    "status": run_status,
    "schema": run_schema,
    "schedule": run_schedule,
    "demo": run_demo,
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
    sys.exit(main())

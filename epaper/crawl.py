"""Running the spider in this process for `epaper crawl` and `epaper reparse`: logging, the
per-date lines as dates settle, the run log, the exit status."""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import time
from pathlib import Path

from epaper.config import UsageError


def log_file(data: Path, command: str, tz=None) -> Path:
    """``logs/20261127T073000+0800-crawl-<pid>.log``: the start time in the portal's zone."""
    from epaper.timefmt import stamp

    logs = data / "logs"
    if logs.is_symlink() or (logs.exists() and not logs.is_dir()):
        raise UsageError(f"{logs} is not a folder (a file or a symlink): move it out of the archive")
    try:
        logs.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {logs}: {exc.strerror or exc}") from None
    return logs / f"{stamp(dt.datetime.now(dt.timezone.utc), tz)}-{command}-{os.getpid()}.log"


def config_zone(settings):
    """The portal's time zone from the crawl's config (schedule.timezone)."""
    from epaper.config import Config

    config = settings.get("EPAPER_CONFIG")
    return config.schedule.tzinfo if isinstance(config, Config) else None


def run_spider(args, data: Path, settings, base_url: str, spider_args: dict, dates, record,
               rounds: list[tuple[dict, dict, set | None]] | None = None) -> int:
    """Run the spider in this process, one line per date as it settles; the exit status.
    `record`: the run's line in the run log (epaper.runlog.RunLog.start), finished here.
    `rounds`: runs of the spider one after the other, each (settings, spider arguments, the
    dates whose lines it prints), as a history replay needs; by default one run of
    `spider_args` printing every date."""
    from twisted.internet import defer

    from epaper.crawler.ledger import Ledger
    from epaper.crawler.signals import issue_done
    from epaper.crawler.spiders.epaper import EpaperSpider

    rounds = rounds or [({}, spider_args, None)]
    try:  # a -s value Scrapy cannot use (a component path, a reactor) fails here or in crawl()
        process = new_process(settings)
        tz = config_zone(settings)
        log_path = log_file(data, args.command, tz)
        setup_logging(settings, log_path, args.verbose, args.log_format == "json", tz)
        first = process.create_crawler(EpaperSpider)
    except (ImportError, ValueError, TypeError, AttributeError, KeyError, NameError) as exc:
        raise UsageError(f"cannot set up the crawl: {exc}") from None
    reporter = Reporter(record, len(dates or [None]), quiet=args.quiet, json_lines=args.log_format == "json", tz=tz)
    failed: list = []
    stats: dict = {}
    ran: dict = {}  # the first crawler run, and the last
    started = time.time()

    @defer.inlineCallbacks
    def crawl_rounds():
        for n, (overrides, kwargs, shown) in enumerate(rounds):
            crawler = first if n == 0 else process.create_crawler(EpaperSpider)
            crawler.settings.setdict(overrides, priority="cmdline")  # its own: crawl() merges the process's in
            crawler.signals.connect(reporter.on_issue_done, issue_done)
            if args.log_format == "json":
                _json_formatter().crawler = crawler
            reporter.shown = shown
            ran.setdefault("first", crawler)
            ran["last"] = crawler
            yield process.crawl(crawler, base_url=base_url, **kwargs).addErrback(failed.append)
            if failed or crawler.spider is None:
                return
            for key, value in crawler.stats.get_stats().items():
                if isinstance(value, int):
                    stats[key] = stats.get(key, 0) + value
            if Ledger.from_crawler(crawler).fatal:
                return
            if crawler.stats.get_value("finish_reason") != "finished":  # stopped (SIGTERM): no next round
                return
            reporter.settle(Ledger.from_crawler(crawler))

    crawl_rounds()
    process.start()
    if failed:
        logging.getLogger(__name__).error("the crawl could not run: %s", failed[0].getTraceback())
        record.finish(2)
        write_metrics(data, settings.get("EPAPER_CONFIG"))
        raise UsageError(f"the crawl could not run: {failed[0].getErrorMessage()}")
    if not ran or ran["last"].spider is None:
        raise UsageError("the crawl did not start; see the log")
    ledger = Ledger.from_crawler(ran["last"])
    if ledger.fatal:
        record.finish(2)
        write_metrics(data, settings.get("EPAPER_CONFIG"))
        raise UsageError(ledger.fatal)
    reporter.settle(ledger)
    reporter.not_reached([day for day in dates or ledger.dates if day not in reporter.done])
    status = reporter.finish(ledger)
    record.stats = run_stats(stats, data, dates or Ledger.from_crawler(ran["first"]).dates, started)
    record.finish(status)
    retain(data, settings.get("EPAPER_CONFIG"), keep=log_path)
    write_metrics(data, settings.get("EPAPER_CONFIG"))
    return status


def run_stats(stats: dict, data: Path, dates, started: float) -> dict:
    """The run's figures for the run log (and so the metrics): requests made, bytes downloaded,
    bytes written (snapshots, and the WARC files of the run's dates written since it started)."""
    from epaper.storage.parquet import partition_dir

    warc = 0
    for day in dates or []:
        for path in partition_dir(data, "warc", day).glob("*.warc.gz"):
            try:
                info = path.stat()
            except OSError:
                continue
            if info.st_mtime >= started:
                warc += info.st_size
    return {"requests": int(stats.get("downloader/request_count", 0)),
            "response_bytes": int(stats.get("downloader/response_bytes", 0)),
            "bytes_written": int(stats.get("epaper/bytes_written", 0)) + warc,
            "suspect_dates": int(stats.get("epaper/health/suspect_dates", 0))}


def write_metrics(data: Path, config) -> None:
    """Rewrite DATA/metrics/epaper.prom (epaper.metrics) after a run; a failure is a warning."""
    from epaper.config import Config
    from epaper.metrics import write_metrics as write

    if not isinstance(config, Config):
        return
    try:
        write(data, source=config.portal.id, tz=config.schedule.tzinfo, window_days=config.schedule.catchup_days)
    except (OSError, ValueError) as exc:  # monitoring output: the next run writes it again
        logging.getLogger(__name__).warning("metrics not written: %s", exc)


def retain(data: Path, config, keep: Path | None = None) -> None:
    """Prune old logs and run-log lines as the config says (epaper.retention)."""
    from epaper.config import Config
    from epaper.retention import apply_retention

    if not isinstance(config, Config):
        return
    try:
        apply_retention(data, log_days=config.storage.log_retention_days,
                        runs_days=config.storage.runs_retention_days, keep=keep)
    except OSError as exc:  # housekeeping: the next run tries again
        logging.getLogger(__name__).warning("retention not applied: %s", exc)


class ZoneFormatter(logging.Formatter):
    """Log lines whose time is ISO 8601 with the offset, in the portal's zone."""

    def __init__(self, fmt=None, tz=None):
        super().__init__(fmt)
        self.tz = tz

    def formatTime(self, record: logging.LogRecord, datefmt=None) -> str:  # noqa: N802 - logging's name
        from epaper.timefmt import iso

        return iso(dt.datetime.fromtimestamp(record.created, dt.timezone.utc), self.tz)


class JsonFormatter(ZoneFormatter):
    """One JSON object per log record, for log shippers. Scrapy's stats dump (a Python repr
    in its message) becomes ``"stats"``, an object of JSON values, once `crawler` is set."""

    crawler = None  # whose stats a stats dump holds

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        event = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name,
                 "message": message}
        if message.startswith("Dumping Scrapy stats:") and self.crawler is not None:
            event["message"] = "Dumping Scrapy stats"
            event["stats"] = self.crawler.stats.get_stats()
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False, default=self._value)

    def _value(self, value):
        from epaper.timefmt import iso

        if isinstance(value, dt.datetime):
            return iso(value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc), self.tz)
        if isinstance(value, (dt.date, dt.timedelta)):
            return str(value) if isinstance(value, dt.timedelta) else value.isoformat()
        return str(value)


def _json_formatter() -> JsonFormatter:
    """The JsonFormatter setup_logging installed (there is one per process)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, JsonFormatter):
            return handler.formatter
    return JsonFormatter()


def new_process(settings):
    """A CrawlerProcess that leaves logging to us (the setting replaced the argument in Scrapy 2.19)."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import default_settings

    if hasattr(default_settings, "LOG_INSTALL_ROOT_HANDLER"):
        settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
        return CrawlerProcess(settings)
    return CrawlerProcess(settings, install_root_handler=False)


def setup_logging(settings, path: Path, verbose: bool, json_lines: bool, tz=None) -> None:
    """The Scrapy log to a file per run (and to stderr with --verbose), as text or JSON lines;
    times in the portal's zone with their offset (epaper.timefmt)."""
    formatter = JsonFormatter(tz=tz) if json_lines else ZoneFormatter(settings.get("LOG_FORMAT"), tz)
    handlers: list[logging.Handler] = [logging.FileHandler(path, encoding="utf-8")]
    if verbose:
        handlers.append(logging.StreamHandler(sys.stderr))
    root = logging.getLogger()
    root.setLevel(logging.NOTSET)
    for handler in handlers:
        handler.setLevel(settings.get("LOG_LEVEL"))
        handler.setFormatter(formatter)
        root.addHandler(handler)


def _media(result) -> str:
    """The page PDFs, scans and images not captured (crawler.media): named in the log, counted
    on the date's line; the date stays complete."""
    count = len(result.media_failures)
    return f", {count} media file{'s' if count != 1 else ''} not captured (see the log)" if count else ""


def _changes(result) -> dict[str, int]:
    """The corrections and removals a date's crawl found, for its line and the run log."""
    return {"revised": result.revised, "gone": result.gone}


class Reporter:
    """Prints each date's line as soon as the date is settled, and records it in the run log.

    On a terminal a progress line (dates done, articles, failures, rate) is kept on stderr;
    under cron only the per-date lines appear. `json` prints one JSON object per event.
    """

    def __init__(self, record, total: int, quiet: bool = False, json_lines: bool = False, tz=None):
        from epaper.timefmt import zone

        self.record, self.total, self.quiet, self.json = record, total, quiet, json_lines
        self.tz = zone(tz)
        self.today = dt.datetime.now(self.tz).date()  # in the portal's zone
        self.tty = sys.stderr.isatty() and not quiet and not json_lines
        self.done: set[dt.date] = set()
        self.shown: set[dt.date] | None = None  # the dates whose lines the current round prints (None: all)
        self.articles = self.failed = 0
        self.status = 0
        self.suspect = False  # an archived date is suspect: exit status 3 when nothing failed
        self.started = time.monotonic()

    def on_issue_done(self, date, result) -> None:
        if date in self.done or (self.shown is not None and date not in self.shown):
            return
        self.done.add(date)
        self._clear()
        if result.status == "no_issue" and date > self.today:
            # Not published yet, which is not "no issue": not recorded, and not a success.
            self.status = 1
            self._out(date, "not_yet_published", f"{date} not yet published (today is {self.today} in "
                                                  f"{self.tz}): nothing archived, nothing recorded", result, sys.stderr)
        elif result.status == "no_issue":
            self.record.date_outcome(date, "no_issue")
            self._out(date, "no_issue", f"{date} no issue", result)
        elif result.status == "archived" and result.unchanged:
            self.record.date_outcome(date, "archived", result.articles, result.pages, result.duplicates)
            self._out(date, "already_archived", f"{date} already archived", result)
        elif result.status == "archived":
            self.articles += result.articles
            self.record.date_outcome(date, "archived", result.articles, result.pages, result.duplicates,
                                     health=result.health, suspect=result.suspect,
                                     media_failures=result.media_failures, **_changes(result))
            changed = ", ".join(f"{n} {what}" for what, n in _changes(result).items() if n)
            self._out(date, "archived", f"{date} archived: {result.pages} pages, {result.articles} articles, "
                                        f"{result.duplicates} duplicates" + (f" ({changed})" if changed else "")
                      + _media(result), result)
            if result.suspect:  # archived, but extracted unlike the archive's recent issues
                self.suspect = True
                self._out(date, "suspect", f"{date} suspect: {'; '.join(result.suspect)}", result, sys.stderr)
        else:
            self.status, self.failed = 1, self.failed + 1
            self.articles += result.articles
            kind = "failed" if not result.articles and not result.kept_previous else "incomplete"
            self.record.date_outcome(date, kind, result.articles, result.pages, result.duplicates, result.failures,
                                     media_failures=result.media_failures)
            shown = "; ".join(f"{f['url']} ({f['reason']})" for f in result.failures)  # every one: nothing silent
            kept = " (previous complete snapshot kept)" if result.kept_previous else ""
            self._out(date, kind, f"{date} {kind}{kept}: {result.articles} articles archived, "
                                  f"{len(result.failures)} failed: {shown}{_media(result)}", result, sys.stderr)
        self._progress()

    def _out(self, date, kind, line, result, stream=None) -> None:
        stream = stream or sys.stdout
        if self.quiet and stream is sys.stdout:
            return
        if self.json:
            event = {"event": "issue", "date": date.isoformat(), "status": kind, "pages": result.pages,
                     "articles": result.articles, "duplicates": result.duplicates, "failures": result.failures,
                     **({"changes": result.suspect} if kind == "suspect" else {})}
            event.update({k: v for k, v in _changes(result).items() if v})
            if result.media_failures:
                event["media_failures"] = result.media_failures
            line = json.dumps(event, ensure_ascii=False)
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

    def not_reached(self, dates: list[dt.date]) -> None:
        """Dates a run stopped before writing them (a stopped reparse's later rounds)."""
        from epaper.crawler.ledger import DateResult

        self.shown = None
        for date in dates:
            why = {"url": str(date), "reason": "the run stopped before this date was written"}
            self.on_issue_done(date, DateResult(date, "incomplete", failures=[why]))

    def settle(self, ledger) -> None:
        """The lines of the dates never settled (the ledger closes every date when the spider
        closes; a date still pending was cut off with the reactor: `not_reached` reports it)."""
        from epaper.crawler.ledger import PENDING

        for day in ledger.dates:
            if day not in self.done and ledger.results[day].status != PENDING:
                self.on_issue_done(day, ledger.results[day])

    def finish(self, ledger) -> int:
        self._clear()
        if ledger.error and not ledger.dates:
            line = f"latest: failed: {ledger.error}"
            print(json.dumps({"event": "error", "message": line}, ensure_ascii=False) if self.json else line,
                  file=sys.stderr)
            return 1
        self.settle(ledger)
        self._clear()
        if self.status == 0 and self.suspect:
            from epaper.exits import SUSPECT

            return SUSPECT
        return self.status

"""Running the spider in this process for `epaper crawl` and `epaper reparse`: logging, the
per-date lines as dates settle, the exit status (the run itself is recorded by
epaper.runext, as for `scrapy crawl`)."""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from epaper.config import UsageError
from epaper.terminal import counted
from epaper.timefmt import iso, stamp, zone


def log_file(data: Path, command: str, tz=None) -> Path:
    """``logs/20261127T073000+0800-crawl-<pid>.log``: the start time in the portal's zone."""
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


@dataclass
class Paper:
    """One paper's part of a command run in this process: its crawls ("rounds", one after the
    other, as a history replay needs: each (settings, spider arguments, the dates it prints and
    records); by default one run of `spider_args` printing every date), recorded into `run`
    (epaper.runext.ArchiveRun, through RUNLOG_RUN), finished here."""

    source: str
    base_url: str
    spider_args: dict
    dates: list | None
    run: Any
    rounds: list[tuple[dict, dict, set | None]] | None = None
    status: int | None = None  # once the paper's crawls have ended
    error: str | None = None  # why they could not run (a usage error: status 2)
    reporter: Any = None  # its Reporter: its lines
    crawler: Any = None  # the crawler of its latest round


def run_papers(args, data: Path, settings, papers: list[Paper]) -> int:
    """Crawl the papers in this process, all at the same time (each crawler has its own
    downloader: its own politeness per host, and one paper's failure or slowness never stops or
    delays another's), one line per date as it settles; the worst exit status
    (epaper.exits.worst). One paper whose crawl cannot run raises UsageError, as a single crawl
    does; with several, its line names it and its status is 2."""
    from epaper.exits import USAGE, Terminated, worst

    try:  # a -s value Scrapy cannot use (a component path, a reactor) fails here or in crawl()
        process = new_process(settings)
        tz = config_zone(settings)
        log = log_file(data, args.command, tz)
        setup_logging(settings, log, args.verbose, args.log_format == "json", tz)
    except (ImportError, ValueError, TypeError, AttributeError, KeyError, NameError) as exc:
        raise UsageError(f"cannot set up the crawl: {exc}") from None
    failed: dict[str, list] = {}
    for paper in papers:
        paper.run.log = log
        paper.run.last = False  # the metrics are written once, below
        failed[paper.source] = []
        _crawl_rounds(process, args, paper).addErrback(failed[paper.source].append)
    process.start()
    for paper in papers:
        if failed[paper.source] and failed[paper.source][0].check(Terminated, KeyboardInterrupt):
            # SIGTERM or Ctrl-C before Scrapy's own handlers were in place (while a crawler was
            # being set up): stopped, not "could not run". The caller records the stop.
            failed[paper.source][0].raiseException()
    for paper in papers:
        _settle(paper, failed[paper.source])
    from epaper.runext import write_metrics

    config = settings.get("EPAPER_CONFIG")
    # Once, when a paper's run left its line and no update's child: a run of dates not yet
    # published alone records nothing, not even the metrics.
    if any(p.run.recorded and not p.run.record.parent for p in papers) and hasattr(config, "schedule"):
        write_metrics(data, config)
    if len(papers) == 1 and papers[0].error:
        raise UsageError(papers[0].error)
    for paper in papers:
        if paper.error:
            print(f"epaper: {paper.source}: {paper.error}", file=sys.stderr, flush=True)
    return worst([USAGE if p.status is None else p.status for p in papers])


def _crawl_rounds(process, args, paper: Paper):
    """The paper's crawls, one after the other (a Deferred)."""
    from twisted.internet import defer

    from epaper.crawler.ledger import Ledger
    from epaper.crawler.signals import issue_done
    from epaper.crawler.spiders.epaper import EpaperSpider

    tz = config_zone(process.settings)
    paper.reporter = Reporter(len(paper.dates or [None]), quiet=args.quiet, json_lines=args.log_format == "json",
                              tz=tz, source=paper.source)

    @defer.inlineCallbacks
    def rounds():
        for overrides, kwargs, shown in paper.rounds or [({}, paper.spider_args, None)]:
            try:
                crawler = process.create_crawler(EpaperSpider)
            except (ImportError, ValueError, TypeError, AttributeError, KeyError, NameError) as exc:
                raise UsageError(f"cannot set up the crawl: {exc}") from None
            # its own: crawl() merges the process's in
            crawler.settings.setdict({**overrides, "RUNLOG_RUN": paper.run}, priority="cmdline")
            crawler.signals.connect(paper.reporter.on_issue_done, issue_done)
            if args.log_format == "json":
                _json_formatter().crawler = crawler
            paper.reporter.shown = paper.run.shown = shown
            paper.crawler = crawler
            yield process.crawl(crawler, base_url=paper.base_url, source=paper.source, **kwargs)
            if crawler.spider is None or Ledger.from_crawler(crawler).fatal:
                return
            if crawler.stats.get_value("finish_reason") != "finished":  # stopped (SIGTERM): no next round
                return
            paper.reporter.settle(Ledger.from_crawler(crawler))

    return rounds()


def _settle(paper: Paper, failed: list) -> None:
    """The paper's status once its crawls have ended (its run finished), or its error."""
    from epaper.crawler.ledger import INCOMPLETE, DateResult, Ledger
    from epaper.exits import USAGE

    run, reporter = paper.run, paper.reporter
    if failed:
        logging.getLogger(__name__).error("the crawl of %s could not run: %s", paper.source, failed[0].getTraceback())
        run.finish(USAGE)
        paper.error = f"the crawl could not run: {failed[0].getErrorMessage()}"
        return
    if paper.crawler is None or paper.crawler.spider is None:
        paper.error = "the crawl did not start; see the log"
        return
    ledger = Ledger.from_crawler(paper.crawler)
    if ledger.fatal:
        run.finish(USAGE)
        paper.error = ledger.fatal
        return
    reporter.settle(ledger)
    run.shown = reporter.shown = None
    for day in paper.dates or ledger.dates:  # a stopped reparse's later rounds, a date cut off with the reactor
        if day not in reporter.done:
            why = {"url": str(day), "reason": "the run stopped before this date was written"}
            result = DateResult(day, INCOMPLETE, failures=[why])
            run.on_issue_done(day, result)
            reporter.on_issue_done(day, result)
    reporter.finish(ledger)
    paper.status = run.exit_status(ledger)
    run.finish(paper.status)


class ZoneFormatter(logging.Formatter):
    """Log lines whose time is ISO 8601 with the offset, in the portal's zone."""

    def __init__(self, fmt=None, tz=None):
        super().__init__(fmt)
        self.tz = tz

    def formatTime(self, record: logging.LogRecord, datefmt=None) -> str:  # noqa: N802 - logging's name
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
    """Prints each date's line as soon as the date is settled (what the run records is
    epaper.runext's).

    On a terminal a progress line (dates done, articles, failures, rate) is kept on stderr;
    under cron only the per-date lines appear. `json` prints one JSON object per event.
    """

    def __init__(self, total: int, quiet: bool = False, json_lines: bool = False, tz=None, source: str = ""):
        self.total, self.quiet, self.json, self.source = total, quiet, json_lines, source
        self.tz = zone(tz)
        self.today = dt.datetime.now(self.tz).date()  # in the portal's zone
        self.tty = sys.stderr.isatty() and not quiet and not json_lines
        self.done: set[dt.date] = set()
        self.shown: set[dt.date] | None = None  # the dates whose lines the current round prints (None: all)
        self.articles = self.failed = 0
        self.started = time.monotonic()

    def on_issue_done(self, date, result) -> None:
        from epaper.crawler.outcome import ARCHIVED, NO_ISSUE, NOT_YET_PUBLISHED, date_outcome

        if date in self.done or (self.shown is not None and date not in self.shown):
            return
        self.done.add(date)
        self._clear()
        outcome = date_outcome(result)
        if outcome == NOT_YET_PUBLISHED:
            # Not published yet, which is not "no issue": not recorded, and not a success.
            self._out(date, outcome, f"{date} not yet published (today is {self.today} "
                                     f"in {self.tz}): nothing archived, nothing recorded", result, sys.stderr)
        elif outcome == NO_ISSUE:
            self._out(date, outcome, f"{date} no issue", result)
        elif outcome == ARCHIVED and result.unchanged:
            self._out(date, "already_archived", f"{date} already archived", result)
        elif outcome == ARCHIVED:
            self.articles += result.articles
            changed = ", ".join(f"{n} {what}" for what, n in _changes(result).items() if n)
            self._out(date, outcome, f"{date} archived: {counted(result.pages, 'page')}, "
                                     f"{counted(result.articles, 'article')}, {counted(result.duplicates, 'duplicate')}"
                                     + (f" ({changed})" if changed else "")
                      + _media(result), result)
            if result.suspect:  # archived, but extracted unlike the archive's recent issues
                self._out(date, "suspect", f"{date} suspect: {'; '.join(result.suspect)}", result, sys.stderr)
        else:
            self.failed += 1
            self.articles += result.articles
            shown = "; ".join(f"{f['url']} ({f['reason']})" for f in result.failures)  # every one: nothing silent
            kept = " (previous complete snapshot kept)" if result.kept_previous else ""
            self._out(date, outcome, f"{date} {outcome}{kept}: {counted(result.articles, 'article')} archived, "
                                     f"{len(result.failures)} failed: {shown}{_media(result)}", result, sys.stderr)
        self._progress()

    def _out(self, date, kind, line, result, stream=None) -> None:
        stream = stream or sys.stdout
        if self.quiet and stream is sys.stdout:
            return
        if self.json:
            event = {"event": "issue", "time": iso(dt.datetime.now(dt.timezone.utc), self.tz),
                     "source": self.source, "date": date.isoformat(), "status": kind, "pages": result.pages,
                     "articles": result.articles, "duplicates": result.duplicates, "failures": result.failures,
                     **({"changes": result.suspect} if kind == "suspect" else {})}
            event.update({k: v for k, v in _changes(result).items() if v})
            if result.media_failures:
                event["media_failures"] = result.media_failures
            line = json.dumps(event, ensure_ascii=False)
        elif self.source:
            line = f"{self.source} {line}"
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

    def settle(self, ledger) -> None:
        """The lines of the dates never settled (the ledger closes every date when the spider
        closes; a date still pending was cut off with the reactor: run_spider reports it)."""
        from epaper.crawler.ledger import PENDING

        for day in ledger.dates:
            if day not in self.done and ledger.results[day].status != PENDING:
                self.on_issue_done(day, ledger.results[day])

    def finish(self, ledger) -> None:
        """The line of a crawl that found no date (--latest), and the end of the progress line."""
        self._clear()
        if ledger.error and not ledger.dates:
            line = f"{self.source} latest: failed: {ledger.error}".lstrip()
            print(json.dumps({"event": "error", "source": self.source, "message": line}, ensure_ascii=False)
                  if self.json else line, file=sys.stderr)

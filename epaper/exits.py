"""The exit statuses of the `epaper` commands (docs/operations.md "Exit statuses"; 0-3 are the
outside contract there, which scripts and monitors rely on), and the two rules that give them:
:func:`exit_status` for one run of the spider (a crawl, a reparse, ``scrapy crawl``),
:func:`worst` for a run made of several (``update``, each run of ``schedule``). Every other
place (run log, health, metrics, scheduler) asks these."""
from __future__ import annotations

import signal
from collections.abc import Iterable

OK = 0  # every requested date archived completely or confirmed to have no issue
FAILED = 1  # a date incomplete or failed (one stderr line per date)
USAGE = 2  # a usage or configuration error (one short line)
SUSPECT = 3  # archived, but a date's extraction health departs from the archive's history
# Another process holds the archive lock; nothing was done. EX_TEMPFAIL of sysexits.h: try
# again later (cron's next run, systemd's RestartSec).
LOCKED = 75
TERMINATED = 128 + signal.SIGTERM  # 143: stopped by SIGTERM, as a shell reports it
INTERRUPTED = 128 + signal.SIGINT  # 130: Ctrl-C
# A run that archived every date it was asked for (SUSPECT: one of them needs a look, but
# another crawl would change nothing): what "the last successful run" means.
SUCCESS = (OK, SUSPECT)


class Terminated(BaseException):
    """SIGTERM arrived before a command put its own handling in place (epaper.cli.main)."""


def exit_status(outcomes: Iterable[str | None], *, suspect: bool = False, fatal: bool = False,
                error: bool = False) -> int:
    """One run of the spider: USAGE when there was no e-paper to crawl (`fatal`), FAILED when
    nothing could be crawled (`error`: ``--latest`` found no issue) or a requested date's
    outcome (`crawler.outcome.date_outcome`; None: never reached) is not archived or no
    issue, else SUSPECT when an archived date is `suspect`, else OK."""
    from epaper.crawler.outcome import OK_OUTCOMES

    if fatal:
        return USAGE
    if error or any(outcome not in OK_OUTCOMES for outcome in outcomes):
        return FAILED
    return SUSPECT if suspect else OK


def worst(statuses: Iterable[int]) -> int:
    """The status of a run made of several (children's exit statuses, a negative one killed
    by that signal): a failure outranks a suspect date, which outranks success."""
    statuses = [128 - rc if rc < 0 else rc for rc in statuses]
    return next((rc for rc in statuses if rc not in SUCCESS), SUSPECT if SUSPECT in statuses else OK)

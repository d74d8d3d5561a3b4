"""The one vocabulary of a date's states: what a crawl's ledger says of a date, what the run
log records of it, what the archive's state (`epaper.state`), `status` and the metrics count.

Plain words, no imports: the ledger (crawler), the run extension, the run log, the state and
the metrics all take them from here.

In a crawl (`crawler.ledger.DateResult.status`):

- ``pending``: not settled yet;
- ``archived``: the date's snapshot written complete (or, for ``--latest``, archived complete
  already and left as it is);
- ``no_issue``: the portal has no issue of the date, and the date is over in the portal's
  zone: final, and the date's WARC file keeps the calendar that says so;
- ``no_issue_yet``: no issue of today so far (the day is not over): recorded as ``no_issue``,
  which the archive's state holds ``pending`` until a run after the day's end confirms it;
  nothing of it is kept in ``warc/`` (that later run keeps the evidence);
- ``not_yet_published``: no issue of a date after today: neither archived nor recorded;
- ``incomplete``: the crawl had failures (the snapshot holds what could be archived).

In the run log (``runs.jsonl``, one of :data:`RUN_OUTCOMES`): ``archived``, ``no_issue``,
``incomplete``, and ``failed`` (incomplete with nothing archived and no earlier complete
snapshot kept). :func:`date_outcome` turns a crawl's result into that word.

In the archive (`epaper.state`, one of :data:`STATES`): ``archived``, ``suspect``
(complete, but extracted unlike the recent issues), ``incomplete``, ``damaged`` (not valid
Parquet, or its checksum no longer matches), ``no_issue`` (confirmed), ``pending`` (a "no
issue" found before the day was over), ``lost`` (the run log says it was archived, and its
snapshot is gone), ``missing`` (no snapshot and no "no issue").
"""
from __future__ import annotations

from typing import Any

PENDING = "pending"
ARCHIVED = "archived"
NO_ISSUE = "no_issue"
NO_ISSUE_YET = "no_issue_yet"
NOT_YET_PUBLISHED = "not_yet_published"
INCOMPLETE = "incomplete"
FAILED = "failed"
SUSPECT = "suspect"
DAMAGED = "damaged"
MISSING = "missing"
LOST = "lost"

# A crawl found no issue of the date (final or not).
NO_ISSUES = (NO_ISSUE, NO_ISSUE_YET, NOT_YET_PUBLISHED)
# A date's outcome in the run log; the first two need no further crawl.
RUN_OUTCOMES = (ARCHIVED, NO_ISSUE, INCOMPLETE, FAILED)
OK_OUTCOMES = (ARCHIVED, NO_ISSUE)
# A date's state in the archive.
STATES = (ARCHIVED, SUSPECT, INCOMPLETE, DAMAGED, NO_ISSUE, PENDING, LOST, MISSING)
SNAPSHOT_STATES = (ARCHIVED, SUSPECT, INCOMPLETE, DAMAGED)
COMPLETE_STATES = (ARCHIVED, SUSPECT)  # a complete snapshot
DONE_STATES = (ARCHIVED, SUSPECT, NO_ISSUE)  # nothing to crawl again


def date_outcome(result: Any) -> str:
    """A crawl's `DateResult` as the run log records it (one of :data:`RUN_OUTCOMES`), or
    :data:`NOT_YET_PUBLISHED` for a date after today that had no issue (not recorded)."""
    if result.status == NOT_YET_PUBLISHED:
        return NOT_YET_PUBLISHED
    if result.status in NO_ISSUES:
        return NO_ISSUE
    if result.status == ARCHIVED:
        return ARCHIVED
    return FAILED if not result.articles and not result.kept_previous else INCOMPLETE


def recorded(outcome: str) -> bool:
    """Whether an outcome of :func:`date_outcome` goes into the run log."""
    return outcome in RUN_OUTCOMES

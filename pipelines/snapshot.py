"""Snapshot pipeline: buffers each issue date's rows and writes its Parquet snapshots.

A date is written when the crawl's ledger releases it (`issue_ready`: every request and item
of the date settled, dates in ascending order), and the pipeline then settles it in the
ledger with what was written.

- complete date: pages and articles snapshots replaced atomically;
- incomplete date: the rows that could be archived are merged with the previous snapshot's
  (nothing archived before is lost) and the date is marked incomplete; a previous complete
  snapshot is never replaced by an incomplete crawl.
- corrections: an article whose archived fields differ from the previous snapshot's row while
  its raw page differs from the one that row was read from (payload digests, from the WARC
  files and this crawl's records) keeps its earlier row in `revisions/`
  (storage.revisions), written before the snapshot is replaced; a replay of the newest
  captures records none (what differs there is the parser, not the portal).
- removals: an article a complete re-crawl no longer finds stays, marked `gone_since` (the
  time of that crawl's newest fetch); it is cleared when the article is found again.
- history (`epaper reparse`, WARC_REPLAY_GENERATION k): a date's crawls are replayed in time
  order, one run of the spider each, as the crawls they were (see `_roots`); the last rebuilds
  the snapshot, and the revisions and removals of the date's whole history.

A previous snapshot that is damaged (not valid Parquet) is replaced, never merged; every
failed URL of an unfinished date is logged with its reason.

Settings: SNAPSHOT_DIR (archive root), DEDUPE_SHINGLE_SIZE, DEDUPE_THRESHOLD,
DEDUPE_MIN_CHARS (near-duplicate rule, see pipelines.dedupe), SNAPSHOT_INDEX_COMMIT_EVERY
(dates between saves of the dedupe index, default 30; it is also saved at the end of the run
and repaired from the snapshots after a crash), SNAPSHOT_COMPACT (default true: refresh the
per-year copy of `storage.compact` at the end of the run), SNAPSHOT_PAUSE_AT and
SNAPSHOT_PAUSE_SECONDS (crash tests only: "write:N", "rename:N" or "renamed:N" holds the
Nth snapshot file of the run at that point, so that a test can kill the process there).
HEALTH_* (pipelines.health.Thresholds): each snapshot's footer records the date's extraction
health, and the changes that make it suspect against the archive's recent complete issues.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
from itemadapter import ItemAdapter

from epaper.crawler.captures import CaptureIndex, forget_history, history_of
from epaper.crawler.items import ArticleItem
from epaper.crawler.ledger import NO_ISSUE, DateResult, Ledger
from epaper.crawler.signals import issue_ready, issue_writing
from epaper.pipelines import health
from epaper.pipelines.dedupe import DuplicateIndex
from epaper.storage import compact, parquet, revisions

log = logging.getLogger(__name__)

HISTORY = ".reparse"  # under the archive root: the earlier generations of a history replay


def _merge(new: list[dict], old: pa.Table | None, key: str) -> list[dict]:
    if old is None:
        return new
    have = {row[key] for row in new}
    return new + [row for row in old.to_pylist() if row[key] not in have]


class SnapshotPipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        settings = crawler.settings
        self.root = Path(settings.get("SNAPSHOT_DIR"))
        self.index_options = dict(
            shingle_size=settings.getint("DEDUPE_SHINGLE_SIZE"),
            threshold=settings.getfloat("DEDUPE_THRESHOLD"),
            min_chars=settings.getint("DEDUPE_MIN_CHARS"),
        )
        DuplicateIndex.check_options(**self.index_options)  # a bad value stops the crawl before it starts
        self.index: DuplicateIndex | None = None
        # The index file is rewritten whole on commit (0.8 s at 500,000 articles), so not per date.
        self.commit_every = settings.getint("SNAPSHOT_INDEX_COMMIT_EVERY")
        self.uncommitted = 0
        self.compact = settings.getbool("SNAPSHOT_COMPACT")
        stage, _, nth = settings.get("SNAPSHOT_PAUSE_AT").partition(":")
        if stage not in ("", "write", "rename", "renamed") or (nth and not nth.isdigit()):
            raise ValueError(f"SNAPSHOT_PAUSE_AT must be write:N, rename:N or renamed:N, got {stage}:{nth}")
        self.pause_stage, self.pause_nth = stage, int(nth or 1)
        self.pause_seconds = settings.getfloat("SNAPSHOT_PAUSE_SECONDS")
        self.files_started = 0
        self.articles: dict[dt.date, list[dict]] = defaultdict(list)
        self.pages: dict[dt.date, list[dict]] = defaultdict(list)
        self.sources: dict[dt.date, list[dict]] = defaultdict(list)  # each article's field sources
        self.thresholds = health.Thresholds.from_settings(settings)
        self.known_health: dict[dt.date, dict | None] = {}  # complete dates' health, read once
        self.archived: set[dt.date] | None = None
        self.ledger = Ledger.from_crawler(crawler)
        self.replay = bool(settings.get("WARC_REPLAY_DIR"))
        self.generation = settings.getint("WARC_REPLAY_GENERATION") if self.replay else 0
        self.replay_root = Path(settings.get("WARC_REPLAY_DIR"))
        self.history_index: DuplicateIndex | None = None
        self.captures = CaptureIndex.from_crawler(crawler) if settings.getbool("WARC_ENABLED") else None
        self.gone_now: dict[dt.date, int] = {}
        self.read: dict[tuple, pa.Table | None] = {}  # the snapshots the date being written is compared with
        crawler.signals.connect(self.on_issue_ready, issue_ready)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def _pause(self, stage: str, path: Path) -> None:
        if stage == "write":
            self.files_started += 1
        if stage == self.pause_stage and self.files_started == self.pause_nth:
            log.warning("SNAPSHOT_PAUSE_AT: holding snapshot file %d (%s) at %s", self.files_started, path, stage)
            for handler in logging.getLogger().handlers:
                handler.flush()
            time.sleep(self.pause_seconds)

    def process_item(self, item):
        row = dict(ItemAdapter(item).items())  # shallow: asdict() walks every value for nested items
        day = row.pop("issue_date")
        if isinstance(item, ArticleItem):
            self.sources[day].append(row.pop("sources", None) or {})  # counted, not a column
        (self.articles if isinstance(item, ArticleItem) else self.pages)[day].append(row)
        return item

    def on_issue_ready(self, date):
        result = self.ledger.results[date]
        written = {}
        try:
            written = self._flush(date, result)
        except Exception as exc:  # OSError, ArrowInvalid (a value its column cannot hold), …: never "archived"
            log.error("cannot write the snapshot of %s: %s", date, exc, exc_info=not isinstance(exc, OSError))
            self.ledger.fail(date, str(self.root), f"write failed: {type(exc).__name__}: {exc}")
        self.articles.pop(date, None)
        self.pages.pop(date, None)
        self.sources.pop(date, None)
        self.read.clear()
        if self.replay and not self.generation:  # written from its newest captures: its history is done
            forget_history(self.replay_root, date)
        result = self.ledger.settle(date, **written)
        for failure in result.failures:
            log.error("%s %s: %s failed: %s", date, result.status, failure["url"], failure["reason"])

    def _writing(self, day: dt.date, keep: bool) -> None:
        self.crawler.signals.send_catch_log(issue_writing, date=day, keep=keep)

    def _flush(self, day: dt.date, result: DateResult) -> dict:
        """Write the date's snapshots; what was written, as `Ledger.settle` takes it."""
        if result.unchanged:  # --latest, archived complete already: nothing was fetched
            self._writing(day, True)
            info = parquet.snapshot_info(self.root, day)
            return {"pages": info.pages, "articles": info.articles, "duplicates": info.duplicates}
        before, out, also = self._roots(day)
        final = out == self.root
        if result.status == NO_ISSUE and any(parquet.has_snapshot(r, day) for r in (before, also) if r):
            # The portal no longer serves an issue the archive holds: reported, never emptied.
            self.ledger.withdrawn(day, self.ledger.root, "the portal no longer serves this archived issue "
                                                         "(no issue found); the archived snapshot is kept")
        if result.status == NO_ISSUE:  # its WARC keeps the calendar that says so
            self._writing(day, True)
            return {}
        articles = sorted(self.articles.get(day, []), key=lambda r: (r["page_index"], r["position"]))
        pages = sorted(self.pages.get(day, []), key=lambda r: r["page_index"])
        previous, current = self._info(before, day), self._info(also, day)
        for root, info in ((before, previous), (also, current)):
            if not result.failures and info is not None and info.error is None:
                articles = self._never_less(day, pages, articles, root)
        complete = not result.failures
        if not complete:
            guard = current if also is not None else previous  # what an incomplete crawl never replaces
            if guard is not None and guard.complete and guard.error is None:
                log.warning("%s: incomplete crawl, keeping the previous complete snapshot", day)
                self._writing(day, False)
                return {"kept_previous": True}
            for root, info in ((before, previous), (also, current)):
                if info is not None:
                    articles, pages = self._merged(day, articles, pages, root)
        # A replay records corrections only between the crawls of a history.
        revised = (self._revisions(day, articles, before)
                   if previous is not None and (not self.replay or before == self.root / HISTORY) else [])
        if not articles and not pages:  # nothing to keep: no snapshot rather than an empty one
            self._writing(day, False)
            return {}
        per_page: dict[int, int] = defaultdict(int)
        for row in articles:
            per_page[row["page_index"]] += 1
        for page in pages:  # articles archived under the page (an article on two pages counts on the first)
            page["article_count"] = per_page[page["page_index"]]
        self._index(final).resolve(day, articles)
        duplicates = sum(1 for r in articles if r.get("duplicate_of"))
        self._writing(day, True)
        crawled = max((r["crawled_at"] for r in articles), default=None)
        summary = health.summarize(articles, self.sources.get(day, []), len(pages))
        suspect = health.judge(summary, self._recent_health(day), self.thresholds) if complete and final else []
        info = {
            "complete": complete,
            "failures": result.failures,
            "pages": len(pages),
            "duplicates": duplicates,
            "crawled_at": crawled.isoformat() if crawled else dt.datetime.now(dt.timezone.utc).isoformat(),
            "source": self.ledger.source,
            "health": summary,
            "suspect": suspect,
            "gone": sum(1 for r in articles if r.get("gone_since") is not None),
        }
        pages_path = parquet.write_snapshot(out, "pages", day, pages, info, pause=self._pause)
        # Before the snapshot that drops them: a kill in between leaves them in both.
        replaced: list[Path] = []
        if also is not None:  # the date's whole history, rebuilt: it replaces the versions archived
            revised, replaced = revisions.rebuild_revisions(self.root, day, revisions.read_revisions(before, day)
                                                            + revised, pause=self._pause)
        else:
            revisions.write_revisions(out, day, revised, pause=self._pause)
        path = parquet.write_snapshot(out, "articles", day, articles, info, pause=self._pause)
        revisions.remove_files(self.root, replaced)
        if not final:
            return {"pages": len(pages), "articles": len(articles), "duplicates": duplicates}
        self.crawler.stats.inc_value("epaper/bytes_written", pages_path.stat().st_size + path.stat().st_size)
        self.crawler.stats.inc_value("epaper/snapshots_written")
        if suspect:
            self.crawler.stats.inc_value("epaper/health/suspect_dates")
            log.warning("%s suspect: %s", day, "; ".join(suspect))
        self.known_health[day] = summary if complete else None
        if self.archived is not None:
            self.archived.add(day)
        self.uncommitted += 1
        if self.uncommitted >= self.commit_every:
            self._commit()
        if revised:
            self.crawler.stats.inc_value("epaper/revised", len(revised))
        gone = self.gone_now.pop(day, 0)
        if also is not None:  # a history replay counts the removals the archive did not show
            shown = self._previous("articles", day, also) if current is not None else None
            marked = {r["article_id"] for r in shown.to_pylist() if r["gone_since"] is not None} if shown else set()
            gone = sum(1 for r in articles if r.get("gone_since") is not None and r["article_id"] not in marked)
        return {"pages": len(pages), "articles": len(articles), "duplicates": duplicates,
                "health": summary, "suspect": suspect, "revised": len(revised), "gone": gone}

    def _roots(self, day: dt.date) -> tuple[Path | None, Path, Path | None]:
        """(where the date's previous version is read, where this version is written, the archive
        when its snapshot is kept besides the previous version).

        A crawl, and a replay of the newest captures, read and write the archive. `epaper
        reparse` replays a date's earlier crawls first (WARC_REPLAY_GENERATION k: the date as
        its k-th crawl left it) into the scratch archive HISTORY, each reading the one before
        as its previous version; then the newest captures, read against the last of them, are
        written to the archive, keeping every row the archive holds that the rebuild does not
        reproduce. A date with one crawl has nothing in HISTORY and is replayed as before.
        """
        scratch = self.root / HISTORY
        if self.generation:
            return (scratch if self.generation > 1 else None), scratch, None
        if self.replay and parquet.has_snapshot(scratch, day):
            return scratch, self.root, self.root
        return self.root, self.root, None

    def _info(self, root: Path | None, day: dt.date) -> parquet.SnapshotInfo | None:
        return parquet.snapshot_info(root, day) if root is not None and parquet.has_snapshot(root, day) else None

    def _merged(self, day: dt.date, articles: list[dict], pages: list[dict], root: Path) -> tuple[list, list]:
        """An incomplete crawl's rows merged with the rows the date's snapshot under `root` holds."""
        articles = _merge(articles, self._previous("articles", day, root), "article_id")
        pages = _merge(pages, self._previous("pages", day, root), "page_no")
        articles.sort(key=lambda r: (r["page_index"], r["position"]))
        pages.sort(key=lambda r: r["page_index"])
        return articles, pages

    def _index(self, final: bool) -> DuplicateIndex:
        """The archive's dedupe index; for a history's earlier generation, a copy never saved."""
        if final:
            if self.index is None:
                self.index = DuplicateIndex.open(self.root, **self.index_options)
            return self.index
        if self.history_index is None:
            self.history_index = DuplicateIndex.open(self.root, **self.index_options)
        return self.history_index

    def _recent_health(self, day: dt.date) -> list[dict]:
        """The health of the complete archived dates before `day`, newest first, at most
        HEALTH_HISTORY of them (footers read once a run; dates written by this run included)."""
        if self.archived is None:
            self.archived = set(parquet.archived_dates(self.root))
        out: list[dict] = []
        for earlier in sorted((d for d in self.archived if d < day), reverse=True):
            if earlier not in self.known_health:
                info = parquet.snapshot_info(self.root, earlier)
                self.known_health[earlier] = info.health if info.complete and not info.error else None
            if self.known_health[earlier]:
                out.append(self.known_health[earlier])  # type: ignore[arg-type]
                if len(out) >= self.thresholds.history:
                    break
        return out

    def _revisions(self, day: dt.date, articles: list[dict], root: Path) -> list[dict]:
        """The previous rows (the snapshot under `root`) of the articles whose archived fields
        changed with their raw page, as `revisions` rows (superseded when the new version was
        fetched)."""
        old = self._previous("articles", day, root)
        if old is None:
            return []
        before = {r["article_id"]: r for r in old.to_pylist()}
        if self.replay:  # the digests of every record of the date's crawls replayed so far
            digests = history_of(self.replay_root, day).captures.digests
            digest = lambda day, record_id: digests.get(record_id or "")  # noqa: E731
        else:
            digest = self.captures.digest_of if self.captures is not None else (lambda day, record_id: None)
        out = []
        for row in articles:
            prior = before.get(row["article_id"])
            if prior is None:
                continue
            raw = digest(day, row.get("warc_record_id"))
            if raw is not None and raw == digest(day, prior.get("warc_record_id")):
                continue  # the same raw page: a difference there is the parser's, not the portal's
            changed = revisions.changed_fields(prior, row)
            if changed and row["crawled_at"] != prior["crawled_at"]:
                out.append({**prior, "superseded_at": row["crawled_at"], "changed_fields": changed})
        if out:
            log.warning("%s: %d articles corrected by the portal; earlier versions kept in revisions/: %s", day,
                        len(out), ", ".join(r["url"] for r in out[:10]))
        return out

    def _never_less(self, day: dt.date, pages: list[dict], articles: list[dict], root: Path) -> list[dict]:
        """A crawl without failures against the date's previous snapshot (under `root`): a re-crawl never
        deletes a row. A page the previous snapshot holds (by page_no) that this crawl did not
        find fails the date ("less than the archive holds"), so the previous snapshot stays; an
        article it holds that the intact pages no longer link is kept (its previous row)."""
        old_pages = self._previous("pages", day, root)
        found = {p["page_no"] for p in pages}
        for row in old_pages.to_pylist() if old_pages is not None else []:
            if row["page_no"] not in found:
                self.ledger.fail(day, row["url"], f"page {row['page_no']} is archived but missing from this crawl "
                                                  "(the portal no longer lists it)")
        if self.ledger.results[day].failures:
            return articles
        old_articles = self._previous("articles", day, root)
        ids = {a["article_id"] for a in articles}
        kept = [r for r in (old_articles.to_pylist() if old_articles is not None else []) if r["article_id"] not in ids]
        if kept:
            log.warning("%s: %d archived articles are no longer linked by the portal; kept: %s", day, len(kept),
                        ", ".join(r["url"] for r in kept[:10]))
            self.crawler.stats.inc_value("epaper/kept/unlinked_articles", len(kept))
            # Marked with the time of this crawl's newest fetch (a replay gives the same time).
            when = max((r["crawled_at"] for r in articles), default=dt.datetime.now(dt.timezone.utc))
            newly = [r for r in kept if r.get("gone_since") is None]
            for row in newly:
                row["gone_since"] = when
            self.gone_now[day] = len(newly)
        return sorted(articles + kept, key=lambda r: (r["page_index"], r["position"]))

    def _commit(self) -> None:
        """Persist the dedupe index; a crash before this only costs a repair at the next open."""
        if self.index is not None and self.uncommitted:
            self.index.commit()
            parquet.remove_common_metadata(self.root)
            self.uncommitted = 0

    def _previous(self, dataset: str, day: dt.date, root: Path) -> pa.Table | None:
        """The date's snapshot under `root` to compare and merge with, read once while the date
        is written; None when absent or damaged (then replaced)."""
        key = (dataset, day, root)
        if key not in self.read:
            try:
                self.read[key] = parquet.read_snapshot(root, dataset, day)
            except (OSError, pa.ArrowException) as exc:
                log.warning("%s: the previous %s snapshot is damaged and will be replaced: %s", day, dataset, exc)
                self.read[key] = None
        return self.read[key]

    def close_spider(self):
        self._commit()
        # Let go of the indexes now: a reparse runs the spider again in this process.
        self.index = self.history_index = None
        if self.compact and not self.ledger.fatal:
            try:
                compact.refresh(self.root)
            except (OSError, pa.ArrowException) as exc:  # derived data: the next run retries
                log.error("the compacted copy under %s was not refreshed: %s", self.root / compact.COMPACT, exc)

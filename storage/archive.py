"""The archive: what one date's batch of rows does to what is stored. No Scrapy imports.

`Archive.write(batch)` applies the archive's rules to one issue date and writes it:

- complete date: pages and articles snapshots replaced atomically;
- incomplete date: the rows that could be archived are merged with the previous snapshot's
  (nothing archived before is lost) and the date is marked incomplete; a previous complete
  snapshot is never replaced by an incomplete crawl;
- never less: a page the previous snapshot holds that a complete crawl did not find fails the
  date ("less than the archive holds"); an article it holds that the pages no longer link is
  kept, marked `gone_since` (the time of that crawl's newest fetch), cleared when found again;
- corrections: an article whose archived fields differ from the previous snapshot's row while
  its raw page differs from the one that row was read from (`Batch.digest`) keeps its earlier
  row in `revisions/`, written before the snapshot is replaced;
- a date the portal no longer serves ("no issue") while the archive holds it is a failure,
  never an emptied date;
- `duplicate_of` resolved through the archive's dedupe index, dates written in order;
- the date's extraction health summarised into the snapshot's footer and judged against the
  archive's recent complete issues (`Health`).

History (`epaper reparse`): a date's crawls are replayed in time order. `Archive(root,
replayed_crawl=k)` writes the date as its k-th crawl left it into the scratch archive
`.reparse/`, each reading the one before as its previous version; `Archive(root, replay=True)`
then writes the newest captures into the archive, read against the last of them, keeping
every row the archive holds that the rebuild does not reproduce, and rebuilds the date's
revisions. A date with one crawl has nothing in `.reparse/` and is replayed as a crawl.

A previous snapshot that is damaged (not valid Parquet) is replaced, never merged.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from epaper.storage import compact, parquet, revisions
from epaper.storage.dedupe import DuplicateIndex
from epaper.storage.layout import check_layout

log = logging.getLogger(__name__)

HISTORY = ".reparse"  # under the archive root, a folder per paper: the earlier crawls of a history replay


class Health(Protocol):
    """How a date's extraction health is summarised and judged (`pipelines.health`)."""

    history: int  # recent complete issues a date is judged against

    def summarize(self, articles: Sequence[Mapping[str, Any]], sources: Sequence[Mapping[str, Any]],
                  pages: int) -> dict: ...

    def judge(self, day: dt.date, summary: Mapping[str, Any],
              recent: Sequence[tuple[dt.date, Mapping[str, Any]]]) -> list[str]: ...


def _no_digest(day: dt.date, record_id: str | None) -> str | None:
    return None


def _no_pause(stage: str, path: Path) -> None:
    pass


@dataclass
class Batch:
    """What one crawl found of one date."""

    day: dt.date
    articles: list[dict] = field(default_factory=list)
    pages: list[dict] = field(default_factory=list)
    sources: list[dict] = field(default_factory=list)  # each article's field sources (health only)
    # {"url", "reason"} of what the crawl could not get; `write` appends what the archive finds
    # missing (an archived page this crawl lacks, an archived issue no longer served)
    failures: list[dict] = field(default_factory=list)
    # the crawl found no issue; `write` clears it when the archive holds the date (a claim it refuses)
    no_issue: bool = False
    unchanged: bool = False  # --latest, archived complete already: nothing was fetched
    root_url: str = ""  # the e-paper root (the URL of a date-wide failure)
    # the payload digest of a WARC record (by its id), to tell a correction by the portal from
    # a difference in parsing
    digest: Callable[[dt.date, str | None], str | None] = _no_digest


@dataclass
class Written:
    """What `Archive.write` did with a batch; `settled()` is what `Ledger.settle` takes."""

    pages: int = 0
    articles: int = 0
    duplicates: int = 0
    kept_previous: bool = False  # incomplete: the previous complete snapshot stays
    health: dict | None = None
    suspect: list[str] = field(default_factory=list)
    revised: int = 0  # articles corrected by the portal (earlier rows kept in revisions/)
    gone: int = 0  # articles newly marked gone_since
    unlinked: int = 0  # archived articles the pages no longer link (kept)
    bytes_written: int = 0  # of the archive's snapshot files (0 for an earlier crawl of a history)

    def settled(self) -> dict:
        return {"pages": self.pages, "articles": self.articles, "duplicates": self.duplicates,
                "kept_previous": self.kept_previous, "health": self.health, "suspect": self.suspect,
                "revised": self.revised, "gone": self.gone}


def _merge(new: list[dict], old: pa.Table | None, key: str) -> list[dict]:
    if old is None:
        return new
    have = {row[key] for row in new}
    return new + [row for row in old.to_pylist() if row[key] not in have]


def _check_columns(rows: list[dict], schema: pa.Schema) -> None:
    """A field the schema lacks would be dropped silently by `pa.Table.from_pylist`: refused."""
    names = set(schema.names)
    for row in rows:
        extra = row.keys() - names
        if extra:
            raise ValueError(f"fields missing from the schema: {', '.join(sorted(extra))}")


def _article_order(row: dict) -> tuple:
    return row["page_index"], row["position"]


def _page_order(row: dict) -> int:
    return row["page_index"]


class Archive:
    """One paper's part of an archive root (`source`: its id), written one date at a time (dates
    in ascending order).

    `index_options` are the dedupe index's (shingle_size, threshold, min_chars);
    `commit_every` the dates between saves of the index (it is rewritten whole; a crash
    before a save costs a repair at the next open); `pause(stage, path)` is called at each
    snapshot file's "write", "rename" and "renamed" stages (crash tests hold it there).
    """

    def __init__(self, root: Path | str, source: str, *, index_options: Mapping[str, Any] | None = None,
                 health: Health | None = None, commit_every: int = 30, replayed_crawl: int = 0,
                 replay: bool = False, pause: Callable[[str, Path], None] = _no_pause):
        self.root = Path(root)
        self.source = source
        check_layout(self.root)  # a paper's rows never land beside another layout's
        self.index_options = {"shingle_size": 5, "threshold": 0.8, "min_chars": 50, **(index_options or {})}
        DuplicateIndex.check_options(**self.index_options)
        self.health = health
        self.commit_every = commit_every
        self.replayed_crawl = replayed_crawl
        self.replay = replay or bool(replayed_crawl)
        self.pause = pause
        self.index: DuplicateIndex | None = None
        self.uncommitted = 0
        self.known_health: dict[dt.date, dict | None] = {}  # complete dates' health, read once
        self.archived: set[dt.date] | None = None
        self.read: dict[tuple, pa.Table | None] = {}  # the snapshots the date being written is compared with

    # ------------------------------------------------------------ reading

    def dates(self, dataset: str = "articles") -> list[dt.date]:
        return parquet.archived_dates(self.root, self.source, dataset)

    def previous(self, dataset: str, day: dt.date, root: Path | None = None) -> pa.Table | None:
        """The date's snapshot (under `root`, default the archive) to compare and merge with,
        read once while the date is written; None when absent or damaged (then replaced). An
        error of the system (EIO, EACCES, EMFILE: an errno) is raised: the file may be whole, and
        a write that went on without it could hold less than the archive does."""
        root = self.root if root is None else root
        key = (dataset, day, root)
        if key not in self.read:
            try:
                self.read[key] = parquet.read_snapshot(root, self.source, dataset, day)
            except (OSError, pa.ArrowException) as exc:
                if isinstance(exc, OSError) and exc.errno is not None:
                    raise
                log.warning("%s: the previous %s snapshot is damaged and will be replaced: %s", day, dataset, exc)
                self.read[key] = None
        return self.read[key]

    def holds(self, day: dt.date) -> bool:
        """Whether the date has a snapshot this write could lose (the archive's, or the last
        replayed crawl of its history)."""
        before, _, also = self._roots(day)
        return any(parquet.has_snapshot(r, self.source, day) for r in (before, also) if r)

    # ------------------------------------------------------------ writing

    def write(self, batch: Batch, writing: Callable[[bool], None] = lambda keep: None) -> Written:
        """Write the date's batch; `writing(keep)` is called once, right before the snapshot is
        written (keep) or when it will not be (the date's raw capture is committed or dropped
        with it). Raises OSError or ArrowException when a file cannot be written."""
        try:
            return self._write(batch, writing)
        finally:
            self.read.clear()

    def _write(self, batch: Batch, writing: Callable[[bool], None]) -> Written:
        day = batch.day
        if batch.unchanged:
            writing(True)
            info = parquet.snapshot_info(self.root, self.source, day)
            return Written(pages=info.pages, articles=info.articles, duplicates=info.duplicates)
        before, out, also = self._roots(day)
        final = out == self.root
        if batch.no_issue and self.holds(day):
            batch.failures.append({"url": batch.root_url, "reason": "the portal no longer serves this archived issue "
                                                                   "(no issue found); the archived snapshot is kept"})
            batch.no_issue = False
        if batch.no_issue:  # its WARC keeps the calendar that says so
            writing(True)
            return Written()
        for rows, dataset in ((batch.articles, "articles"), (batch.pages, "pages")):
            self._own(rows)
            _check_columns(rows, parquet.DATASETS[dataset])
        articles = sorted(batch.articles, key=_article_order)
        pages = sorted(batch.pages, key=_page_order)
        previous, current = self._info(before, day), self._info(also, day)
        gone = unlinked = 0
        for root, info in ((before, previous), (also, current)):
            if not batch.failures and info is not None and info.error is None:
                articles, newly, kept = self._never_less(day, pages, articles, root, batch.failures)
                gone, unlinked = gone + newly, unlinked + kept
        complete = not batch.failures
        if not complete:
            guard = current if also is not None else previous  # what an incomplete crawl never replaces
            if guard is not None and guard.complete and guard.error is None:
                log.warning("%s: incomplete crawl, keeping the previous complete snapshot", day)
                writing(False)
                return Written(kept_previous=True)
            for root, info in ((before, previous), (also, current)):
                if info is not None:
                    articles = sorted(_merge(articles, self.previous("articles", day, root), "article_id"),
                                      key=_article_order)
                    pages = sorted(_merge(pages, self.previous("pages", day, root), "page_no"), key=_page_order)
        # A replay records corrections only between the crawls of a history.
        revised = (self._revisions(day, articles, before, batch.digest)
                   if previous is not None and (not self.replay or before == self.scratch) else [])
        if not articles and not pages:  # nothing to keep: no snapshot rather than an empty one
            writing(False)
            return Written()
        per_page: dict[int, int] = defaultdict(int)
        for row in articles:
            per_page[row["page_index"]] += 1
        for page in pages:  # articles archived under the page (an article on two pages counts on the first)
            page["article_count"] = per_page[page["page_index"]]
        self._dedupe_index().resolve(day, articles)
        duplicates = sum(1 for r in articles if r.get("duplicate_of"))
        writing(True)
        crawled = max((r["crawled_at"] for r in articles), default=None)
        summary = self.health.summarize(articles, batch.sources, len(pages)) if self.health else None
        suspect = (self.health.judge(day, summary, self._recent_health(day))
                   if self.health and summary is not None and complete and final else [])
        info = {
            "complete": complete,
            "failures": batch.failures,
            "pages": len(pages),
            "duplicates": duplicates,
            "crawled_at": crawled.isoformat() if crawled else dt.datetime.now(dt.timezone.utc).isoformat(),
            "health": summary,
            "suspect": suspect,
            "gone": sum(1 for r in articles if r.get("gone_since") is not None),
        }
        pages_path = parquet.write_snapshot(out, self.source, "pages", day, pages, info, pause=self.pause)
        # Before the snapshot that drops them: a kill in between leaves them in both.
        replaced: list[Path] = []
        if also is not None:  # the date's whole history, rebuilt: it replaces the versions archived
            earlier = revisions.read_revisions(before, self.source, day)
            revised, replaced = revisions.rebuild_revisions(self.root, self.source, day, earlier + revised,
                                                            pause=self.pause)
        else:
            revisions.write_revisions(out, self.source, day, revised, pause=self.pause)
        path = parquet.write_snapshot(out, self.source, "articles", day, articles, info, pause=self.pause)
        revisions.remove_files(self.root, replaced)
        written = Written(pages=len(pages), articles=len(articles), duplicates=duplicates)
        if not final:
            return written
        self.known_health[day] = summary if complete else None
        if self.archived is not None:
            self.archived.add(day)
        self.uncommitted += 1
        if self.uncommitted >= self.commit_every:
            self.commit()
        if also is not None:  # a history replay counts the removals the archive did not show
            shown = self.previous("articles", day, also) if current is not None else None
            marked = {r["article_id"] for r in shown.to_pylist() if r["gone_since"] is not None} if shown else set()
            gone = sum(1 for r in articles if r.get("gone_since") is not None and r["article_id"] not in marked)
        written.health, written.suspect = summary, suspect
        written.revised, written.gone, written.unlinked = len(revised), gone, unlinked
        written.bytes_written = pages_path.stat().st_size + path.stat().st_size
        return written

    def commit(self) -> None:
        """Persist the dedupe index."""
        if self.index is not None and self.uncommitted:
            self.index.commit()
            parquet.remove_common_metadata(self.root)
            self.uncommitted = 0

    def close(self, refresh_compact: bool = True) -> None:
        """Save the dedupe index, let go of it (a reparse opens the archive again in this
        process) and refresh the derived per-year copy (`storage.compact`)."""
        self.commit()
        self.index = None
        if refresh_compact:
            try:
                compact.refresh(self.root, self.source)
            except (OSError, pa.ArrowException) as exc:  # derived data: the next run retries
                log.error("the compacted copy under %s was not refreshed: %s", self.root / compact.COMPACT, exc)

    # ------------------------------------------------------------ internals

    @property
    def scratch(self) -> Path:
        """The paper's scratch archive of a history replay."""
        return self.root / HISTORY / self.source

    def _roots(self, day: dt.date) -> tuple[Path | None, Path, Path | None]:
        """(where the date's previous version is read, where this version is written, the
        archive when its snapshot is kept besides the previous version)."""
        scratch = self.scratch
        if self.replayed_crawl:
            return (scratch if self.replayed_crawl > 1 else None), scratch, None
        if self.replay and parquet.has_snapshot(scratch, self.source, day):
            return scratch, self.root, self.root
        return self.root, self.root, None

    def _own(self, rows: list[dict]) -> None:
        """The rows' `source` lives in the partition path: each must be this paper's."""
        for row in rows:
            source = row.pop("source", self.source)
            if source != self.source:
                raise ValueError(f"a row of paper {source!r} in the archive of {self.source!r}: {row.get('url')}")

    def _info(self, root: Path | None, day: dt.date) -> parquet.SnapshotInfo | None:
        if root is None or not parquet.has_snapshot(root, self.source, day):
            return None
        return parquet.snapshot_info(root, self.source, day)

    def _dedupe_index(self) -> DuplicateIndex:
        """The archive's dedupe index (a history's earlier crawl resolves against it and never
        saves it: it counts no final write)."""
        if self.index is None:
            self.index = DuplicateIndex.open(self.root, self.source, **self.index_options)
        return self.index

    def _recent_health(self, day: dt.date) -> list[tuple[dt.date, dict]]:
        """The complete archived dates before `day` with their health, newest first, at most
        `health.history` of them (footers read once; dates written since included)."""
        assert self.health is not None
        if self.archived is None:
            self.archived = set(self.dates())
        out: list[tuple[dt.date, dict]] = []
        for earlier in sorted((d for d in self.archived if d < day), reverse=True):
            if earlier not in self.known_health:
                info = parquet.snapshot_info(self.root, self.source, earlier)
                self.known_health[earlier] = info.health if info.complete and not info.error else None
            if self.known_health[earlier]:
                out.append((earlier, self.known_health[earlier]))  # type: ignore[arg-type]
                if len(out) >= self.health.history:
                    break
        return out

    def _revisions(self, day: dt.date, articles: list[dict], root: Path,
                   digest: Callable[[dt.date, str | None], str | None]) -> list[dict]:
        """The previous rows (the snapshot under `root`) of the articles whose archived fields
        changed with their raw page, as `revisions` rows (superseded when the new version was
        fetched)."""
        old = self.previous("articles", day, root)
        if old is None:
            return []
        before = {r["article_id"]: r for r in old.to_pylist()}
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

    def _never_less(self, day: dt.date, pages: list[dict], articles: list[dict], root: Path,
                    failures: list[dict]) -> tuple[list[dict], int, int]:
        """A crawl without failures against the date's previous snapshot (under `root`): a
        re-crawl never deletes a row. A page the previous snapshot holds (by page_no) that this
        crawl did not find fails the date, so the previous snapshot stays; an article it holds
        that the intact pages no longer link is kept (its previous row). Returns the articles,
        how many were newly marked gone and how many were kept."""
        old_pages = self.previous("pages", day, root)
        found = {p["page_no"] for p in pages}
        for row in old_pages.to_pylist() if old_pages is not None else []:
            if row["page_no"] not in found:
                failures.append({"url": row["url"], "reason": f"page {row['page_no']} is archived but missing from "
                                                              "this crawl (the portal no longer lists it)"})
        if failures:
            return articles, 0, 0
        old_articles = self.previous("articles", day, root)
        ids = {a["article_id"] for a in articles}
        kept = [r for r in (old_articles.to_pylist() if old_articles is not None else []) if r["article_id"] not in ids]
        if not kept:
            return articles, 0, 0
        log.warning("%s: %d archived articles are no longer linked by the portal; kept: %s", day, len(kept),
                    ", ".join(r["url"] for r in kept[:10]))
        # Marked with the time of this crawl's newest fetch (a replay gives the same time).
        when = max((r["crawled_at"] for r in articles), default=dt.datetime.now(dt.timezone.utc))
        newly = [r for r in kept if r.get("gone_since") is None]
        for row in newly:
            row["gone_since"] = when
        return sorted(articles + kept, key=_article_order), len(newly), len(kept)


class PauseAt:
    """Crash tests' hook (settings SNAPSHOT_PAUSE_AT, SNAPSHOT_PAUSE_SECONDS): `"write:N"`,
    `"rename:N"` or `"renamed:N"` holds the Nth snapshot file written at that stage, so that a
    test can kill the process there; `""` holds nothing."""

    def __init__(self, spec: str, seconds: float):
        stage, _, nth = spec.partition(":")
        if stage not in ("", "write", "rename", "renamed") or (nth and not nth.isdigit()):
            raise ValueError(f"SNAPSHOT_PAUSE_AT must be write:N, rename:N or renamed:N, got {stage}:{nth}")
        self.stage, self.nth, self.seconds = stage, int(nth or 1), seconds
        self.files_started = 0

    def __call__(self, stage: str, path: Path) -> None:
        if stage == "write":
            self.files_started += 1
        if stage == self.stage and self.files_started == self.nth:
            log.warning("SNAPSHOT_PAUSE_AT: holding snapshot file %d (%s) at %s", self.files_started, path, stage)
            for handler in logging.getLogger().handlers:
                handler.flush()
            time.sleep(self.seconds)

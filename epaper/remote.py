"""A command on an s3:// archive (`--data s3://bucket/prefix`): its local working copy, the
papers' leases, what is pulled before and published after (storage.objectstore, epaper.lease).

- A writing command (`crawl`, `reparse`) works on the working copy `<storage.cache_dir>/s3-work/…`
  under the local lock (one writer per machine, as for a local archive) and the papers' leases
  (one writer per paper across machines); it pulls what each paper's crawl reads (its snapshots,
  revisions, dedupe index, compacted copy, the run log's parts and the WARC files of the dates
  asked), each date is published as soon as it is written (the snapshot pipeline's
  SNAPSHOT_PUBLISH), and the rest (the dedupe index, the compacted copy, what the run removed,
  the run's line as `runs/parts/<run_id>.json`) at the end of the paper's crawl.
- A reading command (`status`, `changes`, `report`, the loaders) pulls the archive but its WARC
  files into `<storage.cache_dir>/s3-read/…` and reads it there (a writer's copy on the same
  machine is never touched by a reader).
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from epaper.config import UsageError
from epaper.storage.objectstore import (RUN_PARTS, StoreError, WorkingCopy, is_s3, paper_prefixes, publish_runs)

log = logging.getLogger(__name__)


def is_remote(config: Any) -> bool:
    return is_s3(config.storage.data_dir)


class RemoteArchive:
    """One command's s3:// root."""

    def __init__(self, url: str, cache_dir: str = "", role: str = "work"):
        try:
            self.copy = WorkingCopy.open(url, cache_dir or None, role=role)
            self.copy.store.check()
        except StoreError as exc:
            raise UsageError(str(exc)) from None
        except OSError as exc:  # the cache folder
            raise UsageError(f"cannot use the working copy of {url}: {exc.strerror or exc}") from None
        self.url = url
        self.local = self.copy.local
        self.leases: list[Any] = []
        self.copy.publishing = self.check

    @classmethod
    def of(cls, config: Any, role: str = "work") -> RemoteArchive:
        return cls(str(config.storage.data_dir), config.storage.cache_dir, role)

    def hold(self, sources: Iterable[str], command: str, seconds: int) -> contextlib.ExitStack:
        """The papers' leases (LeaseHeld, an epaper.lock.LockHeld, when one is held elsewhere)."""
        from epaper.lease import ArchiveLease

        stack = contextlib.ExitStack()
        try:
            for source in sources:
                self.leases.append(stack.enter_context(ArchiveLease(self.copy.store, source, command, seconds)))
        except BaseException:
            stack.close()
            raise
        return stack

    def check(self) -> None:
        for lease in self.leases:
            lease.check()

    def pull_paper(self, source: str, dates: list[dt.date] | None, warc_all: bool = False) -> int:
        """What the paper's crawl reads: its datasets, the run log's parts, the WARC files of
        `dates` (all of them with `warc_all`)."""
        wanted = {f"issue_date={d.isoformat()}" for d in dates or []}

        def warc(rel: str) -> bool:
            return warc_all or rel.split("/")[2] in wanted

        fetched = self.copy.pull(paper_prefixes(source)) + self.copy.pull([f"{RUN_PARTS}/"], prune=False)
        if warc_all or wanted:
            fetched += self.copy.pull([f"warc/source={source}/"], only=warc)
        return fetched

    def pull_reading(self) -> Path:
        """The archive but its WARC files, for a reader."""
        self.copy.pull(["articles/", "pages/", "revisions/", "compact/", f"{RUN_PARTS}/"])
        return self.local

    def publish(self, sources: Iterable[str]) -> None:
        """The papers' files not published yet (the dedupe index, the compacted copy, a date
        whose publication failed), what the run removed, and every run line of the copy's run
        log not published yet."""
        from epaper.storage.runs import read_run_log

        for source in sources:
            put, deleted = self.copy.sync(paper_prefixes(source) + [f"warc/source={source}/"])
            log.info("%s: published %d objects, deleted %d, to %s", source, put, deleted, self.url)
        lines = [r for r in read_run_log(self.local)
                 if f"{RUN_PARTS}/{r.get('run_id')}.json" not in self.copy.manifest]
        publish_runs(self.copy, lines)
        c = self.counters()
        log.info("store %s: %d requests (%s), %d bytes up, %d bytes down", self.url, c["requests"],
                 ", ".join(f"{k} {v}" for k, v in sorted(c["by_operation"].items())), c["bytes_up"], c["bytes_down"])

    def counters(self) -> dict[str, Any]:
        return self.copy.store.counters.as_dict()


def reading_config(config: Any) -> Any:
    """`config` itself for a local archive; for an s3:// one, the same config on a freshly
    pulled reading copy (UsageError, one line, when the store cannot be read)."""
    if not is_remote(config):
        return config
    remote = RemoteArchive.of(config, role="read")
    try:
        local = remote.pull_reading()
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    return dataclasses.replace(config, storage=dataclasses.replace(config.storage, data_dir=local))


def publisher(remote: RemoteArchive | None) -> Any:
    """The handle the snapshot pipeline publishes each date through (SNAPSHOT_PUBLISH)."""
    return None if remote is None else Publisher(remote.copy)


class Publisher:
    """Publishes a date's files once written (`storage.objectstore.WorkingCopy.publish_date`);
    shared by every crawler of the command (settings are deep-copied: it returns itself)."""

    def __init__(self, copy: WorkingCopy):
        self.copy = copy

    def __deepcopy__(self, memo: dict) -> Publisher:
        return self

    def __call__(self, source: str, day: dt.date) -> int:
        return self.copy.publish_date(source, day)


@contextlib.contextmanager
def parent_run(config: Any):
    """`epaper update` / `epaper schedule` on an s3:// archive: the working copy they read the
    archive's state from (pulled, under the local lock, before), whose run lines are published
    after (each child crawl pulls and publishes its own paper, under its lease)."""
    from epaper.lock import ArchiveLock, LockError

    remote = RemoteArchive.of(config)

    def locked(step) -> None:
        try:
            lock = ArchiveLock(remote.local, "epaper (s3 working copy)").acquire()
        except LockError:  # a writer of this machine runs: the command itself says so
            return
        try:
            step()
        except StoreError as exc:
            raise UsageError(str(exc)) from None
        finally:
            lock.release()

    locked(lambda: [remote.pull_paper(p.portal.id, None) for p in config.papers()])
    try:
        yield remote.local
    finally:
        locked(lambda: remote.publish([]))

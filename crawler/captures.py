"""The captures a date's WARC files hold, read back: streaming in bounded memory, and the
newest capture of each URL with a revisit resolved to the payload it refers to.

Shared by the WARC writer (crawler.warc: an identical payload is written as a revisit), the
conditional requests (crawler.middlewares: validators, and the capture a 304 confirms) and
replay (crawler.warc: `epaper reparse`). No Scrapy imports but the signal it listens to.
"""
from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import io
import logging
import os
import weakref
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from epaper.crawler.signals import issue_writing
from epaper.storage.parquet import UnsafePath, list_files, open_regular, partition_dir

log = logging.getLogger(__name__)


def warc_files(root: Path, source: str, day: dt.date) -> list[Path]:
    """The date's WARC files; none when its folder is reached through a symbolic link (never
    listed, never read: `warc_refusal` says why)."""
    try:
        return list_files(partition_dir(root, source, "warc", day), "*.warc.gz", root)
    except UnsafePath:
        return []


def warc_refusal(root: Path, source: str, day: dt.date) -> str | None:
    """Why the date's WARC folder is never read (a symbolic link on the way, not a folder), or None."""
    try:
        list_files(partition_dir(root, source, "warc", day), "*.warc.gz", root)
    except UnsafePath as exc:
        return f"WARC folder refused: {exc}"
    return None


RECORD_MAXSIZE = 32 * 1024 * 1024  # WARC_RECORD_MAXSIZE's default
_CHUNK = 64 * 1024


class RecordTooLarge(ValueError):
    """A gzip member of a WARC file inflates past the bound on one record (a WARC bomb)."""


def _members(fh, limit: int):
    """The decompressed bytes of each gzip member of an open .warc.gz, one at a time.

    Each member is inflated in chunks, never past `limit` bytes (RecordTooLarge), so memory
    stays bounded whatever the file holds. A member the file ends inside raises EOFError
    (a cut file never passes for a short one); bytes that are not gzip raise BadGzipFile.
    """
    pending = fh.read(_CHUNK)
    offset = 0  # of the member, in the compressed file
    while pending:
        d = zlib.decompressobj(wbits=31)
        out = bytearray()
        consumed = 0
        try:
            while True:
                before = len(pending)
                out += d.decompress(pending, limit + 1 - len(out))
                if len(out) > limit:
                    raise RecordTooLarge(f"record at offset {offset:,} inflates past {limit:,} bytes "
                                         f"(WARC_RECORD_MAXSIZE): not read")
                if d.eof:
                    consumed += before - len(d.unused_data)
                    pending = d.unused_data or fh.read(_CHUNK)
                    break
                consumed += before - len(d.unconsumed_tail)
                pending = d.unconsumed_tail or fh.read(_CHUNK)
                if not pending:
                    out += d.flush()
                    if not d.eof:
                        raise EOFError(f"compressed file ended inside the record at offset {offset:,}")
                    if len(out) > limit:
                        raise RecordTooLarge(f"record at offset {offset:,} inflates past {limit:,} bytes "
                                             f"(WARC_RECORD_MAXSIZE): not read")
                    break
        except zlib.error as exc:
            raise gzip.BadGzipFile(f"not gzip data at offset {offset:,}: {exc}") from None
        offset += consumed
        yield bytes(out)


def _records(path: Path, limit: int = RECORD_MAXSIZE, root: Path | None = None):
    """The records of one WARC file, streamed; raises EOFError/OSError on damage and
    RecordTooLarge on a record that inflates past `limit`.

    Each gzip member is inflated whole (within `limit`) before warcio parses it: warcio's
    iterator swallows an EOFError met while it parses a record's headers, so a cut file
    could pass for a short one; a cut member is caught here first. Read a record's payload
    before asking for the next one.
    """
    with os.fdopen(open_regular(path, root=root), "rb") as fh:  # never through a symlink, never a FIFO
        for member in _members(fh, limit):
            yield from ArchiveIterator(io.BytesIO(member))


# A WARC header naming a record's media kind (crawler.media: pdf, scan, images): its payload is
# never held in memory here, nor answered on replay (the spider asks for no media then).
MEDIA_HEADER = "Epaper-Media"
IDENTICAL = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


def payload_digest(body: bytes) -> str:
    """WARC-Payload-Digest as warcio and Heritrix write it: sha1, base32."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


@dataclass
class Capture:
    """The newest capture of one URL for a date, a revisit resolved to its payload."""

    status: int
    headers: list[tuple[str, str]]
    payload: bytes
    when: dt.datetime
    relative: str  # the WARC file, relative to the data directory
    record_id: str  # the record itself (a revisit's own id)
    digest: str
    original: tuple[str, str]  # (WARC-Record-ID, WARC-Date) of the response record holding the payload
    media: str | None = None  # the media kind (MEDIA_HEADER); its payload is not read (b"")

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass
class DateCaptures:
    """What the committed WARC files of one date hold: the newest capture of each URL, and
    for each (URL, payload digest) the response record holding that payload."""

    newest_by_url: dict[str, Capture] = field(default_factory=dict)
    originals: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    damaged: str | None = None  # the first damaged file, with the reason
    digests: dict[str, str] = field(default_factory=dict)  # WARC-Record-ID -> payload digest (revisits too)

    def newest(self, url: str) -> Capture | None:
        return self.newest_by_url.get(url)

    def original(self, url: str, digest: str) -> tuple[str, str] | None:
        return self.originals.get((url, digest))

    def add_original(self, url: str, digest: str | None, record_id: str, date: str) -> None:
        if digest:
            self.originals.setdefault((url, digest), (record_id, date))


def load_captures(root: Path, source: str, day: dt.date, limit: int = 0) -> DateCaptures:
    """Read every committed WARC file of a date in time order (file names start with the crawl's
    time). A damaged file is read as far as it goes and named in `damaged`."""
    return DateHistory(root, source, day, limit).crawl()


def _read_file(root: Path, path: Path, out: DateCaptures, payloads: dict[str, bytes], limit: int) -> None:
    """Add one WARC file's captures to `out` (the date's files before it already read)."""
    relative = str(path.relative_to(root))
    try:
        for record in _records(path, limit or RECORD_MAXSIZE, root):
            if record.rec_type not in ("response", "revisit"):
                continue
            headers = record.rec_headers
            url = headers.get_header("WARC-Target-URI")
            record_id = headers.get_header("WARC-Record-ID")
            date = headers.get_header("WARC-Date")
            when = dt.datetime.fromisoformat(date.replace("Z", "+00:00"))
            http = record.http_headers
            media = headers.get_header(MEDIA_HEADER)
            if record.rec_type == "response":
                # A page PDF is megabytes that nothing reads back: its digest is the record's.
                payload = b"" if media and headers.get_header("WARC-Payload-Digest") else record.raw_stream.read()
                digest = headers.get_header("WARC-Payload-Digest") or payload_digest(payload)
                payloads[record_id] = payload
                out.add_original(url, digest, record_id, date)
                status, original = int(http.get_statuscode()), (record_id, date)
                http_headers = http.headers
            else:
                refers_to = headers.get_header("WARC-Refers-To")
                if refers_to not in payloads:
                    continue  # its original is in no file read: nothing to answer with
                digest = headers.get_header("WARC-Payload-Digest")
                payload, original = payloads[refers_to], (refers_to, headers.get_header("WARC-Refers-To-Date"))
                status, http_headers = int(http.get_statuscode()), http.headers
                if headers.get_header("WARC-Profile") == NOT_MODIFIED or status == 304:
                    prior = out.newest_by_url.get(url)  # a 304 stands for the capture it confirmed
                    if prior is None:
                        continue
                    status, http_headers = prior.status, prior.headers
            out.digests[record_id] = digest
            prior = out.newest_by_url.get(url)
            if prior is not None and prior.when > when:
                continue  # an older capture than the one kept: the newest answers
            out.newest_by_url[url] = Capture(status, list(http_headers), payload, when, relative, record_id,
                                             digest, original, media)
    except (ArchiveLoadFailed, OSError, EOFError, ValueError) as exc:
        log.warning("damaged WARC file %s: %s", path, exc)
        out.damaged = out.damaged or f"damaged WARC {relative} ({exc})"


class DateHistory:
    """A date's WARC files read in time order, each once, as far as a history replay has gone
    (`epaper reparse` replays a date's crawls one after the other, one run of the spider each).

    `crawl(k)` gives the date as it stood after its k-th crawl: each URL's newest capture in
    the first k files (a URL that crawl did not fetch, such as the calendar a `--latest` run
    skips, answers with an earlier capture); `crawl()` gives the newest of all. `captures`
    holds every record read so far (the digests the snapshot pipeline compares). One is shared
    by the runs of a reparse (`ReplaySession`) and dropped once the date is written from its
    newest captures, so each file is read once: linear in the files, however many crawls a
    date has."""

    def __init__(self, root: Path, source: str, day: dt.date, limit: int):
        self.root, self.limit = root, limit
        self.files = warc_files(root, source, day)
        # A date whose WARC folder is a symbolic link is damaged: nothing is replayed from it,
        # and no validator of it is sent to the portal.
        self.captures = DateCaptures(damaged=warc_refusal(root, source, day))
        self.payloads: dict[str, bytes] = {}  # WARC-Record-ID of a response record -> its payload
        self.read = 0

    def crawl(self, k: int | None = None) -> DateCaptures:
        upto = len(self.files) if k is None else min(k, len(self.files))
        while self.read < upto:
            _read_file(self.root, self.files[self.read], self.captures, self.payloads, self.limit)
            self.read += 1
        return self.captures


class ReplaySession:
    """One reparse's reading of an archive's WARC files: each date's `DateHistory`, shared by the
    runs of the spider that replay it (the replay middleware answers from it, the snapshot
    pipeline compares its digests) and dropped once the date is written from its newest
    captures. `epaper reparse` makes one per reparse (setting WARC_REPLAY_SESSION; settings
    copies share it); a crawl that replays without one (`scrapy crawl -s WARC_REPLAY_DIR=…`)
    gets its own."""

    def __init__(self, root: Path, source: str, limit: int = 0):
        self.root, self.source, self.limit = Path(root), source, limit
        self.histories: dict[dt.date, DateHistory] = {}

    @classmethod
    def from_crawler(cls, crawler) -> ReplaySession:
        settings = crawler.settings
        session = settings.get("WARC_REPLAY_SESSION") or _SESSIONS.get(crawler)
        if session is None:
            session = _SESSIONS[crawler] = cls(Path(settings.get("WARC_REPLAY_DIR")), settings.get("EPAPER_SOURCE"),
                                               settings.getint("WARC_RECORD_MAXSIZE"))
        return session

    def __deepcopy__(self, memo) -> ReplaySession:
        return self  # one session, however often Scrapy copies the settings holding it

    def history(self, day: dt.date) -> DateHistory:
        if day not in self.histories:
            self.histories[day] = DateHistory(self.root, self.source, day, self.limit)
        return self.histories[day]

    def forget(self, day: dt.date | None = None) -> None:
        """Drop a date's history (it is written from its newest captures), or every one."""
        if day is None:
            self.histories.clear()
        else:
            self.histories.pop(day, None)


_SESSIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_INDEXES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class CaptureIndex:
    """The earlier captures of each date a crawl touches, read once per crawl and shared by the
    WARC writer (revisits) and the conditional requests (validators, the payload a 304 confirms).

    Settings: SNAPSHOT_DIR (or WARC_REPLAY_DIR, when replaying), EPAPER_SOURCE, WARC_RECORD_MAXSIZE."""

    def __init__(self, root: Path, source: str, limit: int):
        self.root, self.source, self.limit = root, source, limit
        self.dates: dict[dt.date, DateCaptures] = {}

    @classmethod
    def from_crawler(cls, crawler) -> CaptureIndex:
        index = _INDEXES.get(crawler)
        if index is None:
            settings = crawler.settings
            root = Path(settings.get("WARC_REPLAY_DIR") or settings.get("SNAPSHOT_DIR"))
            index = _INDEXES[crawler] = cls(root, settings.get("EPAPER_SOURCE"), settings.getint("WARC_RECORD_MAXSIZE"))
            crawler.signals.connect(index.forget, issue_writing)
        return index

    def forget(self, date: dt.date, keep: bool = True) -> None:
        """The date is being written: its captures are not needed any more (bounded memory)."""
        self.dates.pop(date, None)

    def of(self, day: dt.date) -> DateCaptures:
        captures = self.dates.get(day)
        if captures is None:
            captures = self.dates[day] = load_captures(self.root, self.source, day, self.limit)
        return captures

    def digest_of(self, day: dt.date, record_id: str | None) -> str | None:
        """The payload digest of a record of the date (an earlier file's or this crawl's), when
        the date's captures are loaded; None when unknown."""
        captures = self.dates.get(day)
        return captures.digests.get(record_id or "") if captures is not None else None

    def newest(self, url: str, days: list[dt.date]) -> Capture | None:
        return next((c for c in (self.of(d).newest(url) for d in days) if c is not None), None)

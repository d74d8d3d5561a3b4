"""Raw capture to WARC, and replay from it (`epaper reparse`), as downloader middlewares.

WarcWriterMiddleware writes every response the crawl uses (calendar, pages, articles; not
retried 5xx) as request + response records, exact bytes, into one WARC per issue date:
`warc/issue_date=YYYY-MM-DD/<stamp>-<pid>.warc.gz`. The file is written under a temporary
name and renamed into place just before the date's snapshot is written. Raw captures are only
ever added: a re-crawl writes a new file beside the earlier ones, never deletes one (the rows
of a kept snapshot point into them; a crawl whose snapshot is not written discards its own
file). Responses that are retried (5xx, truncated or empty pages) are not kept.

The writer sits next to the download handler, before Scrapy's HttpCompressionMiddleware: a
page the portal gzips is stored as received (compressed, with its Content-Encoding), and
whether it is whole is judged on the decoded page.

WarcReplayMiddleware answers every request from those files, so no request reaches the
network: the spider and pipelines run exactly as in a crawl (a stored gzipped payload is
decoded by the compression middleware, as it was when crawled). A URL captured by several
crawls is answered with its newest capture (by WARC-Date).

Replay streams each file record by record: no record may inflate past WARC_RECORD_MAXSIZE,
so a WARC bomb (1 MB inflating to 1 GiB) is refused with that reason, in bounded memory.

Settings: WARC_ENABLED (default True), WARC_REPLAY_DIR (archive root to replay from; empty:
off), WARC_RECORD_MAXSIZE (default 32 MiB: the most one record may inflate to on replay),
SNAPSHOT_DIR (archive root to write to).
"""
from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import logging
import os
import zlib
from pathlib import Path

from scrapy import signals
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Headers
from scrapy.responsetypes import responsetypes
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from epaper.crawler.ledger import Ledger
from epaper.crawler.middlewares import truncation
from epaper.crawler.signals import issue_writing
from epaper.storage.parquet import check_inside, fsync_dir, open_regular, partition_dir, remove_stale_temps

log = logging.getLogger(__name__)


def warc_files(root: Path, day: dt.date) -> list[Path]:
    folder = partition_dir(root, "warc", day)
    return sorted(folder.glob("*.warc.gz")) if folder.is_dir() else []


def _headers_list(headers: Headers, skip: tuple[bytes, ...] = ()) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, vs in headers.items() if k.lower() not in skip
            for v in vs]


def decoded(response, max_size: int):
    """The response as the spider will see it (Content-Encoding undone, as Scrapy's
    HttpCompressionMiddleware does, within `max_size`), or None when it cannot be decoded."""
    encodings = response.headers.getlist("Content-Encoding")
    if not encodings:
        return response
    try:
        to_decode, to_keep = HttpCompressionMiddleware._split_encodings(encodings)
        body = response.body
        for encoding in to_decode:
            body = HttpCompressionMiddleware._decode(body, encoding, max_size)
    except Exception:  # zlib/brotli/zstd errors, or over max_size: the compression middleware refuses it
        return None
    return response.replace(body=body)


class _DateWarc:
    def __init__(self, root: Path, day: dt.date, base_url: str, source: str):
        folder = partition_dir(root, "warc", day)
        check_inside(folder / "x", root)  # no folder on the way is a symlink, before anything is touched
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(folder)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
        self.name = f"{stamp}-{os.getpid()}.warc.gz"
        self.path = folder / self.name
        self.tmp = folder / f".{self.name}.tmp-{os.getpid()}"
        self.relative = str(self.path.relative_to(root))
        self.fh = os.fdopen(open_regular(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, root=root), "wb")
        self.writer = WARCWriter(self.fh, gzip=True)
        info = self.writer.create_warcinfo_record(self.name, {
            "software": "epaper", "format": "WARC File Format 1.1",
            "json-metadata": json.dumps({"base_url": base_url, "source": source, "issue_date": day.isoformat()}),
        })
        self.writer.write_record(info)

    def write(self, request, response, fetched: dt.datetime) -> str:
        date = fetched.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        # The payload is stored as received (still compressed when the portal gzips, with its
        # Content-Encoding), but de-chunked by the HTTP client: no Transfer-Encoding header.
        http = StatusAndHeaders(f"{response.status} {_reason(response.status)}",
                                _headers_list(response.headers, skip=(b"transfer-encoding",)), protocol="HTTP/1.1")
        resp = self.writer.create_warc_record(response.url, "response", payload=io.BytesIO(response.body),
                                              http_headers=http, warc_headers_dict={"WARC-Date": date})
        record_id = resp.rec_headers.get_header("WARC-Record-ID")
        path = request.url.split("/", 3)[3] if request.url.count("/") >= 3 else ""
        req_http = StatusAndHeaders(f"{request.method} /{path} HTTP/1.1", _headers_list(request.headers),
                                    is_http_request=True)
        req = self.writer.create_warc_record(request.url, "request", payload=io.BytesIO(request.body or b""),
                                             http_headers=req_http,
                                             warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": record_id})
        self.writer.write_record(resp)
        self.writer.write_record(req)
        return record_id

    def commit(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.tmp, self.path)
        fsync_dir(self.path.parent)

    def discard(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class WarcWriterMiddleware:
    """Downloader middleware (priority 950: sees the bytes exactly as served)."""

    def __init__(self, crawler):
        settings = crawler.settings
        if not settings.getbool("WARC_ENABLED") or settings.get("WARC_REPLAY_DIR"):
            raise NotConfigured
        self.crawler = crawler
        self.root = Path(settings.get("SNAPSHOT_DIR"))
        self.retry_codes = {int(code) for code in settings.getlist("RETRY_HTTP_CODES")}
        self.check_truncated = settings.getbool("RETRY_TRUNCATED")
        self.max_size = settings.getint("DOWNLOAD_MAXSIZE")
        self.ledger = Ledger.from_crawler(crawler)
        self.open: dict[dt.date, _DateWarc] = {}
        crawler.signals.connect(self.on_writing, issue_writing)
        crawler.signals.connect(self.on_closed, signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_response(self, request, response, spider=None):
        fetched = request.meta["fetched_at"]
        if response.status in self.retry_codes:
            return response
        if self.check_truncated:  # judged on the page as the spider will read it
            page = decoded(response, request.meta.get("download_maxsize", self.max_size))
            if page is None or truncation(page):
                return response
        for day in request.meta.get("issue_dates", []):
            warc = self.open.get(day)
            if warc is None:
                warc = self.open[day] = _DateWarc(self.root, day, self.ledger.root, self.ledger.source)
            record_id = warc.write(request, response, fetched)
            request.meta["warc_file"], request.meta["warc_record_id"] = warc.relative, record_id
        self.crawler.stats.inc_value("epaper/warc/records")
        return response

    def on_writing(self, date, keep):
        warc = self.open.pop(date, None)
        if warc is None:
            return
        if not keep:
            warc.discard()
            return
        warc.commit()

    def on_closed(self, spider=None, reason=None):
        for warc in self.open.values():  # dates the crawl did not finish: their snapshot was not written
            warc.discard()
        self.open.clear()


# ------------------------------------------------------------------ replay


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


def _records(path: Path, limit: int = RECORD_MAXSIZE):
    """The records of one WARC file, streamed; raises EOFError/OSError on damage and
    RecordTooLarge on a record that inflates past `limit`.

    Each gzip member is inflated whole (within `limit`) before warcio parses it: warcio's
    iterator swallows an EOFError met while it parses a record's headers, so a cut file
    could pass for a short one; a cut member is caught here first. Read a record's payload
    before asking for the next one.
    """
    with os.fdopen(open_regular(path), "rb") as fh:  # never through a symlink, never a FIFO
        for member in _members(fh, limit):
            yield from ArchiveIterator(io.BytesIO(member))


def replay_source(root: Path, dates: list[dt.date]) -> tuple[str, str]:
    """(e-paper root, generation) the WARC files of these dates were captured from.

    Replay knows the generation, so no date depends on another date's calendar for detection.
    """
    unreadable = []
    for day in dates:
        for path in warc_files(root, day):
            base = None
            try:
                for record in _records(path):
                    if record.rec_type == "warcinfo":
                        fields = dict(line.split(": ", 1) for line in
                                      record.content_stream().read().decode().splitlines() if ": " in line)
                        base = json.loads(fields["json-metadata"])["base_url"]
                    elif record.rec_type == "response" and base:
                        rel = record.rec_headers.get_header("WARC-Target-URI")[len(base):]
                        if rel.startswith(("pc/", "html/")) and record.http_headers.get_statuscode() == "200":
                            return base, rel.split("/", 1)[0]
            except (ArchiveLoadFailed, OSError, EOFError, ValueError, KeyError) as exc:
                unreadable.append(f"{path.relative_to(root)}: {exc}")
                continue
    why = f" ({unreadable[0]}{f'; {len(unreadable) - 1} more' if len(unreadable) > 1 else ''})" if unreadable else ""
    raise FileNotFoundError(f"no readable WARC file under {root / 'warc'} for the dates asked{why}")


class WarcReplayMiddleware:
    """Downloader middleware (priority 950) answering from the archive's WARC files only."""

    def __init__(self, crawler):
        replay = crawler.settings.get("WARC_REPLAY_DIR")
        if not replay:
            raise NotConfigured
        self.root = Path(replay)
        self.record_max = crawler.settings.getint("WARC_RECORD_MAXSIZE")
        self.crawler = crawler
        self.loaded: set[dt.date] = set()
        self.responses: dict[str, tuple] = {}
        self.damaged: dict[dt.date, str] = {}

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def _load(self, day: dt.date) -> None:
        self.loaded.add(day)
        for path in warc_files(self.root, day):
            relative = str(path.relative_to(self.root))
            try:
                for record in _records(path, self.record_max):
                    if record.rec_type != "response":
                        continue
                    url = record.rec_headers.get_header("WARC-Target-URI")
                    record_id = record.rec_headers.get_header("WARC-Record-ID")
                    date = record.rec_headers.get_header("WARC-Date")
                    http = record.http_headers
                    when = dt.datetime.fromisoformat(date.replace("Z", "+00:00"))
                    if url in self.responses and self.responses[url][3] > when:
                        continue  # an older capture than the one kept: the newest answers
                    # The payload as received: a gzipped page is decoded by Scrapy's
                    # HttpCompressionMiddleware on its way to the spider, as in a crawl.
                    self.responses[url] = (int(http.get_statuscode()), http.headers,
                                           record.raw_stream.read(), when, relative, record_id)
            except (ArchiveLoadFailed, OSError, EOFError, ValueError) as exc:
                log.warning("damaged WARC file %s: %s", path, exc)
                self.damaged[day] = f"damaged WARC {relative} ({exc})"

    def process_request(self, request, spider=None):
        for day in request.meta.get("issue_dates", []):
            if day not in self.loaded:
                self._load(day)
        hit = self.responses.get(request.url)
        if hit is None:
            dates = request.meta.get("issue_dates", [])
            why = next((self.damaged[d] for d in dates if d in self.damaged), "not in the WARC files")
            raise IgnoreRequest(f"{why}: {request.url}")
        status, headers, body, fetched, relative, record_id = hit
        request.meta.update(fetched_at=fetched, warc_file=relative, warc_record_id=record_id)
        headers = Headers([(k, v) for k, v in headers])
        cls = responsetypes.from_args(headers=headers, url=request.url, body=body)
        return cls(url=request.url, status=status, headers=headers, body=body, request=request, flags=["warc"])

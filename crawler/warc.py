"""Raw capture to WARC, and replay from it (`epaper reparse`), as downloader middlewares.

WarcWriterMiddleware writes every response the crawl uses (calendar, pages, articles; not
retried 5xx) as request + response records, exact bytes, into one WARC per issue date:
`warc/issue_date=YYYY-MM-DD/<stamp>-<pid>.warc.gz`. The file is written under a temporary
name and renamed into place just before the date's snapshot is written. Raw captures are only
ever added: a re-crawl writes a new file beside the earlier ones, never deletes one (the rows
of a kept snapshot point into them; a crawl whose snapshot is not written discards its own
file). Responses that are retried (5xx, truncated or empty pages) are not kept.

Page PDFs, scans and article images (crawler.media, MEDIA_CAPTURE) go into the same file,
their records marked with an `Epaper-Media` header naming the kind. A file is judged whole by
its length (a body shorter than its Content-Length is not kept), never by the page rule.

A response whose payload is byte-identical to one already captured for the date (same URL,
same WARC-Payload-Digest) is written as a `revisit` record (profile identical-payload-digest,
with WARC-Refers-To, WARC-Refers-To-Target-URI and WARC-Refers-To-Date naming the record that
holds the payload), and a 304 answer to a conditional request as a `revisit` record of profile
server-not-modified referring to the date's newest capture of the URL: an unchanged page is
not stored again. The date's earlier captures are read once per crawl (`CaptureIndex`), which
also gives the conditional requests their validators (crawler.middlewares).

The writer sits next to the download handler, before Scrapy's HttpCompressionMiddleware: a
page the portal gzips is stored as received (compressed, with its Content-Encoding), and
whether it is whole is judged on the decoded page.

WarcReplayMiddleware answers every request from those files, so no request reaches the
network: the spider and pipelines run exactly as in a crawl (a stored gzipped payload is
decoded by the compression middleware, as it was when crawled). A URL captured by several
crawls is answered with its newest capture (by WARC-Date); a revisit is answered with the
payload of the record it refers to. With WARC_REPLAY_CRAWL k, each date is answered as
it stood after its k-th crawl (each URL's newest capture in its first k WARC files):
`epaper reparse` replays a date's crawls in time order to rebuild its history.
Media records are not answered (nor held in memory): the spider asks for no media when
replaying.

Replay streams each file record by record: no record may inflate past WARC_RECORD_MAXSIZE,
so a WARC bomb (1 MB inflating to 1 GiB) is refused with that reason, in bounded memory.

Settings: WARC_ENABLED (default True), WARC_REPLAY_DIR (archive root to replay from; empty:
off), WARC_REPLAY_CRAWL (default 0: the newest captures), WARC_REPLAY_SESSION (the reparse's
captures.ReplaySession; default: one per crawl), WARC_RECORD_MAXSIZE (default
32 MiB: the most one record may inflate to on replay), SNAPSHOT_DIR (archive root to write to).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import os
from pathlib import Path

from scrapy import signals
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Headers
from scrapy.responsetypes import responsetypes
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from epaper.crawler.captures import (MEDIA_HEADER, NOT_MODIFIED, CaptureIndex, DateCaptures, _records,
                                     ReplaySession, payload_digest, warc_files, warc_refusal)
from epaper.crawler.ledger import Ledger
from epaper.crawler.middlewares import incomplete_media, truncation
from epaper.crawler.sites.founder import generation_of
from epaper.crawler.signals import issue_writing
from epaper.storage.parquet import fsync_dir, make_dirs, open_regular, partition_dir, remove_stale_temps

log = logging.getLogger(__name__)


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
    def __init__(self, root: Path, day: dt.date, base_url: str, source: str, captures: DateCaptures):
        folder = make_dirs(partition_dir(root, source, "warc", day), root)  # never through a symbolic link
        remove_stale_temps(folder)
        now = dt.datetime.now(dt.timezone.utc)
        while True:  # a second crawl of the date within the second (in one process) gets the next name
            self.name = f"{now:%Y%m%dT%H%M%S}-{os.getpid()}.warc.gz"
            self.path = folder / self.name
            if not self.path.exists() and not self.path.is_symlink():
                break
            now += dt.timedelta(seconds=1)
        self.tmp = folder / f".{self.name}.tmp-{os.getpid()}"
        self.relative = str(self.path.relative_to(root))
        self.fh = os.fdopen(open_regular(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, root=root), "wb")
        self.writer = WARCWriter(self.fh, gzip=True, warc_version="1.1")
        self.captures = captures  # the date's earlier captures: an identical payload is a revisit
        info = self.writer.create_warcinfo_record(self.name, {
            "software": "epaper", "format": "WARC File Format 1.1",
            "json-metadata": json.dumps({"base_url": base_url, "source": source, "issue_date": day.isoformat()}),
        })
        self.writer.write_record(info)

    def write(self, request, response, fetched: dt.datetime) -> str:
        date = fetched.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        extra = {MEDIA_HEADER: request.meta["media"]} if request.meta.get("media") else {}
        # The payload is stored as received (still compressed when the portal gzips, with its
        # Content-Encoding), but de-chunked by the HTTP client: no Transfer-Encoding header.
        http = StatusAndHeaders(f"{response.status} {_reason(response.status)}",
                                _headers_list(response.headers, skip=(b"transfer-encoding",)), protocol="HTTP/1.1")
        resp = self._revisit(response, http, {"WARC-Date": date, **extra})
        if resp is None:
            resp = self.writer.create_warc_record(response.url, "response", payload=io.BytesIO(response.body),
                                                  http_headers=http, warc_headers_dict={"WARC-Date": date, **extra})
            self.captures.add_original(response.url, resp.rec_headers.get_header("WARC-Payload-Digest"),
                                       resp.rec_headers.get_header("WARC-Record-ID"), date)
        record_id = resp.rec_headers.get_header("WARC-Record-ID")
        self.captures.digests[record_id] = resp.rec_headers.get_header("WARC-Payload-Digest")
        path = request.url.split("/", 3)[3] if request.url.count("/") >= 3 else ""
        req_http = StatusAndHeaders(f"{request.method} /{path} HTTP/1.1", _headers_list(request.headers),
                                    is_http_request=True)
        self.writer.write_record(resp)
        if resp.rec_type != "revisit":
            # A revisit has no request record: its GET is its original's (with, for a 304, the
            # original's ETag / Last-Modified as validators), and it halves what an unchanged
            # page costs.
            req = self.writer.create_warc_record(request.url, "request", payload=io.BytesIO(request.body or b""),
                                                 http_headers=req_http,
                                                 warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": record_id})
            self.writer.write_record(req)
        return record_id

    def _revisit(self, response, http: StatusAndHeaders, headers: dict[str, str]):
        """A revisit record when the payload is one the date holds already (or the answer is a
        304 to a conditional request for a URL it holds); None when it must be stored."""
        if response.status == 304:
            prior = self.captures.newest(response.url)
            if prior is None:
                return None
            digest, (refers_to, refers_date), profile = prior.digest, prior.original, NOT_MODIFIED
        else:
            digest = payload_digest(response.body)
            original = self.captures.original(response.url, digest)
            if original is None:
                return None
            (refers_to, refers_date), profile = original, None
        record = self.writer.create_revisit_record(response.url, digest, response.url, refers_date, http_headers=http,
                                                   warc_headers_dict={**headers, "WARC-Refers-To": refers_to})
        if profile:
            record.rec_headers.replace_header("WARC-Profile", profile)
        return record

    def commit(self) -> None:
        """Put the file in place; OSError (naming the file) when it cannot be: the date's
        snapshot is then not written (pipelines.snapshot), as its rows would name this file."""
        try:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            os.link(self.tmp, self.path)  # never onto an existing file: captures are only ever added
        except OSError as exc:
            self.discard()
            raise OSError(f"WARC file {self.relative} not written: {exc.strerror or exc}") from None
        self.tmp.unlink()
        fsync_dir(self.path.parent)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
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
        self.captures = CaptureIndex.from_crawler(crawler)
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
        if request.meta.get("media"):  # a file, not a page: judged by its length (crawler.media)
            if incomplete_media(response):
                return response
        elif self.check_truncated:  # judged on the page as the spider will read it
            page = decoded(response, request.meta.get("download_maxsize", self.max_size))
            if page is None or truncation(page):
                return response
        for day in request.meta.get("issue_dates", []):
            warc = self.open.get(day)
            if warc is None:
                warc = self.open[day] = _DateWarc(self.root, day, self.ledger.root, self.ledger.source,
                                                  self.captures.of(day))
            record_id = warc.write(request, response, fetched)
            request.meta["warc_file"], request.meta["warc_record_id"] = warc.relative, record_id
        self.crawler.stats.inc_value("epaper/warc/records")
        if response.status == 304:
            self.crawler.stats.inc_value("epaper/warc/not_modified")
        return response

    def on_writing(self, date, keep):
        warc = self.open.pop(date, None)
        if warc is None:
            return
        if not keep:
            warc.discard()
            return
        try:
            warc.commit()
        except OSError as exc:
            log.error("%s: %s", date, exc)
            self.crawler.stats.inc_value("epaper/warc/commit_failed")
            raise

    def on_closed(self, spider=None, reason=None):
        for warc in self.open.values():  # dates the crawl did not finish: their snapshot was not written
            warc.discard()
        self.open.clear()


# ------------------------------------------------------------------ replay


def replay_source(root: Path, source: str, dates: list[dt.date]) -> tuple[str, str]:
    """(e-paper root, generation) the WARC files of these dates were captured from.

    Replay knows the generation, so no date depends on another date's calendar for detection.
    """
    unreadable = []
    for day in dates:
        refusal = warc_refusal(root, source, day)
        if refusal:
            unreadable.append(refusal)
        for path in warc_files(root, source, day):
            base = None
            try:
                for record in _records(path, root=root):
                    if record.rec_type == "warcinfo":
                        fields = dict(line.split(": ", 1) for line in
                                      record.content_stream().read().decode().splitlines() if ": " in line)
                        base = json.loads(fields["json-metadata"])["base_url"]
                    elif record.rec_type == "response" and base:
                        rel = record.rec_headers.get_header("WARC-Target-URI")[len(base):]
                        generation = generation_of(rel)
                        if generation and record.http_headers.get_statuscode() == "200":
                            return base, generation
            except (ArchiveLoadFailed, OSError, EOFError, ValueError, KeyError) as exc:
                unreadable.append(f"{path.relative_to(root)}: {exc}")
                continue
    why = f" ({unreadable[0]}{f'; {len(unreadable) - 1} more' if len(unreadable) > 1 else ''})" if unreadable else ""
    raise FileNotFoundError(f"no readable WARC file under {partition_dir(root, source, 'warc', dates[0]).parent} "
                            f"for the dates asked{why}")


class WarcReplayMiddleware:
    """Downloader middleware (priority 950) answering from the archive's WARC files only."""

    def __init__(self, crawler):
        replay = crawler.settings.get("WARC_REPLAY_DIR")
        if not replay:
            raise NotConfigured
        self.root = Path(replay)
        self.crawl = crawler.settings.getint("WARC_REPLAY_CRAWL")
        self.session = ReplaySession.from_crawler(crawler)
        self.crawler = crawler
        self.loaded: set[dt.date] = set()
        self.responses: dict[str, tuple] = {}
        self.damaged: dict[dt.date, str] = {}
        crawler.signals.connect(self.on_closed, signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def _load(self, day: dt.date) -> None:
        self.loaded.add(day)
        captures = self.session.history(day).crawl(self.crawl or None)
        if captures.damaged:
            self.damaged[day] = captures.damaged
        for url, capture in captures.newest_by_url.items():
            if capture.media:
                continue  # the spider asks for no media when replaying (crawler.media)
            kept = self.responses.get(url)
            if kept is not None and kept[3] > capture.when:
                continue  # a calendar kept with several dates: the newest capture answers
            # The payload as received: a gzipped page is decoded by Scrapy's
            # HttpCompressionMiddleware on its way to the spider, as in a crawl.
            self.responses[url] = (capture.status, capture.headers, capture.payload, capture.when,
                                   capture.relative, capture.record_id)

    def on_closed(self, spider=None, reason=None):
        self.responses.clear()  # a reparse runs the spider again in this process: the payloads go now

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

"""Downloader middlewares of the epaper project."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import re
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware as ScrapyOffsiteMiddleware
from scrapy.downloadermiddlewares.stats import DownloaderStats
from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response, TextResponse

from epaper.crawler.captures import CaptureIndex
from epaper.crawler.founder import decode_html
from epaper.crawler.origin import refusal, same_origin

log = logging.getLogger(__name__)

_ROOT_TAG = re.compile(rb"<([A-Za-z_][\w.:-]*)[\s/>]")
_PROLOG = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->|<![^>]*>|\s)*", re.S)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def truncation(response: Response) -> str | None:
    """Why a 200 page or calendar looks cut short (None when it looks whole).

    A connection closed early without a Content-Length leaves no other trace: the page
    parses (lxml recovers) and simply lacks its end, or a calendar lacks its last dates.
    Every Founder page ends with `</html>` and every period.xml closes its root element,
    so a missing end tag is taken as a truncated transfer.

    The label only says whether the body is checked at all (a PDF served for an .html URL
    is not a cut page); the body says which end it must have: XML (an `<?xml` declaration, or
    an XML label) must close its root element unless that root is `<html>`, anything else
    must end with `</html>`. So a period.xml sent as text/html or with a byte-order mark is
    whole, and an HTML page labelled XML still needs its `</html>`.
    """
    if response.status != 200:
        return None
    ctype = response.headers.get("Content-Type", b"").decode("latin-1").lower()
    path = urlsplit(response.url).path.lower()
    if ctype:  # a PDF served for an .html URL is not a cut page
        markup = "xml" in ctype or "html" in ctype
    else:
        markup = path.endswith((".xml", ".html", ".htm"))
    if not markup:
        return None
    body = response.body
    start = next((len(b) for b in _BOMS if body.startswith(b)), 0)
    if not body[start:].strip():
        return "empty response"
    tail = body[-4096:].lower()
    m = _ROOT_TAG.match(body, _PROLOG.match(body, start).end())
    root = m.group(1).lower() if m else None
    declared = body[start:].lstrip().startswith(b"<?xml")
    labelled = ("xml" in ctype and "html" not in ctype) if ctype else path.endswith(".xml")
    if root in (b"html", b"head", b"body") or not (declared or labelled):
        return None if b"</html" in tail else "truncated page (no </html>)"
    if root is not None and b"</" + root in tail:
        return None
    return "truncated XML (root element not closed)"


def incomplete_media(response: Response) -> str | None:
    """Why a media response cannot be kept (None when it can): a 200 with no body, or a body
    shorter than its Content-Length. Never the page rule (`</html>`): a JPEG has no end tag."""
    if response.status != 200:
        return None
    if not response.body:
        return "empty response"
    length = response.headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and len(response.body) < int(length):
        return f"truncated response ({len(response.body):,} of {int(length):,} bytes)"
    return None


def incompleteness(request: Request, response: Response) -> str | None:
    """Why a response is not whole: a media request's (`meta["media"]`, crawler.media) by its
    length, any other by `truncation`; a 304 standing for its capture (`not_modified`) is whole,
    as that capture was (a media capture's payload is not held in memory: its body is empty)."""
    if "not_modified" in response.flags:
        return None
    return incomplete_media(response) if request.meta.get("media") else truncation(response)


class FetchedAtMiddleware:
    """Stamps `fetched_at` (UTC) in the request's meta when its response arrives: the row's
    `crawled_at` and the WARC record's date. A response replayed from a WARC file keeps the
    capture time the replay put there. Next to the download handler (960)."""

    def process_response(self, request: Request, response: Response, spider=None) -> Response:
        if "warc" not in response.flags:
            request.meta["fetched_at"] = dt.datetime.now(dt.timezone.utc)
        return response


class OffsiteMiddleware(ScrapyOffsiteMiddleware):
    """Scrapy's offsite filter, by the portal's origin (crawler.origin: scheme, host and port),
    strict and named: it also holds for requests that carry `dont_filter` or `allow_offsite`
    (retries do, and a redirect copies the flag), and it refuses in the downloader, so the
    request's errback reports the URL, instead of dropping the request silently when it is
    scheduled.

    Downloader middleware 50, before everything else: every request the crawl makes passes
    here, the spider's, the media capture's, robots.txt (RobotsTxtMiddleware fetches it through
    the downloader) and each redirect target (RedirectMiddleware and MetaRefreshMiddleware hand
    a new request back to the engine, which sends it down the whole chain again). A request
    nobody answers for (robots.txt has no errback) is refused with a warning in the log; a
    robots.txt refused so is, as one that cannot be fetched, taken as absent.

    The origin is the spider's `root` (the e-paper root); a spider without one falls back to
    Scrapy's host rule over `allowed_domains`.
    """

    def request_scheduled(self, request: Request, spider=None) -> None:
        return None

    def should_follow(self, request: Request, spider) -> bool:
        root = getattr(spider, "root", None)
        if not root:
            return super().should_follow(request, spider)
        return same_origin(request.url, root)

    def process_request(self, request: Request, spider=None):
        spider = self.crawler.spider
        if self.should_follow(request, spider):
            return None
        self.stats.inc_value("offsite/filtered")
        redirected = bool(request.meta.get("redirect_urls"))
        root = getattr(spider, "root", None)
        if root:
            why = refusal(request.url, root, redirected)
        elif redirected:
            why = f"redirected off the portal's host to {request.url} (not followed)"
        else:
            why = f"off the portal's host: {request.url} (not fetched)"
        if request.errback is None:  # nobody else names it (robots.txt)
            first = (request.meta.get("redirect_urls") or [request.url])[0]
            log.warning("%s: %s", first, why)
        raise IgnoreRequest(why)


class UrlLengthMiddleware:
    """Scrapy's URL-length filter, as a downloader middleware that refuses with a reason.

    Scrapy's own (a spider middleware) drops a long request silently after the spider counted
    it as sent, so its date waited until the crawl ended and the link was never named. Here the
    request's errback reports it like any other failure. Setting: URLLENGTH_LIMIT (Scrapy's;
    0 switches the check off)."""

    def __init__(self, limit: int):
        self.limit = limit

    @classmethod
    def from_crawler(cls, crawler):
        limit = crawler.settings.getint("URLLENGTH_LIMIT")
        if not limit:
            raise NotConfigured
        return cls(limit)

    def process_request(self, request: Request, spider=None):
        if len(request.url) > self.limit:
            raise IgnoreRequest(f"URL longer than URLLENGTH_LIMIT ({len(request.url):,} characters, "
                                f"limit {self.limit:,}; not fetched)")
        return None


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware, waiting before each retry: base × 2^(n-1), jittered, capped.

    A portal answering 503 is overloaded; retrying at once only adds to it. A 200 page that
    is empty or truncated (see `truncation`) is retried like a 503; when the retries are
    used up the request fails with that reason rather than handing a cut page to the parser.
    Settings: RETRY_BACKOFF_BASE (seconds, default 1.0), RETRY_BACKOFF_MAX (default 30.0),
    RETRY_TRUNCATED (default True), and Scrapy's RETRY_* settings.

    What a wait costs: it runs after the download, so the portal's download slot is free and
    other requests to it go on at the configured pace; the retry holds one of the
    CONCURRENT_REQUESTS places of the whole crawl until it is sent again. While the portal
    fails, at most CONCURRENT_REQUESTS retries wait at once, which is the point of backing off.
    """

    def __init__(self, settings):
        super().__init__(settings)
        self.base = settings.getfloat("RETRY_BACKOFF_BASE")
        self.cap = settings.getfloat("RETRY_BACKOFF_MAX")
        self.check_truncated = settings.getbool("RETRY_TRUNCATED")

    async def _wait(self, result):
        if isinstance(result, Request) and self.base > 0:
            tries = result.meta.get("retry_times", 1)
            delay = min(self.cap, self.base * 2 ** (tries - 1))
            await asyncio.sleep(delay * random.uniform(0.75, 1.25))
        return result

    async def process_response(self, request, response, spider=None):
        checked = self.check_truncated and not request.meta.get("dont_retry")
        why = incompleteness(request, response) if checked else None
        if why is not None:
            self.crawler.stats.inc_value(f"epaper/truncated/{why.split(' (')[0].replace(' ', '_')}")
            retry = get_retry_request(
                request, spider=self.crawler.spider, reason=why,
                max_retry_times=request.meta.get("max_retry_times", self.max_retry_times),
                priority_adjust=request.meta.get("priority_adjust", self.priority_adjust))
            if retry is None:
                tries = request.meta.get("retry_times", 0) + 1
                raise IgnoreRequest(f"{why}, {tries} tries")
            return await self._wait(retry)
        return await self._wait(super().process_response(request, response))

    async def process_exception(self, request, exception, spider=None):
        return await self._wait(super().process_exception(request, exception))


VALIDATORS = (b"If-None-Match", b"If-Modified-Since")


def asked_conditionally(request: Request) -> bool:
    """Whether the request carried a validator a 304 can answer (RFC 9110 section 15.4.5)."""
    return any(request.headers.get(name) for name in VALIDATORS)


class TextEncodingMiddleware:
    """A page whose declared charset (header or `<meta>`) names a codec that is not a text
    encoding (base64, rot13) is decoded as the parser decodes it (`founder.decode_html`):
    Scrapy's own decoding would raise LookupError in every component that reads the text
    (the meta-refresh middleware first). At 585: after decompression, before meta refresh."""

    def process_response(self, request, response, spider=None):
        if not isinstance(response, TextResponse):
            return response
        try:
            response.text  # noqa: B018 - decoded once, then cached by the response
        except LookupError:
            return response.replace(encoding=decode_html(response.body)[1])
        return response


class BareNotModifiedMiddleware:
    """A 304 to a request that carried no validator (no If-None-Match, no If-Modified-Since)
    answers a question never asked: it confirms no capture, and taking it as one would hide a
    correction (a portal or a cache in front of it that answers 304 to anything). It fails its
    URL with that reason, before the WARC writer (950) could record it as a revisit and before
    the conditional middleware (945) could stand the capture in for it. Priority 955."""

    def process_response(self, request: Request, response: Response, spider=None) -> Response:
        if response.status == 304 and not asked_conditionally(request):
            raise IgnoreRequest("HTTP 304 (not modified) to a request that asked nothing conditional: "
                                "it confirms no capture")
        return response


class WireStatsMiddleware(DownloaderStats):
    """Scrapy's downloader stats (`downloader/request_count`, `…/response_status_count/<status>`,
    `…/response_bytes`), counted next to the download handler: what crossed the wire. At
    Scrapy's place (850) a 304 was counted as the 200 capture the conditional middleware (945)
    turns it into, with the capture's size; here it is a 304 of its own size. A response
    replayed from a WARC file (flag `warc`) is not counted: its request never got this far
    (the replay, 950, answers it). Priority 958, in place of Scrapy's; DOWNLOADER_STATS."""

    def process_response(self, request: Request, response: Response, spider=None) -> Response:
        if "warc" in response.flags:
            return response
        return super().process_response(request, response)


class ConditionalRequestMiddleware:
    """Re-crawls ask conditionally: a request for a URL the date's WARC files hold carries
    If-None-Match / If-Modified-Since from that capture's ETag / Last-Modified, and a 304 answer
    stands for that capture (its status, headers and payload as stored, flagged `not_modified`):
    an unchanged page costs no download, parses exactly as archived, and its rows and raw page
    stay (the WARC writer records the 304 as a revisit of it). A portal that ignores the headers
    answers 200 as before. Priority 945: the WARC writer (950) sees the 304 first.

    Settings: CONDITIONAL_ENABLED (default True); off without WARC_ENABLED (the captures are
    the WARC files') and when replaying (WARC_REPLAY_DIR).
    """

    def __init__(self, crawler):
        settings = crawler.settings
        if (not settings.getbool("CONDITIONAL_ENABLED") or not settings.getbool("WARC_ENABLED")
                or settings.get("WARC_REPLAY_DIR")):
            raise NotConfigured
        self.crawler = crawler
        self.captures = CaptureIndex.from_crawler(crawler)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def _capture(self, request: Request):
        dates = request.meta.get("issue_dates") or []
        if not dates or request.method != "GET":
            return None
        capture = self.captures.newest(request.url, dates)
        return capture if capture is not None and capture.status == 200 else None

    def process_request(self, request: Request, spider=None):
        capture = self._capture(request)
        if capture is None:
            return None
        etag, modified = capture.header("ETag"), capture.header("Last-Modified")
        if etag:
            request.headers["If-None-Match"] = etag
        if modified:
            request.headers["If-Modified-Since"] = modified
        return None

    def process_response(self, request: Request, response: Response, spider=None) -> Response:
        if response.status != 304:
            return response
        capture = self._capture(request)
        if capture is None or not asked_conditionally(request):  # not ours (BareNotModifiedMiddleware)
            return response
        self.crawler.stats.inc_value("epaper/not_modified")
        from scrapy.http import Headers
        from scrapy.responsetypes import responsetypes

        headers = Headers(capture.headers)
        cls = responsetypes.from_args(headers=headers, url=request.url, body=capture.payload)
        return cls(url=request.url, status=capture.status, headers=headers, body=capture.payload,
                   request=request, flags=["not_modified"])

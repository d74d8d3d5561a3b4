"""304s as they crossed the wire: a recheck's "not modified" answers counted as 304s of their own
size (Scrapy's downloader stats, the run log's `response_bytes`), and a bare 304 (to a request
that carried no validator) failing its URL instead of standing in for the capture."""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
import pytest_twisted
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response

from epaper.crawler.middlewares import BareNotModifiedMiddleware
from epaper.storage.load import load_articles
from tests.conftest import crawl_in_process

DAY = dt.date(2023, 8, 3)
HEADER_ROOM = 1024  # bytes of status line and headers a replica response may have, at most


def _stats(ledger) -> dict:
    return ledger.crawler.stats.get_stats()


@pytest_twisted.ensureDeferred
async def test_a_recheck_counts_its_304s_as_304s_of_their_own_size(portal, tmp_path):
    server = portal("pc-rmrb", DAY, DAY + dt.timedelta(days=1))
    first = _stats(await crawl_in_process(tmp_path, server.base_url, date=DAY))
    server.sent.clear()
    second = _stats(await crawl_in_process(tmp_path, server.base_url, date=DAY))
    sent = list(server.sent)
    by_status = {status: sum(1 for _, s, _ in sent if s == status) for _, status, _ in sent}
    assert by_status[304] > 20 and set(by_status) == {200, 304}  # robots.txt is the one 200
    assert second["downloader/response_status_count/304"] == by_status[304] == second["epaper/not_modified"]
    assert second["downloader/response_status_count/200"] == by_status[200]
    assert second["downloader/response_count"] == len(sent) == second["downloader/request_count"]
    body_bytes = sum(size for _, _, size in sent)
    assert body_bytes <= second["downloader/response_bytes"] <= body_bytes + HEADER_ROOM * len(sent)
    assert second["downloader/response_bytes"] * 10 < first["downloader/response_bytes"]


@pytest_twisted.ensureDeferred
async def test_a_reparse_counts_nothing_downloaded(portal, tmp_path):
    server = portal("pc-rmrb", DAY, DAY + dt.timedelta(days=1))
    await crawl_in_process(tmp_path, server.base_url, date=DAY)
    server.stop()
    replay = {"WARC_REPLAY_DIR": str(tmp_path), "WARC_ENABLED": False, "ROBOTSTXT_OBEY": False}
    ledger = await crawl_in_process(tmp_path, server.base_url, settings=replay, date=DAY)
    assert ledger.results[DAY].status == "archived"
    stats = _stats(ledger)
    assert stats.get("downloader/response_bytes", 0) == 0 == stats.get("downloader/request_count", 0)


@pytest.mark.parametrize("headers, bare", [
    ({}, True),
    ({"If-None-Match": '"abc"'}, False),
    ({"If-Modified-Since": "Thu, 03 Aug 2023 00:00:00 GMT"}, False),
])
def test_a_304_needs_a_validator(headers, bare):
    request = Request("http://127.0.0.1:1/ahjjb/x.html", headers=headers)
    response = Response(request.url, status=304, request=request)
    mw = BareNotModifiedMiddleware()
    if bare:
        with pytest.raises(IgnoreRequest, match="asked nothing conditional"):
            mw.process_response(request, response)
    else:
        assert mw.process_response(request, response) is response
    ok = Response(request.url, status=200, request=request)
    assert mw.process_response(request, ok) is ok


def _misbehave(server, *, validators: bool, bare_304: str | None) -> None:
    """The replica without ETag / Last-Modified (`validators` False), answering 304 with no body
    to every path matching `bare_304` whatever the request asked."""
    base = server.httpd.RequestHandlerClass

    class Handler(base):  # type: ignore[misc, valid-type]
        def _handle(self, head: bool) -> None:
            if bare_304 and re.search(bare_304, urlsplit(self.path).path):
                self.replica.record(self.path)
                self.replica.sent.append((urlsplit(self.path).path, 304, 0))
                self.send_response(304)
                self.end_headers()
                return None
            return super()._handle(head)

        def _send(self, *args, validators=None, **kwargs) -> None:
            return super()._send(*args, validators=validators if self._validators else None, **kwargs)

    Handler._validators = validators
    server.httpd.RequestHandlerClass = Handler


@pytest_twisted.ensureDeferred
async def test_a_bare_304_fails_its_url_and_keeps_the_archive(portal, tmp_path):
    """Captures without validators: the recheck asks unconditionally, so a 304 confirms nothing.
    A portal (or a cache) answering 304 anyway must not pass for "unchanged"."""
    server = portal("pc-rmrb", DAY, DAY + dt.timedelta(days=1))
    _misbehave(server, validators=False, bare_304=None)
    ledger = await crawl_in_process(tmp_path, server.base_url, date=DAY)
    assert ledger.results[DAY].status == "archived"
    before = load_articles(tmp_path, columns=["article_id", "title", "body"]).to_pylist()
    warcs = set((tmp_path / "warc").rglob("*.warc.gz"))

    _misbehave(server, validators=False, bare_304=r"/content_")
    ledger = await crawl_in_process(tmp_path, server.base_url, date=DAY)
    result = ledger.results[DAY]
    assert result.status == "incomplete"
    content = [f for f in result.failures if "/content_" in f["url"]]
    assert len(content) == len(before) == len(result.failures)
    assert all("HTTP 304 (not modified) to a request that asked nothing conditional" in f["reason"] for f in content)
    assert ledger.crawler.stats.get_value("epaper/not_modified") is None
    assert load_articles(tmp_path, columns=["article_id", "title", "body"]).to_pylist() == before

    from warcio.archiveiterator import ArchiveIterator

    for path in set((tmp_path / "warc").rglob("*.warc.gz")) - warcs:  # the recheck's: no revisit of an article
        with open(path, "rb") as fh:
            uris = [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(fh)
                    if r.rec_type in ("response", "revisit")]
        assert not [u for u in uris if "/content_" in u]

"""No request outside the portal's origin (scheme, host and port): not a redirect of the
latest-issue page, of a page, of robots.txt or of a media file, not a media link, to another
port of the portal's own host. The portal is the replica on one port; a second replica serving
the same site listens on another port of 127.0.0.1, so that a request that went there would
archive its pages as the portal's (what a hostile portal got before: exit 0)."""
from __future__ import annotations

import datetime as dt
import re
import shutil
from urllib.parse import urlsplit

import pytest
import pytest_twisted
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request
from scrapy.utils.test import get_crawler

from epaper.crawler.middlewares import OffsiteMiddleware
from epaper.crawler.origin import origin, refusal, same_origin
from epaper.replica.server import serve
from epaper.storage.parquet import snapshot_info
from tests.conftest import crawl_in_process, project_settings

DAY = dt.date(2023, 8, 3)
ROOT = "http://127.0.0.1:8000/ahjjb/"


@pytest.mark.parametrize("url, expected", [
    ("http://Example.COM/a", ("http", "example.com", 80)),
    ("http://example.com:80/a", ("http", "example.com", 80)),
    ("HTTPS://example.com/a", ("https", "example.com", 443)),
    ("https://example.com:8443/", ("https", "example.com", 8443)),
    ("http://user:pw@example.com:81/", ("http", "example.com", 81)),
    ("http://[::1]:8080/x", ("http", "::1", 8080)),
    ("http://例子.测试/", ("http", "xn--fsqu00a.xn--0zwm56d", 80)),
    ("ftp://example.com/", None),
    ("javascript:void(0)", None),
    ("http:///nohost", None),
    ("http://example.com:99999/", None),
    ("http://example.com:port/", None),
])
def test_origin_is_scheme_host_and_effective_port(url, expected):
    assert origin(url) == expected


@pytest.mark.parametrize("url, same", [
    ("http://127.0.0.1:8000/ahjjb/pc/layout/index.html", True),
    ("http://127.0.0.1:8000/elsewhere/robots.txt", True),  # the path is no part of an origin
    ("http://127.0.0.1:8001/ahjjb/pc/layout/index.html", False),  # another port
    ("https://127.0.0.1:8000/ahjjb/", False),  # another scheme
    ("http://127.0.0.1/ahjjb/", False),  # port 80
    ("http://localhost:8000/ahjjb/", False),  # another host name
    ("http://sub.127.0.0.1:8000/ahjjb/", False),  # no subdomains
    ("data:text/html,hi", False),
])
def test_same_origin(url, same):
    assert same_origin(url, ROOT) is same


def test_default_ports_are_the_same_origin():
    assert same_origin("http://portal.example:80/x", "http://portal.example/epaper/")
    assert same_origin("https://portal.example/x", "https://portal.example:443/epaper/")
    assert not same_origin("http://portal.example:443/x", "https://portal.example/epaper/")


class _Spider:
    name = "s"
    root = ROOT
    allowed_domains = ["127.0.0.1"]


def _offsite():
    crawler = get_crawler(settings_dict=project_settings())
    crawler.spider = _Spider()
    mw = OffsiteMiddleware.from_crawler(crawler)
    return mw, crawler


@pytest.mark.parametrize("meta, dont_filter", [({}, False), ({"allow_offsite": True}, True)])
def test_the_offsite_middleware_refuses_another_port_whatever_the_request_says(meta, dont_filter):
    mw, crawler = _offsite()
    assert mw.process_request(Request(ROOT + "pc/layout/index.html", meta=dict(meta), dont_filter=dont_filter)) is None
    with pytest.raises(IgnoreRequest, match=re.escape(
            "outside the portal's origin (http://127.0.0.1:8000): http://127.0.0.1:8001/x (not fetched)")):
        mw.process_request(Request("http://127.0.0.1:8001/x", meta=dict(meta), dont_filter=dont_filter))
    redirected = Request("http://127.0.0.1:8001/y", meta={"redirect_urls": [ROOT + "y"], **meta})
    with pytest.raises(IgnoreRequest, match=re.escape(
            "redirected outside the portal's origin (http://127.0.0.1:8000) to http://127.0.0.1:8001/y")):
        mw.process_request(redirected)
    assert crawler.stats.get_value("offsite/filtered") == 2


def test_refusal_names_both_origins():
    assert refusal("https://127.0.0.1:8000/x", ROOT) == (
        "outside the portal's origin (http://127.0.0.1:8000): https://127.0.0.1:8000/x (not fetched)")


# ------------------------------------------------------------------ end to end


def redirect(server, pattern: str, other, to: str | None = None) -> None:
    """The portal answers paths matching `pattern` with a 302 to the same path (or `to`) on `other`."""
    base = server.httpd.RequestHandlerClass

    class Redirecting(base):  # type: ignore[misc, valid-type]
        def _handle(self, head: bool) -> None:
            path = urlsplit(self.path).path
            if re.search(pattern, path):
                self.replica.record(self.path)
                return self._send(302, "text/html", b"", head, {"Location": f"http://127.0.0.1:{other.port}{to or path}"})
            return super()._handle(head)

    server.httpd.RequestHandlerClass = Redirecting


@pytest.fixture
def two_ports(replica_sites, tmp_path):
    """(portal, other): the same site served on two ports; the portal's copy can be edited."""
    built = replica_sites("pc-rmrb", DAY, DAY)
    site = tmp_path / "portal-site"
    shutil.copytree(built / "site", site)
    with serve(site) as portal, serve(built / "site") as other:
        yield portal, other, site


def _failure_reasons(result) -> list[str]:
    return [f"{f['url']} {f['reason']}" for f in result.failures]


@pytest_twisted.ensureDeferred
async def test_a_page_redirected_to_another_port_fails_its_date(two_ports, tmp_path):
    portal, other, _ = two_ports
    redirect(portal, r"/node_02\.html$", other)
    ledger = await crawl_in_process(tmp_path / "data", portal.base_url, date=DAY)
    result = ledger.results[DAY]
    assert other.requests == []
    assert result.status != "archived"
    (failure,) = [f for f in result.failures if f["url"].endswith("node_02.html")]
    assert "redirected outside the portal's origin" in failure["reason"]
    assert f"to http://127.0.0.1:{other.port}/" in failure["reason"]
    assert snapshot_info(tmp_path / "data", "ahjjb", DAY).complete is False


@pytest_twisted.ensureDeferred
async def test_a_latest_issue_redirected_to_another_port_is_not_fetched(two_ports, tmp_path):
    portal, other, _ = two_ports
    redirect(portal, r"/pc/layout/index\.html$", other, to="/ahjjb/pc/layout/202308/03/node_01.html")
    ledger = await crawl_in_process(tmp_path / "data", portal.base_url, latest="1")
    assert other.requests == []
    result = ledger.results[DAY]  # the date is read from the redirect's target, never fetched there
    assert result.status != "archived"
    assert any("outside the portal's origin" in r for r in _failure_reasons(result)), result.failures
    assert not snapshot_info(tmp_path / "data", "ahjjb", DAY).complete


@pytest_twisted.ensureDeferred
async def test_a_latest_page_redirected_to_another_ports_latest_page_is_not_fetched(two_ports, tmp_path):
    portal, other, _ = two_ports
    redirect(portal, r"/pc/layout/index\.html$", other)  # a target naming no date: would be read
    ledger = await crawl_in_process(tmp_path / "data", portal.base_url, latest="1")
    assert other.requests == []
    assert "outside the portal's origin" in (ledger.error or ""), ledger.error
    assert ledger.results == {}


@pytest_twisted.ensureDeferred
async def test_a_robots_txt_redirected_to_another_port_is_not_followed(two_ports, tmp_path, caplog):
    portal, other, _ = two_ports
    redirect(portal, r"^/robots\.txt$", other)
    ledger = await crawl_in_process(tmp_path / "data", portal.base_url, date=DAY)
    assert other.requests == []
    assert portal.request_count(r"^/robots\.txt$") == 1
    # Refused like one that cannot be fetched: taken as absent, and said so in the log.
    assert ledger.results[DAY].status == "archived", ledger.results[DAY].failures
    assert re.search(r"robots\.txt: redirected outside the portal's origin .* to "
                     rf"http://127\.0\.0\.1:{other.port}/robots\.txt", caplog.text)
    assert ledger.crawler.stats.get_value("offsite/filtered") == 1


@pytest_twisted.ensureDeferred
async def test_a_media_link_to_another_port_is_not_requested(two_ports, tmp_path):
    portal, other, site = two_ports
    page = site / "pc/layout/202308/03/node_02.html"
    html = page.read_text(encoding="utf-8")
    href = re.search(r'"(\.\./\.\./\.\./attachement/[^"]+\.pdf)"', html).group(1)
    offsite = f"http://127.0.0.1:{other.port}/ahjjb/pc/attachement/" + href.split("attachement/", 1)[1]
    page.write_text(html.replace(href, offsite), encoding="utf-8")
    ledger = await crawl_in_process(tmp_path / "data", portal.base_url, date=DAY,
                                    settings={"MEDIA_CAPTURE": ["pdf", "scan"]})
    result = ledger.results[DAY]
    assert other.requests == []
    assert result.status == "archived", result.failures  # a media file never makes a date incomplete
    (failure,) = result.media_failures
    assert failure["url"] == offsite
    assert failure["reason"].startswith("pdf: outside the portal's origin (http://127.0.0.1:")
    assert ledger.crawler.stats.get_value("epaper/media/offsite") == 1


@pytest_twisted.ensureDeferred
async def test_a_media_file_redirected_to_another_port_is_not_followed(two_ports, tmp_path):
    portal, other, _ = two_ports
    redirect(portal, r"/attachement/.*\.pdf$", other)
    ledger = await crawl_in_process(tmp_path / "data", portal.base_url, date=DAY,
                                    settings={"MEDIA_CAPTURE": ["pdf"]})
    result = ledger.results[DAY]
    assert other.requests == []
    assert result.status == "archived", result.failures
    assert result.media_failures and all(
        "redirected outside the portal's origin" in f["reason"] for f in result.media_failures)

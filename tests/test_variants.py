"""The variants real Founder sites show, end to end: a site whose article links the parser
cannot recognise ends incomplete (exit 1) with a reason naming the page, never "archived" with
0 articles, and every page fetched still reaches the archive; a re-crawl keeps the ids of
articles whose URL has no query."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest_twisted

from epaper.crawler.spiders.epaper import article_id
from epaper.replica.build import build_site
from epaper.replica.server import serve
from epaper.storage.load import load_pages
from tests.conftest import FAST, crawl_in_process, run_epaper

DAY = dt.date(2023, 8, 3)


def _unrecognisable_site(tmp_path):
    """The html-nbs replica with its article files renamed to a family the parser does not know."""
    out = tmp_path / "replica"
    site = build_site(out, start=DAY, end=DAY, generation="html", template="html-nbs")
    for path in list(site.rglob("*")):
        if path.is_file() and path.suffix in (".htm", ".html"):
            path.write_bytes(path.read_bytes().replace(b"nw.D110000", b"zw.D110000"))
            if path.name.startswith("nw."):
                path.rename(path.with_name("zw." + path.name[3:]))
    return site


@pytest_twisted.ensureDeferred
async def test_unrecognisable_article_links_make_the_date_incomplete(tmp_path):
    site = _unrecognisable_site(tmp_path)
    with serve(site) as server:
        ledger = await crawl_in_process(tmp_path / "data", server.base_url, date=DAY.isoformat())
    result = ledger.results[DAY]
    assert result.status == "incomplete"
    reasons = [f["reason"] for f in result.failures]
    assert reasons and all("no recognisable article link" in r for r in reasons)
    assert all("nbs.D110000" in f["url"] for f in result.failures)  # each names its page
    pages = load_pages(tmp_path / "data").to_pylist()
    page_files = sorted(p.name for p in (site / "html" / "2023-08" / "03").glob("nbs.*.htm"))
    assert sorted(p["url"].rsplit("/", 1)[1] for p in pages) == page_files  # every page row reaches the archive


def test_unrecognisable_article_links_exit_1(tmp_path):
    site = _unrecognisable_site(tmp_path)
    with serve(site) as server:
        result = run_epaper("crawl", "--date", DAY.isoformat(), "--base-url", server.base_url,
                            "--data", str(tmp_path / "data"), *FAST)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "no recognisable article link" in result.stderr
    assert "archived" not in result.stdout


def test_ids_of_urls_without_a_query_do_not_change():
    root = "http://h/ahjjb/"
    url = root + "html/2023-08/03/content_548646.htm"
    # the id the archive has always built for this URL (sha1 of "source:path below root")
    assert article_id("ahjjb", url, root) == hashlib.sha1(b"ahjjb:html/2023-08/03/content_548646.htm").hexdigest()[:20]
    from epaper.crawler.founder import canonical_url
    assert canonical_url(url) == url
    assert article_id("ahjjb", canonical_url(url + "?div=-1"), root) == article_id("ahjjb", url, root)
    assert article_id("ahjjb", canonical_url(url + "?div=0"), root) == article_id("ahjjb", url, root)

"""Bounded work (issue 22, family 5): caps on the pages and article links a date requests, a
latest issue whose date is far from anything known, and the report's span."""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
import pytest_twisted

from epaper.replica.server import serve
from tests.conftest import crawl_in_process

DAY = dt.date(2023, 8, 1)
FAKE = "content_77"  # the planted links' names (the replica serves none of them)


@pytest.fixture
def site(replica_sites, tmp_path) -> tuple[Path, list[dict]]:
    """A copy of the replica's site (edit it freely) and the truth's articles of DAY."""
    built = replica_sites("pc-rmrb", DAY, dt.date(2023, 8, 4))
    shutil.copytree(built / "site", tmp_path / "site")
    truth = json.loads((built / "truth.json").read_text(encoding="utf-8"))
    return tmp_path / "site", [a for a in truth["articles"] if a["issue_date"] == DAY.isoformat()]


def _archived_urls(data: Path, root: str) -> set[str]:
    """The archived articles' URLs, relative to the e-paper root (as the truth gives them)."""
    from epaper.storage.load import load_articles

    return {u.removeprefix(root) for u in load_articles(data, columns=["url"]).column("url").to_pylist()}


def _plant_list_links(page: Path, count: int) -> None:
    """`count` more links in the page's article list (the page also has an image map)."""
    html = page.read_text(encoding="utf-8")
    assert "<area" in html.lower() and '<ul class="news-list">' in html
    links = "".join(f'<li><a href="../../../content/202308/01/{FAKE}{n:06d}.html">标题{n}</a></li>'
                    for n in range(count))
    page.write_text(html.replace('<ul class="news-list">', '<ul class="news-list">' + links, 1), encoding="utf-8")


@pytest_twisted.ensureDeferred
async def test_a_mapped_page_with_40000_list_links_requests_its_cap_and_archives_the_real_articles(site, tmp_path):
    folder, articles = site
    page = folder / "pc/layout/202308/01/node_04.html"
    _plant_list_links(page, 40_000)  # more than an int16 position holds
    data = tmp_path / "data"
    with serve(folder) as server:
        ledger = await crawl_in_process(data, server.base_url, {"EPAPER_MAX_ARTICLES_PER_PAGE": 40},
                                        date=DAY.isoformat())
        planted = server.request_count(FAKE)
    result = ledger.results[DAY]
    assert result.status == "incomplete"
    reasons = [f for f in result.failures if "EPAPER_MAX_ARTICLES_PER_PAGE (40)" in f["reason"]]
    assert len(reasons) == 1 and reasons[0]["url"].endswith("/node_04.html") and "40,0" in reasons[0]["reason"]
    assert not any("write failed" in f["reason"] for f in result.failures)
    assert 0 < planted <= 40  # bounded: the rest were never requested
    assert {a["url"] for a in articles} <= _archived_urls(data, server.base_url)  # every real article archived
    assert result.articles == len(articles)


@pytest_twisted.ensureDeferred
async def test_the_cap_per_date_archives_the_first_articles_in_page_order(site, tmp_path):
    folder, articles = site
    data = tmp_path / "data"
    with serve(folder) as server:
        ledger = await crawl_in_process(data, server.base_url, {"EPAPER_MAX_ARTICLES_PER_DATE": 5},
                                        date=DAY.isoformat())
        requested = server.request_count(r"/content_\d+\.html$")
    result = ledger.results[DAY]
    assert len(articles) > 5 and result.status == "incomplete"
    (failure,) = [f for f in result.failures if "EPAPER_MAX_ARTICLES_PER_DATE (5)" in f["reason"]]
    assert f"{len(articles) - 5:,} more" in failure["reason"]
    assert requested == 5 and result.articles == 5
    first = sorted(articles, key=lambda a: (a["page_index"], a["position"]))[:5]
    assert _archived_urls(data, server.base_url) == {a["url"] for a in first}


@pytest_twisted.ensureDeferred
async def test_the_cap_on_pages_per_date(site, tmp_path):
    folder, articles = site
    data = tmp_path / "data"
    with serve(folder) as server:
        ledger = await crawl_in_process(data, server.base_url, {"EPAPER_MAX_PAGES_PER_DATE": 2},
                                        date=DAY.isoformat())
        pages = server.request_count(r"/node_\d+\.html$")
    result = ledger.results[DAY]
    assert result.status == "incomplete" and result.pages == 2 and pages == 2
    (failure,) = [f for f in result.failures if "EPAPER_MAX_PAGES_PER_DATE (2)" in f["reason"]]
    assert failure["url"].endswith("/node_01.html")
    assert _archived_urls(data, server.base_url) == {a["url"] for a in articles if a["page_index"] < 2}


@pytest.mark.parametrize("name", ["EPAPER_MAX_PAGES_PER_DATE", "EPAPER_MAX_ARTICLES_PER_PAGE",
                                  "EPAPER_MAX_ARTICLES_PER_DATE"])
@pytest.mark.parametrize("value", [0, 32_768])
def test_a_cap_the_archive_cannot_hold_is_refused(name, value):
    from scrapy.utils.test import get_crawler

    from epaper.crawler.spiders.epaper import EpaperSpider
    from tests.conftest import project_settings

    crawler = get_crawler(EpaperSpider, settings_dict=project_settings(**{name: value}))
    with pytest.raises(ValueError, match=re.escape(name)):
        EpaperSpider.from_crawler(crawler, base_url="http://127.0.0.1:9/ahjjb/", date=DAY.isoformat())

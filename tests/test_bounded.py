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


# ------------------------------------------------------------------ a latest issue far outside what is known


def _latest_names(folder: Path, day: str) -> None:
    """The latest-issue page redirects to `day`'s first page (YYYYMM/DD), a real page copied there."""
    target = folder / "pc/layout" / day / "node_01.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(folder / "pc/layout/202308/04/node_01.html", target)
    index = folder / "pc/layout/index.html"
    index.write_text(re.sub(r"URL=[^\"]+", f"URL={day}/node_01.html", index.read_text(encoding="utf-8")),
                     encoding="utf-8")


@pytest.mark.parametrize("archived_first", [False, True])
def test_a_latest_issue_dated_1900_is_refused_with_one_line(site, tmp_path, archived_first):
    from epaper.storage.parquet import archived_dates
    from tests.conftest import FAST, run_epaper

    folder, _ = site
    data = tmp_path / "data"
    with serve(folder) as server:
        if archived_first:
            done = run_epaper("crawl", "--date", "2023-08-04", "--base-url", server.base_url, "--data", str(data), *FAST)
            assert done.returncode == 0, done.stderr
        _latest_names(folder, "190001/02")
        latest = run_epaper("crawl", "--latest", "--base-url", server.base_url, "--data", str(data), *FAST)
        fetched = server.request_count(r"/190001/")
    assert latest.returncode == 1, latest.stderr
    assert len(latest.stderr.splitlines()) == 1 and "1900-01-02" in latest.stderr and "--date" in latest.stderr
    assert "Traceback" not in latest.stderr and fetched == 0
    assert dt.date(1900, 1, 2) not in archived_dates(data, "ahjjb")


def test_a_latest_issue_long_before_the_newest_archived_is_refused(site, tmp_path):
    from epaper.storage.parquet import archived_dates
    from tests.conftest import FAST, run_epaper

    folder, _ = site
    data = tmp_path / "data"
    with serve(folder) as server:
        done = run_epaper("crawl", "--date", "2023-08-04", "--base-url", server.base_url, "--data", str(data), *FAST)
        assert done.returncode == 0, done.stderr
        _latest_names(folder, "202306/01")  # 64 days before the newest archived
        refused = run_epaper("crawl", "--latest", "--base-url", server.base_url, "--data", str(data), *FAST)
        _latest_names(folder, "202307/20")  # 15 days before it: a withdrawn issue, say; trusted
        trusted = run_epaper("crawl", "--latest", "--base-url", server.base_url, "--data", str(data), *FAST)
    assert refused.returncode == 1 and "64 days before the newest issue archived (2023-08-04" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    assert dt.date(2023, 6, 1) not in archived_dates(data, "ahjjb")
    # crawled (its other pages are not there: incomplete), not refused
    assert "2023-07-20" in trusted.stdout + trusted.stderr and "not trusted" not in trusted.stderr


# ------------------------------------------------------------------ the report's span


@pytest.mark.slow  # make test-all
def test_the_report_draws_the_last_months_by_default_and_refuses_a_huge_span(tmp_path):
    pytest.importorskip("matplotlib")
    from tests.conftest import run_epaper
    from tests.test_compact import archive

    from epaper import report

    data = tmp_path / "data"
    archive(data, [dt.date(1900, 1, 2), dt.date(2023, 7, 31), dt.date(2023, 8, 1)])
    out = tmp_path / "r.png"
    done = run_epaper("report", "--data", str(data), "--out", str(out))
    assert done.returncode == 0, done.stderr
    first = report.first_of_month(dt.date(2023, 8, 1), report.DEFAULT_MONTHS - 1)
    assert f"{first} to 2023-08-01" in done.stdout and "1,484 months" in done.stderr
    assert out.stat().st_size < 5_000_000
    huge = run_epaper("report", "--data", str(data), "--out", str(out), "--from", "1900-01-01")
    assert huge.returncode == 2 and len(huge.stderr.splitlines()) == 1 and "months" in huge.stderr

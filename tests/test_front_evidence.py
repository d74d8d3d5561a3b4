"""Never "no issue" without proof (crawler.sites.founder): on a site without calendars, a day
whose first page is missing has no issue only when that name is the first page of other issues;
404s on guessed names prove nothing, and such dates fail with the names tried."""
from __future__ import annotations

import datetime as dt

import pytest_twisted

from epaper.replica.build import build_site
from epaper.replica.server import serve
from tests.conftest import crawl_in_process

SPAN = (dt.date(2023, 7, 27), dt.date(2023, 8, 1))  # Thu, Fri, a weekend, Mon, Tue
WEEKEND = (dt.date(2023, 7, 29), dt.date(2023, 7, 30))


def _site(tmp_path):
    """html-snb: no month calendar, the front page node_7.htm every day (the latest-issue page
    redirects to it)."""
    return build_site(tmp_path / "replica", start=SPAN[0], end=SPAN[1], generation="html", template="html-snb")


@pytest_twisted.ensureDeferred
async def test_weekend_alone_is_no_issue_once_the_latest_front_page_works(tmp_path):
    site = _site(tmp_path)
    with serve(site) as server:
        ledger = await crawl_in_process(tmp_path / "data", server.base_url, start=WEEKEND[0], end=WEEKEND[1])
        asked = [p for p in server.requests if "node_" in p]
    assert {d: r.status for d, r in ledger.results.items()} == {d: "no_issue" for d in WEEKEND}
    # each day looked for once under the site's own name, and the latest issue's first page once
    assert sorted(p.rsplit("/", 1)[1] for p in asked) == ["node_7.htm"] * 3


@pytest_twisted.ensureDeferred
async def test_guessed_names_that_404_prove_nothing(tmp_path):
    site = _site(tmp_path)
    (site / "paperindex.htm").write_text("<html><body>数字报</body></html>", encoding="utf-8")  # names nothing
    with serve(site) as server:
        ledger = await crawl_in_process(tmp_path / "data", server.base_url, start=SPAN[0], end=SPAN[1])
    for d, result in ledger.results.items():
        assert result.status == "incomplete", d
        assert "cannot tell whether there is an issue" in result.failures[0]["reason"]
        assert "node_2.htm" in result.failures[0]["reason"]


@pytest_twisted.ensureDeferred
async def test_a_day_missing_among_issues_is_no_issue_on_evidence(tmp_path):
    site = _site(tmp_path)
    with serve(site) as server:
        ledger = await crawl_in_process(tmp_path / "data", server.base_url, start=SPAN[0], end=SPAN[1])
        asked = [p for p in server.requests if "node_" in p and any(f"/{d:%d}/" in p for d in WEEKEND)]
    statuses = {d: r.status for d, r in ledger.results.items()}
    assert statuses == {d: ("no_issue" if d in WEEKEND else "archived") for d in statuses}
    assert len(asked) == 2  # one look per day without an issue: node_7.htm works on its neighbours

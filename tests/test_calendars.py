"""Founder month calendars in every form: the real `paper_existed.xml` (root `<periodlist>`,
`<period id>`, ids with thousands separators), and a site's calendar name and front-page name
learned once for the whole crawl (crawler.sites.founder)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from epaper.crawler.sites.founder import FounderSite, read_calendar

DATA = Path(__file__).parent / "data"
CALENDARS = sorted(p for p in DATA.glob("*.expected.json")
                   if json.loads(p.read_text(encoding="utf-8"))["kind"] == "calendar")


@pytest.mark.parametrize("path", CALENDARS, ids=[p.name.split(".")[0] for p in CALENDARS])
def test_real_calendar_exact(path):
    e = json.loads(path.read_text(encoding="utf-8"))
    calendar = read_calendar((DATA / e["file"]).read_bytes())
    assert [d.isoformat() for d in calendar] == e["dates"]
    assert len(calendar) == e["periods"]
    assert set(calendar.values()) == {e["front_page"]}
    site = FounderSite(e["root"], "html")
    month = dt.date.fromisoformat(e["month"] + "-01")
    name = e["url"].rsplit("/", 1)[1]
    assert site.calendar_url("html", month, name) == e["url"]
    site.learn_calendar("html", name, calendar)
    first = min(calendar)
    assert site.front_url(first, calendar[first]) == e["first_front_page_url"]


def test_calendar_names_are_tried_until_one_answers_then_only_that_one():
    site = FounderSite("http://h/kjb/")
    assert ("html", "paper_existed.xml") in site.calendar_tries()
    site.learn_calendar("html", "paper_existed.xml", {dt.date(2024, 6, 4): "node_2697.htm"})
    assert site.calendar_tries() == [("html", "paper_existed.xml")]  # once per site, not per month
    assert site.front_candidates() == ["node_2697.htm"]


def test_front_page_name_from_the_latest_issue_redirect():
    site = FounderSite("http://h/snb/", "html")
    assert site.front_candidates() == ["node_2.htm", "node_1.htm"]  # nothing learned: guesses
    site.learn_front("http://h/snb/html/2023-08/09/node_7.htm", "the latest-issue page")
    assert site.front_candidates() == ["node_7.htm"]
    assert site.front_candidates(wide=True) == ["node_7.htm", "node_2.htm", "node_1.htm"]


def test_a_404_proves_no_issue_only_under_a_name_that_works_elsewhere():
    site = FounderSite("http://h/snb/", "html")
    assert site.no_issue_evidence(["node_2.htm", "node_1.htm"]) is None  # guesses prove nothing
    site.fronts_seen.add("node_7.htm")
    assert site.no_issue_evidence(["node_2.htm", "node_1.htm"]) is None
    assert "node_7.htm" in site.no_issue_evidence(["node_7.htm"])

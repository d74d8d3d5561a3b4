"""A page or article that redirects to a URL the crawl already asked for was never served:
its date fails naming the redirect chain (Scrapy's dupe filter drops the repeated request,
which must not pass for an answer)."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import pytest_twisted

from epaper.replica.faults import Fault
from epaper.storage.parquet import has_snapshot
from tests.conftest import crawl_in_process

DAY = dt.date(2023, 8, 3)


def loop(path: str) -> list[Fault]:
    """path -> path + '.again' -> path"""
    return [Fault("redirect", re.escape(path) + "$", location=path + ".again"),
            Fault("redirect", re.escape(path + ".again") + "$", location=path)]


@pytest.mark.parametrize("what", ["page loop", "page served by another", "article loop"])
@pytest_twisted.ensureDeferred
async def test_a_redirect_to_an_url_already_asked_for_fails_the_date(portal, tmp_path, what):
    server = portal("pc-rmrb", DAY, DAY)
    issue = server.truth["issues"][DAY.isoformat()]
    root = server.base_url.split("127.0.0.1:", 1)[1].split("/", 1)[1]  # the path below the host
    page, front, article = (f"/{root}{p}" for p in (issue["pages"][2]["url"], issue["pages"][0]["url"],
                                                    issue["pages"][1]["articles"][0]))
    server.faults[:] = {"page loop": loop(page),
                        "page served by another": [Fault("redirect", re.escape(page) + "$", location=front)],
                        "article loop": loop(article)}[what]
    ledger = await crawl_in_process(tmp_path, server.base_url, date=DAY)
    result = ledger.results[DAY]
    assert result.status == "incomplete", result
    reasons = [f["reason"] for f in result.failures]
    assert any(r.startswith("redirected to a URL this crawl already asked for (") for r in reasons), reasons
    assert not any("no longer lists" in r for r in reasons)
    assert has_snapshot(tmp_path, "ahjjb", DAY)  # what could be archived is, marked incomplete

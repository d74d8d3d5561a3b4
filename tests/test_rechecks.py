"""Rechecks that cost what they must: conditional requests from the captures' validators, a
304 taken as "unchanged" (rows and capture stay), and the scheduler's recheck cadence."""
from __future__ import annotations

import datetime as dt

import pytest
import pytest_twisted

from epaper.crawler.warc import NOT_MODIFIED
from epaper.storage.load import load_articles, load_pages
from tests.conftest import crawl_in_process
from tests.revise import correction, path_of

DAY = dt.date(2023, 8, 3)
VOLATILE = ("crawled_at", "warc_file", "warc_record_id")


def _rows(table):
    return table.drop_columns([c for c in VOLATILE if c in table.column_names]).to_pylist()


def _records(path):
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as fh:
        return [(r.rec_type, r.rec_headers) for r in ArchiveIterator(fh)]


@pytest.mark.parametrize("conditional", ["answer", "ignore"])
@pytest_twisted.ensureDeferred
async def test_a_recheck_of_an_unchanged_issue(portal, tmp_path, conditional):
    """Answering portal: every page and article is a 304 (no body downloaded), recorded as a
    server-not-modified revisit; ignoring portal: 200s, recorded as identical-payload revisits.
    Either way the rows are the archived ones, and replay gives the live snapshot."""
    server = portal("pc-rmrb", DAY, DAY + dt.timedelta(days=1), conditional=conditional)
    await crawl_in_process(tmp_path, server.base_url, date=DAY)
    articles, pages = load_articles(tmp_path), load_pages(tmp_path)
    server.sent.clear()
    ledger = await crawl_in_process(tmp_path, server.base_url, date=DAY)
    assert ledger.results[DAY].status == "archived" and not ledger.results[DAY].failures
    sent = [(path, status, size) for path, status, size in server.sent if not path.endswith("robots.txt")]
    assert len(sent) == len(articles) + len(pages) + 1  # calendar, pages, articles: each asked once
    if conditional == "answer":
        assert {status for _, status, _ in sent} == {304}
        assert sum(size for _, _, size in sent) == 0  # no page body downloaded
    else:
        assert {status for _, status, _ in sent} == {200}
    assert _rows(load_articles(tmp_path)) == _rows(articles)
    assert _rows(load_pages(tmp_path)) == _rows(pages)

    latest = sorted((tmp_path / "warc").rglob("*.warc.gz"))[-1]
    revisits = [h for t, h in _records(latest) if t == "revisit"]
    assert len(revisits) == len(sent)
    profiles = {h.get_header("WARC-Profile") for h in revisits}
    assert profiles == ({NOT_MODIFIED} if conditional == "answer" else
                        {"http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"})
    live = load_articles(tmp_path)
    assert set(live.column("warc_file").to_pylist()) == {str(latest.relative_to(tmp_path))}

    server.stop()  # the portal is down: the revisits replay as the captures they confirm
    replay = {"WARC_REPLAY_DIR": str(tmp_path), "WARC_ENABLED": False, "ROBOTSTXT_OBEY": False}
    ledger = await crawl_in_process(tmp_path, server.base_url, settings=replay, date=DAY)
    assert ledger.results[DAY].status == "archived", ledger.results[DAY].failures
    assert load_articles(tmp_path).equals(live)


@pytest_twisted.ensureDeferred
async def test_a_changed_page_is_downloaded_and_stored_whole(portal, tmp_path):
    """An article corrected on an answering portal: its ETag changed, so it comes as a 200 and is
    stored as a response record; every other URL is a 304."""
    server = portal("pc-rmrb", DAY, DAY + dt.timedelta(days=1))
    await crawl_in_process(tmp_path, server.base_url, date=DAY)
    row = load_articles(tmp_path, columns=["url", "title", "body"]).to_pylist()[3]
    fault, _, _ = correction(server, row)
    server.faults[:] = [fault]
    path = path_of(server, row["url"])
    server.sent.clear()
    await crawl_in_process(tmp_path, server.base_url, date=DAY)
    changed = [(p, status) for p, status, size in server.sent if status == 200 and not p.endswith("robots.txt")]
    assert changed == [(path, 200)]
    latest = sorted((tmp_path / "warc").rglob("*.warc.gz"))[-1]
    responses = [h.get_header("WARC-Target-URI") for t, h in _records(latest) if t == "response"]
    assert responses == [row["url"]]

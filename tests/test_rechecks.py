"""Rechecks that cost what they must: conditional requests from the captures' validators, a
304 taken as "unchanged" (rows and capture stay), and the scheduler's recheck cadence."""
from __future__ import annotations

import datetime as dt

import pytest
import pytest_twisted

from epaper.crawler.captures import NOT_MODIFIED
from epaper.storage.load import load_articles, load_pages
from tests.conftest import crawl_in_process, fast_config
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


# ------------------------------------------------------------------ the scheduler's cadence


SHANGHAI = "Asia/Shanghai"


@pytest.mark.parametrize("issue, crawled, due", [
    ("2023-08-03", "2023-08-03T07:30:00+08:00", True),   # archived on its day: the day after rechecks it
    ("2023-08-03", "2023-08-04T07:31:00+08:00", False),  # rechecked today already
    ("2023-08-02", "2023-08-03T07:30:00+08:00", False),  # rechecked yesterday (day after), the week not yet
    ("2023-07-28", "2023-07-29T07:30:00+08:00", True),   # a week after
    ("2023-07-28", "2023-08-04T07:31:00+08:00", False),
    ("2023-07-30", "2023-07-30T07:30:00+08:00", True),   # the day-after recheck was missed: made up now
    ("2023-07-20", "2023-07-20T07:30:00+08:00", False),  # older than the last recheck
])
def test_recheck_dates_follow_the_cadence(tmp_path, issue, crawled, due):
    from zoneinfo import ZoneInfo

    from epaper.schedule import recheck_dates
    from epaper.storage.parquet import write_snapshot

    day = dt.date.fromisoformat(issue)
    write_snapshot(tmp_path, "ahjjb", "articles", day, [], {"complete": True, "crawled_at": crawled})
    today = dt.date(2023, 8, 4)
    assert recheck_dates(tmp_path, "ahjjb", ZoneInfo(SHANGHAI), today, (1, 7)) == ([day] if due else [])
    assert recheck_dates(tmp_path, "ahjjb", ZoneInfo(SHANGHAI), today, ()) == []


@pytest.mark.parametrize("issue, crawled, catchup_days, due", [
    # the week's recheck fell due yesterday, when the portal was down: made up today
    ("2023-07-27", "2023-07-28T07:30:00+08:00", 7, True),
    ("2023-07-27", "2023-08-04T07:30:00+08:00", 7, False),  # made up already
    ("2023-07-22", "2023-07-23T07:30:00+08:00", 7, True),   # due 07-29: the window's first day
    ("2023-07-21", "2023-07-22T07:30:00+08:00", 7, False),  # due 07-28: before the window, as a missing date
    ("2023-07-27", "2023-07-28T07:30:00+08:00", 0, False),  # no catch-up window: only what falls due today
])
def test_a_missed_recheck_is_made_up_within_the_catchup_window(tmp_path, issue, crawled, catchup_days, due):
    from zoneinfo import ZoneInfo

    from epaper.schedule import recheck_dates
    from epaper.storage.parquet import write_snapshot

    day = dt.date.fromisoformat(issue)
    write_snapshot(tmp_path, "ahjjb", "articles", day, [], {"complete": True, "crawled_at": crawled})
    today = dt.date(2023, 8, 4)
    assert recheck_dates(tmp_path, "ahjjb", ZoneInfo(SHANGHAI), today, (1, 7), catchup_days) == ([day] if due else [])


def test_a_scheduled_run_rechecks_with_304s_and_an_idle_latest(tmp_path):
    """One scheduled run on the day a recheck of the newest issue falls (tomorrow: it was just
    archived): the issue is rechecked (every page a 304: no body downloaded) and --latest, the
    issue being archived, costs one request."""
    from zoneinfo import ZoneInfo

    from epaper.config import load_config
    from epaper.replica.build import build_site
    from epaper.replica.server import serve
    from epaper.schedule import ChildRunner, run_once
    from tests.conftest import FAST, run_epaper

    tz = ZoneInfo(SHANGHAI)
    today = dt.datetime.now(tz).date()
    build_site(tmp_path / "replica", start=today - dt.timedelta(days=3), end=today, generation="pc", seed=5)
    data = tmp_path / "data"
    with serve(tmp_path / "replica" / "site") as server:
        latest = run_epaper("crawl", "--latest", "--base-url", server.base_url, "--data", str(data), *FAST)
        assert latest.returncode == 0, latest.stderr
        assert latest.stdout.split()[0] == "ahjjb"
        newest = dt.date.fromisoformat(latest.stdout.split()[1])
        config = fast_config(tmp_path / "epaper.toml", server.base_url,
                             f"catchup_days = 0\nrecheck_days = [{(today - newest).days + 1}]")
        server.sent.clear()
        import io

        out = io.StringIO()
        status = run_once(load_config(config), data, runner=ChildRunner(), today=today + dt.timedelta(days=1),
                          out=out, child_flags=["--quiet"])
        assert status == 0, out.getvalue()
        assert f"recheck {newest} exit 0" in out.getvalue() and "latest exit 0" in out.getvalue()
        sent = [(p, s, n) for p, s, n in server.sent if not p.endswith("robots.txt")]
        # 200: the latest page, and the month's calendar (--latest reached the issue without it);
        # every page and article of the recheck a 304, without a body
        assert sorted(p.rsplit("/", 1)[1] for p, s, _ in sent if s == 200) == ["index.html", "period.xml"], sent
        assert sum(n for p, s, n in sent if s == 304) == 0 and len(sent) > 10


@pytest.mark.parametrize("toml, env, expect", [
    ("", {}, (1, 7)),
    ("[schedule]\nrecheck_days = [2, 14]\n", {}, (2, 14)),
    ("[schedule]\nrecheck_days = []\n", {}, ()),
    ("", {"EPAPER_SCHEDULE_RECHECK_DAYS": "1, 3"}, (1, 3)),
    ("[schedule]\nrecheck_days = [0]\n", {}, "days from 1 to 366"),
    ("[schedule]\nrecheck_days = 7\n", {}, "a list of integers"),
    ("[schedule]\nrecheck_days = [true]\n", {}, "a list of integers"),
    ("", {"EPAPER_SCHEDULE_RECHECK_DAYS": "daily"}, "a list of integers"),
])
def test_recheck_days_in_the_config(tmp_path, toml, env, expect):
    from epaper.config import ConfigError, load_config

    path = tmp_path / "epaper.toml"
    path.write_text(toml, encoding="utf-8")
    if isinstance(expect, tuple):
        assert load_config(path, env=env).schedule.recheck_days == expect
    else:
        with pytest.raises(ConfigError, match=expect):
            load_config(path, env=env)

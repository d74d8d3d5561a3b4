"""An archive never forgets: a correction keeps the earlier version in `revisions/`, a removal
keeps the row marked `gone_since`, a date the portal no longer serves keeps its snapshot; the
raw captures are only added, and every one of them still replays."""
from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
import pytest_twisted

from epaper import reparse
from epaper.crawler.captures import load_captures
from epaper.storage import revisions
from epaper.storage.load import load_articles, load_pages
from epaper.storage.parquet import snapshot_path
from tests.conftest import crawl_in_process
from tests.revise import correction, removal

DAY = dt.date(2023, 8, 3)
REPLAY = {"WARC_ENABLED": False, "ROBOTSTXT_OBEY": False}


async def crawl(data, server, **settings):
    ledger = await crawl_in_process(data, server.base_url, settings=settings, date=DAY)
    result = ledger.results[DAY]
    assert result.status == "archived", result.failures
    return result


def no_scratch(root) -> bool:
    """Nothing of a history replay's scratch is left (`.reparse/`, a folder per paper)."""
    return not (root / ".reparse").exists()


def by_id(table: pa.Table) -> dict[str, dict]:
    return {r["article_id"]: r for r in table.to_pylist()}


@pytest_twisted.ensureDeferred
async def test_corrections_and_removals_are_kept(portal, tmp_path):
    server = portal("pc-rmrb", DAY, DAY + dt.timedelta(days=1))
    await crawl(tmp_path, server)
    first = by_id(load_articles(tmp_path))
    rows = sorted(first.values(), key=lambda r: (r["page_index"], r["position"]))
    body_row, title_row, gone_row = rows[2], rows[5], rows[9]
    body_fix, old_text, new_text = correction(server, body_row)
    title_fix, _, new_title = correction(server, title_row, "title")
    server.faults[:] = [body_fix, title_fix, removal(server, gone_row)]
    warcs = {p: p.read_bytes() for p in (tmp_path / "warc").rglob("*.warc.gz")}

    result = await crawl(tmp_path, server)
    assert (result.revised, result.gone) == (2, 1)
    second = by_id(load_articles(tmp_path))
    assert set(second) == set(first)  # nothing lost, the ids stay
    assert {k: r["duplicate_of"] for k, r in second.items()} == {k: r["duplicate_of"] for k, r in first.items()}
    assert new_text in second[body_row["article_id"]]["body"] and old_text not in second[body_row["article_id"]]["body"]
    assert second[title_row["article_id"]]["title"].endswith("（更正）")
    crawl_time = max(r["crawled_at"] for r in second.values() if r["article_id"] != gone_row["article_id"])
    assert second[gone_row["article_id"]]["gone_since"] == crawl_time
    assert second[gone_row["article_id"]]["body"] == gone_row["body"]
    assert [k for k, r in second.items() if r["gone_since"] is not None] == [gone_row["article_id"]]

    history = revisions.read_revisions(tmp_path, "ahjjb", DAY)
    assert [(r["article_id"], r["changed_fields"]) for r in history] == [
        (body_row["article_id"], ["body"]), (title_row["article_id"], ["title"])]
    earlier = history[0]
    assert earlier["body"] == body_row["body"] and earlier["crawled_at"] == body_row["crawled_at"]
    assert earlier["superseded_at"] == second[body_row["article_id"]]["crawled_at"]
    assert list((tmp_path / "revisions" / "source=ahjjb").glob("issue_date=2023-08-03/*.parquet"))

    # the earlier captures are untouched, and each still replays (a revisit resolved to its payload)
    assert all(p.read_bytes() == data for p, data in warcs.items())
    captures = load_captures(tmp_path, "ahjjb", DAY)
    assert captures.damaged is None
    assert captures.newest(gone_row["url"]).payload  # the removed article's raw page, from the first capture

    # the same corrections again: no new revision, the removal keeps its first time
    result = await crawl(tmp_path, server)
    assert (result.revised, result.gone) == (0, 0)
    assert len(revisions.read_revisions(tmp_path, "ahjjb", DAY)) == 2
    assert by_id(load_articles(tmp_path))[gone_row["article_id"]]["gone_since"] == crawl_time

    # corrected a second time, and the removed article back: every version kept, the mark cleared
    again, _, newer = correction(server, body_row, mark="再次更正")
    server.faults[:] = [again, title_fix]
    result = await crawl(tmp_path, server)
    assert (result.revised, result.gone) == (1, 0)
    third = by_id(load_articles(tmp_path))
    assert third[gone_row["article_id"]]["gone_since"] is None
    versions = [r["body"] for r in revisions.read_revisions(tmp_path, "ahjjb", DAY) if r["article_id"] == body_row["article_id"]]
    assert versions == [body_row["body"], second[body_row["article_id"]]["body"]]
    assert newer in third[body_row["article_id"]]["body"]

    history = load_articles(tmp_path, revisions=True, columns=["article_id", "body", "issue_date"])
    assert history.num_rows == len(third) + 3
    assert history.column("superseded_at").null_count == len(third)
    assert history.filter(pa.compute.is_valid(history.column("superseded_at"))).column("issue_date")[0].as_py() == DAY

    # the portal down: reparse rebuilds the current snapshot; the revisions stay as they were
    current, pages, kept = load_articles(tmp_path), load_pages(tmp_path), revisions.read_revisions(tmp_path, "ahjjb", DAY)
    server.stop()
    await crawl(tmp_path, server, WARC_REPLAY_DIR=str(tmp_path), **REPLAY)
    assert load_articles(tmp_path).equals(current)
    assert load_pages(tmp_path).equals(pages)
    assert revisions.read_revisions(tmp_path, "ahjjb", DAY) == kept


@pytest_twisted.ensureDeferred
async def test_a_parser_difference_on_an_unchanged_page_is_no_correction(portal, tmp_path):
    """The archived row differs from what the parser reads now, but the raw page is a revisit:
    the snapshot takes the new reading, and no revision is recorded."""
    from epaper.storage.parquet import read_snapshot, write_snapshot

    server = portal("pc-rmrb", DAY, DAY + dt.timedelta(days=1), conditional="ignore")
    await crawl(tmp_path, server)
    table = read_snapshot(tmp_path, "ahjjb", "articles", DAY)
    rows = table.to_pylist()
    rows[0]["title"] = "旧解析器的标题"
    write_snapshot(tmp_path, "ahjjb", "articles", DAY, rows, {"complete": True})
    result = await crawl(tmp_path, server)
    assert result.revised == 0 and not revisions.revision_files(tmp_path, "ahjjb", DAY)
    assert read_snapshot(tmp_path, "ahjjb", "articles", DAY).column("title")[0].as_py() != "旧解析器的标题"


@pytest_twisted.ensureDeferred
async def test_a_date_the_portal_no_longer_serves_keeps_its_snapshot(portal, tmp_path):
    from epaper.replica.server import Fault

    server = portal("pc-rmrb", DAY, DAY + dt.timedelta(days=1))
    await crawl(tmp_path, server)
    before = snapshot_path(tmp_path, "ahjjb", "articles", DAY).read_bytes()
    # the calendar no longer lists the date
    server.faults[:] = [Fault("correct", r"period\.xml$", old=f"<period_date>{DAY}</period_date>",
                              new="<period_date>2023-08-30</period_date>")]
    ledger = await crawl_in_process(tmp_path, server.base_url, date=DAY)
    result = ledger.results[DAY]
    assert result.status == "incomplete"
    assert "no longer serves this archived issue" in result.failures[0]["reason"]
    assert snapshot_path(tmp_path, "ahjjb", "articles", DAY).read_bytes() == before


def test_changes_status_and_the_run_log_show_them(portal, tmp_path):
    """The command line: a crawl, a correction and a removal, a second crawl; `changes` lists
    both (with the diff), `status` counts them, the run log records them for the second run."""
    import json

    from epaper.runlog import read_runs
    from tests.conftest import FAST, run_epaper

    server = portal("pc-rmrb", DAY, DAY + dt.timedelta(days=1))
    crawl_args = ("crawl", "--date", DAY.isoformat(), "--base-url", server.base_url, "--data", str(tmp_path), *FAST)
    assert run_epaper(*crawl_args).returncode == 0
    rows = sorted(load_articles(tmp_path).to_pylist(), key=lambda r: (r["page_index"], r["position"]))
    fix, _, _ = correction(server, rows[1])
    server.faults[:] = [fix, removal(server, rows[4])]
    stale = tmp_path / ".reparse" / "ahjjb" / "articles" / "source=ahjjb" / f"issue_date={DAY}" / "part-0.parquet"  # a stopped reparse's
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"PAR1")
    result = run_epaper(*crawl_args)
    assert result.returncode == 0, result.stderr
    assert "(1 revised, 1 gone)" in result.stdout
    assert no_scratch(tmp_path)

    listed = run_epaper("changes", "--data", str(tmp_path))
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith(f"ahjjb {DAY} corrected") and rows[1]["url"] in lines[0]
    assert f"{DAY} corrected" in lines[0] and rows[1]["url"] in lines[0]
    assert lines[1].strip().startswith("body: +3 −0 characters") and "[→更正后]" in lines[1]
    assert lines[2].startswith(f"ahjjb {DAY} removed")
    assert f"{DAY} removed" in lines[2] and rows[4]["url"] in lines[2]
    assert lines[-1] == "1 correction, 1 removed"
    events = json.loads(run_epaper("changes", "--data", str(tmp_path), "--json", "--from", DAY.isoformat(),
                                   "--to", DAY.isoformat()).stdout)
    assert [(e["kind"], e["article_id"]) for e in events] == [("corrected", rows[1]["article_id"]),
                                                               ("removed", rows[4]["article_id"])]
    assert events[0]["fields"] == ["body"] and events[0]["at"].endswith("+08:00")
    assert json.loads(run_epaper("changes", "--data", str(tmp_path), "--json", "--from", "2023-08-04").stdout) == []

    status = run_epaper("status", "--data", str(tmp_path))
    assert "ahjjb: 1 correction kept, 1 article removed by the portal" in status.stdout
    (row,) = json.loads(run_epaper("status", "--data", str(tmp_path), "--json").stdout)
    assert (row["source"], row["revised"], row["gone"]) == ("ahjjb", 1, 1)
    outcome = read_runs(tmp_path)[-1]["outcomes"][DAY.isoformat()]
    assert (outcome["revised"], outcome["gone"]) == (1, 1)
    assert "revised" not in read_runs(tmp_path)[0]["outcomes"][DAY.isoformat()]


@pytest_twisted.ensureDeferred
async def test_reparse_rebuilds_the_history_from_the_warc_files(portal, tmp_path):
    """Three crawls of a date (a correction and a removal, then a second correction and the
    article back) beside a date crawled once: with the portal down, `reparse --all` replays each
    date's crawls in time order and rebuilds the snapshots, the revisions and the removals
    exactly, whether the derived data is there or deleted."""
    import shutil

    from tests.conftest import run_epaper

    other = DAY + dt.timedelta(days=1)
    server = portal("pc-rmrb", DAY, other)
    ledger = await crawl_in_process(tmp_path, server.base_url, start=DAY, end=other)
    assert {r.status for r in ledger.results.values()} == {"archived"}
    rows = sorted(load_articles(tmp_path, start=DAY, end=DAY).to_pylist(), key=lambda r: (r["page_index"], r["position"]))
    body_fix, _, _ = correction(server, rows[2])
    server.faults[:] = [body_fix, correction(server, rows[5], "title")[0], removal(server, rows[9])]
    assert (await crawl(tmp_path, server)).revised == 2
    server.faults[:] = [correction(server, rows[2], mark="再次更正")[0]]
    result = await crawl(tmp_path, server)
    assert (result.revised, result.gone) == (2, 0)  # the body again, and the title back as first printed
    server.stop()

    def archive():
        return (load_articles(tmp_path), load_pages(tmp_path),
                {day: revisions.read_revisions(tmp_path, "ahjjb", day) for day in (DAY, other)})

    crawled = archive()
    assert len(crawled[2][DAY]) == 4 and crawled[2][other] == []
    assert crawled[0].column("gone_since").null_count == crawled[0].num_rows  # the removed one is back

    reparse = ("reparse", "--all", "--data", str(tmp_path))
    done = run_epaper(*reparse)
    assert done.returncode == 0, done.stderr
    lines = sorted(done.stdout.splitlines())  # a date's line comes when its last crawl is replayed
    assert lines[0] == f"ahjjb {DAY} archived: 7 pages, {len(rows)} articles, 0 duplicates", lines
    assert lines[1].startswith(f"ahjjb {other} archived: ") and len(lines) == 2
    assert archive() == crawled
    assert len(revisions.revision_files(tmp_path, "ahjjb", DAY)) == 1  # the rebuild's one file replaced the three
    assert no_scratch(tmp_path)

    for derived in ("articles", "pages", "revisions"):
        shutil.rmtree(tmp_path / derived)
    done = run_epaper(*reparse)
    assert done.returncode == 0, done.stderr
    assert f"ahjjb {DAY} archived: 7 pages, {len(rows)} articles, 0 duplicates (4 revised)\n" in done.stdout
    rebuilt = archive()
    assert rebuilt[0].equals(crawled[0]) and rebuilt[1].equals(crawled[1]) and rebuilt == crawled


def test_reparse_replays_a_few_dates_at_a_time_each_dates_crawls_in_order(tmp_path, monkeypatch):
    """The runs of a history replay: batches of dates in date order (memory holds one batch's
    captures); within a batch one run per earlier crawl, then one run writing every date."""
    crawls = {dt.date(2023, 8, 1): 2, dt.date(2023, 8, 2): 0, dt.date(2023, 8, 3): 1, dt.date(2023, 8, 5): 3}
    for day, n in crawls.items():
        folder = tmp_path / "warc" / "source=ahjjb" / f"issue_date={day}"
        folder.mkdir(parents=True)
        for i in range(n):
            (folder / f"2023080{i}T000000-1.warc.gz").write_bytes(b"")
    monkeypatch.setattr(reparse, "REPLAY_BATCH", 2)
    rounds = reparse.rounds(tmp_path, "ahjjb", sorted(crawls), {"start": "x", "end": "y", "layout": "pc"})
    # per batch: the earlier crawls into the scratch archive, printing nothing; then every date
    # from its newest captures, in date order, printed
    assert [(s["WARC_REPLAY_CRAWL"], a["dates"], shown) for s, a, shown in rounds] == [
        (1, "2023-08-01", set()), (0, "2023-08-01,2023-08-02", None),
        (1, "2023-08-05", set()), (2, "2023-08-05", set()), (0, "2023-08-03,2023-08-05", None)]
    assert all(a["layout"] == "pc" and "start" not in a for _, a, _ in rounds)
    assert [s.get("SNAPSHOT_COMPACT", "as configured") for s, _, _ in rounds] == [False] * 4 + ["as configured"]


@pytest.mark.slow  # make test-all
@pytest_twisted.ensureDeferred
async def test_reparse_rebuilds_a_latest_crawl_and_duplicates_across_dates(portal, tmp_path):
    """The newest issue archived by `crawl --latest` (its WARC file holds no calendar), the
    dates before it by a range crawl, the first of them crawled again: with every derived file
    deleted, `reparse --all` rebuilds each row exactly, `duplicate_of` included (each date is
    written after the dates before it are rebuilt)."""
    import shutil

    from tests.conftest import run_epaper

    first, last = dt.date(2023, 8, 1), dt.date(2023, 8, 3)
    server = portal("pc-rmrb", first, last)
    for arguments in ({"latest": "1"}, {"start": first, "end": last - dt.timedelta(days=1)}, {"date": first}):
        ledger = await crawl_in_process(tmp_path, server.base_url, **arguments)
        assert {r.status for r in ledger.results.values()} == {"archived"}, arguments
    assert not [url for url in load_captures(tmp_path, "ahjjb", last).newest_by_url if url.endswith("period.xml")]
    articles, pages = load_articles(tmp_path), load_pages(tmp_path)
    assert articles.column("duplicate_of").null_count < articles.num_rows  # reprints across the dates
    server.stop()

    for derived in ("articles", "pages", "index", "compact"):
        shutil.rmtree(tmp_path / derived)
    done = run_epaper("reparse", "--all", "--data", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert [line.split(" ")[:2] for line in done.stdout.splitlines()] == [["ahjjb", d] for d in ("2023-08-01", "2023-08-02", "2023-08-03")]
    assert load_articles(tmp_path).equals(articles) and load_pages(tmp_path).equals(pages)


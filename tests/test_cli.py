"""The commands as users run them: demo, status, reparse offline, latest, lock, validation."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap

import pyarrow.parquet as pq
import pytest

from epaper.lock import ArchiveLock
from epaper.replica.server import serve
from epaper.storage.load import load_articles
from tests.conftest import CLEAN_CWD, FAST, run_epaper
from tests.truth import diff_archive

WEEK = (dt.date(2023, 7, 31), dt.date(2023, 8, 6))


def crawl(server, data, start=WEEK[0], end=WEEK[1], *extra):
    return run_epaper("crawl", "--from", start.isoformat(), "--to", end.isoformat(), "--base-url", server.base_url,
                      "--data", str(data), *FAST, *extra)


def test_demo_puts_two_papers_of_two_generations_in_one_archive(tmp_path):
    """Offline, each paper of the demo's plan is in the archive under its own source, with exactly
    the articles of its replica's truth (the plan rebuilt here: the same plan gives the same
    sites); the query it prints runs as printed."""
    from urllib.parse import urlsplit

    from epaper.demo import DEMO_END, DEMO_PAPERS, DEMO_START
    from epaper.replica.papers import plan_papers, serve_papers

    result = run_epaper("demo", "--data", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    plans = plan_papers(DEMO_PAPERS)
    assert plans[0].id == "ahjjb" and {p.generation for p in plans} == {"pc", "html"}
    with serve_papers(tmp_path / "replica", plans, start=DEMO_START, end=DEMO_END) as papers:
        truths = {p.id: (p.plan.root_path, p.truth) for p in papers}
    assert truths["ahjjb"][1]["issues"].get("2023-08-03")  # the seed article's issue
    archived = load_articles(tmp_path / "demo", columns=["source", "issue_date", "url"])
    assert sorted(set(archived.column("source").to_pylist())) == sorted(truths)
    for source, (root, truth) in truths.items():
        rows = load_articles(tmp_path / "demo", columns=["issue_date", "url"], sources=[source]).to_pylist()
        got = sorted((r["issue_date"].isoformat(), urlsplit(r["url"]).path.removeprefix(root)) for r in rows)
        assert got == sorted((a["issue_date"], a["url"]) for a in truth["articles"]), source
        dates = {d for d in truth["issues"]}
        assert all(f"{source} {d} archived:" in result.stdout for d in dates), source
        summary = [ln for ln in result.stdout.splitlines() if ln.strip().startswith(f"{source} ")]
        assert summary and f"{len(truth['articles'])} articles from {len(dates)} issues" in summary[-1]
    assert "replica portals stopped" in result.stdout
    command = result.stdout.strip().splitlines()[-1].strip()
    assert command.startswith(f"{sys.executable} -c ") and "GROUP BY source" in command
    query = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert query.returncode == 0, query.stderr
    assert all(source in query.stdout for source in truths)


def test_status_lists_dates_and_gaps(portal, tmp_path):
    server = portal("pc-rmrb", *WEEK)
    assert crawl(server, tmp_path).returncode == 0
    result = run_epaper("status", "--data", str(tmp_path), "--json")
    rows = json.loads(result.stdout)
    assert [r["date"] for r in rows] == sorted(server.truth["issues"])
    assert {r["source"] for r in rows} == {"ahjjb"}
    assert all(r["complete"] and r["articles"] > 0 and r["pages"] > 0 for r in rows)
    text = run_epaper("status", "--data", str(tmp_path)).stdout
    assert text.splitlines()[0].split() == ["source", "date", "pages", "articles", "dups", "complete", "last", "crawled",
                                            "(Asia/Shanghai)"]
    assert [line.split()[:2] for line in text.splitlines()[1:len(rows) + 1]] == [["ahjjb", r["date"]] for r in rows]
    assert any(line.startswith("ahjjb: ") and "missing in the last 7 days" in line for line in text.splitlines())


@pytest.mark.slow  # tests/test_lost.py restores a date with the portal down in the fast suite
def test_reparse_restores_the_archive_with_the_portal_down(portal, tmp_path):
    server = portal("html-gb2312", *WEEK)
    assert crawl(server, tmp_path).returncode == 0
    before = load_articles(tmp_path).drop_columns(["crawled_at"]).sort_by("article_id")
    base_url = server.base_url
    server.stop()
    for snapshot in list((tmp_path / "articles").rglob("*.parquet")) + list((tmp_path / "pages").rglob("*.parquet")):
        snapshot.unlink()
    result = run_epaper("reparse", "--all", "--data", str(tmp_path))
    assert result.returncode == 0, result.stderr
    after = load_articles(tmp_path).drop_columns(["crawled_at"]).sort_by("article_id")
    assert after.equals(before)
    assert diff_archive(tmp_path, server.truth_path, base_url) == []


def test_warc_holds_the_exact_bytes_served(portal, tmp_path):
    from warcio.archiveiterator import ArchiveIterator

    server = portal("pc-rmrb", dt.date(2023, 8, 3), dt.date(2023, 8, 3))
    assert crawl(server, tmp_path, dt.date(2023, 8, 3), dt.date(2023, 8, 3)).returncode == 0
    row = load_articles(tmp_path, columns=["url", "warc_file", "warc_record_id"]).to_pylist()[0]
    with open(tmp_path / row["warc_file"], "rb") as fh:
        record = next(r for r in ArchiveIterator(fh)
                      if r.rec_headers.get_header("WARC-Record-ID") == row["warc_record_id"])
        body = record.content_stream().read()
    assert record.rec_headers.get_header("WARC-Target-URI") == row["url"]
    assert body == (server.site_dir / row["url"][len(server.base_url):]).read_bytes()


def test_latest_archives_the_newest_issue(portal, tmp_path):
    server = portal("html-table", *WEEK)
    result = run_epaper("crawl", "--latest", "--base-url", server.base_url, "--data", str(tmp_path), *FAST)
    assert result.returncode == 0, result.stderr
    newest = max(server.truth["issues"])
    assert result.stdout.startswith(f"ahjjb {newest} archived:")


def test_second_writer_is_refused_and_changes_nothing(portal, tmp_path):
    server = portal("pc-rmrb", *WEEK)
    with ArchiveLock(tmp_path, "test holder"):
        result = crawl(server, tmp_path)
        as_json = crawl(server, tmp_path, WEEK[0], WEEK[1], "--log-format", "json")
    assert result.returncode == 75  # its own status: not a failed crawl (1)
    assert len(result.stderr.strip().splitlines()) == 1 and "locked by pid" in result.stderr
    assert as_json.returncode == 75
    event = json.loads(as_json.stderr)
    assert event["event"] == "locked" and "locked by pid" in event["message"]
    assert not (tmp_path / "articles").exists()


FOUNDER_PAGE = """<html><head><meta charset="utf-8"></head><body>
<a id="pageLink" href="node_01.html">01版：要闻</a>
<ul><li><a href="../../../content/202401/02/content_1.html">好文章</a>
<li><a href="../../../content/202401/02/content_2.html">坏文章</a></ul></body></html>"""
GOOD = """<html><body><div class="article"><h1>好文章</h1><founder-content><p>正文第一段。</p></founder-content></div></body></html>"""
BAD = """<html><body><div class="article"><founder-content><p>　</p></founder-content></div></body></html>"""


def test_invalid_article_is_reported_and_makes_the_date_incomplete(tmp_path):
    site = tmp_path / "site"
    files = {
        "pc/layout/202401/period.xml": "<periodlist><period><period_date>2024-01-02</period_date>"
                                       "<front_page>node_01.html</front_page></period></periodlist>",
        "pc/layout/202401/02/node_01.html": FOUNDER_PAGE,
        "pc/content/202401/02/content_1.html": GOOD,
        "pc/content/202401/02/content_2.html": BAD,
    }
    for path, text in files.items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_text(textwrap.dedent(text), encoding="utf-8")
    with serve(site) as server:
        result = run_epaper("crawl", "--date", "2024-01-02", "--base-url", server.base_url,
                            "--data", str(tmp_path / "data"), *FAST)
    assert result.returncode == 1
    assert "content_2.html (no title, no body or image)" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert load_articles(tmp_path / "data").column("title").to_pylist() == ["好文章"]
    runs = [json.loads(line) for line in (tmp_path / "data" / "runs" / "runs.jsonl").read_text().splitlines()]
    outcome = runs[-1]["outcomes"]["2024-01-02"]
    assert outcome["status"] == "incomplete" and outcome["failures"][0]["url"].endswith("content_2.html")
    assert runs[-1]["exit_status"] == 1


@pytest.mark.parametrize("command", ["schema"])
def test_schema_lists_every_column(command):
    result = run_epaper(command)
    assert result.returncode == 0
    for column in ("article_id", "duplicate_of", "crawled_at", "article_count"):
        assert column in result.stdout


def test_reparse_brings_back_a_field_the_parser_dropped(portal, tmp_path):
    server = portal("pc-detail", *WEEK)
    assert crawl(server, tmp_path, WEEK[0], WEEK[1], "-s", "CLEAN_DROP_FIELDS=author").returncode == 0
    assert load_articles(tmp_path).column("author").null_count == load_articles(tmp_path).num_rows
    server.stop()
    assert run_epaper("reparse", "--from", WEEK[0].isoformat(), "--to", WEEK[1].isoformat(),
                      "--data", str(tmp_path)).returncode == 0
    assert diff_archive(tmp_path, server.truth_path, server.base_url) == []


@pytest.mark.slow  # make test-all; tests/test_warc.py reads cut WARC files in make test
def test_truncated_warc_is_reported_and_other_dates_reparse(portal, tmp_path):
    server = portal("pc-rmrb", *WEEK)
    assert crawl(server, tmp_path).returncode == 0
    server.stop()
    days = sorted(server.truth["issues"])
    broken = next((tmp_path / "warc" / "source=ahjjb" / f"issue_date={days[0]}").glob("*.warc.gz"))
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])
    result = run_epaper("reparse", "--all", "--data", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith(f"ahjjb {days[0]} ") and "damaged WARC" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert sum(" archived: " in line for line in result.stdout.splitlines()) == len(days) - 1


def test_sigterm_stops_cleanly_and_the_next_run_completes(portal, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    server = portal("pc-rmrb", *WEEK, delay=0.05)
    args = [sys.executable, "-m", "epaper", "crawl", "--from", WEEK[0].isoformat(), "--to",
            WEEK[1].isoformat(), "--base-url", server.base_url, "--data", str(tmp_path), *FAST,
            "-s", "CONCURRENT_REQUESTS=2", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2"]
    proc = subprocess.Popen(args, cwd=CLEAN_CWD, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list((tmp_path / "articles").rglob("*.parquet")):  # in flight: the first date is written
        assert proc.poll() is None and time.monotonic() < deadline, "the crawl ended before it was stopped"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]
    for snapshot in (tmp_path / "articles").rglob("*.parquet"):
        pq.read_table(snapshot)  # every file there is a whole snapshot
    assert crawl(server, tmp_path).returncode == 0
    assert diff_archive(tmp_path, server.truth_path, server.base_url) == []


def test_json_log_format_parses_line_by_line(portal, tmp_path):
    server = portal("pc-rmrb", *WEEK)
    result = crawl(server, tmp_path, WEEK[0], WEEK[1], "--log-format", "json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["date"] for e in events] == [(WEEK[0] + dt.timedelta(i)).isoformat() for i in range(7)]
    assert {e["status"] for e in events} == {"archived", "no_issue"}
    (log,) = (tmp_path / "logs").glob("*.log")
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)


def test_progress_line_on_a_terminal_only(portal, tmp_path):
    import os
    import pty
    import subprocess
    import sys

    server = portal("pc-rmrb", *WEEK)
    leader, follower = pty.openpty()
    args = [sys.executable, "-m", "epaper", "crawl", "--from", WEEK[0].isoformat(), "--to",
            WEEK[1].isoformat(), "--base-url", server.base_url, "--data", str(tmp_path), *FAST]
    proc = subprocess.Popen(args, cwd=CLEAN_CWD, stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    out, _ = proc.communicate(timeout=120)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    terminal = b"".join(chunks).decode()
    assert proc.returncode == 0
    assert "dates," in terminal and "articles/s" in terminal  # the progress line, on the terminal
    assert len(out.decode().splitlines()) == 7  # stdout (not a terminal) keeps one line per date


def test_scrapy_crawl_from_the_repository_root_goes_through_the_same_storage(portal, tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    server = portal("html-table", *WEEK)
    day = dt.date.fromisoformat(sorted(server.truth["issues"])[0])
    result = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "epaper", "-a", f"date={day}",
                             "-a", f"base_url={server.base_url}", "-s", f"SNAPSHOT_DIR={tmp_path}",
                             "-s", f"EPAPER_CONFIG={os.devnull}", *FAST],  # not a ./epaper.toml of the checkout
                            cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    assert diff_archive(tmp_path, server.truth_path, server.base_url, dates=[day]) == []
    assert list((tmp_path / "warc" / "source=ahjjb" / f"issue_date={day}").glob("*.warc.gz"))
    compacted = (tmp_path / "compact" / "articles" / "source=ahjjb" / f"year={day.year}" / "part-0.parquet")
    assert load_articles(tmp_path).num_rows == pq.read_metadata(compacted).num_rows > 0

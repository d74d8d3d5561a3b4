"""Faults on purpose: the real `epaper crawl` against the replica portal with its fault modes.

Transient faults are retried and the dates come out complete; permanent ones leave the date
incomplete with every other article archived, each failed URL named with its reason (stderr,
run log, Scrapy log), exit status 1, and the next healthy run completes the date. Also:
redirects off the portal's origin, oversized and non-HTML responses, lying charsets, pages whose
contents try to name paths, and damaged snapshots in the archive.

Faults are grouped so that one crawl exercises several of them (on different URLs and dates):
the suite stays fast while every fault is checked on its own URL.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections import Counter
from pathlib import Path
from urllib.parse import urljoin

import pyarrow.parquet as pq
import pytest

from epaper.storage.dedupe import DuplicateIndex
from epaper.replica.server import Fault, serve
from epaper.storage.parquet import DATASETS, archived_dates, snapshot_info, snapshot_path
from epaper.storage.load import load_articles
from tests.conftest import FAST, project_settings, run_epaper, slow_but, tally_fixture
from tests.truth import diff_archive

START, END = dt.date(2023, 8, 1), dt.date(2023, 8, 4)  # four issues, about 200 articles
DAYS = [START + dt.timedelta(i) for i in range(4)]
DATES = ("--from", START.isoformat(), "--to", END.isoformat())
SETTINGS = [*FAST, "-s", "DOWNLOAD_TIMEOUT=2"]

COUNTS: Counter = Counter()  # faults injected, rows lost: kept in the pytest cache for the report


_tally = tally_fixture("faults", COUNTS)


@pytest.fixture(scope="module")
def site(replica_sites) -> Path:
    return replica_sites("pc-rmrb", START, END)


@pytest.fixture(scope="module")
def _portal(site):
    with serve(site / "site") as server:
        server.truth_path = site / "truth.json"
        server.truth = json.loads(server.truth_path.read_text(encoding="utf-8"))
        yield server


@pytest.fixture
def server(_portal):
    """The module's replica portal, healthy at the start of each test (faults tallied after)."""
    _portal.faults.clear()
    yield _portal
    heal(_portal)


@pytest.fixture(scope="module")
def clean_archive(_portal, tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("clean") / "data"
    result = crawl(_portal, data)
    assert result.returncode == 0, result.stderr
    return data


def crawl(server, data: Path, *extra: str, dates=DATES):
    return run_epaper("crawl", *dates, "--base-url", server.base_url, "--data", str(data), *SETTINGS, *extra)


def heal(server) -> None:
    COUNTS["faults injected"] += sum(f.hits for f in server.faults)
    server.faults.clear()


def last_run(data: Path) -> dict:
    return json.loads((data / "runs" / "runs.jsonl").read_text(encoding="utf-8").splitlines()[-1])


def log_text(data: Path) -> str:
    newest = max((data / "logs").glob("*.log"), key=lambda p: p.stat().st_mtime_ns)
    return newest.read_text(encoding="utf-8")


def truth_urls(server, day: dt.date) -> set[str]:
    return {urljoin(server.base_url, a["url"]) for a in server.truth["articles"] if a["issue_date"] == day.isoformat()}


def archived_urls(data: Path, day: dt.date) -> set[str]:
    return set(load_articles(data, start=day, end=day, columns=["url"]).column("url").to_pylist())


def assert_complete_and_true(server, data: Path, days: list[dt.date] | None = None) -> None:
    problems = diff_archive(data, server.truth_path, server.base_url, dates=days)
    COUNTS["rows lost"] += sum(p.endswith(": missing") for p in problems)
    assert problems == []
    days = days or DAYS
    assert {d: snapshot_info(data, "ahjjb", d).complete for d in days} == {d: True for d in days}


def article(truth: dict, day: int, page: int, position: int) -> str:
    return truth["issues"][DAYS[day].isoformat()]["pages"][page]["articles"][position]


def page(truth: dict, day: int, page_index: int) -> str:
    return truth["issues"][DAYS[day].isoformat()]["pages"][page_index]["url"]


def on_page(server, target: str) -> set[str]:
    """The articles a failed target takes with it (an article the failed page shares with a
    later page is still archived from there, so this is what *may* be lost)."""
    if "/content/" in target:
        return {urljoin(server.base_url, target)}
    return {urljoin(server.base_url, a) for issue in server.truth["issues"].values() for p in issue["pages"]
            if p["url"] == target for a in p["articles"]}


def day_of(target: str) -> dt.date:
    return dt.date(2023, 8, int(target.split("/")[3]))


# ------------------------------------------------------------------ transient faults


TRANSIENT = {  # kind, options, URL pattern, hits before the portal behaves; grouped: one crawl each
    "server-errors": [
        ("status", {"status": 503}, r"/content_", 3),
        ("status", {"status": 500}, r"/node_0[2-9]", 2),
        ("status", {"status": 429}, r"/period\.xml$", 1),
        ("reset", {}, r"/content_", 2),
        ("reset", {}, r"/node_01\.html$", 1),
    ],
    "cut-transfers": [
        ("truncate", {"with_length": True}, r"/content_", 2),
        ("truncate", {"with_length": False}, r"/content_", 2),  # no Content-Length: only the missing </html> tells
        ("truncate", {"with_length": False}, r"/period\.xml$", 1),  # a cut calendar would turn dates into "no issue"
        ("empty", {}, r"/node_0[2-9]", 2),
        ("slow", {"seconds": 3.0}, r"/content_\d+9\.html$", 1),  # over DOWNLOAD_TIMEOUT=2
    ],
}


@pytest.mark.parametrize("group", sorted(TRANSIENT))
def test_transient_faults_are_retried_and_the_dates_complete(server, tmp_path, group):
    server.faults[:] = [Fault(kind, pattern, times=times, **options) for kind, options, pattern, times in TRANSIENT[group]]
    result = crawl(server, tmp_path)
    assert [f.hits for f in server.faults] == [t for *_, t in TRANSIENT[group]]  # every fault fired
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert len(result.stdout.splitlines()) == 4
    # retried by the retry middleware (a reset on a kept-alive connection may be retried by the client itself)
    retried = re.search(r"'retry/count': (\d+)", log_text(tmp_path))
    assert retried and int(retried.group(1)) >= sum(t for k, _, _, t in TRANSIENT[group] if k != "reset")
    assert_complete_and_true(server, tmp_path)


# ------------------------------------------------------------------ permanent faults

PERMANENT = {  # kind, options, target, reason shown; extra settings. At most one page target per date.
    "server-errors": ([
        ("status", {"status": 503}, ("a", 0, 0, 1), "HTTP 503"),
        ("not_found", {}, ("p", 1, 1), "HTTP 404"),
        ("reset", {}, ("a", 2, 0, 1), "connection lost"),
        ("empty", {}, ("a", 3, 0, 1), "empty response"),
        ("status", {"status": 502}, ("p", 3, 2), "HTTP 502"),
    ], []),
    "cut-transfers": ([
        ("truncate", {"with_length": True}, ("a", 0, 0, 2), "truncated response"),
        ("truncate", {"with_length": False}, ("a", 1, 0, 2), "truncated page (no </html>)"),
        ("truncate", {"with_length": False}, ("p", 2, 1), "truncated page (no </html>)"),
        ("slow", {"seconds": 2.0}, ("a", 3, 0, 2), "timeout"),
    ], ["-s", "DOWNLOAD_TIMEOUT=1", "-s", "RETRY_TIMES=1"]),
    "not-pages": ([
        ("redirect_offhost", {}, ("a", 0, 0, 3), "redirected outside the portal's origin"),
        ("redirect_offhost", {}, ("p", 1, 2), "redirected outside the portal's origin"),
        ("wrong_type", {"body": "pdf"}, ("a", 2, 0, 2), "not HTML (application/pdf)"),
        ("wrong_type", {"body": "jpg"}, ("p", 3, 1), "not HTML (image/jpeg)"),
        ("oversize", {"size_mb": 2.0}, ("a", 1, 0, 1), "response too large"),
        ("endless", {"size_mb": 64.0}, ("a", 3, 0, 1), "larger than DOWNLOAD_MAXSIZE (1,048,576 bytes)"),
    ], ["-s", "DOWNLOAD_MAXSIZE=1048576"]),
}


def resolve(truth: dict, spec: tuple) -> str:
    return article(truth, *spec[1:]) if spec[0] == "a" else page(truth, *spec[1:])


@pytest.mark.parametrize("group", slow_but(sorted(PERMANENT), "server-errors"))
def test_permanent_faults_leave_dates_incomplete_then_the_next_run_completes_them(server, tmp_path, group):
    specs, extra = PERMANENT[group]
    targets = [(kind, resolve(server.truth, spec), reason) for kind, _, spec, reason in specs]
    server.faults[:] = [Fault(kind, re.escape(target) + "$", **options)
                        for (kind, options, _, _), (_, target, _) in zip(specs, targets)]
    result = crawl(server, tmp_path, *extra)
    assert all(f.hits for f in server.faults)
    failed_days = {day_of(t) for _, t, _ in targets}

    # exit status 1, one stderr line per unfinished date, nothing else there
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert all(line.startswith("ahjjb ") for line in result.stderr.splitlines())
    lines = {dt.date.fromisoformat(line[6:16]): line for line in result.stderr.splitlines()}
    assert set(lines) == failed_days and len(result.stderr.splitlines()) == len(failed_days)
    assert all(line[17:].startswith("incomplete: ") for line in lines.values())
    outcomes, log = last_run(tmp_path)["outcomes"], log_text(tmp_path)
    for kind, target, reason in targets:
        url, day = urljoin(server.base_url, target), day_of(target)
        # each failed URL named with why: on stderr, in the run log, in the Scrapy log
        (failure,) = [f for f in outcomes[day.isoformat()]["failures"] if f["url"] == url]
        assert reason in failure["reason"], (kind, failure)
        assert f"{url} ({failure['reason']})" in lines[day], (kind, lines[day])
        assert re.search(rf"{re.escape(url)}.*{re.escape(reason)}", log), kind
        assert url not in archived_urls(tmp_path, day)

    # every article that could be archived is; the snapshots say they are incomplete
    lost = set().union(*(on_page(server, t) for _, t, _ in targets))
    touched_pages = {t for _, t, _ in targets if "/layout/" in t}
    for day in DAYS:
        assert truth_urls(server, day) - lost <= archived_urls(tmp_path, day) <= truth_urls(server, day)
        assert snapshot_info(tmp_path, "ahjjb", day).complete is (day not in failed_days)
    unexplained = [p for p in diff_archive(tmp_path, server.truth_path, server.base_url)
                   if p.split(": ")[0] not in lost and not p.startswith(("page (", "pages differ"))]
    assert unexplained == []
    page_lines = [p for p in diff_archive(tmp_path, server.truth_path, server.base_url) if p.startswith("page")]
    assert all(any(f"'{day_of(t)}'" in p for _, t, _ in targets) for p in page_lines), page_lines
    assert touched_pages  # each group has page failures as well as article failures

    # the portal recovers: the next run completes every date
    heal(server)
    result = crawl(server, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert_complete_and_true(server, tmp_path)


def test_a_redirect_off_the_host_is_never_requested(server, tmp_path):
    """Nothing leaves 127.0.0.1: neither the redirect target nor its robots.txt is fetched."""
    server.faults.append(Fault("redirect_offhost", r"/content_"))
    result = crawl(server, tmp_path, dates=("--date", START.isoformat()))
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"ahjjb {START} failed: 0 articles archived, {len(truth_urls(server, START))} failed: ")
    log = log_text(tmp_path)
    assert re.search(r"redirected outside the portal's origin \(http://127\.0\.0\.1:\d+\) to http://example\.invalid/", log)
    assert not re.search(r"(Crawled \(\d+\) <GET|Retrying <GET|DNS lookup failed.*) ?http://example\.invalid", log)
    assert archived_urls(tmp_path, START) == set()  # every article failed; the pages are archived


@pytest.mark.parametrize("template", slow_but(["pc-rmrb", "html-gb2312"], "html-gb2312"))
def test_a_lying_charset_is_read_right(portal, tmp_path, template):
    server = portal(template, START, END, faults=[Fault("charset_lie", r"\.html?$")])
    result = crawl(server, tmp_path)
    COUNTS["faults injected"] += server.faults[0].hits
    assert server.faults[0].hits > 100
    assert result.returncode == 0, result.stderr
    assert_complete_and_true(server, tmp_path)


# ------------------------------------------------------------------ incomplete runs and earlier snapshots


def test_an_incomplete_crawl_never_replaces_a_complete_snapshot(server, clean_archive, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(clean_archive, data)
    before = pq.read_table(snapshot_path(data, "ahjjb", "articles", START))
    target = article(server.truth, 0, 0, 2)
    server.faults.append(Fault("status", re.escape(target) + "$"))
    result = crawl(server, data, dates=("--date", START.isoformat()))
    assert result.returncode == 1
    assert result.stderr.startswith(f"ahjjb {START} incomplete (previous complete snapshot kept): ")
    assert urljoin(server.base_url, target) in result.stderr
    assert pq.read_table(snapshot_path(data, "ahjjb", "articles", START)).equals(before)
    assert_complete_and_true(server, data)


@pytest.mark.slow  # make test-all; tests/test_archive.py holds the merge rule in make test
def test_incomplete_crawls_add_up_and_lose_nothing(server, tmp_path):
    """Run 1 misses article A, run 2 misses B: the snapshot after run 2 holds both."""
    a, b = article(server.truth, 0, 0, 2), article(server.truth, 0, 1, 0)
    one = ("--date", START.isoformat())
    server.faults.append(Fault("status", re.escape(a) + "$"))
    assert crawl(server, tmp_path, dates=one).returncode == 1
    assert urljoin(server.base_url, a) not in archived_urls(tmp_path, START)
    heal(server)
    server.faults.append(Fault("not_found", re.escape(b) + "$"))
    assert crawl(server, tmp_path, dates=one).returncode == 1
    assert archived_urls(tmp_path, START) == truth_urls(server, START)  # A from run 2, B from run 1
    assert snapshot_info(tmp_path, "ahjjb", START).complete is False  # B failed in the last run
    heal(server)
    assert crawl(server, tmp_path, dates=one).returncode == 0
    assert_complete_and_true(server, tmp_path, [START])


# ------------------------------------------------------------------ nothing a page says names a path


@pytest.fixture
def hostile_site(site, tmp_path):
    """A copy of the replica whose calendar, latest-issue page and page links try to name paths."""
    hostile = tmp_path / "site"
    shutil.copytree(site / "site", hostile)
    period = hostile / "pc/layout/202308/period.xml"
    text = period.read_text(encoding="utf-8")
    text = text.replace("<front_page>node_01.html</front_page>", "<front_page>../../../../../evil/x.html</front_page>", 1)
    text = text.replace("<period_date>2023-08-04</period_date>", "<period_date>../../2023-08-04/..</period_date>")
    text = text.replace("</calendar>", "<period><period_date>../../../etc</period_date>"
                        "<front_page>/etc/passwd</front_page></period>\n</calendar>")
    period.write_text(text, encoding="utf-8")
    front = hostile / "pc/layout/202308/02/node_01.html"
    front.write_text(front.read_text(encoding="utf-8").replace(
        'id="pageLink" href="node_02.html"', 'id="pageLink" href="../../../../../../../../tmp/evil/node_02.html"', 1),
        encoding="utf-8")
    return hostile


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


SAFE = re.compile(r"(articles|pages)/source=ahjjb/issue_date=2023-08-0[1-4]/part-0\.parquet|"
                  r"compact/(articles|pages)/source=ahjjb/year=2023/part-0\.parquet|warc/source=ahjjb/issue_date=2023-08-0[1-4]/"
                  r"\d{8}T\d{6}-\d+\.warc\.gz|index/source=ahjjb/[\w.-]+|logs/[\w.+-]+\.log|runs/runs\.jsonl|metrics/epaper\.prom|\.lock|\.locks/ahjjb\.lock")


def test_nothing_a_page_says_names_a_path(hostile_site, tmp_path):
    data = tmp_path / "data"
    before = _files(tmp_path)
    with serve(hostile_site) as server:
        result = run_epaper("crawl", *DATES, "--base-url", server.base_url, "--data", str(data), *SETTINGS)
        assert result.returncode == 1  # the forged page link fails 2023-08-02; nothing crashes
        assert "Traceback" not in result.stderr
        # the latest issue's page claims a date: it names a folder only once it is a plausible date
        index = hostile_site / "pc/layout/index.html"
        for target, status, says in (("../../../../../../tmp/evil/node_01.html", 2, "no Founder e-paper"),
                                     ("999912/31/node_01.html", 1, "impossible date 9999-12-31"),
                                     ("000101/01/node_01.html", 1, "impossible date 0001-01-01")):
            if status == 1:  # a real page there
                (hostile_site / "pc/layout" / target).parent.mkdir(parents=True)
                shutil.copy(hostile_site / "pc/layout/202308/04/node_01.html", hostile_site / "pc/layout" / target)
            index.write_text(re.sub(r"URL=[^\"]+", f"URL={target}", index.read_text(encoding="utf-8")), encoding="utf-8")
            latest = run_epaper("crawl", "--latest", "--base-url", server.base_url, "--data", str(data), *SETTINGS)
            assert latest.returncode == status, latest.stderr
            assert len(latest.stderr.splitlines()) == 1 and says in latest.stderr
    created = [f for f in _files(tmp_path) if f not in before]
    assert all(f.startswith(("data/", "site/")) for f in created), created  # site/: the forged pages
    unexpected = [f for f in _files(data) if not SAFE.fullmatch(f)]
    assert unexpected == []
    assert set(archived_dates(data, "ahjjb")) <= set(DAYS)


# ------------------------------------------------------------------ a damaged archive


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"not parquet at all\n" * 50,
                      "empty": b"", "no-footer": data[:-8]}[how])


DAMAGE = {DAYS[0]: ("articles", "truncated"), DAYS[1]: ("articles", "garbage"), DAYS[2]: ("pages", "no-footer")}


@pytest.mark.slow  # make test-all; tests/test_lost.py and tests/test_archive.py in make test
def test_damaged_snapshots_are_reported_ignored_and_replaced(server, clean_archive, tmp_path, caplog):
    data = tmp_path / "data"
    shutil.copytree(clean_archive, data)
    for day, (dataset, how) in DAMAGE.items():
        damage(snapshot_path(data, "ahjjb", dataset, day), how)

    # epaper status names them
    status = run_epaper("status", "--data", str(data), "--json")
    assert status.returncode == 1 and status.stderr == ""  # damaged: something to look at
    rows = {dt.date.fromisoformat(r["date"]): r for r in json.loads(status.stdout)}
    assert {r["source"] for r in rows.values()} == {"ahjjb"}
    assert {d for d, r in rows.items() if r["error"]} == set(DAMAGE)
    assert not any(rows[d]["complete"] for d in DAMAGE)
    table = run_epaper("status", "--data", str(data))
    assert table.returncode == 1
    assert {f"attention: ahjjb: damaged: {d}" for d in DAMAGE} <= {line.split(" (")[0] for line in table.stdout.splitlines()}
    assert {d for d in DAYS if re.search(rf"^ahjjb\s+{d}\s.*DAMAGED", table.stdout, re.M)} == set(DAMAGE)

    # the dedupe index skips the damaged articles snapshots with a warning
    shutil.rmtree(data / "index", ignore_errors=True)
    with caplog.at_level("WARNING"):
        index = DuplicateIndex.open(data, "ahjjb")
    warned = " ".join(r.getMessage() for r in caplog.records if "unreadable snapshot" in r.getMessage())
    assert all(str(d) in warned for d, (dataset, _) in DAMAGE.items() if dataset == "articles")
    assert len(index) > 0

    # a crawl of another date is not disturbed (and says why in its log)
    other = crawl(server, data, dates=("--date", END.isoformat()))
    assert other.returncode == 0, other.stderr
    assert other.stderr == ""

    # the next crawl of the damaged dates replaces them
    again = crawl(server, data, dates=("--from", START.isoformat(), "--to", DAYS[2].isoformat()))
    assert again.returncode == 0, again.stderr
    for day, (dataset, _) in DAMAGE.items():
        pq.read_table(snapshot_path(data, "ahjjb", dataset, day))
    assert_complete_and_true(server, data)


@pytest.mark.parametrize("how", slow_but(["garbage", "empty"], "garbage"))
def test_a_damaged_snapshot_is_replaced_even_by_an_incomplete_crawl(server, clean_archive, tmp_path, how):
    data = tmp_path / "data"
    shutil.copytree(clean_archive, data)
    one = ("--date", START.isoformat())
    damage(snapshot_path(data, "ahjjb", "articles", START), how)
    target = article(server.truth, 0, 0, 2)
    server.faults.append(Fault("status", re.escape(target) + "$"))
    result = crawl(server, data, dates=one)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert archived_urls(data, START) == truth_urls(server, START) - {urljoin(server.base_url, target)}
    assert snapshot_info(data, "ahjjb", START).error is None
    heal(server)
    assert crawl(server, data, dates=one).returncode == 0
    assert_complete_and_true(server, data)


# ------------------------------------------------------------------ a parser bug fails the page, not silently


@pytest.mark.parametrize("error", [IndexError("list index out of range"), RecursionError("maximum recursion depth"),
                                   ValueError("empty page")])
def test_a_page_the_parser_chokes_on_fails_that_page_and_says_why(monkeypatch, error):
    from scrapy.http import HtmlResponse
    from scrapy.utils.test import get_crawler

    from epaper.crawler import founder_article
    from epaper.crawler.spiders.epaper import EpaperSpider

    crawler = get_crawler(EpaperSpider, settings_dict=project_settings())
    spider = crawler.spider = EpaperSpider.from_crawler(crawler, base_url="http://127.0.0.1:9/ahjjb/",
                                                        date=START.isoformat())

    def choke(*args, **kwargs):
        raise error

    monkeypatch.setattr(founder_article, "parse_article", choke)
    url = "http://127.0.0.1:9/ahjjb/pc/content/202308/01/content_1.html"
    request = spider._request(url, spider.parse_article, [START], page_index=0, position=0, page_no="01",
                              page_name=None, pdf_url=None, stage=3)
    request.meta["fetched_at"] = dt.datetime.now(dt.timezone.utc)
    items = list(spider._answer(HtmlResponse(url, body=b"<html><body>x</body></html>", request=request,
                                             headers={"Content-Type": "text/html; charset=utf-8"})))
    result = spider.ledger.results[START]
    assert items == []
    assert result.failures == [{"url": url, "reason": str(error) if isinstance(error, ValueError)
                                 else f"cannot parse: {type(error).__name__}: {error}"}]


def test_a_spider_bug_fails_its_date_with_the_reason(monkeypatch):
    from scrapy.http import HtmlResponse
    from scrapy.utils.test import get_crawler

    from epaper.crawler.spiders.epaper import EpaperSpider

    crawler = get_crawler(EpaperSpider, settings_dict=project_settings())
    spider = crawler.spider = EpaperSpider.from_crawler(crawler, base_url="http://127.0.0.1:9/ahjjb/",
                                                        date=START.isoformat())

    def broken(response):
        yield from ()
        raise KeyError("page_index")

    url = "http://127.0.0.1:9/ahjjb/pc/layout/202308/01/node_02.html"
    request = spider._request(url, spider.parse_page, [START], page_index=1, stage=2)
    monkeypatch.setattr(spider, "parse_page", broken)
    assert list(spider._answer(HtmlResponse(url, body=b"<html></html>", request=request))) == []
    assert spider.ledger.results[START].failures == [{"url": url, "reason": "spider error: KeyError: 'page_index'"}]


# ------------------------------------------------------------------ a portal that gzips


@pytest.mark.parametrize("template", slow_but(["pc-rmrb", "html-gb2312"], "html-gb2312"))
def test_a_gzipping_portal_is_captured_and_reparsed(portal, tmp_path, template):
    """nginx gzips HTML and XML: the WARC keeps the payload as received (gzip, with its
    Content-Encoding), completeness is judged on the decoded page, and reparse decodes."""
    from warcio.archiveiterator import ArchiveIterator

    server = portal(template, START, DAYS[1], gzip=True)
    two = ("--from", START.isoformat(), "--to", DAYS[1].isoformat())
    result = crawl(server, tmp_path, dates=two)
    assert result.returncode == 0, result.stderr
    assert_complete_and_true(server, tmp_path, DAYS[:2])
    articles = load_articles(tmp_path, columns=["warc_file"]).column("warc_file").to_pylist()
    assert articles and None not in articles
    encodings = Counter()
    for path in (tmp_path / "warc").rglob("*.warc.gz"):
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "response":
                    encodings[record.http_headers.get_header("Content-Encoding")] += 1
                    record.content_stream().read()  # warcio decodes it: the stored payload is valid gzip
    assert set(encodings) == {"gzip"}  # calendars, pages, articles, as served

    before = load_articles(tmp_path).drop_columns(["crawled_at"]).sort_by("article_id")
    base_url = server.base_url
    server.stop()
    for snapshot in [*(tmp_path / "articles").rglob("*.parquet"), *(tmp_path / "pages").rglob("*.parquet")]:
        snapshot.unlink()
    result = run_epaper("reparse", "--all", "--data", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert load_articles(tmp_path).drop_columns(["crawled_at"]).sort_by("article_id").equals(before)
    assert diff_archive(tmp_path, server.truth_path, base_url, dates=DAYS[:2]) == []


# ------------------------------------------------------------------ a re-crawl never replaces with less


def warc_names(data: Path) -> set[str]:
    return {p.relative_to(data).as_posix() for p in (data / "warc").rglob("*.warc.gz")}


@pytest.mark.parametrize("where", ["front page", "other page", "every page", "article"])
def test_a_maintenance_page_never_replaces_an_archived_issue(server, clean_archive, tmp_path, where):
    """The portal answers 200 "系统维护中" in place of pages of an archived issue: the date ends
    incomplete naming the page and why, the snapshots and WARC files stay as they were."""
    data = tmp_path / "data"
    shutil.copytree(clean_archive, data)
    before = {ds: snapshot_path(data, "ahjjb", ds, START).read_bytes() for ds in DATASETS}
    warcs = warc_names(data)
    pattern = {"front page": re.escape(page(server.truth, 0, 0)) + "$",
               "other page": re.escape(page(server.truth, 0, 2)) + "$",
               "every page": r"/layout/202308/01/node_",
               "article": re.escape(article(server.truth, 0, 1, 0)) + "$"}[where]
    server.faults.append(Fault("maintenance", pattern))
    result = crawl(server, data, dates=("--date", START.isoformat()))
    assert result.returncode == 1, result.stdout
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"ahjjb {START} incomplete (previous complete snapshot kept): ")
    target = urljoin(server.base_url, article(server.truth, 0, 1, 0) if where == "article" else page(server.truth, 0, 0 if where != "other page" else 2))
    assert target in line and ("not an e-paper page" in line or where == "article")
    assert {ds: snapshot_path(data, "ahjjb", ds, START).read_bytes() for ds in DATASETS} == before
    assert warc_names(data) == warcs  # nothing deleted (the failed crawl's capture is not kept)
    assert last_run(data)["outcomes"][START.isoformat()]["status"] == "incomplete"


@pytest.mark.slow  # make test-all; tests/test_revisions.py reparses a history in make test
def test_a_complete_recrawl_adds_warc_files_and_reparse_reads_the_newest(server, clean_archive, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(clean_archive, data)
    one = ("--date", START.isoformat())
    old = warc_names(data)
    assert crawl(server, data, dates=one).returncode == 0
    new = warc_names(data) - old
    assert old < warc_names(data) and len(new) == 1  # raw captures are only ever added
    assert {p for p in old if START.isoformat() in p} and all(p in warc_names(data) for p in old)
    for ds in DATASETS:
        snapshot_path(data, "ahjjb", ds, START).unlink()
    result = run_epaper("reparse", *one, "--data", str(data))
    assert result.returncode == 0, result.stderr
    files = set(load_articles(data, start=START, end=START, columns=["warc_file"]).column("warc_file").to_pylist())
    assert files == new  # the newest capture of each URL
    assert_complete_and_true(server, data, [START])

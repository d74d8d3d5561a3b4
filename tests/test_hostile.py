"""A hostile host: the crawl listens on nothing and writes nothing outside its data directory;
the archive's files are never opened through a symlink; odd archives give one line, no
traceback (issue 13, items 7, 8 and 13)."""
from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_twisted

from epaper.replica.server import Fault, serve
from tests.conftest import CLEAN_ENV, FAST, crawl_in_process, run_epaper, slow_but

DAY = dt.date(2023, 8, 1)


@pytest.fixture(scope="module")
def server(replica_sites):
    site = replica_sites("pc-rmrb", DAY, dt.date(2023, 8, 4))  # the build test_faults uses
    with serve(site / "site") as server:
        yield server


def tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def _listening_inodes(pid: int) -> set[str]:
    """Socket inodes the process holds that are in the LISTEN state (TCP, IPv4 or IPv6)."""
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            held.add(target[8:-1])
    listening = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                listening.add(fields[9])
    return held & listening


def test_a_crawl_listens_on_nothing_and_writes_only_its_data_dir(server, tmp_path):
    home, tmp, cwd, data = (tmp_path / n for n in ("home", "tmp", "cwd", "data"))
    for folder in (home, tmp, cwd):
        folder.mkdir()
    env = {k: v for k, v in CLEAN_ENV.items() if not k.startswith("XDG_")}
    env.update(HOME=str(home), TMPDIR=str(tmp))
    # One article held back for a moment, so the crawl is surely running while it is watched.
    server.faults[:] = [Fault("slow", r"/content_.*\.html$", times=1, seconds=1.5)]
    try:
        proc = subprocess.Popen([sys.executable, "-m", "epaper", "crawl", "--date", DAY.isoformat(),
                                 "--base-url", server.base_url, "--data", str(data), *FAST],
                                cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        listened: set[str] = set()
        while proc.poll() is None:
            try:
                listened |= _listening_inodes(proc.pid)
            except OSError:  # it ended while being read
                break
            time.sleep(0.02)
        out, err = proc.communicate(timeout=120)
    finally:
        server.faults.clear()
    assert proc.returncode == 0, err
    assert server.request_count(r"/content_") > 0
    assert listened == set()
    assert (tree(home), tree(tmp), tree(cwd)) == ([], [], [])


# ------------------------------------------------------------------ every dropped request is answered


@pytest.fixture
def site_copy(replica_sites, tmp_path):
    """A copy of the replica's site (edit it freely), its truth beside it."""
    import shutil

    built = replica_sites("pc-rmrb", DAY, dt.date(2023, 8, 4))
    shutil.copytree(built / "site", tmp_path / "site")
    return tmp_path / "site"


@pytest_twisted.ensureDeferred
async def test_a_link_over_the_url_length_limit_is_named_with_its_reason(site_copy, tmp_path):
    page = site_copy / "pc/layout/202308/01/node_02.html"
    html = page.read_text(encoding="utf-8")
    (first,) = re.findall(r'href="(\.\./\.\./\.\./content/202308/01/content_\d+)\.html"', html)[:1]
    long_link = first + "x" * 2100 + ".html"
    page.write_text(html.replace(f'"{first}.html"', f'"{long_link}"'), encoding="utf-8")
    with serve(site_copy) as server:
        ledger = await crawl_in_process(tmp_path / "data", server.base_url, date=DAY.isoformat())
    result = ledger.results[DAY]
    assert result.status == "incomplete"
    (failure,) = result.failures
    assert failure["url"].endswith("x" * 2100 + ".html")
    assert "URLLENGTH_LIMIT" in failure["reason"]
    assert result.articles > 10  # every other article is archived


def test_no_spider_middleware_drops_a_request_silently():
    """The spider middlewares in the chain are reviewed ones: none drops a request the ledger
    counts (DepthMiddleware only with DEPTH_LIMIT, which the project never sets; the project's
    MediaCaptureMiddleware passes every output on and counts the requests it adds)."""
    from scrapy.settings import Settings
    from scrapy.utils.conf import build_component_list

    settings = Settings()
    settings.setmodule("epaper.crawler.settings", priority="project")
    assert settings.getint("DEPTH_LIMIT") == 0
    names = {path.rsplit(".", 1)[1] for path in build_component_list(settings.getwithbase("SPIDER_MIDDLEWARES"))}
    assert names == {"StartSpiderMiddleware", "HttpErrorMiddleware", "RefererMiddleware", "DepthMiddleware",
                     "MetaCopyDetectionMiddleware", "MediaCaptureMiddleware"}


@pytest_twisted.ensureDeferred
async def test_a_calendar_with_a_byte_order_mark_is_read(site_copy, tmp_path):
    period = site_copy / "pc/layout/202308/period.xml"
    period.write_bytes(b"\xef\xbb\xbf" + period.read_bytes())
    with serve(site_copy) as server:
        ledger = await crawl_in_process(tmp_path / "data", server.base_url, date=DAY.isoformat())
    assert ledger.results[DAY].status == "archived", ledger.results[DAY].failures


# ------------------------------------------------------------------ a re-crawl never replaces with less


def _edit(folder: Path, old: str, new: str) -> int:
    """Replace `old` by `new` in every page of the folder; how many pages changed."""
    changed = 0
    for page in folder.glob("node_*.html"):
        html = page.read_text(encoding="utf-8")
        if old in html:
            page.write_text(html.replace(old, new), encoding="utf-8")
            changed += 1
    return changed


@pytest_twisted.ensureDeferred
async def test_a_page_that_vanishes_leaves_the_date_incomplete_and_the_archive_as_it_was(site_copy, tmp_path):
    from epaper.storage.parquet import snapshot_info, snapshot_path

    data = tmp_path / "data"
    with serve(site_copy) as server:
        first = await crawl_in_process(data, server.base_url, date=DAY.isoformat())
        assert first.results[DAY].status == "archived"
        before = {ds: snapshot_path(data, "ahjjb", ds, DAY).read_bytes() for ds in ("articles", "pages")}
        # The portal no longer lists page 03 (its articles may be linked from elsewhere).
        assert _edit(site_copy / "pc/layout/202308/01", 'id="pageLink" href="node_03.html"', 'id="x" href="#"') > 1
        second = await crawl_in_process(data, server.base_url, date=DAY.isoformat())
    result = second.results[DAY]
    assert result.status == "incomplete" and result.kept_previous
    (failure,) = result.failures
    assert failure["url"].endswith("/node_03.html") and "missing from this crawl" in failure["reason"]
    assert {ds: snapshot_path(data, "ahjjb", ds, DAY).read_bytes() for ds in ("articles", "pages")} == before
    assert snapshot_info(data, "ahjjb", DAY).complete


@pytest_twisted.ensureDeferred
async def test_an_article_no_longer_linked_is_kept(site_copy, tmp_path):
    from epaper.storage.load import load_articles

    data = tmp_path / "data"
    with serve(site_copy) as server:
        first = await crawl_in_process(data, server.base_url, date=DAY.isoformat())
        ids = set(load_articles(data, columns=["article_id"]).column("article_id").to_pylist())
        pages = sorted((site_copy / "pc/layout/202308/01").glob("node_*.html"))
        link = re.search(r'href="(\.\./\.\./\.\./content/202308/01/content_\d+\.html)"',
                         pages[-1].read_text(encoding="utf-8")).group(1)
        assert _edit(site_copy / "pc/layout/202308/01", f'href="{link}"', 'href="#"') >= 1
        second = await crawl_in_process(data, server.base_url, date=DAY.isoformat())
    assert first.results[DAY].status == second.results[DAY].status == "archived"
    assert second.results[DAY].articles == first.results[DAY].articles
    assert set(load_articles(data, columns=["article_id"]).column("article_id").to_pylist()) == ids


# ------------------------------------------------------------------ sizes the archive's columns cannot hold


def test_a_page_with_more_article_links_than_a_position_can_hold_requests_its_cap():
    from scrapy.http import HtmlResponse
    from scrapy.utils.test import get_crawler

    from epaper.crawler.spiders.epaper import EpaperSpider
    from tests.conftest import project_settings

    root = "http://127.0.0.1:9/ahjjb/"
    crawler = get_crawler(EpaperSpider, settings_dict=project_settings())
    spider = crawler.spider = EpaperSpider.from_crawler(crawler, base_url=root, date=DAY.isoformat())
    links = "".join(f'<li><a href="../../../content/202308/01/content_{n}.html">{n}</a></li>' for n in range(32_770))
    body = (f'<html><body><a id="pageLink" href="node_01.html">01版：要闻</a><ul class="news-list">{links}</ul>'
            f"</body></html>").encode()
    url = root + "pc/layout/202308/01/node_01.html"
    request = spider._request(url, spider.parse_front, [DAY], guess=None, stage=1)
    request.meta["fetched_at"] = dt.datetime.now(dt.timezone.utc)
    out = list(spider._answer(HtmlResponse(url, body=body, request=request,
                                           headers={"Content-Type": "text/html; charset=utf-8"})))
    # The page row, and its first EPAPER_MAX_ARTICLES_PER_PAGE articles (positions an int16 holds).
    cap = crawler.settings.getint("EPAPER_MAX_ARTICLES_PER_PAGE")
    requests = [r for r in out if hasattr(r, "meta")]
    assert len(out) - len(requests) == 1 and len(requests) == cap <= 32_767
    assert max(r.meta["position"] for r in requests) == cap - 1
    (failure,) = spider.ledger.results[DAY].failures
    assert failure["url"] == url and "32,770 articles" in failure["reason"] and f"({cap:,})" in failure["reason"]


@pytest_twisted.ensureDeferred
async def test_a_snapshot_that_cannot_be_written_is_never_reported_archived(portal, tmp_path, monkeypatch):
    import pyarrow as pa

    from epaper.storage import parquet
    from epaper.storage.parquet import archived_dates

    def refuse(*args, **kwargs):
        raise pa.ArrowInvalid("Integer value 32770 not in range: -32768 to 32767")

    monkeypatch.setattr(parquet, "write_snapshot", refuse)
    server = portal("pc-rmrb", DAY, dt.date(2023, 8, 4))
    ledger = await crawl_in_process(tmp_path, server.base_url, date=DAY.isoformat())
    result = ledger.results[DAY]
    assert result.status == "incomplete"
    assert any("write failed" in f["reason"] and "32770" in f["reason"] for f in result.failures)
    assert (result.articles, result.pages) == (0, 0)  # nothing was written, nothing is counted
    assert archived_dates(tmp_path, "ahjjb") == []


# ------------------------------------------------------------------ symlinks and odd files in the archive


@pytest.fixture(scope="module")
def archived(server, tmp_path_factory) -> Path:
    """An archive of DAY, crawled once (copied by each test)."""
    data = tmp_path_factory.mktemp("archived") / "data"
    done = run_epaper("crawl", "--date", DAY.isoformat(), "--base-url", server.base_url, "--data", str(data), *FAST)
    assert done.returncode == 0, done.stderr
    return data


def fingerprint(root: Path) -> dict[str, bytes | str]:
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else "dir")
            for p in sorted(root.rglob("*")) if not p.is_symlink()}


def _symlink(data: Path, name: str, outside: Path) -> None:
    """Replace data/name (file or folder) by a symlink to a copy of it outside the archive."""
    import shutil

    target = outside / name.replace("/", "_")
    src = data / name
    if src.is_dir():
        shutil.copytree(src, target)
        shutil.rmtree(src)
    elif src.exists():
        shutil.copy(src, target)
        src.unlink()
    else:
        target.write_text("precious\n")
    src.parent.mkdir(parents=True, exist_ok=True)
    src.symlink_to(target)


LINKS = [  # (what is a symlink, exit status, words of the one stderr line; None: the crawl goes on)
    (".lock", 2, "symbolic link"),
    ("runs/runs.jsonl", 2, "symbolic link"),
    ("runs", 2, "symbolic link"),
    (f"articles/source=ahjjb/issue_date={DAY}/part-0.parquet", 0, None),  # read as damaged, replaced by a file
    (f"pages/source=ahjjb/issue_date={DAY}/part-0.parquet", 0, None),
    ("articles", 1, "symbolic link"),
    (f"warc/source=ahjjb/issue_date={DAY}", 1, "symbolic link"),
    ("index", 0, None),  # derived data: not saved there (a warning in the log), the crawl goes on
    ("logs", 2, "not a folder"),
]


@pytest.mark.parametrize("name, status, words", slow_but(LINKS, *(LINKS[i] for i in (0, 1, 3, 6))),
                         ids=[n for n, *_ in LINKS])
def test_a_symlink_in_the_archive_is_never_followed(server, archived, tmp_path, name, status, words):
    import shutil

    data, outside = tmp_path / "data", tmp_path / "outside"
    shutil.copytree(archived, data, symlinks=True)
    outside.mkdir()
    _symlink(data, name, outside)
    before = fingerprint(outside)
    result = run_epaper("crawl", "--date", DAY.isoformat(), "--base-url", server.base_url, "--data", str(data), *FAST)
    assert "Traceback" not in result.stderr
    assert result.returncode == status, result.stderr
    if words is not None:
        assert words in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert fingerprint(outside) == before  # nothing outside the archive written, truncated or removed
    assert (data / name).is_symlink() or status == 0  # a snapshot symlink is replaced by a real file


def test_odd_files_in_the_archive_give_one_line_not_a_traceback(archived, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(archived, data)
    (data / "runs" / "runs.jsonl").write_text("[" * 100_000 + "\n", encoding="utf-8")  # RecursionError in json
    snapshot = data / "articles" / "source=ahjjb" / f"issue_date={DAY}" / "part-0.parquet"
    snapshot.unlink()
    os.mkfifo(snapshot)  # a reader that opens it would block forever
    config = tmp_path / "epaper.toml"
    config.write_text("[schedule]\ncatchup_days = 1000000\n", encoding="utf-8")
    for as_json in ([], ["--json"]):
        result = run_epaper("status", "--data", str(data), "--config", str(config), *as_json, timeout=60)
        assert result.returncode == 1, result.stderr  # the FIFO is a damaged snapshot: unhealthy
        assert "Traceback" not in result.stderr
        assert "not a regular file" in result.stdout


@pytest.mark.parametrize("folder, words", [("runs", "not a directory"), ("logs", "not a folder")])
def test_a_folder_of_the_archive_being_a_file_is_one_line(server, archived, tmp_path, folder, words):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(archived, data)
    shutil.rmtree(data / folder, ignore_errors=True)
    (data / folder).write_text("not a folder\n")
    result = run_epaper("crawl", "--date", DAY.isoformat(), "--base-url", server.base_url, "--data", str(data), *FAST)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert folder in line and words in line


# ------------------------------------------------------------------ an article of another issue


@pytest_twisted.ensureDeferred
async def test_an_article_linked_from_another_dates_page_is_archived_once_under_its_own_date(site_copy, tmp_path):
    from epaper.storage.load import load_articles

    day2 = dt.date(2023, 8, 2)
    first = sorted((site_copy / "pc/layout/202308/01").glob("node_*.html"))[0].read_text(encoding="utf-8")
    link = re.search(r'href="\.\./\.\./\.\./content/202308/01/(content_\d+\.html)"', first).group(1)
    page = sorted((site_copy / "pc/layout/202308/02").glob("node_*.html"))[0]
    html = page.read_text(encoding="utf-8")
    other = f'<a href="../../../content/202308/01/{link}">昨日要闻</a>'
    page.write_text(html.replace("</body>", f"<ul class=\"news-list\"><li>{other}</li></ul></body>"),
                    encoding="utf-8")
    data = tmp_path / "data"
    with serve(site_copy) as server:  # two runs: within one, the dupe filter would hide the case
        first_run = await crawl_in_process(data, server.base_url, date=DAY)
        second_run = await crawl_in_process(data, server.base_url, date=day2)
    assert first_run.results[DAY].status == second_run.results[day2].status == "archived"
    rows = load_articles(data, columns=["url", "issue_date"]).to_pylist()
    linked = [r for r in rows if r["url"].endswith(link)]
    assert [r["issue_date"] for r in linked] == [DAY]
    assert len({r["url"] for r in rows}) == len(rows)  # every article once


@pytest_twisted.ensureDeferred
async def test_a_site_whose_articles_live_in_another_dates_folder_keeps_them(site_copy, tmp_path):
    """The folder is the issue date on Founder sites, but where a site breaks the convention for
    the whole day, the articles stay with the issue that links them (never an empty day)."""
    import shutil

    from epaper.storage.load import load_articles

    day2 = dt.date(2023, 8, 2)
    src, dst = site_copy / "pc/content/202308/02", site_copy / "pc/content/202308/01"
    for article in src.glob("content_*.html"):
        shutil.copy(article, dst / f"content_9{article.name[len('content_'):]}")  # new ids: no clash
    for page in (site_copy / "pc/layout/202308/02").glob("node_*.html"):
        html = page.read_text(encoding="utf-8")
        page.write_text(re.sub(r"\.\./\.\./\.\./content/202308/02/content_", "../../../content/202308/01/content_9",
                               html), encoding="utf-8")
    data = tmp_path / "data"
    with serve(site_copy) as server:
        ledger = await crawl_in_process(data, server.base_url, date=day2)
    result = ledger.results[day2]
    assert result.status == "archived" and result.articles > 0, result
    rows = load_articles(data, columns=["url"]).to_pylist()
    assert len(rows) == result.articles and all("/202308/01/content_9" in r["url"] for r in rows)

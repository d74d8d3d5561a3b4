"""Pages as printed: page PDFs, scans and article images captured into the date's WARC
(MEDIA_CAPTURE), stored once (revisits after), never making a date incomplete, and never
changing what the parse archives nor what `reparse` rebuilds."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import pytest_twisted
from scrapy.http import Request, Response
from scrapy.utils.test import get_crawler

from epaper.config import ConfigError, UsageError, load_config, own_settings, scrapy_overrides
from epaper.crawler.captures import IDENTICAL, MEDIA_HEADER, NOT_MODIFIED, _records, load_captures, warc_files
from epaper.crawler.middlewares import incompleteness
from epaper.replica.build import build_site
from epaper.replica.server import Fault, serve
from epaper.storage.load import load_articles, load_pages
from tests.conftest import CLEAN_CWD, crawl_in_process, run_epaper

DAY = dt.date(2023, 8, 3)
ALL = {"MEDIA_CAPTURE": ["pdf", "scan", "images"]}
REPLAY = {"WARC_ENABLED": False, "ROBOTSTXT_OBEY": False}
# What may differ between two crawls of the same pages: when, and the raw record it came from.
CAPTURE_FIELDS = {"crawled_at", "warc_file", "warc_record_id"}


def media_of(server) -> dict[str, str]:
    """URL -> kind of every page PDF, scan and article image of the replica's issue."""
    issue = server.truth["issues"][DAY.isoformat()]
    out = {}
    for page in issue["pages"]:
        out[server.base_url + page["pdf_url"]] = "pdf"
        out[server.base_url + page["image_url"]] = "scan"
    for row in server.truth["articles"]:
        for image in row["images"]:
            out[server.base_url + image["url"]] = "images"
    return out


def path_of(url: str) -> str:
    """The path of a portal URL below the host, as the replica records and matches it."""
    return "/" + url.split("/", 3)[3]


def gone_wrong(kind: str, url: str, **options) -> Fault:
    return Fault(kind, re.escape(path_of(url)) + "$", **options)


def records(path) -> list[tuple[str, str, str | None, str | None]]:
    """(type, URL, media kind, revisit profile) of each response or revisit record of one file."""
    return [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), r.rec_headers.get_header(MEDIA_HEADER),
             r.rec_headers.get_header("WARC-Profile")) for r in _records(path) if r.rec_type in ("response", "revisit")]


def rows(table, drop=CAPTURE_FIELDS) -> list[dict]:
    return sorted(({k: v for k, v in r.items() if k not in drop} for r in table.to_pylist()), key=lambda r: r["url"])


async def crawl(data, server, **settings):
    ledger = await crawl_in_process(data, server.base_url, settings=settings, date=DAY)
    result = ledger.results[DAY]
    assert result.status == "archived", result.failures
    return result, ledger.crawler.stats


@pytest_twisted.ensureDeferred
async def test_every_pdf_scan_and_image_is_captured_once_then_revisited(portal, tmp_path):
    server = portal("pc-rmrb", DAY, DAY)
    media = media_of(server)
    assert {"pdf", "scan", "images"} == set(media.values())
    result, stats = await crawl(tmp_path, server, **ALL)
    assert result.media_failures == []
    assert stats.get_value("epaper/media/requested") == len(media)
    assert [url for url in media if server.requests.count(path_of(url)) != 1] == []  # once each
    (first,) = warc_files(tmp_path, "ahjjb", DAY)
    stored = {url: (kind, media_kind) for kind, url, media_kind, _ in records(first) if url in media}
    assert stored == {url: ("response", kind) for url, kind in media.items()}
    captures = load_captures(tmp_path, "ahjjb", DAY)
    assert all(captures.newest(url).status == 200 and captures.newest(url).media == kind for url, kind in media.items())

    # again, unchanged: the portal answers 304, each is a revisit of the first capture
    result, stats = await crawl(tmp_path, server, **ALL)
    assert result.media_failures == [] and stats.get_value("epaper/media/captured/pdf") == len(
        [kind for kind in media.values() if kind == "pdf"])
    second = warc_files(tmp_path, "ahjjb", DAY)[-1]
    assert sorted((url, kind, profile) for kind, url, _, profile in records(second) if url in media) == sorted(
        (url, "revisit", NOT_MODIFIED) for url in media)
    # a portal without conditional answers: the same bytes again, each an identical-payload revisit
    result, _ = await crawl(tmp_path, server, CONDITIONAL_ENABLED=False, **ALL)
    assert result.media_failures == []
    third = warc_files(tmp_path, "ahjjb", DAY)[-1]
    assert sorted((url, kind, profile) for kind, url, _, profile in records(third) if url in media) == sorted(
        (url, "revisit", IDENTICAL) for url in media)
    assert third.stat().st_size < first.stat().st_size


@pytest_twisted.ensureDeferred
async def test_capture_is_off_by_default_and_off_asks_for_no_media(portal, tmp_path):
    assert own_settings()["MEDIA_CAPTURE"] == [] and load_config(None, env={}).storage.media == ()
    server = portal("pc-rmrb", DAY, DAY)
    _, stats = await crawl(tmp_path, server)
    asked = set(server.requests)
    assert not [url for url in media_of(server) if path_of(url) in asked]
    assert stats.get_value("epaper/media/requested") is None
    assert not [r for r in records(warc_files(tmp_path, "ahjjb", DAY)[0]) if r[2]]
    # one kind only: the others are not asked for
    server.requests.clear()
    await crawl(tmp_path / "pdf", server, MEDIA_CAPTURE="pdf")
    asked = set(server.requests)
    kinds = {kind for url, kind in media_of(server).items() if path_of(url) in asked}
    assert kinds == {"pdf"}


@pytest_twisted.ensureDeferred
async def test_a_media_file_that_fails_leaves_the_date_archived_and_is_reported(portal, tmp_path):
    server = portal("pc-rmrb", DAY, DAY)
    media = media_of(server)
    pdf = next(url for url, kind in media.items() if kind == "pdf")
    image = next(url for url, kind in media.items() if kind == "images")
    scan = next(url for url, kind in media.items() if kind == "scan")
    server.faults[:] = [gone_wrong("not_found", pdf), gone_wrong("status", image, status=500),
                        gone_wrong("truncate", scan)]
    result, stats = await crawl(tmp_path, server, RETRY_TIMES=1, **ALL)
    assert result.failures == []  # archived, complete
    reasons = {f["url"]: f["reason"] for f in result.media_failures}
    assert reasons == {pdf: "pdf: HTTP 404", image: "images: HTTP 500", scan: reasons[scan]}
    assert reasons[scan].startswith("scan: truncated response")
    assert stats.get_value("epaper/media/failed") == 3
    kept = {url for kind, url, media_kind, _ in records(warc_files(tmp_path, "ahjjb", DAY)[0]) if kind == "response"}
    assert scan not in kept and image not in kept  # a cut file or a 5xx is never kept
    assert set(media) - {pdf, image, scan} <= kept


def test_the_run_shows_media_not_captured(portal, tmp_path):
    """The command line: the date's line counts them, the run log lists them, exit status 0."""
    from epaper.runlog import read_runs
    from tests.conftest import FAST

    server = portal("pc-rmrb", DAY, DAY)
    pdf = next(url for url, kind in media_of(server).items() if kind == "pdf")
    server.faults[:] = [gone_wrong("not_found", pdf)]
    done = run_epaper("crawl", "--date", DAY.isoformat(), "--base-url", server.base_url, "--data", str(tmp_path),
                      *FAST, "-s", "MEDIA_CAPTURE=pdf")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(", 1 media file not captured (see the log)")
    outcome = read_runs(tmp_path)[-1]["outcomes"][DAY.isoformat()]
    assert outcome["status"] == "archived"
    assert outcome["media_failures"] == [{"url": pdf, "reason": "pdf: HTTP 404"}]
    log = next((tmp_path / "logs").glob("*.log")).read_text(encoding="utf-8")
    assert f"media (pdf) not captured: {pdf}: HTTP 404" in log


@pytest_twisted.ensureDeferred
async def test_real_sizes_are_bounded_by_media_maxsize_not_download_maxsize(tmp_path):
    """Page PDFs of 1-3 MB are captured under a DOWNLOAD_MAXSIZE (for pages) of 512 KiB;
    MEDIA_MAXSIZE bounds them instead, and one larger fails with its reason."""
    build_site(tmp_path / "replica", start=DAY, end=DAY, template="pc-rmrb", media="real")
    truth = json.loads((tmp_path / "replica" / "truth.json").read_text(encoding="utf-8"))
    with serve(tmp_path / "replica" / "site") as server:
        server.truth = truth
        media = media_of(server)
        result, _ = await crawl(tmp_path / "a", server, DOWNLOAD_MAXSIZE=512 * 1024, MEDIA_CAPTURE=["pdf"])
        assert result.media_failures == []
        (warc,) = warc_files(tmp_path / "a", "ahjjb", DAY)
        captures = load_captures(tmp_path / "a", "ahjjb", DAY)
        pdfs = [url for url, kind in media.items() if kind == "pdf"]
        assert all(captures.newest(url).media == "pdf" for url in pdfs)
        assert captures.newest(pdfs[0]).payload == b""  # never held in memory when read back
        assert warc.stat().st_size > len(pdfs) * 1_000_000  # random bytes: stored whole

        result, _ = await crawl(tmp_path / "b", server, MEDIA_CAPTURE=["pdf"], MEDIA_MAXSIZE=1_000_000)
        too_large = [f for f in result.media_failures if "larger than MEDIA_MAXSIZE (1,000,000 bytes)" in f["reason"]]
        assert too_large and len(too_large) == len(result.media_failures) <= len(pdfs)


@pytest_twisted.ensureDeferred
async def test_reparse_rebuilds_the_same_snapshots_from_a_warc_with_media(portal, tmp_path):
    server = portal("pc-rmrb", DAY, DAY)
    await crawl(tmp_path / "off", server)
    await crawl(tmp_path / "on", server, **ALL)
    articles, pages = load_articles(tmp_path / "on"), load_pages(tmp_path / "on")
    # media capture changes no row
    assert rows(articles) == rows(load_articles(tmp_path / "off"))
    assert rows(pages) == rows(load_pages(tmp_path / "off"))

    server.stop()
    result, stats = await crawl(tmp_path / "on", server, WARC_REPLAY_DIR=str(tmp_path / "on"), **REPLAY, **ALL)
    assert stats.get_value("epaper/media/requested") is None
    assert load_articles(tmp_path / "on").equals(articles)
    assert load_pages(tmp_path / "on").equals(pages)
    # and a capture without media replays as before
    await crawl(tmp_path / "off", server, WARC_REPLAY_DIR=str(tmp_path / "off"), **REPLAY, **ALL)


@pytest.mark.parametrize(("media", "ctype", "body", "length", "why"), [
    (True, b"application/pdf", b"%PDF-1.4 ...", None, None),
    (True, b"text/html", b"%PDF-1.4 ...", None, None),  # a file mislabelled: not judged as a page
    (True, b"image/jpeg", b"\xff\xd8\xff" * 10, b"300", "truncated response (30 of 300 bytes)"),
    (True, b"image/jpeg", b"", None, "empty response"),
    (False, b"text/html", b"<html><body><p>cut", None, "truncated page (no </html>)"),
    (False, b"application/pdf", b"%PDF-1.4 ...", None, None),
])
def test_a_media_file_is_judged_by_its_length_not_the_page_rule(media, ctype, body, length, why):
    request = Request("http://127.0.0.1/ahjjb/pc/attachement/x.pdf", meta={"media": "pdf"} if media else {})
    headers = {"Content-Type": ctype, **({"Content-Length": length} if length else {})}
    assert incompleteness(request, Response(request.url, body=body, headers=headers, request=request)) == why


# ------------------------------------------------------------------ configuration


def test_the_config_key_sets_the_setting_and_a_wrong_kind_is_refused(tmp_path):
    config = tmp_path / "epaper.toml"
    config.write_text('[storage]\nmedia = ["pdf", "images"]\n', encoding="utf-8")
    assert load_config(config).scrapy_settings()["MEDIA_CAPTURE"] == ["pdf", "images"]
    assert load_config(None, env={"EPAPER_STORAGE_MEDIA": "scan"}).scrapy_settings()["MEDIA_CAPTURE"] == ["scan"]
    with pytest.raises(ConfigError, match=r'"storage.media" has an unknown media kind \'sacn\''):
        load_config(None, env={"EPAPER_STORAGE_MEDIA": "pdf,sacn"})
    with pytest.raises(ConfigError, match='"storage.media" must be a list of strings'):
        load_config(None, env={}, overrides={"storage.media": 3})

    config.write_text('[storage]\nmedia = ["pdf", "sacn"]\n', encoding="utf-8")
    done = run_epaper("crawl", "--date", DAY.isoformat(), "--base-url", "http://127.0.0.1:9/", "--config", str(config),
                      "--data", str(tmp_path / "data"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"epaper: config: \"storage.media\" has an unknown media kind 'sacn' (expected pdf, scan, images) in {config}"]


def test_s_media_capture_is_checked():
    assert scrapy_overrides(["MEDIA_CAPTURE=pdf,scan", "MEDIA_MAXSIZE=1000"]) == {
        "MEDIA_CAPTURE": "pdf,scan", "MEDIA_MAXSIZE": 1000}
    assert scrapy_overrides(["MEDIA_CAPTURE="]) == {"MEDIA_CAPTURE": ""}
    with pytest.raises(UsageError, match=r"-s MEDIA_CAPTURE=pdf,pfd: unknown media kind 'pfd'"):
        scrapy_overrides(["MEDIA_CAPTURE=pdf,pfd"])
    with pytest.raises(UsageError, match="MEDIA_MAXSIZE=0: must be greater than 0"):
        scrapy_overrides(["MEDIA_MAXSIZE=0"])
    with pytest.raises(UsageError, match="below WARC_RECORD_MAXSIZE"):
        scrapy_overrides(["MEDIA_CAPTURE=pdf", "MEDIA_MAXSIZE=40000000"])
    # media off: the bound between them does not matter (a reparse may lower the record bound)
    assert scrapy_overrides(["WARC_RECORD_MAXSIZE=16777216"]) == {"WARC_RECORD_MAXSIZE": 16777216}
    done = run_epaper("crawl", "--date", DAY.isoformat(), "--base-url", "http://127.0.0.1:9/",
                      "--data", str(CLEAN_CWD / "never"), "-s", "MEDIA_CAPTURE=images,scans")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1


def test_the_middleware_refuses_a_bound_that_would_not_replay():
    from epaper.crawler.media import MediaCaptureMiddleware

    crawler = get_crawler(settings_dict={**own_settings(), **ALL, "MEDIA_MAXSIZE": 32 * 1024 * 1024})
    with pytest.raises(ValueError, match="below WARC_RECORD_MAXSIZE"):
        MediaCaptureMiddleware.from_crawler(crawler)
    crawler = get_crawler(settings_dict={**own_settings(), "MEDIA_CAPTURE": ["pdf", "photos"]})
    with pytest.raises(ValueError, match="MEDIA_CAPTURE: unknown media kind 'photos'"):
        MediaCaptureMiddleware.from_crawler(crawler)

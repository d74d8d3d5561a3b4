"""Wrong outcomes (issue 22, family 4): each case gives the outcome it is, in one clear line."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from epaper.runlog import read_runs
from tests.conftest import CLEAN_CWD, CLEAN_ENV, FAST

# An extension that holds the crawl while Scrapy builds its crawler (before Scrapy's signal
# handlers are in place) and says so in a file: the moment "early" in a crawl.
SLOW_EXTENSION = '''
import os, pathlib, time

class HoldWhileBuilding:
    @classmethod
    def from_crawler(cls, crawler):
        pathlib.Path(os.environ["HOLD_FLAG"]).write_text("holding")
        time.sleep(60)
        return cls()
'''


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.parametrize("command", ["crawl", "reparse"])
def test_a_signal_early_in_a_crawl_is_a_stop(tmp_path, portal, command, sig, status):
    day = dt.date(2023, 8, 3)
    data = tmp_path / "data"
    (tmp_path / "hold_ext.py").write_text(SLOW_EXTENSION, encoding="utf-8")
    flag = tmp_path / "holding"
    hold = ["-s", "EXTENSIONS={\"hold_ext.HoldWhileBuilding\": 0}"]
    env = {**CLEAN_ENV, "PYTHONPATH": str(tmp_path), "HOLD_FLAG": str(flag)}
    if command == "reparse":  # something to reparse: one crawl first
        server = portal("pc-rmrb", day, day)
        first = subprocess.run([sys.executable, "-m", "epaper", "crawl", "--date", day.isoformat(), "--base-url",
                                server.base_url, "--data", str(data), *FAST], cwd=CLEAN_CWD, env=CLEAN_ENV,
                               capture_output=True, text=True, timeout=240)
        assert first.returncode == 0, first.stderr
        args = ["reparse", "--date", day.isoformat(), "--data", str(data), *hold]
    else:
        args = ["crawl", "--date", day.isoformat(), "--base-url", "http://127.0.0.1:9/ahjjb/", "--data", str(data),
                *FAST, *hold]
    proc = subprocess.Popen([sys.executable, "-m", "epaper", *args], cwd=CLEAN_CWD, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while not flag.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    os.kill(proc.pid, sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert "could not run" not in err and len(err.strip().splitlines()) == 1, err
    runs = read_runs(data)
    assert runs[-1]["command"].startswith(f"epaper {command}") and runs[-1]["exit_status"] == status


@pytest.mark.parametrize("label", ["base64", "rot13", "rot-13", "hex", "zlib", "bz2", "uu", "quopri"])
@pytest.mark.parametrize("where", ["header", "meta"])
def test_a_charset_naming_a_codec_that_is_not_a_text_encoding_is_ignored(label, where):
    """bytes.decode refuses base64, rot13…: a page declaring one decodes as if it declared none."""
    from epaper.crawler.founder import decode_html, page_text

    meta = f'<meta charset="{label}">' if where == "meta" else ""
    body = f"<html><head>{meta}</head><body><p>中文报纸</p></body></html>".encode("gbk")
    header = label if where == "header" else None
    assert decode_html(body, header) == (body.decode("gb18030"), "gb18030")
    assert "中文报纸" in page_text(body, f"text/html; charset={label}" if header else "text/html")


_LAUGHS = '<!ENTITY lol "lol">' + "".join(
    f'<!ENTITY lol{i} "{("&lol;" if i == 1 else f"&lol{i - 1};") * 10}">' for i in range(1, 10))
_PERIOD = "<period><period_date>{}</period_date><front_page>node_1.htm</front_page></period>"


@pytest.mark.parametrize("body", [
    "<periodlist>&lol9;" + _PERIOD.format("2023-08-03") + _PERIOD.format("2023-08-04") + "</periodlist>",
    "<periodlist>" + _PERIOD.format("&lol9;2023-08-03") + _PERIOD.format("2023-08-04") + "</periodlist>",
])
def test_a_billion_laughs_calendar_still_lists_its_issues(body):
    """Entities declared in period.xml stopped libxml2 at their first use: the issues after it
    read as "no issue found". A calendar needs no document type: it is read without one."""
    from epaper.crawler.founder import parse_period_xml

    xml = f'<?xml version="1.0"?><!DOCTYPE lolz [{_LAUGHS}]>{body}'.encode()
    assert parse_period_xml(xml) == [(dt.date(2023, 8, 3), "node_1.htm"), (dt.date(2023, 8, 4), "node_1.htm")]


@pytest.mark.parametrize(("raw", "expected"), [
    ("<b>要闻</b>", "要闻"),
    ("<span style='x'>国际</span>&nbsp;新闻", "国际 新闻"),
    ("<i></i>", None),
    ("要闻", "要闻"),
])
def test_a_page_name_with_markup_is_stored_as_its_articles_have_it(raw, expected):
    """pages/ held the raw name while articles/ held it stripped: both now hold the same."""
    from scrapy.utils.test import get_crawler

    from epaper.crawler.items import ArticleItem, PageItem
    from epaper.pipelines.clean import CleanPipeline

    pipeline = CleanPipeline.from_crawler(get_crawler(settings_dict={}))
    now = dt.datetime.now(dt.timezone.utc)
    page = pipeline.process_item(PageItem(issue_date=dt.date(2023, 8, 3), page_no="01", page_index=0,
                                          url="http://127.0.0.1/p.htm", source="x", crawled_at=now, page_name=raw))
    article = pipeline.process_item(ArticleItem(**_article(raw, now)))
    assert page.page_name == expected == article.page_name


def _article(page_name: str, now: dt.datetime) -> dict:
    import dataclasses

    from epaper.crawler.items import ArticleItem

    defaults = {"issue_date": dt.date(2023, 8, 3), "page_no": "01", "page_name": page_name,
                "page_index": 0, "position": 0, "url": "http://127.0.0.1/a.htm", "title": "标题", "body": "正文", "source": "x", "crawled_at": now}
    names = {f.name for f in dataclasses.fields(ArticleItem)}
    return {k: v for k, v in defaults.items() if k in names}


def test_metric_labels_do_not_keep_redirect_urls(tmp_path):
    """Every redirect target made a new time series of epaper_last_run_failures."""
    from zoneinfo import ZoneInfo

    from epaper.metrics import MAX_REASONS, write_metrics
    from tests.test_metrics import run_line, samples

    failures = [{"url": f"http://127.0.0.1/{i}.htm",
                 "reason": f"page: redirected to http://127.0.0.1:{8000 + i}/x{i}.htm outside the e-paper"}
                for i in range(50)]
    failures += [{"url": f"http://127.0.0.1/k{i}", "reason": f"kind {chr(97 + i)} of failure"} for i in range(26)]
    run_line(tmp_path, "2026-11-27T00:00:00Z", 1, {"2026-11-26": {"status": "incomplete", "failures": failures}})
    path = write_metrics(tmp_path, tz=ZoneInfo("Asia/Shanghai"), window_days=7,
                         today=dt.date(2026, 11, 27))
    reasons = {labels[0][1]: v for (name, labels), v in samples(path).items() if name == "epaper_last_run_failures"}
    assert reasons["redirected to URL outside the e-paper"] == 50
    assert len(reasons) == MAX_REASONS and sum(reasons.values()) == len(failures)
    assert not any("127.0.0.1" in r for r in reasons)

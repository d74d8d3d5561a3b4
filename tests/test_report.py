"""`epaper report` on a replica archive with a gap, an incomplete date and no-issue days."""
from __future__ import annotations

import base64
import json
import datetime as dt
import re
import struct
from zoneinfo import ZoneInfo

import pytest

from epaper.replica.server import Fault, serve
from epaper.storage.load import load_articles
from tests.conftest import FAST, SPAN, run_epaper

pytest.importorskip("matplotlib")

from epaper import report  # noqa: E402  (needs matplotlib only when drawing)

INCOMPLETE = dt.date(2023, 8, 3)
RANGES = [(dt.date(2023, 7, 29), dt.date(2023, 8, 4)), (dt.date(2023, 8, 8), dt.date(2023, 8, 10))]
NEVER_CRAWLED = [dt.date(2023, 8, 5), dt.date(2023, 8, 6), dt.date(2023, 8, 7)]
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def archive(replica_sites, tmp_path_factory):
    """Two crawls with a gap between them; one article of 2023-08-03 always answers 503."""
    site = replica_sites("pc-rmrb", *SPAN)
    root = tmp_path_factory.mktemp("report")
    truth = json.loads((site / "truth.json").read_text(encoding="utf-8"))
    broken = next(a["url"] for a in truth["articles"] if a["issue_date"] == INCOMPLETE.isoformat())
    with serve(site / "site", faults=[Fault("status", re.escape(broken), status=503)]) as server:
        for start, end in RANGES:
            run_epaper("crawl", "--from", start.isoformat(), "--to", end.isoformat(),
                       "--base-url", server.base_url, "--data", str(root), *FAST, "-s", "RETRY_TIMES=1")
    return root, truth


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_days_of_the_span(archive):
    root, truth = archive
    days = report.collect(root, "ahjjb", "t", SHANGHAI).days
    assert (days[0].date, days[-1].date) == (RANGES[0][0], RANGES[-1][1])
    assert [d.date for d in days] == [RANGES[0][0] + dt.timedelta(i) for i in range(len(days))]
    state = {d.date: d.state for d in days}
    crawled = {d for d in state if d not in NEVER_CRAWLED}
    no_issue = {dt.date.fromisoformat(d) for d in truth["no_issue_dates"]} & crawled
    assert {d for d, s in state.items() if s == report.NO_ISSUE} == no_issue
    assert no_issue  # 07-29, 07-30
    assert {d for d, s in state.items() if s == report.MISSING} == set(NEVER_CRAWLED)
    assert {d for d, s in state.items() if s == report.INCOMPLETE} == {INCOMPLETE}
    assert {d for d, s in state.items() if s == report.COMPLETE} == crawled - no_issue - {INCOMPLETE}
    counts = {d.date: d.articles for d in days}
    table = load_articles(root, columns=["issue_date"])
    for day in (INCOMPLETE, dt.date(2023, 8, 1)):
        assert counts[day] == sum(1 for d in table.column("issue_date").to_pylist() if d == day) > 0
    assert "503" in next(d.note for d in days if d.state == report.INCOMPLETE)


def test_page_names_add_up(archive):
    root, truth = archive
    names = report.page_names(root, "ahjjb", RANGES[0][0], RANGES[-1][1])
    assert sum(p.articles for p in names) == load_articles(root).num_rows
    assert [p.key for p in names] == [f"#{i}" for i in range(1, len(names) + 1)]
    assert [p.articles for p in names] == sorted((p.articles for p in names), reverse=True)
    assert {p.name for p in names} <= {a["page_name"] for a in truth["articles"]}
    labels, _, _ = report._bar_labels(report.ReportData(root, "t", [], names), font=None)
    assert not any(re.search(r"[\u2e80-\u9fff\uf900-\ufaff]", label) for label in labels)  # no tofu


def test_report_png(archive, tmp_path):
    root, _ = archive
    out = tmp_path / "archive.png"
    result = run_epaper("report", "--data", str(root), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{out}: 2023-07-29 to 2023-08-10")
    assert len(result.stderr.splitlines()) <= 1  # at most the no-CJK-font note
    data = out.read_bytes()
    width, height = png_size(data)
    assert 800 <= width <= 4000 and 800 <= height <= 6000
    assert 20_000 < len(data) < 3_000_000


def test_report_html_embeds_the_png_and_lists_dates_and_names(archive, tmp_path):
    root, truth = archive
    out = tmp_path / "archive.html"
    result = run_epaper("report", "--data", str(root), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    text = out.read_text(encoding="utf-8")
    png = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', text).group(1))
    assert png_size(png)[0] >= 800
    for day in [*NEVER_CRAWLED, INCOMPLETE]:
        assert f"<td>{day}</td>" in text
    assert "要闻" in text and "安徽经济报" in text


@pytest.mark.parametrize("font", ["none", "cjk"])
def test_render_with_and_without_a_cjk_font(archive, font):
    root, _ = archive
    chosen = report.cjk_font() if font == "cjk" else None
    if font == "cjk" and chosen is None:
        pytest.skip("no CJK font on this machine (fc-list :lang=zh)")
    data = report.collect(root, "ahjjb", "test archive", SHANGHAI)
    width, height = png_size(report.render_png(data, chosen))
    assert width >= 800 and height >= 800


@pytest.mark.parametrize("args", [["--out", "archive.txt"], ["--out", "archive"], []])
def test_usage_errors(archive, tmp_path, args):
    root, _ = archive
    args = [a if not a.startswith("archive") else str(tmp_path / a) for a in args]
    result = run_epaper("report", "--data", str(root), *args)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_empty_archive_is_one_line(tmp_path):
    result = run_epaper("report", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "r.png"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"epaper report: nothing archived under {tmp_path / 'nothing'} " \
                                    "(no snapshots, no run log)"


def test_without_matplotlib(archive, tmp_path):
    root, _ = archive
    blocker = tmp_path / "block" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked for the test')\n")
    result = run_epaper("report", "--data", str(root), "--out", str(tmp_path / "r.png"),
                        env={"PYTHONPATH": str(blocker.parent)})
    assert result.returncode == 2
    assert result.stderr.strip() == "epaper report needs matplotlib: pip install 'epaper[report]'"
    assert not (tmp_path / "r.png").exists()


def test_report_span_and_the_missing_font_hint(archive, tmp_path):
    root, _ = archive
    out = tmp_path / "span.png"
    result = run_epaper("report", "--data", str(root), "--out", str(out), "--from", "2023-08-01", "--to", "2023-08-05")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{out}: 2023-08-01 to 2023-08-05")
    only_end = run_epaper("report", "--data", str(root), "--out", str(out), "--to", "2023-08-02")
    assert only_end.stdout.startswith(f"{out}: 2023-07-29 to 2023-08-02"), only_end.stderr
    if report.cjk_font() is None:  # this machine has none: the note names the package to install
        assert "apt-get install fonts-noto-cjk" in result.stderr
    backwards = run_epaper("report", "--data", str(root), "--out", str(out), "--from", "2023-08-05", "--to", "2023-08-01")
    assert backwards.returncode == 2 and "is after" in backwards.stderr

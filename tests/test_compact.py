"""The compacted per-year copy follows the snapshots: rebuilt when they change, never otherwise."""
from __future__ import annotations

import datetime as dt
import os
import shutil

import pyarrow.parquet as pq
import pytest

from epaper.storage import load
from epaper.storage.compact import compact_path, refresh
from epaper.storage.parquet import archived_dates, partition_dir, write_snapshot
from epaper.storage.load import load_articles
from tests.truth import read_snapshots

DAYS = [dt.date(2022, 12, 30), dt.date(2022, 12, 31), dt.date(2023, 1, 2), dt.date(2023, 1, 3)]
UTC = dt.timezone.utc


def article(day: dt.date, n: int, title: str = "标题") -> dict:
    return {"article_id": f"ahjjb:{day}/{n}", "page_no": "01", "page_name": "要闻", "page_pdf_url": None,
            "url": f"http://127.0.0.1/{day}/{n}.html", "column": None, "intro_title": None,
            "title": f"{title}{n}", "subtitle": None, "author": None, "body": f"{day} 第{n}篇。",
            "images": [], "content_hash": f"{n:064x}", "duplicate_of": None,
            "crawled_at": dt.datetime(2023, 1, 4, tzinfo=UTC), "source": "ahjjb", "page_index": 0,
            "position": n, "warc_file": None, "warc_record_id": None}


def page(day: dt.date) -> dict:
    return {"page_no": "01", "page_name": "要闻", "page_index": 0, "url": f"http://127.0.0.1/{day}/p.html",
            "pdf_url": None, "image_url": None, "article_count": 2,
            "crawled_at": dt.datetime(2023, 1, 4, tzinfo=UTC), "source": "ahjjb"}


def archive(root, days=DAYS) -> None:
    for day in days:
        write_snapshot(root, "ahjjb", "articles", day, [article(day, 0), article(day, 1)], {"complete": True})
        write_snapshot(root, "ahjjb", "pages", day, [page(day)], {"complete": True})


def compacted(root, year: int):
    return pq.read_table(compact_path(root, "ahjjb", "articles", year))


def assert_matches_snapshots(root) -> None:
    for year in {day.year for day in archived_dates(root, "ahjjb")}:
        expected = read_snapshots(root, start=dt.date(year, 1, 1), end=dt.date(year, 12, 31))
        got = compacted(root, year)
        assert got.column_names == ["issue_date", *expected.column_names[:-2]]  # source: in the path
        assert got.select(expected.column_names[:-2]).equals(expected.select(expected.column_names[:-2]))


def test_one_file_per_dataset_and_year_equal_to_the_snapshots(tmp_path):
    archive(tmp_path)
    written = refresh(tmp_path, "ahjjb")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        f"compact/{ds}/source=ahjjb/year={y}/part-0.parquet" for ds in ("articles", "pages") for y in (2022, 2023)]
    assert_matches_snapshots(tmp_path)
    assert pq.read_table(compact_path(tmp_path, "ahjjb", "pages", 2023)).num_rows == 2
    assert not [p for p in (tmp_path / "compact").rglob("*") if p.is_file() and p.name != "part-0.parquet"]


def test_nothing_is_rewritten_when_nothing_changed(tmp_path):
    archive(tmp_path)
    refresh(tmp_path, "ahjjb")
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "compact").rglob("*.parquet")}
    assert refresh(tmp_path, "ahjjb") == []
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "compact").rglob("*.parquet")} == before


def test_a_replaced_snapshot_rebuilds_only_its_year(tmp_path):
    archive(tmp_path)
    refresh(tmp_path, "ahjjb")
    day = DAYS[2]
    write_snapshot(tmp_path, "ahjjb", "articles", day, [article(day, n, "新标题") for n in range(3)], {"complete": True})
    assert refresh(tmp_path, "ahjjb") == [compact_path(tmp_path, "ahjjb", "articles", 2023)]
    assert_matches_snapshots(tmp_path)
    assert "新标题2" in compacted(tmp_path, 2023).column("title").to_pylist()


def test_a_snapshot_touched_in_place_is_noticed(tmp_path):
    archive(tmp_path)
    refresh(tmp_path, "ahjjb")
    path = partition_dir(tmp_path, "ahjjb", "articles", DAYS[0]) / "part-0.parquet"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert refresh(tmp_path, "ahjjb") == [compact_path(tmp_path, "ahjjb", "articles", 2022)]


def test_removed_dates_and_years_leave_the_copy(tmp_path):
    archive(tmp_path)
    refresh(tmp_path, "ahjjb")
    shutil.rmtree(partition_dir(tmp_path, "ahjjb", "articles", DAYS[3]))
    for day in DAYS[:2]:
        shutil.rmtree(partition_dir(tmp_path, "ahjjb", "articles", day))
    refresh(tmp_path, "ahjjb")
    assert not (tmp_path / "compact" / "articles" / "source=ahjjb" / "year=2022").exists()
    assert (tmp_path / "compact" / "pages" / "source=ahjjb" / "year=2022").exists()
    assert compacted(tmp_path, 2023).column("issue_date").to_pylist() == [DAYS[2]] * 2
    assert_matches_snapshots(tmp_path)


def test_a_damaged_snapshot_is_left_out_until_it_is_replaced(tmp_path):
    archive(tmp_path)
    path = partition_dir(tmp_path, "ahjjb", "articles", DAYS[2]) / "part-0.parquet"
    path.write_bytes(path.read_bytes()[:100])
    refresh(tmp_path, "ahjjb")
    assert compacted(tmp_path, 2023).column("issue_date").to_pylist() == [DAYS[3]] * 2
    archive(tmp_path, [DAYS[2]])
    refresh(tmp_path, "ahjjb")
    assert compacted(tmp_path, 2023).column("issue_date").to_pylist() == [DAYS[2]] * 2 + [DAYS[3]] * 2


def test_a_damaged_compacted_file_is_rebuilt(tmp_path):
    archive(tmp_path)
    refresh(tmp_path, "ahjjb")
    path = compact_path(tmp_path, "ahjjb", "articles", 2023)
    path.write_bytes(b"PAR1 not parquet")
    assert refresh(tmp_path, "ahjjb") == [path]
    assert_matches_snapshots(tmp_path)


def test_the_loader_reads_an_up_to_date_copy_instead_of_every_snapshot(tmp_path, monkeypatch):
    archive(tmp_path)
    refresh(tmp_path, "ahjjb")
    expected = read_snapshots(tmp_path)
    with monkeypatch.context() as m:
        m.setattr(load, "_valid_files", lambda *a: pytest.fail("read the daily snapshots"))
        assert load_articles(tmp_path).equals(expected)
        assert load_articles(tmp_path, DAYS[1], DAYS[2]).equals(read_snapshots(tmp_path, start=DAYS[1], end=DAYS[2]))
        assert load_articles(tmp_path, columns=["title"]).column(0).equals(expected.column("title"))
        assert load_articles(tmp_path, dedupe=True).num_rows == expected.num_rows


def test_the_loader_reads_the_snapshots_while_the_copy_is_behind(tmp_path):
    archive(tmp_path)
    refresh(tmp_path, "ahjjb")
    day = DAYS[3]
    write_snapshot(tmp_path, "ahjjb", "articles", day, [article(day, 0, "新标题")], {"complete": True})
    assert load_articles(tmp_path).equals(read_snapshots(tmp_path))
    assert "新标题0" in load_articles(tmp_path, DAYS[3], DAYS[3]).column("title").to_pylist()

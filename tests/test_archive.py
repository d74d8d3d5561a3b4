"""The archive's rules, one date's batch at a time, without a crawl (storage.archive).

Each case starts from what the archive holds for a date, hands it a batch as a crawl would,
and checks what the archive then holds: never a row less, corrections kept in revisions/,
removals marked, an incomplete crawl never replacing a complete snapshot, duplicates across
dates, and the item classes and the schema naming the same fields."""
from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from epaper.crawler.items import ArticleItem, PageItem
from epaper.pipelines.snapshot import HealthCheck
from epaper.pipelines import health
from epaper.storage import revisions, schema
from epaper.storage.archive import Archive, Batch, PauseAt
from epaper.storage.dedupe import content_hash
from epaper.storage.parquet import read_snapshot, snapshot_info

DAY = dt.date(2023, 8, 3)
T1 = dt.datetime(2023, 8, 3, 8, tzinfo=dt.timezone.utc)
T2 = dt.datetime(2023, 8, 10, 8, tzinfo=dt.timezone.utc)
BODIES = [f"第{i}篇文章的正文，" * (10 + i) + "完。" for i in range(6)]


def page(i: int, when: dt.datetime = T1) -> dict:
    return {"page_no": f"{i + 1:02d}", "page_name": f"版{i}", "page_index": i, "url": f"http://p/node_{i + 1}.html",
            "pdf_url": None, "image_url": None, "article_count": 0, "crawled_at": when, "source": "ahjjb"}


def article(i: int, when: dt.datetime = T1, body: str | None = None, **fields) -> dict:
    body = BODIES[i] if body is None else body
    row = {"article_id": f"a{i}", "page_no": f"{i // 3 + 1:02d}", "page_name": f"版{i // 3}", "page_pdf_url": None,
           "url": f"http://p/content_{i}.html", "column": None, "intro_title": None, "title": f"标题{i}",
           "subtitle": None, "author": None, "authors": [], "body": body, "images": [],
           "content_hash": content_hash(body), "duplicate_of": None, "crawled_at": when, "source": "ahjjb",
           "page_index": i // 3, "position": i % 3, "warc_file": None, "warc_record_id": f"r{i}-{when:%d}"}
    return {**row, **fields}


def batch(articles=range(6), pages=range(2), when=T1, day=DAY, **kw) -> Batch:
    return Batch(day, [a if isinstance(a, dict) else article(a, when) for a in articles],
                 [page(p, when) for p in pages], root_url="http://p/", **kw)


def held(root: Path, dataset: str = "articles", day: dt.date = DAY) -> dict[str, dict]:
    table = read_snapshot(root, "ahjjb", dataset, day)
    key = "article_id" if dataset == "articles" else "page_no"
    return {} if table is None else {r[key]: r for r in table.to_pylist()}


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive(tmp_path, "ahjjb", health=HealthCheck(health.Thresholds()))


def test_a_complete_date_is_written_whole(archive: Archive) -> None:
    written = archive.write(batch())
    assert (written.pages, written.articles, written.duplicates) == (2, 6, 0)
    assert [p["article_count"] for p in held(archive.root, "pages").values()] == [3, 3]
    info = snapshot_info(archive.root, "ahjjb", DAY)
    assert info.complete and info.health["articles"] == 6
    assert archive.dates() == [DAY]


@pytest.mark.parametrize("case, second, complete, kept, gone", [
    # an article the intact pages no longer link stays, marked with the newest fetch
    ("removal", dict(articles=[0, 1, 2, 3, 4]), True, 6, {"a5": T2}),
    # a page the archive holds that this crawl lacks fails the date: the snapshot stays
    ("page missing", dict(articles=[0, 1, 2], pages=[0]), False, 6, {}),
    # an incomplete crawl never replaces a complete snapshot
    ("incomplete", dict(articles=[0], failures=[{"url": "http://p/content_1.html", "reason": "HTTP 500"}]),
     False, 6, {}),
    # "no issue" for a date the archive holds is a failure, never an emptied date
    ("withdrawn", dict(articles=[], pages=[], no_issue=True), False, 6, {}),
])
def test_a_recrawl_never_loses_a_row(archive: Archive, case, second, complete, kept, gone) -> None:
    archive.write(batch())
    first = held(archive.root)
    b = batch(when=T2, **second)
    written = archive.write(b)
    assert (not b.failures) is complete, b.failures
    rows = held(archive.root)
    assert len(rows) == kept and set(first) <= set(rows)
    assert {k: r["gone_since"] for k, r in rows.items() if r["gone_since"]} == gone
    assert written.gone == len(gone)
    if not complete:
        assert written.kept_previous and rows == first  # untouched
    if case == "withdrawn":
        assert not b.no_issue and "no longer serves" in b.failures[0]["reason"]


def test_a_removed_article_found_again_is_cleared(archive: Archive) -> None:
    archive.write(batch())
    archive.write(batch(articles=[0, 1, 2, 3, 4], when=T2))
    T3 = T2 + dt.timedelta(days=1)
    archive.write(batch(when=T3))
    assert all(r["gone_since"] is None for r in held(archive.root).values())


def test_an_incomplete_date_merges_what_it_got_with_what_the_archive_holds(archive: Archive) -> None:
    failed = [{"url": "http://p/node_2.html", "reason": "HTTP 500"}]
    archive.write(batch(articles=[0, 1], pages=[0], failures=list(failed)))
    assert set(held(archive.root)) == {"a0", "a1"} and not snapshot_info(archive.root, "ahjjb", DAY).complete
    archive.write(batch(articles=[2, 3, 4, 5], pages=[1], when=T2, failures=[{"url": "x", "reason": "timeout"}]))
    assert set(held(archive.root)) == {f"a{i}" for i in range(6)}
    assert set(held(archive.root, "pages")) == {"01", "02"}
    archive.write(batch(when=T2))
    assert snapshot_info(archive.root, "ahjjb", DAY).complete


@pytest.mark.parametrize("same_raw_page, revised", [(False, 1), (True, 0)])
def test_a_correction_keeps_the_earlier_version(archive: Archive, same_raw_page: bool, revised: int) -> None:
    archive.write(batch())
    fixed = article(2, T2, body=BODIES[2] + "（更正）")
    digests = {"r2-03": "sha1:A", "r2-10": "sha1:A" if same_raw_page else "sha1:B"}
    written = archive.write(batch(articles=[0, 1, fixed, 3, 4, 5], when=T2,
                                  digest=lambda day, record_id: digests.get(record_id or "")))
    assert written.revised == revised
    assert held(archive.root)["a2"]["body"].endswith("（更正）")
    history = revisions.read_revisions(archive.root, "ahjjb", DAY)
    assert [(r["article_id"], r["changed_fields"], r["superseded_at"]) for r in history] == (
        [("a2", ["body"], T2)] if revised else [])


def test_duplicates_resolve_against_earlier_dates(archive: Archive) -> None:
    archive.write(batch())
    later = DAY + dt.timedelta(days=1)
    copy = article(0, body=BODIES[4], article_id="b0", url="http://p/b0.html")
    written = archive.write(batch(articles=[copy], pages=[0], day=later))
    assert written.duplicates == 1
    assert held(archive.root, day=later)["b0"]["duplicate_of"] == "a4"


def test_no_issue_and_nothing_found_write_nothing(archive: Archive) -> None:
    calls = []
    assert archive.write(batch(articles=[], pages=[], no_issue=True), calls.append).articles == 0
    assert archive.write(batch(articles=[], pages=[], failures=[{"url": "u", "reason": "r"}]), calls.append).pages == 0
    assert calls == [True, False] and archive.dates() == []  # the raw capture kept only for the calendar


def test_a_failed_write_leaves_the_previous_snapshot(archive: Archive) -> None:
    archive.write(batch())
    before = (archive.root / "articles" / "source=ahjjb" / f"issue_date={DAY}" / "part-0.parquet").read_bytes()
    bad = article(0, T2, position=2**20)  # int16 column
    with pytest.raises(pa.ArrowException):
        archive.write(batch(articles=[bad, 1, 2, 3, 4, 5], when=T2))
    assert (archive.root / "articles" / "source=ahjjb" / f"issue_date={DAY}" / "part-0.parquet").read_bytes() == before


def test_a_field_the_schema_lacks_is_refused_not_dropped(archive: Archive) -> None:
    with pytest.raises(ValueError, match="lede"):
        archive.write(batch(articles=[article(0, lede="导语"), 1, 2]))
    assert archive.dates() == []


def test_the_items_and_the_schema_name_the_same_fields() -> None:
    not_columns = {"source", "issue_date", "sources"}  # the partition keys; counted into health, not stored
    set_by_the_archive = {"gone_since"}
    article_fields = {f.name for f in dataclasses.fields(ArticleItem)} - not_columns
    assert article_fields == set(schema.ARTICLES.names) - set_by_the_archive
    assert {f.name for f in dataclasses.fields(PageItem)} - not_columns == set(schema.PAGES.names)


def test_pause_at_is_checked_before_a_crawl() -> None:
    with pytest.raises(ValueError):
        PauseAt("flush:1", 1)
    assert PauseAt("rename:2", 0).nth == 2


def test_a_read_error_of_the_system_fails_the_write_instead_of_replacing(archive: Archive, monkeypatch) -> None:
    """EIO or EACCES on the previous snapshot says nothing of the file: never read as damaged."""
    import errno

    from epaper.storage import parquet

    archive.write(batch())
    before = held(archive.root)

    def unreadable(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(parquet, "read_snapshot", unreadable)
    with pytest.raises(OSError):
        archive.write(batch(articles=[0, 1], when=T2))
    monkeypatch.undo()
    assert held(archive.root) == before

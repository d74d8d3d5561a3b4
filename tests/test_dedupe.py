"""DedupePipeline and DuplicateIndex: content hashes, duplicate ids, duplicate_of over the archive."""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from epaper.config import own_settings
from epaper.crawler.items import ArticleItem, PageItem
from epaper.pipelines.dedupe import DedupePipeline, DuplicateArticle
from epaper.storage import dedupe
from epaper.storage.dedupe import DuplicateIndex, content_hash, jaccard

D1, D2, D3 = dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 3)
_CJK = [chr(c) for c in range(0x4E00, 0x4E00 + 2500)] + list("，。、；：“”（）")


def text(seed: int, n: int = 1000) -> str:
    rnd = random.Random(seed)
    return "".join(rnd.choice(_CJK) for _ in range(n))


BASE = text(1)
# One ~30-character sentence replaced in a 1000-character body: Jaccard ~0.93.
EDITED = BASE[:480] + "本报记者今日获悉，该项目已于上周正式启动建设。" + BASE[510:]
BYLINE = "本报记者 张三 李四\n新华社北京1月1日电 记者从有关部门获悉，"
STOCK_A = BYLINE + text(2, 900)
STOCK_B = BYLINE + text(3, 900)
SHORT = "图片新闻：春节前夕的街头。"


def row(article_id: str, body: str, page_index: int = 0, position: int = 0) -> dict:
    return {"article_id": article_id, "body": body, "content_hash": content_hash(body),
            "page_index": page_index, "position": position}


def write_snapshot(data_dir: Path, day: dt.date, rows: list[dict]) -> Path:
    """Plain Parquet snapshot, written to a temp name and renamed as the storage layer does."""
    path = data_dir / "articles" / "source=ahjjb" / f"issue_date={day.isoformat()}" / "part-0.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({
        "article_id": pa.array([r["article_id"] for r in rows], pa.string()),
        "body": pa.array([r["body"] for r in rows], pa.string()),
        "content_hash": pa.array([content_hash(r["body"]) for r in rows], pa.string()),
        "page_index": pa.array([r["page_index"] for r in rows], pa.int16()),
        "position": pa.array([r["position"] for r in rows], pa.int16()),
        "duplicate_of": pa.array([r.get("duplicate_of") for r in rows], pa.string()),
    })
    tmp = path.with_name(".part-0.parquet.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


def crawl(index: DuplicateIndex, data_dir: Path, day: dt.date, rows: list[dict]) -> dict[str, str | None]:
    """What the snapshot pipeline does for one date: resolve, write the snapshot, commit."""
    rows = [dict(r) for r in rows]
    index.resolve(day, rows)
    write_snapshot(data_dir, day, rows)
    index.commit()
    return {r["article_id"]: r["duplicate_of"] for r in rows}


# -- pure functions ---------------------------------------------------------------------------


@given(st.text())
@settings(max_examples=200)
def test_content_hash_is_sha256_of_utf8_and_stable(body: str) -> None:
    assert content_hash(body) == hashlib.sha256(body.encode("utf-8")).hexdigest()
    assert len(content_hash(body)) == 64


@given(st.text(min_size=1), st.text(min_size=1))
def test_content_hash_differs_for_different_bodies(a: str, b: str) -> None:
    assert (content_hash(a) == content_hash(b)) == (a == b)


@given(st.text())
@settings(max_examples=100)
def test_signature_is_deterministic(body: str) -> None:
    s1, k1 = dedupe.signature(body)
    s2, k2 = dedupe.signature(str(body))
    assert (s1 == s2).all() and (k1 == k2).all()


def test_fixtures_have_the_similarity_they_claim() -> None:
    assert 0.85 < jaccard(BASE, EDITED) < 1.0
    assert jaccard(STOCK_A, STOCK_B) < 0.1


# -- duplicate_of across dates ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("earlier", "later", "flagged"),
    [
        pytest.param(BASE, BASE, True, id="exact-reprint"),
        pytest.param(BASE, EDITED, True, id="one-sentence-edited"),
        pytest.param(EDITED, BASE, True, id="one-sentence-edited-reverse"),
        pytest.param(STOCK_A, STOCK_B, False, id="shared-byline-and-stock-sentence"),
        pytest.param(BASE, text(9), False, id="unrelated"),
        pytest.param(SHORT, SHORT, True, id="short-equal"),
        pytest.param(SHORT, SHORT[:-1] + "！", False, id="short-one-char-differs"),
        pytest.param(SHORT, SHORT + BASE, False, id="short-prefix-of-long"),
        pytest.param("", "", True, id="empty-equal"),
        pytest.param(BASE[:49], BASE[:49], True, id="49-chars-equal"),
        pytest.param(BASE[:49], BASE[:48] + "。", False, id="49-chars-nearly-equal"),
        pytest.param(BASE[:300], BASE[:299] + "。", True, id="300-chars-last-char-edited"),
    ],
)
def test_duplicate_of_across_dates(tmp_path: Path, earlier: str, later: str, flagged: bool) -> None:
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    assert crawl(index, tmp_path, D1, [row("a", earlier)]) == {"a": None}
    assert crawl(index, tmp_path, D2, [row("b", later)]) == {"b": "a" if flagged else None}


def test_short_bodies_follow_min_chars(tmp_path: Path) -> None:
    body = BASE[:100]
    near = body[:99] + "。"
    index = DuplicateIndex.open(tmp_path, "ahjjb", min_chars=200)
    crawl(index, tmp_path, D1, [row("a", body)])
    assert crawl(index, tmp_path, D2, [row("b", near), row("c", body, 0, 1)]) == {"b": None, "c": "a"}


def test_earliest_is_chosen_by_date_page_position(tmp_path: Path) -> None:
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    crawl(index, tmp_path, D1, [row("d1-late", EDITED, 2, 0), row("d1-early", BASE, 1, 3)])
    got = crawl(index, tmp_path, D2, [row("d2", BASE, 0, 0)])
    assert got == {"d2": "d1-early"}


def test_within_one_date_earlier_page_and_position_win(tmp_path: Path) -> None:
    rows = [row("p1-0", BASE, 1, 0), row("p0-5", EDITED, 0, 5), row("p0-2", BASE, 0, 2), row("p2-0", text(7), 2, 0)]
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    assert crawl(index, tmp_path, D1, rows) == {"p0-2": None, "p0-5": "p0-2", "p1-0": "p0-2", "p2-0": None}


@pytest.mark.parametrize("seed", range(5))
def test_arrival_order_does_not_change_duplicate_of(tmp_path: Path, seed: int) -> None:
    rows = [row(f"a{i}", body, i // 3, i % 3) for i, body in enumerate(
        [BASE, text(11), EDITED, SHORT, text(12), BASE, SHORT, STOCK_A, STOCK_B, text(11)])]
    expected = crawl(DuplicateIndex.open(tmp_path / "ref", "ahjjb"), tmp_path / "ref", D1, rows)
    assert expected == {"a0": None, "a1": None, "a2": "a0", "a3": None, "a4": None, "a5": "a0",
                        "a6": "a3", "a7": None, "a8": None, "a9": "a1"}
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    assert crawl(DuplicateIndex.open(tmp_path / "s", "ahjjb"), tmp_path / "s", D1, shuffled) == expected


def test_recrawl_gives_no_self_duplicates_and_same_values(tmp_path: Path) -> None:
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    crawl(index, tmp_path, D1, [row("old", BASE)])
    rows = [row("x", EDITED, 0, 0), row("y", STOCK_A, 0, 1), row("z", SHORT, 1, 0)]
    first = crawl(index, tmp_path, D2, rows)
    assert first == {"x": "old", "y": None, "z": None}
    assert crawl(index, tmp_path, D2, rows) == first
    # and after a restart, and when resolve runs twice before one commit
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    assert crawl(index, tmp_path, D2, rows) == first
    again = [dict(r) for r in rows]
    index.resolve(D2, again)
    index.resolve(D2, again)
    assert {r["article_id"]: r["duplicate_of"] for r in again} == first


def test_later_archived_date_is_never_a_target(tmp_path: Path) -> None:
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    crawl(index, tmp_path, D3, [row("later", BASE)])
    assert crawl(index, tmp_path, D1, [row("earlier", EDITED)]) == {"earlier": None}
    # re-crawling the later date now points at the earlier one
    assert crawl(index, tmp_path, D3, [row("later", BASE)]) == {"later": "earlier"}
    assert crawl(index, tmp_path, D2, [row("middle", BASE)]) == {"middle": "earlier"}


def test_article_is_never_its_own_duplicate(tmp_path: Path) -> None:
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    crawl(index, tmp_path, D1, [row("same-id", BASE)])
    assert crawl(index, tmp_path, D2, [row("same-id", BASE)]) == {"same-id": None}


# -- persistence and repair -------------------------------------------------------------------


def test_restart_keeps_results_without_rereading_snapshots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    crawl(index, tmp_path, D1, [row("a", BASE), row("s", SHORT, 0, 1)])

    def no_reading(folder: Path):
        raise AssertionError(f"re-read {folder}")

    monkeypatch.setattr(dedupe, "_read_snapshot_rows", no_reading)
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    assert len(index) == 2
    rows = [row("b", EDITED), row("t", SHORT, 0, 1)]
    index.resolve(D2, rows)
    assert {r["article_id"]: r["duplicate_of"] for r in rows} == {"b": "a", "t": "s"}


def test_sidecar_lives_outside_the_parquet_globs(tmp_path: Path) -> None:
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    crawl(index, tmp_path, D1, [row("a", BASE)])
    files = [p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()]
    assert Path("index/source=ahjjb/dedupe.npz") in files
    assert not [p for p in files if p.suffix == ".parquet" and p.parts[0] != "articles"]
    assert not [p for p in files if p.name.startswith(".")]  # no temp left behind


def test_index_is_rebuilt_when_sidecar_missing(tmp_path: Path) -> None:
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    crawl(index, tmp_path, D1, [row("a", BASE)])
    (tmp_path / "index" / "source=ahjjb" / "dedupe.npz").unlink()
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    assert crawl(index, tmp_path, D2, [row("b", BASE)]) == {"b": "a"}


@pytest.mark.parametrize("garbage", [b"", b"not an npz at all", b"PK\x03\x04" + b"\0" * 100])
def test_corrupt_sidecar_is_rebuilt_with_a_warning(tmp_path: Path, caplog, garbage: bytes) -> None:
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    crawl(index, tmp_path, D1, [row("a", BASE)])
    (tmp_path / "index" / "source=ahjjb" / "dedupe.npz").write_bytes(garbage)
    with caplog.at_level(logging.WARNING, logger="epaper.storage.dedupe"):
        index = DuplicateIndex.open(tmp_path, "ahjjb")
    assert "sidecar" in caplog.text
    assert crawl(index, tmp_path, D2, [row("b", BASE)]) == {"b": "a"}


def test_snapshot_replaced_behind_the_index_is_reindexed(tmp_path: Path) -> None:
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    crawl(index, tmp_path, D1, [row("a", BASE)])
    write_snapshot(tmp_path, D1, [row("a2", STOCK_A)])  # e.g. a reparse by another process
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    assert crawl(index, tmp_path, D2, [row("b", BASE, 0, 0), row("c", STOCK_A, 0, 1)]) == {"b": None, "c": "a2"}


def test_snapshot_removed_behind_the_index_is_forgotten(tmp_path: Path) -> None:
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    crawl(index, tmp_path, D1, [row("a", BASE)])
    (tmp_path / "articles" / "source=ahjjb" / f"issue_date={D1}" / "part-0.parquet").unlink()
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    assert crawl(index, tmp_path, D2, [row("b", BASE)]) == {"b": None}


def test_crash_between_snapshot_write_and_commit(tmp_path: Path) -> None:
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    crawl(index, tmp_path, D1, [row("a", BASE)])
    rows = [row("b", text(5))]
    index.resolve(D2, rows)
    write_snapshot(tmp_path, D2, rows)  # ...and the process dies before commit()
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    assert crawl(index, tmp_path, D3, [row("c", text(5)), row("d", BASE, 0, 1)]) == {"c": "b", "d": "a"}


def test_commit_without_snapshot_keeps_the_archive_view(tmp_path: Path) -> None:
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    crawl(index, tmp_path, D1, [row("a", BASE)])
    index.resolve(D1, [row("never-written", STOCK_A)])  # snapshot write failed
    index.commit()
    assert crawl(index, tmp_path, D2, [row("b", BASE), row("c", STOCK_A, 0, 1)]) == {"b": "a", "c": None}


@pytest.mark.parametrize("content", [b"", b"garbage, not parquet", b"PAR1" + b"\0" * 64, "truncated"])
def test_invalid_snapshot_is_ignored_with_a_warning(tmp_path: Path, caplog, content) -> None:
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    crawl(index, tmp_path, D1, [row("a", BASE)])
    bad = tmp_path / "articles" / "source=ahjjb" / f"issue_date={D2}" / "part-0.parquet"
    good = write_snapshot(tmp_path, D2, [row("x", STOCK_A)])
    if content == "truncated":
        data = good.read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    else:
        bad.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="epaper.storage.dedupe"):
        index = DuplicateIndex.open(tmp_path, "ahjjb")
    assert str(bad) in caplog.text
    assert crawl(index, tmp_path, D3, [row("b", BASE), row("c", STOCK_A, 0, 1)]) == {"b": "a", "c": None}


def test_snapshot_without_needed_columns_is_ignored(tmp_path: Path, caplog) -> None:
    path = tmp_path / "articles" / "source=ahjjb" / f"issue_date={D1}" / "part-0.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table({"article_id": ["a"]}), path)
    with caplog.at_level(logging.WARNING, logger="epaper.storage.dedupe"):
        index = DuplicateIndex.open(tmp_path, "ahjjb")
    assert "ignoring" in caplog.text and len(index) == 0


def test_changed_settings_rebuild_the_index(tmp_path: Path) -> None:
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    crawl(index, tmp_path, D1, [row("a", BASE[:100])])
    index = DuplicateIndex.open(tmp_path, "ahjjb", min_chars=200)  # BASE[:100] is now short: exact only
    assert crawl(index, tmp_path, D2, [row("b", BASE[:99] + "。"), row("c", BASE[:100], 0, 1)]) == {"b": None, "c": "a"}


@pytest.mark.parametrize("kwargs", [{"shingle_size": 0}, {"threshold": 0.0}, {"threshold": 1.5}, {"min_chars": -1}])
def test_bad_settings_are_refused(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        DuplicateIndex.open(tmp_path, "ahjjb", **kwargs)


# -- the pipeline shell -----------------------------------------------------------------------


def article(article_id: str, body: str) -> ArticleItem:
    return ArticleItem(issue_date=D1, url=f"http://127.0.0.1/{article_id}.htm", page_no="01", page_index=0,
                       position=0, source="test", crawled_at=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
                       title="t", body=body, article_id=article_id)


def make_pipeline(settings: dict | None = None) -> DedupePipeline:
    crawler = get_crawler(settings_dict={**own_settings(), **(settings or {})})  # defaults: crawler/settings.py
    crawler.stats.open_spider()
    return DedupePipeline.from_crawler(crawler)


def test_pipeline_sets_content_hash_and_drops_repeated_ids() -> None:
    pipe = make_pipeline()
    first = pipe.process_item(article("a", BASE))
    assert first.content_hash == content_hash(BASE)
    assert pipe.process_item(article("b", BASE)).content_hash == first.content_hash
    with pytest.raises(DuplicateArticle):
        pipe.process_item(article("a", EDITED))
    assert issubclass(DuplicateArticle, DropItem)
    assert pipe.crawler.stats.get_value("epaper/dropped/duplicate_id") == 1


def test_pipeline_passes_pages_and_hashes_articles() -> None:
    pipe = make_pipeline()
    stamp = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    page = PageItem(issue_date=D1, page_no="01", page_index=0, url="http://127.0.0.1/p.htm", source="t",
                    crawled_at=stamp)
    assert pipe.process_item(page) is page and not hasattr(page, "content_hash")
    article = ArticleItem(issue_date=D1, url="http://127.0.0.1/a.htm", page_no="01", page_index=0, position=0,
                          source="t", crawled_at=stamp, article_id="d", body=SHORT)
    assert pipe.process_item(article).content_hash == content_hash(SHORT)


def test_a_bad_setting_stops_the_crawl_before_it_starts(tmp_path: Path) -> None:
    from epaper.pipelines.snapshot import SnapshotPipeline

    crawler = get_crawler(settings_dict={**own_settings(), "SNAPSHOT_DIR": str(tmp_path), "DEDUPE_THRESHOLD": "2"})
    with pytest.raises(ValueError):
        SnapshotPipeline.from_crawler(crawler)


def test_lookup_verifies_only_band_candidates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = DuplicateIndex.open(tmp_path, "ahjjb")
    crawl(index, tmp_path, D1, [row(f"a{i}", text(100 + i, 200), i // 50, i % 50) for i in range(600)])
    index = DuplicateIndex.open(tmp_path, "ahjjb")  # everything in the compacted base
    verified: list[int] = []
    real = dedupe.matches

    def counting(sigs, sig):
        verified.append(len(sigs) if sigs.ndim == 2 else 1)
        return real(sigs, sig)

    monkeypatch.setattr(dedupe, "matches", counting)
    rows = [row("new", text(99, 200)), row("copy", text(150, 200), 0, 1)]
    index.resolve(D2, rows)
    assert [r["duplicate_of"] for r in rows] == [None, "a50"]
    assert sum(verified) < 20  # of 600 archived

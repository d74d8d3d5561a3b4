"""End to end: the real `epaper crawl` over the replica portal, every field against its truth."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from epaper.replica.build import TEMPLATES
from epaper.storage.parquet import load_articles, load_pages
from tests.conftest import FAST, SPAN, run_epaper
from tests.truth import diff_archive

SEED = json.loads((Path(__file__).parent.parent / "replica" / "seed-article.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_crawl_matches_truth_for_every_template(portal, tmp_path, template):
    server = portal(template)
    result = run_epaper("crawl", "--from", SPAN[0].isoformat(), "--to", SPAN[1].isoformat(),
                        "--base-url", server.base_url, "--data", str(tmp_path), *FAST)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == (SPAN[1] - SPAN[0]).days + 1  # one summary line per date, nothing else
    assert sum(line.endswith("no issue") for line in lines) == len(server.truth["no_issue_dates"])
    assert diff_archive(tmp_path, server.truth_path, server.base_url) == []


def test_seed_article_exact(portal, tmp_path):
    server = portal("pc-rmrb", dt.date(2023, 8, 3), dt.date(2023, 8, 3))
    result = run_epaper("crawl", "--date", "2023-08-03", "--base-url", server.base_url, "--data", str(tmp_path), *FAST)
    assert result.returncode == 0, result.stderr
    rows = [r for r in load_articles(tmp_path).to_pylist() if r["title"] == SEED["title"]]
    assert len(rows) == 1
    seed = rows[0]
    assert seed["body"] == "\n".join(SEED["paragraphs"])
    assert len(seed["body"].split("\n")) == 68
    assert (seed["column"], seed["subtitle"]) == (SEED["column"], SEED["subtitle"])
    assert seed["issue_date"] == dt.date(2023, 8, 3)


def test_recrawl_keeps_ids_and_duplicates(portal, tmp_path):
    server = portal()
    # 07-03 holds the originals of the replica's reprint (07-20) and near-duplicate (08-03)
    args = ("crawl", "--from", "2023-07-03", "--to", "2023-07-21", "--base-url", server.base_url,
            "--data", str(tmp_path), *FAST)
    assert run_epaper(*args).returncode == 0
    cols = ["article_id", "url", "duplicate_of", "content_hash", "body", "title"]
    first = load_articles(tmp_path, columns=cols).sort_by("article_id")
    assert run_epaper(*args).returncode == 0
    second = load_articles(tmp_path, columns=cols).sort_by("article_id")
    assert first.equals(second)
    assert first.column("duplicate_of").null_count < first.num_rows  # the reprints are flagged


def test_archive_layout_and_types(portal, tmp_path):
    server = portal("pc-rmrb", dt.date(2023, 8, 1), dt.date(2023, 8, 7))
    assert run_epaper("crawl", "--from", "2023-08-01", "--to", "2023-08-07", "--base-url", server.base_url,
                      "--data", str(tmp_path), *FAST).returncode == 0
    files = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "articles").rglob("*") if p.is_file())
    issue_dates = sorted(server.truth["issues"])
    assert files == ["articles/_common_metadata"] + [f"articles/issue_date={d}/part-0.parquet" for d in issue_dates]
    schema = pq.read_schema(tmp_path / "articles" / f"issue_date={issue_dates[0]}" / "part-0.parquet")
    assert "issue_date" not in schema.names
    assert str(schema.field("crawled_at").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("images").type) == "list<element: struct<url: string, caption: string>>"
    table = load_articles(tmp_path)
    assert str(table.schema.field("issue_date").type) == "date32[day]"
    pages = load_pages(tmp_path)
    assert {"issue_date", "page_no", "page_name", "url", "pdf_url", "image_url", "article_count"} <= set(pages.schema.names)
    assert sum(pages.column("article_count").to_pylist()) == table.num_rows
    duckdb = pytest.importorskip("duckdb")
    glob = (tmp_path / "articles" / "**" / "*.parquet").as_posix()
    n, kind = duckdb.connect().execute(f"SELECT count(*), any_value(typeof(issue_date)) FROM "
                         f"read_parquet('{glob}', hive_partitioning=true)").fetchone()
    assert (n, kind) == (table.num_rows, "DATE")

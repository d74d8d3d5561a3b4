"""End to end: the spider and pipelines over the replica portal, every field against its truth.

The crawls run in this process (the CLI's own contract is tests/test_cli.py's), over a short
span dense in the replica's quirks."""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import pytest_twisted

from epaper.replica.build import TEMPLATES
from epaper.storage.load import load_articles, load_pages
from tests.conftest import FAST, SHORT_SPAN, SPAN, crawl_in_process, run_epaper, slow_but
from tests.truth import diff_archive

SEED = json.loads((Path(__file__).parent.parent / "replica" / "seed-article.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("span", [SHORT_SPAN, pytest.param(SPAN, marks=pytest.mark.slow, id="62-days")])
# make test: the two classic generations and two templates of a variant the parser learnt last
# (the others: make test-all; tests/test_papers.py crawls pc-rmrb and html-table besides)
@pytest.mark.parametrize("template", slow_but(sorted(TEMPLATES), "pc-rmrb", "html-table", "html-kjjrsb", "pc-ahnc"))
@pytest_twisted.ensureDeferred
async def test_crawl_matches_truth_for_every_template(portal, tmp_path, template, span):
    server = portal(template, *span)
    ledger = await crawl_in_process(tmp_path, server.base_url, start=span[0], end=span[1])
    statuses = {d.isoformat(): r.status for d, r in ledger.results.items()}
    assert statuses == {**{d: "archived" for d in server.truth["issues"]},
                        **{d: "no_issue" for d in server.truth["no_issue_dates"]}}
    assert all(not r.failures for r in ledger.results.values())
    assert diff_archive(tmp_path, server.truth_path, server.base_url) == []
    # the minimum request count: each page and each article once (a ?div= twin, a box link or a
    # second link to an article costs no request)
    truth_pages = [p for issue in server.truth["issues"].values() for p in issue["pages"]]
    site = server.truth_path.parent / "site"
    asked = [p[len(server.truth["root_path"]):] for p in server.requests if re.search(r"/(node_|nbs\.)[^/]*$", p)]
    missing = [p for p in asked if not (site / p).is_file()]
    assert len(asked) - len(missing) == len(truth_pages)
    # a site without calendars: one look, under the site's own front-page name, per day without an issue
    calendars = any(site.rglob("*.xml"))
    assert len(missing) == (0 if calendars else len(server.truth["no_issue_dates"]))
    assert server.request_count(r"/(content_|c\d+\.html|nw\.)[^/]*$") == len(server.truth["articles"])


def test_the_command_line_prints_one_line_per_date(portal, tmp_path):
    server = portal("pc-rmrb", *SHORT_SPAN)
    result = run_epaper("crawl", "--from", SHORT_SPAN[0].isoformat(), "--to", SHORT_SPAN[1].isoformat(),
                        "--base-url", server.base_url, "--data", str(tmp_path), *FAST)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == (SHORT_SPAN[1] - SHORT_SPAN[0]).days + 1  # one summary line per date, nothing else
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


@pytest_twisted.ensureDeferred
async def test_recrawl_keeps_ids_and_duplicates(portal, tmp_path):
    server = portal("pc-rmrb", *SHORT_SPAN)
    # the first issue holds the originals of the replica's reprint and near-duplicate
    span = {"start": SHORT_SPAN[0], "end": SHORT_SPAN[1]}
    await crawl_in_process(tmp_path, server.base_url, **span)
    cols = ["article_id", "url", "duplicate_of", "content_hash", "body", "title"]
    first = load_articles(tmp_path, columns=cols).sort_by("article_id")
    await crawl_in_process(tmp_path, server.base_url, **span)
    second = load_articles(tmp_path, columns=cols).sort_by("article_id")
    assert first.equals(second)
    assert first.column("duplicate_of").null_count < first.num_rows  # the reprints are flagged


@pytest_twisted.ensureDeferred
async def test_archive_layout_and_types(portal, tmp_path):
    server = portal("pc-rmrb", dt.date(2023, 8, 1), dt.date(2023, 8, 7))
    await crawl_in_process(tmp_path, server.base_url, start=dt.date(2023, 8, 1), end=dt.date(2023, 8, 7))
    files = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "articles").rglob("*") if p.is_file())
    issue_dates = sorted(server.truth["issues"])
    assert files == [f"articles/source=ahjjb/issue_date={d}/part-0.parquet" for d in issue_dates]
    schema = pq.read_schema(tmp_path / "articles" / "source=ahjjb" / f"issue_date={issue_dates[0]}" / "part-0.parquet")
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

"""Several papers in one archive, through the public commands: one `epaper crawl` over four
papers (two with the same pages under two ids, one of the other generation, one unreachable),
then `status`, the loaders, the run log and the metrics."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from epaper.replica.papers import PaperPlan, plan_papers, portal_tables, serve_papers
from epaper.storage.load import load_articles, load_pages
from epaper.storage.runs import read_runs
from tests.conftest import FAST, run_epaper

START, END = dt.date(2023, 8, 1), dt.date(2023, 8, 2)
AHJJB, OTHER = plan_papers(2)
# The same site as ahjjb (template and seed) under another id: every body equal to one of ahjjb's.
TWIN = PaperPlan("twin", "孪生报", AHJJB.template, AHJJB.seed)
BROKEN = '\n[[portal]]\nid = "broken"\nname = "nothing there"\nbase_url = "http://127.0.0.1:9/none/"\n'
GOOD = (AHJJB.id, TWIN.id, OTHER.id)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("papers")
    data = work / "data"
    with serve_papers(work / "sites", [AHJJB, TWIN, OTHER], start=START, end=END) as papers:
        config = work / "epaper.toml"
        config.write_text(portal_tables(papers) + BROKEN, encoding="utf-8")
        crawl = run_epaper("crawl", "--config", str(config), "--from", START.isoformat(), "--to", END.isoformat(),
                           "--data", str(data), *FAST)
        yield SimpleNamespace(papers={p.id: p for p in papers}, data=data, config=config, crawl=crawl)


def test_every_paper_is_crawled_and_one_failure_stops_no_other(run):
    assert run.crawl.returncode == 1, run.crawl.stderr  # the worst of the papers': broken failed
    lines = run.crawl.stdout.splitlines()
    assert sorted(line.split(" ")[:2] for line in lines) == sorted(
        [source, day.isoformat()] for source in GOOD for day in (START, END))
    assert all(" archived: " in line for line in lines)
    errors = run.crawl.stderr.splitlines()
    assert [line.split(" ")[:3] for line in errors] == [["broken", START.isoformat(), "failed:"],
                                                         ["broken", END.isoformat(), "failed:"]]


def test_each_paper_holds_exactly_its_own_portal(run):
    for source, paper in run.papers.items():
        table = load_articles(run.data, columns=["source", "issue_date", "url"], sources=[source])
        assert set(table.column("source").to_pylist()) == {source}
        got = sorted((d.isoformat(), url) for d, url in zip(table.column("issue_date").to_pylist(),
                                                             table.column("url").to_pylist()))
        assert got == sorted((a["issue_date"], paper.base_url + a["url"]) for a in paper.truth["articles"]), source
    everything = load_articles(run.data, columns=["source"])
    assert everything.column("source").type == "string"
    assert sorted(set(everything.column("source").to_pylist())) == sorted(GOOD)
    assert set(load_pages(run.data, columns=["source"], sources=[OTHER.id]).column("source").to_pylist()) == {OTHER.id}


def test_duplicates_never_link_two_papers(run):
    columns = ["article_id", "duplicate_of", "url"]
    ahjjb, twin = (load_articles(run.data, columns=columns, sources=[s]).to_pylist() for s in (AHJJB.id, TWIN.id))
    assert len(ahjjb) == len(twin) and {r["article_id"] for r in ahjjb}.isdisjoint(r["article_id"] for r in twin)
    own = {r["article_id"] for r in twin}
    assert all(r["duplicate_of"] in own for r in twin if r["duplicate_of"])
    # the same pages: the same duplicates within each paper, none across
    assert sum(bool(r["duplicate_of"]) for r in twin) == sum(bool(r["duplicate_of"]) for r in ahjjb)


def test_status_names_each_paper_and_source_picks_them(run):
    rows = json.loads(run_epaper("status", "--config", str(run.config), "--data", str(run.data), "--json").stdout)
    assert {(r["source"], r["date"]) for r in rows} == {(s, d.isoformat()) for s in GOOD for d in (START, END)}
    picked = run_epaper("status", "--config", str(run.config), "--data", str(run.data), "--json", "--source", TWIN.id)
    assert {r["source"] for r in json.loads(picked.stdout)} == {TWIN.id}
    unknown = run_epaper("status", "--config", str(run.config), "--data", str(run.data), "--source", "nope")
    assert unknown.returncode == 2 and len(unknown.stderr.splitlines()) == 1 and "nope" in unknown.stderr


def test_the_run_log_and_the_metrics_name_each_paper(run):
    runs = read_runs(run.data)
    assert sorted(r["source"] for r in runs) == sorted([*GOOD, "broken"])
    assert {r["source"]: r["exit_status"] for r in runs} == {**{s: 0 for s in GOOD}, "broken": 1}
    metrics = (run.data / "metrics" / "epaper.prom").read_text()
    for source in (*GOOD, "broken"):
        assert f'epaper_last_run_exit_status{{source="{source}"}}' in metrics


def test_base_url_applies_to_one_paper_only(run, tmp_path):
    several = run_epaper("crawl", "--config", str(run.config), "--date", START.isoformat(), "--data", str(tmp_path),
                         "--base-url", "http://127.0.0.1:9/x/")
    assert several.returncode == 2 and len(several.stderr.splitlines()) == 1 and "--source" in several.stderr
    assert not any(Path(tmp_path).iterdir())  # nothing touched


@pytest.mark.slow  # make test-all: a reparse of four papers
def test_reparse_rebuilds_every_paper_and_says_which_it_cannot(run):
    before = load_articles(run.data, columns=["source", "article_id", "title", "body", "duplicate_of"])
    again = run_epaper("reparse", "--all", "--config", str(run.config), "--data", str(run.data))
    assert again.returncode == 0, again.stderr
    assert sorted(line.split(" ")[0] for line in again.stdout.splitlines()) == sorted(
        source for source in GOOD for _ in (START, END))
    assert again.stderr.splitlines() == [f"epaper: broken: not reparsed: no WARC files of broken under "
                                         f"{run.data / 'warc'}"]
    after = load_articles(run.data, columns=["source", "article_id", "title", "body", "duplicate_of"])
    assert sorted(after.to_pylist(), key=str) == sorted(before.to_pylist(), key=str)

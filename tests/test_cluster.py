"""`epaper cluster` (epaper/cluster.py): the plan (which job goes to which node) without
servers, then two scrapyd nodes on 127.0.0.1 crawling two replica papers into one archive,
which must equal a one-machine `epaper crawl` of the same dates."""
from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from epaper.cluster import Job, assign, backfill_jobs, build_egg, job_from_cli, job_lines
from epaper.replica.papers import plan_papers, portal_tables, serve_papers
from epaper.storage.parquet import archived_dates, snapshot_path
from tests.conftest import run_epaper, scrapyd_node

D = dt.date.fromisoformat


# ------------------------------------------------------------------ the plan, without servers


def test_a_backfill_is_split_by_paper_and_month():
    jobs = backfill_jobs(["aaa", "bbb"], D("2023-07-30"), D("2023-09-01"))
    assert [j.label for j in jobs["aaa"]] == ["2023-07-30..2023-07-31", "2023-08-01..2023-08-31", "2023-09-01"]
    assert [dict(j.args) for j in jobs["bbb"]][-1] == {"date": "2023-09-01"}
    assert all(j.source == "bbb" for j in jobs["bbb"])


def test_each_paper_goes_to_the_least_loaded_node_most_days_first():
    def days(source: str, n: int) -> list[Job]:
        return [Job(source, (("start", "2023-08-01"), ("end", f"2023-08-{n:02d}")))]

    jobs = {"aaa": days("aaa", 3), "bbb": days("bbb", 20), "ccc": days("ccc", 10), "ddd": days("ddd", 9),
            "eee": []}
    nodes = ["http://n1:6800/", "http://n2:6800/"]
    assert assign(jobs, nodes) == {"aaa": "http://n2:6800/", "bbb": "http://n1:6800/",
                                   "ccc": "http://n2:6800/", "ddd": "http://n2:6800/"}
    assert assign(jobs, nodes[:1]) == {s: nodes[0] for s in ("aaa", "bbb", "ccc", "ddd")}


def test_the_update_children_become_jobs():
    assert dict(job_from_cli("x", ["--from", "2023-08-01", "--to", "2023-08-03", "--quiet"]).args) == \
        {"start": "2023-08-01", "end": "2023-08-03"}
    assert job_from_cli("x", ["--date", "2023-08-01"]).label == "2023-08-01"
    assert job_from_cli("x", ["--latest"]).label == "latest"


def test_the_egg_holds_every_package_and_names_the_settings():
    egg = zipfile.ZipFile(io.BytesIO(build_egg("1")))
    names = set(egg.namelist())
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    import tomllib

    for package in tomllib.loads(pyproject)["tool"]["setuptools"]["packages"]:
        assert package.replace(".", "/") + "/__init__.py" in names, package
    assert "epaper/crawler/spiders/epaper.py" in names and "epaper/replica/seed-article.json" in names
    assert egg.read("EGG-INFO/entry_points.txt").decode().split() == ["[scrapy]", "settings", "=",
                                                                      "epaper.crawler.settings"]


def test_a_job_s_outcome_is_its_run_log_line(tmp_path):
    from epaper.runlog import _append_line, runs_path

    _append_line(runs_path(tmp_path), {"run_id": "r1", "command": "scrapy crawl epaper -a _job=abc -a source=x",
                                       "exit_status": 0})
    _append_line(runs_path(tmp_path), {"run_id": "r2", "command": "scrapy crawl epaper -a _job=abcd", "exit_status": 1})
    assert {k: v["run_id"] for k, v in job_lines(tmp_path, ["abc", "zzz"]).items()} == {"abc": "r1"}


def test_no_node_is_one_line(tmp_path):
    result = run_epaper("cluster", "status", "--node", "ftp://x", "--data", str(tmp_path))
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0 and "http(s) URL" in result.stderr
    result = run_epaper("cluster", "status", "--node", "http://127.0.0.1:9/", "--data", str(tmp_path))
    assert result.returncode == 2 and "cannot reach the node" in result.stderr, result.stderr


# ------------------------------------------------------------------ two scrapyd nodes


def _articles(data: Path, source: str, day: dt.date) -> list[dict]:
    skip = {"crawled_at", "warc_file", "warc_record_id"}
    rows = pq.read_table(snapshot_path(data, source, "articles", day)).to_pylist()
    return sorted(({k: v for k, v in r.items() if k not in skip} for r in rows), key=lambda r: r["article_id"])


pytest.importorskip("scrapyd")


@pytest.mark.slow
def test_two_scrapyd_nodes_archive_what_one_machine_does(tmp_path):
    first, last = D("2023-07-31"), D("2023-08-02")  # over a month's end: two jobs a paper
    days = [first + dt.timedelta(i) for i in range((last - first).days + 1)]
    shared, alone = tmp_path / "shared", tmp_path / "alone"
    with serve_papers(tmp_path / "sites", plan_papers(2), start=first, end=last) as papers, \
            scrapyd_node(tmp_path / "node1") as n1, scrapyd_node(tmp_path / "node2") as n2:
        config = tmp_path / "epaper.toml"
        config.write_text(portal_tables(papers, download_delay=0, concurrency=16, autothrottle=False)
                          + f'\n[storage]\ndata_dir = "{shared}"\n', encoding="utf-8")
        deployed = run_epaper("cluster", "deploy", "--node", n1, "--node", n2, "--version", "r1")
        assert deployed.returncode == 0, deployed.stderr
        assert deployed.stdout.count("version r1") == 2 and "spiders)" in deployed.stdout
        spread = run_epaper("cluster", "backfill", "--node", n1, "--node", n2, "--config", str(config),
                            "--from", first.isoformat(), "--to", last.isoformat(), "--json", "--poll", "0.3",
                            "--timeout", "200")
        assert spread.returncode == 0, spread.stdout + spread.stderr
        jobs = [json.loads(line) for line in spread.stdout.splitlines()]
        a, b = (p.id for p in papers)
        assert {(j["source"], j["node"]) for j in jobs} == {(a, n1), (b, n2)}  # one paper a node
        assert len(jobs) == 4 and all(j["state"] == "finished" and j["exit_status"] == 0 and j["run_id"] for j in jobs)
        status = run_epaper("cluster", "status", "--node", n1, "--node", n2, "--config", str(config), "--json")
        assert status.returncode == 0, status.stderr
        seen = {j["jobid"]: j for j in map(json.loads, status.stdout.splitlines())}
        assert {j["jobid"] for j in jobs} <= set(seen)
        assert {seen[j["jobid"]]["source"] for j in jobs} == {a, b}

        one = run_epaper("crawl", "--config", str(config), "--data", str(alone),
                         "--from", first.isoformat(), "--to", last.isoformat())
        assert one.returncode == 0, one.stderr
    for p in papers:
        assert archived_dates(shared, p.id) == archived_dates(alone, p.id) == days
        for day in days:
            assert _articles(shared, p.id, day) == _articles(alone, p.id, day), (p.id, day)


def test_an_update_is_each_paper_s_scheduled_children_as_jobs(tmp_path):
    from epaper.cluster import update_jobs
    from epaper.config import load_config

    config = tmp_path / "epaper.toml"
    config.write_text('[[portal]]\nid = "aaa"\nname = "A"\nbase_url = "http://127.0.0.1:9/a/"\n'
                      '[[portal]]\nid = "bbb"\nname = "B"\nbase_url = "http://127.0.0.1:9/b/"\n'
                      "[schedule]\ncatchup_days = 3\n", encoding="utf-8")
    jobs = update_jobs(load_config(config, env={}), tmp_path / "data", today=D("2026-11-27"))
    assert {s: [j.label for j in js] for s, js in jobs.items()} == {
        "aaa": ["2026-11-25..2026-11-27", "latest"], "bbb": ["2026-11-25..2026-11-27", "latest"]}

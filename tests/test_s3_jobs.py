"""`scrapy crawl epaper` (and so a scrapyd job) into an s3:// archive does what `epaper crawl`
does there (epaper.addon.working_copy, epaper.runext): against moto's server mode on
127.0.0.1, then two scrapyd nodes on 127.0.0.1 backfilling two replica papers into it
(`epaper cluster backfill`), equal to a one-machine run."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto.server")

from epaper.replica.papers import plan_papers, portal_tables, serve_papers  # noqa: E402
from tests.conftest import CLEAN_CWD, CLEAN_ENV, FAST, S3_BUCKET, run_epaper, scrapyd_node  # noqa: E402

DAY = dt.date(2023, 8, 1)
URL = f"s3://{S3_BUCKET}/jobs/v1"
PREFIX = "jobs/v1/"
LEASED = f"s3://{S3_BUCKET}/jobs/leased"  # the lease test's own root
# a job runs where there is no scrapy.cfg: the settings module named as scrapyd names it
JOB_ENV = {"SCRAPY_SETTINGS_MODULE": "epaper.crawler.settings"}


def scrapy_crawl(*args: str, env: dict, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scrapy", "crawl", "epaper", *args, *FAST], cwd=CLEAN_CWD,
                          capture_output=True, text=True, timeout=180,
                          env={**CLEAN_ENV, **env, **JOB_ENV, "EPAPER_STORAGE_CACHE_DIR": str(cache)})


def keys(client, prefix: str = PREFIX) -> dict[str, str]:
    out: dict[str, str] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=S3_BUCKET, Prefix=prefix):
        out.update({o["Key"][len(prefix):]: o["ETag"] for o in page.get("Contents", [])})
    return out


def rows(table) -> list[dict]:
    """The rows but when they were crawled and where their WARC records are."""
    skip = {"crawled_at", "warc_file", "warc_record_id", "warc_offset", "warc_length"}
    out = [{k: v for k, v in r.items() if k not in skip} for r in table.to_pylist()]
    return sorted(out, key=lambda r: (r["source"], str(r["issue_date"]), r.get("url") or "", str(r.get("page_no"))))


@pytest.fixture(scope="module")
def papers(tmp_path_factory):
    work = tmp_path_factory.mktemp("s3jobs")
    with serve_papers(work / "sites", plan_papers(2), start=DAY, end=DAY) as running:
        plain = work / "epaper.toml"
        plain.write_text(portal_tables(running), encoding="utf-8")
        in_s3 = work / "epaper-s3.toml"  # the config names the s3 root (no -s SNAPSHOT_DIR)
        in_s3.write_text(portal_tables(running) + f'\n[storage]\ndata_dir = "{URL}"\n', encoding="utf-8")
        yield SimpleNamespace(work=work, plain=plain, in_s3=in_s3, ids=[p.id for p in running])


def test_scrapy_crawl_into_s3_equals_epaper_crawl(papers, s3, tmp_path, monkeypatch):
    from epaper.storage.load import load_articles, load_pages

    a, b = papers.ids
    date = ["-a", f"date={DAY}"]
    # paper a: the root given as a setting (as `epaper cluster` schedules it); b: by the config
    first = scrapy_crawl("-a", f"source={a}", *date, "-a", "_job=job-a", "-s", f"EPAPER_CONFIG={papers.plain}",
                         "-s", f"SNAPSHOT_DIR={URL}", env=s3.env, cache=tmp_path / "node-a")
    assert first.returncode == 0, first.stderr[-3000:]
    second = scrapy_crawl("-a", f"source={b}", *date, "-s", f"EPAPER_CONFIG={papers.in_s3}",
                          env=s3.env, cache=tmp_path / "node-b")
    assert second.returncode == 0, second.stderr[-3000:]
    local = tmp_path / "local"
    alone = run_epaper("crawl", "--config", str(papers.plain), "--date", DAY.isoformat(), "--data", str(local), *FAST,
                       env={**s3.env, "EPAPER_STORAGE_CACHE_DIR": str(tmp_path / "alone")})
    assert alone.returncode == 0, alone.stderr

    stored = keys(s3.client)
    assert not [k for k in stored if k.startswith("locks/")]  # both leases released
    for source in (a, b):  # each date's files, its WARC file among them
        assert any(k.startswith(f"warc/source={source}/issue_date={DAY}/") for k in stored), source
        assert f"articles/source={source}/issue_date={DAY}/part-0.parquet" in stored or any(
            k.startswith(f"articles/source={source}/issue_date={DAY}/") for k in stored)
    lines = [json.loads(s3.client.get_object(Bucket=S3_BUCKET, Key=PREFIX + k)["Body"].read())
             for k in stored if k.startswith("runs/parts/")]
    assert sorted((r["source"], r["exit_status"], r["dates"][0]) for r in lines) == [(a, 0, str(DAY)), (b, 0, str(DAY))]
    assert all(r["command"].startswith("scrapy crawl epaper -a source=") for r in lines)

    monkeypatch.setenv("EPAPER_STORAGE_CACHE_DIR", str(tmp_path / "reader"))
    remote = load_articles(URL)
    assert remote.num_rows > 0 and rows(remote) == rows(load_articles(local))
    assert rows(load_pages(URL)) == rows(load_pages(local))

    # what `epaper cluster` reads of it: a job's line by its scrapyd id, the state an update plans from
    from epaper.cluster import ArchiveView, update_jobs
    from epaper.config import load_config
    from epaper.storage.parquet import archived_dates

    config = load_config(papers.in_s3, env={"EPAPER_STORAGE_CACHE_DIR": str(tmp_path / "control")})
    view = ArchiveView(config)
    assert view.setting == URL
    assert view.lines(["job-a", "job-z"])["job-a"]["source"] == a and "job-z" not in view.lines(["job-z"])
    state = view.state()
    assert archived_dates(state, a) == archived_dates(state, b) == [DAY]
    assert set(update_jobs(config, state)) == {a, b}


@pytest.mark.slow  # make test-all; tests/test_s3.py refuses epaper crawl on a live lease in make test
def test_a_live_lease_refuses_a_scrapy_crawl(papers, s3, tmp_path):
    source = papers.ids[0]
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
    lease = {"holder": {"host": "node-b", "pid": 4242, "command": "epaper crawl --date 2023-08-01"},
             "since": "2023-08-01T00:00:00+00:00", "expires": expires.isoformat()}
    key = "jobs/leased/" + f"locks/source={source}.json"
    s3.client.put_object(Bucket=S3_BUCKET, Key=key, Body=json.dumps(lease).encode())
    args = ("-a", f"source={source}", "-a", f"date={DAY}", "-s", f"EPAPER_CONFIG={papers.plain}",
            "-s", f"SNAPSHOT_DIR={LEASED}")
    try:
        refused = scrapy_crawl(*args, env=s3.env, cache=tmp_path / "c")
        assert refused.returncode == 1
        assert f"paper {source} of archive {LEASED} is locked by pid 4242 on node-b" in refused.stderr
        assert "ArchiveLocked" in refused.stderr
        assert list(keys(s3.client, "jobs/leased/")) == [f"locks/source={source}.json"]  # nothing published
        # the working copy's local lock is free again: a crawl once the lease is gone runs
        s3.client.delete_object(Bucket=S3_BUCKET, Key=key)
        again = scrapy_crawl(*args, env=s3.env, cache=tmp_path / "c")
        assert again.returncode == 0, again.stderr[-3000:]
        assert any(k.startswith(f"articles/source={source}/") for k in keys(s3.client, "jobs/leased/"))
    finally:
        s3.client.delete_object(Bucket=S3_BUCKET, Key=key)


def test_a_bad_s3_root_in_a_setting_is_one_line(papers, tmp_path):
    bad = scrapy_crawl("-a", f"source={papers.ids[0]}", "-a", f"date={DAY}", "-s", f"EPAPER_CONFIG={papers.plain}",
                       "-s", "SNAPSHOT_DIR=s3://B/x", env={}, cache=tmp_path / "c")
    assert bad.returncode == 1
    assert "ConfigError: SNAPSHOT_DIR: not a bucket name in 's3://B/x'" in bad.stderr
    assert not (CLEAN_CWD / "s3:").exists()  # never a local folder named like the URL


CLUSTER = f"s3://{S3_BUCKET}/cluster/v1"


@pytest.mark.slow
def test_two_scrapyd_nodes_backfill_an_s3_archive_as_one_machine_does(s3, tmp_path, monkeypatch):
    """Two scrapyd nodes on 127.0.0.1, each with its own cache (no local state shared: the
    archive is the store), given the AWS variables in their environment; `epaper cluster
    backfill` spreads two replica papers over them into the s3:// root; the archive read back
    equals a one-machine `epaper crawl` of the same dates."""
    from epaper.storage.load import load_articles, load_pages
    from epaper.storage.parquet import archived_dates

    first, last = dt.date(2023, 7, 31), dt.date(2023, 8, 2)  # over a month's end: two jobs a paper
    days = [first + dt.timedelta(i) for i in range((last - first).days + 1)]
    control = {**s3.env, "EPAPER_STORAGE_CACHE_DIR": str(tmp_path / "control")}
    with serve_papers(tmp_path / "sites", plan_papers(2), start=first, end=last) as running, \
            scrapyd_node(tmp_path / "node1", {**s3.env, "EPAPER_STORAGE_CACHE_DIR": str(tmp_path / "cache1")}) as n1, \
            scrapyd_node(tmp_path / "node2", {**s3.env, "EPAPER_STORAGE_CACHE_DIR": str(tmp_path / "cache2")}) as n2:
        config = tmp_path / "epaper.toml"
        config.write_text(portal_tables(running, download_delay=0, concurrency=16, autothrottle=False)
                          + f'\n[storage]\ndata_dir = "{CLUSTER}"\n', encoding="utf-8")
        deployed = run_epaper("cluster", "deploy", "--node", n1, "--node", n2, "--version", "r1")
        assert deployed.returncode == 0, deployed.stderr
        spread = run_epaper("cluster", "backfill", "--node", n1, "--node", n2, "--config", str(config),
                            "--from", first.isoformat(), "--to", last.isoformat(), "--json", "--poll", "0.3",
                            "--timeout", "240", env=control)
        assert spread.returncode == 0, spread.stdout + spread.stderr
        jobs = [json.loads(line) for line in spread.stdout.splitlines()]
        a, b = (p.id for p in running)
        assert {(j["source"], j["node"]) for j in jobs} == {(a, n1), (b, n2)}  # one paper a node
        assert len(jobs) == 4 and all(j["state"] == "finished" and j["exit_status"] == 0 and j["run_id"] for j in jobs)
        status = run_epaper("cluster", "status", "--node", n1, "--node", n2, "--config", str(config), "--json",
                            env={**control, "EPAPER_STORAGE_CACHE_DIR": str(tmp_path / "status")})
        assert status.returncode == 0, status.stderr
        seen = {j["jobid"]: j for j in map(json.loads, status.stdout.splitlines())}
        assert {seen[j["jobid"]]["source"] for j in jobs} == {a, b}
        alone = tmp_path / "alone"
        one = run_epaper("crawl", "--config", str(config), "--data", str(alone),
                         "--from", first.isoformat(), "--to", last.isoformat(), env=control)
        assert one.returncode == 0, one.stderr
    stored = keys(s3.client, "cluster/v1/")
    assert not [k for k in stored if k.startswith("locks/")]  # every lease released
    assert len([k for k in stored if k.startswith("runs/parts/")]) == 4  # each job's line
    for p in (a, b):  # every date's WARC objects are in the store
        assert {k.split("/")[2] for k in stored if k.startswith(f"warc/source={p}/")} == \
            {f"issue_date={d}" for d in days}
    monkeypatch.setenv("EPAPER_STORAGE_CACHE_DIR", str(tmp_path / "reader"))
    remote_articles, remote_pages = load_articles(CLUSTER), load_pages(CLUSTER)
    for p in (a, b):
        assert archived_dates(alone, p) == days
    assert remote_articles.num_rows > 0
    assert rows(remote_articles) == rows(load_articles(alone))
    assert rows(remote_pages) == rows(load_pages(alone))


def test_an_unreachable_store_refuses_a_scrapy_crawl_in_one_line(papers, tmp_path):
    gone = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1"}
    done = scrapy_crawl("-a", f"source={papers.ids[0]}", "-a", f"date={DAY}", "-s", f"EPAPER_CONFIG={papers.in_s3}",
                        env=gone, cache=tmp_path / "c")
    assert done.returncode == 1
    # as for a lock held: Scrapy reports the exception, whose own line says it all
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(f"epaper.runext.ArchiveUnavailable: scrapy crawl epaper: {URL}: "), line
    assert not list((tmp_path / "c").rglob("*.parquet"))  # nothing crawled into the working copy

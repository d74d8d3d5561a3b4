"""The archive on an S3-compatible store (`--data s3://bucket/prefix`), against moto's server
mode on 127.0.0.1 (a real HTTP server the child processes reach through AWS_ENDPOINT_URL;
never a mock of the client)."""
from __future__ import annotations

import datetime as dt
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto.server")

from epaper.config import ConfigError, load_config  # noqa: E402
from epaper.replica.papers import plan_papers, portal_tables, serve_papers  # noqa: E402
from epaper.storage.objectstore import StoreError, WorkingCopy, parse_s3  # noqa: E402
from tests.conftest import CLEAN_CWD, CLEAN_ENV, FAST, S3_BUCKET  # noqa: E402

START, END = dt.date(2023, 8, 1), dt.date(2023, 8, 2)
BUCKET = S3_BUCKET
URL = f"s3://{BUCKET}/papers/v1"
LOCAL_ONLY = ("logs/", "metrics/", "runs/runs.jsonl", ".lock")


def epaper(*args: str, env: dict, cache: Path, timeout: float = 120, **popen) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "epaper", *args], cwd=CLEAN_CWD, capture_output=True, text=True,
                          timeout=timeout, env={**CLEAN_ENV, **env, "EPAPER_STORAGE_CACHE_DIR": str(cache)})


def keys(client, prefix: str = "papers/v1/") -> dict[str, str]:
    out: dict[str, str] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        out.update({o["Key"][len(prefix):]: o["ETag"] for o in page.get("Contents", [])})
    return out


@pytest.fixture(scope="module")
def crawled(s3, tmp_path_factory):
    work = tmp_path_factory.mktemp("s3")
    with serve_papers(work / "sites", plan_papers(2), start=START, end=END) as papers:
        config = work / "epaper.toml"
        config.write_text(portal_tables(papers), encoding="utf-8")
        dates = ["--from", START.isoformat(), "--to", END.isoformat()]
        local = epaper("crawl", "--config", str(config), *dates, "--data", str(work / "local"), *FAST,
                       env=s3.env, cache=work / "cache-local")
        remote = epaper("crawl", "--config", str(config), *dates, "--data", URL, *FAST,
                        env=s3.env, cache=work / "cache-a")
        yield SimpleNamespace(work=work, config=config, papers=papers, local=local, remote=remote,
                              ids=[p.id for p in papers])


def _layout(names) -> set[str]:
    """Keys with each WARC file's name (its time and pid) reduced to its date's folder."""
    return {n.rsplit("/", 1)[0] + "/*.warc.gz" if n.startswith("warc/") else n for n in names}


def test_a_crawl_into_s3_leaves_the_layout_of_a_local_crawl(crawled, s3):
    assert crawled.local.returncode == 0, crawled.local.stderr
    assert crawled.remote.returncode == 0, crawled.remote.stderr
    assert sorted(crawled.remote.stdout.splitlines()) == sorted(crawled.local.stdout.splitlines())
    stored = keys(s3.client)
    local = crawled.work / "local"
    files = [p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()]
    files = [f for f in files if not f.startswith(LOCAL_ONLY) and not any(x.startswith(".") for x in f.split("/"))]
    assert _layout(k for k in stored if not k.startswith("runs/parts/")) == _layout(files)
    # one run line per paper, each its own object; no lease left behind
    parts = [k for k in stored if k.startswith("runs/parts/")]
    assert len(parts) == 2 and not [k for k in stored if k.startswith("locks/")]
    lines = [json.loads(s3.client.get_object(Bucket=BUCKET, Key="papers/v1/" + k)["Body"].read()) for k in parts]
    assert sorted(line["source"] for line in lines) == sorted(crawled.ids)


def _rows(table) -> list[dict]:
    skip = {"crawled_at", "warc_file", "warc_record_id", "warc_offset", "warc_length"}
    rows = [{k: v for k, v in r.items() if k not in skip} for r in table.to_pylist()]
    return sorted(rows, key=lambda r: (r["source"], str(r["issue_date"]), r["url"]))


def test_the_loaders_read_an_s3_root(crawled, s3, tmp_path, monkeypatch):
    from epaper.storage.load import load_articles, load_pages

    monkeypatch.setenv("EPAPER_STORAGE_CACHE_DIR", str(tmp_path / "reader"))
    remote, local = load_articles(URL), load_articles(crawled.work / "local")
    assert remote.num_rows == local.num_rows > 0
    assert _rows(remote) == _rows(local)
    assert load_pages(URL).num_rows == load_pages(crawled.work / "local").num_rows


def test_status_reads_an_s3_root(crawled, s3, tmp_path):
    shown = epaper("status", "--config", str(crawled.config), "--data", URL, "--json", env=s3.env,
                   cache=tmp_path / "status")
    assert shown.returncode in (0, 1), shown.stderr  # 1: recent days never crawled
    rows = json.loads(shown.stdout)
    assert sorted((r["source"], r["date"]) for r in rows) == sorted(
        (pid, d.isoformat()) for pid in crawled.ids for d in (START, END))
    assert all(r["complete"] for r in rows)


def _lease(s3, source: str, expires: dt.datetime, pid: int = 4242, host: str = "node-b") -> None:
    body = {"holder": {"host": host, "pid": pid, "command": "epaper crawl --date 2023-08-01"},
            "since": "2023-08-01T00:00:00+00:00", "expires": expires.isoformat()}
    s3.client.put_object(Bucket=BUCKET, Key=f"papers/v1/locks/source={source}.json", Body=json.dumps(body).encode())


def test_a_live_lease_refuses_the_run_and_an_expired_one_is_taken_over(crawled, s3, tmp_path):
    source = crawled.ids[0]
    now = dt.datetime.now(dt.timezone.utc)
    _lease(s3, source, now + dt.timedelta(minutes=5))
    args = ("crawl", "--config", str(crawled.config), "--source", source, "--date", START.isoformat(),
            "--data", URL, *FAST)
    before = keys(s3.client)
    refused = epaper(*args, env=s3.env, cache=tmp_path / "c")
    assert refused.returncode == 75, refused.stderr
    assert f"paper {source} of archive {URL} is locked by pid 4242 on node-b" in refused.stderr
    assert keys(s3.client) == before  # nothing written
    _lease(s3, source, now - dt.timedelta(seconds=1))  # its holder is gone
    taken = epaper(*args, env=s3.env, cache=tmp_path / "c")
    assert taken.returncode == 0, taken.stderr
    after = keys(s3.client)
    assert f"locks/source={source}.json" not in after  # released at the end
    # a re-crawl adds a WARC object beside the earlier one, and replaces none
    warc = f"warc/source={source}/issue_date={START}/"
    assert {k: v for k, v in before.items() if k.startswith(warc)}.items() < \
        {k: v for k, v in after.items() if k.startswith(warc)}.items()


def test_a_warc_object_is_never_overwritten(s3, tmp_path):
    copy = WorkingCopy.open(URL.replace("/v1", "/warc-test"), tmp_path)
    rel = "warc/source=x/issue_date=2023-08-01/a.warc.gz"
    s3.client.put_object(Bucket=BUCKET, Key=f"papers/warc-test/{rel}", Body=b"first")
    (copy.local / rel).parent.mkdir(parents=True)
    (copy.local / rel).write_bytes(b"second")
    with pytest.raises(StoreError, match="never replaced"):
        copy.publish([rel])
    assert s3.client.get_object(Bucket=BUCKET, Key=f"papers/warc-test/{rel}")["Body"].read() == b"first"


def test_a_date_is_published_in_the_order_it_is_written(s3, tmp_path):
    copy = WorkingCopy.open(URL.replace("/v1", "/order-test"), tmp_path)
    part = "source=x/issue_date=2023-08-01"
    for rel in (f"articles/{part}/part-0.parquet", f"revisions/{part}/part-0.parquet",
                f"pages/{part}/part-0.parquet", f"warc/{part}/a.warc.gz", f"articles/{part}/.part-0.tmp-1"):
        (copy.local / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy.local / rel).write_bytes(rel.encode())
    sent: list[str] = []
    copy.store.client.meta.events.register(
        "before-send.s3.PutObject", lambda request, **kw: sent.append(request.url.split("/order-test/")[1].split("/")[0]))
    assert copy.publish_date("x", dt.date(2023, 8, 1)) == 4  # the temp file stays local
    assert sent == ["warc", "pages", "revisions", "articles"]
    assert copy.publish_date("x", dt.date(2023, 8, 1)) == 0  # unchanged: nothing sent again


@pytest.mark.parametrize("url, problem", [("s3://B/x", "not a bucket name"), ("s3://bucket/../x", "not a usable prefix"),
                                          ("s3://bucket/a//b", "not a usable prefix")])
def test_a_bad_s3_url_is_one_line(url, problem):
    with pytest.raises(ConfigError, match=problem):
        load_config(None, overrides={"storage.data_dir": url})


def test_an_s3_root_survives_the_config():
    config = load_config(None, overrides={"storage.data_dir": URL})
    assert config.storage.data_dir == URL  # not Path's "s3:/archive/papers/v1"
    assert parse_s3(URL).key("articles/x") == "papers/v1/articles/x"


@pytest.mark.slow  # about 15 s: two crawls and a lease running out (make test-all)
def test_two_processes_sharing_no_local_state_serialise_on_the_lease(crawled, s3, tmp_path):
    """A holds the paper (held at its first snapshot file); B, with its own cache, is refused
    naming A; A is killed (-9: no release); once its lease expires B takes it over."""
    source = crawled.ids[1]
    args = [sys.executable, "-m", "epaper", "crawl", "--config", str(crawled.config), "--source", source,
            "--date", END.isoformat(), "--data", URL, *FAST]
    env = {**CLEAN_ENV, **s3.env, "EPAPER_STORAGE_LEASE_SECONDS": "3"}
    holder = subprocess.Popen(args + ["-s", "SNAPSHOT_PAUSE_AT=write:1", "-s", "SNAPSHOT_PAUSE_SECONDS=60"],
                              cwd=CLEAN_CWD, env={**env, "EPAPER_STORAGE_CACHE_DIR": str(tmp_path / "a")},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while f"locks/source={source}.json" not in keys(s3.client) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(4)  # past one lease length: a live holder renews it
        other = dict(env, EPAPER_STORAGE_CACHE_DIR=str(tmp_path / "b"))
        refused = subprocess.run(args, cwd=CLEAN_CWD, env=other, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 75, refused.stderr
        assert f"locked by pid {holder.pid} on {socket.gethostname()}" in refused.stderr
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        time.sleep(3.5)  # its lease runs out, unrenewed
        taken = subprocess.run(args, cwd=CLEAN_CWD, env=other, capture_output=True, text=True, timeout=120)
        assert taken.returncode == 0, taken.stderr
        assert f"locks/source={source}.json" not in keys(s3.client)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


@pytest.mark.slow  # about 15 s (make test-all)
def test_reparse_changes_and_report_read_and_write_the_store(crawled, s3, tmp_path):
    """The other commands on an s3:// root: `reparse` rebuilds every paper from the WARC objects
    (replacing snapshots, adding no WARC object), `changes` and `report` read it."""
    warcs = {k for k in keys(s3.client) if k.startswith("papers/v1/warc/")}
    again = epaper("reparse", "--all", "--config", str(crawled.config), "--data", URL, env=s3.env,
                   cache=tmp_path / "cache-r")
    assert again.returncode == 0, again.stderr
    assert sorted(line.split(" ")[:2] for line in again.stdout.splitlines()) == sorted(
        [source, day.isoformat()] for source in crawled.ids for day in (START, END))
    assert {k for k in keys(s3.client) if k.startswith("papers/v1/warc/")} == warcs
    changes = epaper("changes", "--config", str(crawled.config), "--data", URL, env=s3.env, cache=tmp_path / "c")
    assert changes.returncode == 0 and changes.stdout.splitlines()[-1] == "0 corrections, 0 removed", changes.stderr
    out = tmp_path / "report.html"
    report = epaper("report", "--config", str(crawled.config), "--data", URL, "--source", crawled.ids[0],
                    "--out", str(out), env=s3.env, cache=tmp_path / "c")
    assert report.returncode == 0, report.stderr
    assert f"{START} to {END}" in report.stdout and out.stat().st_size > 0


def test_a_file_lost_from_the_working_copy_is_never_deleted_from_the_store(crawled, s3, tmp_path, monkeypatch):
    """The working copy is a cache: a snapshot gone from it during a run (deleted, a disk
    replaced) while its manifest still names it is no removal by the run: the store keeps the
    object. Only what a run removes by design (a compact/ year) goes from the store too."""
    from epaper.storage.objectstore import WorkingCopy, paper_prefixes

    for name, value in s3.env.items():
        monkeypatch.setenv(name, value)
    source = crawled.ids[0]
    snapshot = f"articles/source={source}/issue_date={END}/part-0.parquet"
    copy = WorkingCopy.open(URL, tmp_path / "cache")
    copy.pull(paper_prefixes(source))
    years = copy.files(f"compact/articles/source={source}/")
    assert snapshot in keys(s3.client) and years
    (copy.local / snapshot).unlink()
    (copy.local / years[0]).unlink()
    copy.sync(paper_prefixes(source))
    stored = keys(s3.client)
    assert snapshot in stored and years[0] not in stored

"""The cost of an s3:// archive against a local one, for the same crawl.

    python -m bench.s3 [--days N] [--papers N]

Two replica papers (`replica.papers`) over N days, crawled by `epaper crawl` into a local
folder and into `s3://bench/archive` on moto's S3 server (127.0.0.1, in this process: every
request it answers is counted from its log), with a fresh working copy; then the same crawl
again into each (a re-crawl with the working copy kept: every date rewritten and published
again, a new WARC object added per date); then `epaper status` of each (a fresh reading copy). Figures: wall time of each, their ratio,
requests to the store by method, bytes stored. Needs boto3 and moto[server] (the test extra).
"""
from __future__ import annotations

import argparse
import collections
import datetime as dt
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class _Requests(logging.Handler):
    def __init__(self):
        super().__init__()
        self.by_method: collections.Counter = collections.Counter()

    def emit(self, record):
        text = record.getMessage()
        for method in ("GET", "PUT", "HEAD", "DELETE", "POST"):
            if f'"{method} ' in text:
                self.by_method[method] += 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--papers", type=int, default=2)
    args = parser.parse_args(argv)
    from moto.server import ThreadedMotoServer

    from epaper.replica.papers import plan_papers, portal_tables, serve_papers

    counter = _Requests()
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.addHandler(counter)
    werkzeug.setLevel(logging.INFO)
    werkzeug.propagate = False
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {**os.environ, "AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1"}
    os.environ.update(env)
    import boto3

    client = boto3.client("s3")
    client.create_bucket(Bucket="bench")
    start = dt.date(2023, 8, 1)
    end = start + dt.timedelta(args.days - 1)
    fast = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=false", "-s", "CONCURRENT_REQUESTS=16",
            "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, \
            serve_papers(Path(tmp) / "sites", plan_papers(args.papers), start=start, end=end) as papers:
        config = Path(tmp) / "epaper.toml"
        config.write_text(portal_tables(papers), encoding="utf-8")
        run_env = {**env, "EPAPER_STORAGE_CACHE_DIR": str(Path(tmp) / "cache")}

        def timed(label, *cmd):
            before = collections.Counter(counter.by_method)
            t = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "epaper", *cmd, "--config", str(config)], env=run_env,
                                  capture_output=True, text=True, cwd=tmp)
            took = time.perf_counter() - t
            asked = counter.by_method - before
            rows.append((label, took, done.returncode, dict(asked)))

        dates = ["--from", start.isoformat(), "--to", end.isoformat()]
        for again in ("", " again"):
            timed(f"crawl local{again}", "crawl", *dates, "--data", str(Path(tmp) / "local"), *fast)
            timed(f"crawl s3{again}", "crawl", *dates, "--data", "s3://bench/archive", *fast)
        timed("status local", "status", "--data", str(Path(tmp) / "local"))
        timed("status s3", "status", "--data", "s3://bench/archive")
        stored = sum(o["Size"] for page in client.get_paginator("list_objects_v2").paginate(Bucket="bench")
                     for o in page.get("Contents", []))
        objects = sum(len(page.get("Contents", [])) for page in
                      client.get_paginator("list_objects_v2").paginate(Bucket="bench"))
        local = sum(p.stat().st_size for p in (Path(tmp) / "local").rglob("*") if p.is_file()
                    and not p.relative_to(Path(tmp) / "local").as_posix().startswith(("logs/", "metrics/")))
    server.stop()
    print(f"{args.papers} papers x {args.days} days; store: {objects} objects, {stored} bytes "
          f"(local archive {local} bytes, logs and metrics aside)")
    print("| run | wall s | exit | requests to the store |")
    print("| --- | ---: | ---: | --- |")
    for label, took, rc, asked in rows:
        total = sum(asked.values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(asked.items()))
        print(f"| {label} | {took:.1f} | {rc} | {total}{f' ({detail})' if detail else ''} |")
    times = {label: took for label, took, _, _ in rows}
    for what in ("crawl", "crawl again", "status"):
        local_label = f"{what.split()[0]} local{' again' if 'again' in what else ''}"
        s3_label = f"{what.split()[0]} s3{' again' if 'again' in what else ''}"
        print(f"{what}: s3/local time ratio {times[s3_label] / times[local_label]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

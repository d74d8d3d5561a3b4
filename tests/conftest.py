"""Shared fixtures: replica sites built once per session, the replica portal on 127.0.0.1,
crawls in this process (`crawl_in_process`), and the real `epaper` command as a subprocess."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from epaper.replica.build import TEMPLATES, build_site
from epaper.replica.server import serve

ROOT = Path(__file__).resolve().parent.parent
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=false", "-s", "CONCURRENT_REQUESTS=16",
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16", "-s", "RETRY_BACKOFF_BASE=0.05"]
SPAN = (dt.date(2023, 7, 1), dt.date(2023, 8, 31))  # 62 days, the seed article on 2023-08-03
# Two weeks over a month's end, dense in the replica's quirks: the seed article (08-03), a reprint
# and a near-duplicate of the first issue's articles, pages reached by list or hotspot only, an
# article linked twice and from the next page, letter-numbered pages, an advertisement page,
# weekends without an issue, and two calendars.
SHORT_SPAN = (dt.date(2023, 7, 27), dt.date(2023, 8, 9))
FAST_SETTINGS = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS": 16,
                 "CONCURRENT_REQUESTS_PER_DOMAIN": 16, "RETRY_BACKOFF_BASE": 0.05}


@pytest.fixture(scope="session")
def replica_sites(tmp_path_factory):
    """build(template, start, end) → folder with site/ and truth.json, built once per session."""
    cache: dict[tuple, Path] = {}

    def build(template: str = "pc-rmrb", start: dt.date = SPAN[0], end: dt.date = SPAN[1], seed: int = 1) -> Path:
        key = (template, start, end, seed)
        if key not in cache:
            out = tmp_path_factory.mktemp(f"replica-{template}")
            build_site(out, start=start, end=end, generation=TEMPLATES[template], template=template, seed=seed)
            cache[key] = out
        return cache[key]

    return build


@pytest.fixture
def portal(replica_sites):
    """portal(template, ..., faults=None, delay=0) → a running replica server (stopped after the test)."""
    servers = []

    def start(template: str = "pc-rmrb", start: dt.date = SPAN[0], end: dt.date = SPAN[1], **options):
        out = replica_sites(template, start, end)
        server = serve(out / "site", **options)
        server.__enter__()
        server.truth_path = out / "truth.json"
        server.truth = json.loads(server.truth_path.read_text(encoding="utf-8"))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def project_settings(**overrides) -> dict:
    """The project's settings (crawler/settings.py) as a dict, for `get_crawler(settings_dict=…)`."""
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("epaper.crawler.settings", priority="project")
    return {**{k: v for k, v in settings.copy_to_dict().items() if k != "ADDONS"}, **overrides}


async def crawl_in_process(data: Path, base_url: str, settings: dict | None = None, **spider_args):
    """Run the epaper spider in this process, as `epaper crawl` would with FAST settings; the
    crawl's ledger (each date's result). pytest-twisted runs the reactor: a test that awaits
    this is `@pytest_twisted.ensureDeferred async def`."""
    from scrapy.crawler import CrawlerRunner
    from scrapy.settings import Settings

    from epaper.crawler.ledger import Ledger
    from epaper.crawler.spiders.epaper import EpaperSpider

    options = Settings()
    options.setmodule("epaper.crawler.settings", priority="project")
    options.setdict({**FAST_SETTINGS, "SNAPSHOT_DIR": str(data), "LOG_LEVEL": "WARNING", "EPAPER_CONFIG": os.devnull,
                     **(settings or {})}, priority="cmdline")
    runner = CrawlerRunner(options)
    crawler = runner.create_crawler(EpaperSpider)
    ledger = Ledger.from_crawler(crawler)
    await runner.crawl(crawler, base_url=base_url,
                       **{k: v.isoformat() if isinstance(v, dt.date) else v for k, v in spider_args.items()})
    return ledger


# The CLI runs in an empty folder, so that a developer's ./epaper.toml or EPAPER_* variables
# never reach a test.
CLEAN_CWD = Path(tempfile.mkdtemp(prefix="epaper-tests-"))
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("EPAPER_")}


def fast_config(path: Path, base_url: str, schedule: str, data: Path | None = None) -> Path:
    """An epaper.toml at `path` for the replica at `base_url`, crawled at full speed (FAST's
    settings), with the `[schedule]` lines given; the data directory when given."""
    storage = f'[storage]\ndata_dir = "{data}"\n' if data is not None else ""
    path.write_text(f'[portal]\nbase_url = "{base_url}"\n{storage}[schedule]\n{schedule.strip()}\n'
                    "[crawl]\nconcurrency = 16\ndownload_delay = 0.0\nautothrottle = false\n", encoding="utf-8")
    return path


def run_epaper(*args: str, timeout: float = 240, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real command line, as ops run it."""
    return subprocess.run([sys.executable, "-m", "epaper", *args], cwd=CLEAN_CWD, capture_output=True,
                          text=True, timeout=timeout, env={**CLEAN_ENV, **(env or {})})


def tally_fixture(name: str, counts):
    """A module fixture saving `counts` (faults injected, kills survived…) in pytest's cache,
    under epaper/counts/<name>, for the issue reports."""

    @pytest.fixture(scope="module", autouse=True)
    def _tally(request):
        yield
        if getattr(request.config, "cache", None) is not None:
            request.config.cache.set(f"epaper/counts/{name}", dict(counts))

    return _tally


def slow_but(values, *fast):
    """Parameter values for `parametrize`: those in `fast` run in `make test`, the others are
    marked slow (`make test-all`), so the fast suite keeps one or a few of a long table."""
    return [v if v in fast else pytest.param(*(v if isinstance(v, tuple) else (v,)), marks=pytest.mark.slow)
            for v in values]


# ------------------------------------------------------------------ real servers on 127.0.0.1

S3_BUCKET = "archive"


@pytest.fixture(scope="module")
def s3():
    """An S3-compatible server (moto's server mode) on 127.0.0.1 for the module, with the bucket
    S3_BUCKET: `env` (the AWS variables a child process needs), `client` (boto3). This process's
    environment names it too while the module runs (its loaders and clients reach it)."""
    pytest.importorskip("boto3")
    pytest.importorskip("moto.server")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # this process's loaders and clients reach the same server
    import boto3

    client = boto3.client("s3")
    client.create_bucket(Bucket=S3_BUCKET)
    yield SimpleNamespace(env=env, client=client)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    server.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def scrapyd_node(home: Path, env: dict | None = None):
    """A scrapyd node on 127.0.0.1 with its own folders under `home` and `env` added to its
    environment (which its jobs inherit); its URL."""
    home.mkdir(parents=True)
    port = free_port()
    (home / "scrapyd.conf").write_text(
        f"[scrapyd]\nbind_address = 127.0.0.1\nhttp_port = {port}\neggs_dir = {home / 'eggs'}\n"
        f"logs_dir = {home / 'logs'}\ndbs_dir = {home / 'dbs'}\nitems_dir =\npoll_interval = 0.2\n"
        "max_proc = 4\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "scrapyd"], cwd=home, env={**CLEAN_ENV, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=(home / "scrapyd.err").open("wb"))
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "daemonstatus.json", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((home / "scrapyd.err").read_text()) from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

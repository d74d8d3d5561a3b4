"""Bad input on purpose: wrong command lines and configurations, each refused with one line on
stderr, no traceback, the right exit status, and no change to the archive.

Every case runs the real `epaper` command against a small archive (one crawled date) and a live
replica portal; the archive's files are compared byte for byte before and after.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from epaper.replica.server import serve
from tests.conftest import FAST, run_epaper, slow_but, tally_fixture

DAY = dt.date(2023, 8, 1)
COUNTS: Counter = Counter()


_tally = tally_fixture("bad_input", COUNTS)


@pytest.fixture(scope="module")
def world(replica_sites, tmp_path_factory):
    """The portal, an archive of one date, and the bad files the cases point at."""
    site = replica_sites("pc-rmrb", DAY, dt.date(2023, 8, 4))
    root = tmp_path_factory.mktemp("bad-input")
    with serve(site / "site") as server:
        archive = root / "archive"
        done = run_epaper("crawl", "--date", DAY.isoformat(), "--base-url", server.base_url,
                          "--data", str(archive), *FAST)
        assert done.returncode == 0, done.stderr
        (root / "file").write_text("not a directory\n")
        (root / "empty").mkdir()
        cfg = root / "cfg"
        cfg.mkdir()
        (cfg / "bad.toml").write_text("[portal\nbase_url = \n")
        (cfg / "latin1.toml").write_bytes(b"[portal]\nname = \"\xe9\xff\"\n")
        (cfg / "unknown.toml").write_text("[portal]\nbase_url = \"http://127.0.0.1/\"\nmirror = true\n")
        (cfg / "type.toml").write_text("[crawl]\nconcurrency = \"four\"\n")
        (cfg / "scheme.toml").write_text("[portal]\nbase_url = \"file:///etc/\"\n")
        (cfg / "layout.toml").write_text("[portal]\nlayout = \"sideways\"\n")
        (cfg / "section.toml").write_text("[portals]\nbase_url = \"http://127.0.0.1/\"\n")
        (cfg / "loop.toml").symlink_to(cfg / "loop.toml")  # unreadable, whoever runs the tests (root too)
        (cfg / "adir.toml").mkdir()
        yield {"root": root, "archive": archive, "portal": server.base_url, "server": server}


@pytest.fixture(scope="module")
def read_only_dir(world):
    """A directory nobody can write to: mode 0555, and the immutable flag when running as root."""
    path = world["root"] / "read-only"
    path.mkdir()
    path.chmod(0o555)
    immutable = False
    if os.geteuid() == 0 and shutil.which("chattr"):
        immutable = subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
    try:
        (path / "probe").write_bytes(b"")
    except OSError:
        pass
    else:
        (path / "probe").unlink()
        path.chmod(0o755)
        pytest.skip("cannot make a read-only directory here")
    yield path
    if immutable:
        subprocess.run(["chattr", "-i", str(path)], check=False)
    path.chmod(0o755)


# (id, arguments, exit status, words of the one stderr line, the crawl got as far as the archive lock)
# {portal} live replica, {data} the archive, {fresh} a path that does not exist, {file} a regular
# file, {ro} a read-only directory, {empty} an empty directory, {cfg} the bad configs.
CRAWL = ["crawl", "--base-url", "{portal}", "--data", "{data}"]
D = ["--date", DAY.isoformat()]
CASES = [
    # dates
    ("date-malformed", [*CRAWL, "--date", "2023-8-1"], 2, "not a valid date", False),
    ("date-month-13", [*CRAWL, "--date", "2023-13-01"], 2, "not a valid date", False),
    ("date-feb-30", [*CRAWL, "--date", "2023-02-30"], 2, "not a valid date", False),
    ("date-fullwidth-digits", [*CRAWL, "--date", "２０２３-08-01"], 2, "not a valid date", False),
    ("date-with-time", [*CRAWL, "--date", "2023-08-01T07:30"], 2, "not a valid date", False),
    ("date-empty", [*CRAWL, "--date", ""], 2, "not a valid date", False),
    ("date-year-0", [*CRAWL, "--date", "0000-01-01"], 2, "not a valid date", False),
    ("from-after-to", [*CRAWL, "--from", "2023-08-05", "--to", "2023-08-01"], 2, "is after --to", False),
    ("from-without-to", [*CRAWL, "--from", "2023-08-01"], 2, "--from needs --to", False),
    ("to-with-date", [*CRAWL, *D, "--to", "2023-08-02"], 2, "--to goes with --from", False),
    ("to-alone", [*CRAWL, "--to", "2023-08-02"], 2, "one of the arguments", False),
    ("date-and-latest", [*CRAWL, *D, "--latest"], 2, "not allowed with", False),
    ("no-date", CRAWL, 2, "one of the arguments", False),
    ("ten-years-without-yes", [*CRAWL, "--from", "2013-08-01", "--to", "2023-08-01"], 2, "add --yes", False),
    ("reparse-from-after-to", ["reparse", "--data", "{data}", "--from", "2023-08-02", "--to", "2023-08-01"], 2,
     "is after --to", False),
    # base URLs
    ("url-ftp", ["crawl", *D, "--data", "{fresh}", "--base-url", "ftp://127.0.0.1/epaper/"], 2, "http(s) URL", False),
    ("url-no-scheme", ["crawl", *D, "--data", "{fresh}", "--base-url", "127.0.0.1/epaper/"], 2, "http(s) URL", False),
    ("url-no-host", ["crawl", *D, "--data", "{fresh}", "--base-url", "http://"], 2, "http(s) URL", False),
    ("url-broken-ipv6", ["crawl", *D, "--data", "{fresh}", "--base-url", "http://[::1/epaper/"], 2, "http(s) URL", False),
    ("url-space", ["crawl", *D, "--data", "{fresh}", "--base-url", "http://exa mple.cn/epaper/"], 2, "http(s) URL", False),
    ("url-bad-port", ["crawl", *D, "--data", "{fresh}", "--base-url", "http://127.0.0.1:99999/"], 2, "http(s) URL", False),
    ("url-javascript", ["crawl", *D, "--data", "{fresh}", "--base-url", "javascript:alert(1)"], 2, "http(s) URL", False),
    ("url-none", ["crawl", *D, "--data", "{fresh}"], 2, "no base URL", False),
    ("url-not-an-epaper", ["crawl", *D, "--data", "{data}", "--base-url", "{portal}elsewhere/", *FAST], 2,
     "no Founder e-paper found", True),
    # data directories
    ("data-is-a-file", ["crawl", *D, "--base-url", "{portal}", "--data", "{file}"], 2, "is not a directory", False),
    ("data-under-a-file", ["crawl", *D, "--base-url", "{portal}", "--data", "{file}/sub"], 2, "not writable", False),
    ("data-read-only", ["crawl", *D, "--base-url", "{portal}", "--data", "{ro}"], 2, "not writable", False),
    ("data-empty-string", ["crawl", *D, "--base-url", "{portal}", "--data", ""], 2, "empty string", False),
    ("status-data-is-a-file", ["status", "--data", "{file}"], 2, "is not a directory", False),
    ("reparse-nothing-to-replay", ["reparse", "--all", "--data", "{empty}"], 2, "no WARC files", False),
    # configuration files
    ("config-missing", [*CRAWL, *D, "--config", "{cfg}/missing.toml"], 2, "not found", False),
    ("config-invalid-toml", [*CRAWL, *D, "--config", "{cfg}/bad.toml"], 2, "not valid TOML", False),
    ("config-not-utf8", [*CRAWL, *D, "--config", "{cfg}/latin1.toml"], 2, "UTF-8", False),
    ("config-unknown-key", [*CRAWL, *D, "--config", "{cfg}/unknown.toml"], 2, "portal.mirror", False),
    ("config-unknown-section", [*CRAWL, *D, "--config", "{cfg}/section.toml"], 2, "portals", False),
    ("config-wrong-type", [*CRAWL, *D, "--config", "{cfg}/type.toml"], 2, "crawl.concurrency", False),
    ("config-url-scheme", ["crawl", *D, "--data", "{fresh}", "--config", "{cfg}/scheme.toml"], 2, "base_url", False),
    ("config-layout", [*CRAWL, *D, "--config", "{cfg}/layout.toml"], 2, "layout", False),
    ("config-unreadable", [*CRAWL, *D, "--config", "{cfg}/loop.toml"], 2, "loop.toml", False),
    ("config-is-a-directory", [*CRAWL, *D, "--config", "{cfg}/adir.toml"], 2, "adir.toml", False),
    # -s settings
    ("s-unknown-setting", [*CRAWL, *D, "-s", "DOWNLOAD_DELAYS=0"], 2, "unknown Scrapy setting", False),
    ("s-no-equals", [*CRAWL, *D, "-s", "DOWNLOAD_DELAY"], 2, "NAME=VALUE", False),
    ("s-no-name", [*CRAWL, *D, "-s", "=3"], 2, "NAME=VALUE", False),
    ("s-int-word", [*CRAWL, *D, "-s", "CONCURRENT_REQUESTS=many"], 2, "expected int", False),
    ("s-float-nan", [*CRAWL, *D, "-s", "DOWNLOAD_DELAY=nan"], 2, "finite", False),
    ("s-negative-retries", [*CRAWL, *D, "-s", "RETRY_TIMES=-1"], 2, "must not be negative", False),
    ("s-zero-concurrency", [*CRAWL, *D, "-s", "CONCURRENT_REQUESTS=0"], 2, "greater than 0", False),
    ("s-negative-timeout", [*CRAWL, *D, "-s", "DOWNLOAD_TIMEOUT=-5"], 2, "greater than 0", False),
    ("s-bool-maybe", [*CRAWL, *D, "-s", "ROBOTSTXT_OBEY=maybe"], 2, "expected bool", False),
    ("s-log-level", [*CRAWL, *D, "-s", "LOG_LEVEL=LOUD"], 2, "LOG_LEVEL", False),
    ("s-snapshot-dir", [*CRAWL, *D, "-s", "SNAPSHOT_DIR=/tmp/elsewhere"], 2, "use --data", False),
    ("s-item-pipelines", [*CRAWL, *D, "-s", "ITEM_PIPELINES={}"], 2, "pipelines are fixed", False),
    ("s-dict-not-json", [*CRAWL, *D, "-s", "DOWNLOADER_MIDDLEWARES=retry"], 2, "JSON object", False),
    ("s-missing-component", [*CRAWL, *D, "-s", 'DOWNLOADER_MIDDLEWARES={"no.such.Middleware": 10}'], 2,
     "No module named", True),
    ("s-layout-value", [*CRAWL, *D, "-s", "EPAPER_LAYOUT=sideways"], 2, "layout must be", True),
    # the command line itself
    ("unknown-command", ["crawlx", *D], 2, "invalid choice", False),
    ("unknown-flag", [*CRAWL, *D, "--frm", "2023-08-01"], 2, "unrecognized arguments", False),
    ("log-format", [*CRAWL, *D, "--log-format", "xml"], 2, "invalid choice", False),
    ("demo-data-is-a-file", ["demo", "--data", "{file}"], 2, "not a directory", False),
]
ENV = {"url-none": {"EPAPER_PORTAL_BASE_URL": ""}}


def fingerprint(root: Path) -> dict[str, str]:
    """Every file and folder under root with its content hash (files) — what a change would alter."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


def fill(arg: str, world: dict, ro: Path | None, fresh: Path) -> str:
    return (arg.replace("{portal}", world["portal"]).replace("{data}", str(world["archive"]))
            .replace("{fresh}", str(fresh)).replace("{file}", str(world["root"] / "file"))
            .replace("{ro}", str(ro)).replace("{empty}", str(world["root"] / "empty"))
            .replace("{cfg}", str(world["root"] / "cfg")))


def test_there_are_enough_cases():
    assert len(CASES) >= 25 and len({c[0] for c in CASES}) == len(CASES)


# make test: one case of each kind of date and URL argparse refuses alike (all: make test-all)
SAME_AS_ANOTHER = {"date-month-13", "date-feb-30", "date-fullwidth-digits", "date-with-time", "date-empty",
                   "url-no-scheme", "url-no-host", "url-space", "url-javascript"}


@pytest.mark.parametrize("name, args, status, words, started",
                         slow_but(CASES, *(c for c in CASES if c[0] not in SAME_AS_ANOTHER)), ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(world, request, tmp_path, name, args, status, words, started):
    ro = request.getfixturevalue("read_only_dir") if any("{ro}" in a for a in args) else None
    fresh = tmp_path / "fresh"
    archive, others = world["archive"], [world["root"] / "file", world["root"] / "empty", world["root"] / "cfg"]
    before = fingerprint(archive), {str(p): fingerprint(p) if p.is_dir() else p.read_bytes() for p in others}
    requests_before = len(world["server"].requests)

    result = run_epaper(*[fill(a, world, ro, fresh) for a in args], timeout=60, env=ENV.get(name))
    COUNTS["bad inputs tried"] += 1

    assert result.returncode == status, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert words in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == "" or args[0] == "demo"  # demo announces its portal first

    after = fingerprint(archive), {str(p): fingerprint(p) if p.is_dir() else p.read_bytes() for p in others}
    # The lock files a refused run took (the paper's lock, created on first use) are no change of the archive.
    unlocked = lambda side: {p: {k: v for k, v in fp.items() if not k.startswith(".lock")} if isinstance(fp, dict) else fp  # noqa: E731
                             for p, fp in side.items()}
    before, after = (before[0], unlocked(before[1])), (after[0], unlocked(after[1]))
    if started:  # the run is recorded (logs/, runs/, metrics/), the archive itself is untouched
        keep = lambda fp: {k: v for k, v in fp.items() if not k.startswith(("logs", "runs", "metrics", ".lock"))}  # noqa: E731
        assert keep(after[0]) == keep(before[0])
    else:  # refused before anything was touched: not even a log file, no request sent
        assert after[0] == before[0]
        assert len(world["server"].requests) == requests_before
    assert after[1] == before[1]
    assert not fresh.exists()
    if ro is not None:
        assert list(ro.iterdir()) == []

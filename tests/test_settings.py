"""One configuration path: every project setting's default in crawler/settings.py, `-s` checked
against that table, and epaper.toml applied by the add-on for `scrapy crawl` as for `epaper crawl`."""
from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from scrapy.addons import AddonManager
from scrapy.utils.test import get_crawler

from epaper.addon import CONFIG_PRIORITY, ConfigAddon
from epaper.config import (
    Config,
    ConfigError,
    PortalConfig,
    UsageError,
    own_settings,
    project_settings,
    scrapy_overrides,
)
from epaper.pipelines.snapshot import SnapshotPipeline
from epaper.storage.load import load_articles
from tests.conftest import FAST, ROOT

SOURCES = [ROOT / d for d in ("crawler", "pipelines", "storage", "epaper")]
GETTER = re.compile(r"settings\.get(?:int|float|bool|list|dict|withbase)?\(\s*\"([A-Z0-9_]+)\"\s*(,)?")


def settings_read() -> list[tuple[str, str, bool]]:
    """(file, setting, with a default argument) for every typed getter call in the package."""
    found = []
    for folder in SOURCES:
        for path in sorted(folder.rglob("*.py")):
            for m in GETTER.finditer(path.read_text(encoding="utf-8")):
                found.append((path.relative_to(ROOT).as_posix(), m.group(1), bool(m.group(2))))
    return found


def test_every_setting_read_has_a_default() -> None:
    known = project_settings()
    read = settings_read()
    assert {"DEDUPE_THRESHOLD", "VALIDATE_REQUIRED", "SNAPSHOT_COMPACT", "RETRY_BACKOFF_BASE"} <= {n for _, n, _ in read}
    assert [(f, n) for f, n, _ in read if n not in known] == []


def test_own_settings_are_read_without_a_second_default() -> None:
    own = own_settings()
    assert [(f, n) for f, n, default in settings_read()
            if default and n in own] == []


def test_each_own_setting_is_documented_where_it_is_defined() -> None:
    lines = (ROOT / "crawler" / "settings.py").read_text(encoding="utf-8").splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        m = re.match(r"([A-Z][A-Z0-9_]*)\b.*=", line)
        if m and m.group(1) in own_settings() and "#" not in line and not lines[i - 1].lstrip().startswith("#"):
            undocumented.append(m.group(1))
    assert undocumented == []


def test_dead_settings_are_gone() -> None:
    from epaper.crawler import settings as module

    assert not hasattr(module, "FEED_EXPORT_ENCODING")  # no feed export here
    assert not hasattr(module, "REQUEST_FINGERPRINTER_IMPLEMENTATION")
    assert "REQUEST_FINGERPRINTER_IMPLEMENTATION" not in project_settings()  # Scrapy 2.19 has none either


def test_settings_module_reads_no_environment() -> None:
    text = (ROOT / "crawler" / "settings.py").read_text(encoding="utf-8")
    assert "os.environ" not in text and "import os" not in text  # the config (add-on) does


def test_config_defaults_are_the_settings_defaults() -> None:
    """Applying a config with nothing in it changes no setting: one table of defaults."""
    known = project_settings()
    assert {name: known[name] for name in Config().scrapy_settings()} == Config().scrapy_settings()


# ------------------------------------------------------------------ components get the values


def test_dedupe_threshold_from_s_reaches_the_dedupe_components(tmp_path: Path) -> None:
    values = scrapy_overrides(["DEDUPE_THRESHOLD=0.9", "DEDUPE_SHINGLE_SIZE=4", "DEDUPE_MIN_CHARS=20"])
    assert values == {"DEDUPE_THRESHOLD": 0.9, "DEDUPE_SHINGLE_SIZE": 4, "DEDUPE_MIN_CHARS": 20}
    crawler = get_crawler(settings_dict={**own_settings(), "SNAPSHOT_DIR": str(tmp_path), **values})
    snapshot = SnapshotPipeline.from_crawler(crawler)
    assert snapshot.archive.index_options == {"shingle_size": 4, "threshold": 0.9, "min_chars": 20}


def test_components_take_their_defaults_from_the_one_table(tmp_path: Path) -> None:
    crawler = get_crawler(settings_dict={**own_settings(), "SNAPSHOT_DIR": str(tmp_path)})
    snapshot = SnapshotPipeline.from_crawler(crawler)
    assert snapshot.archive.index_options == {"shingle_size": 5, "threshold": 0.8, "min_chars": 50}
    assert (snapshot.compact, snapshot.archive.commit_every, snapshot.archive.pause.stage) == (True, 30, "")


# ------------------------------------------------------------------ -s NAME=VALUE


@pytest.mark.parametrize(
    ("pair", "value"),
    [
        ("DEDUPE_THRESHOLD=0.9", 0.9),
        ("DEDUPE_THRESHOLD=1", 1.0),
        ("DEDUPE_SHINGLE_SIZE=3", 3),
        ("DEDUPE_MIN_CHARS=0", 0),
        ("SNAPSHOT_COMPACT=false", False),
        ("WARC_ENABLED=yes", True),
        ("VALIDATE_REQUIRED=url,title", "url,title"),
        ("RETRY_HTTP_CODES=500,503", "500,503"),
        ("DOWNLOAD_DELAY=0", 0.0),
        ("EPAPER_SOURCE=xyz", "xyz"),
        ("FEED_EXPORT_ENCODING=utf-8", "utf-8"),  # Scrapy's own settings stay settable
        ("LOG_LEVEL=debug", "debug"),
    ],
)
def test_s_accepts_existing_settings_with_their_types(pair: str, value: object) -> None:
    name = pair.partition("=")[0]
    got = scrapy_overrides([pair])[name]
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("pair", "words"),
    [
        ("DEDUPE_THRESHOLDS=0.9", "unknown Scrapy setting"),
        ("REQUEST_FINGERPRINTER_IMPLEMENTATION=2.7", "unknown Scrapy setting"),
        ("DEDUPE_THRESHOLD=high", "expected float"),
        ("DEDUPE_THRESHOLD=nan", "finite"),
        ("DEDUPE_THRESHOLD=inf", "finite"),
        ("DEDUPE_THRESHOLD=0", "greater than 0"),
        ("DEDUPE_THRESHOLD=1.5", "at most 1"),
        ("DEDUPE_SHINGLE_SIZE=0", "greater than 0"),
        ("DEDUPE_SHINGLE_SIZE=2.5", "expected int"),
        ("DEDUPE_MIN_CHARS=-1", "must not be negative"),
        ("SNAPSHOT_COMPACT=maybe", "expected bool"),
        ("SNAPSHOT_PAUSE_SECONDS=-inf", "finite"),
        ("RETRY_HTTP_CODES=500,five", "integers separated by commas"),
        ("EPAPER_CONFIG=/tmp/x.toml", "use --config"),
        ("EPAPER_BASE_URL=http://127.0.0.1/", "use --base-url"),
        ("ADDONS={}", "add-on"),
        ("SNAPSHOT_DIR=/tmp/x", "use --data"),
    ],
)
def test_s_refuses_what_does_not_exist_or_does_not_fit(pair: str, words: str) -> None:
    with pytest.raises(UsageError) as info:
        scrapy_overrides([pair])
    assert words in str(info.value) and "\n" not in str(info.value)


def test_s_accepts_every_own_setting_at_its_default() -> None:
    from epaper.config import NOT_FROM_S

    def text(value: object) -> str:
        return ",".join(map(str, value)) if isinstance(value, list) else str(value)

    pairs = [f"{name}={text(value)}" for name, value in own_settings().items() if name not in NOT_FROM_S]
    assert len(scrapy_overrides(pairs)) == len(pairs)


# ------------------------------------------------------------------ the add-on


def applied(settings) -> object:
    AddonManager.load_pre_crawler_settings(settings)  # what every CrawlerProcess/CrawlerRunner does
    return settings


def test_addon_is_enabled_by_the_project() -> None:
    assert "epaper.addon.ConfigAddon" in project_settings().getdict("ADDONS")


def test_addon_config_wins_over_settings_py_and_loses_to_s(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("EPAPER_PORTAL_ID", raising=False)
    config = tmp_path / "c.toml"
    config.write_text('[portal]\nid = "xyz"\nbase_url = "http://127.0.0.1:9/e/"\n'
                      '[crawl]\ndownload_delay = 3\n[storage]\nwarc = false\ndata_dir = "/srv/a"\n')
    settings = project_settings()
    settings.set("EPAPER_CONFIG", str(config), priority="cmdline")
    settings.set("DOWNLOAD_DELAY", "0", priority="cmdline")  # scrapy crawl -s DOWNLOAD_DELAY=0
    applied(settings)
    assert settings["EPAPER_SOURCE"] == "xyz" and settings.getpriority("EPAPER_SOURCE") == CONFIG_PRIORITY
    assert settings["EPAPER_BASE_URL"] == "http://127.0.0.1:9/e/"
    assert settings.getbool("WARC_ENABLED") is False
    assert settings["SNAPSHOT_DIR"] == "/srv/a"
    assert settings.getfloat("DOWNLOAD_DELAY") == 0  # -s beats the config
    assert settings.getpriority("EPAPER_SOURCE") > settings.getpriority("BOT_NAME")  # beats settings.py


def test_addon_reads_the_environment_like_load_config(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./epaper.toml
    monkeypatch.setenv("EPAPER_PORTAL_ID", "fromenv")
    monkeypatch.setenv("EPAPER_STORAGE_DATA_DIR", "/srv/env")
    settings = applied(project_settings())
    assert (settings["EPAPER_SOURCE"], settings["SNAPSHOT_DIR"]) == ("fromenv", "/srv/env")


def test_addon_default_file_is_epaper_toml_in_the_cwd(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("EPAPER_PORTAL_ID", raising=False)
    monkeypatch.chdir(tmp_path)
    assert applied(project_settings())["EPAPER_SOURCE"] == "ahjjb"  # none there: the defaults
    (tmp_path / "epaper.toml").write_text('[portal]\nid = "here"\n')
    assert applied(project_settings())["EPAPER_SOURCE"] == "here"


def test_addon_takes_a_resolved_config_as_epaper_crawl_passes_it() -> None:
    settings = project_settings()
    settings.set("EPAPER_CONFIG", Config(portal=PortalConfig(id="given")), priority="cmdline")
    assert applied(settings)["EPAPER_SOURCE"] == "given"


def test_addon_reaches_a_crawler_built_with_get_crawler(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[portal]\nid = "xyz"\n')
    crawler = get_crawler(settings_dict={**own_settings(), "ADDONS": {ConfigAddon: 0},
                                         "EPAPER_CONFIG": str(config)})
    assert crawler.settings["EPAPER_SOURCE"] == "xyz"


def test_addon_refuses_a_bad_config_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[crawl]\ndownload_delay = nan\n")
    settings = project_settings()
    settings.set("EPAPER_CONFIG", str(config), priority="cmdline")
    with pytest.raises(ConfigError, match=r'^config: "crawl.download_delay" must be a finite number'):
        applied(settings)


# ------------------------------------------------------------------ both commands, end to end


def clean_env() -> dict[str, str]:
    """The environment without the developer's EPAPER_* configuration variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith("EPAPER_")}


@pytest.mark.parametrize("command", ["scrapy crawl", "epaper crawl"])
def test_both_commands_honour_the_config_file(portal, tmp_path: Path, command: str) -> None:
    server = portal("html-table", dt.date(2023, 7, 31), dt.date(2023, 8, 6))
    day = dt.date.fromisoformat(sorted(server.truth["issues"])[0])
    archive = tmp_path / "archive"
    config = tmp_path / "epaper.toml"
    # download_delay would make the crawl outlast the timeout if FAST's -s did not beat it.
    config.write_text(f'[portal]\nid = "xyz"\n[storage]\ndata_dir = "{archive}"\nwarc = false\ncompact = false\n'
                      '[crawl]\nobey_robots = false\ndownload_delay = 30\n', encoding="utf-8")
    if command == "scrapy crawl":
        result = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "epaper", "-a", f"date={day}",
                                 "-a", f"base_url={server.base_url}", "-s", f"EPAPER_CONFIG={config}", *FAST],
                                cwd=ROOT, capture_output=True, text=True, timeout=240, env=clean_env())
    else:
        result = subprocess.run([sys.executable, "-m", "epaper", "crawl", "--date", day.isoformat(),
                                 "--base-url", server.base_url, "--config", str(config), *FAST],
                                cwd=ROOT, capture_output=True, text=True, timeout=240, env=clean_env())
    assert result.returncode == 0, result.stderr[-2000:]
    rows = load_articles(archive, columns=["source"]).to_pylist()
    assert rows and {r["source"] for r in rows} == {"xyz"}  # [portal] id
    assert not (archive / "warc").exists()  # [storage] warc = false
    assert not (archive / "compact").exists()  # [storage] compact = false
    assert not any(p.endswith("robots.txt") for p in server.requests)  # [crawl] obey_robots = false


def test_scrapy_crawl_reports_a_bad_config_on_its_last_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "epaper", "-a", "date=2023-08-01",
                             "-a", "base_url=http://127.0.0.1:9/", "-s", f"EPAPER_CONFIG={tmp_path / 'no.toml'}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120, env=clean_env())
    assert result.returncode == 1
    # Scrapy does not catch errors while it builds its CrawlerProcess: a traceback ending in our line.
    assert result.stderr.splitlines()[-1] == f"epaper.config.ConfigError: config: file {tmp_path / 'no.toml'} not found"

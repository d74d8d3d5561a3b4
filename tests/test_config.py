from __future__ import annotations

import os
from pathlib import Path

import pytest

from epaper.config import Config, ConfigError, load_config, parse_cron

EXAMPLE = Path(__file__).resolve().parent.parent / "epaper.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "epaper.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./epaper.toml here
    config = load_config(env={})
    assert config == Config()
    assert config.path is None
    assert config.portal.id == "ahjjb"
    assert config.portal.name == "安徽经济报"
    assert config.portal.base_url is None
    assert config.portal.layout == "auto"
    assert config.storage.data_dir == Path("./data")
    assert config.storage.warc is True
    assert config.schedule.cron == "30 7 * * *"
    assert config.schedule.timezone == "Asia/Shanghai"
    assert (config.schedule.catchup_days, config.schedule.run_timeout,
            config.schedule.misfire_grace_time) == (7, 3600, 3600)
    assert config.crawl.concurrency == 4
    assert config.crawl.download_delay == 0.5


def test_implicit_epaper_toml_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, '[portal]\nbase_url = "http://127.0.0.1:8000/epaper/"\n')
    monkeypatch.chdir(tmp_path)
    config = load_config(env={})
    assert config.portal.base_url == "http://127.0.0.1:8000/epaper/"
    assert config.path == Path("epaper.toml")


def test_file_values(tmp_path: Path) -> None:
    path = write(tmp_path, """
[portal]
id = "rmrb"
layout = "html"
[storage]
data_dir = "/srv/epaper"
warc = false
compact = false
[schedule]
cron = "0 6 * * 1-5"
timezone = "UTC"
catchup_days = 3
[crawl]
download_delay = 2
autothrottle = false
""")
    config = load_config(path, env={})
    assert config.portal.id == "rmrb"
    assert config.portal.layout == "html"
    assert config.storage.data_dir == Path("/srv/epaper")
    assert config.storage.warc is False
    assert config.scrapy_settings()["SNAPSHOT_COMPACT"] is False
    assert config.schedule.cron == "0 6 * * 1-5"
    assert config.schedule.catchup_days == 3
    assert config.crawl.download_delay == 2.0  # an integer is fine for a float key
    assert config.crawl.autothrottle is False
    assert config.path == path


def test_example_config_loads_and_matches_defaults() -> None:
    config = load_config(EXAMPLE, env={})
    defaults = Config()
    # The example documents the defaults (base_url, which has none, is commented out).
    assert config.schedule == defaults.schedule
    assert config.crawl == defaults.crawl
    assert config.storage == defaults.storage
    assert config.portal == defaults.portal


def test_precedence_file_env_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, """
[portal]
base_url = "http://file.example/"
[schedule]
catchup_days = 2
[storage]
data_dir = "from-file"
""")
    env = {
        "EPAPER_PORTAL_BASE_URL": "http://env.example/",
        "EPAPER_SCHEDULE_CATCHUP_DAYS": "5",
        "EPAPER_CRAWL_AUTOTHROTTLE": "no",
        "EPAPER_CRAWL_DOWNLOAD_DELAY": "0",
        "EPAPER_LOCK_HELD_BY_PARENT": "123",  # not a config key: ignored
    }
    config = load_config(path, env=env)
    assert config.portal.base_url == "http://env.example/"
    assert config.schedule.catchup_days == 5
    assert config.crawl.autothrottle is False
    assert config.crawl.download_delay == 0.0
    assert config.storage.data_dir == Path("from-file")

    config = load_config(path, env=env, overrides={
        "portal.base_url": "http://flag.example/",
        "storage.data_dir": "from-flag",
        "schedule.catchup_days": 1,
        "crawl.concurrency": None,  # flag not given: no override
    })
    assert config.portal.base_url == "http://flag.example/"
    assert config.storage.data_dir == Path("from-flag")
    assert config.schedule.catchup_days == 1
    assert config.crawl.concurrency == 4


def test_empty_env_unsets_optional_base_url(tmp_path: Path) -> None:
    path = write(tmp_path, '[portal]\nbase_url = "http://file.example/"\n')
    assert load_config(path, env={"EPAPER_PORTAL_BASE_URL": ""}).portal.base_url is None


def test_scrapy_settings() -> None:
    config = load_config(EXAMPLE, env={}, overrides={"crawl.concurrency": 8,
                                                     "portal.layout": "pc",
                                                     "portal.base_url": "http://127.0.0.1/e/",
                                                     "storage.data_dir": "/srv/epaper"})
    settings = config.scrapy_settings()
    assert settings == {
        "CONCURRENT_REQUESTS": 8,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
        "DOWNLOAD_DELAY": 0.5,
        "AUTOTHROTTLE_ENABLED": True,
        "ROBOTSTXT_OBEY": True,
        "USER_AGENT": Config().crawl.user_agent,
        "DOWNLOAD_TIMEOUT": 30,
        "RETRY_TIMES": 3,
        "EPAPER_SOURCE": "ahjjb",
        "EPAPER_LAYOUT": "pc",
        "EPAPER_BASE_URL": "http://127.0.0.1/e/",
        "SNAPSHOT_DIR": "/srv/epaper",
        "WARC_ENABLED": True,
        "SNAPSHOT_COMPACT": True,
        "MEDIA_CAPTURE": [],
        "HEALTH_HISTORY": 30,
        "HEALTH_MIN_HISTORY": 5,
        "HEALTH_FIELD_DROP": 0.25,
        "HEALTH_ARTICLES_PER_PAGE_DROP": 0.5,
        "HEALTH_BODY_CHARS_DROP": 0.5,
        "HEALTH_FALLBACK_RISE": 0.5,
        "HEALTH_MAX_CHANCE": 0.001,
        "HEALTH_EVIDENCE": 8.0,
        "HEALTH_ISSUE_EVIDENCE": 4.0,
    }


def test_config_is_frozen() -> None:
    config = Config()
    with pytest.raises(AttributeError):
        config.portal.id = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("toml", "env", "names"),
    [
        ('[schedule]\ncronn = "30 7 * * *"\n', {}, ['unknown key "schedule.cronn"']),
        ('[sched]\ncron = "30 7 * * *"\n', {}, ['unknown section "[sched]"']),
        ("portal = 3\n", {}, ['"portal"']),
        ('[schedule]\ncatchup_days = "7"\n', {}, ['"schedule.catchup_days"', "an integer"]),
        ("[schedule]\ncatchup_days = true\n", {}, ['"schedule.catchup_days"']),
        ("[storage]\nwarc = 1\n", {}, ['"storage.warc"', "a boolean"]),
        ("[crawl]\ndownload_delay = \"fast\"\n", {}, ['"crawl.download_delay"']),
        ("[portal]\nbase_url = 5\n", {}, ['"portal.base_url"']),
        ('[schedule]\ncron = "30 7 * *"\n', {}, ['"schedule.cron"', "5 fields"]),
        ('[schedule]\ncron = "61 7 * * *"\n', {}, ['"schedule.cron"']),
        ('[schedule]\ncron = "30 7 * * 9"\n', {}, ['"schedule.cron"', "day_of_week"]),
        ('[schedule]\ntimezone = "Mars/Olympus"\n', {}, ['"schedule.timezone"', "Mars/Olympus"]),
        ('[portal]\nlayout = "mobile"\n', {}, ['"portal.layout"', "mobile"]),
        ('[portal]\nbase_url = "ftp://x/"\n', {}, ['"portal.base_url"']),
        ('[portal]\nbase_url = "http://[::1/epaper/"\n', {}, ['"portal.base_url"']),
        ('[portal]\nbase_url = "http://127.0.0.1:99999/"\n', {}, ['"portal.base_url"']),
        ('[portal]\nbase_url = "http://exa mple.cn/"\n', {}, ['"portal.base_url"']),
        ("[schedule]\ncatchup_days = -1\n", {}, ['"schedule.catchup_days"']),
        ("[crawl]\nconcurrency = 0\n", {}, ['"crawl.concurrency"']),
        ("[portal\nid = 1\n", {}, ["not valid TOML"]),
        ("", {"EPAPER_SCHEDULE_CATCHUP_DAYS": "seven"},
         ['"schedule.catchup_days"', "EPAPER_SCHEDULE_CATCHUP_DAYS", "seven"]),
        ("", {"EPAPER_STORAGE_WARC": "maybe"}, ['"storage.warc"', "EPAPER_STORAGE_WARC"]),
        ("", {"EPAPER_PORTAL_LAYOUT": "mobile"}, ['"portal.layout"', "EPAPER_PORTAL_LAYOUT"]),
        ("[crawl]\ndownload_delay = nan\n", {}, ['"crawl.download_delay"', "finite"]),
        ("[crawl]\ndownload_delay = inf\n", {}, ['"crawl.download_delay"', "finite"]),
        ("[crawl]\ndownload_delay = -inf\n", {}, ['"crawl.download_delay"', "finite"]),
        ("", {"EPAPER_CRAWL_DOWNLOAD_DELAY": "nan"}, ['"crawl.download_delay"', "EPAPER_CRAWL_DOWNLOAD_DELAY"]),
        ("", {"EPAPER_CRAWL_DOWNLOAD_DELAY": "Infinity"}, ['"crawl.download_delay"', "finite"]),
    ],
)
def test_errors_are_one_line_naming_the_key(
    tmp_path: Path, toml: str, env: dict[str, str], names: list[str]
) -> None:
    path = write(tmp_path, toml)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("config: ")
    for name in names:
        assert name in message


def test_error_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[schedule]\ncronn = "x"\n')
    with pytest.raises(ConfigError, match=r'^config: unknown key "schedule.cronn" in .*epaper\.toml$'):
        load_config(path, env={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found") as info:
        load_config(tmp_path / "nope.toml", env={})
    assert "\n" not in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    path.chmod(0)
    with pytest.raises(ConfigError, match="cannot read") as info:
        load_config(path, env={})
    assert "\n" not in str(info.value)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, env={})
    assert str(tmp_path) in str(info.value)


def test_bad_override_key_and_value() -> None:
    with pytest.raises(ConfigError, match='unknown key "portal.url" from the command line'):
        load_config(None, env={}, overrides={"portal.url": "http://x/"})
    with pytest.raises(ConfigError, match='"crawl.concurrency" .* from the command line'):
        load_config(None, env={}, overrides={"crawl.concurrency": "lots"})


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("30 7 * * *", {"minute": "30", "hour": "7", "day": "*", "month": "*",
                        "day_of_week": "*"}),
        ("*/5 30 7 * * *", {"second": "*/5", "minute": "30", "hour": "7", "day": "*",
                            "month": "*", "day_of_week": "*"}),
        # crontab numbering (0 and 7 = Sunday), not APScheduler 3's (0 = Monday)
        ("0 6 * * 0", {"day_of_week": "sun"}),
        ("0 6 * * 7", {"day_of_week": "sun"}),
        ("0 6 * * 1-5", {"day_of_week": "mon,tue,wed,thu,fri"}),
        ("0 6 * * 5-7", {"day_of_week": "fri,sat,sun"}),
        ("0 6 * * */2", {"day_of_week": "tue,thu,sat,sun"}),
        ("0 6 * * sat,SUN", {"day_of_week": "sat,sun"}),
    ],
)
def test_parse_cron(expr: str, expected: dict[str, str]) -> None:
    fields = parse_cron(expr)
    for key, value in expected.items():
        assert fields[key] == value


@pytest.mark.parametrize(
    ("toml", "env", "where"),
    [
        ("[crawl]\ndownload_delay = nan\n", {}, "epaper.toml"),
        ("[crawl]\ndownload_delay = inf\n", {}, "epaper.toml"),
        ("", {"EPAPER_CRAWL_DOWNLOAD_DELAY": "nan"}, "EPAPER_CRAWL_DOWNLOAD_DELAY"),
    ],
    ids=["file-nan", "file-inf", "env-nan"],
)
def test_epaper_crawl_refuses_non_finite_numbers(tmp_path: Path, toml: str, env: dict[str, str],
                                                 where: str) -> None:
    from tests.conftest import run_epaper

    config = write(tmp_path, toml)  # explicit: a ./epaper.toml in the repository is not read
    result = run_epaper("crawl", "--date", "2023-08-01", "--base-url", "http://127.0.0.1:9/",
                        "--data", str(tmp_path / "data"), "--config", str(config), env=env, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert '"crawl.download_delay" must be a finite number' in lines[0] and where in lines[0]
    assert not (tmp_path / "data").exists()  # refused before anything was touched

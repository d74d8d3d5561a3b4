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


# ------------------------------------------------------------------ many papers in one archive

TWO = """
[storage]
data_dir = "/srv/epaper"
[crawl]
download_delay = 1.5
concurrency = 4

[[portal]]
id = "ahjjb"
name = "安徽经济报"
base_url = "http://127.0.0.1:9/ahjjb/"

[[portal]]
id = "ahnc"
name = "安徽日报农村版"
base_url = "http://127.0.0.2:9/ahnc/"
layout = "pc"
download_delay = 5
concurrency = 1
"""


def test_several_papers_each_with_its_own_crawl_keys(tmp_path: Path) -> None:
    from epaper.config import UsageError

    config = load_config(write(tmp_path, TWO), env={})
    assert config.ids == ("ahjjb", "ahnc")  # config order
    assert [(p.name, p.base_url, p.layout) for p in config.portals] == [
        ("安徽经济报", "http://127.0.0.1:9/ahjjb/", "auto"), ("安徽日报农村版", "http://127.0.0.2:9/ahnc/", "pc")]
    assert config.crawl.download_delay == 1.5  # the [crawl] section itself
    with pytest.raises(UsageError) as info:
        config.portal  # noqa: B018 - several papers: which one is meant is for --source
    assert str(info.value) == "several papers are configured (ahjjb, ahnc): pick one with --source"
    with pytest.raises(UsageError):
        config.scrapy_settings()

    first, second = config.papers()
    assert first.portals == (config.portals[0],) and second.portal is config.portals[1]
    one, two = first.scrapy_settings(), second.scrapy_settings()
    assert (one["EPAPER_SOURCE"], one["DOWNLOAD_DELAY"], one["CONCURRENT_REQUESTS"],
            one["CONCURRENT_REQUESTS_PER_DOMAIN"], one["EPAPER_LAYOUT"], one["EPAPER_BASE_URL"]) == \
        ("ahjjb", 1.5, 4, 4, "auto", "http://127.0.0.1:9/ahjjb/")
    assert (two["EPAPER_SOURCE"], two["DOWNLOAD_DELAY"], two["CONCURRENT_REQUESTS"],
            two["CONCURRENT_REQUESTS_PER_DOMAIN"], two["EPAPER_LAYOUT"], two["EPAPER_BASE_URL"]) == \
        ("ahnc", 5.0, 1, 1, "pc", "http://127.0.0.2:9/ahnc/")
    # everything else is shared
    assert one["SNAPSHOT_DIR"] == two["SNAPSHOT_DIR"] == "/srv/epaper"
    assert {k: v for k, v in one.items() if not k.startswith(("EPAPER_", "DOWNLOAD_DELAY", "CONCURRENT"))} == \
        {k: v for k, v in two.items() if not k.startswith(("EPAPER_", "DOWNLOAD_DELAY", "CONCURRENT"))}


def test_a_paper_of_several_is_the_config_of_that_paper_alone(tmp_path: Path) -> None:
    path = write(tmp_path, TWO)
    both = load_config(path, env={})
    for paper in both.papers():
        alone = load_config(path, env={}, sources=[paper.portal.id])
        assert alone == paper and alone.papers() == [alone]
        assert alone.scrapy_settings() == paper.scrapy_settings()
    # written as one [portal] table, the second paper's config is the same
    single = write(tmp_path, '[storage]\ndata_dir = "/srv/epaper"\n[crawl]\ndownload_delay = 1.5\n'
                   '[portal]\nid = "ahnc"\nname = "安徽日报农村版"\nbase_url = "http://127.0.0.2:9/ahnc/"\n'
                   'layout = "pc"\ndownload_delay = 5\nconcurrency = 1\n')
    assert load_config(single, env={}) == both.papers()[1]


def test_one_portal_table_or_one_portal_array_is_one_paper(tmp_path: Path) -> None:
    table = load_config(write(tmp_path, '[portal]\nid = "x"\nname = "X"\nbase_url = "http://127.0.0.1/x/"\n'), env={})
    array = load_config(write(tmp_path, '[[portal]]\nid = "x"\nname = "X"\nbase_url = "http://127.0.0.1/x/"\n'),
                        env={})
    assert table == array and array.portal.id == "x" and array.papers() == [array]


def test_sources_keep_the_papers_named_in_config_order(tmp_path: Path) -> None:
    path = write(tmp_path, TWO.replace('[[portal]]\nid = "ahjjb"',
                                       '[[portal]]\nid = "hbrb"\nname = "湖北日报"\nbase_url = "http://127.0.0.3/"\n'
                                       '[[portal]]\nid = "ahjjb"'))
    assert load_config(path, env={}).ids == ("hbrb", "ahjjb", "ahnc")
    assert load_config(path, env={}, sources=["ahnc", "hbrb"]).ids == ("hbrb", "ahnc")
    assert load_config(path, env={}, sources=["ahnc", "ahnc"]).ids == ("ahnc",)
    assert load_config(path, env={}, sources="ahnc").ids == ("ahnc",)  # one id, not its letters
    with pytest.raises(ConfigError) as info:
        load_config(path, env={}, sources=["ahnc", "rmrb"])
    assert str(info.value) == f"config: --source rmrb: no such paper in {path}; the papers are hbrb, ahjjb, ahnc"


def test_sources_without_a_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config(env={}, sources=["ahjjb"]) == Config()
    with pytest.raises(ConfigError, match=r"^config: --source rmrb: no such paper \(no config file: the default "
                                          r"paper\); the paper is ahjjb$"):
        load_config(env={}, sources=["rmrb"])
    # the one paper's id may come from the environment: --source names it
    assert load_config(env={"EPAPER_PORTAL_ID": "rmrb"}, sources=["rmrb"]).portal.id == "rmrb"


@pytest.mark.parametrize(("env", "overrides", "named"), [
    ({"EPAPER_PORTAL_BASE_URL": "http://127.0.0.1/e/"}, {}, "in environment variable EPAPER_PORTAL_BASE_URL"),
    ({"EPAPER_PORTAL_ID": "x"}, {}, "in environment variable EPAPER_PORTAL_ID"),
    ({}, {"portal.base_url": "http://127.0.0.1/e/"}, "from the command line"),
])
def test_portal_variables_and_flags_apply_to_one_paper(tmp_path: Path, env, overrides, named) -> None:
    path = write(tmp_path, TWO)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env, overrides=overrides)
    message = str(info.value)
    assert message.startswith("config: \"portal.") and named in message and "\n" not in message
    assert message.endswith("applies to one paper, and 2 are configured (ahjjb, ahnc): pick one with --source")
    with pytest.raises(ConfigError, match="2 are selected"):
        load_config(path, env=env, overrides=overrides, sources=["ahnc", "ahjjb"])
    # one paper meant: it applies to that one
    one = load_config(path, env=env, overrides=overrides, sources=["ahnc"])
    key, value = next(iter({**{k.removeprefix("EPAPER_PORTAL_").lower(): v for k, v in env.items()},
                            **{k.removeprefix("portal."): v for k, v in overrides.items()}}.items()))
    assert getattr(one.portal, key) == value
    assert one.scrapy_settings()["DOWNLOAD_DELAY"] == 5.0  # still that paper's own


def test_a_flag_not_given_is_no_portal_override(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, TWO), env={}, overrides={"portal.base_url": None, "storage.data_dir": "d"})
    assert config.ids == ("ahjjb", "ahnc") and config.storage.data_dir == Path("d")


def test_crawl_variables_and_flags_win_over_every_papers_own_keys(tmp_path: Path) -> None:
    path = write(tmp_path, TWO)
    config = load_config(path, env={"EPAPER_CRAWL_DOWNLOAD_DELAY": "0"}, overrides={"crawl.concurrency": 16})
    assert [(p.crawl.download_delay, p.crawl.concurrency) for p in config.papers()] == [(0.0, 16), (0.0, 16)]
    alone = load_config(path, env={"EPAPER_CRAWL_DOWNLOAD_DELAY": "0"}, sources=["ahnc"])
    assert (alone.crawl.download_delay, alone.crawl.concurrency) == (0.0, 1)
    assert alone.papers() == [alone]


def test_config_of_one_portal_built_in_code() -> None:
    import dataclasses

    from epaper.config import PortalConfig

    config = Config(portal=PortalConfig(id="given"))
    assert config.portals == (PortalConfig(id="given"),) and config.portal.id == "given"
    several = Config(portals=(PortalConfig(id="a"), PortalConfig(id="b", crawl_overrides=(("retry_times", 9),))))
    assert [p.crawl.retry_times for p in several.papers()] == [3, 9]
    assert dataclasses.replace(several, portal=PortalConfig(id="c")).ids == ("c",)
    assert dataclasses.replace(several, crawl=dataclasses.replace(several.crawl, retry_times=1)).ids == ("a", "b")
    assert Config() == Config(portals=(PortalConfig(),)) and hash(Config()) == hash(Config(portal=PortalConfig()))
    with pytest.raises(ValueError):
        Config(portals=())
    # Scrapy deep-copies its settings, EPAPER_CONFIG among them; a child may get it pickled
    import copy
    import pickle

    assert copy.deepcopy(several) == several == pickle.loads(pickle.dumps(several))


PAPER = '[[portal]]\nid = "{id}"\nname = "N"\nbase_url = "http://127.0.0.1/{id}/"\n'
A, B = PAPER.format(id="a"), PAPER.format(id="b")


@pytest.mark.parametrize(("toml", "names"), [
    (A + B + PAPER.format(id="a"), ['paper id "a" is given twice', "[[portal]] tables 1 and 3"]),
    ('[portal]\nid = "a"\n' + B, ["both a [portal] table and [[portal]] tables"]),
    (B + '[portal]\nid = "a"\n', ["both a [portal] table and [[portal]] tables"]),
    (A + B.replace('"b"', '"Bad Id"'), ["[[portal]] table 2", "'Bad Id'", "[a-z0-9_-]+"]),
    (A + B.replace('"b"', '"../b"'), ["[[portal]] table 2", "'../b'", "[a-z0-9_-]+"]),
    (A + B.replace('id = "b"\n', ""), ['[[portal]] table 2 has no "id"']),
    (A + B.replace('name = "N"\n', ""), ['[[portal]] table 2 (paper "b") has no "name"']),
    (A + B.replace('base_url = "http://127.0.0.1/b/"\n', ""), ['[[portal]] table 2 (paper "b") has no "base_url"']),
    (A + B + "donwload_delay = 5\n", ['unknown key "portal.donwload_delay"', 'for paper "b"']),
    (A + B + 'download_delay = "slow"\n', ['"portal.download_delay" must be a number', 'for paper "b"']),
    (A + B + "download_delay = nan\n", ['"portal.download_delay" must be a finite number', 'for paper "b"']),
    (A + B + "concurrency = 0\n", ['"portal.concurrency" must be 1 or more', 'for paper "b"']),
    (A + B + "download_delay = -1\n", ['"portal.download_delay" must be 0 or more', 'for paper "b"']),
    (A + B.replace("http://127.0.0.1/b/", "ftp://127.0.0.1/b/"), ['"portal.base_url" must be an http(s) URL',
                                                                   'for paper "b"']),
    (A + B + 'layout = "mobile"\n', ['"portal.layout"', "mobile", 'for paper "b"']),
    (A + B + "[portal.crawl]\ndownload_delay = 5\n", ['unknown key "portal.crawl"', 'for paper "b"',
                                                       "directly in its table"]),
    (A + B + "cron = '0 6 * * *'\n", ['unknown key "portal.cron"', 'for paper "b"']),
    ("portal = []\n", ['"portal" is an empty array']),
    ("portal = [1]\n", ["[[portal]] 1 must be a table"]),
    ('[portal]\nid = "Ahjjb"\n', ['"portal.id" must match [a-z0-9_-]+', "'Ahjjb'"]),
    ('[portal]\nid = ""\n', ['"portal.id" must match [a-z0-9_-]+']),
    ('[portal]\ndownload_delay = -1\n', ['"portal.download_delay" must be 0 or more seconds in']),
])
def test_errors_of_several_papers_are_one_line(tmp_path: Path, toml: str, names: list[str]) -> None:
    path = write(tmp_path, toml)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    message = str(info.value)
    assert "\n" not in message and message.startswith("config: ") and str(path) in message
    for name in names:
        assert name in message, message


def test_a_bad_id_from_the_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r'^config: "portal.id" must match .* in environment variable EPAPER_PORTAL_ID$'):
        load_config(write(tmp_path, ""), env={"EPAPER_PORTAL_ID": "a/b"})


def test_example_config_documents_several_papers(tmp_path: Path) -> None:
    # The example's commented [[portal]] tables, uncommented in place of its [portal] table, load.
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    start = lines.index("# --- several papers: in place of the [portal] table above ---")
    block = []
    for line in lines[start + 1:]:
        if line == "#":
            block.append("")
        elif line.startswith("# "):
            block.append(line[2:])
        else:
            break
    text = EXAMPLE.read_text(encoding="utf-8")
    single = text[text.index("\n[portal]\n"):text.index("\n[storage]\n")]
    config = load_config(write(tmp_path, text.replace(single, "\n" + "\n".join(block) + "\n")), env={})
    assert len(config.portals) >= 2
    assert any(p.crawl_overrides for p in config.portals)

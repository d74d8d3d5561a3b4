"""The ``epaper.toml`` configuration: file, then environment, then command-line flags.

The file holds one paper (a ``[portal]`` table) or several (``[[portal]]`` tables, each with
its own ``id``, ``name``, ``base_url``, ``layout`` and its own values of ``[crawl]`` keys).
:attr:`Config.portals` lists them; :meth:`Config.papers` gives one single-paper Config per
paper, which behaves as the whole config did when there was one paper. ``load_config(...,
sources=[...])`` keeps the papers ``--source`` names.

Precedence, lowest first: built-in defaults, the TOML file, environment variables
``EPAPER_<SECTION>_<KEY>`` (e.g. ``EPAPER_PORTAL_BASE_URL``), then ``overrides`` from
command-line flags (keys ``"portal.base_url"``, ``"storage.data_dir"``, ...).

Every problem a user could have caused raises :class:`ConfigError` whose message is one
line naming the key and where it came from; nothing here prints or exits.

:meth:`Config.scrapy_settings` is the one mapping from the config to Scrapy settings; the
add-on :class:`epaper.addon.ConfigAddon` applies it to every crawl. The keys that become
settings take those settings' defaults from ``crawler/settings.py``. The end of the module
checks ``-s NAME=VALUE`` against the same table.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from epaper.crawler import settings as _defaults
from epaper.crawler.arguments import LAYOUTS, check_media_maxsize, media_kinds
from epaper.pipelines.health import Thresholds
from epaper.storage.parquet import SOURCE_ID

if TYPE_CHECKING:
    from scrapy.settings import Settings

DEFAULT_CONFIG_FILE = "epaper.toml"
ENV_PREFIX = "EPAPER_"


class UsageError(Exception):
    """A mistake the user can fix; printed as one line, exit status 2."""


class ConfigError(UsageError):
    """A configuration problem; ``str()`` is one line naming the key."""


# The defaults of the keys that become Scrapy settings are those settings' defaults: one table.
@dataclass(frozen=True)
class PortalConfig:
    id: str = _defaults.EPAPER_SOURCE
    name: str = "安徽经济报"
    # No default: the real e-paper root has to come from the file, env or --base-url.
    base_url: str | None = None
    layout: str = _defaults.EPAPER_LAYOUT
    # This paper's own values of [crawl] keys, written in its [[portal]] table (sorted
    # (key, value) pairs; hashable). Config.papers() lays them over the [crawl] section. A key
    # also set by an EPAPER_CRAWL_* variable or a flag is not kept: those win over the file.
    crawl_overrides: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class StorageConfig:
    # A local folder, or "s3://bucket/prefix" kept as text (Path would read it as "s3:/bucket/prefix").
    data_dir: Path = Path(_defaults.SNAPSHOT_DIR)
    # Where an s3:// archive's local working copy lives (storage.objectstore); "" for
    # $XDG_CACHE_HOME/epaper or ~/.cache/epaper.
    cache_dir: str = ""
    # How long a paper's lease in an s3:// archive runs unrenewed before another run may take it
    # over (epaper.lease).
    lease_seconds: int = 120
    warc: bool = _defaults.WARC_ENABLED
    compact: bool = _defaults.SNAPSHOT_COMPACT
    # Page PDFs, scans and article images kept in warc/ (crawler.media): pdf, scan, images.
    media: tuple[str, ...] = tuple(_defaults.MEDIA_CAPTURE)
    # Retention of logs/*.log and of runs/runs.jsonl (epaper.retention); 0 keeps everything.
    log_retention_days: int = 90
    runs_retention_days: int = 365


@dataclass(frozen=True)
class ScheduleConfig:
    cron: str = "30 7 * * *"
    timezone: str = "Asia/Shanghai"
    catchup_days: int = 7
    run_timeout: int = 3600
    misfire_grace_time: int = 3600
    # A failed run (a child exit status other than 0 and 3, or an error) is tried again after
    # retry_delay seconds, doubled for each further retry, at most `retries` times, and never
    # past the next scheduled run.
    retries: int = 4
    retry_delay: float = 900.0
    # Archived issues are crawled again this many days after their date (the day after, a week
    # after), with conditional requests: an unchanged page costs a 304, a correction is caught.
    recheck_days: tuple[int, ...] = (1, 7)

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class CrawlConfig:
    concurrency: int = _defaults.CONCURRENT_REQUESTS
    download_delay: float = _defaults.DOWNLOAD_DELAY
    autothrottle: bool = _defaults.AUTOTHROTTLE_ENABLED
    obey_robots: bool = _defaults.ROBOTSTXT_OBEY
    user_agent: str = _defaults.USER_AGENT
    download_timeout: int = _defaults.DOWNLOAD_TIMEOUT
    retry_times: int = _defaults.RETRY_TIMES


@dataclass(frozen=True)
class HealthConfig:
    # When an archived date is suspect (pipelines.health; the HEALTH_* settings).
    history: int = _defaults.HEALTH_HISTORY
    min_history: int = _defaults.HEALTH_MIN_HISTORY
    field_drop: float = _defaults.HEALTH_FIELD_DROP
    articles_per_page_drop: float = _defaults.HEALTH_ARTICLES_PER_PAGE_DROP
    body_chars_drop: float = _defaults.HEALTH_BODY_CHARS_DROP
    fallback_rise: float = _defaults.HEALTH_FALLBACK_RISE
    max_chance: float = _defaults.HEALTH_MAX_CHANCE
    evidence: float = _defaults.HEALTH_EVIDENCE
    issue_evidence: float = _defaults.HEALTH_ISSUE_EVIDENCE
    # `epaper status` is unhealthy when the last successful run ended longer ago than this.
    max_success_age_hours: float = 48.0


@dataclass(frozen=True, init=False)
class Config:
    """The whole configuration. ``portals`` holds the papers in config order (at least one).

    Where one paper is meant, ``config.portal`` is that paper; a config of several papers
    raises :class:`UsageError` there. :meth:`papers` splits a config into one Config per
    paper, each a single-paper config whose ``crawl`` is that paper's own.

    ``Config(portal=...)`` (and ``dataclasses.replace(config, portal=...)``) makes a config
    of that one paper.
    """

    portals: tuple[PortalConfig, ...] = (PortalConfig(),)
    storage: StorageConfig = StorageConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    # The [crawl] section; in a single-paper config, with the paper's own keys laid over it.
    crawl: CrawlConfig = CrawlConfig()
    health: HealthConfig = HealthConfig()
    # The file the values came from (None: defaults only); passed on to child crawls.
    path: Path | None = None

    def __init__(self, portal: PortalConfig | None = None, storage: StorageConfig = StorageConfig(),
                 schedule: ScheduleConfig = ScheduleConfig(), crawl: CrawlConfig = CrawlConfig(),
                 health: HealthConfig = HealthConfig(), path: Path | None = None, *,
                 portals: tuple[PortalConfig, ...] | None = None) -> None:
        chosen = (portal,) if portal is not None else tuple(portals) if portals is not None else (PortalConfig(),)
        if not chosen:
            raise ValueError("a Config holds at least one paper")
        for name, value in (("portals", chosen), ("storage", storage), ("schedule", schedule),
                            ("crawl", crawl), ("health", health), ("path", path)):
            object.__setattr__(self, name, value)

    @property
    def portal(self) -> PortalConfig:
        """The one paper; a UsageError when several are configured (pick one with --source)."""
        if len(self.portals) == 1:
            return self.portals[0]
        raise UsageError(f"several papers are configured ({', '.join(self.ids)}): pick one with --source")

    @property
    def ids(self) -> tuple[str, ...]:
        """The papers' ids, in config order."""
        return tuple(p.id for p in self.portals)

    def papers(self) -> list[Config]:
        """One single-paper Config per paper, in config order; each one's ``crawl`` is the
        [crawl] section with that paper's own keys laid over it."""
        return [Config(portals=(p,), storage=self.storage, schedule=self.schedule,
                       crawl=dataclasses.replace(self.crawl, **dict(p.crawl_overrides)),
                       health=self.health, path=self.path) for p in self.portals]

    def scrapy_settings(self) -> dict[str, Any]:
        """The Scrapy settings the config sets; the one mapping, applied by epaper.addon.
        Of one paper: a config of several raises UsageError (use :meth:`papers`)."""
        c = self.crawl
        portal = self.portal
        return {
            "CONCURRENT_REQUESTS": c.concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": c.concurrency,
            "DOWNLOAD_DELAY": c.download_delay,
            "AUTOTHROTTLE_ENABLED": c.autothrottle,
            "ROBOTSTXT_OBEY": c.obey_robots,
            "USER_AGENT": c.user_agent,
            "DOWNLOAD_TIMEOUT": c.download_timeout,
            "RETRY_TIMES": c.retry_times,
            "EPAPER_SOURCE": portal.id,
            "EPAPER_LAYOUT": portal.layout,
            "EPAPER_BASE_URL": portal.base_url or "",
            "SNAPSHOT_DIR": str(self.storage.data_dir),
            "WARC_ENABLED": self.storage.warc,
            "SNAPSHOT_COMPACT": self.storage.compact,
            "MEDIA_CAPTURE": list(self.storage.media),
            **{f"HEALTH_{f.name.upper()}": getattr(self.health, f.name) for f in dataclasses.fields(HealthConfig)
               if f.name != "max_success_age_hours"},
        }


_SECTIONS: dict[str, type] = {
    "portal": PortalConfig,
    "storage": StorageConfig,
    "schedule": ScheduleConfig,
    "crawl": CrawlConfig,
    "health": HealthConfig,
}

# Key -> (python type, optional). Derived once from the dataclasses' annotations.
_KIND = {
    "str": (str, False),
    "str | None": (str, True),
    "Path": (Path, False),
    "bool": (bool, False),
    "int": (int, False),
    "float": (float, False),
    "tuple[int, ...]": (tuple, False),  # a TOML array of integers; "1,7" in the environment
    "tuple[str, ...]": (list, False),  # a TOML array of strings; "pdf,scan" in the environment
}
# Fields that are not keys of the file (PortalConfig.crawl_overrides: the [crawl] keys
# written in a portal table, checked as [crawl]'s).
_NOT_KEYS = {"crawl_overrides"}


def _field_kinds(cls: type) -> dict[str, tuple[type, bool]]:
    return {f.name: _KIND[str(f.type)] for f in dataclasses.fields(cls) if f.name not in _NOT_KEYS}


_FIELDS: dict[str, dict[str, tuple[type, bool]]] = {
    name: _field_kinds(cls) for name, cls in _SECTIONS.items()
}

_TYPE_NAMES = {str: "a string", Path: "a path string", bool: "a boolean", int: "an integer",
               float: "a number", tuple: "a list of integers", list: "a list of strings"}

# A paper's id names its folder in the archive (source=ID): nothing a path could misread.
# Keys every [[portal]] table must give (one [portal] table may leave them to the defaults,
# the environment and --base-url, as before there were several papers).
_REQUIRED = ("id", "name", "base_url")


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] = os.environ,
    overrides: Mapping[str, object] | None = None,
    sources: Sequence[str] = (),
) -> Config:
    """Read the config; ``path=None`` uses ``./epaper.toml`` when it exists, else defaults.

    ``sources`` (paper ids, from ``--source``) keeps only those papers, in config order; empty
    keeps every one. ``EPAPER_PORTAL_*`` and ``portal.*`` overrides apply where exactly one
    paper is meant: with several left they are an error.
    """
    file_path: Path | None
    if path is None:
        candidate = Path(DEFAULT_CONFIG_FILE)
        file_path = candidate if candidate.is_file() else None
    else:
        file_path = Path(path)

    values: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    origins: _Origins = {}
    papers = [_Paper({}, {}, {})]  # without a file: the one default paper
    if file_path is not None:
        papers = _merge_file(values, origins, file_path) or papers
    portal_values: dict[str, Any] = {}  # EPAPER_PORTAL_* and portal.* overrides, applied below
    portal_origins: _Origins = {}
    late: set[tuple[str, str]] = set()  # keys set by the environment or a flag: they beat the file
    _merge_env(values, origins, env, portal_values, portal_origins, late)
    _merge_overrides(values, origins, overrides or {}, portal_values, portal_origins, late)

    if len(papers) == 1:
        papers[0].apply(portal_values, portal_origins)
        papers = _select(papers, sources, file_path)
    else:
        papers = _select(papers, sources, file_path)
        if len(papers) == 1:
            papers[0].apply(portal_values, portal_origins)
        elif portal_origins:
            (section, key), (_, where) = next(iter(portal_origins.items()))
            raise ConfigError(f'config: "{section}.{key}" {where} applies to one paper, and '
                              f'{len(papers)} are {"selected" if sources else "configured"} '
                              f'({", ".join(p.id for p in papers)}): '
                              "pick one with --source")

    crawl = CrawlConfig(**values["crawl"])
    portals = []
    for paper in papers:
        own = {k: v for k, v in paper.crawl.items() if ("crawl", k) not in late}
        portal = PortalConfig(**paper.portal, crawl_overrides=tuple(sorted(own.items())))
        _validate_portal(portal, paper.origins)
        _validate_crawl(dataclasses.replace(crawl, **own), {**origins, **paper.crawl_origins(own)})
        portals.append(portal)
    config = Config(portals=tuple(portals), storage=StorageConfig(**values["storage"]),
                    schedule=ScheduleConfig(**values["schedule"]), crawl=crawl,
                    health=HealthConfig(**values["health"]), path=file_path)
    _validate(config, origins)
    if len(portals) == 1:
        config = config.papers()[0]  # one paper: its own crawl keys are the config's [crawl]
    return config


# ---------------------------------------------------------------------------- sources

_Values = dict[str, dict[str, Any]]
# (section, key) -> (the key as the user wrote it, where its final value came from: "in
# epaper.toml", ...), for messages.
_Origins = dict[tuple[str, str], tuple[str, str]]


@dataclass
class _Paper:
    """One portal table as read, before the Config is built."""

    portal: dict[str, Any]
    crawl: dict[str, Any]  # its own [crawl] keys
    origins: _Origins

    @property
    def id(self) -> str:
        return str(self.portal.get("id", PortalConfig.id))

    def apply(self, values: dict[str, Any], origins: _Origins) -> None:
        """EPAPER_PORTAL_* and portal.* flags: over this paper, the one meant."""
        self.portal.update(values)
        self.origins.update(origins)

    def crawl_origins(self, keys: Mapping[str, Any]) -> _Origins:
        return {("crawl", k): self.origins[("portal", k)] for k in keys}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        return tomllib.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config: file {path} not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config: {path} is not valid UTF-8 TOML") from None
    except tomllib.TOMLDecodeError as exc:
        text = raw.decode("utf-8")
        if re.search(r"(?m)^[ \t]*\[[ \t]*portal[ \t]*\]", text) and re.search(r"(?m)^[ \t]*\[\[[ \t]*portal[ \t]*\]\]", text):
            raise ConfigError(f"config: {path} has both a [portal] table and [[portal]] tables: one paper is "
                              "one [portal] table, several are [[portal]] tables, one each") from None
        raise ConfigError(f"config: {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"config: cannot read {path}: {exc.strerror or exc}") from None


def _merge_file(values: _Values, origins: _Origins, path: Path) -> list[_Paper]:
    """Merge the file's sections into `values`; its portal tables, as read (none: [])."""
    where = f"in {path}"
    data = _read_toml(path)
    papers: list[_Paper] = []
    for section, table in data.items():
        if section not in _FIELDS:
            raise ConfigError(f'config: unknown section "[{section}]" {where}')
        if section == "portal" and isinstance(table, list):
            papers = _read_papers(table, path)
            continue
        if not isinstance(table, dict):
            also = " or [[portal]] tables" if section == "portal" else ""
            raise ConfigError(f'config: "{section}" must be a [{section}] table{also} {where}')
        if section == "portal":
            papers = [_read_paper(table, where)]
            continue
        for key, raw in table.items():
            if key not in _FIELDS[section]:
                raise ConfigError(f'config: unknown key "{section}.{key}" {where}')
            values[section][key] = _check_type(section, key, raw, where)
            origins[(section, key)] = (f"{section}.{key}", where)
    return papers


def _read_papers(tables: list[Any], path: Path) -> list[_Paper]:
    if not tables:
        raise ConfigError(f'config: "portal" is an empty array in {path}: give each paper a [[portal]] table')
    papers: list[_Paper] = []
    first: dict[str, int] = {}
    for number, table in enumerate(tables, 1):
        if not isinstance(table, dict):
            raise ConfigError(f"config: [[portal]] {number} must be a table, not {_describe(table)} in {path}")
        raw_id = table.get("id")
        if not isinstance(raw_id, str) or not SOURCE_ID.fullmatch(raw_id):
            problem = "has no \"id\"" if raw_id is None else \
                f'has "id" = {raw_id!r}: a paper id must match [a-z0-9_-]+ (it names its folder source=ID)'
            raise ConfigError(f"config: [[portal]] table {number} {problem} in {path}")
        if raw_id in first:
            raise ConfigError(f'config: paper id "{raw_id}" is given twice ([[portal]] tables {first[raw_id]} '
                              f"and {number}) in {path}: each paper needs its own id")
        first[raw_id] = number
        label = f'paper "{raw_id}"'
        paper = _read_paper(table, f"for {label} in {path}")
        missing = [k for k in _REQUIRED if k not in table]
        if missing:
            raise ConfigError(f'config: [[portal]] table {number} ({label}) has no "{missing[0]}" in {path}')
        papers.append(paper)
    return papers


def _read_paper(table: dict[str, Any], where: str) -> _Paper:
    paper = _Paper({}, {}, {})
    for key, raw in table.items():
        if key in _FIELDS["portal"]:
            paper.portal[key] = _check_type("portal", key, raw, where)
        elif key in _FIELDS["crawl"]:
            paper.crawl[key] = _check_type("crawl", key, raw, where, shown=f"portal.{key}")
        else:
            hint = " (write the paper's [crawl] keys directly in its table)" if key == "crawl" else ""
            raise ConfigError(f'config: unknown key "portal.{key}" {where}{hint}')
        paper.origins[("portal", key)] = (f"portal.{key}", where)
    return paper


def _select(papers: list[_Paper], sources: Sequence[str], path: Path | None) -> list[_Paper]:
    """The papers `sources` names (every one when empty), in config order."""
    if not sources:
        return papers
    if isinstance(sources, str):
        sources = (sources,)  # one id, not its letters
    known = [p.id for p in papers]
    for wanted in sources:
        if wanted not in known:
            where = f"in {path}" if path is not None else "(no config file: the default paper)"
            raise ConfigError(f'config: --source {wanted}: no such paper {where}; '
                              f'{"the papers are" if len(known) > 1 else "the paper is"} {", ".join(known)}')
    return [p for p in papers if p.id in sources]


def _merge_env(values: _Values, origins: _Origins, env: Mapping[str, str],
               portal_values: dict[str, Any], portal_origins: _Origins, late: set[tuple[str, str]]) -> None:
    # Only the known names are looked up: other EPAPER_* variables (e.g.
    # EPAPER_LOCK_HELD_BY_PARENT) are not configuration keys.
    for section, fields in _FIELDS.items():
        for key in fields:
            name = f"{ENV_PREFIX}{section.upper()}_{key.upper()}"
            if name in env:
                where = f"in environment variable {name}"
                value = _parse_text(section, key, env[name], where)
                if section == "portal":
                    portal_values[key] = value
                    portal_origins[(section, key)] = (f"{section}.{key}", where)
                else:
                    values[section][key] = value
                    origins[(section, key)] = (f"{section}.{key}", where)
                    late.add((section, key))


def _merge_overrides(values: _Values, origins: _Origins, overrides: Mapping[str, object],
                     portal_values: dict[str, Any], portal_origins: _Origins, late: set[tuple[str, str]]) -> None:
    for dotted, raw in overrides.items():
        section, _, key = dotted.partition(".")
        where = "from the command line"
        if section not in _FIELDS or key not in _FIELDS[section]:
            raise ConfigError(f'config: unknown key "{dotted}" {where}')
        if raw is None:
            continue  # a flag that was not given
        if isinstance(raw, str):
            value = _parse_text(section, key, raw, where)
        else:
            value = _check_type(section, key, raw, where)
        if section == "portal":
            portal_values[key] = value
            portal_origins[(section, key)] = (dotted, where)
        else:
            values[section][key] = value
            origins[(section, key)] = (dotted, where)
            late.add((section, key))


# ---------------------------------------------------------------------------- typing

def _check_type(section: str, key: str, raw: object, where: str, shown: str | None = None) -> Any:
    """`raw` as the key's type; `shown` is the key as messages name it (default section.key)."""
    typ, optional = _FIELDS[section][key]
    shown = shown or f"{section}.{key}"
    ok: bool
    if typ is bool:
        ok = isinstance(raw, bool)
    elif typ is int:
        ok = isinstance(raw, int) and not isinstance(raw, bool)
    elif typ is float:
        ok = isinstance(raw, (int, float)) and not isinstance(raw, bool)
        if ok:
            raw = float(raw)  # type: ignore[arg-type]
    elif typ is tuple:
        ok = isinstance(raw, (list, tuple)) and all(isinstance(x, int) and not isinstance(x, bool) for x in raw)
        if ok:
            raw = tuple(raw)  # type: ignore[arg-type]
    elif typ is list:
        ok = isinstance(raw, (list, tuple)) and all(isinstance(x, str) for x in raw)
        if ok:
            raw = tuple(raw)  # type: ignore[arg-type]
    elif typ is Path:
        ok = isinstance(raw, (str, os.PathLike))
        if ok and not _is_s3(raw):
            raw = Path(raw)  # type: ignore[arg-type]
    else:
        ok = isinstance(raw, str) or (optional and raw is None)
    if not ok:
        raise ConfigError(f'config: "{shown}" must be {_TYPE_NAMES[typ]}, not {_describe(raw)} {where}')
    return _finite(shown, raw, where)


def _finite(shown: str, value: Any, where: str) -> Any:
    # TOML has nan and inf, float() reads them: a delay of inf would hang the crawl.
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f'config: "{shown}" must be a finite number, not {value} {where}')
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse_text(section: str, key: str, text: str, where: str) -> Any:
    """A value given as text (environment, command line), parsed to the key's type."""
    typ, optional = _FIELDS[section][key]
    stripped = text.strip()
    if optional and stripped == "":
        return None
    try:
        if typ is bool:
            low = stripped.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError
        if typ is int:
            return int(stripped)
        if typ is float:
            return _finite(f"{section}.{key}", float(stripped), where)
        if typ is tuple:
            return tuple(int(part) for part in stripped.split(",") if part.strip())
        if typ is list:
            return tuple(part.strip() for part in stripped.split(",") if part.strip())
    except ValueError:
        raise ConfigError(
            f'config: "{section}.{key}" must be {_TYPE_NAMES[typ]}, not {text!r} {where}'
        ) from None
    if typ is Path:
        return text if _is_s3(text) else Path(text)
    return text


def _is_s3(raw: object) -> bool:
    """An s3:// archive root (storage.objectstore), kept as text."""
    return isinstance(raw, str) and raw.startswith("s3://")


def _describe(raw: object) -> str:
    if isinstance(raw, bool):
        return f"boolean {str(raw).lower()}"
    if isinstance(raw, (int, float)):
        return f"number {raw}"
    if isinstance(raw, str):
        return f"string {raw!r}"
    if isinstance(raw, dict):
        return "a table"
    if isinstance(raw, list):
        return "an array"
    return type(raw).__name__


# ---------------------------------------------------------------------------- values

def is_http_url(url: str) -> bool:
    """An http(s) URL with a host, a numeric port if any, and no whitespace or control chars."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.hostname)
            and not any(c.isspace() or ord(c) < 32 for c in url))


def _failing(origins: _Origins):
    def fail(section: str, key: str, problem: str) -> None:
        shown, where = origins.get((section, key), (f"{section}.{key}", "(default)"))
        raise ConfigError(f'config: "{shown}" {problem} {where}')
    return fail


def _validate_portal(p: PortalConfig, origins: _Origins) -> None:
    fail = _failing(origins)
    if not SOURCE_ID.fullmatch(p.id):
        fail("portal", "id", f"must match [a-z0-9_-]+ (it names the paper's folder source=ID), not {p.id!r}")
    if p.layout not in LAYOUTS:
        fail("portal", "layout", f"must be one of {', '.join(LAYOUTS)}, not {p.layout!r}")
    if p.base_url is not None and not is_http_url(p.base_url):
        fail("portal", "base_url", f"must be an http(s) URL, not {p.base_url!r}")


def _validate_crawl(c: CrawlConfig, origins: _Origins) -> None:
    fail = _failing(origins)
    if c.concurrency < 1:
        fail("crawl", "concurrency", "must be 1 or more")
    if c.download_delay < 0:
        fail("crawl", "download_delay", "must be 0 or more seconds")
    if c.download_timeout <= 0:
        fail("crawl", "download_timeout", "must be more than 0 seconds")
    if c.retry_times < 0:
        fail("crawl", "retry_times", "must be 0 or more")
    if not c.user_agent.strip():
        fail("crawl", "user_agent", "must not be empty")


def _validate(config: Config, origins: _Origins) -> None:
    """The sections every paper shares (the portals and their crawl keys are checked as read)."""
    fail = _failing(origins)
    _validate_crawl(config.crawl, origins)

    if config.storage.log_retention_days < 0:
        fail("storage", "log_retention_days", "must be 0 (keep everything) or more")
    if config.storage.lease_seconds < 3:
        fail("storage", "lease_seconds", "must be 3 or more")
    if config.storage.runs_retention_days < 0:
        fail("storage", "runs_retention_days", "must be 0 (keep everything) or more")

    try:
        media_kinds(config.storage.media)
    except ValueError as exc:
        fail("storage", "media", f"has an {exc}")

    if _is_s3(config.storage.data_dir):
        from epaper.storage.objectstore import parse_s3

        try:
            parse_s3(config.storage.data_dir)  # type: ignore[arg-type]
        except ValueError as exc:
            fail("storage", "data_dir", str(exc))
    elif re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", str(config.storage.data_dir)) or \
            re.match(r"[A-Za-z][A-Za-z0-9+.-]+:/", str(config.storage.data_dir)):
        # Path("s3://bucket/x") is the local folder "s3:/bucket/x": refuse it rather than
        # archive into a folder named "s3:".
        fail("storage", "data_dir", f"must be a local directory or s3://bucket/prefix, not a URL: "
                                   f"{str(config.storage.data_dir)!r}")

    s = config.schedule
    try:
        parse_cron(s.cron)
    except ValueError as exc:
        fail("schedule", "cron", f"is not a valid cron expression ({exc})")
    try:
        ZoneInfo(s.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        fail("schedule", "timezone", f"is not a known time zone: {s.timezone!r}")
    if s.catchup_days < 0:
        fail("schedule", "catchup_days", "must be 0 or more")
    if s.run_timeout <= 0:
        fail("schedule", "run_timeout", "must be more than 0 seconds")
    if s.misfire_grace_time < 0:
        fail("schedule", "misfire_grace_time", "must be 0 or more seconds")
    if s.retries < 0:
        fail("schedule", "retries", "must be 0 or more")
    if s.retry_delay <= 0:
        fail("schedule", "retry_delay", "must be more than 0 seconds")
    if any(days < 1 or days > 366 for days in s.recheck_days):
        fail("schedule", "recheck_days", "must be days from 1 to 366 after the issue date")

    h = config.health
    thresholds = {f.name: getattr(h, f.name) for f in dataclasses.fields(Thresholds)}
    for key, problem in Thresholds(**thresholds).problems():
        fail("health", key, problem)
    if h.max_success_age_hours <= 0:
        fail("health", "max_success_age_hours", "must be more than 0 hours")


# ---------------------------------------------------------------------------- cron

_CRON_5 = ("minute", "hour", "day", "month", "day_of_week")
_CRON_6 = ("second",) + _CRON_5
_DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbering, 0 = Sunday


def parse_cron(expr: str) -> dict[str, str]:
    """CronTrigger keyword arguments for a crontab line (5 fields, or 6 with seconds first).

    Day-of-week numbers follow crontab (0 and 7 are Sunday), not APScheduler 3, where 0
    is Monday: they are translated to day names. Raises ValueError when invalid.
    """
    from apscheduler.triggers.cron import CronTrigger

    parts = expr.split()
    if len(parts) == 5:
        names = _CRON_5
    elif len(parts) == 6:
        names = _CRON_6
    else:
        raise ValueError(f"expected 5 fields (minute hour day month day_of_week), got {len(parts)}")
    fields = dict(zip(names, parts))
    fields["day_of_week"] = _crontab_dow(fields["day_of_week"])
    try:
        CronTrigger(**fields, timezone="UTC")  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc).splitlines()[0] if str(exc) else "invalid field") from None
    return fields


def _crontab_dow(field: str) -> str:
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"bad step in day_of_week {field!r}")
            step = int(step_text)
        if base == "*":
            lo, hi = 0, 6
        elif "-" in base:
            a, _, b = base.partition("-")
            lo, hi = _dow_value(a, field), _dow_value(b, field)
            if hi == 0 and lo > 0:  # "5-7", "fri-sun": Sunday closes the week
                hi = 7
            if lo > hi:
                raise ValueError(f"day_of_week range {base!r} runs backwards")
        else:
            lo = hi = _dow_value(base, field)
            if slash:
                hi = 6
        days.update(d % 7 for d in range(lo, hi + 1, step))
    order = (1, 2, 3, 4, 5, 6, 0)  # APScheduler expects names; list Monday first
    return ",".join(_DOW_NAMES[d] for d in order if d in days)


def _dow_value(token: str, field: str) -> int:
    token = token.strip().lower()
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token) % 7
    if token[:3] in _DOW_NAMES and len(token) == 3:
        return _DOW_NAMES.index(token)
    raise ValueError(f"bad day_of_week {field!r}")


# ------------------------------------------------------------------ -s NAME=VALUE


def project_settings() -> Settings:
    """Every setting there is: Scrapy's defaults, and crawler/settings.py's over them."""
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule(_defaults, priority="project")
    return settings


def own_settings() -> dict[str, Any]:
    """The project's own settings (those Scrapy does not define) with their defaults.

    For component tests: ``get_crawler(settings_dict={**own_settings(), ...})`` builds a
    crawler whose components find every default they read.
    """
    from scrapy.settings import default_settings

    return {name: getattr(_defaults, name) for name in dir(_defaults)
            if name.isupper() and not hasattr(default_settings, name)}


# -s settings that must come from their own flag: they name the archive the lock protects,
# or the config and its add-on, which epaper crawl resolves from its own flags.
NOT_FROM_S = {"SNAPSHOT_DIR": "use --data", "WARC_REPLAY_DIR": "use epaper reparse",
              "ITEM_PIPELINES": "the archive's pipelines are fixed", "EPAPER_CONFIG": "use --config",
              "EPAPER_BASE_URL": "use --base-url", "ADDONS": "the config is applied by a fixed add-on",
              "RUNLOG_ENABLED": "epaper takes the archive lock and logs the run itself"}
# Numeric settings where 0 means "never" or "nothing": refused.
POSITIVE = {"CONCURRENT_REQUESTS", "CONCURRENT_REQUESTS_PER_DOMAIN", "CONCURRENT_ITEMS", "DOWNLOAD_TIMEOUT",
            "AUTOTHROTTLE_TARGET_CONCURRENCY", "AUTOTHROTTLE_MAX_DELAY", "REACTOR_THREADPOOL_MAXSIZE",
            "DEDUPE_SHINGLE_SIZE", "DEDUPE_THRESHOLD", "MEDIA_MAXSIZE"}
# List settings whose items come from a fixed set: the function that checks them.
CHOICES = {"MEDIA_CAPTURE": media_kinds}
# Numeric settings with an upper bound, (bound, what it is).
AT_MOST = {"DEDUPE_THRESHOLD": (1.0, "a Jaccard similarity")}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def scrapy_overrides(pairs: list[str]) -> dict[str, object]:
    """`-s NAME=VALUE` pairs as settings: NAME one that exists, VALUE of its default's type.

    Booleans and numbers come back typed; lists (comma-separated) and dicts (JSON) as the
    text, which Scrapy's getters parse as they do for `scrapy crawl -s`.
    """
    if not pairs:
        return {}
    known = project_settings()
    out: dict[str, object] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"-s expects NAME=VALUE, got {pair!r}")
        if name not in known:
            raise UsageError(f"-s {name}: unknown Scrapy setting")
        if name in NOT_FROM_S:
            raise UsageError(f"-s {name}: not settable with -s ({NOT_FROM_S[name]})")
        out[name] = _setting_value(name, value, known[name])
    merged = known.copy()
    merged.setdict(out, priority="cmdline")
    # Media on from epaper.toml is checked when the crawl starts (crawler.media), as here.
    if {"MEDIA_MAXSIZE", "WARC_RECORD_MAXSIZE"} & set(out) and merged.getlist("MEDIA_CAPTURE"):
        try:
            check_media_maxsize(merged.getint("MEDIA_MAXSIZE"), merged.getint("WARC_RECORD_MAXSIZE"))
        except ValueError as exc:
            raise UsageError(f"-s {exc}") from None
    return out


def _setting_value(name: str, value: str, default: object) -> object:
    """The value of `-s NAME=value`, checked against the type of the default and parsed."""
    from scrapy.settings import BaseSettings

    if isinstance(default, bool):
        low = value.strip().lower()
        if low not in _TRUE | _FALSE:
            raise UsageError(f"-s {name}={value}: expected bool")
        return low in _TRUE
    if isinstance(default, (int, float)):
        try:
            number: int | float = int(value) if isinstance(default, int) else float(value)
        except ValueError:
            raise UsageError(f"-s {name}={value}: expected {type(default).__name__}") from None
        _check_number(name, value, number, default)
        return number
    if isinstance(default, (dict, BaseSettings)):
        try:
            if not isinstance(json.loads(value), dict):
                raise ValueError
        except ValueError:
            raise UsageError(f"-s {name}={value}: expected a JSON object") from None
        return value
    if isinstance(default, (list, tuple)):
        if name in CHOICES:
            try:
                CHOICES[name](value)
            except ValueError as exc:
                raise UsageError(f"-s {name}={value}: {exc}") from None
        if default and all(isinstance(x, int) and not isinstance(x, bool) for x in default):
            try:
                [int(x) for x in value.split(",") if x.strip()]
            except ValueError:
                raise UsageError(f"-s {name}={value}: expected integers separated by commas") from None
        return value
    if name == "LOG_LEVEL" and value.upper() not in LOG_LEVELS:
        raise UsageError(f"-s LOG_LEVEL={value}: expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return value


def _check_number(name: str, value: str, number: float, default: float) -> None:
    """Numbers a crawl cannot run with (or would hang on): one line, before anything starts."""
    if not math.isfinite(number):
        raise UsageError(f"-s {name}={value}: expected a finite number")
    if name in POSITIVE and number <= 0:
        raise UsageError(f"-s {name}={value}: must be greater than 0")
    if number < 0 and "PRIORITY" not in name and not default < 0:
        raise UsageError(f"-s {name}={value}: must not be negative")
    if name in AT_MOST and number > AT_MOST[name][0]:
        bound, what = AT_MOST[name]
        raise UsageError(f"-s {name}={value}: must be at most {bound:g} ({what})")

"""The Scrapy add-on that brings the epaper config to every crawl.

Enabled in crawler/settings.py (``ADDONS``), so ``scrapy crawl epaper`` gets the same
politeness, portal id, layout, base URL, archive root, warc, media and compact settings as
``epaper crawl``: both go through :meth:`epaper.config.Config.scrapy_settings`.

Setting: ``EPAPER_CONFIG``, the config file (``""``: ``./epaper.toml`` when there is one,
else the built-in defaults), read with the ``EPAPER_<SECTION>_<KEY>`` environment variables
as :func:`epaper.config.load_config` does. ``epaper crawl`` puts the :class:`Config` it
resolved (file, environment, flags) there instead of a path, so the file is read once.

An s3:// archive (``-s SNAPSHOT_DIR=s3://bucket/prefix``, or the config's ``storage.data_dir``):
:func:`apply_paper` points ``SNAPSHOT_DIR`` at the paper's local working copy
(``<storage.cache_dir>/s3-work/…``, epaper.remote) and names the root in ``SNAPSHOT_REMOTE``;
the run extension (epaper.runext) then does what ``epaper crawl`` does around the crawl (the
local lock, the paper's lease, the pull before, the publication as each date is written and at
the end). It is done there because that is the one moment the paper is known (``-a source=ID``)
and the settings are not frozen yet, before anything reads ``SNAPSHOT_DIR`` (the spider and its
ledger read it in the spider's ``from_crawler``, right after :func:`apply_paper`); the
pre-crawler hook knows no paper, and the extension is built after the spider. Only the path is
worked out here (no request): the store is reached, and a failure reported, by the extension.

Priority: :data:`CONFIG_PRIORITY` (25). Scrapy's own "addon" priority (15) would lose to
settings.py ("project", 20), whose defaults the config is there to change; ``-s`` (40) and
a spider's ``custom_settings`` (30) still win over the config.

Timing: the settings are applied in ``update_pre_crawler_settings``, when the
CrawlerProcess or CrawlerRunner is made. ``update_settings`` would be too late for the
spider, which Scrapy builds (and which reads ``EPAPER_*`` in ``from_crawler``) before it
calls the add-ons' ``update_settings``.

A bad config raises :class:`epaper.config.ConfigError` (one line naming the key). Scrapy
does not catch exceptions raised while it builds the CrawlerProcess, so ``scrapy crawl``
prints a traceback whose last line is ``epaper.config.ConfigError: config: ...`` and exits
with status 1; ``epaper crawl`` reports the same line alone (exit status 2).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from epaper.config import Config, load_config

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

# Between "project" (settings.py, 20) and "spider" (30); see the module docstring.
CONFIG_PRIORITY = 25


class ConfigAddon:
    """Applies the epaper config to the crawl's settings. Setting: EPAPER_CONFIG."""

    @classmethod
    def update_pre_crawler_settings(cls, settings: BaseSettings) -> None:
        config = config_from_settings(settings)
        papers = config.papers()
        # Several papers: what they share; each crawl adds its paper's (`apply_paper`).
        own = [paper.scrapy_settings() for paper in papers]
        settings.setdict({k: v for k, v in own[0].items() if all(o.get(k) == v for o in own)},
                         priority=CONFIG_PRIORITY)
        # How the spider narrows the config to its paper (`-a source=ID`) when it is built: a
        # function handed over in the settings (the crawler layer imports nothing of this one).
        settings.set("EPAPER_PAPER_SELECTOR", apply_paper, priority=CONFIG_PRIORITY)
        settings.set("EPAPER_TIMEZONE", config.schedule.timezone, priority=CONFIG_PRIORITY)
        # A crawl of the archive holds its lock and logs its run (epaper.runext), however it was
        # started. Not in settings.py, so that a component test's crawler (get_crawler) takes
        # no lock on ./data.
        settings.set("RUNLOG_ENABLED", True, priority=CONFIG_PRIORITY)


def apply_paper(settings: BaseSettings, source: str | None) -> Config:
    """One crawl's paper: `source` (the spider argument, ``-a source=ID``), or the config's one
    paper; its settings (politeness, id, root, layout) applied at the config's priority, and
    ``EPAPER_CONFIG`` narrowed to it. ConfigError (a UsageError) for an unknown id, or when
    several papers are configured and none is named."""
    from epaper.config import ConfigError

    config = config_from_settings(settings)
    papers = [p for p in config.papers() if source in (None, p.portal.id)]
    if not papers:
        raise ConfigError(f"config: no paper {source!r} (configured: {', '.join(config.ids)})")
    if len(papers) > 1:
        raise ConfigError(f"config: {len(papers)} papers are configured ({', '.join(config.ids)}): "
                          f"pick one with -a source=ID")
    paper = papers[0]
    settings.setdict(paper.scrapy_settings(), priority=CONFIG_PRIORITY)
    settings.set("EPAPER_CONFIG", paper, priority=max(settings.getpriority("EPAPER_CONFIG") or 0, CONFIG_PRIORITY))
    working_copy(settings, paper)
    return paper


def working_copy(settings: BaseSettings, paper: Config) -> None:
    """An s3:// ``SNAPSHOT_DIR`` (whichever setting won: ``-s``, the config's data_dir): the
    crawl works on the local working copy of the root (epaper.remote), named in its place, and
    the root moves to ``SNAPSHOT_REMOTE`` (at the same priority, so the copy wins as the root
    did). ConfigError for an s3:// URL that is not one."""
    from epaper.config import ConfigError
    from epaper.storage.objectstore import is_s3, local_dir, parse_s3

    root = settings.get("SNAPSHOT_DIR")
    if not is_s3(root):
        return
    try:
        local = local_dir(parse_s3(str(root)), paper.storage.cache_dir or None, role="work")
    except ValueError as exc:
        raise ConfigError(f"SNAPSHOT_DIR: {exc}") from None
    priority = max(settings.getpriority("SNAPSHOT_DIR") or 0, CONFIG_PRIORITY)
    settings.set("SNAPSHOT_REMOTE", str(root), priority=priority)
    settings.set("SNAPSHOT_DIR", str(local), priority=priority)


def config_from_settings(settings: BaseSettings) -> Config:
    """The Config that ``EPAPER_CONFIG`` names (a Config, a file, or "" for the default file)."""
    named = settings.get("EPAPER_CONFIG")
    if isinstance(named, Config):
        return named
    return load_config(str(named) if named else None)

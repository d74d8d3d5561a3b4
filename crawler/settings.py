"""Scrapy settings of the epaper project: the default of every project setting, in one table.

Defaults are polite to the real portal: robots.txt obeyed, AutoThrottle on, at most 4
concurrent requests, a delay, and a User-Agent that names the archive. The config file
(epaper.toml and EPAPER_<SECTION>_<KEY> variables) overrides them through the add-on in
ADDONS, for `scrapy crawl` as for `epaper crawl`; `-s NAME=VALUE` overrides both.

Nothing here reads the environment: that is the config's job (epaper.config).
"""
from __future__ import annotations

BOT_NAME = "epaper"
SPIDER_MODULES = ["epaper.crawler.spiders"]
NEWSPIDER_MODULE = "epaper.crawler.spiders"

USER_AGENT = "epaper-archiver/0.1 (+archive of the digital edition; contact: ops)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 4
CONCURRENT_REQUESTS_PER_DOMAIN = 4
# Items per response processed in parallel. The pipelines are synchronous, so parallelism
# buys nothing, while Scrapy's default (100) starts 100 asyncio tasks for every response:
# the crawl was CPU-bound on that (bench: 136 → 206 articles/s, 37% less CPU).
CONCURRENT_ITEMS = 16
DOWNLOAD_DELAY = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024  # no e-paper page comes near this; bigger is not a page
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
RETRY_BACKOFF_BASE = 1.0  # seconds; doubled per retry (see crawler.middlewares.BackoffRetryMiddleware)
RETRY_BACKOFF_MAX = 30.0  # seconds: the longest wait between retries
RETRY_TRUNCATED = True  # retry a 200 page without </html> (or a calendar without its end), then fail it
COOKIES_ENABLED = False
# Nothing listens and nothing is written outside the data directory: Scrapy's telnet console
# and its remote-control HTTP endpoint (on by default since 2.19, with a bearer-token job file
# under $HOME/.local/state/scrapy/) would let any local process run code inside the crawl.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
REDIRECT_MAX_TIMES = 5
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
LOG_LEVEL = "INFO"

# The config file reaches every crawl through this add-on (epaper.toml, EPAPER_* variables);
# it sets what the config names above settings.py and below -s (see epaper.addon).
ADDONS = {"epaper.addon.ConfigAddon": 0}
# Every crawl of the archive (epaper crawl, epaper reparse, scrapy crawl epaper): the archive lock
# and a run-log line (see epaper.runext).
EXTENSIONS = {"epaper.runext.ArchiveRunExtension": 100}

# Own settings
EPAPER_CONFIG = ""  # the config file; "" is ./epaper.toml when there is one (see epaper.addon)
EPAPER_BASE_URL = ""  # the e-paper root when the spider gets no base_url argument ([portal] base_url)
EPAPER_SOURCE = "ahjjb"  # the paper's id, its `source=ID` folders ([portal] id; `-a source=ID` picks a [[portal]])
EPAPER_PAPER_SELECTOR = None  # set by the add-on: narrows the config to the spider's paper
EPAPER_LAYOUT = "auto"  # auto | pc | html: which Founder generation to crawl ([portal] layout)
EPAPER_TIMEZONE = "Asia/Shanghai"  # the portal's zone, where an issue date ends ([schedule] timezone): a "no issue" is final after it
EPAPER_FORCE = False  # --latest: fetch the newest issue even when it is archived complete (epaper crawl --force)
# Bounded work per issue date (the epaper spider): what lies beyond a cap is not requested, and
# the date is incomplete with the reason (the page and the cap); what lies within is archived.
# Each at most 32,767 (the archive's int16 page_index and position columns).
EPAPER_MAX_PAGES_PER_DATE = 1000  # pages (版面) requested from a day's page list
EPAPER_MAX_ARTICLES_PER_PAGE = 1000  # article links requested from one page (its own, then those it boxes)
EPAPER_MAX_ARTICLES_PER_DATE = 10000  # article links requested for one issue date, in page order
# --latest: a latest issue dated far outside what is known is not crawled (exit 1, the reason on
# stderr; `--date` crawls it): before EPAPER_LATEST_EARLIEST (no Founder digital edition is older),
# or more than EPAPER_LATEST_MAX_BEHIND days before the newest issue the archive holds.
EPAPER_LATEST_EARLIEST = "2000-01-01"  # --latest: an issue dated before this is refused
EPAPER_LATEST_MAX_BEHIND = 31  # --latest: days before the newest archived issue beyond which it is refused
VALIDATE_REQUIRED = ["url", "issue_date", "page_no", "title"]  # fields an article cannot lack
DEDUPE_SHINGLE_SIZE = 5  # character n-gram size of the shingles
DEDUPE_THRESHOLD = 0.8  # Jaccard similarity from which a body is "nearly the same" (0 < t <= 1)
DEDUPE_MIN_CHARS = 50  # bodies shorter than this are duplicates only when equal
RUNLOG_RUN = None  # the run (epaper.runext.ArchiveRun) epaper crawl started and holds the lock of; None: the extension starts one
RUNLOG_ENABLED = False  # record the run (archive lock, run-log line, metrics; epaper.runext): the add-on turns it on for every crawl of the archive
SNAPSHOT_DIR = "data"  # the archive root ([storage] data_dir, epaper crawl --data)
SNAPSHOT_COMPACT = True  # refresh compact/ (one file per year) at the end of the run ([storage] compact)
SNAPSHOT_INDEX_COMMIT_EVERY = 30  # dates between saves of the dedupe index (and at the end)
SNAPSHOT_PAUSE_AT = ""  # crash tests only: "write:N", "rename:N" or "renamed:N" holds the Nth snapshot file there
# An s3:// archive (epaper.remote): called with (source, date) once a date is written in the
# working copy, to publish its files; None for a local archive.
SNAPSHOT_PUBLISH = None
# `scrapy crawl epaper` (a scrapyd job) on an s3:// root: the root, set by the add-on, which points
# SNAPSHOT_DIR at its local working copy (epaper.addon.working_copy, epaper.runext); "": a local archive.
SNAPSHOT_REMOTE = ""
SNAPSHOT_PAUSE_SECONDS = 120.0  # crash tests only: how long SNAPSHOT_PAUSE_AT holds the file
WARC_ENABLED = True  # keep every raw response in warc/issue_date=…/ ([storage] warc)
WARC_REPLAY_DIR = ""  # when set (epaper reparse): answer every request from the WARC files there
WARC_REPLAY_CRAWL = 0  # 0: each URL's newest capture; k: what each date's k-th crawl captured (its history)
WARC_REPLAY_SESSION = None  # epaper reparse's captures.ReplaySession, shared by its runs (None: one per crawl)
WARC_RECORD_MAXSIZE = 32 * 1024 * 1024  # bytes one WARC record may inflate to on replay (a bomb is refused)
# Extraction health (pipelines.health; [health] in the config): a complete date is *suspect* when
# it ends a run of issues that departs from the issues before it (within its last HEALTH_HISTORY
# complete issues, at least HEALTH_MIN_HISTORY before the run) by evidence summed issue by issue
# (a one-sided CUSUM, each issue adding at most HEALTH_ISSUE_EVIDENCE - 1) up to HEALTH_EVIDENCE,
# and the run as a whole is sharp: an optional field's share of its articles at most
# HEALTH_FIELD_DROP times the usual (and less likely than HEALTH_MAX_CHANCE by chance), its
# articles per page or median body length at most HEALTH_ARTICLES_PER_PAGE_DROP /
# HEALTH_BODY_CHARS_DROP times it, or the share of bodies read by the largest-block fallback up by
# HEALTH_FALLBACK_RISE. One odd issue never suffices.
HEALTH_HISTORY = 30  # recent complete issues a date is compared with ([health] history)
HEALTH_MIN_HISTORY = 5  # fewer complete issues before it: no verdict ([health] min_history)
HEALTH_FIELD_DROP = 0.25  # ratio to the usual share of an optional field ([health] field_drop)
HEALTH_ARTICLES_PER_PAGE_DROP = 0.5  # ratio to the usual articles per page ([health] articles_per_page_drop)
HEALTH_BODY_CHARS_DROP = 0.5  # ratio to the usual median body length ([health] body_chars_drop)
HEALTH_FALLBACK_RISE = 0.5  # rise of the share of bodies from the fallback ([health] fallback_rise)
HEALTH_MAX_CHANCE = 0.001  # a field's drop must be less likely than this by chance ([health] max_chance)
HEALTH_EVIDENCE = 8.0  # evidence a run of issues must sum to (in spreads of the usual, less 1 an issue)
HEALTH_ISSUE_EVIDENCE = 4.0  # the most one issue counts (in spreads of the usual): 3 issues at least
# Pages as printed (crawler.media): page PDFs ("pdf"), page scans ("scan") and article images
# ("images") kept in the date's WARC ([storage] media). Off: on the replica an issue takes 79
# times the disk with them (docs/archive-format.md, "Pages as printed"; bench/media.py).
MEDIA_CAPTURE: list[str] = []
MEDIA_MAXSIZE = 24 * 1024 * 1024  # bytes a page PDF, scan or image may have; below WARC_RECORD_MAXSIZE
CONDITIONAL_ENABLED = True  # re-crawls send If-None-Match / If-Modified-Since from the date's last capture; a 304 is that capture
CLEAN_CHROME_LINES = [  # page chrome that leaks into bodies; removed as whole lines
    "安徽经济网首页", "数字版首页", "往期回顾", "版面下载", "PDF下载", "上一版", "下一版",
    "安徽主流经济门户",
]
CLEAN_DROP_FIELDS: list[str] = []  # e.g. ["author"]: optional fields not to keep

# Every request the spider makes is answered in the ledger: a spider middleware that drops one
# silently would leave its date waiting until the crawl ends. URL length is checked in the
# downloader instead (crawler.middlewares.UrlLengthMiddleware); the others drop nothing here.
SPIDER_MIDDLEWARES = {
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
    # 950, next to the spider: its media requests pass Scrapy's own middlewares like the spider's.
    "epaper.crawler.media.MediaCaptureMiddleware": 950,
}

ITEM_PIPELINES = {
    "epaper.pipelines.clean.CleanPipeline": 200,
    "epaper.pipelines.validate.ValidatePipeline": 400,
    "epaper.pipelines.dedupe.DedupePipeline": 600,
    "epaper.pipelines.snapshot.SnapshotPipeline": 900,
}

DOWNLOADER_MIDDLEWARES = {
    # 50, in place of Scrapy's: before robots.txt and everything else, so an off-host redirect is never fetched.
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "epaper.crawler.middlewares.OffsiteMiddleware": 50,
    "epaper.crawler.middlewares.UrlLengthMiddleware": 52,  # in place of Scrapy's spider middleware: named
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "epaper.crawler.middlewares.BackoffRetryMiddleware": 550,
    "epaper.crawler.middlewares.FetchedAtMiddleware": 960,
    # 950: next to the download handler, so the WARC holds the bytes exactly as served.
    "epaper.crawler.warc.WarcWriterMiddleware": 950,
    "epaper.crawler.warc.WarcReplayMiddleware": 950,
    # 945: a 304 becomes the capture it confirms after the WARC writer recorded it as a revisit.
    "epaper.crawler.middlewares.ConditionalRequestMiddleware": 945,
    # 955: a 304 to a request without a validator fails its URL before the WARC writer sees it.
    "epaper.crawler.middlewares.BareNotModifiedMiddleware": 955,
    # 958, in place of Scrapy's 850: the stats count what crossed the wire (a 304 as a 304).
    "scrapy.downloadermiddlewares.stats.DownloaderStats": None,
    "epaper.crawler.middlewares.WireStatsMiddleware": 958,
    # 585: a charset naming no text encoding read as the parser reads it, before meta refresh (580).
    "epaper.crawler.middlewares.TextEncodingMiddleware": 585,
}

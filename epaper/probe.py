"""`epaper probe URL`: would the archive read this portal right? From the e-paper root alone,
within a small request budget (the calendar, the latest issue's pages, a sample of its
articles), with the crawl's politeness settings, writing nothing.

It prints the Founder generation and the file-name families found, the calendar's span, the
latest issue (pages, articles), each sampled article's fields with their sources, the warnings
and problems, the verdict and the number of requests. Exit status: 0 it would archive the
portal; 1 something looks wrong (each problem on its own line); 2 no Founder e-paper there (or
a usage error).

When it would archive the portal, it also prints a ready `[[portal]]` table to paste into
`epaper.toml` (`portal_table` in `--json`): an id derived from the URL, the paper's name as the
site's own calendar or page titles give it (no request is added for it), the root and the
generation found.
"""
from __future__ import annotations

import html
import ipaddress
import json
import logging
import re
import sys
from typing import Any
from urllib.parse import urlsplit

from epaper.config import Config, PortalConfig, UsageError
from epaper.terminal import counted, printable, printable_json

OPTIONAL = ("intro_title", "subtitle", "author", "images")
PAGE_FAMILIES = [(r"node_\d+\.html?$", "node_K"), (r"node_[\w-]+\.html?$", "node_NAME"),
                 (r"nbs\.D110000\w*_\w+\.html?$", "nbs.D110000<code>_NN")]
ARTICLE_FAMILIES = [(r"content_\d+(?:_\d+)?\.html?$", "content_ID"), (r"content_[\w-]+\.html?$", "content_NAME"),
                    (r"c\d+\.html?$", "cID"), (r"nw\.D110000\w*_\d{8}_\d+-\d+\.html?$", "nw.D110000<code>_YYYYMMDD_K-NN")]


def family(urls: list[str], families: list[tuple[str, str]]) -> list[str]:
    """The file-name families of these URLs (with their extension), most common first."""
    counts: dict[str, int] = {}
    for url in urls:
        name = url.rsplit("/", 1)[-1].split("?")[0]
        label = next((f"{label}{name[name.rfind('.'):]}" for pattern, label in families if re.search(pattern, name)),
                     "other")
        counts[label] = counts.get(label, 0) + 1
    return sorted(counts, key=lambda k: -counts[k])


_PAGE_PATH = re.compile(r"/(?:pc/(?:layout|content|con)/|html/\d{4}-\d{2}/|paperindex\.htm)")


def _root_of_page(url: str) -> str | None:
    """The e-paper root of a URL that names a page, an article or a calendar inside one
    (`…/pc/layout/202308/03/node_01.html` → `…/`); None for any other URL."""
    match = _PAGE_PATH.search(url)
    return url[:match.start() + 1] if match else None


def judge(findings, sample: list[dict]) -> tuple[int, list[str], list[str]]:
    """(exit status, problems, warnings) of the findings; `sample` the cleaned sampled articles."""
    f = findings
    if f.generation is None or (not f.pages and not f.calendar and f.errors):
        problem = f"no Founder e-paper at {f.root}: " + "; ".join(f.errors or ["nothing found"])
        root = _root_of_page(f.root)
        return 2, [problem + (f" (a page of an e-paper? give its root: epaper probe {root})" if root else "")], []
    problems, warnings = list(f.errors), []
    if f.calendar_error:
        (warnings if "HTTP 404" in f.calendar_error else problems).append(f"calendar {f.calendar_error}")
    for p in f.pages:
        label = p.page_no or p.url
        if p.error:
            problems.append(f"page {label} {p.url}: {p.error}")
        elif not p.articles and p.promise:
            problems.append(f"page {label}: no recognisable article link, although {p.promise}")
        elif not p.articles and not p.boxed:
            warnings.append(f"page {label} has no articles (an advertisement page?)")
        if p.boxed:
            warnings.append(f"page {label} boxes {p.boxed} article(s) of other pages (今日关注, 导读, 转版): "
                            "each is archived once, on the page that prints it")
        if p.twins:
            warnings.append(f"page {label} links {p.twins} article(s) twice, with a display-mode query "
                            "(?div=…): read as one article")
    if f.pages and not f.articles:
        problems.append("no article found in the latest issue: its article links are not recognised")
    if f.pages_listed > len(f.pages):
        warnings.append(f"only the first {len(f.pages)} of {f.pages_listed} pages were probed")
    readable = [a for a in sample if not a["error"]]
    for a in sample:
        if a["error"]:
            problems.append(f"article {a['url']}: {a['error']}")
        elif a["problems"]:
            problems.append(f"article {a['url']}: {', '.join(a['problems'])}")
    if readable:
        for name in OPTIONAL:
            if not any(a["fields"].get(name) for a in readable):
                warnings.append(f"{name} is empty on every sampled article")
        if not any(a["fields"]["images"] and any(i["caption"] for i in a["fields"]["images"]) for a in readable):
            if any(a["fields"]["images"] for a in readable):
                warnings.append("no sampled image has a caption")
        if all(a["sources"].get("body") == "fallback" for a in readable):
            problems.append("every sampled body comes from the largest-block fallback: the article's text "
                            "container is not recognised")
        elif any(a["sources"].get("body") == "fallback" for a in readable):
            warnings.append("some sampled bodies come from the largest-block fallback")
    return (1 if problems else 0), problems, warnings


def clean_sample(findings) -> list[dict]:
    """The sampled articles as the archive would keep them (cleaned and validated)."""
    from epaper.crawler.settings import CLEAN_CHROME_LINES as chrome
    from epaper.pipelines.clean import clean_article
    from epaper.pipelines.validate import article_problems

    out = []
    for a in findings.sample:
        fields: dict[str, Any] = dict(a.fields)
        problems: list[str] = []
        if not a.error:
            clean_article(fields, chrome)
            problems = [p for p in article_problems({**fields, "url": a.url, "issue_date": findings.latest_date,
                                                     "page_no": a.page_no}) if p != "no issue_date"]
        out.append({"url": a.url, "page_no": a.page_no, "error": a.error, "problems": problems,
                    "fields": fields, "sources": a.sources})
    return out


def report(findings, sample: list[dict], requests: int, names: dict[str, str] | None = None,
           taken: tuple[str, ...] = ()) -> dict:
    """The probe's findings as printed (`--json`); `names` the paper's name read from each
    response (URL -> name, see `name_in_page`), `taken` the ids the config already holds."""
    status, problems, warnings = judge(findings, sample)
    f = findings
    table = None
    if status == 0:
        table = portal_table(suggest_portal(f, names or {}, taken))
    return {
        "url": f.root, "exit_status": status, "requests": requests, "generation": f.generation,
        "page_files": family([p.url for p in f.pages], PAGE_FAMILIES),
        "article_files": family([u for p in f.pages for u in p.articles], ARTICLE_FAMILIES),
        "calendar": {"url": f.calendar_url, "issues": len(f.calendar),
                     "first": f.calendar[0].isoformat() if f.calendar else None,
                     "last": f.calendar[-1].isoformat() if f.calendar else None, "error": f.calendar_error},
        "latest": {"date": f.latest_date.isoformat() if f.latest_date else None, "url": f.front_url,
                   "pages": len(f.pages), "pages_listed": f.pages_listed, "articles": f.articles},
        "pages": [{"url": p.url, "page_no": p.page_no, "page_name": p.page_name, "articles": len(p.articles),
                   "boxed": p.boxed, "twins": p.twins, "promise": p.promise, "error": p.error} for p in f.pages],
        "sample": sample, "warnings": warnings, "problems": problems, "portal_table": table,
    }


def _short(value: Any, width: int = 48) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def print_report(r: dict) -> None:
    out = []
    if r["exit_status"] == 2:
        out.append(r["problems"][0])
    else:
        gen = {"pc": "pc (pc/layout/…, the newer generation)", "html": "html (html/…, the older generation)"}
        out.append(f"generation: {gen.get(r['generation'], r['generation'])}")
        out.append(f"file names: pages {', '.join(r['page_files']) or '-'}; articles {', '.join(r['article_files']) or '-'}")
        c = r["calendar"]
        out.append(f"calendar: {counted(c['issues'], 'issue')} from {c['first']} to {c['last']} ({c['url']})" if c["issues"]
                   else f"calendar: none read ({c['error'] or c['url']})")
        lt = r["latest"]
        more = f" (of {lt['pages_listed']})" if lt["pages_listed"] > lt["pages"] else ""
        out.append(f"latest issue: {lt['date']}: {counted(lt['pages'], 'page')}{more}, {counted(lt['articles'], 'article')} "
                   f"({lt['url']})")
        out.append(f"sampled articles ({len(r['sample'])}): each field, [its source], as the archive would keep it")
        for n, a in enumerate(r["sample"], 1):
            out.append(f"  {n}. page {a['page_no']}  {a['url']}")
            if a["error"]:
                out.append(f"     error: {a['error']}")
                continue
            f, s = a["fields"], a["sources"]
            for name in ("column", "intro_title", "title", "subtitle", "author"):
                source = s.get(name) or ("title" if name == "column" and f.get(name) else "-")
                out.append(f"     {name:<12} [{source}] {_short(f.get(name) or '')}")
            body = f.get("body") or ""
            out.append(f"     {'body':<12} [{s.get('body') or '-'}] {len(body)} characters, "
                       f"{counted(len(body.splitlines()), 'paragraph')}: {_short(body, 36)}")
            images = f.get("images") or []
            captioned = sum(1 for i in images if i.get("caption"))
            out.append(f"     {'images':<12} [{s.get('images') or '-'}] {len(images)}, {captioned} with a caption")
    for w in r["warnings"]:
        out.append(f"warning: {w}")
    for p in r["problems"] if r["exit_status"] == 1 else ():
        out.append(f"problem: {p}")
    verdict = {0: "it would archive this portal", 1: "something looks wrong (the problems above)",
               2: "no Founder e-paper there"}[r["exit_status"]]
    out.append(f"verdict: {verdict} (exit status {r['exit_status']}); {r['requests']} requests")
    if r.get("portal_table"):
        out += ["", TABLE_START, *r["portal_table"].splitlines(), TABLE_END]
    print("\n".join(printable(line) for line in out))  # the portal's text never acts on the terminal


# ------------------------------------------------------------ the [[portal]] table to paste

TABLE_START = "# --- a [[portal]] table for epaper.toml (check its id and name) ---"
TABLE_END = "# --- end of the [[portal]] table ---"

# Labels of a host or a path that name a service, not a paper: skipped when deriving an id.
_GENERIC = {"www", "epaper", "epapers", "paper", "papers", "szb", "dzb", "sz", "e", "news", "digitalpaper",
            "newspaper", "paperindex", "html", "pc", "layout", "index", "default", "com", "cn", "net", "org",
            "gov", "edu", "info", "cc", "tv", "localhost"}
# Words of a page title that name the digital edition, not the paper ("安徽经济报-数字报").
_EDITION = re.compile(r"(?:数字报纸?平台|数字报刊?|数字版|电子版|电子报|数字报纸|首页)$")
_SEPARATOR = re.compile(r"\s*(?:[-–—|_·:：]+|\s{2,})\s*")
_DATE = re.compile(r"\d{2,4}\D{0,2}\d{1,2}\D{0,2}\d{1,2}")


def _id_text(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-")


def paper_id(url: str, taken: tuple[str, ...] = ()) -> str:
    """An id for the paper at `url` ([a-z0-9_-]+): its root's last path segment that names
    something (`…/ahjjb/` → `ahjjb`), else the first host label that does (`epaper.kjrb.cn` →
    `kjrb`), else the address and port; `-2`, `-3`… when the config already holds it."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    found = ""
    for segment in reversed([s for s in parts.path.split("/") if s]):
        candidate = _id_text(segment.rsplit(".", 1)[0] if "." in segment else segment)
        if candidate and candidate not in _GENERIC:
            found = candidate
            break
    if not found:
        try:
            ipaddress.ip_address(host)
            found = _id_text(f"{host}-{parts.port}" if parts.port else host)
        except ValueError:
            found = next((c for c in map(_id_text, host.split(".")) if c and c not in _GENERIC), "")
    found = found or _id_text(host) or "paper"
    chosen, n = found, 2
    while chosen in taken:
        chosen, n = f"{found}-{n}", n + 1
    return chosen


def name_in_page(text: str) -> str | None:
    """The paper's name a page or calendar gives, if any: a Founder calendar's `period_name`
    (when it is not a date), else the part of the `<title>` that names a paper."""
    period = re.search(r"<period_name>\s*(.*?)\s*</period_name>", text, re.S | re.I)
    if period and (name := paper_name(period.group(1))):
        return name
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.S | re.I)
    return paper_name(title.group(1)) if title else None


def paper_name(title: str) -> str | None:
    """The paper's name in a page title: `安徽经济报-数字报` → `安徽经济报`, `山西经济网数字报平台-山西
    经济日报` → `山西经济日报` (a part ending in 报 or 版 first); None when nothing is left."""
    text = "".join(ch for ch in html.unescape(title) if ch.isprintable() or ch.isspace())
    parts = []
    for part in _SEPARATOR.split(" ".join(text.split())):
        part = _EDITION.sub("", part).strip()
        if part and not _DATE.search(part) and any(ch.isalpha() for ch in part):
            parts.append(part)
    return next((p for p in parts if p.endswith(("报", "版"))), parts[0] if parts else None)


def suggest_portal(findings, names: dict[str, str], taken: tuple[str, ...] = ()) -> dict[str, str]:
    """The [[portal]] table for the probed site: its id, name, root and generation."""
    f = findings
    pid = paper_id(f.root, taken)
    # The calendar names the paper; the latest-issue page's title, then the front page's, may.
    name = next((names[u] for u in (f.calendar_url, f.latest_url, f.front_url) if u in names), pid)
    table = {"id": pid, "name": name, "base_url": f.root}
    if f.generation:
        table["layout"] = f.generation
    return table


def _toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif not ch.isprintable():
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def portal_table(portal: dict[str, str]) -> str:
    """`portal` as a TOML `[[portal]]` table."""
    return "\n".join(["[[portal]]", *(f"{key} = {_toml_string(value)}" for key, value in portal.items())])


def probe_config(config: Config, url: str) -> Config:
    """The config a probe of `url` runs with: that paper's own when the config holds it (its
    politeness), else the config itself when it has one paper, else the shared [crawl]."""
    for paper in config.papers():
        if paper.portal.base_url == url:
            return paper
    if len(config.portals) == 1:
        return config
    return Config(portal=PortalConfig(id=paper_id(url), base_url=url), storage=config.storage,
                  schedule=config.schedule, crawl=config.crawl, health=config.health, path=config.path)


def run_probe(args, url: str, config) -> int:
    """`epaper probe`: `url` and `config` as the command line checked them."""
    from epaper.config import project_settings, scrapy_overrides
    from epaper.crawl import new_process
    from scrapy import signals

    from epaper.crawler.founder import page_text
    from epaper.crawler.spiders.probe import ProbeSpider

    if args.sample < 1 or args.max_pages < 1:
        raise UsageError("--sample and --max-pages must be 1 or more")
    extra = scrapy_overrides(args.settings)
    settings = project_settings()
    # Ids the config holds for other papers (none without a config file: only the default).
    taken = tuple(p.id for p in config.portals if p.base_url != url) if config.path is not None else ()
    config = probe_config(config, url)
    settings.set("EPAPER_CONFIG", config, priority="cmdline")
    settings.setdict(extra, priority="cmdline")
    # Nothing is written: no pipeline, no WARC, no run log or lock, whatever -s says.
    settings.setdict({"ITEM_PIPELINES": {}, "WARC_ENABLED": False, "RUNLOG_ENABLED": False,
                      "SNAPSHOT_COMPACT": False, "LOG_LEVEL": "DEBUG" if args.verbose else "ERROR"},
                     priority="cmdline")
    root = logging.getLogger()
    root.addHandler(logging.StreamHandler(sys.stderr) if args.verbose else logging.NullHandler())
    try:
        process = new_process(settings)
        crawler = process.create_crawler(ProbeSpider)
    except (ImportError, ValueError, TypeError, AttributeError, KeyError, NameError) as exc:
        raise UsageError(f"cannot set up the probe: {exc}") from None
    names: dict[str, str] = {}

    def read_name(response, request, spider) -> None:
        # Every response the probe gets anyway; the few that name the paper are picked after.
        try:
            name = name_in_page(page_text(response.body, response.headers.get("Content-Type", b"").decode("latin-1")))
        except (ValueError, AttributeError):  # not a page, or not text
            return
        if name:
            names[response.url] = name

    crawler.signals.connect(read_name, signal=signals.response_received)
    failed: list = []
    process.crawl(crawler, base_url=url, sample=args.sample, max_pages=args.max_pages).addErrback(failed.append)
    process.start()
    if failed or crawler.spider is None:
        raise UsageError(f"the probe could not run: {failed[0].getErrorMessage() if failed else 'see --verbose'}")
    findings = crawler.spider.findings
    requests = int(crawler.stats.get_value("downloader/request_count", 0))
    result = report(findings, clean_sample(findings), requests, names, taken)
    if args.json:
        print(printable_json(json.dumps(result, ensure_ascii=False, indent=1, default=str)))
    else:
        print_report(result)
    return result["exit_status"]

"""Alarms without noise: a year of every replica template, judged date by date, clean and with
one template drift at a time from a random date.

    python -m bench.alarms [--work DIR] [--templates NAME,...] [--from D --to D] [--seed N] [--md FILE]

For each template it builds the replica for the span (a year by default), then computes each
issue's extraction health the way a crawl does, from the replica's files and without a server:
the front page and every page through `crawler.founder.parse_page` and `place_articles`, each
article through `crawler.founder_article.parse_article`, `pipelines.clean.clean_article` and
`pipelines.validate.article_problems`, then `pipelines.health.summarize`. A date is incomplete
(not judged, not history) where the crawl would fail it: a page that links no article it can
read although it promises some, an article the validation drops. Each complete date is judged
by `pipelines.health.judge` against the earlier complete dates, oldest to newest, as the
snapshot pipeline does (`health.recent_history` builds the history from (date, summary) pairs).

Figures: the clean year's suspect dates (false alarms, goal 0); for each drift of
`replica.drift` (images, author, body, links) applied from a random issue date (one per
template and kind, seeded), the first date flagged and whether it names the field and the
drift's first date, how many issues after the start it came (goal: within the first 3), and any
date flagged before the start (goal none). A drift that makes the dates incomplete (the crawl
fails them, exit status 1, naming the date and the reason) counts as flagged on that date.
Exit status 1 when a goal is missed. Also `python -m bench --only alarms`.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import row  # noqa: E402

SPAN = (dt.date(2023, 1, 1), dt.date(2023, 12, 31))
BASE = "http://127.0.0.1/ahjjb/"
WITHIN = 3  # a drift must be flagged on one of its first WITHIN issues
# What each drift must be flagged as: the start of the suspect line naming the field.
FIELDS = {"images": ("images",), "author": ("author",), "body": ("body length",),
          "links": ("articles per page",)}


@dataclass
class Outcome:
    """One issue date as the crawl would leave it."""

    day: dt.date
    complete: bool
    summary: dict | None = None
    failures: list[str] = field(default_factory=list)
    suspect: list[str] = field(default_factory=list)


def _read(site: Path, overlay: Path | None, rel: str) -> bytes | None:
    for root in (overlay, site):
        if root is not None and (root / rel).is_file():
            return (root / rel).read_bytes()
    return None


def issue_outcome(site: Path, overlay: Path | None, day: dt.date, front: str) -> Outcome:
    """The date as a crawl of it would archive it, read from the files (`overlay` first: a
    drifted copy of some of them). `front` is the front page's path under the root."""
    from epaper.crawler import founder, founder_article
    from epaper.pipelines import clean, health, validate

    out = Outcome(day, True)

    def page(url: str) -> founder.Page | None:
        body = _read(site, overlay, url[len(BASE):])
        if body is None:
            out.failures.append(f"{url}: HTTP 404")
            return None
        return founder.parse_page(founder.page_text(body), url, BASE)

    first = page(BASE + front)
    if first is None:
        out.complete = False
        return out
    links = [p.url for p in first.pages] or [first.url]
    if first.url not in links:
        links.insert(0, first.url)
    pages = [first if url == first.url else page(url) for url in links]
    placed = founder.place_articles(pages)
    urls = [u for page_urls in placed.values() for u in page_urls]
    foreign = {u for u in urls if (other := founder.date_from_url(u)) is not None and other != day}
    if 2 * len(foreign) > len(urls):  # the spider's rule: most elsewhere, the folder is not the date
        foreign = set()
    rows, sources = [], []
    for p in pages:
        if p is None:
            continue
        if not p.links and p.promise:
            out.failures.append(f"{p.url}: no recognisable article link, although {p.promise}")
        for url in placed.get(p.url, []):
            if url in foreign:
                continue  # filed under the issue of its folder
            body = _read(site, overlay, url[len(BASE):])
            if body is None:
                out.failures.append(f"{url}: HTTP 404")
                continue
            art = founder_article.parse_article(founder.page_text(body), url)
            fields = {"url": url, "issue_date": day, "page_no": p.page_no or "?", "title": art.title,
                      "intro_title": art.intro_title, "subtitle": art.subtitle, "author": art.author,
                      "body": "\n".join(art.paragraphs), "images": art.images}
            clean.clean_article(fields)
            problems = validate.article_problems(fields)
            if problems:
                out.failures.append(f"{url}: {', '.join(problems)}")
                continue
            rows.append(fields)
            sources.append(art.sources)
    out.complete = not out.failures
    out.summary = health.summarize(rows, sources, sum(1 for p in pages if p is not None))
    return out


def outcomes(site: Path, truth: dict, overlay: Path | None = None,
             since: dt.date | None = None, before: dict | None = None) -> dict[dt.date, Outcome]:
    """Every issue date's outcome; with `before`, the dates before `since` are taken from it."""
    result = {}
    for key in sorted(truth["issues"]):
        day = dt.date.fromisoformat(key)
        if before is not None and since is not None and day < since:
            result[day] = Outcome(day, before[day].complete, before[day].summary, list(before[day].failures))
            continue
        result[day] = issue_outcome(site, overlay, day, truth["issues"][key]["pages"][0]["url"])
    return result


def judge_all(results: dict[dt.date, Outcome], thresholds) -> None:
    """Judge each complete date against the complete dates before it, oldest first (the snapshot
    pipeline's order); sets each outcome's `suspect`."""
    from epaper.pipelines import health

    done: list[tuple[dt.date, dict]] = []
    for day in sorted(results):
        o = results[day]
        if not o.complete or o.summary is None:
            continue
        recent = health.recent_history(reversed(done[-thresholds.history:]))
        o.suspect = health.judge(o.summary, recent, thresholds, day=day)
        done.append((day, o.summary))


def drift_overlay(replica: Path, truth: dict, kind: str, since: dt.date, overlay: Path) -> Path:
    """A copy of the issues from `since` on (their pages and articles), drifted by
    `replica.drift.drift_site`; the files before `since` stay in `replica` (read through it)."""
    from epaper.replica.drift import drift_site, file_date

    if overlay.exists():
        shutil.rmtree(overlay)
    site = replica / "site"
    for path in site.rglob("*.htm*"):
        rel = path.relative_to(site).as_posix()
        day = file_date(rel)
        if day is not None and day >= since:
            (overlay / "site" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, overlay / "site" / rel)
    (overlay / "truth.json").write_text(json.dumps(truth), encoding="utf-8")
    drift_site(overlay, kind, since)
    return overlay / "site"


@dataclass
class DriftResult:
    template: str
    kind: str
    since: dt.date
    first_flag: dt.date | None = None
    line: str = ""  # what the first flagged date says
    after: int | None = None  # issues from the start to the first flag (1: on the start)
    named: bool = False  # the line names the field and the start
    early: list[dt.date] = field(default_factory=list)  # dates flagged before the start
    flagged: int = 0  # issues from the start flagged (suspect or incomplete)
    issues: int = 0  # issues from the start


def flags(o: Outcome) -> list[str]:
    """Why the date would alert: its suspect lines, or the failures that leave it incomplete."""
    return list(o.suspect) if o.complete else [f"incomplete: {f}" for f in o.failures[:1]]


def run_drift(template: str, replica: Path, truth: dict, clean: dict[dt.date, Outcome], kind: str,
              since: dt.date, work: Path, thresholds) -> DriftResult:
    overlay = drift_overlay(replica, truth, kind, since, work / f"drift-{template}-{kind}")
    try:
        results = outcomes(replica / "site", truth, overlay, since, clean)
    finally:
        shutil.rmtree(overlay.parent, ignore_errors=True)
    judge_all(results, thresholds)
    out = DriftResult(template, kind, since)
    days = sorted(results)
    out.early = [d for d in days if d < since and flags(results[d])]
    later = [d for d in days if d >= since]
    out.issues = len(later)
    out.flagged = sum(1 for d in later if flags(results[d]))
    for i, d in enumerate(later, 1):
        lines = flags(results[d])
        if lines:
            out.first_flag, out.after = d, i
            want = FIELDS[kind]
            if results[d].complete:
                hit = [x for x in lines if x.startswith(want)]
                out.line = (hit or lines)[0]
                out.named = bool(hit) and f"since {since}" in out.line
            else:  # the crawl fails the date: its failure line names it on that date
                out.line = lines[0]
                out.named = d == since
            break
    return out


def build(work: Path, template: str, start: dt.date, end: dt.date, seed: int) -> tuple[Path, dict]:
    """The template's replica of the span, built once into `work` (kept there with --work)."""
    from epaper.replica.build import build_site
    from epaper.replica.layout import TEMPLATES

    out = work / template
    want = {"template": template, "start": f"{start}", "end": f"{end}", "seed": seed}
    if (out / "truth.json").exists():
        truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
        if {k: truth.get(k) for k in want} == want:
            return out, truth
    build_site(out, start=start, end=end, generation=TEMPLATES[template], template=template, seed=seed)
    return out, json.loads((out / "truth.json").read_text(encoding="utf-8"))


def measure(work: Path, templates: list[str], start: dt.date, end: dt.date, seed: int = 1,
            log=print) -> tuple[dict[str, list[Outcome]], list[DriftResult]]:
    """Each template's clean year (the flagged dates) and one result per drift kind."""
    from epaper.pipelines import health
    from epaper.replica.drift import KINDS

    thresholds = health.Thresholds()
    false_alarms: dict[str, list[Outcome]] = {}
    drifts: list[DriftResult] = []
    for template in templates:
        t0 = time.perf_counter()
        replica, truth = build(work, template, start, end, seed)
        clean = outcomes(replica / "site", truth)
        judge_all(clean, thresholds)
        false_alarms[template] = [o for o in clean.values() if flags(o)]
        days = sorted(clean)
        log(f"{template}: {len(days)} issues, {sum(len(o.failures) == 0 for o in clean.values())} complete, "
            f"{len(false_alarms[template])} flagged ({time.perf_counter() - t0:.0f} s)")
        for o in false_alarms[template]:
            log(f"  false alarm {o.day}: {'; '.join(flags(o))}")
        for kind in KINDS:
            rng = random.Random(f"{seed}:{template}:{kind}")
            since = days[rng.randrange(10, len(days) - WITHIN)]
            result = run_drift(template, replica, truth, clean, kind, since, work, thresholds)
            drifts.append(result)
            log(f"  {kind} from {since}: " + (f"flagged on issue {result.after} ({result.first_flag}): {result.line}"
                                              if result.first_flag else "never flagged")
                + (f"; flagged before it: {result.early}" if result.early else ""))
    return false_alarms, drifts


def rows(false_alarms: dict[str, list[Outcome]], drifts: list[DriftResult], issues: dict[str, int]) -> list[dict]:
    out = []
    for template, flagged in false_alarms.items():
        out.append(row(f"alarms: {template}, clean year of {issues[template]} issues: dates flagged",
                       len(flagged), "0", not flagged))
    for r in drifts:
        ok = r.after is not None and r.after <= WITHIN and r.named and not r.early
        value = (f"issue {r.after} ({r.first_flag}){'' if r.named else ', field or date not named'}"
                 if r.after else "never") + (f", {len(r.early)} early" if r.early else "")
        out.append(row(f"alarms: {r.template}, {r.kind} from {r.since}: first flagged", value,
                       f"issue <= {WITHIN}, named", ok))
    total = sum(len(f) for f in false_alarms.values())
    met = sum(1 for r in drifts if r.after is not None and r.after <= WITHIN and r.named and not r.early)
    out.append(row("alarms: false alarms, all templates", total, "0", total == 0))
    out.append(row("alarms: drifts flagged in time, named, none early", f"{met} / {len(drifts)}",
                   f"{len(drifts)} / {len(drifts)}", met == len(drifts)))
    return out


def run(ctx) -> list[dict]:
    """For `python -m bench --only alarms`: every template, the default span, in the bench's work folder."""
    from epaper.replica.layout import TEMPLATES

    templates = sorted(TEMPLATES)
    false_alarms, drifts = measure(ctx.work / "alarms", templates, *SPAN,
                                   log=lambda line: print(line, file=sys.stderr, flush=True))
    return rows(false_alarms, drifts, _issue_counts(ctx.work / "alarms", templates))


def _issue_counts(work: Path, templates: list[str]) -> dict[str, int]:
    return {t: len(json.loads((work / t / "truth.json").read_text(encoding="utf-8"))["issues"]) for t in templates}


def main(argv: list[str] | None = None) -> int:
    from epaper.replica.layout import TEMPLATES

    parser = argparse.ArgumentParser(prog="python -m bench.alarms", description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="work folder (kept, replicas reused); default a temporary one")
    parser.add_argument("--templates", help="comma-separated (default every replica template): " + ",".join(sorted(TEMPLATES)))
    parser.add_argument("--from", dest="start", type=dt.date.fromisoformat, default=SPAN[0])
    parser.add_argument("--to", dest="end", type=dt.date.fromisoformat, default=SPAN[1])
    parser.add_argument("--seed", type=int, default=1, help="the replicas' seed and the drifts' dates")
    parser.add_argument("--md", type=Path, help="also write the table as Markdown to this file")
    args = parser.parse_args(argv)
    templates = args.templates.split(",") if args.templates else sorted(TEMPLATES)
    unknown = [t for t in templates if t not in TEMPLATES]
    if unknown:
        parser.error(f"unknown template(s): {', '.join(unknown)}")
    if (args.end - args.start).days < 60:
        parser.error("the span must be at least 60 days (the history and the drifts need issues)")
    work = args.work or Path(tempfile.mkdtemp(prefix="epaper-alarms-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        false_alarms, drifts = measure(work, templates, args.start, args.end, args.seed,
                                       log=lambda line: print(line, file=sys.stderr, flush=True))
        table = rows(false_alarms, drifts, _issue_counts(work, templates))
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    from bench.__main__ import commit, markdown
    from bench.__main__ import table as text_table
    from bench.common import machine

    header = (f"Run of {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} at {commit()} on {machine()}; "
              f"replicas {args.start}..{args.end}, seed {args.seed}, {time.perf_counter() - started:.0f} s.")
    print(header)
    print(text_table(table))
    if args.md:
        args.md.write_text(markdown(table, header), encoding="utf-8")
    return 0 if all(r["ok"] for r in table) else 1


if __name__ == "__main__":
    sys.exit(main())

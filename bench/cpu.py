"""CPU per article over the replica's saved article pages, no network.

- ours: what the spider and the clean and dedupe pipelines do to one article page: decode
  (`founder.decode_html` with the server's charset), `founder_article.parse_article`, the clean
  pipeline's `clean_article` with the configured chrome lines, `content_hash` of the body;
- floor: bare `lxml.html.fromstring` of the same bytes;
- trafilatura: `trafilatura.extract` of the same bytes, default options (text only: its
  metadata extraction would add ~3x more time).

CPU time is process time, the least of several passes over every page (one pass for
trafilatura). Accuracy against the replica's ground truth: share of bodies exactly equal and
of titles exactly equal (trafilatura's titles from `extract_metadata` on a sample).
Goals: at least 5x faster than trafilatura, ours 100% accurate. The ratio to the floor is
reported, not a goal: a crawl is bound by politeness, not by parsing (the ≤3x goal that once
drove fast paths into the parser is withdrawn).
"""
from __future__ import annotations

import gc
import time
from urllib.parse import urljoin

from bench.common import Context, row

TRAFILATURA_GOAL = 5.0
TITLE_SAMPLE = 300


def ours_parser():
    """One article page's bytes → the cleaned fields the pipelines would archive."""
    from epaper.crawler import settings
    from epaper.crawler.founder import decode_html
    from epaper.crawler.founder_article import parse_article
    from epaper.pipelines.clean import clean_article
    from epaper.storage.dedupe import content_hash

    chrome = tuple(settings.CLEAN_CHROME_LINES)

    def parse(body: bytes, url: str) -> dict:
        art = parse_article(decode_html(body, "utf-8")[0], url)
        fields = {"title": art.title, "intro_title": art.intro_title, "subtitle": art.subtitle,
                  "author": art.author, "page_name": None, "body": "\n".join(art.paragraphs),
                  "images": art.images}
        clean_article(fields, chrome)
        fields["content_hash"] = content_hash(fields["body"])
        return fields

    return parse


def cpu_pass(fn, pages: list[tuple[bytes, str]], keep: bool = True) -> tuple[float, list]:
    """Process time of fn over every page; its results (not kept for the floor: a tree dies at once)."""
    gc.collect()
    out: list = []
    t0 = time.process_time()
    if keep:
        for body, url in pages:
            out.append(fn(body, url))
    else:
        for body, url in pages:
            fn(body, url)
    return time.process_time() - t0, out


def run(ctx: Context) -> list[dict]:
    import lxml.html
    import trafilatura

    site = ctx.build_replica()
    base = "http://127.0.0.1/ahjjb/"
    articles = ctx.truth["articles"]
    pages = [((site / a["url"]).read_bytes(), urljoin(base, a["url"])) for a in articles]
    n = len(pages)
    ours = ours_parser()
    reps = 2 if ctx.quick else 5

    def floor(body: bytes, url: str):
        return lxml.html.fromstring(body)

    cpu_pass(ours, pages[:200])  # warm up both (imports, regex caches, CPU frequency)
    cpu_pass(floor, pages[:200], keep=False)
    t_ours = t_floor = float("inf")
    results: list = []
    for _ in range(reps):  # interleaved, so that a disturbance hits both alike
        t, results = cpu_pass(ours, pages)
        t_ours = min(t_ours, t)
        t_floor = min(t_floor, cpu_pass(floor, pages, keep=False)[0])

    t_traf, traf = cpu_pass(lambda body, url: trafilatura.extract(body), pages)
    sample = pages[:: max(1, n // TITLE_SAMPLE)][:TITLE_SAMPLE]
    sample_truth = articles[:: max(1, n // TITLE_SAMPLE)][:TITLE_SAMPLE]
    traf_titles = [(trafilatura.extract_metadata(body).title or None) for body, _ in sample]

    ours_body = sum(r["body"] == a["body"] for r, a in zip(results, articles)) / n
    ours_title = sum(r["title"] == a["title"] for r, a in zip(results, articles)) / n
    traf_body = sum((t or "") == a["body"] for t, a in zip(traf, articles)) / n
    traf_title = sum(t == a["title"] for t, a in zip(traf_titles, sample_truth)) / len(sample)

    per = {k: v / n * 1e6 for k, v in (("ours", t_ours), ("floor", t_floor), ("traf", t_traf))}
    vs_floor = per["ours"] / per["floor"]
    vs_traf = per["traf"] / per["ours"]
    return [
        row(f"cpu: ours, parse+clean+hash per article (us, {n} pages)", round(per["ours"], 1)),
        row("cpu: floor, lxml.html.fromstring per article (us)", round(per["floor"], 1)),
        row("cpu: trafilatura.extract per article (us)", round(per["traf"], 1)),
        row("cpu: ours / floor", round(vs_floor, 2)),
        row("cpu: trafilatura / ours (speed-up)", round(vs_traf, 1), f">= {TRAFILATURA_GOAL:g}",
            vs_traf >= TRAFILATURA_GOAL),
        row("cpu: ours accuracy, bodies / titles exact", f"{ours_body:.1%} / {ours_title:.1%}",
            "100% / 100%", ours_body == 1.0 and ours_title == 1.0),
        row(f"cpu: trafilatura accuracy, bodies / titles exact (titles: {len(sample)} sampled)",
            f"{traf_body:.1%} / {traf_title:.1%}"),
        row("cpu: floor accuracy", "n/a (no extraction)"),
    ]

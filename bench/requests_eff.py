"""Request efficiency: requests `epaper crawl` makes for the span over the minimum needed.

The minimum is one request per month calendar (`period.xml`), per page (版面) and per article,
counted from the replica's ground truth. robots.txt is obeyed (the default) and its one
request per crawl is reported on its own line, outside the ratio. Then one archived date is
crawled again into the same archive: it must fetch no more than that date needs (its month's
calendar, its pages, its articles) and leave the same rows (article_id, duplicate_of).
Goal: 1.00 on a healthy portal, for the span and for the re-crawl.
"""
from __future__ import annotations

import datetime as dt

from bench.common import Context, row
from bench.throughput import span_crawl


def needed(truth: dict, dates: set[str]) -> int:
    months = {d[:7] for d in dates}
    pages = sum(len(truth["issues"][d]["pages"]) for d in dates if d in truth["issues"])
    articles = sum(1 for a in truth["articles"] if a["issue_date"] in dates)
    return len(months) + pages + articles


def _rows_of(data, day: dt.date) -> list[tuple]:
    from epaper.storage.parquet import read_snapshot

    table = read_snapshot(data, "ahjjb", "articles", day)
    return sorted(zip(table.column("article_id").to_pylist(), table.column("duplicate_of").to_pylist()))


def run(ctx: Context) -> list[dict]:
    truth = ctx.truth
    span, _ = span_crawl(ctx)
    all_dates = {(ctx.span.start + dt.timedelta(i)).isoformat()
                 for i in range((ctx.span.end - ctx.span.start).days + 1)}
    need = needed(truth, all_dates)
    robots = sum(1 for p in span.requests if p == "/robots.txt")
    made = len(span.requests) - robots
    ratio = made / need

    day = dt.date(2023, 8, 3)  # the seed article's issue: in both the full and the quick span
    before = _rows_of(span.data, day)
    with ctx.serve(delay=0.0) as server:
        again = ctx.crawl(server, day, day, span.data)
    again_robots = sum(1 for p in again.requests if p == "/robots.txt")
    again_need = needed(truth, {day.isoformat()})
    again_made = len(again.requests) - again_robots
    same = again.status == 0 and _rows_of(span.data, day) == before
    return [
        row(f"requests: span {ctx.span.start}..{ctx.span.end}, made / needed", f"{made} / {need}"),
        row("requests: efficiency (made / needed)", f"{ratio:.2f}", "1.00", made <= need),
        row("requests: robots.txt fetches (outside the ratio)", robots, "1", robots <= 1),
        row(f"requests: re-crawl of archived {day}, made / needed", f"{again_made} / {again_need}",
            f"<= {again_need}", again_made <= again_need),
        row(f"requests: re-crawl of {day} leaves the same rows", "yes" if same else "no", "yes", same),
    ]

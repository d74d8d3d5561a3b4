"""Memory: peak RSS of `epaper crawl` archiving one month against three months.

Both crawls run with the benchmark settings against the replica answering after 20 ms, each
into an empty archive; the peak is the child's own `ru_maxrss` (os.wait4). The three-month
figure is the crawl the throughput benchmark already ran.
Goals: under 500 MB, and three months / one month under 1.3 (memory does not grow with the span).
"""
from __future__ import annotations

from bench.common import Context, row
from bench.throughput import span_crawl

LIMIT_MB = 500
RATIO = 1.3


def run(ctx: Context) -> list[dict]:
    span, _ = span_crawl(ctx)
    with ctx.serve() as server:
        month = ctx.crawl(server, ctx.span.start, ctx.span.month_end, ctx.fresh_dir("data-month"))
    ratio = span.max_rss_mb / month.max_rss_mb
    days = (ctx.span.end - ctx.span.start).days + 1
    return [
        row(f"memory: peak RSS, {(ctx.span.month_end - ctx.span.start).days + 1} days (MB)",
            round(month.max_rss_mb), f"< {LIMIT_MB}", month.max_rss_mb < LIMIT_MB and month.status == 0),
        row(f"memory: peak RSS, {days} days (MB)", round(span.max_rss_mb), f"< {LIMIT_MB}",
            span.max_rss_mb < LIMIT_MB and span.status == 0),
        row("memory: ratio span / month", round(ratio, 2), f"< {RATIO}", ratio < RATIO),
    ]

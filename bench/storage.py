"""Storage: Parquet archive against JSON lines of the same rows, at 500,000 articles.

The rows are synthesized from the replica's articles: issue after issue (weekdays going back
from 2023), each issue takes the pages, page names and article count of a replica issue, and
each article gets a title, byline and images of a replica article and a body of as many
paragraphs drawn at random from all the replica's bodies (so bodies differ, as real ones do,
and compress like real text rather than like repeats). IDs, URLs, hashes and WARC record ids
are made like the crawler makes them.

Each date is one snapshot file written as `storage.parquet.write_snapshot` writes it (the
articles schema, zstd, the info metadata; the atomic rename and fsyncs, which do not change
the bytes, are skipped to save time); the JSON lines are the same rows, one object per line,
UTF-8 (`ensure_ascii=False`), `issue_date` as a field.

`storage.compact.refresh` then builds the archive's `compact/` copy (one file per year), as
the end of a crawl does, timed in full and after one date is replaced (what a daily run pays).

The query: articles per page name per month, with DuckDB over `compact/articles/*/*.parquet`,
over the daily snapshots `articles/**/*.parquet` (hive partitioning) and over the JSON lines
file, least of a few runs each, results compared. Goals: Parquet bytes / JSON lines bytes at
most 0.4 (the daily snapshots); the query over the archive at least 10x faster than over JSON
lines.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import uuid
from unittest import mock
from pathlib import Path

from bench.common import Context, best_of, row

ROWS, QUICK_ROWS = 500_000, 50_000
SIZE_GOAL, SPEED_GOAL = 0.4, 10.0
QUERY = ("SELECT strftime(issue_date, '%Y-%m') AS month, page_name, count(*) AS articles "
         "FROM {source} GROUP BY ALL ORDER BY ALL")


def synthesize(ctx: Context, root: Path, jsonl: Path, target: int) -> tuple[int, int]:
    """Write `target` articles as snapshots under root/articles and as JSON lines; (rows, dates)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from epaper.storage import schema as S
    from epaper.storage.parquet import snapshot_path

    truth = ctx.truth
    rnd = random.Random(2023)
    arts = truth["articles"]
    paragraphs = [p for a in arts for p in a["body"].split("\n")]
    issues = [[a for a in arts if a["issue_date"] == d] for d in sorted(truth["issues"])]
    issues = [i for i in issues if i]
    base = "http://epaper.example.cn/ahjjb/"
    day = dt.date(2023, 6, 30)
    written = dates = 0
    content_id = 10_000_000

    with open(jsonl, "w", encoding="utf-8") as out:
        while written < target:
            while day.weekday() >= 5:
                day -= dt.timedelta(1)
            issue = issues[dates % len(issues)]
            crawled = dt.datetime.combine(day, dt.time(23, 30), dt.timezone.utc)
            warc_file = f"warc/issue_date={day}/{day:%Y%m%d}T233000-{rnd.randrange(10**5)}.warc.gz"
            rows = []
            for a in issue[: target - written]:
                like = arts[rnd.randrange(len(arts))]
                body = "\n".join(rnd.choices(paragraphs, k=max(1, like["body"].count("\n") + 1)))
                content_id += 1
                path = f"pc/content/{day:%Y%m}/{day:%d}/content_{content_id}.html"
                rows.append({
                    "article_id": f"ahjjb:{path}", "page_no": a["page_no"], "page_name": a["page_name"],
                    "page_pdf_url": base + f"pc/attachement/{day:%Y%m}/{day:%d}/{uuid.UUID(int=rnd.getrandbits(128))}.pdf",
                    "url": base + path, "column": like["column"], "intro_title": like["intro_title"],
                    "title": like["title"], "subtitle": like["subtitle"], "author": like["author"],
                    "body": body,
                    "images": [{"url": base + f"pc/pic/{day:%Y%m}/{day:%d}/{uuid.UUID(int=rnd.getrandbits(128))}.jpg",
                                "caption": i["caption"]} for i in like["images"]],
                    "content_hash": hashlib.sha256(body.encode("utf-8")).hexdigest(),
                    "duplicate_of": None, "crawled_at": crawled, "source": "ahjjb",
                    "page_index": a["page_index"], "position": a["position"],
                    "warc_file": warc_file,
                    "warc_record_id": f"<urn:uuid:{uuid.UUID(int=rnd.getrandbits(128), version=4)}>",
                })
            info = {"complete": True, "failures": [], "pages": len({r["page_index"] for r in rows}),
                    "duplicates": 0, "crawled_at": crawled.isoformat(), "source": "ahjjb"}
            schema = S.ARTICLES.with_metadata({**(S.ARTICLES.metadata or {}), b"epaper": json.dumps(info).encode()})
            path = snapshot_path(root, "ahjjb", "articles", day)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, compression="zstd")
            for r in rows:
                out.write(json.dumps({"issue_date": day.isoformat(), **r, "crawled_at": crawled.isoformat()},
                                     ensure_ascii=False))
                out.write("\n")
            written += len(rows)
            dates += 1
            day -= dt.timedelta(1)
    return written, dates


def run(ctx: Context) -> list[dict]:
    import time

    import duckdb

    from epaper.storage.compact import COMPACT, refresh
    from epaper.storage.parquet import archived_dates, read_snapshot, write_snapshot
    from epaper.storage.load import load_articles

    target = QUICK_ROWS if ctx.quick else ROWS
    root = ctx.fresh_dir("storage")
    jsonl = root / "articles.jsonl"
    root.mkdir(parents=True)
    n, dates = synthesize(ctx, root, jsonl, target)
    parquet_bytes = sum(p.stat().st_size for p in (root / "articles").rglob("*.parquet"))
    json_bytes = jsonl.stat().st_size

    started = time.perf_counter()
    years = len(refresh(root))
    t_build = time.perf_counter() - started
    latest = archived_dates(root, "ahjjb")[-1]  # a daily run replaces one date: one year is rebuilt
    write_snapshot(root, "ahjjb", "articles", latest, read_snapshot(root, "ahjjb", "articles", latest).to_pylist(), {"complete": True})
    started = time.perf_counter()
    rebuilt = len(refresh(root))
    t_daily = time.perf_counter() - started
    compact_bytes = sum(p.stat().st_size for p in (root / COMPACT).rglob("*.parquet"))

    con = duckdb.connect()
    sources = {
        "compact": f"read_parquet('{root}/{COMPACT}/articles/*/*.parquet')",
        "daily": f"read_parquet('{root}/articles/**/*.parquet', hive_partitioning=true)",
        "jsonl": f"read_json('{jsonl}', format='newline_delimited')",
    }
    reps = 2 if ctx.quick else 3
    got = {k: con.sql(QUERY.format(source=v)).fetchall() for k, v in sources.items()}
    took = {k: best_of(lambda v=v: con.sql(QUERY.format(source=v)).fetchall(), reps) for k, v in sources.items()}
    load = lambda: load_articles(root, columns=["issue_date", "page_name"])  # noqa: E731
    t_load = best_of(load, reps)
    with mock.patch("storage.compact.fresh_copy", return_value=None):
        t_load_daily = best_of(load, reps)
    size_ratio = parquet_bytes / json_bytes
    speed = took["jsonl"] / took["compact"]
    same = got["compact"] == got["daily"] == got["jsonl"] and sum(r[2] for r in got["jsonl"]) == n
    return [
        row("storage: rows / snapshot files (dates) / compacted files (years)", f"{n} / {dates} / {years}",
            f">= {target}", n >= target),
        row("storage: Parquet MB (daily snapshots) / JSON lines MB",
            f"{parquet_bytes / 2**20:.0f} / {json_bytes / 2**20:.0f}"),
        row("storage: Parquet / JSON lines bytes", round(size_ratio, 3), f"<= {SIZE_GOAL:g}",
            size_ratio <= SIZE_GOAL),
        row("storage: compact/ bytes / JSON lines bytes (info: a second copy)", round(compact_bytes / json_bytes, 3)),
        row("storage: compact/ built from every snapshot (s)", round(t_build, 1)),
        row(f"storage: compact/ refreshed after one date is replaced (s, {rebuilt} file)", round(t_daily, 2)),
        row("storage: DuckDB articles per page name per month over compact/ (s)", round(took["compact"], 3)),
        row("storage: same query over JSON lines (s)", round(took["jsonl"], 3)),
        row("storage: query speed-up compact/ vs JSON lines", round(speed, 1), f">= {SPEED_GOAL:g}",
            speed >= SPEED_GOAL),
        row("storage: same query over the daily snapshots (s; speed-up vs JSON lines)",
            f"{took['daily']:.3f} ({took['jsonl'] / took['daily']:.1f}x)"),
        row("storage: load_articles, two columns, from compact/ / from the daily files (s)",
            f"{t_load:.3f} / {t_load_daily:.3f}"),
        row("storage: the three queries give the same result", "yes" if same else "no", "yes", same),
    ]

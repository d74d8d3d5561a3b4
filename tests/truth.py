"""Compare an archive with a replica's ground truth (truth.json): used by the end-to-end tests."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from urllib.parse import urljoin

import pyarrow as pa

from epaper.storage.parquet import DATASETS, archived_dates, read_snapshot
from epaper.storage.load import load_articles, load_pages
from epaper.storage.schema import PARTITION

FIELDS = ("page_no", "page_name", "page_pdf_url", "column", "intro_title", "title", "subtitle",
          "author", "body", "images", "page_index", "position")


def expected_articles(truth: dict, base_url: str) -> dict[str, dict]:
    """Truth rows keyed by absolute URL, with URLs made absolute."""
    out = {}
    for a in truth["articles"]:
        row = dict(a)
        row["url"] = urljoin(base_url, a["url"])
        row["page_pdf_url"] = urljoin(base_url, a["page_pdf_url"]) if a.get("page_pdf_url") else None
        row["images"] = [{"url": urljoin(base_url, i["url"]), "caption": i["caption"]} for i in a["images"]]
        row["duplicate_of_url"] = urljoin(base_url, a["duplicate_of_url"]) if a.get("duplicate_of_url") else None
        out[row["url"]] = row
    return out


def read_snapshots(root: Path, dataset: str = "articles", start: dt.date = dt.date.min,
                   end: dt.date = dt.date.max) -> pa.Table:
    """The daily snapshots of [start, end] read one by one, the source of truth, in the loaders'
    column order; a damaged file is left out, as the loaders leave it out."""
    tables = []
    for day in archived_dates(root, "ahjjb", dataset):
        if start <= day <= end:
            try:
                table = read_snapshot(root, "ahjjb", dataset, day)
            except (OSError, pa.ArrowException):
                continue
            table = table.append_column("source", pa.array(["ahjjb"] * table.num_rows, pa.string()))
            tables.append(table.append_column("issue_date", pa.array([day] * table.num_rows, pa.date32())))
    return pa.concat_tables(tables) if tables else pa.unify_schemas([DATASETS[dataset], PARTITION]).empty_table()


def diff_archive(data: Path, truth_path: Path, base_url: str, dates=None) -> list[str]:
    """Every difference between the archive and the truth, as readable lines (empty: equal)."""
    truth = json.loads(Path(truth_path).read_text(encoding="utf-8"))
    expected = expected_articles(truth, base_url)
    if dates is not None:
        keep = {d.isoformat() for d in dates}
        expected = {u: r for u, r in expected.items() if r["issue_date"] in keep}
    snapshots = read_snapshots(data)
    if not load_articles(data).equals(snapshots):  # what readers get, from compact/ when fresh
        return ["load_articles differs from the daily snapshots"]
    all_rows = snapshots.to_pylist()
    by_id = {r["article_id"]: r["url"] for r in all_rows}  # duplicate_of may point before the dates
    rows = all_rows if dates is None else [r for r in all_rows if r["issue_date"].isoformat() in keep]
    problems = []
    got = {}
    for r in rows:
        if r["url"] in got:
            problems.append(f"{r['url']}: archived twice")
        got[r["url"]] = r
    for url in sorted(set(expected) - set(got)):
        problems.append(f"{url}: missing")
    for url in sorted(set(got) - set(expected)):
        problems.append(f"{url}: not in the truth")
    for url in sorted(set(expected) & set(got)):
        e, g = expected[url], got[url]
        if g["issue_date"].isoformat() != e["issue_date"]:
            problems.append(f"{url}: issue_date {g['issue_date']} != {e['issue_date']}")
        for f in FIELDS:
            if g[f] != e[f]:
                problems.append(f"{url}: {f} {g[f]!r:.200} != {e[f]!r:.200}")
        dup = by_id.get(g["duplicate_of"]) if g["duplicate_of"] else None
        if dup != e["duplicate_of_url"]:
            problems.append(f"{url}: duplicate_of {dup} != {e['duplicate_of_url']}")
    pages = read_snapshots(data, "pages")
    if not load_pages(data).equals(pages):
        return ["load_pages differs from the daily snapshots"]
    pages = pages.to_pylist()
    want_pages = {(d, p["page_no"]): p for d, issue in truth["issues"].items() for p in issue["pages"]
                  if dates is None or d in keep}
    got_pages = {(p["issue_date"].isoformat(), p["page_no"]): p for p in pages
                 if dates is None or p["issue_date"].isoformat() in keep}
    if set(want_pages) != set(got_pages):
        problems.append(f"pages differ: missing {sorted(set(want_pages) - set(got_pages))[:5]}, "
                        f"extra {sorted(set(got_pages) - set(want_pages))[:5]}")
    for key in set(want_pages) & set(got_pages):
        w, g = want_pages[key], got_pages[key]
        for f, gf in (("page_name", "page_name"), ("url", "url"), ("pdf_url", "pdf_url"), ("image_url", "image_url")):
            wv = urljoin(base_url, w[f]) if f != "page_name" and w.get(f) else w.get(f)
            if g[gf] != wv:
                problems.append(f"page {key}: {f} {g[gf]!r} != {wv!r}")
        if g["article_count"] != len(w["articles"]):
            problems.append(f"page {key}: article_count {g['article_count']} != {len(w['articles'])}")
    return problems

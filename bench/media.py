"""What capturing the pages as printed costs on disk: one issue with MEDIA_CAPTURE off and on.

    python -m bench.media [--work DIR] [--template pc-rmrb] [--date 2023-08-03]

Builds a one-day replica with media of real sizes (`build_site(media="real")`: page PDFs of
1-3 MB, scans of 300 KB-1 MB, article images of 50-200 KB, bytes that do not compress) and
archives it with `epaper crawl` three ways: media off; media on (pdf, scan, images); media on
again over the unchanged issue, once with the portal answering conditional requests (304) and
once with it ignoring them (the same bytes again). Reports the bytes of the snapshots
(articles/, pages/) and of warc/, and what each repeated crawl added. Also part of
`python -m bench` (`--only media`).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import Context, row  # noqa: E402

DAY = dt.date(2023, 8, 3)
MEDIA = {"MEDIA_CAPTURE": "pdf,scan,images"}


def tree_bytes(root: Path, folder: str) -> int:
    return sum(p.stat().st_size for p in (root / folder).rglob("*") if p.is_file()) if (root / folder).is_dir() else 0


def snapshot_bytes(root: Path) -> int:
    return tree_bytes(root, "articles") + tree_bytes(root, "pages")


def measure(work: Path, template: str = "pc-rmrb", day: dt.date = DAY) -> dict:
    """The figures, in bytes (and the issue's shape)."""
    from epaper.replica.build import build_site
    from epaper.replica.server import serve

    ctx = Context(work)
    replica = work / f"replica-media-{template}"
    build_site(replica, start=day, end=day, template=template, generation=template.split("-")[0], media="real")
    truth = json.loads((replica / "truth.json").read_text(encoding="utf-8"))
    issue = truth["issues"][day.isoformat()]
    media_paths = {p for page in issue["pages"] for p in (page["pdf_url"], page["image_url"])}
    media_paths |= {i["url"] for a in truth["articles"] for i in a["images"]}
    out = {"pages": len(issue["pages"]), "articles": len(truth["articles"]), "media_files": len(media_paths),
           "portal_media_bytes": sum((replica / "site" / p).stat().st_size for p in media_paths)}

    def crawl(server, name: str, settings: dict | None = None):
        data = work / name
        done = ctx.crawl(server, day, day, data, settings)
        if done.status != 0:
            raise RuntimeError(f"crawl {name} exited {done.status}: {done.stderr.strip()[-300:]}")
        return data, done

    with serve(replica / "site") as server:
        off, run_off = crawl(server, ctx.fresh_dir("media-off").name)
        on, run_on = crawl(server, ctx.fresh_dir("media-on").name, MEDIA)
        warc_on = tree_bytes(on, "warc")
        _, run_304 = crawl(server, "media-on", MEDIA)
        warc_304 = tree_bytes(on, "warc")
        port = server.port
    with serve(replica / "site", conditional="ignore", port=port) as server:  # the same URLs
        crawl(server, "media-on", MEDIA)
        warc_same = tree_bytes(on, "warc")
    out.update(snapshot_off=snapshot_bytes(off), warc_off=tree_bytes(off, "warc"),
               snapshot_on=snapshot_bytes(on), warc_on=warc_on,
               repeat_304=warc_304 - warc_on, repeat_identical=warc_same - warc_304,
               rss_off_mb=run_off.max_rss_mb, rss_on_mb=run_on.max_rss_mb, rss_repeat_mb=run_304.max_rss_mb)
    return out


def rows(m: dict) -> list[dict]:
    per_issue_off = m["snapshot_off"] + m["warc_off"]
    per_issue_on = m["snapshot_on"] + m["warc_on"]
    shape = f"{m['pages']} pages, {m['articles']} articles, {m['media_files']} media files"
    return [
        row(f"media: issue ({shape}), media on the portal (KB)", round(m["portal_media_bytes"] / 1000)),
        row("media: off, snapshots + warc per issue (KB)", f"{m['snapshot_off'] / 1000:.0f} + "
                                                            f"{m['warc_off'] / 1000:.0f} = {per_issue_off / 1000:.0f}"),
        row("media: on, snapshots + warc per issue (KB)", f"{m['snapshot_on'] / 1000:.0f} + "
                                                           f"{m['warc_on'] / 1000:.0f} = {per_issue_on / 1000:.0f}"),
        row("media: on / off, bytes per issue", f"{per_issue_on / per_issue_off:.0f}x"),
        row("media: on, warc / media served (stored once, uncompressible)",
            f"{m['warc_on'] / m['portal_media_bytes']:.3f}"),
        row("media: repeat of an unchanged issue, 304 answers, added (KB)", f"{m['repeat_304'] / 1000:.0f}"),
        row("media: repeat, portal ignores conditions, added (KB)", f"{m['repeat_identical'] / 1000:.0f}"),
        row("media: repeat added / first capture (304, identical)",
            f"{m['repeat_304'] / m['warc_on']:.2%}, {m['repeat_identical'] / m['warc_on']:.2%}"),
        row("media: peak RSS of the crawl, off / on / repeat (MB)",
            f"{m['rss_off_mb']:.0f} / {m['rss_on_mb']:.0f} / {m['rss_repeat_mb']:.0f}"),
    ]


def run(ctx: Context) -> list[dict]:
    return rows(measure(ctx.work))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.media", description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="work folder (kept); default a temporary one")
    parser.add_argument("--template", default="pc-rmrb")
    parser.add_argument("--date", type=dt.date.fromisoformat, default=DAY)
    args = parser.parse_args(argv)
    import shutil
    import tempfile

    work = args.work or Path(tempfile.mkdtemp(prefix="epaper-bench-media-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        figures = measure(work, args.template, args.date)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures, indent=1))
    for r in rows(figures):
        print(f"{r['name']}: {r['value']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

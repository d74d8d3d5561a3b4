"""The archive's WARC files are standard: `cdxj-indexer` (the indexer pywb and py-wacz use)
indexes them as they are, and every archived article URL is in its index with a payload it
can serve, a re-crawl's revisits resolved to the record holding the bytes, as pywb resolves
them (issue 25, item 7; the replay recipe is in the operations docs)."""
from __future__ import annotations

import datetime as dt
import html
import json
import subprocess
import sys
from pathlib import Path

import pytest_twisted
from warcio.archiveiterator import ArchiveIterator

from epaper.storage.load import load_articles
from epaper.storage.parquet import partition_dir
from tests.conftest import crawl_in_process

DAY = dt.date(2023, 8, 3)
INDEXER = Path(sys.executable).with_name("cdxj-indexer")


def cdxj(root: Path, files: list[Path]) -> list[tuple[str, str, dict]]:
    """The CDXJ index of `files` as pywb's `wb-manager add` builds it: (SURT key, 14-digit
    timestamp, fields) per line, file names relative to the archive root."""
    assert INDEXER.exists(), "cdxj-indexer is not installed: pip install -e '.[test]'"
    out = subprocess.run([str(INDEXER), "--sort", "--post-append", "--dir-root", str(root), *map(str, files)],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    lines = []
    for line in out.splitlines():
        key, stamp, fields = line.split(" ", 2)
        lines.append((key, stamp, json.loads(fields)))
    return lines


def payload(root: Path, entry: dict) -> bytes:
    """The HTTP payload of the record an index entry points at (filename, offset), as a replay
    tool reads it."""
    with open(root / entry["filename"], "rb") as fh:
        fh.seek(int(entry["offset"]))
        record = next(iter(ArchiveIterator(fh)))
        assert record.rec_type == "response"
        return record.content_stream().read()


@pytest_twisted.ensureDeferred
async def test_a_standard_indexer_finds_every_archived_article_revisits_resolved(portal, tmp_path):
    server = portal("pc-rmrb", DAY, DAY + dt.timedelta(days=1))
    await crawl_in_process(tmp_path, server.base_url, date=DAY)
    await crawl_in_process(tmp_path, server.base_url, date=DAY)  # a recheck: its unchanged pages are revisits
    files = sorted(partition_dir(tmp_path, "ahjjb", "warc", DAY).glob("*.warc.gz"))
    assert len(files) == 2
    index = cdxj(tmp_path, files)

    articles = load_articles(tmp_path, DAY, DAY, columns=["url", "title", "warc_file"]).to_pylist()
    assert articles
    captures: dict[str, list[dict]] = {}
    for _key, _stamp, entry in index:
        captures.setdefault(entry["url"], []).append(entry)
    originals = {(e["url"], e["digest"]): e for e in (x for _, _, x in index) if e.get("mime") != "warc/revisit"}

    revisits = 0
    for article in articles:
        assert article["url"] in captures, f"not in the index: {article['url']}"
        newest = max(captures[article["url"]], key=lambda e: e["filename"])  # the second crawl's file
        assert newest["filename"] == article["warc_file"]  # the row points where the index does
        if newest.get("mime") == "warc/revisit":
            revisits += 1
            # pywb answers a revisit with the earlier record of the same URL and payload digest
            newest = originals[(newest["url"], newest["digest"])]
        assert newest["status"] == "200"
        page = payload(tmp_path, newest)
        assert article["title"].split()[0] in html.unescape(page.decode("utf-8"))  # the article's own page
    assert revisits == len(articles)  # the replica's pages did not change: every one a revisit

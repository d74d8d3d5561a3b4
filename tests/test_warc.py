"""WARC reading: a cut file is always reported as damaged, wherever the cut falls."""

import io

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from epaper.crawler.captures import _records
from tests.conftest import slow_but


def _read_all(path):
    return [(r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read())
            for r in _records(path) if r.rec_type == "response"]


@pytest.fixture
def warc(tmp_path):
    path = tmp_path / "issue.warc.gz"
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for n in range(6):
            body = ("<p>" + "第%d篇　正文。" % n * 40 + "</p>").encode()
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")],
                                    protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                f"http://127.0.0.1/pc/content/{n}.html", "response",
                payload=io.BytesIO(body), http_headers=http))
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh)
        boundaries = {it.get_record_offset() for _ in it} | {path.stat().st_size}
    return path, boundaries


def test_a_whole_file_reads_every_record(warc):
    path, _ = warc
    assert [url[-6:] for url, _ in _read_all(path)] == [f"{n}.html" for n in range(6)]


def test_every_cut_inside_a_gzip_member_raises(warc):
    path, boundaries = warc
    data = path.read_bytes()
    cuts = [cut for cut in range(1, len(data)) if cut not in boundaries]
    for cut in cuts:
        path.write_bytes(data[:cut])
        with pytest.raises((EOFError, OSError)):
            _read_all(path)


# ------------------------------------------------------------------ a WARC bomb


def bomb_member(size: int = 1 << 30) -> bytes:
    """One gzip member (about 1 MB) holding a WARC response record of `size` zero bytes.

    Built from one compressed 1 MiB block repeated: a full flush resets the compressor, so each
    block of zeros compresses to the same bytes (seconds, where compressing 1 GiB takes more)."""
    import struct
    import zlib

    head = (f"WARC/1.1\r\nWARC-Type: response\r\nWARC-Target-URI: http://127.0.0.1/bomb.html\r\n"
            f"Content-Type: application/http; msgtype=response\r\nContent-Length: {size}\r\n\r\n").encode()
    zeros = bytes(1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    assert c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH) == block
    crc = zlib.crc32(head)
    for _ in range(size >> 20):
        crc = zlib.crc32(zeros, crc)
    tail = c.flush() + struct.pack("<II", crc, (len(head) + size) & 0xFFFFFFFF)
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + first + block * (size >> 20) + tail


def test_a_record_inflating_past_the_bound_is_refused(tmp_path, warc):
    from epaper.crawler.captures import RecordTooLarge

    path, _ = warc
    bomb = tmp_path / "bomb.warc.gz"
    bomb.write_bytes(path.read_bytes() + bomb_member(64 << 20))
    seen = []
    with pytest.raises(RecordTooLarge, match="WARC_RECORD_MAXSIZE"):
        for record in _records(bomb, limit=8 << 20):
            seen.append(record.content_stream().read())
    assert len(seen) == 6  # the records before it are read
    assert len(list(_records(bomb, limit=80 << 20))) == 7  # under a larger bound it is a record


@pytest.mark.parametrize("where", slow_but(["first", "last"], "last"))
def test_reparse_of_a_warc_bomb_stays_in_bounded_memory(portal, tmp_path, where):
    """A 1 MB member inflating to 1 GiB in the date's WARC file: reparse refuses it with the
    reason, its peak memory stays under 300 MB (it was 2.2 GB). First in the file, nothing after
    it is trusted and there is nothing to replay; last, the records before it are replayed."""
    import datetime as dt
    import subprocess
    import sys

    from tests.conftest import CLEAN_CWD, CLEAN_ENV, FAST, run_epaper

    day = dt.date(2023, 8, 1)
    server = portal("pc-rmrb", day, dt.date(2023, 8, 4))
    assert run_epaper("crawl", "--date", day.isoformat(), "--base-url", server.base_url, "--data",
                      str(tmp_path), *FAST).returncode == 0
    (path,) = (tmp_path / "warc").rglob("*.warc.gz")
    raw = path.read_bytes()
    path.write_bytes(bomb_member() + raw if where == "first" else raw + bomb_member())
    watch = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "sys.stderr.write(p.stderr); print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    result = subprocess.run([sys.executable, "-c", watch, sys.executable, "-m", "epaper", "reparse", "--all",
                             "--data", str(tmp_path)], cwd=CLEAN_CWD, env=CLEAN_ENV, capture_output=True,
                            text=True, timeout=240)
    status, peak_kb = map(int, result.stdout.split())
    print(f"reparse peak RSS {peak_kb // 1024} MB")
    assert peak_kb < 300 * 1024, f"peak {peak_kb // 1024} MB"
    assert "Traceback" not in result.stderr
    if where == "first":  # no readable WARC to replay from
        assert status == 2 and len(result.stderr.splitlines()) == 1, result.stderr
        assert "inflates past 33,554,432 bytes (WARC_RECORD_MAXSIZE)" in result.stderr
    else:
        assert status == 0, result.stderr
        log = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "logs").glob("*reparse*.log"))
        assert "inflates past 33,554,432 bytes (WARC_RECORD_MAXSIZE)" in log


# ------------------------------------------------------------------ revisits


def _warc_records(path):
    """(type, headers) of every record of a WARC file, read by warcio itself."""
    with open(path, "rb") as fh:
        return [(r.rec_type, r.rec_headers) for r in ArchiveIterator(fh)]


async def _crawl_twice(portal, tmp_path, day, **server_options):
    import datetime as dt

    from tests.conftest import crawl_in_process

    server = portal("pc-rmrb", day, day + dt.timedelta(days=1), **server_options)
    for _ in range(2):
        ledger = await crawl_in_process(tmp_path, server.base_url, date=day)
        assert ledger.results[day].status == "archived", ledger.results[day].failures
    return server


def _replay_settings(root):
    return {"WARC_REPLAY_DIR": str(root), "WARC_ENABLED": False, "ROBOTSTXT_OBEY": False}


import pytest_twisted  # noqa: E402


@pytest_twisted.ensureDeferred
async def test_a_recrawl_of_an_unchanged_issue_writes_revisits_that_replay(portal, tmp_path):
    """The second capture of an unchanged issue holds only revisit records, each naming the
    response record of the first that holds its payload; the first file is left as it was;
    replay answers a revisit with that payload, so reparse gives the live snapshot."""
    import datetime as dt

    from epaper.crawler.captures import IDENTICAL, payload_digest
    from epaper.storage.load import load_articles, load_pages
    from tests.conftest import crawl_in_process

    day = dt.date(2023, 8, 3)
    server = portal("pc-rmrb", day, day + dt.timedelta(days=1), conditional="ignore")
    await crawl_in_process(tmp_path, server.base_url, date=day)
    (first,) = sorted((tmp_path / "warc").rglob("*.warc.gz"))
    first_bytes = first.read_bytes()
    await crawl_in_process(tmp_path, server.base_url, date=day)
    files = sorted((tmp_path / "warc").rglob("*.warc.gz"))
    assert len(files) == 2 and files[0] == first and first.read_bytes() == first_bytes
    second = files[1]

    originals = {h.get_header("WARC-Record-ID"): h for t, h in _warc_records(first) if t == "response"}
    records = _warc_records(second)
    assert {t for t, _ in records} == {"warcinfo", "revisit"}
    for _, h in records[1:]:
        original = originals[h.get_header("WARC-Refers-To")]
        assert h.get_header("WARC-Profile") == IDENTICAL
        assert h.get_header("WARC-Refers-To-Target-URI") == h.get_header("WARC-Target-URI") \
            == original.get_header("WARC-Target-URI")
        assert h.get_header("WARC-Refers-To-Date") == original.get_header("WARC-Date")
        assert h.get_header("WARC-Payload-Digest") == original.get_header("WARC-Payload-Digest")
    assert len(records) - 1 == len(originals)
    ratio = second.stat().st_size / first.stat().st_size
    print(f"WARC bytes of a repeated crawl of an unchanged issue: {second.stat().st_size:,} "
          f"({ratio:.1%} of the first capture, {first.stat().st_size:,})")
    assert ratio < 0.15

    live_articles, live_pages = load_articles(tmp_path), load_pages(tmp_path)
    rows = load_articles(tmp_path, columns=["url", "warc_file", "warc_record_id"]).to_pylist()
    revisits = {h.get_header("WARC-Record-ID"): h for _, h in records[1:]}
    for row in rows:  # each row names the revisit of this crawl, whose original holds its page
        assert row["warc_file"] == str(second.relative_to(tmp_path))
        assert revisits[row["warc_record_id"]].get_header("WARC-Target-URI") == row["url"]
    body = (server.site_dir / rows[0]["url"][len(server.base_url):]).read_bytes()
    assert revisits[rows[0]["warc_record_id"]].get_header("WARC-Payload-Digest") == payload_digest(body)

    server.stop()  # the portal is down: replay only
    ledger = await crawl_in_process(tmp_path, server.base_url, settings=_replay_settings(tmp_path), date=day)
    assert ledger.results[day].status == "archived", ledger.results[day].failures
    assert load_articles(tmp_path).equals(live_articles)
    assert load_pages(tmp_path).equals(live_pages)


def test_a_file_with_revisits_cut_anywhere_is_damaged(tmp_path, warc):
    """The cut-at-every-offset guarantee holds for files holding revisit records too."""
    from epaper.crawler.captures import payload_digest

    path, _ = warc
    with open(path, "ab") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="1.1")
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        body = ("<p>" + "第%d篇　正文。" % 0 * 40 + "</p>").encode()
        writer.write_record(writer.create_revisit_record(
            "http://127.0.0.1/pc/content/0.html", payload_digest(body), "http://127.0.0.1/pc/content/0.html",
            "2023-08-03T00:00:00Z", http_headers=http))
    assert [r.rec_type for r in _records(path)][-1] == "revisit"
    data = path.read_bytes()
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh)
        boundaries = {it.get_record_offset() for _ in it} | {len(data)}
    for cut in range(1, len(data)):
        if cut in boundaries:
            continue
        path.write_bytes(data[:cut])
        with pytest.raises((EOFError, OSError)):
            list(_records(path))


def test_a_history_replay_reads_each_warc_file_once(tmp_path, monkeypatch):
    """`reparse` replays a date's crawls one run after the other: run k sees the date as its
    k-th crawl left it (a revisit resolved through an earlier file), and every file is read
    once in all, so a date crawled n times costs n file reads, not n²/2."""
    import datetime as dt

    from epaper.crawler import captures
    from epaper.storage.parquet import partition_dir

    day, base = dt.date(2023, 8, 3), "http://127.0.0.1/ahjjb/"
    folder = partition_dir(tmp_path, "ahjjb", "warc", day)
    folder.mkdir(parents=True)
    first_id = None
    for i in range(8):
        with open(folder / f"20260101T00000{i}-1.warc.gz", "wb") as fh:
            writer = WARCWriter(fh, gzip=True)
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            page = writer.create_warc_record(f"{base}page{i}.html", "response", payload=io.BytesIO(b"<html>%d</html>" % i),
                                             http_headers=http, warc_headers_dict={"WARC-Date": f"2026-01-01T00:00:0{i}Z"})
            writer.write_record(page)
            if first_id is None:
                first_id = page.rec_headers.get_header("WARC-Record-ID")
                digest = page.rec_headers.get_header("WARC-Payload-Digest")
            else:  # the calendar, unchanged since the first crawl
                writer.write_record(writer.create_revisit_record(
                    f"{base}page0.html", digest, f"{base}page0.html", "2026-01-01T00:00:00Z", http_headers=http,
                    warc_headers_dict={"WARC-Date": f"2026-01-01T00:00:0{i}Z", "WARC-Refers-To": first_id}))
    reads = []
    read_file = captures._read_file
    monkeypatch.setattr(captures, "_read_file", lambda root, path, *rest: reads.append(path) or read_file(root, path, *rest))
    session = captures.ReplaySession(tmp_path, "ahjjb")
    for k in range(1, 9):  # the date as its k-th crawl left it: each URL's newest capture so far
        seen = session.history(day).crawl(k).newest_by_url
        assert sorted(seen) == sorted(f"{base}page{i}.html" for i in range(k))
        assert seen[f"{base}page0.html"].payload == b"<html>0</html>"
        assert seen[f"{base}page0.html"].when.second == k - 1  # the revisit of crawl k, its payload the first's
    assert len(reads) == len(set(reads)) == 8
    session.forget(day)
    assert session.history(day).read == 0
    session.forget()
    assert not session.histories

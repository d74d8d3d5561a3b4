"""WARC reading: a cut file is always reported as damaged, wherever the cut falls."""

import io

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from epaper.crawler.warc import _records


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
    from epaper.crawler.warc import RecordTooLarge

    path, _ = warc
    bomb = tmp_path / "bomb.warc.gz"
    bomb.write_bytes(path.read_bytes() + bomb_member(64 << 20))
    seen = []
    with pytest.raises(RecordTooLarge, match="WARC_RECORD_MAXSIZE"):
        for record in _records(bomb, limit=8 << 20):
            seen.append(record.content_stream().read())
    assert len(seen) == 6  # the records before it are read
    assert len(list(_records(bomb, limit=80 << 20))) == 7  # under a larger bound it is a record


@pytest.mark.parametrize("where", ["first", "last"])
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

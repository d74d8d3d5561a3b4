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

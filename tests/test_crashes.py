"""Crashes and tracebacks (issue 22, family 6): mathtext in page names, special files and odd
charsets in `extract`, a closed stdout pipe, a full disk while taking the lock. Each case is one
clear line and the right exit status."""
from __future__ import annotations

import datetime as dt
import errno
import os
import subprocess
import sys

import pytest

from epaper.cli import main
from tests.conftest import CLEAN_CWD, CLEAN_ENV

PAGE_URL = "http://127.0.0.1:9/ahjjb/pc/layout/202308/01/node_01.html"


# ------------------------------------------------------------------ report: `$…$` is text, not mathtext


def test_report_draws_dollar_signs_in_page_names_and_titles_as_text():
    pytest.importorskip("matplotlib")
    from epaper import report

    days = [report.Day(dt.date(2023, 8, 1) + dt.timedelta(i), report.COMPLETE, 3) for i in range(3)]
    pages = [report.PageName(r"$\nosuchcommand{$", [r"$^$"], 5, 1, "#1"),
             report.PageName("$x_$ 要闻", ["$01$"], 3, 0, "#2")]
    data = report.ReportData(root=__import__("pathlib").Path("."), title=r"paper $\frac{$ archive", days=days,
                             pages=pages)
    for font in (None, "DejaVu Sans"):  # names drawn (a font) and by rank (none)
        png = report.render_png(data, font)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ extract: special files, odd charsets


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "page.fifo"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind", ["fifo", "folder", "device", "missing"])
def test_extract_refuses_what_is_not_a_regular_file_in_one_line(kind, tmp_path, capsys, request):
    path = {"fifo": lambda: request.getfixturevalue("fifo"), "folder": lambda: tmp_path,
            "device": lambda: "/dev/zero", "missing": lambda: tmp_path / "nothing.html"}[kind]()
    from epaper.extract import NotAPageFile, read_page_file

    with pytest.raises(NotAPageFile):  # never blocks on the FIFO, never reads /dev/zero forever
        read_page_file(path)
    assert main(["extract", str(path), "--url", PAGE_URL]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err


def test_extract_reads_at_most_its_bound(tmp_path):
    from epaper.extract import NotAPageFile, read_page_file

    path = tmp_path / "big.html"
    path.write_bytes(b"<html>" + b"x" * 2000 + b"</html>")
    assert read_page_file(path, limit=5000).startswith(b"<html>")
    with pytest.raises(NotAPageFile, match="larger than 1,000 bytes"):
        read_page_file(path, limit=1000)


@pytest.mark.parametrize("charset", ["base64", "rot13", "hex", "bz2", "zlib", "uu"])
def test_extract_with_a_charset_naming_a_codec_that_is_not_text(charset, tmp_path, capsys):
    path = tmp_path / "page.html"
    # Not valid UTF-8 (GBK bytes), so the declared label is tried.
    path.write_bytes(f'<html><head><meta charset="{charset}"></head><body>'.encode() + "中文版面".encode("gbk")
                     + b"</body></html>")
    status = main(["extract", str(path), "--url", PAGE_URL])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "LookupError" not in err.split(":", 1)[0]
    if status:  # refused with a reason, or read as another encoding: never a crash
        assert status == 1 and err.count("\n") == 1 and str(path) in err


# ------------------------------------------------------------------ a reader that goes away


@pytest.mark.parametrize("args", [["schema"], ["schema", "--json"], ["status", "--json"], ["extract"]])
def test_a_closed_stdout_pipe_is_no_traceback(args, tmp_path):
    if args == ["extract"]:
        page = tmp_path / "page.html"
        page.write_text('<html><body><a id="pageLink" href="node_01.html">01版：要闻</a>'
                        + "".join(f'<a href="../../../content/202308/01/content_{n}.html">标题{n}</a>'
                                  for n in range(3000)) + "</body></html>", encoding="utf-8")
        args = ["extract", str(page), "--url", PAGE_URL]
    if args[0] == "status":
        from tests.test_compact import archive

        archive(tmp_path / "data", [dt.date(2023, 1, 1) + dt.timedelta(i) for i in range(400)])
        args = [*args, "--data", str(tmp_path / "data")]
    proc = subprocess.Popen([sys.executable, "-m", "epaper", *args], cwd=CLEAN_CWD, env=CLEAN_ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # as `| head -0` does: the reader is gone before anything is written
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert proc.returncode == 1


def test_main_survives_a_broken_pipe_in_process(monkeypatch, capsys):
    r, w = os.pipe()
    os.close(r)
    stream = open(w, "w", encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", stream)
    try:
        assert main(["schema", "--json"]) == 1
        stream.write("x" * 100_000)  # stdout now goes to devnull: nothing left to fail at exit
        stream.flush()
    finally:
        stream.close()


# ------------------------------------------------------------------ a full disk while taking the lock


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_enospc_while_taking_the_lock_is_one_line_and_leaves_it_free(tmp_path, monkeypatch):
    from epaper.lock import ArchiveLock, LockError

    data = tmp_path / "data"
    with monkeypatch.context() as m:
        m.setattr("epaper.lock.os.pwrite", _enospc)
        with pytest.raises(LockError) as caught:
            ArchiveLock(data).acquire()
    assert "No space left on device" in str(caught.value) and "\n" not in str(caught.value)
    with ArchiveLock(data) as lock:  # the failed taker let it go
        assert lock.held


def test_crawl_with_a_full_disk_at_the_lock_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    monkeypatch.setattr("epaper.lock.os.fsync", _enospc)
    status = main(["crawl", "--date", "2023-08-01", "--base-url", "http://127.0.0.1:9/ahjjb/", "--data", str(data)])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "No space left on device" in err and "lock" in err
    assert not any(p.name not in (".lock", ".locks") for p in data.iterdir())  # nothing else started

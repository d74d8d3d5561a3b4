"""Knowing what is lost (issue 21, item 7): a snapshot damaged inside (its footer intact) makes
`status --check` exit 1 naming it; a date the run log says was archived and whose snapshot is
gone is `lost`, with the command that restores it; the loaders and compact/ name every such
date each time, and never crash on it."""
from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import shlex
import shutil
import warnings
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import pytest_twisted

from epaper.state import DAMAGED, LOST, date_states
from epaper.storage import compact
from epaper.storage.load import DamagedSnapshotWarning, load_articles, load_pages
from epaper.storage.parquet import read_snapshot, snapshot_path, verify_file, write_snapshot
from tests.test_state import SHANGHAI, write_day, write_run
from tests.test_status_health import WINDOW, healthy, status

OLD = dt.date(2026, 10, 5)  # long before the catch-up window


def zero_middle(path: Path, count: int = 200) -> None:
    """`count` zero bytes in the middle of the file's data, its footer left intact."""
    raw = bytearray(path.read_bytes())
    footer = int.from_bytes(raw[-8:-4], "little")
    data_end = len(raw) - 8 - footer
    middle = (4 + data_end) // 2 - count // 2
    assert 4 <= middle and middle + count <= data_end
    raw[middle:middle + count] = bytes(count)
    path.write_bytes(bytes(raw))
    pq.read_metadata(path)  # the footer still reads: what status saw before


def long_day(data: Path, day: dt.date) -> None:
    """A date with enough text that its data dwarfs the footer."""
    write_day(data, day, articles=60)
    table = read_snapshot(data, "ahjjb", "articles", day)
    rows = [{**r, "body": "".join(chr(0x4E00 + (i * 7 + j * 13) % 2000) for j in range(400))}
            for i, r in enumerate(table.to_pylist())]
    write_snapshot(data, "ahjjb", "articles", day, rows, {"complete": True, "pages": 1})


def with_old_day(data: Path) -> None:
    """The healthy archive, and an older date archived with 60 long articles."""
    healthy(data)
    long_day(data, OLD)


# --------------------------------------------------------------------------- damaged inside


def test_zeroed_bytes_inside_a_snapshot_make_status_check_exit_1_naming_it(tmp_path, capsys):
    with_old_day(tmp_path)
    assert status(tmp_path, capsys, "check") == (0, "healthy\n")
    zero_middle(snapshot_path(tmp_path, "ahjjb", "articles", OLD))
    code, out = status(tmp_path, capsys, "check")
    assert code == 1 and out.startswith(f"ahjjb: damaged: {OLD} (damaged articles snapshot: column "), out
    assert "does not decode" in out or "checksum" in out
    code, out = status(tmp_path, capsys, "check", "json")
    (facts,) = json.loads(out)["papers"]
    assert code == 1 and facts["source"] == "ahjjb" and [d["date"] for d in facts["damaged"]] == [OLD.isoformat()]
    assert facts["verified"] == {"snapshots": len(WINDOW) + 1, "decode_only": []}


def test_a_changed_byte_that_still_decodes_is_caught_by_the_stored_checksum(tmp_path):
    """A page header's statistics changed: every page still decodes, the SHA-256 differs."""
    write_day(tmp_path, OLD)
    path = snapshot_path(tmp_path, "ahjjb", "pages", OLD)
    raw = bytearray(path.read_bytes())
    at = raw.index(b"node_01.html")  # the page URL, in a page's min/max statistics and its data
    raw[at] ^= 0x01
    path.write_bytes(bytes(raw))
    verdict = verify_file(path, tmp_path)
    assert verdict.checksummed and verdict.error
    [state] = date_states(tmp_path, "ahjjb", tz=SHANGHAI, verify=True)
    assert state.state == DAMAGED and state.error.startswith("damaged pages snapshot")


def test_a_snapshot_written_before_checksums_is_judged_by_a_full_decode_and_says_so(tmp_path, capsys):
    healthy(tmp_path)
    path = snapshot_path(tmp_path, "ahjjb", "articles", WINDOW[2])
    pq.write_table(pq.read_table(path), path, compression="zstd")  # as earlier versions wrote it
    assert not verify_file(path, tmp_path).checksummed and verify_file(path, tmp_path).error is None
    code, out = status(tmp_path, capsys, "check")
    assert code == 0
    assert out.splitlines() == ["healthy", f"note: 1 date written before checksums were stored, judged by a "
                                           f"full decode alone (ahjjb {WINDOW[2]}); epaper reparse rewrites them with checksums"]
    (facts,) = json.loads(status(tmp_path, capsys, "check", "json")[1])["papers"]
    assert facts["verified"]["decode_only"] == [WINDOW[2].isoformat()]


def test_a_pages_snapshot_gone_is_damaged(tmp_path, capsys):
    healthy(tmp_path)
    shutil.rmtree(tmp_path / "pages" / "source=ahjjb" / f"issue_date={WINDOW[1]}")
    code, out = status(tmp_path, capsys, "check")
    assert code == 1 and out.startswith(f"ahjjb: damaged: {WINDOW[1]} (its pages snapshot is gone"), out


# --------------------------------------------------------------------------- lost


def test_a_snapshot_deleted_outside_the_window_is_lost_with_the_reparse_command(tmp_path, capsys):
    with_old_day(tmp_path)
    write_run(tmp_path, "2026-10-05T02:00:00Z", {OLD.isoformat(): "archived"})
    healthy(tmp_path)  # a later successful run, so that the lost date is the one reason
    warc = tmp_path / "warc" / "source=ahjjb" / f"issue_date={OLD}"
    warc.mkdir(parents=True)
    (warc / "20261005T020000Z-1.warc.gz").write_bytes(b"")
    shutil.rmtree(tmp_path / "articles" / "source=ahjjb" / f"issue_date={OLD}")
    code, out = status(tmp_path, capsys, "check")
    assert code == 1
    assert out == (f"ahjjb: lost: {OLD} (archived by run 2026-10-05T02:00:00Z, ended 2026-10-05T02:00:00Z, its snapshot is "
                   f"gone; restore it from its 1 WARC file: epaper reparse --date {OLD} "
                   f"--source ahjjb --data {shlex.quote(str(tmp_path))})\n")
    code, out = status(tmp_path, capsys)  # the table shows it, and counts it apart
    assert code == 1 and f"{OLD}  " in out and "LOST" in out and "1 lost (2026-10-05)" in out
    assert "0 incomplete" in out
    shutil.rmtree(warc)
    code, out = status(tmp_path, capsys, "check")
    assert code == 1 and "its WARC files are gone too" in out and "epaper reparse" not in out


def test_a_damaged_date_is_not_counted_as_incomplete(tmp_path, capsys):
    healthy(tmp_path)
    write_day(tmp_path, WINDOW[1], damaged="articles")
    code, out = status(tmp_path, capsys)
    assert code == 1 and "0 incomplete" in out and f"1 damaged ({WINDOW[1]})" in out


# --------------------------------------------------------------------------- loaders, compact/


def damaged_and_lost(data: Path) -> None:
    """Four dates: one damaged inside (footer intact), one lost (run log says archived)."""
    for day in WINDOW[:4]:
        write_day(data, day)
    long_day(data, WINDOW[1])
    zero_middle(snapshot_path(data, "ahjjb", "articles", WINDOW[1]))
    write_run(data, "2026-11-27T02:00:00Z", {d.isoformat(): "archived" for d in WINDOW[:4]})
    for dataset in ("articles", "pages"):
        shutil.rmtree(data / dataset / "source=ahjjb" / f"issue_date={WINDOW[3]}")


def named(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, DamagedSnapshotWarning)]


@pytest.mark.parametrize("compacted", [False, True], ids=["snapshots", "compact"])
def test_the_loaders_name_each_damaged_and_lost_date_each_time(tmp_path, compacted, caplog):
    damaged_and_lost(tmp_path)
    if compacted:
        with caplog.at_level(logging.WARNING):
            compact.refresh(tmp_path, "ahjjb")
        assert f"the articles of {WINDOW[1]} are left out of {compact.compact_path(tmp_path, 'ahjjb', 'articles', 2026)}" \
            in caplog.text  # the paper named by the path
    for _ in range(2):  # each time, not once per session
        with warnings.catch_warnings(record=True) as record:
            table = load_articles(tmp_path)
        assert sorted(set(table.column("issue_date").to_pylist())) == [WINDOW[0], WINDOW[2]]
        messages = named(record)
        assert len(messages) == 2, messages
        assert messages[0].startswith(f"epaper: the articles of ahjjb {WINDOW[3]} are not in the result: archived by run")
        assert messages[1].startswith(f"epaper: the articles of ahjjb {WINDOW[1]} are not in the result: its snapshot is "
                                      "damaged")
    with warnings.catch_warnings(record=True) as record:
        load_articles(tmp_path, start=WINDOW[0], end=WINDOW[0])  # outside the range: not said
        pages = load_pages(tmp_path)
    assert [m.split(":")[1] for m in named(record)] == [f" the pages of ahjjb {WINDOW[3]} are not in the result"]
    assert pages.num_rows == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", DamagedSnapshotWarning)  # strict, for those who want it
        with pytest.raises(DamagedSnapshotWarning):
            load_articles(tmp_path)


def test_compact_names_a_date_it_leaves_out_on_every_refresh(tmp_path, caplog):
    damaged_and_lost(tmp_path)
    for _ in range(2):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            compact.refresh(tmp_path, "ahjjb")
        left_out = f"compact: the articles of {WINDOW[1]} are left out of " \
                   f"{compact.compact_path(tmp_path, 'ahjjb', 'articles', 2026)}: "  # the path names the paper
        assert [r.getMessage()[:len(left_out)] for r in caplog.records] == [left_out]
    write_day(tmp_path, WINDOW[1])  # replaced (e.g. by epaper reparse): back in, no more warning
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        compact.refresh(tmp_path, "ahjjb")
        compact.refresh(tmp_path, "ahjjb")
    assert not caplog.records
    assert WINDOW[1] in load_articles(tmp_path).column("issue_date").to_pylist()


# --------------------------------------------------------------------------- end to end


@pytest_twisted.ensureDeferred
async def test_the_printed_command_restores_a_lost_date(portal, tmp_path):
    """A real crawl; its snapshot deleted; `status --check` prints the command; running it
    (the portal stopped: WARC files only) brings back the same rows."""
    from epaper.config import load_config
    from epaper.status import run_status
    from tests.conftest import crawl_in_process, run_epaper

    day = dt.date(2023, 8, 3)
    server = portal("pc-rmrb", day, day)
    await crawl_in_process(tmp_path, server.base_url, date=day)
    server.stop()
    before = read_snapshot(tmp_path, "ahjjb", "articles", day)
    assert before.num_rows > 0
    shutil.rmtree(tmp_path / "articles" / "source=ahjjb" / f"issue_date={day}")
    config = load_config(None, env={}, overrides={"storage.data_dir": str(tmp_path)})
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = run_status(config, False, check=True)
    [line] = [line for line in out.getvalue().splitlines() if line.startswith("ahjjb: lost:")]
    assert code == 1 and line.startswith(f"ahjjb: lost: {day} (")
    command = line.split(": epaper ", 1)[1].rstrip(")")
    result = run_epaper(*shlex.split(command))
    assert result.returncode == 0, result.stderr
    after = read_snapshot(tmp_path, "ahjjb", "articles", day)
    keep = ["article_id", "url", "title", "body", "duplicate_of"]
    assert after.select(keep).equals(before.select(keep))
    assert [s.state for s in date_states(tmp_path, "ahjjb", tz=SHANGHAI) if s.date == day] != [LOST]

"""`epaper migrate` (epaper/migrate.py): an archive of the single-paper layout, written here the
way the code before several papers wrote it (a `source` column in every file, dates directly
under each dataset, `warc_file` under `warc/issue_date=D/`), moved under the config's one paper
with every row kept; killed (SIGKILL) after any of its steps and run again, it ends where an
uninterrupted migration ends."""
from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import signal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from warcio.warcwriter import WARCWriter

from epaper.migrate import DIE_AFTER_ENV
from epaper.storage import schema as S
from epaper.storage.layout import old_layout
from epaper.storage.load import load_articles, load_pages
from epaper.storage.parquet import snapshot_info
from epaper.storage.revisions import load_revisions
from tests.conftest import run_epaper, slow_but

PAPER = "oldpaper"
DATES = [dt.date(2023, 7, 24), dt.date(2023, 7, 25), dt.date(2023, 7, 27)]
UTC = dt.timezone.utc


def with_source(columns, after: str) -> pa.Schema:
    """A schema of the single-paper layout: the dataset's columns with `source` among them."""
    fields = []
    for name, typ, nullable, _ in columns:
        fields.append(pa.field(name, typ, nullable=nullable))
        if name == after:
            fields.append(pa.field("source", pa.string(), nullable=False))
    return pa.schema(fields)


OLD_ARTICLES = with_source(S.ARTICLE_COLUMNS, "crawled_at")
OLD_PAGES = with_source(S.PAGE_COLUMNS, "crawled_at")
OLD_REVISIONS = with_source(S.ARTICLE_COLUMNS + S.REVISION_EXTRA, "crawled_at")


def warc_name(day: dt.date, n: int = 0) -> str:
    return f"{day:%Y%m%d}T0{n}0000-4242.warc.gz"


def article(day: dt.date, page: int, pos: int, source: str = PAPER, **extra) -> dict:
    body = f"正文 {day} {page} {pos} " * 12
    return {"article_id": f"{day:%Y%m%d}-{page:02d}-{pos}", "page_no": f"{page + 1:02d}", "page_name": "要闻",
            "page_pdf_url": None, "url": f"http://paper.example/{day}/c{page}_{pos}.html", "column": None,
            "intro_title": None, "title": f"标题 {day} {page} {pos}", "subtitle": None, "author": "本报记者 张三",
            "body": body, "images": [{"url": "http://paper.example/a.jpg", "caption": ""}] if pos == 0 else [],
            "content_hash": f"{hash(body) & 0xFFFF:064x}", "duplicate_of": None,
            "crawled_at": dt.datetime(2023, 8, 1, 1, page, pos, tzinfo=UTC), "source": source,
            "page_index": page, "position": pos,
            "warc_file": f"warc/issue_date={day}/{warc_name(day)}", "warc_record_id": f"<urn:uuid:{day}-{page}-{pos}>",
            "authors": ["张三"], "gone_since": None, **extra}


def write_table(path: Path, rows: list[dict], schema: pa.Schema, info: dict | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if info is not None:
        schema = schema.with_metadata({b"epaper": json.dumps(info).encode()})
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, compression="zstd")


def warc_bytes(day: dt.date) -> bytes:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    writer.write_record(writer.create_warcinfo_record(warc_name(day), {"software": "test", "date": str(day)}))
    return out.getvalue()


def build_old_archive(root: Path) -> None:
    """Every kind of file the single-paper layout held, written as its code wrote them."""
    for i, day in enumerate(DATES):
        rows = [article(day, page, pos) for page in range(2) for pos in range(2 + i)]
        info = {"complete": i != 1, "pages": 2, "duplicates": 0, "crawled_at": "2023-08-01T01:00:00+00:00",
                "failures": [] if i != 1 else [{"url": "http://paper.example/x.html", "reason": "HTTP 404"}],
                "health": {"articles": len(rows)}}
        write_table(root / "articles" / f"issue_date={day}" / "part-0.parquet", rows, OLD_ARTICLES, info)
        pages = [{"page_no": f"{p + 1:02d}", "page_name": "要闻", "page_index": p, "url": f"http://paper.example/{day}/n{p}.html",
                  "pdf_url": None, "image_url": None, "article_count": 2 + i,
                  "crawled_at": dt.datetime(2023, 8, 1, 1, p, tzinfo=UTC), "source": PAPER} for p in range(2)]
        write_table(root / "pages" / f"issue_date={day}" / "part-0.parquet", pages, OLD_PAGES, info)
        folder = root / "warc" / f"issue_date={day}"
        folder.mkdir(parents=True)
        (folder / warc_name(day)).write_bytes(warc_bytes(day))
        if i == 2:  # a date crawled twice
            (folder / warc_name(day, 1)).write_bytes(warc_bytes(day) + b"second")
    earlier = article(DATES[1], 0, 0, title="旧标题", superseded_at=dt.datetime(2023, 8, 2, tzinfo=UTC),
                      changed_fields=["title"])
    write_table(root / "revisions" / f"issue_date={DATES[1]}" / "20230802T000000-77.parquet", [earlier], OLD_REVISIONS)
    write_table(root / "compact" / "articles" / "year=2023" / "part-0.parquet", [article(DATES[0], 0, 0)], OLD_ARTICLES)
    (root / "index").mkdir()
    (root / "index" / "dedupe.npz").write_bytes(b"an old index")
    pq.write_metadata(OLD_ARTICLES, root / "articles" / "_common_metadata")
    (root / "runs").mkdir()
    crawl = {"run_id": "r1", "command": "epaper crawl --from 2023-07-24 --to 2023-07-27", "started": "2023-08-01T09:00:00+08:00",
             "ended": "2023-08-01T09:01:00+08:00", "dates": [str(d) for d in DATES],
             "outcomes": {str(d): {"status": "archived", "articles": 4, "pages": 2} for d in DATES}, "exit_status": 0}
    parent = {"run_id": "u1", "command": "epaper update", "started": "2023-08-02T09:00:00+08:00",
              "ended": "2023-08-02T09:02:00+08:00", "dates": [], "outcomes": {}, "exit_status": 0}
    child = {**crawl, "run_id": "c1", "command": "epaper crawl --latest", "started": "2023-08-02T09:00:01+08:00",
             "parent": "u1", "dates": [str(DATES[2])], "outcomes": {str(DATES[2]): {"status": "archived", "articles": 6}}}
    lines = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in (crawl, child, parent)]
    (root / "runs" / "runs.jsonl").write_text("\n".join(lines) + '\n{"run_id": "torn', encoding="utf-8")


def config(tmp_path: Path, ids=(PAPER,)) -> Path:
    path = tmp_path / "epaper.toml"
    tables = "".join(f'[[portal]]\nid = "{i}"\nname = "{i}"\nbase_url = "http://127.0.0.1:9/{i}/"\n' for i in ids)
    path.write_text(tables, encoding="utf-8")
    return path


def migrate(data: Path, conf: Path, env: dict | None = None):
    return run_epaper("migrate", "--data", str(data), "--config", str(conf), env=env, timeout=120)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("old") / "data"
    build_old_archive(root)
    return root


@pytest.fixture(scope="module")
def reference(tmp_path_factory, pristine) -> Path:
    """The archive migrated in one uninterrupted run."""
    base = tmp_path_factory.mktemp("reference")
    root = base / "data"
    shutil.copytree(pristine, root)
    done = migrate(root, config(base))
    assert done.returncode == 0, done.stderr
    return root


def old_rows(pristine: Path, dataset: str, pattern: str = "part-0.parquet") -> list[dict]:
    """The rows as read from the old files, in the form the loaders give them now."""
    rows = []
    for path in sorted((pristine / dataset).glob(f"issue_date=*/{pattern}")):
        day = dt.date.fromisoformat(path.parent.name.split("=")[1])
        for row in pq.read_table(path, partitioning=None).to_pylist():
            if row.get("warc_file"):
                row["warc_file"] = row["warc_file"].replace("warc/", f"warc/source={PAPER}/", 1)
            rows.append({**row, "issue_date": day})
    return rows


def by_key(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: (r["issue_date"], r["page_index"], r.get("position", 0), str(r.get("crawled_at"))))


def state_of(root: Path) -> dict:
    """What a migrated archive holds: every row, every WARC file's bytes, the run log, the files."""
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != ".lock")
    warcs = {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "warc").rglob("*.warc.gz"))}
    return {"articles": by_key(load_articles(root).to_pylist()), "pages": by_key(load_pages(root).to_pylist()),
            "revisions": by_key(load_revisions(root).to_pylist()), "warc": warcs,
            "runs": (root / "runs" / "runs.jsonl").read_bytes(), "files": files}


def test_migrate_keeps_every_row_and_its_facts(reference, pristine, tmp_path):
    assert old_layout(pristine) and not old_layout(reference)
    for dataset, loader in (("articles", load_articles), ("pages", load_pages)):
        got = loader(reference).to_pylist()
        assert {r["source"] for r in got} == {PAPER}
        assert by_key(got) == by_key(old_rows(pristine, dataset))  # every article_id, every value
    assert len({r["article_id"] for r in load_articles(reference).to_pylist()}) == 4 + 6 + 8
    # Each row still names its WARC file, which is there.
    for row in load_articles(reference).to_pylist():
        assert row["warc_file"].startswith(f"warc/source={PAPER}/issue_date={row['issue_date']}/")
        assert (reference / row["warc_file"]).is_file()
    # What each snapshot says of itself (complete, failures, health) is kept.
    for i, day in enumerate(DATES):
        info = snapshot_info(reference, PAPER, day)
        assert info.error is None and info.complete is (i != 1) and info.health == {"articles": 4 + 2 * i}
        assert bool(info.failures) is (i == 1)
        assert b"epaper_sha256" in pq.read_metadata(
            reference / "articles" / f"source={PAPER}" / f"issue_date={day}" / "part-0.parquet").metadata
    revisions = load_revisions(reference).to_pylist()
    assert by_key(revisions) == by_key(old_rows(pristine, "revisions", "*.parquet"))
    assert (reference / "revisions" / f"source={PAPER}" / f"issue_date={DATES[1]}" / "20230802T000000-77.parquet").is_file()
    # WARC files moved, byte for byte.
    old_warcs = sorted(p.relative_to(pristine / "warc") for p in (pristine / "warc").rglob("*.warc.gz"))
    assert len(old_warcs) == 4
    for rel in old_warcs:
        assert (reference / "warc" / f"source={PAPER}" / rel).read_bytes() == (pristine / "warc" / rel).read_bytes()
    # The run log: the crawl lines name the paper, the update's own line does not, the torn line stays.
    lines = (reference / "runs" / "runs.jsonl").read_text(encoding="utf-8").split("\n")
    runs = [json.loads(line) for line in lines[:-1]]
    assert [r.get("source") for r in runs] == [PAPER, PAPER, None]
    assert lines[-1] == '{"run_id": "torn'
    old_runs = [json.loads(line) for line in (pristine / "runs" / "runs.jsonl").read_text().split("\n")[:-1]]
    assert [{k: v for k, v in r.items() if k != "source"} for r in runs] == old_runs
    from epaper.runlog import whole_runs  # the update's child still folds into it

    assert [(r["run_id"], r.get("children")) for r in whole_runs(runs, PAPER)] == [("r1", None), ("u1", ["c1"])]
    # Derived data: rebuilt for the paper, the old places gone.
    assert (reference / "compact" / "articles" / f"source={PAPER}" / "year=2023" / "part-0.parquet").is_file()
    assert not (reference / "compact" / "articles" / "year=2023").exists()
    assert not (reference / "index" / "dedupe.npz").exists()
    assert not (reference / "articles" / "_common_metadata").exists()


def test_status_works_after_and_writers_refuse_before(reference, pristine, tmp_path):
    conf = config(tmp_path)
    before = run_epaper("crawl", "--data", str(pristine), "--config", str(conf), "--date", str(DATES[0]))
    assert before.returncode == 2
    assert before.stderr.count("\n") == 1 and "epaper migrate" in before.stderr
    status = run_epaper("status", "--data", str(reference), "--config", str(conf), "--json")
    assert status.returncode in (0, 1), status.stderr
    rows = json.loads(status.stdout)
    assert {(r["source"], r["date"]) for r in rows} >= {(PAPER, str(day)) for day in DATES}


def test_rerun_says_nothing_to_migrate(reference, tmp_path):
    again = migrate(reference, config(tmp_path))
    assert again.returncode == 0 and "nothing to migrate" in again.stdout


def test_summary_line(pristine, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(pristine, root)
    done = migrate(root, config(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1
    assert "articles 3 dates, pages 3 dates, revisions 1 dates, 4 WARC files moved, 2 run-log lines" in done.stdout


# The steps of the migration of the archive above (EPAPER_MIGRATE_DIE_AFTER counts them): 1
# _common_metadata removed, 2 the run log, 3-9 WARC files and their folders, 10-12 the revisions
# file (written, old removed, folder), 13-21 pages, 22-30 articles, 31 compact/ rebuilt, 32 its
# old year removed, 33 the old index removed. The fast suite kills after the run log, after a
# new file is written but before its old one goes, after compact/ is rebuilt, and at the end.
STEPS = range(1, 34)


@pytest.mark.parametrize("die_after", slow_but(list(STEPS), 22))
def test_killed_at_any_step_and_run_again(die_after, pristine, reference, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(pristine, root)
    conf = config(tmp_path)
    killed = migrate(root, conf, env={DIE_AFTER_ENV: str(die_after)})
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stdout, killed.stderr)
    assert old_layout(root) or die_after == STEPS[-1]  # not done: the next run finishes it
    again = migrate(root, conf)
    assert again.returncode == 0, again.stderr
    assert not old_layout(root)
    got, want = state_of(root), state_of(reference)
    assert [f for f in got.pop("files") if not f.startswith("compact/")] == \
        [f for f in want.pop("files") if not f.startswith("compact/")]
    assert got == want


def test_steps_cover_the_whole_migration(pristine, tmp_path):
    """The kill table reaches the end: one step more than the migration has does not kill it."""
    root = tmp_path / "data"
    shutil.copytree(pristine, root)
    done = migrate(root, config(tmp_path), env={DIE_AFTER_ENV: str(STEPS[-1] + 1)})
    assert done.returncode == 0, done.stderr
    last = tmp_path / "last"
    shutil.copytree(pristine, last)
    killed = migrate(last, config(tmp_path), env={DIE_AFTER_ENV: str(STEPS[-1])})
    assert killed.returncode == -signal.SIGKILL


@pytest.mark.parametrize("case", ["another paper", "unknown column"])
def test_refused_untouched(case, pristine, tmp_path):
    """Rows of another paper than the config's, or a column the schema no longer holds (it
    would be dropped): one line, exit 2, nothing changed."""
    root = tmp_path / "data"
    shutil.copytree(pristine, root)
    ids = ("otherpaper",) if case == "another paper" else (PAPER,)
    if case == "unknown column":
        path = root / "pages" / f"issue_date={DATES[2]}" / "part-0.parquet"
        table = pq.read_table(path, partitioning=None)
        pq.write_table(table.append_column("ink", pa.array(["red"] * table.num_rows)), path)
    before = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    done = migrate(root, config(tmp_path, ids=ids))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert ("oldpaper" in done.stderr and "otherpaper" in done.stderr) if case == "another paper" \
        else "'ink'" in done.stderr
    assert {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name != ".lock"} == before


def test_damaged_snapshot_moved_as_it_was(pristine, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(pristine, root)
    damaged = root / "articles" / f"issue_date={DATES[2]}" / "part-0.parquet"
    damaged.write_bytes(b"PAR1 not parquet")
    done = migrate(root, config(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "1 unreadable files moved as they were" in done.stdout
    moved = root / "articles" / f"source={PAPER}" / f"issue_date={DATES[2]}" / "part-0.parquet"
    assert moved.read_bytes() == b"PAR1 not parquet"
    assert snapshot_info(root, PAPER, DATES[2]).error


@pytest.mark.parametrize("case", ["missing", "not an archive", "several papers", "new layout"])
def test_bad_input_one_line(case, tmp_path, reference):
    data, conf, want = tmp_path / "data", config(tmp_path), 2
    if case == "not an archive":
        data.mkdir()
        (data / "notes.txt").write_text("x")
    elif case == "several papers":
        conf = config(tmp_path, ids=(PAPER, "second"))
    elif case == "new layout":
        data, want = reference, 0
    done = migrate(data, conf)
    assert done.returncode == want, done.stderr
    assert "Traceback" not in done.stderr
    if want == 2:
        assert done.stderr.count("\n") == 1 and not done.stdout
    else:
        assert "nothing to migrate" in done.stdout


def test_locked_archive(pristine, tmp_path):
    from epaper.lock import ArchiveLock

    root = tmp_path / "data"
    shutil.copytree(pristine, root)
    with ArchiveLock(root, "epaper crawl --date 2023-07-24"):
        done = migrate(root, config(tmp_path))
    assert done.returncode == 75
    assert "locked by pid" in done.stderr and "epaper crawl" in done.stderr
    assert old_layout(root)

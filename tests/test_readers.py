"""Every reader docs/archive-format.md shows, on one replica archive: same rows, same types.

The archive (two weeks of the replica portal up to 2023-08-03, with two reprints, and the date
they first ran) is crawled once for the module by the real command. Each test reads it the way an analyst would, as the
analyst sections of docs/archive-format.md show (the snippets there are copied from here, and
run as written by test_archive_format_snippets_run_as_written).
"""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from epaper.replica.server import serve
from epaper.storage.load import load_articles, load_pages
from tests.conftest import FAST, SPAN, run_epaper
from tests.truth import read_snapshots

START, END = dt.date(2023, 7, 20), dt.date(2023, 8, 3)
ORIGINALS = dt.date(2023, 7, 3)  # the replica's reprints on 07-20 and 08-03 first ran that day


@pytest.fixture(scope="module")
def archive(replica_sites, tmp_path_factory) -> Path:
    site = replica_sites("pc-rmrb", *SPAN)
    root = tmp_path_factory.mktemp("readers")
    with serve(site / "site") as server:
        for dates in (("--date", ORIGINALS.isoformat()), ("--from", START.isoformat(), "--to", END.isoformat())):
            result = run_epaper("crawl", *dates, "--base-url", server.base_url, "--data", str(root), *FAST)
            assert result.returncode == 0, result.stderr
    return root


@pytest.fixture(scope="module")
def truth(archive) -> pa.Table:
    """What every reader must agree with: the files read one by one, no dataset machinery."""
    return read_snapshots(archive)


def test_archive_has_rows_duplicates_and_the_seed_date(truth):
    assert truth.num_rows > 100
    assert dt.date(2023, 8, 3) in set(truth.column("issue_date").to_pylist())
    assert truth.column("duplicate_of").null_count < truth.num_rows  # dedupe=True has work to do


def test_load_articles(archive, truth):
    table = load_articles(archive)
    assert table.num_rows == truth.num_rows
    assert table.schema.field("issue_date").type == pa.date32()
    assert table.schema.field("images").type == pa.list_(pa.struct([("url", pa.string()), ("caption", pa.string())]))
    assert table.schema.field("crawled_at").type == pa.timestamp("us", tz="UTC")
    assert sorted(table.column("article_id").to_pylist()) == sorted(truth.column("article_id").to_pylist())


def test_load_articles_dedupe_against_a_hand_count(archive, truth):
    by_hand = pc.sum(pc.is_null(truth.column("duplicate_of"))).as_py()
    deduped = load_articles(archive, dedupe=True)
    assert deduped.num_rows == by_hand < truth.num_rows
    assert deduped.column("duplicate_of").null_count == deduped.num_rows
    one_day = load_articles(archive, start=dt.date(2023, 8, 3), end=dt.date(2023, 8, 3),
                            columns=["title", "issue_date"], dedupe=True)
    day = truth.filter(pc.equal(truth.column("issue_date"), pa.scalar(dt.date(2023, 8, 3), pa.date32())))
    ids = set(day.column("article_id").to_pylist())
    # the day's first occurrences: no duplicate_of, or an original that ran before the range
    # (the reprints of 07-03's articles), once per original
    outside = {d for d in day.column("duplicate_of").to_pylist() if d is not None and d not in ids}
    assert outside, "the replica's reprint of 07-03 is on 08-03"
    assert one_day.num_rows == day.column("duplicate_of").null_count + len(outside)
    assert one_day.column_names == ["title", "issue_date"]


def test_dedupe_over_a_range_keeps_reprints_of_earlier_originals_once(archive, truth):
    in_range = load_articles(archive, start="2023-07-20", end="2023-08-03", dedupe=True)
    ids = set(in_range.column("article_id").to_pylist())
    kept = [d for d in in_range.column("duplicate_of").to_pylist() if d is not None]
    assert kept and len(kept) == len(set(kept))  # one row per earlier original
    assert not set(kept) & ids  # never a row whose original is in the result
    whole = load_articles(archive, dedupe=True)
    assert whole.column("duplicate_of").null_count == whole.num_rows  # whole archive: the plain rule


def test_loader_arguments(archive, tmp_path):
    by_text = load_articles(archive, start="2023-08-01", end="2023-08-03", columns=["issue_date"])
    by_date = load_articles(archive, start=dt.date(2023, 8, 1), end=dt.datetime(2023, 8, 3, 12),
                            columns=["issue_date"])
    assert by_text.equals(by_date) and by_text.num_rows > 0
    assert load_pages(archive, start="2023-08-03").num_rows > 0
    with pytest.raises(ValueError, match="start='2023-8-1' is not a date"):
        load_articles(archive, start="2023-8-1")
    from epaper.storage.load import NotAnArchiveError

    with pytest.raises(NotAnArchiveError, match="does not exist"):
        load_articles(tmp_path / "dat")
    with pytest.raises(NotAnArchiveError, match="not an epaper archive"):
        load_articles(tmp_path)
    with pytest.raises(KeyError) as info:
        load_articles(archive, columns=["titel", "body"])
    message = str(info.value)
    assert "'titel'" in message and "'title'" in message and "warc_record_id" not in message


def test_load_pages(archive, truth):
    pages = load_pages(archive)
    assert pages.schema.field("issue_date").type == pa.date32()
    assert pc.sum(pages.column("article_count")).as_py() == truth.num_rows


def test_pandas(archive, truth):
    pd = pytest.importorskip("pandas")
    # docs/archive-format.md: pandas
    df = pd.read_parquet(archive / "articles", dtype_backend="pyarrow",
                         partitioning=ds.partitioning(pa.schema([("issue_date", pa.date32())]), flavor="hive"))
    assert len(df) == truth.num_rows
    assert str(df["issue_date"].dtype) == "date32[day][pyarrow]"
    assert df["images"].dtype.pyarrow_dtype == pa.list_(pa.struct([("url", pa.string()), ("caption", pa.string())]))
    assert df["crawled_at"].dtype.pyarrow_dtype == pa.timestamp("us", tz="UTC")
    # Without the partitioning argument pandas sees issue_date as a category of strings.
    plain = pd.read_parquet(archive / "articles")
    assert len(plain) == truth.num_rows
    assert isinstance(plain["issue_date"].dtype, pd.CategoricalDtype)
    assert str(plain["crawled_at"].dtype) == "datetime64[us, UTC]"
    # Our loader, then pandas: issue_date holds datetime.date values.
    ours = load_articles(archive, columns=["article_id", "issue_date", "crawled_at"]).to_pandas()
    assert len(ours) == truth.num_rows
    assert isinstance(ours["issue_date"].iloc[0], dt.date)
    assert str(ours["crawled_at"].dtype) == "datetime64[us, UTC]"


def test_duckdb(archive, truth):
    duckdb = pytest.importorskip("duckdb")
    root = archive.as_posix()
    # docs/archive-format.md: DuckDB
    con = duckdb.connect()
    n, issue_date, images, crawled_at = con.execute(f"""
        SELECT count(*), any_value(typeof(issue_date)), any_value(typeof(images)), any_value(typeof(crawled_at))
        FROM read_parquet('{root}/articles/**/*.parquet', hive_partitioning=true)""").fetchone()
    assert n == truth.num_rows
    assert (issue_date, images, crawled_at) == ("DATE", "STRUCT(url VARCHAR, caption VARCHAR)[]",
                                                "TIMESTAMP WITH TIME ZONE")
    unique = con.execute(f"SELECT count(*) FROM read_parquet('{root}/articles/**/*.parquet', hive_partitioning=true) "
                         "WHERE duplicate_of IS NULL").fetchall()[0][0]
    assert unique == load_articles(archive, dedupe=True).num_rows
    # The instant survives, whatever the session's time zone.
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    micros = con.execute(f"SELECT epoch_us(min(crawled_at)) FROM read_parquet('{root}/articles/**/*.parquet', "
                         "hive_partitioning=true)").fetchall()[0][0]
    assert micros == pc.min(truth.column("crawled_at")).cast(pa.int64()).as_py()


def test_duckdb_over_the_compacted_copy(archive, truth):
    duckdb = pytest.importorskip("duckdb")
    root = archive.as_posix()
    # docs/archive-format.md: the compacted copy
    query = """SELECT source, strftime(issue_date, '%Y-%m') AS month, page_name, count(*) AS articles
               FROM {} WHERE duplicate_of IS NULL GROUP BY ALL ORDER BY ALL"""
    compacted = duckdb.sql(query.format(
        f"read_parquet('{root}/compact/articles/**/*.parquet', hive_partitioning=true)")).fetchall()
    per_date = duckdb.sql(query.format(
        f"read_parquet('{root}/articles/**/*.parquet', hive_partitioning=true)")).fetchall()
    assert compacted == per_date and {row[0] for row in compacted} == {"ahjjb"}
    assert sum(n for *_, n in compacted) == load_articles(archive, dedupe=True).num_rows
    rows = pq.read_table(archive / "compact" / "articles" / "source=ahjjb" / "year=2023" / "part-0.parquet")
    assert "source" not in rows.column_names  # in the path only
    assert rows.drop_columns(["issue_date"]).equals(truth.drop_columns(["source", "issue_date"]))
    assert rows.column("issue_date").equals(truth.column("issue_date"))


def test_polars(archive, truth):
    pl = pytest.importorskip("polars")
    # docs/archive-format.md: polars
    lf = pl.scan_parquet(f"{archive.as_posix()}/articles/**/*.parquet", hive_partitioning=True)
    schema = lf.collect_schema()
    assert schema["issue_date"] == pl.Date
    assert schema["images"] == pl.List(pl.Struct({"url": pl.String, "caption": pl.String}))
    assert schema["crawled_at"] == pl.Datetime("us", "UTC")
    assert lf.select(pl.len()).collect().item() == truth.num_rows
    assert lf.filter(pl.col("duplicate_of").is_null()).select(pl.len()).collect().item() == \
        load_articles(archive, dedupe=True).num_rows


def test_pyarrow_dataset(archive, truth):
    # docs/archive-format.md: pyarrow
    dataset = ds.dataset(archive / "articles", format="parquet",
                         partitioning=ds.partitioning(pa.schema([("issue_date", pa.date32())]), flavor="hive"))
    table = dataset.to_table()
    assert table.num_rows == truth.num_rows
    assert table.schema.field("issue_date").type == pa.date32()
    assert table.schema.field("crawled_at").type == pa.timestamp("us", tz="UTC")


def test_an_earlier_archives_common_metadata_is_removed(archive, tmp_path):
    """Archives written by earlier versions hold `_common_metadata`; the next run removes it, so
    polars can read the dataset folder."""
    import shutil

    from epaper.storage.parquet import remove_common_metadata

    copy = tmp_path / "data"
    shutil.copytree(archive, copy)
    for dataset in ("articles", "pages"):
        pq.write_metadata(pq.read_schema(next((copy / dataset).glob("source=ahjjb/*/part-0.parquet"))),
                          copy / dataset / "_common_metadata")
    remove_common_metadata(copy)
    assert not list(copy.rglob("_common_metadata"))
    assert load_articles(copy).num_rows == load_articles(archive).num_rows


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    if not shutil.which("java"):
        pytest.skip("Spark needs Java (no java on PATH)")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[1]").appName("epaper-readers")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "1")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.mark.slow  # a JVM start: make test-all
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_spark(spark, archive, truth):
    from pyspark.sql import types as T

    # docs/archive-format.md: Spark (session time zone UTC, so crawled_at prints as the UTC it was stored in)
    df = spark.read.option("mergeSchema", "true").parquet(str(archive / "articles"))
    types = {f.name: f.dataType for f in df.schema.fields}
    assert isinstance(types["issue_date"], T.DateType)
    assert types["images"] == T.ArrayType(T.StructType([T.StructField("url", T.StringType()),
                                                        T.StructField("caption", T.StringType())]))
    # Parquet's UTC-adjusted timestamp is Spark's TimestampType: an instant, shown in the session zone.
    assert isinstance(types["crawled_at"], T.TimestampType)
    assert df.count() == truth.num_rows
    assert df.where("duplicate_of IS NULL").count() == load_articles(archive, dedupe=True).num_rows
    # Every column of the schema, in the file order, then the partition columns.
    assert df.columns == pq.read_schema(next((archive / "articles").glob("source=*/*/part-0.parquet"))).names + [
        "source", "issue_date"]
    assert isinstance(types["source"], T.StringType)
    assert {r.source for r in df.select("source").distinct().collect()} == {"ahjjb"}
    row = df.selectExpr("min(issue_date) AS d", "unix_micros(min(crawled_at)) AS us",
                        "date_format(min(crawled_at), \"yyyy-MM-dd'T'HH:mm:ss.SSSSSS\") AS utc").first()
    assert row.d == ORIGINALS
    first = pc.min(truth.column("crawled_at"))
    assert row.us == first.cast(pa.int64()).as_py()
    assert row.utc == first.as_py().strftime("%Y-%m-%dT%H:%M:%S.%f")


DOC = Path(__file__).resolve().parent.parent / "docs" / "archive-format.md"
RUN_AS_WRITTEN = ("Reading it", "Whole-archive queries: `compact/`", "WARC files: the raw pages")


def doc_snippets(headings=RUN_AS_WRITTEN) -> list[str]:
    """The Python blocks of those sections of docs/archive-format.md, as written."""
    text = DOC.read_text(encoding="utf-8")
    sections = {part.split("\n", 1)[0]: part for part in text.split("\n## ")[1:]}
    assert set(headings) <= set(sections), f"missing sections: {set(headings) - set(sections)}"
    return [block.split("\n```", 1)[0]
            for heading in headings for block in sections[heading].split("```python\n")[1:]]


def test_archive_format_snippets_run_as_written(archive, tmp_path, monkeypatch):
    snippets = [code for code in doc_snippets() if "SparkSession" not in code]  # test_spark runs it
    assert len(snippets) >= 7
    (tmp_path / "data").symlink_to(archive)
    monkeypatch.chdir(tmp_path)
    for code in snippets:
        scope: dict = {}
        exec(compile(code, str(DOC), "exec"), scope)
        if "ArchiveIterator" in code:  # the WARC recipe found the raw page of the first row
            assert scope["html"].rstrip().endswith(b"</html>")


def test_the_obvious_globs_behave_as_the_readme_says(archive, truth):
    import duckdb

    glob = archive.as_posix()
    everything = duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}/**/*.parquet')").fetchall()[0][0]
    articles = duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}/articles/**/*.parquet')").fetchall()[0][0]
    assert articles == truth.num_rows
    pages = load_pages(archive).num_rows
    assert everything == 2 * (articles + pages)  # daily snapshots and compact/, both datasets
    pl = pytest.importorskip("polars")
    folder = pl.scan_parquet(f"{glob}/articles/").collect()  # the folder, not a glob
    assert folder.height == truth.num_rows and folder.schema["issue_date"] == pl.Date
    assert not list(archive.rglob("_common_metadata"))

"""`epaper demo`: the bundled replica portal on 127.0.0.1, archived into a data directory."""
from __future__ import annotations

import datetime as dt
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

DEMO_START, DEMO_END = dt.date(2023, 7, 24), dt.date(2023, 8, 6)  # two weeks around the seed article


def run_demo(data: Path) -> int:
    from epaper.replica.build import build_site
    from epaper.replica.server import serve

    with tempfile.TemporaryDirectory(prefix="epaper-replica-") as tmp:
        site = build_site(Path(tmp), start=DEMO_START, end=DEMO_END, generation="pc", seed=1)
        with serve(site) as portal:
            print(f"replica portal of 安徽经济报 at {portal.base_url} ({DEMO_START} to {DEMO_END})", flush=True)
            status = subprocess.call([
                sys.executable, "-m", "epaper", "crawl", "--from", DEMO_START.isoformat(),
                "--to", DEMO_END.isoformat(), "--base-url", portal.base_url, "--data", str(data),
                "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=false", "-s", "CONCURRENT_REQUESTS=8",
                "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
            ])
    print("replica portal stopped")
    if status not in (0, 1):
        return status
    from epaper.storage.load import load_articles
    from epaper.terminal import counted

    table = load_articles(data, columns=["issue_date", "duplicate_of"])
    dups = table.num_rows - table.column("duplicate_of").null_count
    dates = len(set(table.column("issue_date").to_pylist()))
    print(f"archive {data}: {counted(table.num_rows, 'article')} from {counted(dates, 'issue')}, "
          f"{dups} flagged as duplicates")
    glob = (data / "articles" / "**" / "*.parquet").as_posix()
    sql = (f"SELECT issue_date, page_no, page_name, count(*) AS articles "
           f"FROM read_parquet('{glob}', hive_partitioning=true) WHERE duplicate_of IS NULL "
           f"GROUP BY ALL ORDER BY ALL")
    python = shlex.quote(sys.executable)  # this venv's python: the system one lacks epaper's packages
    print(f"query it with DuckDB ({python} -m pip install duckdb):")
    print(f'  {python} -c "import duckdb; duckdb.sql(\\"{sql}\\").show()"')
    return status

"""`epaper demo`: two papers of the bundled replica on 127.0.0.1 (two Founder generations, each
on its own port), archived by one `epaper crawl` into one data directory."""
from __future__ import annotations

import datetime as dt
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

DEMO_START, DEMO_END = dt.date(2023, 7, 24), dt.date(2023, 8, 6)  # two weeks around the seed article
DEMO_PAPERS = 2  # the replica plan's first two: 安徽经济报 (pc-rmrb) and an html-generation paper


def run_demo(data: Path) -> int:
    from epaper.replica.papers import plan_papers, portal_tables, serve_papers

    with tempfile.TemporaryDirectory(prefix="epaper-replica-") as tmp:
        with serve_papers(Path(tmp), plan_papers(DEMO_PAPERS), start=DEMO_START, end=DEMO_END) as papers:
            print(f"replica portals ({DEMO_START} to {DEMO_END}):", flush=True)
            for p in papers:
                print(f"  {p.id}  {p.name}  {p.template} at {p.base_url}", flush=True)
            config = Path(tmp) / "epaper.toml"
            config.write_text(portal_tables(papers), encoding="utf-8")
            status = subprocess.call([
                sys.executable, "-m", "epaper", "crawl", "--config", str(config),
                "--from", DEMO_START.isoformat(), "--to", DEMO_END.isoformat(), "--data", str(data),
                "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=false", "-s", "CONCURRENT_REQUESTS=8",
                "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
            ])
            names = {p.id: p.name for p in papers}
    print("replica portals stopped")
    if status not in (0, 1):
        return status
    from epaper.storage.load import load_articles
    from epaper.terminal import counted

    print(f"archive {data}:")
    width = max(len(i) for i in names)
    for source, name in names.items():
        rows = load_articles(data, columns=["issue_date", "duplicate_of"], sources=[source])
        dups = rows.num_rows - rows.column("duplicate_of").null_count
        dates = len(set(rows.column("issue_date").to_pylist()))
        print(f"  {source:<{width}}  {name}: {counted(rows.num_rows, 'article')} from "
              f"{counted(dates, 'issue')}, {dups} flagged as duplicates")
    glob = (data / "articles" / "**" / "*.parquet").as_posix()
    sql = (f"SELECT source, count(DISTINCT issue_date) AS issues, count(*) AS articles, "
           f"round(avg(length(body))) AS avg_body_chars "
           f"FROM read_parquet('{glob}', hive_partitioning=true) WHERE duplicate_of IS NULL "
           f"GROUP BY source ORDER BY source")
    python = shlex.quote(sys.executable)  # this venv's python: the system one lacks epaper's packages
    print(f"query both papers with DuckDB ({python} -m pip install duckdb):")
    print(f'  {python} -c "import duckdb; duckdb.sql(\\"{sql}\\").show()"')
    return status

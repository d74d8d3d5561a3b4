"""Which layout an archive is in. Since several papers share one archive, every dataset holds a
folder per paper (`articles/source=ID/issue_date=D`); an archive made before holds the dates
directly (`articles/issue_date=D`) and is moved by `epaper migrate` (epaper.migrate). No
Scrapy imports."""
from __future__ import annotations

from pathlib import Path

# The folders whose dates moved under a paper's folder.
PARTITIONED = ("articles", "pages", "revisions", "warc", "compact/articles", "compact/pages", "index")


class OldLayout(ValueError):
    """An archive in the single-paper layout; its text is one line naming `epaper migrate`."""


def old_layout(root: str | Path) -> list[Path]:
    """The folders of `root` still in the single-paper layout (a date, a year or the dedupe
    index directly under a dataset), empty when there are none."""
    found = []
    for name in PARTITIONED:
        folder = Path(root) / name
        if folder.is_dir() and not folder.is_symlink():
            found += [entry for entry in folder.iterdir()
                      if entry.name.startswith(("issue_date=", "year=")) or entry.name == "dedupe.npz"]
    return sorted(found)


def check_layout(root: str | Path) -> None:
    """OldLayout when `root` is (partly) in the single-paper layout."""
    old = old_layout(root)
    if old:
        raise OldLayout(f"{root} is an archive in the single-paper layout ({old[0].relative_to(root)}, …): "
                        f"run `epaper migrate --data {root}` first (it keeps every row)")


def archive_papers(root: str | Path, runs: list[dict]) -> list[str]:
    """The papers of an archive: those with a folder in a dataset or a line in the run log
    (`runs`, as `storage.runs.read_runs` gives them)."""
    from epaper.storage.parquet import sources_of

    found = {source for dataset in ("articles", "pages", "warc") for source in sources_of(Path(root), dataset)}
    found |= {r["source"] for r in runs if isinstance(r.get("source"), str)}
    return sorted(found)

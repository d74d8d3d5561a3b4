"""Small things of a first day: --version, schema --json, the demo's query runs with the venv's
python, make demo installs the runtime only, the replica's README points inside the repo."""
from __future__ import annotations

import json
import re
import subprocess
import sys

from epaper import __version__
from tests.conftest import ROOT, run_epaper


def test_version():
    result = run_epaper("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"epaper {__version__}")


def test_schema_json():
    result = run_epaper("schema", "--json")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    names = [c["name"] for c in schema["articles"]]
    assert names[0] == "issue_date" and "authors" in names and "article_count" in [c["name"] for c in schema["pages"]]
    assert {"name", "type", "nullable", "meaning"} == set(schema["articles"][1])


def test_demo_query_runs_as_printed(tmp_path):
    result = run_epaper("demo", "--data", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    command = result.stdout.strip().splitlines()[-1].strip()
    assert command.startswith(f"{sys.executable} -c ")
    query = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert query.returncode == 0, query.stderr
    assert "articles" in query.stdout


def test_make_demo_installs_the_runtime_only():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    runtime = makefile.split("$(BIN)/epaper: pyproject.toml", 1)[1].split("\n\n", 1)[0]
    assert "pip install -q -e ." in runtime and "[test]" not in runtime
    assert re.search(r"^demo: \$\(BIN\)/epaper$", makefile, re.M)


def test_replica_readme_points_inside_the_repository():
    text = (ROOT / "replica" / "README.md").read_text(encoding="utf-8")
    assert "/work/" not in text and "../" not in text
    main = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python -m epaper.replica build" in main and "python -m epaper.replica serve" in main

"""Small things of a first day: --version, schema --json, the demo's query runs with the venv's
python, make demo installs the runtime only; the docs as a newcomer reads them: a short README
with a two-command quick start, every command documented, the replica's commands working as
written, links that resolve, nothing cited that the repository lacks."""
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


def test_make_demo_installs_the_runtime_only():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    runtime = makefile.split("$(BIN)/epaper: pyproject.toml", 1)[1].split("\n\n", 1)[0]
    assert "pip install -q -e ." in runtime and "[test]" not in runtime
    assert re.search(r"^demo: \$\(BIN\)/epaper$", makefile, re.M)


def test_replica_readme_points_inside_the_repository():
    text = (ROOT / "replica" / "README.md").read_text(encoding="utf-8")
    assert "/work/" not in text and "../" not in text


def doc(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text under a markdown heading (any level), up to the next heading of that level or above."""
    level = heading.split(" ", 1)[0]
    start = text.index(f"\n{heading}\n") + 1
    ends = [text.find(f"\n{'#' * n} ", start + 1) for n in range(1, len(level) + 1)]
    ends = [e for e in ends if e != -1]
    return text[start:min(ends)] if ends else text[start:]


def code_lines(text: str, lang: str) -> list[str]:
    """The lines of the ```lang blocks of text, comments and blank lines left out."""
    lines = []
    for block in text.split(f"```{lang}\n")[1:]:
        lines += [ln for ln in block.split("\n```", 1)[0].splitlines() if ln.strip() and not ln.startswith("#")]
    return lines


def test_readme_is_short_and_its_quick_start_is_two_commands():
    readme = doc("README.md")
    assert len(readme.splitlines()) <= 250
    commands = [ln.split("#", 1)[0].strip() for ln in code_lines(section(readme, "## Quick start"), "sh")]
    assert commands == ["make demo", "make test"]


def test_every_command_has_its_heading_and_its_row():
    from epaper.cli import build_parser

    parser = build_parser()
    [sub] = [a for a in parser._actions if a.dest == "command"]
    operations, readme = doc("docs/operations.md"), doc("README.md")
    for name in sub.choices:
        assert f"\n## {name}\n" in operations, f"docs/operations.md has no heading for epaper {name}"
        assert f"| [{name}](docs/operations.md#{name}) |" in readme, f"README lists no epaper {name}"
        assert f"epaper {name} " in section(readme, "## Commands"), f"README's synopsis lacks epaper {name}"


def test_replica_commands_run_as_written(tmp_path):
    """The replica's two commands in docs/operations.md, run as written right after make demo
    (with this python for .venv/bin/python, and tmp_path for /tmp)."""
    lines = code_lines(section(doc("docs/operations.md"), "## demo"), "sh")
    build, serve = (ln.split("  #", 1)[0].strip() for ln in lines)
    assert build.startswith(".venv/bin/python -m epaper.replica build ")
    assert serve.startswith(".venv/bin/python -m epaper.replica serve ")

    def as_here(line: str) -> list[str]:
        return [sys.executable if w == ".venv/bin/python" else w.replace("/tmp/", f"{tmp_path}/") for w in line.split()]

    built = subprocess.run(as_here(build), capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "replica" / "truth.json").is_file()
    server = subprocess.Popen(as_here(serve), stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        base_url = server.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/ahjjb/", base_url), base_url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_replica_readme_lists_every_template():
    from epaper.replica.layout import TEMPLATES

    text = doc("replica/README.md")
    rows = re.findall(r"^\| `([a-z0-9-]+)`", text, re.M)
    assert sorted(rows) == sorted(TEMPLATES)


DOCS = ("README.md", "docs/operations.md", "docs/archive-format.md", "docs/architecture.md", "replica/README.md")


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but - and _ dropped, spaces to -."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_doc_links_resolve():
    for name in DOCS:
        text = re.sub(r"```.*?```", "", doc(name), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, fragment = target.partition("#")
            file = (ROOT / name).parent / path if path else ROOT / name
            assert file.resolve().is_file(), f"{name}: link to a missing file: {target}"
            if fragment:
                prose = re.sub(r"```.*?```", "", file.read_text(encoding="utf-8"), flags=re.S)
                headings = re.findall(r"^#+ (.*)$", prose, re.M)
                assert fragment in {anchor(h) for h in headings}, f"{name}: no heading for #{fragment}"


def test_no_file_cites_a_contract_the_repository_lacks():
    assert not (ROOT / "CONTRACT.md").exists()
    for name in DOCS + ("epaper/exits.py", "epaper.example.toml"):
        assert "CONTRACT.md" not in doc(name), name


def test_example_config_and_docs_agree_with_the_measured_media_cost():
    assert "**79x**" in doc("BENCHMARKS.md")
    for name in ("epaper.example.toml", "docs/archive-format.md"):
        words = " ".join(line.lstrip("# ") for line in doc(name).splitlines())  # comments rejoined
        assert "79 times" in words and "100 times" not in words, name


def test_the_test_extra_comment_says_what_the_makefile_runs():
    makefile, pyproject = doc("Makefile"), doc("pyproject.toml")
    workers = re.search(r"^test: .*\n\t.*pytest .*(-n \d+ --dist \w+)", makefile, re.M).group(1)
    assert workers in pyproject

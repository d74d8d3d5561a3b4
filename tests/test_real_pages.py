"""Real saved pages (tests/data/*.expected.json): every expected field, one test per page, the
way alltheplaces tests its spiders against saved responses; read through `epaper extract`."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from epaper.extract import extract
from tests.conftest import run_epaper

DATA = Path(__file__).parent / "data"
# Pages and articles (`epaper extract` reads them); calendars are read in tests/test_calendars.py.
EXPECTED = sorted(p for p in DATA.glob("*.expected.json")
                  if json.loads(p.read_text(encoding="utf-8"))["kind"] != "calendar")


def _load(path: Path) -> tuple[dict, dict]:
    e = json.loads(path.read_text(encoding="utf-8"))
    return e, extract(DATA / e["file"], e["url"], e.get("root"))


@pytest.mark.parametrize("path", EXPECTED, ids=[p.name.split(".")[0] for p in EXPECTED])
def test_real_page_exact(path):
    e, got = _load(path)
    assert got["kind"] == e["kind"]
    if e["kind"] == "page":
        own = [a for a in got["articles"] if a["own"]]
        assert (got["page_no"], got["page_name"]) == (e["page_no"], e["page_name"])
        assert len(got["pages"]) == e["pages_listed"]
        assert len(own) == e["articles"]
        assert own[0]["title"] == e["first_article_title"]
        assert got["pdf_url"].endswith(e["pdf_url_suffix"])
        assert got["image_url"].endswith(e["image_url_suffix"])
        assert sorted(re.search(r"content_(\d+)", a["url"])[1] for a in own) == sorted(e["article_ids"])
        assert all("?" not in a["url"] for a in got["articles"])  # canonical URLs
    else:
        for field in ("intro_title", "title", "subtitle", "author"):
            assert got[field] == e[field], field
        assert len(got["paragraphs"]) == e["paragraphs"]
        assert got["paragraphs"][0] == e["first_paragraph"]
        assert got["paragraphs"][-1] == e["last_paragraph"]
        assert [(i["url"].endswith(x["url_suffix"]), i["caption"]) for i, x in zip(got["images"], e["images"])] \
            == [(True, x["caption"]) for x in e["images"]]
        assert len(got["images"]) == len(e["images"])


def test_box_articles_are_not_the_page_own():
    e, got = _load(DATA / "jjjcb-2017-07-22-node_2.expected.json")
    boxed = sorted(re.search(r"content_(\d+)", a["url"])[1] for a in got["articles"] if not a["own"])
    assert boxed == ["52022", "52023", "52028", "52029", "52041", "52042", "52044"]


def test_twins_are_one_article():
    e, got = _load(DATA / "kjrb-2023-02-10-node_2.expected.json")
    assert len(got["articles"]) == 5
    twins = [a for a in got["articles"] if a["in_map"] and a["in_list"]]
    assert len(twins) == 5


@pytest.mark.parametrize("path", EXPECTED, ids=[p.name.split(".")[0] for p in EXPECTED])
def test_extract_command_on_real_pages(path):
    e = json.loads(path.read_text(encoding="utf-8"))
    args = ["extract", str(DATA / e["file"]), "--url", e["url"]] + (["--root", e["root"]] if e.get("root") else [])
    result = run_epaper(*args)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["title" if e["kind"] == "article" else "page_name"] == e["title" if e["kind"] == "article" else "page_name"]
    if e["kind"] == "article":
        assert set(out["sources"]) >= {"title", "intro_title", "subtitle", "author", "paragraphs", "images"}
        assert out["sources"]["title"].startswith("heading")


def test_extract_rmrb_page():
    url = "http://paper.people.com.cn/rmrb/pc/layout/202412/25/node_01.html"
    got = extract(DATA / "rmrb-2024-12-25-node_01.html", url, "http://paper.people.com.cn/rmrb/")
    assert (got["page_no"], got["page_name"], len(got["pages"]), len(got["articles"])) == ("01", "要闻", 20, 7)
    assert got["articles"][0]["title"] == "“为老百姓提供用得上、用得起、用得好的信息服务”（总书记的人民情怀）"


def test_extract_missing_file_is_a_usage_error(tmp_path):
    result = run_epaper("extract", str(tmp_path / "nope.html"), "--url", "http://h/a/node_1.htm")
    assert result.returncode == 2 and "no such file" in result.stderr

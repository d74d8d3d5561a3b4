"""Terminal escapes: control characters (ESC, BEL, C1) are dropped when an article is cleaned, and
`epaper probe` and `epaper changes` print whatever the portal sent with every non-printable
character escaped (an OSC title change or a screen clear shows, and does nothing)."""
from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from epaper.crawler.spiders.probe import ProbedArticle, ProbedPage, ProbeFindings
from epaper.pipelines.clean import clean_article, clean_body, drop_controls
from epaper.terminal import printable, printable_json

OSC_TITLE = "\x1b]0;pwned\x07"  # sets the terminal's title
CLEAR = "\x1b[2J\x1b[H"  # clears the screen
CSI_C1 = "\x9b2J"  # the same through the one-byte C1 CSI
RAW = ("\x1b", "\x07", "\x9b", "\x9d", "\x00", "\x7f", "\u202e", "\u2028")


def _raw(text: str) -> list[str]:
    return [c for c in RAW if c in text]


@pytest.mark.parametrize("raw, expected", [
    (f"标题{OSC_TITLE}正文", "标题]0;pwned正文"),
    (f"{CLEAR}要闻", "[2J[H要闻"),
    (f"a{CSI_C1}b", "a2Jb"),
    ("a\x00b\x7fc", "abc"),
    ("a\x0bb\x0cc\x1cd\x85e", "a b c d e"),  # whitespace controls: a space, normalised after
    ("a\tb\r\nc", "a\tb\r\nc"),  # the cleaners' own
    ("标题\u3000副题\xa0x", "标题\u3000副题\xa0x"),  # spaces are not controls
    (None, None),
])
def test_drop_controls(raw, expected):
    assert drop_controls(raw) == expected


def test_clean_article_drops_controls_from_every_text_field():
    fields = {"title": f"【专栏】标题{OSC_TITLE}", "intro_title": f"引{CLEAR}题", "subtitle": f"——副{CSI_C1}题",
              "author": "记者\x07张三", "page_name": "要\x1b闻", "column": None,
              "body": f"\u3000\u3000{CLEAR}第一段\x0b续\n&#27;[31m第二段\x85末",
              "images": [{"url": "http://h/a.jpg", "caption": f"图\x1b[5m说{CSI_C1}"}]}
    changed = clean_article(fields)
    assert fields["title"] == "【专栏】标题]0;pwned" and fields["column"] == "专栏"
    assert (fields["intro_title"], fields["subtitle"], fields["author"], fields["page_name"]) == (
        "引[2J[H题", "副2J题", "记者张三", "要闻")
    assert fields["body"] == "[2J[H第一段 续\n[31m第二段 末"  # an entity decoded to ESC too
    assert fields["images"] == [{"url": "http://h/a.jpg", "caption": "图[5m说2J"}]
    assert len(changed) == len(set(changed))  # each repair counted once
    assert not any(_raw(v) for v in fields.values() if isinstance(v, str))


@given(st.text(st.characters(codec="utf-8"), max_size=80))
def test_cleaned_body_has_no_controls_and_cleaning_is_idempotent(text):
    body = clean_body(text)
    assert not any(ord(c) < 0x20 and c not in "\t\n" or 0x7F <= ord(c) < 0xA0 for c in body)
    assert clean_body(body) == body


@pytest.mark.parametrize("text, shown", [
    (f"标题{OSC_TITLE}", "标题\\x1b]0;pwned\\x07"),
    (f"a{CSI_C1}", "a\\x9b2J"),
    ("evil\u202etxt.exe", "evil\\u202etxt.exe"),
    ("two\nlines\tand a tab", "two\\nlines\\tand a tab"),
    ("标题\u3000副题 x", "标题\u3000副题 x"),
])
def test_printable(text, shown):
    assert printable(text) == shown


@given(st.recursive(st.text(st.characters(codec="utf-8")) | st.integers(),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=8))
def test_printable_json_is_the_same_json_with_nothing_raw(value):
    out = printable_json(json.dumps(value, ensure_ascii=False, indent=1))
    assert json.loads(out) == value
    assert not _raw(out)


def test_changes_prints_titles_and_diffs_escaped(tmp_path, monkeypatch, capsys):
    import epaper.changes as changes

    at = dt.datetime(2023, 8, 4, 1, 0, tzinfo=dt.timezone.utc)
    events = [{"source": "ahjjb", "date": "2023-08-03", "kind": "corrected", "at": at, "article_id": "x",
               "url": "http://h/c.html", "title": f"标题{OSC_TITLE}", "fields": ["title", "body"],
               "diff": [changes.field_diff("title", "旧", f"新{CLEAR}"),
                        changes.field_diff("body", "正文" * 40, "正文" * 20 + CSI_C1 + "正文" * 20)]},
              {"source": "ahjjb", "date": "2023-08-03", "kind": "removed", "at": at, "article_id": "y",
               "url": "http://h/d.html", "title": f"撤{CSI_C1}稿"}]
    monkeypatch.setattr(changes, "list_changes", lambda data, source, start, end: events if source == "ahjjb" else [])
    (tmp_path / "articles").mkdir()
    config = SimpleNamespace(storage=SimpleNamespace(data_dir=str(tmp_path)),
                             schedule=SimpleNamespace(tzinfo=dt.timezone.utc),
                             papers=lambda: [SimpleNamespace(portal=SimpleNamespace(id="ahjjb"))])
    assert changes.run_changes(config, None, None, as_json=False) == 0
    out = capsys.readouterr().out
    assert not _raw(out)
    assert "标题\\x1b]0;pwned\\x07" in out and "撤\\x9b2J稿" in out and "\\x9b2J" in out.split("\n")[2]
    assert changes.run_changes(config, None, None, as_json=True) == 0
    out = capsys.readouterr().out
    assert not _raw(out)
    assert [e["title"] for e in json.loads(out)] == [f"标题{OSC_TITLE}", f"撤{CSI_C1}稿"]


def test_probe_prints_the_portals_text_escaped(capsys):
    from epaper.probe import clean_sample, print_report, report

    f = ProbeFindings("http://127.0.0.1/", generation="pc", calendar=[dt.date(2023, 8, 9)],
                      latest_date=dt.date(2023, 8, 9),
                      pages=[ProbedPage("http://127.0.0.1/p1", f"0{CSI_C1}1", page_name=f"要闻{OSC_TITLE}",
                                        articles=["http://127.0.0.1/c1.html"], promise=f"x{CLEAR}")])
    f.sample = [ProbedArticle("http://127.0.0.1/c1.html", f"0{CSI_C1}1",
                              fields={"title": f"标题{OSC_TITLE}", "body": "正文", "images": []},
                              sources={"title": "founder", "body": "founder"}),
                ProbedArticle("http://127.0.0.1/c2.html", "01", error=f"cannot parse: {CLEAR}")]
    result = report(f, clean_sample(f), 5)
    print_report(result)
    out = capsys.readouterr().out
    assert not _raw(out)
    assert "\\x9b" in out and "\\x1b[2J" in out
    print(printable_json(json.dumps(result, ensure_ascii=False, indent=1, default=str)))
    out = capsys.readouterr().out
    assert not _raw(out) and json.loads(out)["sample"][1]["error"] == f"cannot parse: {CLEAR}"

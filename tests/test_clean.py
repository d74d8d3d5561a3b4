"""Cleaning to the contract's rules: table-driven cases and hypothesis properties."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scrapy.utils.test import get_crawler

from epaper.crawler.items import ArticleItem
from epaper.crawler.settings import CLEAN_CHROME_LINES
from epaper.pipelines.clean import CleanPipeline, clean_article, clean_body, clean_subtitle, column_of
from epaper.storage.dedupe import content_hash

SEED = json.loads((Path(__file__).parent.parent / "replica" / "seed-article.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("raw, expected", [
    ("\u3000\u3000第一段。\n\n\u3000\u3000第二段。", "第一段。\n第二段。"),
    ("\xa0\xa0\xa0\xa0第一段。  \n  ", "第一段。"),
    ("  学深悟透   \n在统一思想中筑牢信仰之基", "学深悟透\n在统一思想中筑牢信仰之基"),
    ("第一段\u200b。\ufeff", "第一段。"),
    ("<p>第一段</p>&nbsp;", "第一段"),
    ("研发（R&amp;D）投入", "研发（R&D）投入"),
    ("版面下载\n正文。", "正文。"),
    ("安徽经济网首页 数字版首页 往期回顾\n正文。", "正文。"),
    ("正文。\nPDF下载\n上一版\n下一版", "正文。"),
    ("正文里提到版面下载也保留。", "正文里提到版面下载也保留。"),
    ("全角标点，“引号”；ＡＢＣ１２３", "全角标点，“引号”；ＡＢＣ１２３"),
    ("a\u3000b 内部空格保留", "a\u3000b 内部空格保留"),
])
def test_clean_body(raw, expected):
    assert clean_body(raw, CLEAN_CHROME_LINES) == expected


@pytest.mark.parametrize("title, column", [
    ("【学思想 强党性 重实践 建新功】汲取思想伟力 建功制造强省", "学思想 强党性 重实践 建新功"),
    ("【 经济观察 】标题", "经济观察"),
    ("没有栏目", None),
    ("标题【不在开头】", None),
])
def test_column_of(title, column):
    assert column_of(title) == column


@pytest.mark.parametrize("raw, expected", [
    ("——安徽省经信厅高质量开展主题教育综述", "安徽省经信厅高质量开展主题教育综述"),
    ("—副题", "副题"), ("--副题", "副题"), ("—— 副题 ", "副题"), ("", None), (None, None),
    ("副题——中间的破折号保留", "副题——中间的破折号保留"),
])
def test_clean_subtitle(raw, expected):
    assert clean_subtitle(raw) == expected


def test_seed_article_text_survives_cleaning():
    printed = "\n".join("\u3000\u3000" + p + "  " for p in SEED["paragraphs"])
    fields = {"title": SEED["title"], "subtitle": SEED["subtitle_as_printed"], "body": printed, "images": []}
    clean_article(fields, CLEAN_CHROME_LINES)
    assert fields["body"] == "\n".join(SEED["paragraphs"])
    assert (fields["column"], fields["subtitle"], fields["title"]) == (SEED["column"], SEED["subtitle"], SEED["title"])


def test_whitespace_fields_and_null_never_empty():
    fields = {"title": " 标题\u3000\n 二 ", "author": "\xa0本报记者\u3000张三 ", "intro_title": "  ",
              "subtitle": None, "body": "正文", "images": [{"url": " http://h/a.jpg ", "caption": "  "}]}
    clean_article(fields)
    assert fields["title"] == "标题 二"
    assert fields["author"] == "本报记者 张三"
    assert fields["intro_title"] is None
    assert fields["images"] == [{"url": "http://h/a.jpg", "caption": ""}]


def test_pipeline_counts_every_repair():
    crawler = get_crawler(settings_dict={"CLEAN_CHROME_LINES": CLEAN_CHROME_LINES})
    crawler.stats.open_spider()
    item = ArticleItem(issue_date=None, url="http://h/c.html", page_no="01", page_index=0, position=0,
                       source="t", crawled_at=None, title=" 标题 ", subtitle="——副题", body="\u3000\u3000正文\n\n")
    CleanPipeline.from_crawler(crawler).process_item(item)
    assert (item.title, item.subtitle, item.body) == ("标题", "副题", "正文")
    stats = crawler.stats.get_stats()
    assert stats["epaper/clean/title"] == stats["epaper/clean/subtitle"] == stats["epaper/clean/body"] == 1


CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
FULLWIDTH = st.sampled_from(list("，。、；：？！“”‘’（）《》【】—…·"))
INDENT = st.sampled_from(["\u3000", "\xa0", " ", "\t", "&nbsp;"])
texts = st.lists(st.text(st.one_of(CJK, FULLWIDTH, st.sampled_from(list("\u3000\xa0 \n"))), max_size=60), max_size=8)


@given(st.lists(st.tuples(st.lists(INDENT, max_size=3), st.text(st.one_of(CJK, FULLWIDTH), min_size=1, max_size=40)),
                max_size=10))
def test_clean_body_keeps_every_cjk_and_fullwidth_char(paragraphs):
    raw = "\n".join("".join(indent) + text for indent, text in paragraphs)
    cleaned = clean_body(raw)
    assert cleaned.replace("\n", "") == "".join(text for _, text in paragraphs)


@given(texts)
def test_clean_body_is_idempotent(lines):
    once = clean_body("\n".join(lines), CLEAN_CHROME_LINES)
    assert clean_body(once, CLEAN_CHROME_LINES) == once
    assert all(line == line.strip(" \u3000\xa0") and line for line in once.split("\n") if once)


@given(st.lists(st.text(st.one_of(CJK, FULLWIDTH), min_size=1, max_size=40), min_size=1, max_size=8),
       st.lists(INDENT, max_size=3), st.lists(INDENT, max_size=3))
def test_same_paragraphs_in_other_markup_hash_alike(paragraphs, indent_a, indent_b):
    # Dedupe compares content hashes of cleaned bodies: the same text printed with other
    # indentation, <p> tags, trailing spaces or CRLF line ends must clean to the same hash.
    plain = "\n".join("".join(indent_a) + p for p in paragraphs)
    marked = "\r\n".join(f"<p>{''.join(indent_b)}{p}</p>\u3000 " for p in paragraphs)
    assert content_hash(clean_body(plain)) == content_hash(clean_body(marked)) == content_hash("\n".join(paragraphs))

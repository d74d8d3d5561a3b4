"""Parsing of Founder page shapes beyond the replica's templates: table-driven snippets."""
from __future__ import annotations

import datetime as dt

import pytest

from epaper.crawler.founder import decode_html, parse_enpproperty, parse_page, parse_page_label, parse_period_xml
from epaper.crawler.founder_article import parse_article


@pytest.mark.parametrize("text, expected", [
    ("第01版：要闻", ("01", "要闻")),
    ("01版：要闻", ("01", "要闻")),
    ("A01： 头版", ("A01", "头版")),
    ("第A01版：头版", ("A01", "头版")),
    ("第 B02 版 : 经济 ", ("B02", "经济")),
    ("a03版:理论", ("A03", "理论")),
    ("第12版", ("12", None)),
    ("要闻", None),
])
def test_parse_page_label(text, expected):
    assert parse_page_label(text) == expected


def test_period_xml_variants():
    xml = ("<?xml version='1.0' encoding='UTF-8'?><root><period id='1'><period_name>2023年08月03日</period_name>"
           "<period_date>2023-08-03</period_date><front_page>node_01.html</front_page></period>"
           "<period><period_date>20230804</period_date><front_page>node_2.htm</front_page></period>"
           "<period><period_date>not a date</period_date></period></root>").encode()
    assert parse_period_xml(xml) == [(dt.date(2023, 8, 3), "node_01.html"), (dt.date(2023, 8, 4), "node_2.htm")]


def test_enpproperty_entities_inner_tags_and_order():
    html = ("<!--enpproperty <title>研发（R&amp;D）投入</title><articleid>1</articleid>"
            "<subtitle><p>副题</p></subtitle><author></author>/enpproperty-->")
    assert parse_enpproperty(html) == {"title": "研发（R&D）投入", "articleid": "1", "subtitle": " 副题 ", "author": ""}


# Modelled on the real 人民日报 article pages: headings in div.article, the date line in
# p.sec, images in a table between the headings and the body, caption in the next row.
RMRB_ARTICLE = """<html><head><meta charset="utf-8"></head><body>
<div class="main"><div class="right">
<div class="article">
  <h3>引题在此</h3>
  <h1>标题
  第二行</h1>
  <h2>——副题在此</h2>
  <p class="sec"><span class="date">《 人民日报 》（ 2024年12月25日 第 01 版）</span></p>
  <div class="attachment"><table><tr><td><img src="../../../pic/202412/25/a.jpg"></td></tr>
  <tr><td>图为会场。新华社记者 张三摄</td></tr></table></div>
  <!--enpproperty <articleid>30048054</articleid><date>2024-12-25</date><author></author><title></title>/enpproperty-->
  <div id="ozoom"><!--enpcontent--><founder-content>
  <P>　　第一段，<b>加粗</b>文字。</P><P>&nbsp;</P><p>　　第二段。</p>
  </founder-content><!--/enpcontent--></div>
</div></div></div></body></html>"""

OLD_TABLE_ARTICLE = """<HTML><HEAD><META http-equiv=Content-Type content="text/html; charset=gb2312"></HEAD><BODY>
<TABLE><TR><TD>- 2023年7月4日<TD><A href=node_3.htm>第B01版：专版</A></TABLE>
<TABLE class=art><TR><TD class=a1>肥西县：
<TR><TD class=a2><founder-title>招商引资展现新作为</founder-title>
<TR><TD class=a1>——副题
<TR><TD class=a3>本报记者 李四（2023年07月04日 B01版）
<TR><TD><founder-content><!--enpcontent-->　　第一段。<br>　　第二段。<br><IMG src=../../../res/a.jpg alt=图片说明文字><br>
<script>var x = 1;</script><!--<npm:article-content>-->　　第三段。<br><!--/enpcontent--></founder-content></TABLE>
</BODY></HTML>"""

NO_FOUNDER_TAG = """<html><body><div class=detail><h1>只有标题</h1>
<div id=articleContent><p>　　唯一一段。</p><p><img src="/x/b.jpg"></p><p style="text-align:center">▲ 图片说明</p></div>
</div></body></html>"""


@pytest.mark.parametrize("html, url, expected", [
    (RMRB_ARTICLE, "http://p.example/rmrb/pc/content/202412/25/content_30048054.html", dict(
        intro_title="引题在此", title="标题 第二行", subtitle="——副题在此", author=None,
        paragraphs=["第一段，加粗文字。", "第二段。"],
        images=[{"url": "http://p.example/rmrb/pc/pic/202412/25/a.jpg", "caption": "图为会场。新华社记者 张三摄"}],
        issue_date=dt.date(2024, 12, 25))),
    (OLD_TABLE_ARTICLE, "http://p.example/html/2023-07/04/content_1_2.htm", dict(
        intro_title="肥西县：", title="招商引资展现新作为", subtitle="——副题", author="本报记者 李四",
        paragraphs=["第一段。", "第二段。", "第三段。"],
        images=[{"url": "http://p.example/res/a.jpg", "caption": "图片说明文字"}],
        issue_date=dt.date(2023, 7, 4))),
    (NO_FOUNDER_TAG, "http://p.example/pc/con/202401/02/c5.html", dict(
        intro_title=None, title="只有标题", subtitle=None, author=None, paragraphs=["唯一一段。"],
        images=[{"url": "http://p.example/x/b.jpg", "caption": "▲ 图片说明"}], issue_date=dt.date(2024, 1, 2))),
])
def test_parse_article_shapes(html, url, expected):
    art = parse_article(html, url)
    got = {k: getattr(art, k) for k in expected}
    assert got == expected


HEADS = """<html><body>{enp}<div class="article"><h3>页面引题</h3><h1>页面标题</h1><h2>——页面副题</h2>
<p>本报记者 页面作者（2023年08月03日 01版）</p><founder-content><p>正文。</p></founder-content></div></body></html>"""
ENP = ("<!--enpproperty <title>评论标题</title><introtitle>评论引题</introtitle><subtitle>评论副题</subtitle>"
       "<author>评论作者</author>/enpproperty-->")


@pytest.mark.parametrize("enp, expected", [
    # The comment wins for 引题, 副题 and author; the visible line wins for the title.
    (ENP, ("页面标题", "评论引题", "评论副题", "评论作者")),
    # Without the comment: all from the head lines around the title.
    ("", ("页面标题", "页面引题", "——页面副题", "本报记者 页面作者")),
    # Empty comment fields count as absent.
    ("<!--enpproperty <title></title><introtitle> </introtitle><subtitle></subtitle><author/>/enpproperty-->",
     ("页面标题", "页面引题", "——页面副题", "本报记者 页面作者")),
])
def test_head_field_sources_in_order(enp, expected):
    art = parse_article(HEADS.format(enp=enp), "http://p.example/pc/content/202308/03/content_1.html")
    assert (art.title, art.intro_title, art.subtitle, art.author) == expected


def test_title_from_the_comment_when_no_line_is_one():
    html = HEADS.format(enp=ENP).replace("<h3>页面引题</h3><h1>页面标题</h1><h2>——页面副题</h2>", "")
    art = parse_article(html, "http://p.example/pc/content/202308/03/content_1.html")
    assert art.title == "评论标题"


def test_page_without_pagelink_falls_back_to_node_links_and_map_only_articles():
    html = """<html><body><p>第A02版：经济</p>
    <a href="node_1.html">第A01版</a> <a href="node_2.html">第A02版</a> <a href="http://other.example/node_9.html">x</a>
    <map name="PagePicMap"><area shape="polygon" coords="1,2,3,4" href="../../../con/202401/02/c7.html">
    <area shape="polygon" coords="1,2,3,4" href="../../../con/202401/02/c8.html"></map>
    <img usemap="#PagePicMap" src="../../../pic/202401/02/p.jpg"><a href="../../../attachement/202401/02/x.PDF">PDF</a>
    </body></html>"""
    page = parse_page(html, "http://h.example/e/pc/layout/202401/02/node_2.html", "http://h.example/e/")
    assert [p.url.rsplit("/", 1)[1] for p in page.pages] == ["node_1.html", "node_2.html"]
    assert (page.page_no, page.page_name) == ("A02", "经济")
    assert [a.rsplit("/", 1)[1] for a in page.articles] == ["c7.html", "c8.html"]
    assert page.pdf_url == "http://h.example/e/pc/attachement/202401/02/x.PDF"
    assert page.image_url == "http://h.example/e/pc/pic/202401/02/p.jpg"


@pytest.mark.parametrize("raw, header, expected", [
    ("汉字".encode("gb2312"), None, "gb18030"),
    ('<meta charset="gb2312">汉字'.encode("utf-8"), None, "utf-8"),  # the meta tag lies
    ('<meta charset="utf-8">汉字'.encode("gb18030"), None, "gb18030"),  # the other way round
    ("汉字".encode("utf-8"), "gbk", "utf-8"),
])
def test_decode_html_survives_lying_charsets(raw, header, expected):
    text, enc = decode_html(raw, header)
    assert "汉字" in text and enc == expected


@pytest.mark.parametrize("fetched", ["node_2.htm", "node_2.htm?div=-1"])
def test_a_page_list_entry_gives_each_page_its_own_pdf_whatever_query_the_page_was_fetched_with(fetched):
    html = """<html><body><p>第02版：经济</p><table>
    <tr><td><a id="pageLink" href="node_1.htm">第01版：要闻</a></td><td><a href="../../../page/1/01.pdf">PDF</a></td></tr>
    <tr><td><a id="pageLink" href="node_2.htm">第02版：经济</a></td><td><a href="../../../page/1/02.pdf">PDF</a></td></tr>
    </table></body></html>"""
    page = parse_page(html, f"http://h.example/e/html/2024-01/02/{fetched}", "http://h.example/e/")
    assert page.pdf_url == "http://h.example/e/page/1/02.pdf"

"""Issue 21's parser items: heads in table cells with the `founder-`-prefixed article comment
after `</html>` (山西经济日报's older template), and captions as FOUNDER.md now states them."""
from __future__ import annotations

import pytest

from epaper.crawler.founder_article import article_enpproperty, parse_article

URL = "http://p.example/szb/html/2024-11/06/content_279424.htm"

# The page frame of the older template around one article: the page's image map and title
# list before it (the list links the article's own title), the page list after it.
FRAME = """<html><head><meta charset=utf-8></head><body>
<table><tr><td><img src="../../../tplimg/tou.jpg" width=1002 height=80></td></tr></table>
<table><tr><td><MAP NAME="pagepicmap"><Area coords="1,2,3,4" shape="polygon" href="./content_279424.htm"></MAP>
<img src=../../../page/1/2024-11/06/01/2024110601_brief.jpg border=0 USEMAP=#PagePicMap></td>
<td>第01版：<STRONG>要闻</STRONG> <a href=../../../page/1/2024-11/06/01/p.pdf><IMG src="../../../tplimg/pdf.gif"></a></td></tr>
<tr><td><span class="STYLE30">标题导航</span>
<TABLE><tr><td><img src="../../../tplimg/checkbox.gif"></td><td><a href=./content_279424.htm>
<div style="display:inline" id=mp279424>{title}</div></a></td></tr></TABLE></td></tr></table>
<table><tr><td><strong>2024年11月6日</strong> 星期三</td></tr></table>
<table width="100%"><tr><td><table cellspacing=0 cellpadding=5 width=100% border=0><tbody>
<tr valign=top><td class="{c_intro}" align=center>{intro}</td></TR>
<tr valign=top><td class="{c_title}" align=center>{title}</td></TR>
<tr valign=top><td class="{c_intro}" align=center>{sub}</td></TR>
<tr valign=top><td class="{c_intro}" align=center></td></tr></tbody></table></td></tr>
<tr><td align="center"><span class="font6"> </span></td></tr>
<tr><td class="font6"><script>document.write("<br>");</script>
<DIV id=ozoom class="content"><founder-content><P> 第一段正文。</P><P> 第二段正文。</P></founder-content>
<INPUT type=checkbox value=0 name=titlecheckbox style="display:none"></DIV></td></tr></table>
<div id=bmdh><TABLE><TR><TD><a href=node_2.htm id=pageLink>第01版：要闻</a></TD></TR></TABLE></div>
<div id=btdh><a href=content_279425.htm>导 读</a><img src="../../../tplimg/x.jpg"></div>
</body>
</html>
{enp}"""
ENP = ("<!--enpproperty <founder-date>2024-11-06</founder-date><founder-author>{author}</founder-author>"
       "<founder-title>{title}</founder-title><founder-subtitle>{sub}</founder-subtitle><founder-type>1</founder-type>"
       "<founder-introtitle>{intro}</founder-introtitle><founder-pagenum>01</founder-pagenum> /enpproperty-->")


def page(enp: bool = True, c_title: str = "font01", c_intro: str = "font02", intro: str = "学习运用经验 谱写新篇章",
         title: str = "本报重磅推出摄影特刊", sub: str = "", author: str = "") -> str:
    comment = ENP.format(title=title, intro=intro, sub=sub, author=author) if enp else ""
    return FRAME.format(c_title=c_title, c_intro=c_intro, intro=intro, title=title, sub=sub, enp=comment)


@pytest.mark.parametrize("enp, c_title, c_intro", [
    (True, "font01", "font02"),  # the real template
    (False, "font01", "font02"),  # no comment: the cells alone
    (True, "bt", "yt"),  # other class names: the comment's title finds its cell
], ids=["cells-and-comment", "cells-only", "other-classes-and-comment"])
def test_heads_in_table_cells(enp, c_title, c_intro):
    art = parse_article(page(enp, c_title, c_intro, sub="——副题在此"), URL)
    assert (art.intro_title, art.title, art.subtitle, art.author) == (
        "学习运用经验 谱写新篇章", "本报重磅推出摄影特刊", "——副题在此", None)
    assert art.sources["title"] == "heading"
    # the frame (map, lists, page list, logos) leaks into neither the body nor the images
    assert art.paragraphs == ["第一段正文。", "第二段正文。"]
    assert art.images == []


def test_the_prefixed_comment_gives_what_the_cells_leave_out():
    art = parse_article(page(sub="", author="翟步庭"), URL)
    assert art.author == "翟步庭" and art.sources["author"] == "comment"
    assert art.sources["intro_title"] == "comment"
    assert art.subtitle is None


def test_the_prefixed_comment_alone_gives_the_title():
    text = page().replace('class="font01"', "").replace('class="font02"', "")
    text = text.replace("<td  align=center>本报重磅推出摄影特刊</td>", "<td align=center></td>")
    art = parse_article(text, URL)
    assert art.title == "本报重磅推出摄影特刊" and art.intro_title == "学习运用经验 谱写新篇章"


@pytest.mark.parametrize("comment, expected", [
    ("<!--enpproperty <founder-title>甲</founder-title><founder-type>1</founder-type>/enpproperty-->", "甲"),
    ("<!--enpproperty <title>乙</title><founder-title>甲</founder-title>/enpproperty-->", "乙"),
    # an empty plain field hides nothing
    ("<!--enpproperty <title> </title><founder-title>甲</founder-title>/enpproperty-->", "甲"),
    # a page's comment (type 2) says nothing about an article
    ("<!--enpproperty <founder-title>甲</founder-title><founder-type>2</founder-type>/enpproperty-->", None),
])
def test_article_enpproperty_reads_founder_prefixes(comment, expected):
    assert article_enpproperty(f"<html><body></body></html>\n{comment}").get("title") == expected


IMG = '<p align="center"><img src="a.jpg"{attr}></p>'


def body(*parts: str) -> str:
    return ("<html><body><h1>标题</h1><founder-content>" + "".join(parts)
            + "</founder-content></body></html>")


@pytest.mark.parametrize("after, caption", [
    ("<p>图为工人在生产线上忙碌。（本报记者 张伟 摄）</p>", "图为工人在生产线上忙碌。（本报记者 张伟 摄）"),
    ('<p style="text-align:center">图为工人在生产线上忙碌。</p>', "图为工人在生产线上忙碌。"),
    ("<p>\u3000\u3000图：技术人员调试智能设备</p>", "图：技术人员调试智能设备"),
    ("<p>上图 游客在景区参观游览</p>", "上图 游客在景区参观游览"),
    ("<p>下图为新建厂房</p>", "下图为新建厂房"),
    ("<p>左图 港口</p>", "左图 港口"),
    ("<p>右图 田间</p>", "右图 田间"),
    ("<p>▲ 集装箱货轮停靠港口。</p>", "▲ 集装箱货轮停靠港口。"),
    ("<p>&nbsp;</p><p>图为会场。</p>", "图为会场。"),  # an empty paragraph between does not count
], ids=["plain-p", "centred", "tu-colon", "shangtu", "xiatu", "zuotu", "youtu", "triangle", "after-empty"])
def test_a_marker_paragraph_after_a_captionless_image_is_its_caption(after, caption):
    art = parse_article(body("<p>第一段。</p>", IMG.format(attr=""), after, "<p>第二段。</p>"), URL)
    assert art.images == [{"url": "http://p.example/szb/html/2024-11/06/a.jpg", "caption": caption}]
    assert art.paragraphs == ["第一段。", "第二段。"]


@pytest.mark.parametrize("parts, text", [
    # a centred sub-heading after a captionless image
    ((IMG.format(attr=""), '<p style="text-align:center"><strong>强化创新驱动</strong></p>'), "强化创新驱动"),
    # sentences that merely end in 摄 or 拍摄, centred or not
    ((IMG.format(attr=""), '<p align="center">工人在生产线上忙碌。本报记者 张伟 摄</p>'), "工人在生产线上忙碌。本报记者 张伟 摄"),
    ((IMG.format(attr=""), "<p>宣传片由专业团队历时3个月在车间实地拍摄</p>"), "宣传片由专业团队历时3个月在车间实地拍摄"),
    ((IMG.format(attr=""), '<p align="center">新建厂房鳞次栉比（资料图）</p>'), "新建厂房鳞次栉比（资料图）"),
    # caption-like text that does not follow an image
    (("<p>第一段。</p>", "<p>图为合肥市数字经济的一个缩影。</p>"), "图为合肥市数字经济的一个缩影。"),
    ((IMG.format(attr=""), "<p>中间一段。</p>", "<p>▲ 不是图片说明。</p>"), "▲ 不是图片说明。"),
    # after an image that already has its caption
    ((IMG.format(attr=' alt="图为会场"'), "<p>图为另一段正文。</p>"), "图为另一段正文。"),
], ids=["centred-subheading", "ends-in-she", "ends-in-paishe", "ends-in-ziliaotu", "not-after-an-image",
        "not-right-after", "image-already-captioned"])
def test_look_alikes_stay_body(parts, text):
    art = parse_article(body(*parts), URL)
    assert text in art.paragraphs
    assert all(i["caption"] in ("", "图为会场") for i in art.images)

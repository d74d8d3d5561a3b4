"""Older "html" generation templates: html-table (UTF-8, tables, <br> paragraphs),
html-gb2312 (gb2312 bytes declared only in <meta>, <P> paragraphs, unclosed <li>), and three
modelled on real pages: html-kjrb (科技日报: a BOM and CRLF, article links carrying ?div=-1,
the image map linking some articles again as ?div=0), html-jjjcb (中国纪检监察报: unpadded
page numbers, a 今日关注 box on page 1 linking articles of other pages) and html-nbs
(人民日报's older edition: nbs./nw. file names, titles written by document.write(view("…")),
each article linked twice, a hidden table repeating the titles)."""
from __future__ import annotations

import random

import html
import json

from epaper.replica.markup import (CHROME_MAIL, CHROME_TOP, PORTAL, ArticleView, PageView, article_enp,
                                   body_br, body_paragraphs, esc, heading_block_date, label)


def _head(title: str, charset: str, static: str) -> str:
    return (f"<HTML>\n<HEAD>\n<META http-equiv=Content-Type content=\"text/html; charset={charset}\">\n"
            f"<TITLE>{title}</TITLE>\n<LINK href={static}/style.css type=text/css rel=stylesheet>\n"
            "</HEAD>\n")


def _chrome(home: str) -> str:
    return (f"<TABLE width=1000 align=center class=top><TR><TD>{CHROME_TOP}<TD>{CHROME_MAIL}\n"
            f"<TR><TD colspan=2><A href={PORTAL} target=_blank>安徽经济网首页</A>&nbsp;"
            f"<A href={home}>数字版首页</A>&nbsp;<A href=\"javascript:showCalendar();\">往期回顾</A>"
            "</TD></TR></TABLE>")


FOOTER = ("<TABLE width=1000 align=center class=foot><TR><TD align=center>安徽经济报社 版权所有<BR>"
          "Copyright &copy; 2006-2023 All Rights Reserved</TD></TR></TABLE>")


def _pdf(v: PageView) -> str:
    if v.pdf_style == 0:
        return f"<A href={v.pdf} target=_blank>PDF下载</A>"
    if v.pdf_style == 1:
        return f"<a href=\"{v.pdf}\">版面下载</a>"
    return f"<A href={v.pdf}><IMG src={v.static}/pdf.gif border=0></A>"


def _turn(v: PageView) -> str:
    prev = f"<A href={v.prev}>上一版</A>" if v.prev else ""
    nxt = f"<A href={v.next}>下一版</A>" if v.next else ""
    return f"{prev}&nbsp;&nbsp;{nxt}"


def _map(v: PageView) -> str:
    if not v.hotspots:
        return ""
    areas = [f"<AREA shape=polygon coords=\"{c}\" href={h}{v.query}>" for h, c in v.hotspots]
    areas += [f"<AREA shape=polygon coords=\"{c}\" href={h}?div=0>" for h, c in v.hotspots if h in v.twins]
    return f"<MAP NAME=PagePicMap>\n" + "\n".join(areas) + "\n</MAP>"


def _box(v: PageView) -> str:
    """今日关注: a box of this page's and other pages' articles (jjjcb)."""
    if not v.box:
        return ""
    rows = "\n".join(f"<table cellspacing=0 cellpadding=0 border=0><tbody> <tr><td class=px12 align=left> "
                     f"<a href={h}><div id=mp{n}>{t}</div></a> </td></tr> </tbody></table>"
                     for n, (h, t) in enumerate(v.box))
    return (f"<table width=\"100%\" class=\"bm05\"><tr><td class=\"bm06\">今日关注</td></tr>\n"
            f"<tr><td class=\"bm02\"><div class=\"bm07\">\n{rows}\n</div></td></tr></table>")


def page_table(v: PageView) -> str:
    nav = "\n".join(f"<TR><TD class=default><A id=pageLink href={h}>{t}</A>" for h, t in v.nav)
    rows = "\n".join(f"<TR><TD width=10><IMG src={v.static}/dot.gif><TD><A href={h}{v.query}>"
                     f"<div style=\"display:inline\" id=mp{n}>{t}</div></A>"
                     for n, (h, t) in enumerate(v.items))
    return _head(v.paper, "utf-8", v.static) + f"""{v.enp}
<BODY>
{_chrome(v.home)}
<TABLE width=1000 align=center cellpadding=0 cellspacing=0>
<TR><TD valign=top width=480>
<TABLE class=bmname><TR><TD>{label(v.page_no, v.page_name, v.ban_form)}<TD>{_pdf(v)}</TABLE>
{_map(v)}
<IMG src={v.scan} USEMAP=#PagePicMap border=0 width=460>
<TABLE><TR><TD>{_turn(v)}</TD></TR></TABLE>
<TD valign=top>
<TABLE class=riqi><TR><TD>{v.date.year}年{v.date.month}月{v.date.day}日</TD></TR></TABLE>
<TABLE class=bmdh>
{nav}
</TABLE>
<TABLE class=newslist width=100%>
{rows}
</TABLE>
{_box(v)}
</TD></TR></TABLE>
{FOOTER}
</BODY>
</HTML>
"""


def page_gb(v: PageView) -> str:
    nav = "\n".join(f"<li><a id=pageLink href={h}>{t}</a>" for h, t in v.nav)
    items = "\n".join(f"<li><a href={h}>{t}</a>" for h, t in v.items)
    lst = f"<div class=titlelist><ul>\n{items}\n</ul></div>" if v.items else ""
    return _head(v.paper, "gb2312", v.static) + f"""<body>
{v.enp}
{_chrome(v.home)}
<div id=wrap>
<div class=left>
<div class=ban>{label(v.page_no, v.page_name, v.ban_form)}</div>
<div class=pic><img src={v.scan} usemap=#PagePicMap border=0>{_map(v)}</div>
<div class=tools>{_turn(v)} {_pdf(v)}</div>
</div>
<div class=right>
<div class=bmlist><ul>
{nav}
</ul></div>
{lst}
</div>
</div>
{FOOTER}
</body>
</html>
"""


def article_page(template: str, v: ArticleView, rng: random.Random) -> str:
    a = v.art
    enp = article_enp(a, v.date, v.page_no, v.paper, rng, newer=False)
    sub = f"<founder-subtitle>{a.subtitle_dash}{esc(a.subtitle)}</founder-subtitle>" \
        if a.subtitle else ""
    intro = esc(a.intro_title) if a.intro_title else ""
    author = esc(a.author) if a.author else ""
    if template != "html-gb2312":
        body = body_br(a, v.img_href, rng)
        main = (f"<TABLE width=640 align=center class=article>\n<TR><TD class=font02>{intro}\n"
                f"<TR><TD class=font01><founder-title>{esc(a.title_printed)}</founder-title>\n"
                f"<TR><TD class=font02>{sub}\n<TR><TD class=font03>{author}\n"
                f"<TR><TD class=font03>{heading_block_date(v.date, v.page_no)}\n"
                f"<TR><TD class=content><founder-content><!--enpcontent-->\n{body}\n"
                "<!--/enpcontent--></founder-content></TD></TR>\n</TABLE>")
        if a.bare:
            main = main.replace("<founder-content>", "").replace("</founder-content>", "")
        charset = "utf-8"
    else:
        body = body_paragraphs(a, v.img_href, rng, upper=True) if rng.random() < 0.7 \
            else body_br(a, v.img_href, rng)
        main = (f"<div class=article>\n<div class=yt>{intro}</div>\n"
                f"<div class=bt><founder-title>{esc(a.title_printed)}</founder-title></div>\n"
                f"<div class=ft>{sub}</div>\n<div class=zz>{author}</div>\n"
                f"<div class=rq>{heading_block_date(v.date, v.page_no)}</div>\n"
                f"<!--enpcontent--><founder-content>\n{body}\n</founder-content><!--/enpcontent-->"
                "\n</div>")
        if a.bare:
            main = main.replace("<founder-content>", "").replace("</founder-content>", "")
        charset = "gb2312"
    sib = "\n".join(f"<li><A href={h}>{t}</A>" for h, t in v.siblings)
    return _head(f"{esc(a.title_printed)}", charset, v.static) + f"""{enp}
<BODY>
{_chrome(v.home)}
<TABLE width=1000 align=center><TR><TD>- {v.date.year}年{v.date.month}月{v.date.day}日
<TD><A href={v.page_href}>{label(v.page_no, v.page_name, 0)}</A>&nbsp;<A href={v.pdf}>版面下载</A>
</TABLE>
{main}
<div class=sibling><ul>
{sib}
</ul></div>
{FOOTER}
</BODY>
</HTML>
"""


def page_nbs(v: PageView) -> str:
    """人民日报's older edition: each article linked by an icon and by a script-written title."""
    nav = "\n".join(f"<tr><td><a id=pageLink href={h}>{t}</a></td></tr>" for h, t in v.nav)
    items = "\n".join(
        f"<tr><td><a href={h}><img src={v.static}/dot.gif border=0></a></td><td><a href={h}>"
        f"<script>document.write(view({json.dumps(html.unescape(t), ensure_ascii=False)}))</script></a></td></tr>"
        for h, t in v.items)
    hidden = "\n".join(f"<tr><td>{t}</td></tr>" for _, t in v.items)
    return _head(v.paper, "utf-8", v.static) + f"""<BODY>
<script>function view(s){{return s;}}</script>
{_chrome(v.home)}
<table width=1000 align=center><tr><td valign=top width=480>
<div class=ban>{label(v.page_no, v.page_name, v.ban_form)}</div>
{_map(v)}
<img src={v.scan} usemap=#PagePicMap border=0>
<div>{_turn(v)} {_pdf(v)}</div>
</td><td valign=top>
<table class=bmlist>{nav}</table>
<table class=titlelist>{items}</table>
<table style="display:none">{hidden}</table>
</td></tr></table>
{FOOTER}
</BODY>
</HTML>
"""


def render_page(template: str, v: PageView) -> str:
    return {"html-table": page_table, "html-gb2312": page_gb, "html-kjrb": page_table,
            "html-jjjcb": page_table, "html-nbs": page_nbs}[template](v)

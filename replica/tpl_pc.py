"""Newer "pc" generation templates: pc-rmrb (modelled on the real 人民日报 page), pc-detail
(newsdetatit / table rows), pc-con (pc/con/… articles, detail-art headings) and pc-hbrb
(湖北日报's article: font#…-title heads, font#author holding the date, the lead photo and its
caption before <founder-content>, the enpproperty comment inside it after the body)."""
from __future__ import annotations

import random

from dataclasses import replace

from epaper.replica.markup import (CHROME_MAIL, CHROME_TOP, PORTAL, ArticleView, PageView, article_enp,
                                   body_paragraphs, esc, heading_block_date, label, lead_block)

HEAD = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta http-equiv="Content-Type" content="text/html;charset=utf-8" />
<meta http-equiv="X-UA-Compatible" content="ie=edge">
<title>{title}</title>
<link href="{static}/style.css" rel="stylesheet">
<script type="text/javascript" src="{static}/app.js"></script>
</head>
"""


def _chrome(home: str) -> str:
    return (f'<div class="portal"><span class="slogan">{CHROME_TOP}</span> <span>{CHROME_MAIL}</span>'
            f'<p class="links"><a href="{PORTAL}" target="_blank">安徽经济网首页</a> '
            f'<a href="{home}">数字版首页</a> '
            '<a href="javascript:void(0)" onclick="showCalendar()">往期回顾</a></p></div>')


FOOTER = ('<div class="bottom"><p class="copy">安徽经济报社版权所有 未经书面授权禁止使用</p>'
          '<p>Copyright &copy; 2006-2023 安徽经济报社 All Rights Reserved</p></div>')


def _pdf_link(v: PageView) -> str:
    if v.pdf_style == 0:
        return f'<a href="{v.pdf}">PDF下载</a>'
    if v.pdf_style == 1:
        return f'<a href="{v.pdf}" target="_blank">版面下载</a>'
    return f'<a href="{v.pdf}" target="_blank"><img src="{v.static}/pdf.gif" border="0" alt=""></a>'


def _prevnext(v: PageView) -> str:
    out = []
    if v.prev:
        out.append(f'<a href="{v.prev}" class="preban">上一版</a>')
    if v.next:
        out.append(f'<a href="{v.next}" class="nextban">下一版</a>')
    return " ".join(out)


def _map(v: PageView, upper: bool) -> str:
    if not v.hotspots:
        return ""
    if upper:
        areas = "".join(f'<Area coords="{c}" shape="polygon" href="{h}">' for h, c in v.hotspots)
        return f'<MAP NAME="PagePicMap">{areas}</MAP>'
    areas = "".join(f'<area shape="polygon" coords="{c}" href="{h}">' for h, c in v.hotspots)
    return f'<map name="PagePicMap">{areas}</map>'


def page_rmrb(v: PageView) -> str:
    slides = "\n".join(f'<div class="swiper-slide">\n<a id="pageLink" href="{h}">{t}</a>\n</div>'
                       for h, t in v.nav)
    items = "\n".join(f'<li>\n<span>·</span>\n<a href="{h}"> {t} </a>\n</li>' for h, t in v.items)
    news = f'<div class="news">\n<ul class="news-list">\n{items}\n</ul>\n</div>' if v.items else ""
    return HEAD.format(title=f"{v.paper}-数字报", static=v.static) + f"""<body onLoad="initialize();">
<div class="top"><div class="w1000">{_chrome(v.home)}</div></div>
<div class="main w1000">
<div class="left paper-box">
<div class="paper">
{_map(v, True)}
<img width="400" height="575" src="{v.scan}" border="0" USEMAP=#PagePicMap>
</div>
<div class="paper-bot">
<p class="left ban">
{label(v.page_no, v.page_name, v.ban_form)}
</p>
<p class="right btn">
{_pdf_link(v)}
</p>
<p class="pn">{_prevnext(v)}</p>
</div>
</div>
<div class="right right-main">
<div class="date-box"><p class="date left">{v.paper} <span class="newstime">{v.date.year}年{v.date.month:02d}月{v.date.day:02d}日</span></p>
<p class="right"><span class="prev" onClick="goPrePeriod()">上一期</span>
<span class="next" onClick="goNextPeriod();">下一期</span></p></div>
<div class="swiper-box">
<div class="swiper-container">
{slides}
</div>
</div>
{news}
</div>
</div>
{FOOTER}
</body>
</html>
"""


def page_detail(v: PageView) -> str:
    nav = "\n".join(f'<tr><td class="bmdh"><a id="pageLink" href="{h}">{t}</a></td></tr>'
                    for h, t in v.nav)
    rows = "\n".join(f'<tr><td width="12"><img src="{v.static}/dot.gif"></td>'
                     f'<td><a href="{h}">{t}</a></td></tr>' for h, t in v.items)
    return HEAD.format(title=v.paper, static=v.static) + f"""<body>
{_chrome(v.home)}
<table class="layout" width="1000" align="center"><tr>
<td class="pageimg" valign="top">
<div class="bmname"><span class="dqbm">当前版：</span>{label(v.page_no, v.page_name, v.ban_form)}</div>
<img src="{v.scan}" usemap="#PagePicMap" width="460" border="0">
{_map(v, False)}
<div class="bmtools">{_prevnext(v)} {_pdf_link(v)}</div>
</td>
<td class="pagelist" valign="top">
<div class="riqi">{v.date.year}年{v.date.month}月{v.date.day}日</div>
<table class="bmlist">
{nav}
</table>
<div class="titlelist"><table class="newslist" width="100%">
{rows}
</table></div>
</td></tr></table>
{FOOTER}
</body>
</html>
"""


def page_con(v: PageView) -> str:
    nav = "\n".join(f'<li><a id="pageLink" href="{h}">{t}</a></li>' for h, t in v.nav)
    dds = "\n".join(f'<dd><i class="ico"></i><a href="{h}" target="_self">{t}</a></dd>'
                    for h, t in v.items)
    return HEAD.format(title=f"{v.paper} 数字版", static=v.static) + f"""<body>
<header>{_chrome(v.home)}</header>
<section class="layout-main">
<aside class="layout-nav"><h4>版面导航</h4><ul class="pagenav">
{nav}
</ul></aside>
<div class="layout-page">
<div class="page-title"><h2>{label(v.page_no, v.page_name, v.ban_form)}</h2><span>{_pdf_link(v)}</span></div>
<div class="page-pic"><img src="{v.scan}" usemap="#PagePicMap" alt="">
{_map(v, False)}</div>
<div class="page-turn">{_prevnext(v)}</div>
</div>
<div class="layout-list"><dl class="newslist"><dt>本版新闻</dt>
{dds}
</dl></div>
</section>
{FOOTER}
</body>
</html>
"""


def _sec(v: ArticleView) -> str:
    a = v.art
    by = f"{esc(a.author)}<br>" if a.author else ""
    return f'<p class="sec">{by}{heading_block_date(v.date, v.page_no)}</p>'


def _subtitle(v: ArticleView) -> str:
    a = v.art
    return f"{a.subtitle_dash}{esc(a.subtitle)}" if a.subtitle else ""


def article_hbrb(v: ArticleView, rng: random.Random) -> str:
    a = v.art
    # The visible head holds no byline (font#author holds the date): the comment always has it.
    enp = article_enp(a if a.meta_mode in ("full", "shuffled") else replace(a, meta_mode="full"),
                      v.date, v.page_no, v.paper, rng, newer=True)
    body = body_paragraphs(a, v.img_href, rng, skip_lead=True)
    inner = f"<!--enpcontent-->{body}<!--/enpcontent-->{enp}"
    content = inner if a.bare else f"<founder-content>\n\t\t\t\t\t{inner}\n\t\t\t\t\t</founder-content>"
    intro = f"{esc(a.intro_title)}\n                " if a.intro_title else ""
    return HEAD.format(title=f"{esc(a.title_printed)}", static=v.static) + f"""<body>
<div id="scroller">
            <div class="caption">
                <a name="top" id="top"></a>
                <font id="guide"></font>
\t\t\t\t<p id="nowLayout" class="hide">{v.page_no}</p>
\t\t\t\t<font id="intro-title">{intro}</font>
\t\t\t\t<font id="main-title">{esc(a.title_printed)}
                </font>
                <font id="sub-title">{_subtitle(v)}</font>
                <font id="author">{v.date:%Y年%m月%d日}</font>
            </div>
            <div class="content" id="content">
\t\t\t\t{lead_block(a, v.img_href, rng)}
                    {content}
            </div>
\t\t<div class="footer_sqd"><span><a href="{v.home}">数字报 |</a></span>
\t    <span>Copyright © {v.paper}</span></div>
</div>
</body>
</html>
"""


def article_page(template: str, v: ArticleView, rng: random.Random) -> str:
    if template == "pc-hbrb":
        return article_hbrb(v, rng)
    a = v.art
    enp = article_enp(a, v.date, v.page_no, v.paper, rng, newer=True)
    body = body_paragraphs(a, v.img_href, rng, upper=template == "pc-detail" and rng.random() < .5)
    content = f"<founder-content><!--enpcontent-->\n{body}\n<!--/enpcontent--></founder-content>"
    if template != "pc-rmrb" and rng.random() < 0.5:
        content = f"<!--enpcontent--><founder-content>\n{body}\n</founder-content><!--/enpcontent-->"
    if a.bare:  # no <founder-content>: the enpcontent comments, or (pc-rmrb) only div#ozoom
        content = body if template == "pc-rmrb" else f"<!--enpcontent-->\n{body}\n<!--/enpcontent-->"
    intro = esc(a.intro_title) if a.intro_title else ""
    title = esc(a.title_printed)
    if template == "pc-rmrb":
        heads = (f'<div class="article">\n<h3>{intro}</h3>\n<h1>{title}</h1>\n'
                 f'<h2>{_subtitle(v)}</h2>\n{_sec(v)}\n<div id="ozoom">{content}</div>\n</div>')
    elif template == "pc-detail":
        by = f'<span class="author">{esc(a.author)}</span>' if a.author else ""
        heads = (f'<div class="newsdetatit">\n<h3>{intro}</h3>\n<h2>{title}</h2>\n'
                 f'<p id="SubTitle">{_subtitle(v)}</p>\n<div class="newsdetatime">{by} '
                 f'<span>{heading_block_date(v.date, v.page_no)}</span></div>\n</div>\n'
                 f'<div class="newsdetatext">{content}</div>')
    else:
        heads = (f'<div class="detail-art">\n<h4 id="PreTitle">{intro}</h4>\n<h2>{title}</h2>\n'
                 f'<p id="SubTitle">{_subtitle(v)}</p>\n{_sec(v)}\n'
                 f'<div class="attr">{content}</div>\n</div>')
    sib = "\n".join(f'<li><a href="{h}">{t}</a></li>' for h, t in v.siblings)
    return HEAD.format(title=f"{title}--{v.paper}", static=v.static) + f"""<body>
{enp}
{_chrome(v.home)}
<div class="riqi">- {v.date.year}年{v.date.month}月{v.date.day}日</div>
<div class="main">
<div class="bmnav"><a href="{v.page_href}">{label(v.page_no, v.page_name, 1)}</a>
<a href="{v.pdf}">版面下载</a></div>
{heads}
<div class="sibling"><h5>本版新闻</h5><ul>
{sib}
</ul></div>
</div>
{FOOTER}
</body>
</html>
"""


def render_page(template: str, v: PageView) -> str:
    return {"pc-rmrb": page_rmrb, "pc-detail": page_detail, "pc-con": page_con, "pc-hbrb": page_rmrb}[template](v)

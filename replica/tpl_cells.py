"""html-sxjjrb: the older generation as 山西经济日报 prints it (modelled on the real page in
tests/data/sxjjrb-2024-11-06-content_279424.html).

Every page, layout or article, is the same frame: the page scan under its image map
(`<MAP NAME="pagepicmap">` for `USEMAP=#PagePicMap`), the label `第01版：<STRONG>要闻</STRONG>`,
下一版 and the PDF icon, a 标题导航 list of the page's articles, the date, and after the main
table the page list (`div#bmdh`, `id=pageLink`) and the title list again (`div#btdh`). An
article page puts the article in the frame's right column: 引题 / 标题 / 副题 / byline in
`td.font02` / `td.font01` / `td.font02` / `td.font02` cells, then `DIV#ozoom` holding
`<founder-content>` with upper-case `<P>` paragraphs that each open with one space, images in a
`<P align=center>` of their own (a caption printed as the paragraph after it: `<P> 图为…</P>`) or
a table, centred sub-headings, and a hidden checkbox after the body. The Founder comment comes
after `</html>`, every field `founder-`-prefixed (`<founder-type>1</founder-type>` for an
article, 2 for a page)."""
from __future__ import annotations

import random

from epaper.replica.content import Article
from epaper.replica.markup import ArticleView, PageView, esc

TEMPLATES = {"html-sxjjrb"}
SITE = "山西经济网"


def _head(title: str, static: str) -> str:
    return ("\ufeff<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\" />\n"
            f"<title>{SITE}数字报平台-{title}</title>\n"
            f"<SCRIPT language=Javascript src=\"{static}/app.js\"></SCRIPT>\n"
            "<style type=\"text/css\">\n<!--\n.content p { TEXT-INDENT: 28px; font-size:14px; }\n-->\n</style>\n"
            "</head>\n\n<SPAN id=leveldiv title=点击查看内容 style=\"Z-INDEX: 100; POSITION: absolute\"></SPAN>\n\n"
            "<body onLoad=\"initialize();initMPPage();\" leftmargin=0 topmargin=0>\n")


def _frame(v: PageView, right: str) -> str:
    """The page frame around `right` (the right column's main cell)."""
    areas = "".join(f'<Area coords="{c}" shape="polygon" href="{h}">' for h, c in v.hotspots)
    mapped = f'<MAP NAME="pagepicmap">{areas}</MAP>' if v.hotspots else ""
    nxt = (f'<a class=preart href="{v.next}"><span style=\'font-size:12px;font-family:webdings\'>4</span>下一版</a>'
           if v.next else "")
    titles = "".join(
        f' <tr> <TD class=default valign="top"> <img src="{v.static}/dot.gif" width="10" height="10"> </TD>'
        f' <td class=default valign="top"> <a href={h}><div style="display:inline" id=mp{n}>{t}</div></a> </td> </TR>'
        for n, (h, t) in enumerate(v.items))
    pages = "".join(
        f' <TR id=row_black{n}> <TD align=left>&nbsp;</TD> <TD align=left height=24 class="black" >&nbsp;'
        f'<a href={h} class="black" id=pageLink>{t}</a></TD> </TR>' for n, (h, t) in enumerate(v.nav))
    again = "".join(f' <tr height=27px> <td width=10px></td> <td class="black"> <a href={h}>{t}</a> </td></TR>'
                    for h, t in v.items)
    return f"""<table cellspacing=0 cellpadding=0 width=1002 height="80" align=center border=0 >
<tr>
<td><img src="{v.static}/dot.gif" width="1002" height="80"></td></tr></table>
<table cellspacing=0 cellpadding=0 width=1002 align=center border=0 >
 <tr>
 <td valign=top width=354><table width="380" border=0 align=right cellpadding=0 cellspacing=0>
 <tr>
 <td width="310" height="500" bgcolor=#ffffff style="BORDER: #111111 1px solid">{mapped}<img src={v.scan} border=0 height=550 width=350 USEMAP=#PagePicMap></td>
 </tr>
 </table>
 <table width=373 border=0 cellpadding=5 cellspacing=0 style="MARGIN-BOTTOM: 3px">
 <tr>
 <td width="13" align=left>&nbsp;</td>
 <td width="145" align=left>第{v.page_no}版：<STRONG>{esc(v.page_name)}</STRONG></td>
 <td width="125" align=right nowrap>{nxt}</td>
 <td width="50" align=right valign=center nowrap><a href={v.pdf}><IMG height=16 src="{v.static}/pdf.gif" width=16 border=0></a></td>
 </tr>
 </table>
 <table width="348" border="0" cellspacing="0" cellpadding="0" style="BORDER: #C0C0C0 1px solid">
 <tr>
 <td bgcolor="#FFFFFF" height="20" style="PADDING-LEFT: 10px;"><span class="STYLE30">标题导航</span></td>
 </tr>
 <tr>
 <td bgcolor="#FFFFFF" style="PADDING-LEFT: 10px;">
 <DIV style="height:170px; overflow-y:scroll; width:100%;">
 <TABLE cellSpacing=0 cellPadding=1 border=0> <TBODY>{titles} </TBODY> </TABLE>
 </DIV></td>
 </tr>
 </table></td>
 <td valign=top><table height=115 cellspacing=0 cellpadding=0 width="609" border=0>
 <tr>
 <td width="588" height="130" colspan="3" align="right" valign="bottom"><span><a href="http://www.sxjjb.example/"><strong>{SITE}</strong></a></span></td>
 </tr>
 <tr>
 <td width="47%" align="center" valign="top"><span class="default"> <strong>
 {v.date.year}年{v.date.month}月{v.date.day}日
 </strong> <strong>星期<strong>
 <font class=weekday>{"一二三四五六日"[v.date.weekday()]}</font>
 </strong></strong></span></td>
 </tr>
 </table>
 <table width="588" height="507" border=0 cellpadding=0 cellspacing=0>
 <tr valign=top>
 <td>{right}</td>
 </tr>
 </table></td>
 </tr>
</table>
<!-------bmdh版面导航------>
<div id=bmdh style="display:none">
 <TABLE width="200px" border=0 cellPadding=2 cellSpacing=0 bgcolor="#FFFFFF"> <TBODY>{pages} </TBODY> </TABLE>
</div>
<!-- -------------------------标题导航-------------->
<DIV id=btdh style="display:none">
 <TABLE border=0 cellPadding=2 cellSpacing=0 bgcolor="#FFFFFF" width=277> <tbody>{again} </tbody></TABLE>
</DIV>
</body>
</html>
"""


def render_page(v: PageView) -> str:
    right = ('<table width="100%" border="0" cellspacing="0" cellpadding="0"><tr><td align="center" height="40">'
             f'请点击左侧版面图或标题导航阅读 {esc(v.page_name)} 版的文章</td></tr></table>')
    comment = (f"<!--enpproperty <founder-date>{v.date:%Y-%m-%d}</founder-date><founder-type>2</founder-type>"
               f"<founder-pagenum>{v.page_no}</founder-pagenum><founder-papername>{v.paper}</founder-papername>"
               " /enpproperty-->")
    return _head(v.paper, v.static) + _frame(v, right) + comment


def article_page(v: ArticleView, frame: PageView, rng: random.Random) -> str:
    a = v.art
    sub = f"{a.subtitle_dash}{esc(a.subtitle)}" if a.subtitle else ""
    cell = '<tr valign=top> <td class="{}" align=center style="color: {};">{}</td> </TR>'
    heads = " ".join([cell.format("font02", "#827E7B", esc(a.intro_title or "")),
                      cell.format("font01", "#0205FF", esc(a.title_printed)),
                      cell.format("font02", "#827E7B", sub),
                      cell.format("font02", "#827E7B", esc(a.author or ""))])
    content = _body(a, v, rng)
    if not a.bare:
        content = f"<founder-content>{content}</founder-content>"
    right = f"""<table width="100%" border="0" cellspacing="0" cellpadding="0">
 <tr>
 <td style="border-bottom:#787878 1px solid;" height="24"><a class=preart href="{v.page_href}">返回版面</a>
 <a onClick="zoomIn();" href=#>放大<img height=16 src="{v.static}/dot.gif" width=16 border=0></a></td>
 </tr>
 <tr>
 <td><!----------文章部分开始---------->
 <DIV style="height:800px; overflow-y:scroll; width:100%;">
 <table width="100%" border="0" cellpadding="0" cellspacing="0" style="margin: 10px 0;">
 <tr>
 <td> <table cellspacing=0 cellpadding=5 width=100% border=0> <tbody> {heads} </tbody> </table> </td>
 </tr>
 <tr>
 <td align="center"><span class="font6" style="padding: 10px 20px;">

 </span></td>
 </tr>
 <tr>
 <td align="left" class="font6" style="padding: 10px 20px;"><script language=javascript>
 if(picResCount>0){{ document.write("<br>"); }}
 </script>
 <DIV id=ozoom style="zoom:100%;FLOAT: left;" class="content">
 {content} <INPUT type=checkbox value=0 name=titlecheckbox sourceid="" style="display:none">
 </DIV></td>
 </tr>
 </table>
 </DIV>
 <!----------文章部分结束---------->
 </td>
 </tr>
 </table>"""
    return _head(v.paper, v.static) + _frame(frame, right) + _comment(a, v, rng)


def _body(a: Article, v: ArticleView, rng: random.Random) -> str:
    """Upper-case <P> paragraphs, each opening with one space, on one line."""
    out = []
    for kind, block in a.blocks:
        if kind == "p":
            out.append(f"<P> {esc(str(block))}</P>")
        elif kind == "sub":
            out.append(f"<P align=center><STRONG>{esc(str(block))}</STRONG></P>")
        else:
            attr = f' {block.caption_mode}="{esc(block.caption)}"' \
                if block.caption_mode in ("data-original-title", "title", "alt") else ""
            img = f"<IMG src=\"{v.img_href(block)}\"{attr} border=0>"
            if block.in_table or block.caption_mode == "next":
                row = f"<TR><TD align=center>{esc(block.caption)}</TD></TR>" if block.caption_mode == "next" else ""
                out.append(f"<TABLE align=center><TR><TD>{img}</TD></TR>{row}</TABLE>")
            else:
                out.append(f"<P align=center>{img}</P>" if rng.random() < 0.5 else f"<P>{img}</P>")
            if block.caption_mode == "para":
                out.append(f"<P> {esc(block.caption)}</P>")
    return "".join(out)


def _comment(a: Article, v: ArticleView, rng: random.Random) -> str:
    """The article's comment after </html>, every field founder-prefixed, in its meta_mode."""
    if a.meta_mode == "missing":
        return ""
    sub = a.subtitle or ""
    if sub and rng.random() < 0.3:
        sub = a.subtitle_dash + sub
    fields = [("date", f"{v.date:%Y-%m-%d}"), ("author", esc(a.author or "")), ("title", esc(a.title_printed)),
              ("nodename", ""), ("keyword", ""), ("ip", ""), ("ChannelID", "1"), ("imp", "0"),
              ("subtitle", esc(sub)), ("type", "1"), ("introtitle", esc(a.intro_title or "")),
              ("pagenum", v.page_no), ("papername", v.paper), ("nodeid", "2")]
    if a.meta_mode == "shuffled":
        rng.shuffle(fields)
    elif a.meta_mode == "partial":
        fields = [(k, "" if rng.random() < 0.5 else val) if k in ("author", "title", "subtitle", "introtitle")
                  else (k, val) for k, val in fields if k not in ("author", "subtitle") or rng.random() < 0.5]
    inner = "".join(f"<founder-{k}>{val}</founder-{k}>" for k, val in fields)
    return f"<!--enpproperty {inner} /enpproperty-->"

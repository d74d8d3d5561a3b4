"""The names in a byline: `authors` from `author` (kept as printed).

The rule, applied to the whitespace-normalized byline:

1. A date and page line in brackets (`（2023年07月04日 B01版）`), a leading `□ ■ ◎ ●`, and a
   dateline ending in 电 (`新华社北京1月1日电`) are not names: removed.
2. Roles are not names: 本报记者, 本报通讯员, 本报特约记者, 本报见习记者, 本报实习生,
   本报评论员, 新华社记者, 特约记者, 见习记者, 实习记者, 记者, 通讯员, 实习生, 评论员,
   特约撰稿人, 撰稿, 作者, 责任编辑, 编辑, 摄影, 文/图, 图/文, 文/, 图/, 文：, 本报讯, 摄
   (trailing); they are cut wherever they stand, so `本报记者张伟` gives 张伟 too.
3. What is left splits on whitespace and 、，,；;／/; each piece is a name. Two single
   characters in a row are one name printed with a spacer (`王 芳` → 王芳), as papers align
   two-character names with a full-width space.
4. Empty pieces, digits-only pieces, a single character left alone and repeats are dropped;
   order is kept.

`本报评论员` alone gives `[]`: an institutional byline names no one.
"""
from __future__ import annotations

import re

ROLES = ("本报特约记者", "本报见习记者", "本报记者", "本报通讯员", "本报实习生", "本报评论员",
         "新华社记者", "人民日报记者", "特约撰稿人", "特约记者", "见习记者", "实习记者", "通讯员",
         "实习生", "评论员", "责任编辑", "记者", "撰稿", "作者", "编辑", "摄影", "本报讯")
_BRACKETS = re.compile(r"[（(][^（）()]*\d[^（）()]*[）)]")
_MARKERS = re.compile(r"^[□■◎●\s]+")
_DATELINE = re.compile(r"\S*\d+月\d+日电")
_SLASH_ROLES = re.compile(r"(文\s*[/／]\s*图|图\s*[/／]\s*文|文\s*[/／]|图\s*[/／]|文\s*[：:]|图\s*[：:])")
_ROLES = re.compile("|".join(map(re.escape, ROLES)))
_TRAILING = re.compile(r"(摄|报道|供图)$")
_SPLIT = re.compile(r"[\s、，,；;／/]+")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def parse_authors(byline: str | None) -> list[str]:
    """The people named in a byline, without their roles (see the module docstring)."""
    if not byline:
        return []
    text = _MARKERS.sub("", _BRACKETS.sub(" ", byline))
    text = _DATELINE.sub(" ", text)
    text = _SLASH_ROLES.sub(" ", text)
    text = _ROLES.sub(" ", text)
    pieces = [_TRAILING.sub("", p) for p in _SPLIT.split(text)]
    pieces = [p for p in pieces if p and not p.isdigit()]
    names: list[str] = []
    i = 0
    while i < len(pieces):
        piece = pieces[i]
        if len(piece) == 1 and _CJK.match(piece) and i + 1 < len(pieces) and len(pieces[i + 1]) == 1:
            piece += pieces[i + 1]
            i += 1
        if (len(piece) > 1 or not _CJK.match(piece)) and piece not in names:
            names.append(piece)
        i += 1
    return names

"""`epaper report --out FILE`: one picture of the archive for analysts and operators.

A calendar of the archive's span with one cell per day (the day's articles; no-issue, missing
and incomplete days drawn distinctly) and the articles per page name over the span, as a PNG,
or as HTML with the PNG embedded plus the tables a picture cannot hold (page names, the dates
to look at and why). matplotlib (Agg backend) is imported only here, only for this command.

The states are `epaper.state.date_states` over the span from the first to the last date the
snapshots or the run log know, drawn as four kinds: complete (archived), incomplete (incomplete
or damaged), no issue (confirmed: found after the day was over) and missing (missing, or a
"no issue" not confirmed yet).
"""
from __future__ import annotations

import base64
import datetime as dt
import html
import io
import logging
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from epaper import state as st
from epaper.terminal import counted

COMPLETE, INCOMPLETE, NO_ISSUE, MISSING = "complete", "incomplete", "no issue", "missing"
TOP_NAMES = 24  # page names drawn one bar each; the rest share one bar
# Month panels: without --from/--to the report draws the archive's last DEFAULT_MONTHS months
# (a date the portal misnamed, 1900-01-02, would otherwise make 1,484 panels and gigabytes);
# a span asked for may have up to MAX_MONTHS.
DEFAULT_MONTHS = 24
MAX_MONTHS = 120
CJK_FAMILIES = ("Noto Sans CJK", "Noto Serif CJK", "Source Han Sans", "Source Han Serif", "WenQuanYi",
                "SimHei", "Microsoft YaHei", "PingFang", "Hiragino Sans GB", "Heiti", "STHeiti",
                "Droid Sans Fallback", "AR PL", "Sarasa")
MATPLOTLIB_MISSING = "epaper report needs matplotlib: pip install 'epaper[report]'"


@dataclass
class Day:
    date: dt.date
    state: str
    articles: int = 0
    note: str = ""  # why a date is incomplete or missing, for the HTML table


@dataclass
class PageName:
    name: str | None
    page_nos: list[str]  # most articles first
    articles: int
    duplicates: int
    key: str = ""  # rank, #1 for the most articles: the bar's label when no CJK font is there


@dataclass
class ReportData:
    root: Path
    title: str
    days: list[Day]
    pages: list[PageName] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(d.state == state for d in self.days)

    @property
    def articles(self) -> int:
        return sum(p.articles for p in self.pages)

    @property
    def duplicates(self) -> int:
        return sum(p.duplicates for p in self.pages)


# ------------------------------------------------------------------ data


# The report's four kinds, from the archive's states (`epaper.state`).
KINDS = {st.ARCHIVED: COMPLETE, st.SUSPECT: COMPLETE, st.INCOMPLETE: INCOMPLETE, st.DAMAGED: INCOMPLETE,
         st.NO_ISSUE: NO_ISSUE, st.PENDING: MISSING, st.LOST: MISSING, st.MISSING: MISSING}


def days_of(states: list[st.DateState]) -> list[Day]:
    """The report's view of the archive's date states, in the same order."""
    return [Day(s.date, KINDS[s.state], s.articles, s.note) for s in states]


def page_names(root: Path, source: str, start: dt.date, end: dt.date) -> list[PageName]:
    """Articles and duplicates per page name over [start, end], most articles first."""
    import pyarrow.compute as pc

    from epaper.storage.load import load_articles

    table = load_articles(root, start, end, columns=["page_no", "page_name", "duplicate_of"], sources=[source])
    table = table.append_column("dup", pc.is_valid(table.column("duplicate_of")).cast("int64"))
    groups = table.group_by(["page_name", "page_no"]).aggregate([([], "count_all"), ("dup", "sum")])
    by_name: dict[str | None, PageName] = {}
    per_no: dict[str | None, Counter] = {}
    for row in groups.to_pylist():
        p = by_name.setdefault(row["page_name"], PageName(row["page_name"], [], 0, 0))
        p.articles += row["count_all"]
        p.duplicates += row["dup_sum"] or 0
        per_no.setdefault(row["page_name"], Counter())[row["page_no"]] += row["count_all"]
    for name, p in by_name.items():
        p.page_nos = [no for no, _ in sorted(per_no[name].items(), key=lambda kv: (-kv[1], kv[0]))]
    names = sorted(by_name.values(), key=lambda p: (-p.articles, p.page_nos[0], p.name or ""))
    for rank, p in enumerate(names, 1):  # the key ties a bar to its row in the HTML table
        p.key = f"#{rank}"
    return names


def collect(root: Path, source: str, title: str, tz: dt.tzinfo, start: dt.date | None = None,
            end: dt.date | None = None) -> ReportData:
    """The paper's report data over [start, end] (default the archive's span); `tz` is the
    portal's time zone, where a day ends."""
    days = days_of(st.date_states(root, source, tz=tz, start=start, end=end))
    data = ReportData(root, title, days)
    if days:
        data.pages = page_names(root, source, days[0].date, days[-1].date)
    return data


# ------------------------------------------------------------------ fonts


def cjk_font() -> str | None:
    """A font family matplotlib can use for Chinese page names, or None (nothing is installed)."""
    from matplotlib import font_manager

    if shutil.which("fc-list"):
        try:
            listing = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True,
                                     timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            listing = ""
        for line in sorted(listing.splitlines()):
            path = line.split(":", 1)[0].strip()
            if path.lower().endswith((".ttf", ".otf", ".ttc")):
                try:
                    font_manager.fontManager.addfont(path)
                    return font_manager.FontProperties(fname=path).get_name()
                except (OSError, RuntimeError, ValueError):
                    continue
    for wanted in CJK_FAMILIES:
        for entry in font_manager.fontManager.ttflist:
            if entry.name.lower().startswith(wanted.lower()):
                return entry.name
    return None


# ------------------------------------------------------------------ drawing

COLORS = {INCOMPLETE: "#f5a623", NO_ISSUE: "#d9d9d9", MISSING: "#ffffff"}
MISSING_EDGE = "#d62728"
PANEL_W, PANEL_H = 8, 9  # a month panel's size in cell units


def _panel_cols(months: int) -> int:
    """Month panels per row: 4, or 6 past two years so a long archive stays a sane height."""
    return min(months, 4 if months <= 24 else 6)


def _months(first: dt.date, last: dt.date) -> list[tuple[int, int]]:
    out, (y, m) = [], (first.year, first.month)
    while (y, m) <= (last.year, last.month):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def first_of_month(day: dt.date, back: int) -> dt.date:
    """The first day of the month `back` months before `day`'s."""
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def _draw_calendar(ax, data: ReportData, cmap, norm) -> None:
    import calendar

    from matplotlib.patches import Rectangle

    by_date = {d.date: d for d in data.days}
    months = _months(data.days[0].date, data.days[-1].date)
    cols = _panel_cols(len(months))
    for i, (year, month) in enumerate(months):
        x0, y0 = (i % cols) * PANEL_W, (i // cols) * PANEL_H
        ax.text(x0 + 3.5, y0 + 0.55, f"{calendar.month_name[month]} {year}", ha="center", va="center",
                fontsize=11, fontweight="bold")
        for wd, letter in enumerate("MTWTFSS"):
            ax.text(x0 + wd + 0.5, y0 + 1.55, letter, ha="center", va="center", fontsize=8, color="#555555")
        for week, days in enumerate(calendar.Calendar().monthdatescalendar(year, month)):
            for wd, day in enumerate(days):
                if day.month != month:
                    continue
                x, y = x0 + wd, y0 + 2 + week
                entry = by_date.get(day)
                if entry is None:  # outside the span
                    ax.text(x + 0.5, y + 0.5, str(day.day), ha="center", va="center", fontsize=7,
                            color="#bbbbbb")
                    continue
                face = cmap(norm(entry.articles)) if entry.state == COMPLETE else COLORS[entry.state]
                edge = MISSING_EDGE if entry.state == MISSING else "white"
                inset = 0.08 if entry.state == MISSING else 0.0
                ax.add_patch(Rectangle((x + inset, y + inset), 1 - 2 * inset, 1 - 2 * inset, facecolor=face,
                                       edgecolor=edge, linewidth=1.6 if entry.state == MISSING else 1.0,
                                       hatch="////" if entry.state == INCOMPLETE else None))
                dark = entry.state == COMPLETE and norm(entry.articles) > 0.55
                ax.text(x + 0.1, y + 0.2, str(day.day), ha="left", va="center", fontsize=6,
                        color="white" if dark else "#444444")
                label = {COMPLETE: str(entry.articles), INCOMPLETE: f"{entry.articles}!",
                         NO_ISSUE: "–", MISSING: "?"}[entry.state]
                ax.text(x + 0.5, y + 0.6, label, ha="center", va="center", fontsize=9,
                        fontweight="bold", color="white" if dark else
                        (MISSING_EDGE if entry.state == MISSING else "#222222"))
    rows = (len(months) + cols - 1) // cols
    ax.set_xlim(-0.2, cols * PANEL_W - 0.8)
    ax.set_ylim(rows * PANEL_H - 0.8, -0.1)
    ax.set_aspect("equal")
    ax.axis("off")


def _bar_labels(data: ReportData, font: str | None) -> tuple[list[str], list[int], list[int]]:
    shown, rest = data.pages[:TOP_NAMES], data.pages[TOP_NAMES:]
    labels, uniques, dups = [], [], []
    for p in shown:
        pages = ", ".join(p.page_nos[:3]) + (" …" if len(p.page_nos) > 3 else "")
        labels.append(f"{p.name or '(unnamed)'}  p.{pages}" if font else f"{p.key}  p.{pages}")
        uniques.append(p.articles - p.duplicates)
        dups.append(p.duplicates)
    if rest:
        labels.append(f"{len(rest)} other names")
        uniques.append(sum(p.articles - p.duplicates for p in rest))
        dups.append(sum(p.duplicates for p in rest))
    return labels, uniques, dups


def _draw_bars(ax, data: ReportData, font: str | None) -> None:
    labels, uniques, dups = _bar_labels(data, font)
    ys = range(len(labels))
    ax.barh(ys, uniques, color="#2b6cb0", label="articles")
    ax.barh(ys, dups, left=uniques, color="#9ec5ea", label="duplicates (duplicate_of set)")
    top = max((u + d for u, d in zip(uniques, dups)), default=0)
    for y, u, d in zip(ys, uniques, dups):
        ax.text(u + d + top * 0.01, y, f"{u + d}" + (f"  ({d} dup)" if d else ""), va="center", fontsize=8)
    ax.set_yticks(list(ys), labels, fontsize=9, parse_math=False)  # a page name may hold `$…$`
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.15 or 1)
    ax.set_xlabel("articles over the span" + ("" if font else "\n(no CJK font: names by rank; the HTML report "
                                                             "lists them)"), fontsize=9)
    ax.set_title("Articles per page name", loc="left", fontsize=11, fontweight="bold")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(loc="lower right", fontsize=8, frameon=False)


def render_png(data: ReportData, font: str | None, dpi: int = 110) -> bytes:
    """The report picture as PNG bytes (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize
    from matplotlib.patches import Patch

    months = _months(data.days[0].date, data.days[-1].date)
    cols = _panel_cols(len(months))
    rows = (len(months) + cols - 1) // cols
    width = max(9.0, cols * 3.2)
    cal_h = width * (rows * PANEL_H) / (cols * PANEL_W) * (0.86 if cols > 1 else 0.5)
    n_bars = min(len(data.pages), TOP_NAMES + 1)
    bar_h = 0.8 + 0.3 * max(n_bars, 2)
    head, legend_h, gap = 0.9, 0.5, 0.6
    foot = 0.6 if font else 0.8  # room for the x label (two lines without a CJK font)
    height = head + cal_h + legend_h + gap + bar_h + foot

    # DejaVu first keeps bold Latin text; matplotlib falls back glyph by glyph to the CJK font.
    rc = {"font.family": ["DejaVu Sans", font] if font else ["DejaVu Sans"]}
    quiet = logging.getLogger("matplotlib.font_manager")
    level, quiet.level = quiet.level, logging.ERROR  # "Failed to find font weight bold" for CJK fonts
    with plt.rc_context(rc):
        fig = plt.figure(figsize=(width, height), dpi=dpi)
        fig.patch.set_facecolor("white")
        top = 1 - head / height
        fig.text(0.02, 1 - 0.35 / height, data.title, fontsize=14, fontweight="bold", va="center",
                 parse_math=False)
        archived = data.count(COMPLETE) + data.count(INCOMPLETE)
        fig.text(0.02, 1 - 0.68 / height,
                 f"{data.days[0].date} to {data.days[-1].date}: {counted(archived, 'issue')} archived "
                 f"({data.count(INCOMPLETE)} incomplete), {data.count(NO_ISSUE)} without an issue, "
                 f"{data.count(MISSING)} missing; {counted(data.articles, 'article')}, "
                 f"{counted(data.duplicates, 'duplicate')}",
                 fontsize=10, va="center", color="#333333", parse_math=False)
        cal = fig.add_axes((0.02, top - cal_h / height, 0.96, cal_h / height))
        counts = [d.articles for d in data.days if d.state == COMPLETE]
        cmap = plt.get_cmap("Blues")
        lo, hi = (min(counts), max(counts)) if counts else (0, 1)
        span = max(hi - lo, 1)
        norm = Normalize(vmin=lo - span * 0.6, vmax=hi + span * 0.15)  # keep the lightest shade visible
        _draw_calendar(cal, data, cmap, norm)
        handles = [Patch(facecolor=cmap(norm((lo + hi) / 2)), label=f"archived: articles ({lo}–{hi}, darker = more)"),
                   Patch(facecolor=COLORS[INCOMPLETE], hatch="////", edgecolor="white", label="incomplete (!)"),
                   Patch(facecolor=COLORS[NO_ISSUE], label="no issue (–)"),
                   Patch(facecolor="white", edgecolor=MISSING_EDGE, linewidth=1.6, label="missing (?)")]
        fig.legend(handles=handles, loc="center", ncol=4, frameon=False, fontsize=9,
                   bbox_to_anchor=(0.5, (top - cal_h / height) - legend_h / 2 / height))
        bars_top = top - (cal_h + legend_h + gap) / height
        if data.pages:
            bars = fig.add_axes((0.30, foot / height, 0.62, bars_top - foot / height))
            _draw_bars(bars, data, font)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
        plt.close(fig)
    quiet.level = level
    return buf.getvalue()


def render_html(data: ReportData, png: bytes, title: str | None = None) -> str:
    """A self-contained page: the picture, the page names, and the dates to look at."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(p.key)}</td><td>{e(p.name or '(unnamed)')}</td><td>{e(', '.join(p.page_nos))}</td>"
        f"<td class=n>{p.articles}</td><td class=n>{p.duplicates}</td></tr>" for p in data.pages)
    attention = "".join(f"<tr><td>{d.date}</td><td>{e(d.state)}</td><td class=n>{d.articles}</td>"
                        f"<td>{e(d.note)}</td></tr>" for d in data.days if d.state in (INCOMPLETE, MISSING))
    img = base64.b64encode(png).decode()
    title = title or data.title  # the browser draws Chinese even where matplotlib had no font
    return f"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>body{{font-family:sans-serif;margin:1.5em;color:#222}} table{{border-collapse:collapse;margin:.5em 0 1.5em}}
td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:left}} td.n{{text-align:right}} img{{max-width:100%}}</style>
</head><body>
<h1>{e(title)}</h1>
<p>Archive {e(str(data.root))}: {data.days[0].date} to {data.days[-1].date}.</p>
<img alt="calendar of the archive and articles per page name" src="data:image/png;base64,{img}">
<h2>Dates to look at</h2>
{f'<table><tr><th>date</th><th>state</th><th>articles</th><th>why</th></tr>{attention}</table>'
 if attention else '<p>None: every date of the span is archived completely or has no issue.</p>'}
<h2>Page names</h2>
<table><tr><th>key</th><th>page name</th><th>page numbers</th><th>articles</th><th>duplicates</th></tr>{rows}</table>
</body></html>
"""


# ------------------------------------------------------------------ command


class ReportError(Exception):
    """A problem the user can fix: one line, exit status 2."""


def run_report(args) -> int:
    # Errors are printed here rather than raised as the CLI's UsageError: under
    # `python -m epaper` that class lives in __main__, not in epaper.cli.
    try:
        return _report(args)
    except ReportError as exc:
        print(f"epaper report: {exc}" if not str(exc).startswith("epaper") else str(exc), file=sys.stderr)
        return 2


def _report(args) -> int:
    from epaper.config import UsageError, load_config
    from epaper.storage.layout import OldLayout, check_layout

    out = Path(args.out)
    kind = out.suffix.lower()
    if kind not in (".png", ".html", ".htm"):
        raise ReportError(f"--out must end in .png or .html, got {args.out!r}")
    try:
        config = load_config(args.config, overrides={"storage.data_dir": args.data} if args.data else {},
                             sources=getattr(args, "sources", None) or ())
        portal = config.portal  # a report draws one paper
        from epaper.remote import reading_config

        config = reading_config(config)  # an s3:// archive: read from a pulled copy
        check_layout(config.storage.data_dir)
    except (UsageError, OldLayout) as exc:
        raise ReportError(str(exc)) from None
    root = Path(config.storage.data_dir)
    if not out.parent.is_dir():
        raise ReportError(f"--out: folder {out.parent} does not exist")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ReportError(MATPLOTLIB_MISSING) from None
    start, end = getattr(args, "start", None), getattr(args, "end", None)
    if start and end and start > end:
        raise ReportError(f"--from {start} is after --to {end}")
    known = st.date_states(root, portal.id, tz=config.schedule.tzinfo)
    if known and (start or end):  # an open end is the archive's first or last date
        start, end = start or known[0].date, end or known[-1].date
        if len(_months(start, end)) > MAX_MONTHS:
            raise ReportError(f"--from {start} --to {end} spans {len(_months(start, end)):,} months; "
                              f"at most {MAX_MONTHS} are drawn at once")
    elif known and len(_months(known[0].date, known[-1].date)) > DEFAULT_MONTHS:
        end = known[-1].date
        start = first_of_month(end, DEFAULT_MONTHS - 1)
        print(f"epaper report: the archive spans {known[0].date} to {end} "
              f"({len(_months(known[0].date, end)):,} months): drawing its last {DEFAULT_MONTHS}, from {start} "
              f"(--from/--to draw another span)", file=sys.stderr)
    data = collect(root, portal.id, "", config.schedule.tzinfo, start, end)
    if not data.days:
        raise ReportError(f"nothing archived under {root} (no snapshots, no run log)")
    font = cjk_font()
    full = f"{portal.name} ({portal.id}) archive"
    data.title = full if font or portal.name.isascii() else f"{portal.id} archive"
    png = render_png(data, font)
    try:
        if kind == ".png":
            out.write_bytes(png)
        else:
            out.write_text(render_html(data, png, full), encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"{out}: {data.days[0].date} to {data.days[-1].date}, {data.count(COMPLETE)} complete, "
          f"{data.count(INCOMPLETE)} incomplete, {data.count(NO_ISSUE)} no issue, {data.count(MISSING)} missing")
    if not font and kind == ".png":
        print("epaper report: no CJK font (fc-list :lang=zh is empty): page names drawn by rank with their "
              "page numbers; an .html report lists the names. Install one: apt-get install fonts-noto-cjk "
              "(Debian, Ubuntu), dnf install google-noto-sans-cjk-fonts (Fedora, RHEL)", file=sys.stderr)
    return 0

"""The replica portal: generated sites, their ground truth and the loopback server."""
from __future__ import annotations

import datetime as dt
import http.client
import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epaper.replica.build import TEMPLATES, build_site
from epaper.replica.content import STOCK_OPENING, normalize
from epaper.replica.dedupe import duplicate_of, is_near, shingles
from epaper.replica.faults import Fault, dump_faults, load_faults
from epaper.replica.server import serve
from tests.conftest import slow_but

ROOT = Path(__file__).resolve().parent.parent
SEED = json.loads((ROOT / "replica" / "seed-article.json").read_text(encoding="utf-8"))
SHORT = (dt.date(2023, 7, 31), dt.date(2023, 8, 9))
LONG = (dt.date(2023, 7, 1), dt.date(2023, 8, 29))  # 60 days
FAKE = "http://replica.test/ahjjb/"


_BUILT: dict[tuple, Path] = {}


def _build(tmp_path_factory, template: str, span: tuple[dt.date, dt.date]) -> Path:
    if (template, span) not in _BUILT:
        out = tmp_path_factory.mktemp(template)
        build_site(out, start=span[0], end=span[1], generation=TEMPLATES[template], template=template)
        _BUILT[template, span] = out
    return _BUILT[template, span]


@pytest.fixture(scope="module", params=slow_but(sorted(TEMPLATES), "pc-rmrb", "html-table", "html-sxjjrb", "html-kjjrsb",
                                                  "html-snb", "pc-ahnc"))
def short(request, tmp_path_factory):
    return _build(tmp_path_factory, request.param, SHORT)


@pytest.fixture(scope="module", params=slow_but(["pc-rmrb", "html-table"], "pc-rmrb"))
def long(request, tmp_path_factory):
    return _build(tmp_path_factory, request.param, LONG)


def truth(out: Path) -> dict:
    return json.loads((out / "truth.json").read_text(encoding="utf-8"))


def decode(data: bytes) -> str:
    m = re.search(rb"charset=[\"']?([\w-]+)", data[:2048])
    return data.decode(m.group(1).decode() if m else "utf-8")


def html_files(site: Path) -> dict[str, str]:
    return {p.relative_to(site).as_posix(): decode(p.read_bytes())
            for p in site.rglob("*") if p.suffix in (".htm", ".html")}


def links(text: str) -> list[str]:
    doc = lxml.html.fromstring(text)
    out = [v for el in doc.iter() if isinstance(el.tag, str)
           for k, v in el.attrib.items() if k.lower() in ("href", "src")]
    for meta in doc.xpath("//meta[@http-equiv='refresh']"):
        out.append(meta.get("content").split("URL=", 1)[1])
    return out


# --- the site -------------------------------------------------------------------------

def test_every_link_of_every_page_resolves(short):
    site, checked = short / "site", 0
    for rel, text in html_files(site).items():
        for href in links(text):
            if href.startswith(("javascript:", "#")):
                continue
            url = urljoin(FAKE + rel, href)
            if urlsplit(url).netloc != "replica.test":
                continue  # portal links to other hosts
            assert url.startswith(FAKE), (rel, href)
            assert (site / urlsplit(url).path[len(urlsplit(FAKE).path):]).is_file(), (rel, href)  # ?div= is a display mode
            checked += 1
    assert checked > 1000


def test_same_arguments_give_identical_bytes(tmp_path):
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        build_site(out, start=SHORT[0], end=SHORT[1], generation="html", template="html-gb2312", seed=7)
    files = [{p.relative_to(o).as_posix(): p.read_bytes() for p in o.rglob("*") if p.is_file()}
             for o in outs]
    assert files[0] == files[1]
    build_site(tmp_path / "c", start=SHORT[0], end=SHORT[0], generation="html", template="html-gb2312", seed=8)
    assert (tmp_path / "c" / "truth.json").read_bytes() != files[0]["truth.json"]


def test_seed_article_is_printed_exactly(short):
    t = truth(short)
    rows = [r for r in t["articles"] if r["issue_date"] == "2023-08-03" and r["title"] == SEED["title"]]
    assert len(rows) == 1
    row = rows[0]
    assert (row["column"], row["subtitle"], row["author"], row["intro_title"]) == (
        SEED["column"], SEED["subtitle"], None, None)
    assert row["body"] == "\n".join(SEED["paragraphs"]) and len(row["body"].split("\n")) == 68
    assert (row["page_index"], row["position"]) == (0, 0)
    page = decode((short / "site" / row["url"]).read_bytes())
    text = lxml.html.fromstring(page).text_content()  # gb2312 pages carry — as &#8212;
    assert SEED["subtitle_as_printed"] in text and "<founder-content>" in page
    assert all(p in text for p in SEED["paragraphs"])


def test_period_xml_lists_exactly_the_issue_dates(long):
    t, site = truth(long), long / "site"
    listed = {}
    for xml in site.rglob("period.xml"):
        doc = lxml.etree.fromstring(xml.read_bytes())
        for period in doc.iter("period"):
            listed[period.findtext("period_date")] = (xml.parent, period.findtext("front_page"))
            assert period.findtext("period_name") and period.findtext("period_id")
    assert sorted(listed) == sorted(t["issues"])
    assert set(t["no_issue_dates"]).isdisjoint(listed)
    for day, (folder, front) in listed.items():
        assert t["issues"][day]["pages"][0]["url"].endswith(f"/{day[8:]}/{front}")
    dates = sorted(dt.date.fromisoformat(d) for d in listed)
    assert any(b - a >= dt.timedelta(5) for a, b in zip(dates, dates[1:]))  # a holiday break
    assert any(dt.date.fromisoformat(d).weekday() < 5 for d in t["no_issue_dates"])


def _page_links(text: str) -> tuple[list[str], list[str]]:
    doc = lxml.html.fromstring(text)
    areas = [a.get("href") for a in doc.xpath("//map//area")]
    items = [a.get("href") for a in doc.xpath("//a[@href]")
             if re.search(r"content_|/con/", a.get("href"))]
    return items, areas


def test_quirks_appear_in_a_60_day_build(long):
    t, site = truth(long), long / "site"
    files = html_files(site)
    pc = t["generation"] == "pc"
    page_urls = {p["url"] for i in t["issues"].values() for p in i["pages"]}
    pages = {u: files[u] for u in page_urls}
    arts = {r["url"]: files[r["url"]] for r in t["articles"]}
    allp, alla = "\n".join(pages.values()), "\n".join(arts.values())
    # page labels in every printed form, letter pages, the repeated pageLink id
    for form in [r"第\d\d版：", r"(?<!第)\d\d版：", r"[AB]?\d\d： ", r"第[AB]\d\d版：<strong>", r"版: ?\S",
                 r"第[AB]\d\d版"]:
        assert re.search(form, allp), form
    assert any(p["page_no"][0] in "AB" for i in t["issues"].values() for p in i["pages"])
    for day in t["issues"].values():
        text = pages[day["pages"][0]["url"]]
        assert len(re.findall(r"id=\"?pageLink", text)) == len(day["pages"])
    # list and hotspots: both, either alone, one article twice, and full-page ads
    kinds = set()
    for text in pages.values():
        items, areas = _page_links(text)
        kinds.add("both" if items and areas else "list" if items else "map" if areas else "none")
        if len(items) != len(set(items)):
            kinds.add("twice")
        if set(areas) - set(items) and items:
            kinds.add("hotspot_only")
    assert kinds >= {"both", "list", "map", "none", "twice", "hotspot_only"}
    assert '<map name="PagePicMap">' in allp.replace("MAP NAME=PagePicMap", 'map name="PagePicMap"') \
        or 'NAME="PagePicMap"' in allp
    assert 'shape="polygon"' in allp or "shape=polygon" in allp
    for s in ("PDF下载", "版面下载", "pdf.gif", "上一版", "下一版"):
        assert s in allp, s
    if pc:
        assert re.search(r'src="[^"]+\.jpg\.2"', allp) and re.search(r'src="[^"]+\.jpg"', allp)
    else:
        assert "<founder-type>2</founder-type>" in allp and re.search(r"<TD[^>]*>[^<]*\n<TR>", allp)
        assert re.search(r"href=[^\"'\s>]+>", allp)  # unquoted attributes
    # article pages
    # most bodies in <founder-content>, some without it (the fallbacks: the enpcontent comments, #ozoom)
    assert sum("<founder-content>" in a for a in arts.values()) > 0.8 * len(arts)
    assert any("<founder-content>" not in a for a in arts.values())
    assert all("<founder-content>" in a or "<!--enpcontent-->" in a or 'id="ozoom"' in a for a in arts.values())
    assert any("enpproperty" not in a for a in arts.values())
    assert re.search(r"<author></author>", alla) and re.search(r"<title>[^<]+</title><[^/]", alla)
    assert re.search(r"enpproperty <(?!articleid)", alla)  # field order varies
    assert re.search(r"<introtitle>[^<]+</introtitle>", alla) and "&amp;" in alla
    assert any("<subtitle>" not in a and "enpproperty" in a for a in arts.values())
    assert re.search(r"<script", alla, re.I)
    for s in ("<!--<npm:article-content>-->", "&nbsp;&nbsp;", "\u3000\u3000", "本报记者",
              "安徽经济网首页", "数字版首页", "往期回顾", "版面下载", "安徽主流经济门户",
              "data-original-title=", ' title="', ' alt="', "（2023年08月03日  "):
        assert s in alla, s
    assert re.search(r"<[pP]>(&nbsp;|\u3000\u3000)?</[pP]>|\n&nbsp;<BR>", alla)  # empty paragraphs
    assert re.search(r"&nbsp;</[pP]>", alla) or re.search(r"&nbsp;<BR>", alla)
    if pc:
        assert "<P>" in alla or "<p>" in alla
    else:
        assert re.search(r"[^>]<br>\n", alla) and "<TD" in alla
    captions = [i for r in t["articles"] for i in r["images"]]
    assert any(i["caption"] == "" for i in captions)
    assert any(i["caption"].startswith(("图为", "▲")) for i in captions)
    assert any(i["caption"].endswith(("摄", "（资料图）")) for i in captions)
    in_attr = in_next = 0
    for r in t["articles"]:
        for i in r["images"]:
            cap = re.escape(i["caption"].replace("&", "&amp;"))
            if not cap:
                continue
            text = arts[r["url"]]
            in_attr += bool(re.search(f'="{cap}"', text))
            in_next += bool(re.search(f"(>|\u3000|&nbsp;|\n){cap}(<|\n)", text))
    assert in_attr and in_next  # caption in an attribute, or in the following short paragraph
    assert re.search(r"<table[^>]*><tbody><tr><td><img", alla, re.I) or "<TABLE align=center><TR><TD><IMG" in alla
    assert any(r["subtitle"] for r in t["articles"]) and any(r["intro_title"] for r in t["articles"])
    for dash in ("——", "--"):
        assert re.search(f">{dash}[^<]", alla), dash


def test_ground_truth_is_consistent(long):
    t, site = truth(long), long / "site"
    rows = t["articles"]
    assert rows and all((site / r["url"]).is_file() for r in rows)
    for day, issue in t["issues"].items():
        for p in issue["pages"]:
            for key in ("url", "pdf_url", "image_url"):
                assert (site / p[key]).is_file()
    by_url = {r["url"]: r for r in rows}
    assert len(by_url) == len(rows)
    for day, issue in t["issues"].items():
        for k, p in enumerate(issue["pages"]):
            for pos, url in enumerate(p["articles"]):
                r = by_url[url]
                assert (r["issue_date"], r["page_index"], r["position"], r["page_no"]) == (day, k, pos, p["page_no"])
    order = [(r["issue_date"], r["page_index"], r["position"]) for r in rows]
    assert order == sorted(order)
    for r in rows:
        for key in ("column", "intro_title", "subtitle", "author", "page_name"):
            assert r[key] is None or (r[key] and r[key] == normalize(r[key])), (key, r[key])
        assert r["title"] == normalize(r["title"]) and r["body"]
        assert (r["column"] is not None) == r["title"].startswith("【")
        assert not (r["subtitle"] or "").startswith(("—", "-"))
        for par in r["body"].split("\n"):
            assert par and par == par.strip(" \u3000\xa0")
            assert par not in ("安徽经济网首页", "数字版首页", "安徽主流经济门户", "版面下载")  # chrome-naming lines are sentences
    dups = [r for r in rows if r["duplicate_of_url"]]
    assert any(by_url[r["duplicate_of_url"]]["body"] == r["body"] for r in dups)  # exact reprint
    assert any(by_url[r["duplicate_of_url"]]["body"] != r["body"] for r in dups)  # near-duplicate
    for r in dups:
        src = by_url[r["duplicate_of_url"]]
        assert (src["issue_date"], src["page_index"], src["position"]) < (r["issue_date"], r["page_index"], r["position"])
    stock = [r for r in rows if r["body"].startswith(STOCK_OPENING)]
    assert len(stock) == 2 and stock[0]["author"] == stock[1]["author"] is not None
    assert stock[0]["duplicate_of_url"] is None and stock[1]["duplicate_of_url"] is None


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="安徽经济发展报", min_size=0, max_size=120), max_size=25),
       st.lists(st.integers(0, 24), max_size=10))
def test_reference_dedupe_equals_brute_force(bodies, copies):
    for c in copies:  # add edited copies so that near-duplicates occur
        if bodies:
            src = bodies[c % len(bodies)]
            bodies.append(src[: len(src) // 2] + "济" + src[len(src) // 2 + 1:])
    sets = [shingles(b) for b in bodies]
    brute = [next((j for j in range(i) if bodies[j] == b or (
        len(b) >= 50 and len(bodies[j]) >= 50 and is_near(sets[i], sets[j]))), None)
        for i, b in enumerate(bodies)]
    assert duplicate_of(bodies) == brute


# --- the server -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def rmrb(tmp_path_factory):
    return _build(tmp_path_factory, "pc-rmrb", SHORT)


def get(url: str, timeout: float = 5) -> tuple[int, dict, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_server_serves_under_its_root_only(rmrb):
    t = truth(rmrb)
    page = t["issues"]["2023-08-03"]["pages"][0]
    with serve(rmrb / "site", "/ahjjb/") as srv:
        assert srv.base_url.startswith("http://127.0.0.1:") and srv.base_url.endswith("/ahjjb/")
        status, headers, body = get(srv.base_url + page["url"])
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert get(srv.base_url + page["pdf_url"])[1]["Content-Type"] == "application/pdf"
        assert get(srv.base_url + page["image_url"])[1]["Content-Type"] == "image/jpeg"
        period = srv.base_url + "pc/layout/202308/period.xml"
        assert get(period)[1]["Content-Type"] == "application/xml"
        host = srv.base_url[: -len("ahjjb/")]
        assert get(host + page["url"])[0] == 404
        assert get(host + "other/" + page["url"])[0] == 404
        assert get(srv.base_url + "pc/layout/202308/03/node_99.html")[0] == 404
        assert get(srv.base_url + "../ahjjb/" + page["url"])[0] == 404
        status, _, robots = get(host + "robots.txt")
        assert status == 200 and b"Allow: /" in robots
        assert srv.request_count(r"node_01\.html") == 4 and len(srv.requests) == 9


def test_gb2312_pages_declare_their_charset_only_in_meta(tmp_path_factory):
    out = _build(tmp_path_factory, "html-gb2312", SHORT)
    t = truth(out)
    with serve(out / "site") as srv:
        for url in (t["articles"][0]["url"], t["issues"]["2023-08-03"]["pages"][0]["url"], "paperindex.htm"):
            status, headers, body = get(srv.base_url + url)
            assert status == 200 and headers["Content-Type"] == "text/html"
            text = body.decode("gb2312")
            assert "charset=gb2312" in text
            with pytest.raises(UnicodeDecodeError):
                body.decode("utf-8")
        body = get(srv.base_url + t["articles"][0]["url"])[2].decode("gb2312")
        assert t["articles"][0]["title"] in normalize(body)


def test_fault_kinds(rmrb):
    t = truth(rmrb)
    art = t["articles"][3]["url"]
    page = t["issues"]["2023-08-03"]["pages"][1]["url"]
    faults = [
        Fault("status", r"content_.*", times=2, status=503),
        Fault("reset", r"node_02\.html", times=1),
        Fault("slow", r"node_03\.html", seconds=0.3),
        Fault("truncate", r"node_04\.html", times=1),
        Fault("truncate", r"node_04\.html", times=1, with_length=False),
        Fault("not_found", r"node_05\.html"),
        Fault("redirect_offhost", r"node_06\.html"),
        Fault("wrong_type", r"202308/04/node_01"),
        Fault("oversize", r"202308/07/node_01", size_mb=1),
        Fault("charset_lie", r"202308/08/node_01"),
        Fault("empty", r"202308/09/node_01"),
    ]
    with serve(rmrb / "site", faults=faults) as srv:
        b = srv.base_url
        assert [get(b + art)[0] for _ in range(3)] == [503, 503, 200]
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            get(b + page)
        assert get(b + page)[0] == 200  # once only
        t0 = time.monotonic()
        assert get(b + page.replace("node_02", "node_03"))[0] == 200
        assert time.monotonic() - t0 >= 0.3
        node4 = b + page.replace("node_02", "node_04")
        with pytest.raises(http.client.IncompleteRead):
            get(node4)
        status, headers, body = get(node4)
        full = (rmrb / "site" / page.replace("node_02", "node_04")).read_bytes()
        assert status == 200 and "Content-Length" not in headers and body == full[: len(full) // 2]
        assert get(node4)[2] == full
        assert get(b + page.replace("node_02", "node_05"))[0] == 404
        status, headers, _ = get(b + page.replace("node_02", "node_06"))
        assert status == 302 and headers["Location"].startswith("http://example.invalid/")
        status, headers, body = get(b + "pc/layout/202308/04/node_01.html")
        assert headers["Content-Type"] == "application/pdf" and body.startswith(b"%PDF")
        assert len(get(b + "pc/layout/202308/07/node_01.html")[2]) >= 1024 * 1024
        status, headers, body = get(b + "pc/layout/202308/08/node_01.html")
        assert headers["Content-Type"] == "text/html" and b"charset=gb2312" in body
        assert "要闻" in body.decode("utf-8")
        status, headers, body = get(b + "pc/layout/202308/09/node_01.html")
        assert status == 200 and body == b""


def test_delay_and_faults_file_for_a_subprocess(rmrb, tmp_path):
    with serve(rmrb / "site", delay=0.2) as srv:
        t0 = time.monotonic()
        get(srv.base_url + "pc/layout/index.html")
        assert time.monotonic() - t0 >= 0.2
    path = tmp_path / "faults.json"
    dump_faults([Fault("status", r"index\.html", times=1, status=502)], path)
    assert load_faults(path) == [Fault("status", r"index\.html", times=1, status=502)]
    proc = subprocess.Popen([sys.executable, "-m", "epaper.replica", "serve", str(rmrb), "--faults", str(path)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:") and base.endswith("/ahjjb/")
        assert get(base + "pc/layout/index.html")[0] == 502
        with urllib.request.urlopen(base + "pc/layout/index.html", timeout=5) as resp:
            assert b"refresh" in resp.read()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0

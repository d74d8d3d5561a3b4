"""`epaper probe URL`: the verdict and exit status on every replica template, on drifting
replicas, on a portal whose article links are not recognised, and on sites that are not a
Founder e-paper; within its request budget, writing nothing."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import tomllib

import pytest

from epaper.crawler.spiders.probe import ProbedArticle, ProbedPage, ProbeFindings
from epaper.config import load_config
from epaper.storage.parquet import SOURCE_ID
from epaper.probe import TABLE_END, TABLE_START, judge, paper_id, paper_name
from epaper.replica.build import PAPER, TEMPLATES
from epaper.replica.drift import drift_site
from epaper.replica.server import serve
from tests.conftest import CLEAN_CWD, FAST, SHORT_SPAN, run_epaper, slow_but

SPAN = (dt.date(2023, 8, 1), dt.date(2023, 8, 9))
SAMPLE = 6


def probe(url: str, *extra: str):
    result = run_epaper("probe", url, "--json", *FAST, *extra, timeout=120)
    return result, (json.loads(result.stdout) if result.stdout.strip() else None)


@pytest.mark.parametrize("template", slow_but(sorted(TEMPLATES), "pc-rmrb", "html-table", "html-snb"))
def test_every_replica_template_would_be_archived(portal, template):
    server = portal(template, *SPAN)
    before = set(CLEAN_CWD.iterdir())
    result, found = probe(server.base_url)
    assert result.returncode == 0, (found or {}).get("problems") or result.stderr
    assert found["generation"] == TEMPLATES[template] and found["problems"] == []
    latest = max(server.truth["issues"])
    issue = server.truth["issues"][latest]
    assert found["latest"]["date"] == latest and found["latest"]["pages"] == len(issue["pages"])
    assert found["latest"]["articles"] == sum(len(p["articles"]) for p in issue["pages"])
    if any((server.truth_path.parent / "site").rglob("*.xml")):
        assert found["calendar"]["last"] == latest and found["calendar"]["issues"] == sum(
            1 for d in server.truth["issues"] if d[:7] == latest[:7])
    else:  # a site without calendars (html-snb): said, not a problem
        assert found["calendar"]["issues"] == 0 and any("no calendar" in w for w in found["warnings"])
    # every field of the sample as the truth has it, with where it came from
    truth = {server.base_url + a["url"]: a for a in server.truth["articles"]}
    assert len(found["sample"]) == SAMPLE
    for article in found["sample"]:
        want = truth[article["url"]]
        for name in ("title", "intro_title", "subtitle", "author", "body"):
            assert article["fields"][name] == want[name], (article["url"], name)
            assert (article["sources"][name] is None) == (want[name] is None)
    # the budget: robots.txt, the latest-issue page(s), the calendar, the pages, the sample
    # robots.txt, the latest-issue pages, the calendar under each known name until one answers
    # (two on the html generation), the pages, the sample
    assert found["requests"] == server.request_count() <= 1 + 2 + 2 + len(issue["pages"]) + SAMPLE
    assert set(CLEAN_CWD.iterdir()) == before  # nothing written
    # a [[portal]] table to paste: the paper's root, its generation, its name as the site gives it
    (paper,) = tomllib.loads(found["portal_table"])["portal"]
    assert paper == {"id": "ahjjb", "name": PAPER, "base_url": server.base_url, "layout": TEMPLATES[template]}


def test_the_text_report(portal):
    server = portal("html-kjrb", *SPAN)
    result = run_epaper("probe", server.base_url, *FAST, timeout=120)
    assert result.returncode == 0 and result.stderr == ""
    out = result.stdout
    assert "generation: html" in out and "articles content_ID.htm" in out
    assert "calendar: 7 issues from 2023-08-01 to 2023-08-09" in out
    assert "warning: page 01 links" in out and "twice, with a display-mode query" in out  # ?div= twins
    assert "     title        [heading] " in out and "     body         [founder-content] " in out
    lines = out.splitlines()
    verdict = lines.index(f"verdict: it would archive this portal (exit status 0); {server.request_count()} requests")
    # then, after a blank line, the [[portal]] table to paste, between its two comment lines
    assert lines[verdict + 1:verdict + 3] == ["", TABLE_START] and lines[-1] == TABLE_END
    assert "\n".join(lines[verdict + 2:]) == "\n".join([TABLE_START, "[[portal]]", 'id = "ahjjb"',
                                                          f'name = "{PAPER}"', f'base_url = "{server.base_url}"',
                                                          'layout = "html"', TABLE_END])


@pytest.fixture
def drifted(replica_sites, tmp_path):
    servers = []

    def start(template: str, kind: str):
        out = tmp_path / f"{template}-{kind}"
        shutil.copytree(replica_sites(template, *SHORT_SPAN), out)
        drift_site(out, kind, dt.date(2023, 8, 7))  # the latest issue is 2023-08-09
        servers.append(serve(out / "site"))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


@pytest.mark.parametrize(("template", "kind", "status", "says"), [
    ("pc-rmrb", "author", 0, "author is empty on every sampled article"),
    ("html-table", "images", 0, "images is empty on every sampled article"),
    # article links nobody recognises: on pc nothing else shows them, on html the image map does
    ("pc-con", "links", 1, "no article found in the latest issue"),
    ("html-nbs", "links", 1, "no recognisable article link, although its image map has"),
])
def test_a_drifted_portal(drifted, template, kind, status, says):
    result, found = probe(drifted(template, kind).base_url)
    assert result.returncode == status
    assert any(says in line for line in found["warnings"] + found["problems"]), found


def test_not_a_founder_site(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html><body><h1>A blog</h1><a href='post.html'>post</a></body></html>")
    with serve(site, "/") as server:
        result, found = probe(server.base_url)
        text = run_epaper("probe", server.base_url, *FAST, timeout=60)
    assert result.returncode == 2 and found["problems"][0].startswith(f"no Founder e-paper at {server.base_url}")
    # robots.txt, two latest-issue pages, two months' calendars: pc's one name, html's two
    assert found["requests"] == 1 + 2 + 2 * (1 + 2)
    assert text.returncode == 2 and text.stdout.splitlines()[-1].startswith("verdict: no Founder e-paper there")


def test_a_site_that_answers_every_path_with_its_home_page(tmp_path):
    from epaper.replica.faults import Fault

    site = tmp_path / "site"
    site.mkdir()
    with serve(site, "/", faults=[Fault("maintenance", r"^/(?!robots)")]) as server:
        result, found = probe(server.base_url)
    assert result.returncode == 2, found


def test_nothing_listening_is_no_founder_site():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result, found = probe(f"http://127.0.0.1:{port}/", "-s", "RETRY_TIMES=0")
    assert result.returncode == 2 and "connection refused" in found["problems"][0]


def test_bad_arguments_are_usage_errors():
    result = run_epaper("probe", "ftp://example.invalid/")
    assert result.returncode == 2 and result.stderr.startswith("epaper: base URL must be an http(s) URL")
    assert run_epaper("probe", "http://127.0.0.1:9/", "--sample", "0").returncode == 2


def findings(sources: list[str | None]) -> tuple[ProbeFindings, list[dict]]:
    f = ProbeFindings("http://127.0.0.1/", generation="pc", calendar=[dt.date(2023, 8, 9)],
                      pages=[ProbedPage("http://127.0.0.1/p1", "01", articles=["a"])])
    sample = [{"url": f"http://127.0.0.1/c{i}.html", "page_no": "01", "error": None, "problems": [],
               "fields": {"title": "t", "author": "a", "intro_title": "i", "subtitle": "s",
                          "body": "b", "images": [{"url": "u", "caption": "c"}]},
               "sources": {"body": s}} for i, s in enumerate(sources)]
    f.sample = [ProbedArticle(a["url"], "01") for a in sample]
    return f, sample


def test_bodies_only_from_the_fallback_look_wrong():
    assert judge(*findings(["fallback"] * 3))[0] == 1
    status, problems, warnings = judge(*findings(["fallback", "founder-content"]))
    assert status == 0 and warnings == ["some sampled bodies come from the largest-block fallback"]
    assert judge(*findings(["founder-content"] * 3)) == (0, [], [])


@pytest.mark.parametrize("url, root", [
    ("http://h/ahjjb/pc/layout/202308/03/node_01.html/", "http://h/ahjjb/"),
    ("http://h/html/2023-08/03/content_5.htm/", "http://h/"),
    ("http://h/e/paperindex.htm/", "http://h/e/"),
    ("http://h/blog/", None),
])
def test_a_page_url_given_for_the_root_gets_the_root_as_a_hint(url, root):
    from epaper.crawler.spiders.probe import ProbeFindings
    from epaper.probe import judge

    status, problems, _ = judge(ProbeFindings(url, errors=["nothing found"]), [])
    assert status == 2
    assert (f"give its root: epaper probe {root})" in problems[0]) if root else "give its root" not in problems[0]


def test_the_table_to_paste_archives_the_paper(portal, tmp_path):
    """The printed block, pasted into epaper.toml, is a config that archives the paper."""
    from epaper.storage.load import load_articles

    server = portal("pc-hbrb", *SPAN)
    result = run_epaper("probe", server.base_url, *FAST, timeout=120)
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    block = "\n".join(lines[lines.index(TABLE_START):lines.index(TABLE_END) + 1])
    assert tomllib.loads(block)["portal"][0]["base_url"] == server.base_url
    config = tmp_path / "epaper.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n\n{block}\n', encoding="utf-8")
    loaded = load_config(config, env={})
    assert (loaded.portal.id, loaded.portal.name, loaded.portal.layout) == ("ahjjb", PAPER, "pc")
    latest = max(server.truth["issues"])
    crawl = run_epaper("crawl", "--date", latest, "--config", str(config), *FAST, timeout=180)
    assert crawl.returncode == 0, crawl.stderr
    rows = load_articles(tmp_path / "data")
    issue = server.truth["issues"][latest]
    assert len(rows) == sum(len(p["articles"]) for p in issue["pages"]) > 0


def test_the_table_beside_the_papers_of_a_config(portal, tmp_path):
    """Probed with a config of several papers: the probe runs (with the shared [crawl]
    politeness), and the table's id is one the config does not hold yet."""
    server = portal("pc-rmrb", *SPAN)
    config = tmp_path / "epaper.toml"
    config.write_text('[crawl]\ndownload_delay = 0\nautothrottle = false\n'
                      '[[portal]]\nid = "ahjjb"\nname = "Another"\nbase_url = "http://127.0.0.1:9/ahjjb/"\n'
                      '[[portal]]\nid = "x"\nname = "X"\nbase_url = "http://127.0.0.1:9/x/"\n', encoding="utf-8")
    result, found = probe(server.base_url, "--config", str(config))
    assert result.returncode == 0, result.stderr
    (paper,) = tomllib.loads(found["portal_table"])["portal"]
    assert paper["id"] == "ahjjb-2"
    merged = config.read_text(encoding="utf-8") + found["portal_table"] + "\n"
    config.write_text(merged, encoding="utf-8")
    assert load_config(config, env={}).ids == ("ahjjb", "x", "ahjjb-2")


@pytest.mark.slow  # make test-all
def test_no_table_unless_it_would_archive(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html><head><title>人民日报</title></head><body>a blog</body></html>")
    with serve(site, "/") as server:
        result, found = probe(server.base_url)
        text = run_epaper("probe", server.base_url, *FAST, timeout=60)
    assert result.returncode == 2 and found["portal_table"] is None
    assert "[[portal]]" not in text.stdout


@pytest.mark.parametrize("url, expected", [
    ("http://127.0.0.1:8000/ahjjb/", "ahjjb"),
    ("https://szb.ahnews.com.cn/ahnc/", "ahnc"),
    ("http://paper.people.com.cn/rmrb/html/", "rmrb"),
    ("https://epaper.example.cn/", "example"),
    ("http://digitalpaper.stdaily.com/", "stdaily"),
    ("http://www.ZGJJJC.cn/E-Paper/", "e-paper"),
    ("http://127.0.0.1:8000/", "127-0-0-1-8000"),
    ("http://[::1]:8000/epaper/", "1-8000"),
    ("http://h.cn/安徽/", "h"),
    ("http://cn/", "cn"),
])
def test_paper_id_from_the_url(url, expected):
    pid = paper_id(url)
    assert pid == expected and SOURCE_ID.fullmatch(pid)


def test_paper_id_avoids_the_ids_taken():
    assert paper_id("http://h/ahjjb/", ("ahjjb", "ahjjb-2")) == "ahjjb-3"


@pytest.mark.parametrize("title, name", [
    ("安徽经济报-数字报", "安徽经济报"),
    ("科技日报--数字报", "科技日报"),
    ("人民日报-人民网", "人民日报"),
    ("山西经济网数字报平台-山西经济日报", "山西经济日报"),
    ("安徽经济报 数字版", "安徽经济报"),
    ("  中国纪检监察报 ", "中国纪检监察报"),
    ("安徽日报农村版", "安徽日报农村版"),
    ("数字报", None),
    ("2023-08-09", None),
    ("", None),
    ("China Daily | E-paper", "China Daily"),
    ("&#23433;&#24509;&#26085;&#25253;", "安徽日报"),
    ("安徽\x1b]0;x\x07日报", "安徽]0;x日报"),
])
def test_paper_name_from_a_title(title, name):
    assert paper_name(title) == name

"""Extraction health: each archived date's summary, the judgement against the archive's own
recent history, and drifting replicas (a template changed mid-span) flagged on their first
affected date, with the field named, and not before."""
from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest
import pytest_twisted

from epaper.crawler import founder, founder_article
from epaper.pipelines.health import Thresholds, chance_at_most, judge, recent_history, summarize
from epaper.replica.drift import drift_site
from epaper.replica.server import serve
from epaper.runlog import read_runs
from epaper.state import ARCHIVED, SUSPECT, date_states
from epaper.storage.parquet import snapshot_info
from tests.conftest import FAST, SHORT_SPAN, crawl_in_process, run_epaper, slow_but

SHANGHAI = __import__("zoneinfo").ZoneInfo("Asia/Shanghai")
DRIFT_FROM = dt.date(2023, 8, 7)  # a Monday: 7 issues of SHORT_SPAN before it, 3 from it
THIRD = dt.date(2023, 8, 9)  # the drift's third issue: the first with evidence enough


def names_the_start(line: str) -> bool:
    """The line names the drift's first date, or (a history read without dates) its 3 issues."""
    return f"for 3 issues since {DRIFT_FROM}" in line or "for the last 3 issues" in line


# ---------------------------------------------------------------------------- plain functions

def usual(i: int = 0, **changes) -> dict:
    """A summary like the replica's: ~50 articles on 7 pages, fields filled as real papers do,
    varying a little from issue to issue as real ones do (i picks the variation)."""
    wobble = (i * 7919) % 11 - 5  # -5..5
    base = {"articles": 50 + wobble, "pages": 7, "articles_per_page": round((50 + wobble) / 7, 3),
            "fields": {"intro_title": 0.3 + wobble / 100, "subtitle": 0.2, "author": 0.6 - wobble / 100,
                       "images": 0.4 + wobble / 100, "captions": 0.3},
            "body_chars": {"p10": 300, "p50": 800 + 20 * wobble, "p90": 1400},
            "sources": {"body": {"founder-content": 50 + wobble}}}
    for key, value in changes.items():
        if key in base["fields"]:
            base["fields"] = {**base["fields"], key: value}
        else:
            base[key] = value
    return base


START = dt.date(2023, 3, 1)


def days(n: int, first: dt.date = START) -> list[dt.date]:
    return [first + dt.timedelta(k) for k in range(n)]


def judge_run(before: list[dict], run: list[dict], thresholds: Thresholds = Thresholds()) -> list[list[str]]:
    """Judge each issue of `before` + `run` in turn, as the snapshot pipeline does (the history
    built by `recent_history` from the dates before it); the verdicts of the run's issues."""
    seq = before + run
    dated = list(zip(days(len(seq)), seq))
    verdicts = []
    for k, (day, summary) in enumerate(dated):
        recent = recent_history(reversed(dated[max(0, k - thresholds.history):k]))
        verdict = judge(summary, recent, thresholds, day=day)
        if k >= len(before):
            verdicts.append(verdict)
        else:
            assert verdict == [], (day, verdict)  # the usual issues are never flagged
    return verdicts


HISTORY = [usual(i) for i in range(30)]
CHANGES = {  # one sharp change, and the start of the line that names it
    "author gone": ({"author": 0.0}, "author in 0% of articles"),
    "images gone": ({"images": 0.0}, "images in 0% of articles"),
    "articles per page halved": ({"articles": 20, "articles_per_page": 2.857}, "articles per page 2.9"),
    "no article found": ({"articles": 0, "articles_per_page": 0.0}, "articles per page 0.0"),
    "bodies from the fallback": ({"sources": {"body": {"fallback": 48, "founder-content": 2}}},
                                 "body from the largest-block fallback in 96% of articles"),
    "bodies cut short": ({"body_chars": {"p10": 20, "p50": 60, "p90": 90}}, "body length: median 60 characters"),
}


@pytest.mark.parametrize(("change", "line"), CHANGES.values(), ids=CHANGES.keys())
def test_a_change_that_persists_is_named_on_its_third_issue_with_its_first_date(change, line):
    run = [usual(30 + k, **change) for k in range(5)]
    verdicts = judge_run(HISTORY, run)
    assert verdicts[0] == [] and verdicts[1] == []  # one or two odd issues are not enough
    for verdict, n in zip(verdicts[2:], (3, 4, 5)):
        hit = [v for v in verdict if v.startswith(line)]
        assert hit, verdict
        assert f"for {n} issues since {days(31)[30]}" in hit[0], hit  # the run's first date, each time


@pytest.mark.parametrize(("change", "line"), CHANGES.values(), ids=CHANGES.keys())
def test_one_odd_issue_among_usual_ones_is_never_suspect(change, line):
    # an odd issue every third issue, a year long: never three in a row, never flagged
    seq = [usual(i, **change) if i % 3 == 0 and i > 30 else usual(i) for i in range(240)]
    assert all(v == [] for v in judge_run(HISTORY, seq[30:]))


def test_the_reported_false_alarm_an_8_page_issue_is_not_suspect():
    # "articles per page 1.8 (median of the last 30 issues: 3.5)": one 8-page issue of 14 articles
    history = [usual(i, articles=25 + i % 5, pages=7, articles_per_page=round((25 + i % 5) / 7, 3))
               for i in range(30)]
    odd = usual(30, articles=14, pages=8, articles_per_page=1.75)
    assert judge_run(history, [odd, history[0], odd]) == [[], [], []]


def test_images_vanishing_for_nine_issues_are_flagged_from_the_third_on():
    """The issue's miss: 9 issues of ~20 articles each without an image, where a quarter carry one;
    each alone is possible by chance (0.75^20 = 0.3%), the run is not."""
    history = [usual(i, articles=20, images=0.25 + ((i % 3) - 1) / 20) for i in range(30)]
    run = [usual(30 + k, articles=20, images=0.0) for k in range(9)]
    verdicts = judge_run(history, run)
    assert verdicts[:2] == [[], []]
    assert all(any(v.startswith("images in 0% of articles") and f"since {days(31)[30]}" in v for v in verdict)
               for verdict in verdicts[2:]), verdicts


def test_a_drift_that_ended_leaves_the_next_issue_unflagged():
    run = [usual(30 + k, author=0.0) for k in range(4)] + [usual(34)]
    assert judge_run(HISTORY, run)[-1] == []


def test_no_verdict_without_enough_history_and_footers_without_dates():
    run = [usual(30 + k, author=0.0) for k in range(3)]
    assert judge_run([usual(i) for i in range(2)], run) == [[], [], []]  # 5 issues before a run: HEALTH_MIN_HISTORY
    # history read from footers without dates (before recent_history): the run is named by its length
    recent = list(reversed(HISTORY + run[:2]))
    [line] = judge(run[2], recent)
    assert line.startswith("author in 0% of articles for the last 3 issues (median of the 28 issues before: 60%)"), line
    assert recent_history([(START, usual()), (START, None)]) == [{**usual(), "date": "2023-03-01"}]


def test_thresholds_are_checked():
    with pytest.raises(ValueError):
        Thresholds(issue_evidence=1.0).checked()
    with pytest.raises(ValueError):
        Thresholds(evidence=0).checked()
    # a field a little lower, however long, is not a sharp change
    assert all(v == [] for v in judge_run(HISTORY, [usual(30 + k, author=0.45) for k in range(20)]))
    assert chance_at_most(0, 4, 0.6) == pytest.approx(0.4 ** 4)


def test_summary_counts_fields_lengths_and_sources():
    rows = [{"intro_title": "引", "subtitle": None, "author": "本报记者 张三", "body": "x" * n,
             "images": [{"url": "u", "caption": "图为" if n == 10 else ""}]} for n in (10, 20, 30, 40)]
    sources = [{"title": "heading", "author": "comment", "body": "founder-content"}] * 3 + [{"body": "fallback"}]
    s = summarize(rows, sources, pages=2)
    assert s["articles_per_page"] == 2.0
    assert s["fields"] == {"intro_title": 1.0, "subtitle": 0.0, "author": 1.0, "images": 1.0, "captions": 0.25}
    assert s["body_chars"] == {"p10": 10, "p50": 20, "p90": 40}
    assert s["sources"]["body"] == {"fallback": 1, "founder-content": 3}
    assert s["sources"]["author"] == {"comment": 3, "none": 1}


@pytest.mark.parametrize("template", slow_but(["pc-rmrb", "pc-hbrb", "html-table"], "pc-hbrb", "html-table"))
def test_the_parser_says_where_each_field_came_from(replica_sites, template):
    out = replica_sites(template, dt.date(2023, 8, 3), dt.date(2023, 8, 3))
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    seen: dict[str, set] = {}
    for row in truth["articles"]:
        text = founder.decode_html((out / "site" / row["url"]).read_bytes())[0]
        art = founder_article.parse_article(text, "http://127.0.0.1/ahjjb/" + row["url"])
        assert (art.sources["author"] is None) == (art.author is None)
        assert (art.sources["images"] is None) == (not art.images)
        for name, source in art.sources.items():
            seen.setdefault(name, set()).add(source)
    assert seen["title"] <= {"heading", "comment"} and "heading" in seen["title"]
    assert seen["body"] <= {"founder-content", "enpcontent", "container", "fallback"}
    assert seen["author"] <= {"comment", "marked", "fallback", None} and "comment" in seen["author"]


# ---------------------------------------------------------------------------- drifting replicas

@pytest.fixture
def drifting(replica_sites, tmp_path):
    servers = []

    def start(template: str, kind: str, since: dt.date = DRIFT_FROM):
        out = tmp_path / f"replica-{kind}"
        shutil.copytree(replica_sites(template, *SHORT_SPAN), out)
        assert drift_site(out, kind, since) > 0
        server = serve(out / "site")
        servers.append(server)
        server.truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
        return server

    yield start
    for server in servers:
        server.stop()


def suspect_dates(results) -> dict[dt.date, list[str]]:
    return {d: r.suspect for d, r in results.items() if r.suspect}


@pytest.mark.parametrize(("template", "kind", "field"), slow_but([
    ("pc-rmrb", "author", "author"),
    ("html-table", "author", "author"),
    ("pc-detail", "images", "images"),
    ("html-gb2312", "body", "body length"),
    ("pc-rmrb", "links", "articles per page"),  # pc articles live outside the page's folder: no sign of them
], ("pc-detail", "images", "images"), ("html-gb2312", "body", "body length")))
@pytest_twisted.ensureDeferred
async def test_a_drift_is_flagged_from_its_first_date_and_not_before(drifting, tmp_path, template, kind, field):
    server = drifting(template, kind)
    data = tmp_path / "data"
    ledger = await crawl_in_process(data, server.base_url, start=SHORT_SPAN[0], end=SHORT_SPAN[1])
    issues = sorted(dt.date.fromisoformat(d) for d in server.truth["issues"])
    assert all(ledger.results[d].status == "archived" for d in issues)
    flagged = suspect_dates(ledger.results)
    assert sorted(flagged) == [THIRD]  # one or two issues are not enough; nothing before the drift
    first = flagged[THIRD]
    assert any(change.startswith(field) and names_the_start(change) for change in first), first
    # recorded in the snapshot's footer, and the state every command reads
    assert snapshot_info(data, "ahjjb", THIRD).suspect == first
    assert snapshot_info(data, "ahjjb", THIRD).health["articles"] == ledger.results[THIRD].articles
    states = {s.date: s.state for s in date_states(data, "ahjjb", tz=SHANGHAI) if s.has_snapshot}
    assert {d for d, st in states.items() if st == SUSPECT} == set(flagged)
    assert all(states[d] == ARCHIVED for d in issues if d < DRIFT_FROM)


@pytest_twisted.ensureDeferred
async def test_renamed_links_in_the_issue_folder_fail_the_date_instead(drifting, tmp_path):
    """html articles live in the page's folder: a page whose links are no longer recognised
    still shows them (image map, links into the folder), so the date fails with that reason."""
    server = drifting("html-table", "links")
    ledger = await crawl_in_process(tmp_path / "data", server.base_url, start=SHORT_SPAN[0], end=SHORT_SPAN[1])
    issues = sorted(dt.date.fromisoformat(d) for d in server.truth["issues"])
    assert [d for d in issues if ledger.results[d].status != "archived"] == [d for d in issues if d >= DRIFT_FROM]
    assert all("no recognisable article link" in f["reason"] for f in ledger.results[DRIFT_FROM].failures)


def test_the_crawl_exits_3_naming_the_suspect_date_and_logs_health(drifting, tmp_path):
    server = drifting("pc-rmrb", "author")
    data = tmp_path / "data"
    result = run_epaper("crawl", "--from", SHORT_SPAN[0].isoformat(), "--to", SHORT_SPAN[1].isoformat(),
                        "--base-url", server.base_url, "--data", str(data), *FAST)
    assert result.returncode == 3, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ahjjb {THIRD} suspect: author in 0% of articles"), lines
    assert names_the_start(lines[0]), lines
    assert f"ahjjb {THIRD} archived:" in result.stdout  # archived all the same
    [run] = read_runs(data)
    assert run["exit_status"] == 3
    outcome = run["outcomes"][THIRD.isoformat()]
    assert outcome["suspect"] == lines[0].split(" suspect: ")[1].split("; ")
    before = run["outcomes"][SHORT_SPAN[0].isoformat()]
    assert "suspect" not in before and before["health"]["fields"]["author"] > 0.3
    assert set(before["health"]["sources"]["author"]) <= {"comment", "marked", "fallback", "none"}
    status = run_epaper("status", "--data", str(data), "--json")
    rows = {r["date"]: r for r in json.loads(status.stdout)}
    assert {r["source"] for r in rows.values()} == {"ahjjb"}
    assert rows[THIRD.isoformat()]["state"] == "suspect" and rows[THIRD.isoformat()]["complete"]
    assert rows[THIRD.isoformat()]["suspect"] == outcome["suspect"]
    assert rows[DRIFT_FROM.isoformat()]["state"] == "archived"
    assert rows[SHORT_SPAN[0].isoformat()]["health"]["fields"]["author"] > 0.3
    table = run_epaper("status", "--data", str(data)).stdout
    assert any(line.split()[:2] == ["ahjjb", THIRD.isoformat()] and " suspect " in line for line in table.splitlines())


@pytest.mark.parametrize(("toml", "words"), [
    ("[health]\nfield_drop = 2\n", '"health.field_drop" must be between 0 and 1'),
    ("[health]\nhistory = 0\n", '"health.history" must be 1 or more'),
    ("[health]\nmax_success_age_hours = 0\n", '"health.max_success_age_hours" must be more than 0 hours'),
    ("[health]\nfieldrop = 0.3\n", 'unknown key "health.fieldrop"'),
])
def test_bad_health_config_is_one_line(tmp_path, toml, words):
    from epaper.config import ConfigError, load_config

    path = tmp_path / "epaper.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(".", r"\.")):
        load_config(path, env={})


def test_health_config_reaches_the_pipeline_settings(tmp_path):
    from epaper.config import load_config

    path = tmp_path / "epaper.toml"
    path.write_text("[health]\nhistory = 10\nfield_drop = 0.1\n", encoding="utf-8")
    settings = load_config(path, env={}).scrapy_settings()
    assert settings["HEALTH_HISTORY"] == 10 and settings["HEALTH_FIELD_DROP"] == 0.1


def test_the_replica_builds_a_drifting_site_from_its_command_line(tmp_path):
    from epaper.replica.__main__ import main

    assert main(["build", "--out", str(tmp_path), "--from", "2023-08-02", "--to", "2023-08-03",
                 "--drift", "author@2023-08-03"]) == 0
    day = tmp_path / "site" / "pc" / "content" / "202308"
    drifted = [p.read_text(encoding="utf-8") for p in (day / "03").glob("content_*.html")]
    before = [p.read_text(encoding="utf-8") for p in (day / "02").glob("content_*.html")]
    assert not any("<author>" in text for text in drifted) and any('class="zuozhe"' in text for text in drifted)
    assert any("<author>" in text for text in before) and not any("zuozhe" in text for text in before)
    assert main(["build", "--out", str(tmp_path), "--from", "2023-08-02", "--to", "2023-08-03",
                 "--drift", "markup@2023-08-03"]) == 2

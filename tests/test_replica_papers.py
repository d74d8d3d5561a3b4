"""The replica's several papers (replica/papers.py): the plan, each paper on its own port and
root, and the [[portal]] tables that name them, read by epaper's own config loader."""
from __future__ import annotations

import datetime as dt
import re
import urllib.error
import urllib.request

import pytest

from epaper.config import load_config
from epaper.replica.layout import TEMPLATES
from epaper.replica.papers import plan_papers, portal_tables, serve_papers

WEEK = (dt.date(2023, 7, 31), dt.date(2023, 8, 4))


def test_the_plan_cycles_through_every_template_generations_alternating():
    plans = plan_papers(50)
    assert plans[0].id == "ahjjb" and plans[0].template == "pc-rmrb" and plans[0].seed == 1
    assert plans[1].generation == "html"
    assert {p.template for p in plans[:len(TEMPLATES)]} == set(TEMPLATES)
    assert len({p.id for p in plans}) == 50 and all(re.fullmatch(r"[a-z0-9_-]+", p.id) for p in plans)
    assert len({(p.template, p.seed) for p in plans}) == 50
    assert plan_papers(7) == plans[:7]  # a prefix of a longer plan
    with pytest.raises(ValueError):
        plan_papers(0)


def test_each_paper_is_served_on_its_own_port_under_its_id(tmp_path):
    plans = plan_papers(3)
    with serve_papers(tmp_path, plans, start=WEEK[0], end=WEEK[1]) as papers:
        assert [p.id for p in papers] == [p.id for p in plans]
        assert len({p.server.port for p in papers}) == 3
        for p in papers:
            assert p.base_url.endswith(f"/{p.id}/") and p.truth["template"] == p.template
            first = p.truth["articles"][0]["url"]
            with urllib.request.urlopen(p.base_url + first, timeout=10) as answer:
                assert answer.status == 200
            other = next(o for o in papers if o is not p)
            with pytest.raises(urllib.error.HTTPError):  # another paper's root is not served here
                urllib.request.urlopen(f"http://127.0.0.1:{p.server.port}/{other.id}/{first}", timeout=10)
        config = tmp_path / "epaper.toml"
        config.write_text(portal_tables(papers, download_delay=0), encoding="utf-8")
        loaded = load_config(config, env={})
        assert [(c.id, c.name, c.base_url) for c in loaded.portals] == [(p.id, p.name, p.base_url) for p in papers]
    with pytest.raises(OSError):  # stopped on leaving
        urllib.request.urlopen(papers[0].base_url, timeout=5)

"""Several replica papers at once: a deterministic plan of N papers, each built from its own
template and seed and served on its own port under ``/ID/``.

    with serve_papers(work, plan_papers(2), start=..., end=...) as papers:
        for p in papers:
            p.id, p.name, p.base_url, p.truth

The plan cycles through the templates of ``layout.TEMPLATES``, one generation then the other
(pc, html, pc, ...), so any two consecutive papers differ in generation and 26 papers use
every template twice. Paper 0 is 安徽经济报 (``ahjjb``, ``pc-rmrb``, seed 1: the site the demo
and the single-paper tests crawl); paper k is ``<template>`` the first time a template comes
round, ``<template>-2`` the second time, and so on, with seed k + 1.
"""
from __future__ import annotations

import json
import shutil
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterator

from epaper.replica.build import build_site
from epaper.replica.layout import DEFAULT_TEMPLATE, TEMPLATES
from epaper.replica.server import ReplicaServer, serve

__all__ = ["PaperPlan", "RunningPaper", "plan_papers", "portal_tables", "serve_papers"]

FIRST = ("ahjjb", "安徽经济报")


@dataclass(frozen=True)
class PaperPlan:
    """One paper of the plan: its id (``[a-z0-9_-]+``), display name, template and seed."""

    id: str
    name: str
    template: str
    seed: int

    @property
    def generation(self) -> str:
        return TEMPLATES[self.template]

    @property
    def root_path(self) -> str:
        return f"/{self.id}/"


@dataclass
class RunningPaper:
    """A planned paper built into ``out`` and served at ``base_url``."""

    plan: PaperPlan
    out: Path  # holds site/ and truth.json
    server: ReplicaServer
    _truth: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.plan.id

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def template(self) -> str:
        return self.plan.template

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def truth(self) -> dict[str, Any]:
        """The site's truth.json (issues, no-issue dates, articles), read once."""
        if self._truth is None:
            self._truth = json.loads((self.out / "truth.json").read_text(encoding="utf-8"))
        return self._truth


def _template_order() -> list[str]:
    """Every template once, generations alternating (pc first) while both last, each
    generation's default template first."""
    by_gen: dict[str, list[str]] = {}
    for name, gen in TEMPLATES.items():
        by_gen.setdefault(gen, []).append(name)
    for gen, names in by_gen.items():
        names.sort(key=lambda n: (n != DEFAULT_TEMPLATE[gen], n))
    pc, html = by_gen["pc"], by_gen["html"]
    order: list[str] = []
    for k in range(max(len(pc), len(html))):
        order += [names[k] for names in (pc, html) if k < len(names)]
    return order


def plan_papers(n: int) -> list[PaperPlan]:
    """The first ``n`` papers of the plan (the same for the same ``n``; a prefix of a longer one)."""
    if n < 1:
        raise ValueError(f"a plan holds at least one paper, got {n}")
    order = _template_order()
    plans: list[PaperPlan] = []
    for k in range(n):
        template = order[k % len(order)]
        if k == 0:
            pid, name = FIRST
        else:
            round_ = k // len(order) + 1
            pid = template if round_ == 1 else f"{template}-{round_}"
            name = f"样报 {pid}"  # "sample paper": not a real paper's name
        plans.append(PaperPlan(pid, name, template, seed=k + 1))
    return plans


@contextmanager
def serve_papers(work: Path, plans: list[PaperPlan], *, start: date, end: date,
                 delay: float = 0.0, media: str = "small") -> Iterator[list[RunningPaper]]:
    """Build each planned paper into ``work/ID`` (rebuilt every time) for ``start``..``end`` and
    serve each on its own port of 127.0.0.1 at ``/ID/``; the running papers in plan order,
    every server stopped on leaving."""
    work = Path(work)
    with ExitStack() as stack:
        running: list[RunningPaper] = []
        for plan in plans:
            out = work / plan.id
            if out.exists():
                shutil.rmtree(out)
            site = build_site(out, start=start, end=end, generation=plan.generation, template=plan.template,
                              seed=plan.seed, root_path=plan.root_path, media=media)
            server = stack.enter_context(serve(site, plan.root_path, delay=delay))
            running.append(RunningPaper(plan, out, server))
        yield running


def portal_tables(papers: list[RunningPaper], **per_paper: Any) -> str:
    """The ``[[portal]]`` tables of an epaper.toml naming these papers (``per_paper``: more
    keys written in each table, e.g. ``download_delay=0``)."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        return json.dumps(str(v), ensure_ascii=False)  # a TOML basic string

    blocks = []
    for p in papers:
        keys = {"id": p.id, "name": p.name, "base_url": p.base_url, **per_paper}
        blocks.append("[[portal]]\n" + "".join(f"{k} = {value(v)}\n" for k, v in keys.items()))
    return "\n".join(blocks)

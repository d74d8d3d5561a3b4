"""``epaper cluster``: the crawls of every paper spread over a cluster of scrapyd nodes.

A paper's crawl is a scrapyd job of the ``epaper`` spider with the arguments of ``scrapy crawl
epaper -a …`` (``source``, and ``date``/``start``+``end``/``latest``), the config named in the
job's ``EPAPER_CONFIG`` setting and the archive in its ``SNAPSHOT_DIR``: a path every node sees
(a shared folder), or an ``s3://bucket/prefix`` root (``--data`` or the config's
``storage.data_dir``; each node's scrapyd has the AWS variables in its environment, which its
jobs inherit). The job takes its paper's lock there (epaper.lock; on s3://, its working copy's
and the paper's lease in the store: epaper.runext) and leaves its run-log line (epaper.runext;
on s3://, published as ``runs/parts/<run_id>.json``), whose command names the job
(``_job=ID``): that line is the job's outcome. On s3:// this command reads the archive (an
update's plan, the jobs' lines) through a reading copy pulled before each look (epaper.remote).

- ``deploy``: builds the project's egg from the installed ``epaper`` package (its one import
  name; the entry point ``[scrapy] settings = epaper.crawler.settings``) and POSTs it to each
  node's ``addversion.json``. Not scrapyd-client's ``scrapyd-deploy``: it runs ``setup.py
  bdist_egg`` through a generated ``setup.py`` whose ``find_packages()`` misses the folders
  pyproject.toml maps under ``epaper`` (crawler/, pipelines/, storage/), and setuptools has
  deprecated ``bdist_egg``; an egg is a zip with ``EGG-INFO``, built here with the standard
  library.
- ``update``: each paper's scheduled run as jobs (the catch-up ranges, rechecks and
  ``latest`` that ``epaper update`` would start as children, epaper.schedule), ``backfill``:
  a range split by paper and month. Each paper is given to one node (the most jobs first, each
  to the least loaded node), and its jobs run there one after the other (one writer per paper:
  a second job of a paper would find it locked); the papers run side by side. Waits for every
  job, then prints what ran where and each job's outcome; the exit status is the worst.
- ``status``: each node's jobs (listjobs.json) with their outcomes from the run log.

Nodes: ``--node URL`` (repeatable), or the ``[deploy:NAME]`` targets of scrapy.cfg (``url``,
``project``; scrapyd-client's format), every one or those named with ``--target``.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from epaper.config import UsageError

PROJECT = "epaper"
SPIDER = "epaper"
SETTINGS_MODULE = "epaper.crawler.settings"
# The packages installed under the one import name (pyproject.toml's [tool.setuptools]); each is
# walked for its subpackages, so the egg holds the whole of `epaper` however it was installed.
ROOTS = ("epaper", "epaper.crawler", "epaper.pipelines", "epaper.storage", "epaper.replica")
DATA_SUFFIXES = (".json", ".txt")  # package data (the replica's seed and word lists)


class ClusterError(UsageError):
    """A node that cannot be reached or refuses a request; one line."""


# ------------------------------------------------------------------ jobs and their plan


@dataclass(frozen=True)
class Job:
    """One crawl of one paper: the spider arguments of ``scrapy crawl epaper -a …``."""

    source: str
    args: tuple[tuple[str, str], ...]

    @property
    def label(self) -> str:
        a = dict(self.args)
        if "latest" in a:
            return "latest"
        if "date" in a:
            return a["date"]
        return f"{a['start']}..{a['end']}"

    @property
    def days(self) -> int:
        a = dict(self.args)
        if "start" in a:
            return (dt.date.fromisoformat(a["end"]) - dt.date.fromisoformat(a["start"])).days + 1
        return 1


def job_from_cli(source: str, argv: Sequence[str]) -> Job:
    """The job of an ``epaper crawl`` child's date flags (``--date D``, ``--from A --to B``,
    ``--latest``)."""
    if argv[:1] == ["--latest"]:
        return Job(source, (("latest", "1"),))
    if argv[:1] == ["--date"]:
        return Job(source, (("date", argv[1]),))
    return Job(source, (("start", argv[1]), ("end", argv[3])))


def update_jobs(config: Any, data: Path, today: dt.date | None = None) -> dict[str, list[Job]]:
    """Each paper's scheduled run as jobs: what ``epaper update`` would crawl in children
    (epaper.schedule._paper_run, read from the archive now), in its order."""
    from epaper.schedule import _paper_run

    class Planner:
        stopping = False

    jobs: dict[str, list[Job]] = {}
    for paper in config.papers():
        today_here = today or dt.datetime.now(paper.schedule.tzinfo).date()
        found: list[Job] = []

        def child(argv: list[str], source: str = paper.portal.id, found: list[Job] = found) -> int:
            found.append(job_from_cli(source, argv))
            return 0

        _paper_run(paper, data, today_here, Planner(), child)  # type: ignore[arg-type]
        jobs[paper.portal.id] = found
    return jobs


def backfill_jobs(sources: Iterable[str], start: dt.date, end: dt.date) -> dict[str, list[Job]]:
    """A range for each paper, split by calendar month."""
    if start > end:
        raise UsageError(f"--from {start} is after --to {end}")
    months: list[tuple[dt.date, dt.date]] = []
    first = start
    while first <= end:
        following = (first.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        last = min(end, following - dt.timedelta(days=1))
        months.append((first, last))
        first = following
    return {s: [Job(s, (("date", a.isoformat()),) if a == b else (("start", a.isoformat()), ("end", b.isoformat())))
                for a, b in months] for s in sources}


def assign(jobs: Mapping[str, Sequence[Job]], nodes: Sequence[str]) -> dict[str, str]:
    """Which node runs each paper's jobs: the paper with the most days first, each to the node
    with the fewest days so far (ties: the first paper in the config's order, the first node)."""
    if not nodes:
        raise UsageError("no scrapyd node: give --node URL or a [deploy:NAME] target in scrapy.cfg")
    load = {node: 0 for node in nodes}
    order = sorted(jobs, key=lambda s: (-sum(j.days for j in jobs[s]), list(jobs).index(s)))
    out = {}
    for source in order:
        if not jobs[source]:
            continue
        node = min(nodes, key=lambda n: (load[n], list(nodes).index(n)))
        out[source] = node
        load[node] += sum(j.days for j in jobs[source])
    return {s: out[s] for s in jobs if s in out}


# ------------------------------------------------------------------ scrapyd's API


@dataclass
class Node:
    """One scrapyd node: its URL (ending in "/") and the project name."""

    url: str
    project: str = PROJECT
    timeout: float = 30.0

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"a scrapyd node is an http(s) URL, got {self.url!r}")
        self.url = self.url if self.url.endswith("/") else self.url + "/"

    def call(self, endpoint: str, fields: Sequence[tuple[str, str]] | None = None,
             files: Mapping[str, tuple[str, bytes]] | None = None) -> dict[str, Any]:
        """GET (no fields) or POST an endpoint; its JSON answer (status "ok"), else ClusterError."""
        url = urllib.parse.urljoin(self.url, endpoint)
        data, headers = None, {}
        if files:
            data, ctype = _multipart(fields or (), files)
            headers["Content-Type"] = ctype
        elif fields is not None:
            data = urllib.parse.urlencode(list(fields)).encode()
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers),
                                        timeout=self.timeout) as answer:
                body = json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise ClusterError(f"{url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ClusterError(f"{url}: cannot reach the node: {reason}") from None
        except ValueError:
            raise ClusterError(f"{url}: the answer is not JSON (is it a scrapyd node?)") from None
        if not isinstance(body, dict) or body.get("status") != "ok":
            message = body.get("message") if isinstance(body, dict) else body
            raise ClusterError(f"{url}: {str(message).strip().splitlines()[-1] if message else 'refused'}")
        return body

    def add_version(self, version: str, egg: bytes) -> dict[str, Any]:
        return self.call("addversion.json", [("project", self.project), ("version", version)],
                         {"egg": (f"{self.project}-{version}.egg", egg)})

    def schedule(self, job: Job, settings: Mapping[str, str]) -> str:
        fields = [("project", self.project), ("spider", SPIDER), ("source", job.source), *job.args,
                  *(("setting", f"{k}={v}") for k, v in settings.items())]
        return str(self.call("schedule.json", fields)["jobid"])

    def jobs(self) -> dict[str, list[dict[str, Any]]]:
        """listjobs.json: {"pending": [...], "running": [...], "finished": [...]}."""
        body = self.call(f"listjobs.json?project={urllib.parse.quote(self.project)}")
        return {state: list(body.get(state) or []) for state in ("pending", "running", "finished")}


def _multipart(fields: Iterable[tuple[str, str]], files: Mapping[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content) in files.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                  "Content-Type: application/octet-stream\r\n\r\n".encode())
        out.write(content + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


# ------------------------------------------------------------------ the egg


def build_egg(version: str) -> bytes:
    """The project as an egg scrapyd runs: every module of `epaper` (source files, as they are
    installed) and its package data, with ``EGG-INFO`` naming the settings module."""
    import importlib
    import pkgutil

    files: dict[str, bytes] = {}
    seen: set[str] = set()

    def walk(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        package = importlib.import_module(name)
        for folder in map(Path, package.__path__):
            base = name.replace(".", "/")
            for path in sorted(folder.iterdir()):
                if path.is_file() and (path.suffix == ".py" or path.suffix in DATA_SUFFIXES):
                    files.setdefault(f"{base}/{path.name}", path.read_bytes())
            for info in pkgutil.iter_modules([str(folder)]):
                if info.ispkg:
                    walk(f"{name}.{info.name}")

    for root in ROOTS:
        walk(root)
    from epaper import __version__

    files["EGG-INFO/PKG-INFO"] = (f"Metadata-Version: 1.1\nName: {PROJECT}\nVersion: {__version__}\n"
                                  f"Summary: epaper {__version__}, deployed as {version}\n").encode()
    files["EGG-INFO/entry_points.txt"] = f"[scrapy]\nsettings = {SETTINGS_MODULE}\n".encode()
    files["EGG-INFO/top_level.txt"] = b"epaper\n"
    files["EGG-INFO/zip-safe"] = b"\n"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as egg:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # the same code, the same egg
            info.compress_type = zipfile.ZIP_DEFLATED
            egg.writestr(info, files[name])
    return out.getvalue()


# ------------------------------------------------------------------ running jobs


@dataclass
class Placed:
    """A job sent to a node: its scrapyd id and, once known, its state and outcome."""

    job: Job
    node: str
    jobid: str = ""
    state: str = "waiting"  # waiting (not sent yet), pending, running, finished
    line: dict[str, Any] | None = None  # its run-log line
    log_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_status(self) -> int | None:
        return self.line.get("exit_status") if self.line else None

    def outcome(self) -> str:
        if self.state != "finished":
            return self.state
        if self.line is None:
            return "finished without a run-log line (refused or failed before it started: see its log)"
        counts: dict[str, int] = {}
        for o in (self.line.get("outcomes") or {}).values():
            counts[o.get("status", "?")] = counts.get(o.get("status", "?"), 0) + 1
        told = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing to record"
        return f"exit {self.line.get('exit_status')}: {told}"


def job_lines(data: Path, jobids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The run-log line of each scrapyd job (its command names it: ``_job=ID``)."""
    from epaper.runlog import read_runs

    wanted = set(jobids)
    out = {}
    for run in read_runs(data):
        for word in str(run.get("command", "")).split():
            if word.startswith("_job=") and word[5:] in wanted:
                out[word[5:]] = run
    return out


class ArchiveView:
    """Where the command finds the archive the jobs write: a local root (a folder every node
    sees), or an s3:// root read through a reading copy (epaper.remote, role "read"), pulled
    before each look. `setting`: the root as the jobs are given it (``SNAPSHOT_DIR``)."""

    def __init__(self, config: Any):
        from epaper.storage.objectstore import is_s3

        root = config.storage.data_dir
        self.remote: Any = None
        if is_s3(root):
            from epaper.remote import RemoteArchive

            self.remote = RemoteArchive.of(config, role="read")
            self.local, self.setting = self.remote.local, str(root)
        else:
            self.local = Path(root)
            self.setting = str(self.local.resolve())

    def state(self) -> Path:
        """The archive's state, to plan an update from (pulled but its WARC files)."""
        if self.remote is not None:
            self._pull(self.remote.pull_reading)
        return self.local

    def lines(self, jobids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The run-log line of each job (in an s3:// archive, the run parts published so far)."""
        if self.remote is not None:
            from epaper.storage.objectstore import RUN_PARTS

            self._pull(lambda: self.remote.copy.pull([f"{RUN_PARTS}/"], prune=False))
        return job_lines(self.local, jobids)

    def _pull(self, step: Any) -> None:
        from epaper.storage.objectstore import StoreError

        try:
            step()
        except StoreError as exc:
            raise ClusterError(str(exc)) from None


def run_jobs(jobs: Mapping[str, Sequence[Job]], nodes: Mapping[str, Node], placement: Mapping[str, str],
             settings: Mapping[str, str], lines: Any, *, poll: float = 2.0, timeout: float | None = None,
             say: Any = None) -> list[Placed]:
    """Send each paper's jobs to its node, one after the other, the papers side by side; wait
    for all; each job with its run-log line (`lines(jobids)`: ArchiveView.lines)."""
    say = say or (lambda line: None)
    queues = {s: [Placed(j, placement[s]) for j in jobs[s]] for s in placement}
    placed = [p for q in queues.values() for p in q]
    started = time.monotonic()
    while True:
        by_node: dict[str, dict[str, dict[str, Any]]] = {}
        for url in {p.node for p in placed if p.jobid and p.state != "finished"}:
            listing = nodes[url].jobs()
            by_node[url] = {j["id"]: {**j, "state": state} for state, js in listing.items() for j in js}
        for p in placed:
            if p.jobid and p.state != "finished":
                seen = by_node.get(p.node, {}).get(p.jobid)
                if seen:
                    p.state = seen["state"]
                    p.log_url = seen.get("log_url") or p.log_url
                    if p.state == "finished":
                        p.line = lines([p.jobid]).get(p.jobid)
                        say(f"{p.node} {p.job.source} {p.job.label} (job {p.jobid}): {p.outcome()}")
        for queue in queues.values():
            if queue and all(p.state == "finished" for p in queue if p.jobid):
                nxt = next((p for p in queue if not p.jobid), None)
                if nxt is not None:
                    nxt.jobid = nodes[nxt.node].schedule(nxt.job, settings)
                    nxt.state = "pending"
                    say(f"{nxt.node} {nxt.job.source} {nxt.job.label}: job {nxt.jobid}")
        if all(p.state == "finished" for p in placed):
            return placed
        if timeout is not None and time.monotonic() - started > timeout:
            raise ClusterError(f"jobs still running after {timeout:g} s: "
                               + ", ".join(f"{p.job.source} {p.job.label} on {p.node}"
                                           for p in placed if p.state != "finished"))
        time.sleep(poll)


# ------------------------------------------------------------------ the command


def add_parser(sub: Any, date: Any) -> None:
    """The ``cluster`` subcommand of epaper.cli (`date`: its argparse type of a date)."""
    p = sub.add_parser("cluster", help="spread the crawls over scrapyd nodes: deploy, update, backfill, status")
    actions = p.add_subparsers(dest="action", required=True, parser_class=type(p))

    def nodes(q: Any) -> None:
        q.add_argument("--node", dest="nodes", action="append", default=[], metavar="URL",
                       help="a scrapyd node (repeatable); default the [deploy:NAME] targets of scrapy.cfg")
        q.add_argument("--target", dest="targets", action="append", default=[], metavar="NAME",
                       help="a [deploy:NAME] target of scrapy.cfg (repeatable)")
        q.add_argument("--project", default=None, help=f"the scrapyd project (default the target's, or {PROJECT})")

    def papers(q: Any) -> None:
        q.add_argument("--data", help="archive root every node sees: a shared folder or s3://bucket/prefix "
                       "(default ./data or the config's storage.data_dir)")
        q.add_argument("--config", help="config file every node reads at that path (default ./epaper.toml)")
        q.add_argument("--source", dest="sources", action="append", default=[], metavar="ID",
                       help="the paper of the config; repeatable; default every paper")
        q.add_argument("--json", action="store_true", help="one JSON object per job on stdout")
        q.add_argument("--poll", type=float, default=2.0, help="seconds between looks at the nodes (default 2)")
        q.add_argument("--timeout", type=float, default=None, help="give up waiting after this many seconds")

    q = actions.add_parser("deploy", help="build the egg and add it to every node (addversion.json)")
    nodes(q)
    q.add_argument("--version", default=None, help="the version (default the time, UTC)")
    q = actions.add_parser("update", help="every paper's scheduled run (catch-up, rechecks, latest) as jobs")
    nodes(q)
    papers(q)
    q = actions.add_parser("backfill", help="a range of dates, split by paper and month, as jobs")
    nodes(q)
    papers(q)
    q.add_argument("--from", dest="start", type=date, required=True, help="first date")
    q.add_argument("--to", dest="end", type=date, required=True, help="last date (inclusive)")
    q = actions.add_parser("status", help="each node's jobs, with their outcomes from the run log")
    nodes(q)
    q.add_argument("--data", help="archive root (default ./data or the config's storage.data_dir)")
    q.add_argument("--config", help="config file (default ./epaper.toml)")
    q.add_argument("--json", action="store_true", help="one JSON object per job")


def deploy_targets(names: Sequence[str]) -> list[tuple[str, str]]:
    """(url, project) of the [deploy:NAME] targets of scrapy.cfg (those named; none named: all)."""
    from scrapy.utils.conf import get_config

    cfg = get_config()
    found = {}
    for section in cfg.sections():
        if section == "deploy" or section.startswith("deploy:"):
            name = section.partition(":")[2] or "default"
            if cfg.has_option(section, "url"):
                found[name] = (cfg.get(section, "url"), cfg.get(section, "project", fallback=PROJECT))
    missing = [n for n in names if n not in found]
    if missing:
        raise UsageError(f"no [deploy:{missing[0]}] target with a url in scrapy.cfg (found: {', '.join(found) or 'none'})")
    return [found[n] for n in names] if names else list(found.values())


def resolve_nodes(args: Any) -> dict[str, Node]:
    pairs = [(url, args.project or PROJECT) for url in args.nodes]
    if args.targets or not args.nodes:
        pairs += [(url, args.project or project) for url, project in deploy_targets(args.targets)]
    out: dict[str, Node] = {}
    for url, project in pairs:
        node = Node(url, project)
        out.setdefault(node.url, node)
    if not out:
        raise UsageError("no scrapyd node: give --node URL or a [deploy:NAME] target in scrapy.cfg")
    return out


def run_cluster(args: Any, load_config: Any) -> int:
    """`load_config(args)`: the command line's config (epaper.cli.load_config: file, environment,
    --data, --source)."""
    out = sys.stdout
    nodes = resolve_nodes(args)
    if args.action == "deploy":
        version = args.version or dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        egg = build_egg(version)
        for node in nodes.values():
            answer = node.add_version(version, egg)
            print(f"{node.url}: project {node.project} version {version} ({len(egg):,} bytes, "
                  f"{answer.get('spiders')} spiders)", file=out, flush=True)
        return 0
    config = load_config(args)
    view = ArchiveView(config)
    if args.action == "status":
        return _status(nodes, view, args.json)
    if args.action == "update":
        jobs = update_jobs(config, view.state())
    else:
        jobs = backfill_jobs(config.ids, args.start, args.end)
    settings = {"SNAPSHOT_DIR": view.setting}
    if config.path is not None:
        settings = {"EPAPER_CONFIG": str(Path(config.path).resolve()), **settings}
    placement = assign(jobs, list(nodes))
    for source, node in placement.items():
        print(f"{source}: {len(jobs[source])} job(s) on {node}: {', '.join(j.label for j in jobs[source])}",
              file=sys.stderr if args.json else out, flush=True)
    if not placement:
        print("nothing to crawl", file=sys.stderr if args.json else out)
        return 0
    placed = run_jobs(jobs, nodes, placement, settings, view.lines, poll=args.poll, timeout=args.timeout,
                      say=lambda line: print(line, file=sys.stderr, flush=True))
    return _report(placed, args.json)


def _report(placed: Sequence[Placed], as_json: bool) -> int:
    from epaper.exits import worst

    for p in placed:
        if as_json:
            print(json.dumps({"source": p.job.source, "job": dict(p.job.args), "node": p.node, "jobid": p.jobid,
                              "state": p.state, "exit_status": p.exit_status,
                              "run_id": p.line.get("run_id") if p.line else None, "log_url": p.log_url},
                             ensure_ascii=False))
        else:
            print(f"{p.job.source} {p.job.label} on {p.node} (job {p.jobid}): {p.outcome()}")
    statuses = [p.exit_status if p.exit_status is not None else 1 for p in placed]
    return worst(statuses) if statuses else 0


def _status(nodes: Mapping[str, Node], view: ArchiveView, as_json: bool) -> int:
    rows = []
    for url, node in nodes.items():
        for state, jobs in node.jobs().items():
            for j in jobs:
                if j.get("spider") == SPIDER:
                    rows.append((url, state, j))
    lines = view.lines([j["id"] for _, _, j in rows])
    for url, state, j in rows:
        line = lines.get(j["id"])
        p = Placed(Job(line.get("source", "?") if line else "?", ()), url, j["id"], state, line,
                   j.get("log_url") or "")
        if as_json:
            print(json.dumps({"node": url, "jobid": j["id"], "state": state, "source": line.get("source") if line else None,
                              "dates": line.get("dates") if line else None,
                              "exit_status": p.exit_status, "start_time": j.get("start_time"),
                              "end_time": j.get("end_time"), "log_url": p.log_url}, ensure_ascii=False))
        else:
            what = f"{line.get('source')} {','.join(line.get('dates') or [])}" if line else ""
            print(f"{url} job {j['id']} {state} {what}: {p.outcome()}".replace("  ", " "))
    return 0

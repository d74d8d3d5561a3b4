"""Old parser against new: the same output on every replica file and every real sample.

    python -m bench.parser_corpus [--rev REV] [--work DIR] [--time] [--reparse]

Loads the parser (`crawler/*.py` and `pipelines/clean.py`) of git revision REV (default
6a8d14e, before the readability rewrite) and of the working tree as two separate packages,
then feeds both the same input and compares what they return:

- every HTML file of a replica site per template (2023-07-01..2023-08-31): `decode_html`,
  `parse_page` and `parse_article` on every file (each file through both, since a page read as
  an article exercises the fallbacks), `parse_enpproperty`, and `clean_article` on the parsed
  article fields; `parse_period_xml` on every calendar; the URL helpers on every file's URL;
- the real saved pages in tests/data/ and, when present, /work/shared/samples/real/;
- random documents of head and body markup (the replica's regular templates leave branches
  of the body and head readers unvisited), read like the replica files;
- a fixed set of random strings through the text helpers (the fast paths were on those).

Prints the count of files and strings compared and every difference; exit status 1 on any.
--time also times `parse_page`/`parse_article` over the replica files, old and new (the least
of 3 interleaved passes), and prints the ratio. --reparse times what that costs a whole
`epaper reparse --all` (the pc-rmrb replica crawled once, then reparsed 3 times with each
parser, interleaved; CPU of the child process) and checks both archives come out the same.
--work keeps the built sites and the archive in DIR for reuse.
"""
from __future__ import annotations

import argparse
import atexit
import dataclasses
import datetime as dt
import importlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
START_REV = "6a8d14e"
SPAN = (dt.date(2023, 7, 1), dt.date(2023, 8, 31))
REPLICA_ROOT = "http://127.0.0.1/ahjjb/"
SHARED_SAMPLES = Path("/work/shared/samples/real")
# tests/data/ pages without an expected.json beside them: their URLs (tests/data/README.md).
KNOWN_URLS = {"rmrb-2024-12-25-node_01.html": ("http://paper.people.com.cn/rmrb/pc/layout/202412/25/node_01.html",
                                               "http://paper.people.com.cn/rmrb/")}
FUZZ_COUNT = 20000
DOCUMENT_COUNT = 4000
FUZZ_ALPHABET = ("a Z0159汉字，。“”【】——-－–―:：第版A要闻<>/&;#p=\"'" "\u3000\u00a0\u2002\u2009\u200a\u202f\u205f"
                 "\t\n\r\x0b\x0c\x1c\x85\u2028\u2029\u200b\u200c\u200d\u2060\ufeff")
FUZZ_PIECES = ("&nbsp;", "&amp;", "&#12288;", "<p>", "</p>", "<br/>", "<!-- x -->", "<!--enpproperty <title>",
               "</title>/enpproperty-->", "第01版：", "A01版:", "图为", "摄", "本报记者 ", "——",
               "数字版首页", "首页", "往期回顾", "版面下载", "PDF下载", "|", "·")


# ---------------------------------------------------------------- loading a parser


def _sources(rev: str | None) -> dict[str, str]:
    """module name → source of crawler/*.py and pipelines/clean.py, at `rev` (None: working tree)."""
    if rev is None:
        paths = {p.name: p.read_text(encoding="utf-8") for p in (REPO / "crawler").glob("*.py")}
        paths["clean.py"] = (REPO / "pipelines" / "clean.py").read_text(encoding="utf-8")
    else:
        names = subprocess.run(["git", "ls-tree", "--name-only", rev, "crawler/"], cwd=REPO, check=True,
                               capture_output=True, text=True).stdout.split()
        paths = {}
        for path in [n for n in names if n.endswith(".py")] + ["pipelines/clean.py"]:
            paths[Path(path).name] = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=REPO, check=True,
                                                    capture_output=True, text=True).stdout
    return {name[:-3]: text for name, text in paths.items() if name != "__init__.py"}


def load_parser(rev: str | None, package: str) -> types.SimpleNamespace:
    """The parser modules of `rev`, importable as `package.founder` etc. (imports rewritten)."""
    folder = Path(tempfile.mkdtemp(prefix=f"{package}-")) / package
    atexit.register(shutil.rmtree, folder.parent, ignore_errors=True)
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for name, text in _sources(rev).items():
        text = text.replace("epaper.pipelines.clean", f"{package}.clean")
        text = text.replace("from epaper.crawler import", f"from {package} import")
        text = text.replace("epaper.crawler.", f"{package}.")
        (folder / f"{name}.py").write_text(text, encoding="utf-8")
    sys.path.insert(0, str(folder.parent))
    try:
        modules = {name: importlib.import_module(f"{package}.{name}")
                   for name in ("founder", "founder_article", "clean")}
    finally:
        sys.path.remove(str(folder.parent))
    return types.SimpleNamespace(**modules)


# ---------------------------------------------------------------- what is compared


def plain(value):
    """Results as plain data (dataclasses to dicts), so that two packages' results compare."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def attempt(fn, *args):
    try:
        return plain(fn(*args))
    except Exception as exc:  # a parser error is an output too: both must raise the same
        return ("raises", type(exc).__name__, str(exc))


PAGE_FIELDS = ("url", "page_no", "page_name", "pdf_url", "image_url", "pages", "articles")
ARTICLE_FIELDS = ("title", "intro_title", "subtitle", "author", "paragraphs", "images", "issue_date")


def keep(result, fields: tuple[str, ...]):
    """The fields callers use (dead ones the rewrite removed are not compared)."""
    return {k: result[k] for k in fields} if isinstance(result, dict) else result


def html_outputs(p: types.SimpleNamespace, body: bytes, url: str, root: str, charset: str | None,
                 chrome: tuple[str, ...]) -> dict:
    """Everything one parser makes of one HTML file."""
    out = {"decode": attempt(p.founder.decode_html, body, charset)}
    text = p.founder.decode_html(body, charset)[0]
    out["enpproperty"] = attempt(p.founder.parse_enpproperty, text)
    out["page"] = keep(attempt(p.founder.parse_page, text, url, root), PAGE_FIELDS)
    article = keep(attempt(p.founder_article.parse_article, text, url), ARTICLE_FIELDS)
    out["article"] = article
    if isinstance(article, dict):
        fields = {"title": article["title"], "intro_title": article["intro_title"],
                  "subtitle": article["subtitle"], "author": article["author"], "page_name": None,
                  "body": "\n".join(article["paragraphs"]), "images": [dict(i) for i in article["images"]]}
        changed = attempt(p.clean.clean_article, fields, chrome)
        out["clean_article"] = (changed, fields)
    for name in ("date_from_url", "is_content_url", "is_page_url"):
        out[name] = attempt(getattr(p.founder, name), url)
    return out


def text_outputs(p: types.SimpleNamespace, s: str, chrome: tuple[str, ...]) -> dict:
    return {
        "normalize_ws": attempt(p.founder.normalize_ws, s),
        "clean_paragraph": attempt(p.founder.clean_paragraph, s),
        "parse_page_label": attempt(p.founder.parse_page_label, s),
        "parse_enpproperty": attempt(p.founder.parse_enpproperty, s),
        "clean_body": attempt(p.clean.clean_body, s, chrome),
        "clean_body_no_chrome": attempt(p.clean.clean_body, s),
        "clean_subtitle": attempt(p.clean.clean_subtitle, s),
        "column_of": attempt(p.clean.column_of, "【" + s),
    }


# Markup the body and head readers branch on, for random documents: the replica's templates
# are regular, so they leave branches (centred captions, nested blocks, tails after images,
# role-marked heads, enpcontent without founder-content) unvisited.
TAGS = ("p", "P", "div", "span", "font", "b", "strong", "br", "img", "IMG", "table", "td", "center", "h1",
        "h2", "h3", "H1", "founder-title", "founder-subtitle", "founder-introtitle", "founder-author", "a",
        "script", "li", "blockquote")
ATTRS = ('', '', '', ' style="text-align: center"', ' align=center', ' id="SubTitle"', ' class="yinti"',
         ' class="introtitle"', ' class="fubiaoti"', ' src="../../../pic/a.jpg"', ' src="b.gif" width=20',
         ' alt="图为会场"', ' title=" "', ' data-original-title="说明"', ' href="content_9.html"',
         ' id="pageLink" href="node_2.html"', ' usemap="#m"', ' data-src="/x.jpg"')
TEXTS = ("", "", "\u3000\u3000第一段正文，内容较长。", "图为会场。", "新华社记者 张三摄", "本报记者 李四",
         "（2023年08月03日  01版）", "第01版：要闻", "——副题", "标题", "引题：", "▲ 说明", "&nbsp;", " \n ",
         "版面下载", "2023-08-03", "x" * 70, "短", "【栏目】标题", "\u200b", "<!-- c -->",
         "<!--enpproperty <title>标题</title><author>作者</author><subtitle></subtitle>/enpproperty-->")


def random_markup(rng: random.Random, depth: int = 0) -> str:
    out = []
    for _ in range(rng.randint(1, 4)):
        out.append(rng.choice(TEXTS))
        if depth < 4 and rng.random() < 0.7:
            tag = rng.choice(TAGS)
            attrs = "".join(rng.choice(ATTRS) for _ in range(rng.randint(0, 2)))
            if tag.lower() in ("br", "img"):
                out.append(f"<{tag}{attrs}>")
            else:
                out.append(f"<{tag}{attrs}>{random_markup(rng, depth + 1)}</{tag}>")
    return "".join(out)


def random_documents(n: int) -> list[str]:
    rng = random.Random(8032023)
    docs = []
    for _ in range(n):
        head = random_markup(rng)
        body = random_markup(rng)
        shape = rng.randrange(4)
        if shape == 0:
            body = f"<founder-content>{body}</founder-content>"
        elif shape == 1:
            body = f"<!--enpcontent-->{body}<!--/enpcontent-->"
        elif shape == 2:
            body = f"<div id=ozoom><!--enpcontent--><founder-content>{body}</founder-content><!--/enpcontent--></div>"
        enp = rng.choice(TEXTS[-1:] + ("",) * 2)
        docs.append(f"<html><body>{enp}<div class=article>{head}{body}</div>{random_markup(rng)}</body></html>")
    return docs


def fuzz_strings(n: int) -> list[str]:
    rng = random.Random(20230803)
    out = []
    for _ in range(n):
        parts = [rng.choice(FUZZ_PIECES) if rng.random() < 0.15 else rng.choice(FUZZ_ALPHABET)
                 for _ in range(rng.randint(0, 30))]
        out.append("".join(parts))
    return out


# ---------------------------------------------------------------- the corpus


@dataclasses.dataclass
class HtmlFile:
    name: str  # shown in differences
    body: bytes
    url: str
    root: str
    charset: str | None  # what a server's Content-Type would say


_META_CHARSET = re.compile(rb"charset=[\"']?([A-Za-z0-9_-]+)", re.I)


def replica_files(work: Path) -> tuple[list[HtmlFile], list[tuple[str, bytes]]]:
    """HTML files and calendars of one replica site per template, built in `work` once."""
    from epaper.replica.build import TEMPLATES, build_site

    pages: list[HtmlFile] = []
    calendars: list[tuple[str, bytes]] = []
    for template, generation in TEMPLATES.items():
        out = work / template
        stamp = out / "span.json"
        want = {"start": SPAN[0].isoformat(), "end": SPAN[1].isoformat(), "seed": 1}
        if not (stamp.exists() and json.loads(stamp.read_text()) == want):
            build_site(out, start=SPAN[0], end=SPAN[1], generation=generation, template=template, seed=1)
            stamp.write_text(json.dumps(want))
        site = out / "site"
        for path in sorted(site.rglob("*")):
            rel = path.relative_to(site).as_posix()
            if path.suffix in (".htm", ".html"):
                body = path.read_bytes()
                m = _META_CHARSET.search(body[:2048])
                pages.append(HtmlFile(f"{template}/{rel}", body, REPLICA_ROOT + rel, REPLICA_ROOT,
                                      m[1].decode() if m else None))
            elif path.name == "period.xml":
                calendars.append((f"{template}/{rel}", path.read_bytes()))
    return pages, calendars


def real_files() -> list[HtmlFile]:
    """The saved real pages: tests/data/ (URLs from its README) and the shared samples, if there."""
    out: list[HtmlFile] = []
    data = REPO / "tests" / "data"
    for path in sorted(data.glob("*.htm*")):
        meta = data / (path.stem + ".expected.json")
        if meta.is_file():
            info = json.loads(meta.read_text(encoding="utf-8"))
            url, root = info["url"], info.get("root") or info["url"].rsplit("/", 1)[0] + "/"
        else:
            url, root = KNOWN_URLS[path.name]
        out.append(HtmlFile(f"tests/data/{path.name}", path.read_bytes(), url, root, None))
    if SHARED_SAMPLES.is_dir():
        for meta in sorted(SHARED_SAMPLES.glob("*.expected.json")):
            if (data / meta.name).is_file():
                continue  # the same file, copied into tests/data
            info = json.loads(meta.read_text(encoding="utf-8"))
            root = info.get("root") or info["url"].rsplit("/", 1)[0] + "/"
            out.append(HtmlFile(f"samples/{info['file']}", (SHARED_SAMPLES / info["file"]).read_bytes(),
                                info["url"], root, None))
    return out


# ---------------------------------------------------------------- comparing


def differences(name: str, old: dict, new: dict) -> list[str]:
    out = []
    for key in old.keys() | new.keys():
        if old.get(key) != new.get(key):
            out.append(f"{name}: {key}:\n    old {str(old.get(key))[:400]}\n    new {str(new.get(key))[:400]}")
    return out


def timing(old, new, files: list[HtmlFile], reps: int = 3) -> tuple[float, float]:
    """Seconds per pass over the files (page files through parse_page, the rest through
    parse_article): the least of `reps` interleaved passes, old then new."""
    work = []
    for f in files:
        text = old.founder.decode_html(f.body, f.charset)[0]
        work.append((text, f.url, f.root, "/node_" in f.url or f.url.endswith(("index.html", "paperindex.htm"))))

    def one_pass(p) -> float:
        t0 = time.process_time()
        for text, url, root, is_page in work:
            if is_page:
                p.founder.parse_page(text, url, root)
            else:
                p.founder_article.parse_article(text, url)
        return time.process_time() - t0

    one_pass(old), one_pass(new)  # warm up: regex caches, imports
    best = [float("inf"), float("inf")]
    for _ in range(reps):
        best[0] = min(best[0], one_pass(old))
        best[1] = min(best[1], one_pass(new))
    return best[0], best[1]


def reparse_child(which: str, rev: str, data: str) -> int:
    """`epaper reparse --all` in this process, on the old parser's modules when `which` is "old"."""
    if which == "old":
        import epaper.crawler
        import epaper.pipelines

        old = load_parser(rev, "parser_old")
        for package, name, module in ((epaper.crawler, "founder", old.founder),
                                      (epaper.crawler, "founder_article", old.founder_article),
                                      (epaper.pipelines, "clean", old.clean)):
            sys.modules[f"{package.__name__}.{name}"] = module
            setattr(package, name, module)
    from epaper.cli import main as epaper_main
    from epaper.crawler.spiders import epaper as spider

    if (spider.founder_article.__name__.startswith("parser_old")) != (which == "old"):
        raise RuntimeError("the spider does not use the parser asked for")

    return epaper_main(["reparse", "--all", "--data", data])


def _archive(data: Path) -> list:
    """The archive's rows, without what a reparse may change (provenance)."""
    import pyarrow.parquet as pq

    rows = []
    for path in sorted(data.glob("articles/*/*.parquet")) + sorted(data.glob("pages/*/*.parquet")):
        table = pq.read_table(path)
        keep = [c for c in table.column_names if c not in ("crawled_at", "warc_file", "warc_record_id")]
        rows.append((path.relative_to(data).as_posix(), table.select(keep).to_pylist()))
    return rows


def reparse_timing(rev: str, work: Path, reps: int = 3) -> tuple[float, float, bool]:
    """Least CPU seconds of `epaper reparse --all`, old and new parser; whether the archives agree."""
    from epaper.replica.server import serve

    crawled = work / "reparse" / f"data-{SPAN[0]}-{SPAN[1]}"
    if not crawled.exists():
        with serve(work / "pc-rmrb" / "site") as server:  # the corpus's pc-rmrb site
            fast = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=false", "-s", "CONCURRENT_REQUESTS=16",
                    "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16"]
            crawl = subprocess.run([sys.executable, "-m", "epaper", "crawl", "--from", SPAN[0].isoformat(),
                                    "--to", SPAN[1].isoformat(), "--base-url", server.base_url,
                                    "--data", str(crawled), *fast], capture_output=True, text=True)
        if crawl.returncode != 0:
            shutil.rmtree(crawled, ignore_errors=True)
            raise RuntimeError(f"the crawl of the replica failed: {crawl.stderr[-500:]}")
    best = {"old": float("inf"), "new": float("inf")}
    archives = {}
    for _ in range(reps):
        for which in best:
            data = work / "reparse" / f"data-{which}"
            shutil.rmtree(data, ignore_errors=True)
            shutil.copytree(crawled, data)
            child = subprocess.Popen([sys.executable, "-m", "bench.parser_corpus", "--rev", rev,
                                      "--reparse-child", which, str(data)], cwd=REPO,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(child.pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError(f"reparse with the {which} parser failed")
            best[which] = min(best[which], usage.ru_utime + usage.ru_stime)
            archives[which] = _archive(data)
    return best["old"], best["new"], archives["old"] == archives["new"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", default=START_REV, help="the old parser's git revision")
    parser.add_argument("--work", type=Path, help="folder for the replica sites (kept, reused)")
    parser.add_argument("--time", action="store_true", help="also time old and new parsing")
    parser.add_argument("--reparse", action="store_true", help="also time epaper reparse --all, old and new")
    parser.add_argument("--reparse-child", nargs=2, metavar=("WHICH", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reparse_child:
        return reparse_child(args.reparse_child[0], args.rev, args.reparse_child[1])

    from epaper.crawler.settings import CLEAN_CHROME_LINES
    chrome = tuple(CLEAN_CHROME_LINES)

    old = load_parser(args.rev, "parser_old")
    new = load_parser(None, "parser_new")
    work = args.work
    if work is None:
        work = Path(tempfile.mkdtemp(prefix="parser-corpus-"))
        atexit.register(shutil.rmtree, work, ignore_errors=True)
    replica, calendars = replica_files(work)
    real = real_files()

    docs = [HtmlFile(f"random document {i}", d.encode(), REPLICA_ROOT + "pc/content/202308/03/content_1.html",
                     REPLICA_ROOT, "utf-8") for i, d in enumerate(random_documents(DOCUMENT_COUNT))]

    problems: list[str] = []
    for f in replica + real + docs:
        problems += differences(f.name, html_outputs(old, f.body, f.url, f.root, f.charset, chrome),
                                html_outputs(new, f.body, f.url, f.root, f.charset, chrome))
    for name, body in calendars:
        problems += differences(name, {"calendar": attempt(old.founder.parse_period_xml, body)},
                                {"calendar": attempt(new.founder.parse_period_xml, body)})
    strings = fuzz_strings(FUZZ_COUNT)
    for i, s in enumerate(strings):
        problems += differences(f"string {i} {s!r}", text_outputs(old, s, chrome), text_outputs(new, s, chrome))
    url_args = [(REPLICA_ROOT, g, dt.date(2023, 8, 3)) for g in ("pc", "html")]
    problems += differences("url builders",
                            {"calendar_url": [old.founder.calendar_url(*a) for a in url_args],
                             "day_url": [old.founder.day_url(*a, "node_2.htm") for a in url_args],
                             "constants": (old.founder.LATEST_PATHS, old.founder.FRONT_PAGE_GUESSES)},
                            {"calendar_url": [new.founder.calendar_url(*a) for a in url_args],
                             "day_url": [new.founder.day_url(*a, "node_2.htm") for a in url_args],
                             "constants": (new.founder.LATEST_PATHS, new.founder.FRONT_PAGE_GUESSES)})

    for line in problems:
        print(line)
    print(f"compared old ({args.rev}) and new (working tree) on {len(replica) + len(real) + len(calendars)} files "
          f"({len(replica)} replica HTML, {len(calendars)} calendars, {len(real)} real samples)"
          f", {len(docs)} random documents and {len(strings)} strings: {len(problems)} differences")
    if args.time:
        t_old, t_new = timing(old, new, replica)
        n = len(replica)
        print(f"parse time per replica file: old {t_old / n * 1e6:.0f} us, new {t_new / n * 1e6:.0f} us, "
              f"new/old {t_new / t_old:.2f}")
    if args.reparse:
        c_old, c_new, same = reparse_timing(args.rev, work)
        print(f"epaper reparse --all, CPU s: old {c_old:.2f}, new {c_new:.2f}, new/old {c_new / c_old:.2f}; "
              f"archives {'identical' if same else 'DIFFER'}")
        if not same:
            problems.append("reparse archives differ")
    return 1 if problems else 0


if __name__ == "__main__":
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    sys.exit(main())

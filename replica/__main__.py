"""python -m epaper.replica build|serve — see replica/README.md."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import date
from pathlib import Path

from epaper.replica.faults import load_faults
from epaper.replica.build import TEMPLATES


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m epaper.replica", description="Replica Founder e-paper portal")
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="generate a site and its truth.json")
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--from", dest="start", type=_date, required=True)
    b.add_argument("--to", dest="end", type=_date, required=True)
    b.add_argument("--generation", choices=["pc", "html"], default=None)
    b.add_argument("--template", choices=sorted(TEMPLATES), default=None)
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--root", default="/ahjjb/")
    b.add_argument("--media", choices=["small", "real"], default="small",
                   help="page PDFs, scans and images: a few bytes each (default), or real sizes (MBs)")
    b.add_argument("--drift", metavar="KIND@YYYY-MM-DD", default=None,
                   help="change the article template from that date on: author, images, body or links (replica/drift.py)")
    s = sub.add_parser("serve", help="serve a built site on 127.0.0.1")
    s.add_argument("dir", type=Path, help="the --out folder of build (or its site/ folder)")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--root", default="/ahjjb/")
    s.add_argument("--delay", type=float, default=0.0)
    s.add_argument("--faults", type=Path, default=None, help="JSON list of faults")
    s.add_argument("--conditional", choices=["answer", "ignore"], default="answer",
                   help="answer If-None-Match/If-Modified-Since with 304 (default), or ignore them")
    args = p.parse_args(argv)
    if args.cmd == "build":
        from epaper.replica.build import build_site

        generation = args.generation or (TEMPLATES[args.template] if args.template else "pc")
        try:
            site = build_site(args.out, start=args.start, end=args.end, generation=generation,
                              template=args.template, seed=args.seed, root_path=args.root, media=args.media)
            if args.drift:
                from epaper.replica.drift import drift_site

                kind, _, since = args.drift.partition("@")
                drift_site(args.out, kind, _date(since))
        except (ValueError, OSError, argparse.ArgumentTypeError) as exc:
            print(f"replica build: {exc}", file=sys.stderr)
            return 2
        print(site)
        return 0
    from epaper.replica.server import serve

    site = args.dir / "site" if (args.dir / "site").is_dir() else args.dir
    if not site.is_dir():
        print(f"replica serve: no site at {args.dir}", file=sys.stderr)
        return 2
    try:
        faults = load_faults(args.faults) if args.faults else []
    except (OSError, ValueError, TypeError) as exc:
        print(f"replica serve: bad faults file: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with serve(site, args.root, delay=args.delay, faults=faults, port=args.port,
               conditional=args.conditional) as server:
        print(server.base_url, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

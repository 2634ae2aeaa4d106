"""Load the HTML report in headless Chromium: the rendered DOM, script errors, a screenshot.

``python -m greenbench.outputs.browser report/index.html --screenshot report/index.png``
checks the page as a browser shows it (the script ran, no script errors,
one table row per benchmark) and saves a screenshot beside it.  Uses
Debian's ``chromium`` (or ``chromium-browser``/``google-chrome``) command
line only: ``--dump-dom`` after a virtual-time budget, and ``--screenshot``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless=new", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", "--no-first-run",
         "--disable-extensions", "--disable-dev-shm-usage")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass(frozen=True)
class PageCheck:
    dom: str
    ready: bool
    js_errors: str
    rows: int
    estimated_rows: int
    sorted_by: str


def _attr(tag: str, name: str) -> str:
    m = re.search(rf'\b{name}="([^"]*)"', tag)
    return m.group(1) if m else ""


def parse_dom(dom: str) -> PageCheck:
    body = re.search(r"<body\b[^>]*>", dom)
    table = re.search(r'<table id="energy"[^>]*>', dom)
    errors = re.search(r'<pre id="js-errors">(.*?)</pre>', dom, re.S)
    t = table.group(0) if table else ""
    return PageCheck(
        dom=dom,
        ready=bool(body and _attr(body.group(0), "data-ready") == "1"),
        js_errors=errors.group(1).strip() if errors else "(no #js-errors element)",
        rows=int(_attr(t, "data-rows") or -1),
        estimated_rows=int(_attr(t, "data-estimated-rows") or -1),
        sorted_by=_attr(t, "data-sorted-by"),
    )


def _run(chromium: str, args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="greenbench-chromium-") as profile:
        return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout, check=False)


def check_page(page: str | Path, screenshot: str | Path | None = None, *, chromium: str | None = None,
               timeout: float = 120.0, width: int = 1280, height: int = 2400) -> PageCheck:
    """Render ``page`` in headless Chromium; return what the DOM shows (and save a screenshot)."""
    exe = chromium or find_chromium()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
    url = Path(page).resolve().as_uri()
    done = _run(exe, ["--virtual-time-budget=5000", "--dump-dom", url], timeout)
    if done.returncode != 0 or "<html" not in done.stdout:
        raise RuntimeError(f"chromium --dump-dom failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    if screenshot is not None:
        shot = Path(screenshot).resolve()
        shot.parent.mkdir(parents=True, exist_ok=True)
        done2 = _run(exe, ["--virtual-time-budget=5000", f"--window-size={width},{height}",
                           f"--screenshot={shot}", url], timeout)
        if not shot.exists():
            raise RuntimeError(f"chromium --screenshot wrote nothing (exit {done2.returncode}): "
                               f"{done2.stderr.strip()[-500:]}")
    return parse_dom(done.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m greenbench.outputs.browser", description=__doc__.splitlines()[0])
    parser.add_argument("page", help="the report's index.html")
    parser.add_argument("--screenshot", default=None, help="save a PNG screenshot here")
    args = parser.parse_args(argv)
    try:
        check = check_page(args.page, args.screenshot)
    except (FileNotFoundError, RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problems = []
    if not check.ready:
        problems.append("the page's script did not finish")
    if check.js_errors:
        problems.append(f"script errors: {check.js_errors}")
    if problems:
        print(f"error: {args.page}: {'; '.join(problems)}", file=sys.stderr)
        return 1
    print(f"{args.page}: rendered in chromium, {check.rows} benchmark rows ({check.estimated_rows} estimated), "
          f"sorted by {check.sorted_by or '-'}" + (f"; screenshot {args.screenshot}" if args.screenshot else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

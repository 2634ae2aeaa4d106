"""Energy across stored runs: the asv view, for energy.

``greenbench history [--storage .benchmarks] [--machine ID] [--out DIR] [--rule 10%]``
reads the runs pytest-benchmark saved (``--benchmark-autosave`` /
``--benchmark-save``: ``.benchmarks/<machine>/NNNN_*.json``), draws each
benchmark's energy per call across them (x axis: run number, commit id and
date from the stored ``commit_info`` / ``datetime``) and marks every step the
energy gate (:func:`greenbench.gate.compare_entries`, between consecutive
runs, same rule as ``--energy-compare-fail``) calls a regression.  Writes
``history.png``, ``history.md`` and a self-contained ``history.html``.

Runs measured by different meters are not compared with each other (the
step is marked ``meter changed``), exactly as the gate refuses them.
"""

from __future__ import annotations

import argparse
import base64
import html
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from greenbench import atomic, gate
from greenbench import results as R
from greenbench.errors import DataError, GreenbenchError
from greenbench.units import fmt_si

_RUN_FILE = re.compile(r"^(\d+)_.*\.json$")
#: most benchmarks drawn (one panel each); the Markdown table lists them all
MAX_PANELS = 24


@dataclass(frozen=True)
class Run:
    path: Path
    number: int
    commit: str
    date: str
    meter: str | None
    benchmarks: dict[str, R.Bench]

    @property
    def label(self) -> str:
        return f"{self.number:04d} {self.commit[:7] or '?'}"


@dataclass
class Point:
    run: Run
    energy_j: float
    estimated: bool
    verdict: str = ""  # the gate's verdict against the previous run ("" for the first)
    change: float = math.nan
    note: str = ""


@dataclass
class Series:
    name: str
    points: list[Point] = field(default_factory=list)

    @property
    def regressions(self) -> list[Point]:
        return [p for p in self.points if p.verdict == "regression"]


def find_runs(storage: str | Path, machine: str | None = None) -> list[Path]:
    """Stored run files, oldest first (pytest-benchmark numbers them NNNN_...)."""
    root = Path(storage)
    if not root.is_dir():
        raise DataError(f"{root}: no pytest-benchmark storage here (run pytest with --benchmark-autosave first)")
    dirs = [root / machine] if machine else sorted(p for p in root.iterdir() if p.is_dir())
    files = [f for d in dirs if d.is_dir() for f in d.iterdir() if _RUN_FILE.match(f.name)]
    if machine is None and len({f.parent for f in files}) > 1:
        names = ", ".join(sorted({f.parent.name for f in files}))
        raise DataError(f"{root}: runs of several machines ({names}); choose one with --machine")
    return sorted(files, key=lambda f: (int(_RUN_FILE.match(f.name).group(1)), f.name))  # type: ignore[union-attr]


def load_run(path: Path) -> Run:
    data = R.load(path)
    m = _RUN_FILE.match(path.name)
    commit = data.get("commit_info") or {}
    return Run(path=path, number=int(m.group(1)) if m else 0, commit=str(commit.get("id") or ""),
               date=str(data.get("datetime") or commit.get("time") or ""),
               meter=gate.meter_of(data.get("machine_info")),
               benchmarks={str(b.get("fullname") or b.get("name")): b for b in data["benchmarks"]})


def build(runs: Sequence[Run], rule: gate.GateRule) -> list[Series]:
    """Each benchmark's energy per call (the rule's statistic) across runs, with the gate's verdicts."""
    names: list[str] = []
    for run in runs:
        names.extend(n for n, b in run.benchmarks.items() if R.has_energy(b) and n not in names)
    out = []
    for name in names:
        s = Series(name)
        prev: tuple[Run, R.Bench] | None = None
        for run in runs:
            b = run.benchmarks.get(name)
            if b is None or not R.has_energy(b):
                continue
            p = Point(run, R.energy_j(b, rule.field), R.is_estimated(b))
            if prev is not None:
                if prev[0].meter and run.meter and prev[0].meter != run.meter:
                    p.verdict, p.note = "skipped", f"meter changed ({prev[0].meter} -> {run.meter})"
                else:
                    v = gate.compare_entries(prev[1], b, rule)
                    p.verdict, p.change, p.note = v.verdict, v.change, v.reason
            s.points.append(p)
            prev = (run, b)
        out.append(s)
    return out


def plot(series: Sequence[Series], runs: Sequence[Run], path: Path, rule: gate.GateRule) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = sorted(series, key=lambda s: (-len(s.regressions), s.name))[:MAX_PANELS]
    shown = [s for s in shown if s.points]
    if not shown:
        return None
    cols = min(3, len(shown))
    nrows = math.ceil(len(shown) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5.2 * cols, 3.3 * nrows + 0.8), squeeze=False)
    index = {run.path: i for i, run in enumerate(runs)}
    est = any(p.estimated for s in shown for p in s.points)
    for ax, s in zip(axes.flat, shown, strict=False):
        xs = [index[p.run.path] for p in s.points]
        ys = [p.energy_j for p in s.points]
        ax.plot(xs, ys, "-o", color="tab:blue", ms=4, lw=1.2, zorder=2)
        for p, x, y in zip(s.points, xs, ys, strict=True):
            if p.verdict == "regression":
                ax.plot([x], [y], "v", color="tab:red", ms=10, zorder=3)
                ax.annotate(f"regression {p.change:+.0%}", (x, y), xytext=(4, 6), textcoords="offset points",
                            fontsize=7, color="tab:red")
            elif p.verdict == "improved":
                ax.plot([x], [y], "^", color="tab:green", ms=8, zorder=3)
        finite = [y for y in ys if y > 0 and math.isfinite(y)]
        if finite and max(finite) / min(finite) >= 10:
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0, top=max(finite or [1.0]) * 1.25)
        ax.set_title(s.name.split("::")[-1], fontsize=8)
        ax.set_xticks(range(len(runs)), [f"{r.number:04d}\n{r.commit[:7]}\n{r.date[:10]}" for r in runs],
                      fontsize=6)
        ax.set_ylabel(f"energy / call (J, {rule.field})" + (" *" if est else ""), fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(shown):]:
        ax.axis("off")
    fig.suptitle(f"Energy across {len(runs)} stored runs — ▼ regression by the gate ({rule})"
                 + (" — * estimated" if est else ""), fontsize=10)
    fig.tight_layout()
    atomic.save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def markdown(series: Sequence[Series], runs: Sequence[Run], rule: gate.GateRule, png: str | None) -> str:
    est = any(p.estimated for s in series for p in s.points)
    from greenbench.textsafe import md_code, md_text  # issue #21: ids, commits, meters are text, not markup

    md = ["# greenbench energy history", "",
          f"{len(runs)} runs from {md_code(runs[0].path.parent, table=False)} (oldest first); "
          "energy per call, statistic "
          f"`{rule.field}`; regressions called by the energy gate ({rule}) between consecutive runs.", ""]
    if png:
        md += [f"![energy across runs]({png})", ""]
    md += ["| run | commit | date | meter |", "|---|---|---|---|"]
    md += [f"| {r.number:04d} | {md_code(r.commit[:12] or '?')} | {md_text(r.date)} | {md_text(r.meter or '?')} |"
           for r in runs]
    md += ["", "| benchmark | " + " | ".join(md_text(r.label) for r in runs) + " | regressions |",
           "|---|" + "---:|" * len(runs) + "---|"]
    for s in series:
        by_run = {p.run.path: p for p in s.points}
        cells = []
        for r in runs:
            p = by_run.get(r.path)
            if p is None:
                cells.append("-")
                continue
            text = R.mark(fmt_si(p.energy_j, "J"), p.estimated)
            cells.append(f"**{text} ▼ {p.change:+.0%}**" if p.verdict == "regression" else text)
        regs = ", ".join(f"{md_text(p.run.label)} ({p.change:+.0%})" for p in s.regressions) or "-"
        md.append(f"| {md_code(s.name)} | " + " | ".join(cells) + f" | {regs} |")
    if est:
        md += ["", R.ESTIMATED_LEGEND + "."]
    return "\n".join(md) + "\n"


def write_history(storage: str | Path, out_dir: str | Path, *, machine: str | None = None,
                  rule: gate.GateRule | None = None) -> dict[str, Path]:
    """Read the stored runs, write history.png / .md / .html into ``out_dir``."""
    rule = rule or gate.GateRule.parse("10%")
    runs = [load_run(p) for p in find_runs(storage, machine)]
    if len(runs) < 2:
        raise DataError(f"{storage}: {len(runs)} stored run(s); a history needs at least two")
    series = build(runs, rule)
    if not series:
        raise DataError(f"{storage}: no stored run holds greenbench energy")
    out = Path(out_dir)
    written: dict[str, Path] = {}
    png = plot(series, runs, out / "history.png", rule)
    if png:
        written["png"] = png
    md = markdown(series, runs, rule, "history.png" if png else None)
    written["md"] = atomic.write_text(out / "history.md", md)
    written["html"] = atomic.write_text(out / "history.html", to_html(md, png))
    return written


def to_html(md: str, png: Path | None) -> str:
    from markdown_it import MarkdownIt

    body = str(MarkdownIt("commonmark", {"html": False}).enable("table").render(md))
    if png is not None:
        uri = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")
        body = body.replace('src="history.png"', f'src="{html.escape(uri)}"')
    style = ("body{font:14px system-ui,sans-serif;max-width:1400px;margin:auto;padding:16px}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:100%}")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>greenbench energy history</title>'
            f"<style>{style}</style></head><body>{body}</body></html>\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="greenbench history", description=__doc__.splitlines()[0])
    parser.add_argument("--storage", default=".benchmarks", help="pytest-benchmark storage (default .benchmarks)")
    parser.add_argument("--machine", default=None, help="machine folder under the storage (when there are several)")
    parser.add_argument("--out", default="history", help="output folder (default: history)")
    parser.add_argument("--rule", default="10%", help="the gate's rule between consecutive runs (default 10%%)")
    args = parser.parse_args(argv)
    try:
        written = write_history(args.storage, args.out, machine=args.machine, rule=gate.GateRule.parse(args.rule))
    except GreenbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("history written: " + ", ".join(str(p) for p in written.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

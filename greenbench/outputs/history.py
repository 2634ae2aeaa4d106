"""Energy across stored runs: the asv view, for energy.

``greenbench history [--storage .benchmarks] [--machine ID] [--out DIR] [--rule 10%]``
reads the runs pytest-benchmark saved (``--benchmark-autosave`` /
``--benchmark-save``: ``.benchmarks/<machine>/NNNN_*.json``), draws each
benchmark's energy per call across them (x axis: run number, commit id and
date from the stored ``commit_info`` / ``datetime``) and marks every step the
energy gate (:func:`greenbench.gate.compare_entries`, between consecutive
runs, same rule as ``--energy-compare-fail``) calls a regression.  Writes
``history.png``, ``history.md`` and a self-contained ``history.html``.

A change of set-up -- the meter, the ``--energy-codecarbon`` setting or the
machine -- is never compared (the step is marked ``set-up changed``, exactly
as the gate refuses it) and never joined by a line: each set-up is its own
segment, separated by a labelled dashed line, so a model-meter run and a
counted-meter run never read as a 7-16x "improvement".  A change of the share
of contended rounds by >= 25 points is marked too (dotted line).  Each point
carries a band of its run's spread (q1-q3 of energy per call over the rounds
the gate uses); regressions (red), inconclusive steps (orange) and
improvements (green) are marked; axes use SI prefixes
(``matplotlib.ticker.EngFormatter``).  ``history.html`` shows each run's
commit id, message (read from git when the storage sits in a clone) and date
on hover over its points.
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
from typing import Any

from greenbench import gate
from greenbench import results as R
from greenbench.errors import DataError, GreenbenchError
from greenbench.io import atomic
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
    codecarbon: bool | None = None  # --energy-codecarbon (None: not recorded)
    machine: str = ""  # node and CPU as pytest-benchmark recorded them
    contended_share: float | None = None  # contended rounds / rounds measured, over the run's benchmarks
    message: str = ""  # the commit's subject line, when git knows the commit

    @property
    def label(self) -> str:
        return f"{self.number:04d} {self.commit[:7] or '?'}"

    @property
    def setup(self) -> tuple[str, bool, str]:
        """What must match for two runs to be compared: meter, CodeCarbon setting, machine."""
        return (self.meter or "?", bool(self.codecarbon), self.machine)


#: a change of the contended share by this much (0-1) between consecutive runs is marked on the plot
CONTENDED_STEP = 0.25


def setup_change(a: Run, b: Run) -> str:
    """Why ``a`` and ``b`` cannot be compared (a change of set-up), or ""."""
    parts = []
    if a.meter and b.meter and a.meter != b.meter:
        parts.append(f"meter {a.meter} → {b.meter}")
    if bool(a.codecarbon) != bool(b.codecarbon):
        parts.append(f"--energy-codecarbon {'on' if a.codecarbon else 'off'} → {'on' if b.codecarbon else 'off'}")
    if a.machine and b.machine and a.machine != b.machine:
        parts.append(f"machine {a.machine} → {b.machine}")
    return "; ".join(parts)


@dataclass
class Point:
    run: Run
    energy_j: float
    estimated: bool
    verdict: str = ""  # the gate's verdict against the previous run ("" for the first)
    change: float = math.nan
    note: str = ""
    low: float = math.nan  # the run's spread of energy per call (q1, q3)
    high: float = math.nan


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


def _contended_share(benchmarks: Sequence[R.Bench]) -> float | None:
    measured = contended = 0
    for b in benchmarks:
        e = R.energy(b) if R.has_energy(b) else None
        if not e:
            continue
        n = e.get("rounds_measured") or (e.get("per_call_j") or {}).get("rounds")
        k = e.get("contended_rounds")
        if isinstance(n, int) and isinstance(k, int) and n > 0:
            measured, contended = measured + n, contended + min(k, n)
    return contended / measured if measured else None


def commit_message(commit: str, cwd: Path) -> str:
    """The commit's subject line from git (run in ``cwd``), or "" when git does not know it."""
    import subprocess

    if not re.fullmatch(r"[0-9a-fA-F]{4,64}", commit):
        return ""
    try:
        proc = subprocess.run(["git", "show", "-s", "--format=%s", commit], cwd=cwd, capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout.strip().splitlines()[0][:200] if proc.returncode == 0 and proc.stdout.strip() else ""


def load_run(path: Path) -> Run:
    data = R.load(path)
    m = _RUN_FILE.match(path.name)
    commit = data.get("commit_info") or {}
    mi = data.get("machine_info") or {}
    gb: Any = mi.get("greenbench") if isinstance(mi.get("greenbench"), dict) else {}
    cc: Any = gb.get("codecarbon") if isinstance(gb.get("codecarbon"), dict) else None
    benchmarks = data["benchmarks"]
    codecarbon = bool(cc.get("on")) if cc is not None else (
        True if any("codecarbon" in (b.get("extra_info") or {}) for b in benchmarks) else None)
    cpu_info: Any = mi.get("cpu") if isinstance(mi.get("cpu"), dict) else {}
    cpu = cpu_info.get("brand_raw")
    machine = " / ".join(str(x) for x in (mi.get("node"), cpu) if x)
    commit_id = str(commit.get("id") or "")
    return Run(path=path, number=int(m.group(1)) if m else 0, commit=commit_id,
               date=str(data.get("datetime") or commit.get("time") or ""),
               meter=gate.meter_of(mi), benchmarks={str(b.get("fullname") or b.get("name")): b for b in benchmarks},
               codecarbon=codecarbon, machine=machine, contended_share=_contended_share(benchmarks),
               message=commit_message(commit_id, path.parent))


def _spread(b: R.Bench) -> tuple[float, float]:
    """The run's spread of energy per call: q1-q3 over the rounds the gate uses (clean ones when enough)."""
    e = R.energy(b) or {}
    for key in ("clean_j", "per_call_j"):
        stats = e.get(key)
        if isinstance(stats, dict) and isinstance(stats.get("q1"), (int, float)) \
                and isinstance(stats.get("q3"), (int, float)):
            return float(stats["q1"]), float(stats["q3"])
    return math.nan, math.nan


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
            p.low, p.high = _spread(b)
            if prev is not None:
                changed = setup_change(prev[0], run)
                if changed:
                    p.verdict, p.note = "skipped", f"set-up changed ({changed}): not compared"
                else:
                    v = gate.compare_entries(prev[1], b, rule)
                    p.verdict, p.change, p.note = v.verdict, v.change, v.reason
            s.points.append(p)
            prev = (run, b)
        out.append(s)
    return out


#: marker, colour and label of each step verdict drawn on the history
STEP_MARKS = {"regression": ("v", "tab:red", "regression (gate)"),
              "inconclusive": ("D", "tab:orange", "inconclusive step"),
              "improved": ("^", "tab:green", "improvement (gate)")}
DPI = 110


def _segments(points: Sequence[Point]) -> list[list[Point]]:
    """Consecutive points of one set-up (a change of meter, CodeCarbon setting or machine starts a new one)."""
    out: list[list[Point]] = []
    for p in points:
        if out and not setup_change(out[-1][-1].run, p.run):
            out[-1].append(p)
        else:
            out.append([p])
    return out


def _plot_text(text: str) -> str:
    """Text from a run (test id, commit, date) for a plot label: no control bytes, no mathtext (issue #21)."""
    from greenbench.io.text import plain

    return "\n".join(plain(line) for line in str(text).split("\n")).replace("$", r"\$")


def plot(series: Sequence[Series], runs: Sequence[Run], path: Path, rule: gate.GateRule,
         areas: list[dict[str, Any]] | None = None) -> Path | None:
    """Draw the history; ``areas`` (when given) receives each point's pixel position and hover text."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import EngFormatter, LogLocator, NullFormatter

    shown = sorted(series, key=lambda s: (-len(s.regressions), s.name))[:MAX_PANELS]
    shown = [s for s in shown if s.points]
    if not shown:
        return None
    cols = min(3, len(shown))
    nrows = math.ceil(len(shown) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5.2 * cols, 3.4 * nrows + 1.3), squeeze=False, dpi=DPI)
    index = {run.path: i for i, run in enumerate(runs)}
    est = any(p.estimated for s in shown for p in s.points)
    colours = ["tab:blue", "tab:purple", "tab:brown", "tab:cyan", "tab:olive"]
    setups = list(dict.fromkeys(r.setup for r in runs))
    drawn: list[tuple[Any, Point, float, float]] = []
    for ax, s in zip(axes.flat, shown, strict=False):
        for seg in _segments(s.points):
            colour = colours[setups.index(seg[0].run.setup) % len(colours)]
            xs = [index[p.run.path] for p in seg]
            ys = [p.energy_j for p in seg]
            ax.plot(xs, ys, "-o", color=colour, ms=4, lw=1.2, zorder=2)
            lo = [p.low for p in seg]
            hi = [p.high for p in seg]
            if all(math.isfinite(v) for v in lo + hi):
                if len(seg) > 1:
                    ax.fill_between(xs, lo, hi, color=colour, alpha=0.18, lw=0, zorder=1)
                else:
                    ax.vlines(xs, lo, hi, color=colour, alpha=0.4, lw=4, zorder=1)
            for p, x, y in zip(seg, xs, ys, strict=True):
                drawn.append((ax, p, float(x), float(y)))
                mark = STEP_MARKS.get(p.verdict)
                if mark:
                    ax.plot([x], [y], mark[0], color=mark[1], ms=9 if p.verdict != "inconclusive" else 7, zorder=3)
                    if p.verdict == "regression":
                        ax.annotate(f"{p.change:+.0%}", (x, y), xytext=(4, 6), textcoords="offset points",
                                    fontsize=7, color="tab:red")
        for i in range(1, len(runs)):  # set-up and contention changes between consecutive runs
            changed = setup_change(runs[i - 1], runs[i])
            if changed:  # labels run along the line, so neighbouring changes never overlap
                ax.axvline(i - 0.5, color="black", ls="--", lw=1.1, zorder=0)
                ax.text(i - 0.56, 0.98, _plot_text(changed.replace("; ", "\n")), transform=ax.get_xaxis_transform(),
                        fontsize=5.5, va="top", ha="right", rotation=90, color="black")
            share_a, share_b = runs[i - 1].contended_share, runs[i].contended_share
            if share_a is not None and share_b is not None and abs(share_b - share_a) >= CONTENDED_STEP:
                ax.axvline(i - 0.5, color="tab:gray", ls=":", lw=1.1, zorder=0)
                ax.text(i - 0.44, 0.02, f"contended {share_a:.0%}→{share_b:.0%}", transform=ax.get_xaxis_transform(),
                        fontsize=5.5, va="bottom", ha="left", rotation=90, color="tab:gray")
        values = [v for p in s.points for v in (p.energy_j, p.low, p.high) if v > 0 and math.isfinite(v)]
        if values and max(values) / min(values) >= 10:
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))  # labels within a decade too
            ax.yaxis.set_minor_formatter(NullFormatter())
        else:
            ax.set_ylim(bottom=0, top=max(values or [1.0]) * 1.3)
        ax.yaxis.set_major_formatter(EngFormatter(unit="J"))
        ax.set_xlim(-0.5, len(runs) - 0.5)
        ax.set_title(_plot_text(s.name.split("::")[-1]), fontsize=8)
        ax.set_xticks(range(len(runs)), [_plot_text(f"{r.number:04d}\n{r.commit[:7]}\n{r.date[:10]}") for r in runs],
                      fontsize=6)
        ax.set_ylabel(f"energy / call ({rule.field})" + (" *" if est else ""), fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(shown):]:
        ax.axis("off")
    handles = [Line2D([], [], color="tab:blue", marker="o", ms=4, label=f"{rule.field} energy per call"),
               Patch(color="tab:blue", alpha=0.18, label="run's spread (q1-q3 of rounds)"),
               *[Line2D([], [], ls="", marker=m, color=c, label=lab) for m, c, lab in STEP_MARKS.values()],
               Line2D([], [], color="black", ls="--", label="set-up changed (not compared, not joined)"),
               Line2D([], [], color="tab:gray", ls=":", label=f"contended share moved >= {CONTENDED_STEP:.0%}")]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.suptitle(f"Energy across {len(runs)} stored runs — steps judged by the energy gate ({rule})"
                 + (" — * estimated" if est else ""), fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 0.97))
    if areas is not None:
        fig.canvas.draw()
        height = fig.get_size_inches()[1] * DPI
        for ax, p, xd, yd in drawn:
            if not (math.isfinite(yd) and yd > 0):
                continue
            px, py = ax.transData.transform((xd, yd))
            areas.append({"x": round(float(px)), "y": round(float(height - py)), "point": p})
    atomic.save_figure(fig, path, dpi=DPI)
    plt.close(fig)
    return path


def markdown(series: Sequence[Series], runs: Sequence[Run], rule: gate.GateRule, png: str | None) -> str:
    est = any(p.estimated for s in series for p in s.points)
    from greenbench.io.text import md_code, md_text  # issue #21: ids, commits, meters are text, not markup

    md = ["# greenbench energy history", "",
          f"{len(runs)} runs from {md_code(runs[0].path.parent, table=False)} (oldest first); "
          "energy per call, statistic "
          f"`{rule.field}`; regressions called by the energy gate ({rule}) between consecutive runs.", ""]
    if png:
        md += [f"![energy across runs]({png})", ""]
    md += ["| run | commit | message | date | meter | CodeCarbon | machine | contended |",
           "|---|---|---|---|---|---|---|---:|"]
    for i, r in enumerate(runs):
        changed = setup_change(runs[i - 1], r) if i else ""
        share = f"{r.contended_share:.0%}" if r.contended_share is not None else "-"
        md.append(f"| {r.number:04d} | {md_code(r.commit[:12] or '?')} | {md_text(r.message or '-')} | "
                  f"{md_text(r.date)} | {md_text(r.meter or '?')}"
                  + (f" **(set-up changed: {md_text(changed)})**" if changed else "")
                  + f" | {'on' if r.codecarbon else 'off'} | {md_text(r.machine or '?')} | {share} |")
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
            if p.verdict == "regression":
                text = f"**{text} ▼ {p.change:+.0%}**"
            elif p.verdict == "inconclusive":
                text = f"{text} ◆ {p.change:+.0%}?"
            elif p.verdict == "skipped" and p.note.startswith("set-up changed"):
                text = f"{text} ∥"
            cells.append(text)
        regs = ", ".join(f"{md_text(p.run.label)} ({p.change:+.0%})" for p in s.regressions) or "-"
        md.append(f"| {md_code(s.name)} | " + " | ".join(cells) + f" | {regs} |")
    md += ["", "▼ regression and ◆ inconclusive step (by the gate, against the previous run); ∥ set-up changed "
           "(meter, --energy-codecarbon or machine): not compared."]
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
    areas: list[dict[str, Any]] = []
    png = plot(series, runs, out / "history.png", rule, areas)
    if png:
        written["png"] = png
    md = markdown(series, runs, rule, "history.png" if png else None)
    written["md"] = atomic.write_text(out / "history.md", md)
    written["html"] = atomic.write_text(out / "history.html", to_html(md, png, areas, series))
    return written


def hover_text(p: Point, name: str) -> str:
    """What hovering a point of history.html shows: run, commit, message, date, figure and step."""
    r = p.run
    lines = [f"run {r.number:04d}, commit {r.commit[:12] or '?'}: {r.message or '(message not known to git here)'}",
             r.date, f"{name.rsplit('::', maxsplit=1)[-1]}: {R.mark(fmt_si(p.energy_j, 'J'), p.estimated)}"]
    if p.verdict and p.verdict != "ok":
        lines.append(p.verdict + (f" {p.change:+.0%}" if math.isfinite(p.change) else "")
                     + (f": {p.note}" if p.note else ""))
    return "\n".join(lines)


def to_html(md: str, png: Path | None, areas: Sequence[dict[str, Any]] = (),
            series: Sequence[Series] = ()) -> str:
    from markdown_it import MarkdownIt

    body = str(MarkdownIt("commonmark", {"html": False}).enable("table").render(md))
    if png is not None:
        uri = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")
        owner = {id(p): s.name for s in series for p in s.points}
        spots = "".join(
            f'<area shape="circle" coords="{a["x"]},{a["y"]},7" '
            f'title="{html.escape(hover_text(a["point"], owner.get(id(a["point"]), "")), quote=True)}" '
            f'alt="{html.escape(a["point"].run.label, quote=True)}">' for a in areas)
        body = body.replace('src="history.png"', f'src="{html.escape(uri)}" usemap="#points"')
        if spots:
            body += '<map name="points">' + spots + "</map>"
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

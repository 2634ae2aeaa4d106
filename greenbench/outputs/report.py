"""The report folder: Markdown summary, PNG plots, the run's results.json.

``python -m greenbench.outputs.report RESULTS.json --out DIR [--sections MODULE]``
rebuilds it from any saved pytest-benchmark JSON; the plugin calls
:func:`write_report` when given ``--energy-report DIR``, with the sections
that suites add through the ``pytest_greenbench_report_sections`` hook.  Every energy figure not read off a hardware
counter carries the estimated marker, in tables and plot labels alike.
"""

from __future__ import annotations

import argparse
import importlib
import math
import re
import shutil
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from greenbench import results as R
from greenbench.errors import GreenbenchError
from greenbench.io import atomic
from greenbench.io.text import md_code, md_text, plain
from greenbench.units import fmt_si

HIGHER_IS_BETTER = ("accuracy", "iou", "psnr", "is_", "ssim", "f1")


def higher_is_better(metric: str) -> bool:
    """Quality direction from the metric's name (accuracy up, FID/loss/distance down)."""
    return any(metric.startswith(p) or p in metric for p in HIGHER_IS_BETTER)


def pareto_front(points: Sequence[tuple[float, float]], higher_better: bool) -> list[int]:
    """Indices of points not dominated in (lower energy, better quality), by energy."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1] if higher_better else points[i][1]))
    front: list[int] = []
    best = -math.inf if higher_better else math.inf
    for i in order:
        q = points[i][1]
        if (higher_better and q > best) or (not higher_better and q < best):
            front.append(i)
            best = q
    return front


def group_colours(n: int) -> list[Any]:
    """``n`` distinct colours: tab10, then tab20, then evenly spaced hues (never reused)."""
    import matplotlib

    if n <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        cmap = matplotlib.colormaps["tab20"]
        return [cmap(i) for i in (*range(0, 20, 2), *range(1, 20, 2))][:n]
    return [matplotlib.colormaps["hsv"](i / n) for i in range(n)]


def phase_of(b: R.Bench) -> str:
    """``training`` / ``inference`` from the group name ('train' / 'infer' in it), else ""."""
    text = f"{b.get('group') or ''}".lower()
    if "train" in text:
        return "training"
    if "infer" in text or "predict" in text:
        return "inference"
    return ""


def _label(b: R.Bench) -> str:
    # control bytes never reach a plot label, and '$' never starts matplotlib's mathtext
    return plain(b.get("name", "?")).removeprefix("test_").replace("$", r"\$")


_ID_BREAKS = re.compile(r"(?<=::)|(?<=/)|(?=\[)|(?<=-)|(?<=,)")


def wrap_id(text: str, width: int = 36, max_lines: int = 3) -> str:
    """A test id folded onto lines at its path and parameter boundaries (``::``, ``/``, ``[``, ``-``, ``,``).

    Never mid-token: a token longer than ``width`` keeps its own line whole; beyond ``max_lines`` the
    last line ends with ``…``.
    """
    tokens = [t for t in _ID_BREAKS.split(text) if t]
    lines: list[str] = []
    for t in tokens:
        if lines and len(lines[-1]) + len(t) <= width:
            lines[-1] += t
        else:
            lines.append(t)
    if len(lines) > max_lines:
        lines = [*lines[:max_lines - 1], lines[max_lines - 1] + "…"]
    return "\n".join(lines)


def threads_text(threads: Any) -> str:
    """The recorded thread count, or what "not set" means (never "None")."""
    if isinstance(threads, int) and not isinstance(threads, bool) and threads > 0:
        return str(threads)
    return "library default (OMP_NUM_THREADS not set)"


def _si_axis(axis: Any, log: bool) -> None:
    """SI tick labels (mJ, µJ) on an energy axis, a few of them, never run together."""
    from matplotlib.ticker import EngFormatter, LogLocator, MaxNLocator, NullFormatter

    if log:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=8))
        axis.set_minor_formatter(NullFormatter())
    else:
        axis.set_major_locator(MaxNLocator(nbins=4))
    axis.set_major_formatter(EngFormatter(unit="J", places=None))


def plot_energy(benchmarks: list[R.Bench], path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(b, R.energy_j(b)) for b in benchmarks if R.energy_j(b) > 0]
    if not rows:
        return None
    rows.sort(key=lambda r: (str(r[0].get("group")), r[1]))
    def group(b: R.Bench) -> str:  # benchmarks without a group are "(no group)", never "None"
        g = b.get("group")
        return plain(g).replace("$", r"\$") if g else "(no group)"

    groups = sorted({group(b) for b, _ in rows})
    colours = dict(zip(groups, group_colours(len(groups)), strict=True))  # one distinct colour per group
    labels = [R.mark(wrap_id(_label(b), 48), R.is_estimated(b)) for b, _ in rows]
    lines = sum(label.count("\n") + 1 for label in labels)
    fig, ax = plt.subplots(figsize=(10, 0.22 * lines + 0.08 * len(rows) + 1.8))
    energies = [e for _, e in rows]
    ax.barh(range(len(rows)), energies, color=[colours[group(b)] for b, _ in rows])
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    log = max(energies) / min(energies) >= 10  # a log axis only where the energies span a decade
    if log:
        ax.set_xscale("log")
    _si_axis(ax.xaxis, log)
    est = any(R.is_estimated(b) for b, _ in rows)
    for i, (b, e) in enumerate(rows):  # value labels: a bar's length alone is hard to read on a log axis
        ax.annotate(R.mark(fmt_si(e, "J"), R.is_estimated(b)), (e, i), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=6)
    ax.set_xlim(right=max(energies) * (4 if log else 1.15))
    ax.set_xlabel("energy per call (median over rounds" + (", log scale" if log else "") + ")"
                  + (" — * estimated" if est else ""))
    ax.set_title("Energy per workload" + (" (estimated: CPU-time model)" if est else ""))
    if groups != ["(no group)"]:  # a legend only when there are groups to tell apart
        handles = [plt.Rectangle((0, 0), 1, 1, color=colours[g]) for g in groups]
        ax.legend(handles, groups, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.invert_yaxis()
    fig.tight_layout()
    atomic.save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def plot_pareto(benchmarks: list[R.Bench], path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    by_metric: dict[str, list[tuple[R.Bench, float, float]]] = {}
    for b in benchmarks:
        e = R.energy_j(b)
        if not e > 0:
            continue
        for metric, q in R.quality(b).items():
            if math.isfinite(q):
                # training runs and inference passes never share a front: one panel per phase
                phase = phase_of(b)
                by_metric.setdefault(f"{metric} — {phase}" if phase else metric, []).append((b, e, q))
    # a panel needs two points that differ in both energy and quality to say anything
    metrics = [m for m, pts in sorted(by_metric.items()) if len(pts) >= 2
               and len({q for _, _, q in pts}) > 1 and len({e for _, e, _ in pts}) > 1]
    if not metrics:
        return None
    cols = min(3, len(metrics))
    rows_n = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.6 * cols, 3.8 * rows_n), squeeze=False)
    est = any(R.is_estimated(b) for b in benchmarks)
    for ax, panel in zip(axes.flat, metrics, strict=False):
        pts = by_metric[panel]
        metric, _, phase = panel.partition(" — ")
        hib = higher_is_better(metric)
        front = pareto_front([(e, q) for _, e, q in pts], hib)
        ax.scatter([e for _, e, _ in pts], [q for _, _, q in pts], s=18, color="tab:blue", zorder=2)
        fx = [pts[i][1] for i in front]
        fy = [pts[i][2] for i in front]
        ax.step(fx, fy, where="post", color="tab:green", lw=1.2, label="Pareto front", zorder=1)
        for b, e, q in pts:  # ids folded at their path/parameter boundaries, never cut mid-token
            ax.annotate(wrap_id(_label(b), 24, 2), (e, q), fontsize=5.5, xytext=(2, 2), textcoords="offset points")
        energies = [e for _, e, _ in pts]
        log = max(energies) / min(energies) >= 10  # a log axis only where the energies span a decade
        if log:
            ax.set_xscale("log")
        _si_axis(ax.xaxis, log)
        ax.set_xlabel("energy per call" + (" *estimated" if est else ""))
        ax.set_ylabel(f"{metric} ({'higher' if hib else 'lower'} is better)")
        ax.set_title(f"{metric}" + (f" ({phase})" if phase else ""), fontsize=9)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    fig.suptitle("Energy vs quality" + (" — energy estimated (CPU-time model)" if est else ""), fontsize=10)
    fig.tight_layout()
    atomic.save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def summary_table(benchmarks: list[R.Bench]) -> str:
    lines = [
        "| group | benchmark | time (median) | energy / call | power | CO2e / call | quality | meter |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for b in sorted(benchmarks, key=lambda b: (str(b.get("group")), str(b.get("name")))):
        est = R.is_estimated(b)
        q = ", ".join(f"{md_text(k)} {v:.4g}" for k, v in R.quality(b).items()) or "-"
        lines.append(
            f"| {md_text(b.get('group') or '-')} | {md_code(b.get('name'))} | {fmt_si(R.time_s(b), 's')} | "
            f"{R.fmt_energy(b)} | {R.mark(fmt_si(R.power_w(b), 'W'), est)} | "
            f"{R.mark(fmt_si(R.co2e_g(b), 'g'), est)} | {q} | {md_text(R.source(b))} |"
        )
    return "\n".join(lines)


def render_sections(sections: Sequence[Any], benchmarks: list[R.Bench], out_dir: Path) -> tuple[list[str], list[str]]:
    """Markdown of each section (see greenbench.plugin.hookspecs), and the errors of those that failed."""
    parts: list[str] = []
    errors: list[str] = []
    for section in sections:
        title = str(getattr(section, "TITLE", section))
        try:
            body = section.render(benchmarks, out_dir)
        except Exception as exc:  # a broken section must not hide the rest of the report
            errors.append(f"section {title}: {type(exc).__name__}: {exc}")
            traceback.print_exc(file=sys.stderr)
            body = f"_This section failed to render: {type(exc).__name__}: {exc}_"
        if body:
            parts.append(f"## {title}\n\n{body.strip()}\n")
    return parts, errors


def import_sections(names: Sequence[str]) -> list[Any]:
    """Section objects from module names: a module with ``load_sections()`` gives its list, else itself."""
    out: list[Any] = []
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise GreenbenchError(f"--sections {name}: cannot import it ({exc})") from None
        loader = getattr(module, "load_sections", None)
        out.extend(loader() if callable(loader) else [module])
    return out


def write_report(output: dict[str, Any], out_dir: str | Path, sections: Sequence[Any] = (),
                 verdicts: Sequence[Any] = (), artifacts: str | Path | None = None,
                 *, what: str = "--energy-report") -> Path:
    """Write ``results.json``, plots, ``README.md`` and ``index.html`` into ``out_dir``; return the Markdown path.

    ``verdicts``: the energy gate's (greenbench.gate.Verdict), shown in the HTML page when given.
    ``what``: the option that named the folder, in error messages (``--out`` for ``greenbench report``).

    The folder is built beside ``out_dir`` and swapped in whole (:func:`greenbench.io.atomic.write_folder`):
    a kill or a concurrent run never leaves files of two runs mixed, and a non-empty folder greenbench
    did not write (no ``.greenbench-report`` marker) is refused, never overwritten.
    """
    errors: list[str] = []

    def fill(stage: Path) -> None:
        if artifacts is not None and Path(artifacts).is_dir() and any(Path(artifacts).iterdir()):
            # the run's pictures (session.artifacts_dir) join the report, linked as artifacts/...
            shutil.copytree(artifacts, stage / "artifacts")
        errors.extend(_fill_report(output, stage, sections, verdicts))

    interrupted = bool((output.get("greenbench") or {}).get("interrupted"))
    path = atomic.write_folder(out_dir, fill, marker={"interrupted": interrupted}, what=what) / "README.md"
    if errors:
        raise GreenbenchError(f"report written to {path}, but {len(errors)} section(s) failed: {errors[0]}")
    return path


def _fill_report(output: dict[str, Any], out: Path, sections: Sequence[Any], verdicts: Sequence[Any]) -> list[str]:
    """Write the report's files into the (staging) folder ``out``; return the section errors."""
    atomic.write_json(out / "results.json", output)
    benchmarks = [b for b in output.get("benchmarks", []) if R.has_energy(b)]
    mi = output.get("machine_info") or {}
    gb = mi.get("greenbench") or {}
    meter = gb.get("meter") or {}
    cpu = (mi.get("cpu") or {}).get("brand_raw") or mi.get("processor") or "?"
    est = any(R.is_estimated(b) for b in benchmarks)
    t = md_text  # everything below that came from the run's files is text, never markup (issue #21)
    md = [
        "# greenbench report\n",
        f"- when: {t(output.get('datetime', '?'))}; commit: {t((output.get('commit_info') or {}).get('id', '?'))}",
        f"- machine: {t(mi.get('node', '?'))} — {t(cpu)}, {t(mi.get('system', '?'))}, "
        f"Python {t(mi.get('python_version', '?'))}",
        f"- meter: **{t(meter.get('source', '?'))}** ("
        + ("estimated" if meter.get("estimated", True) is not False else "hardware counter")
        + ")"
        + (f" — {t(meter.get('reason'))}" if meter.get("reason") else ""),
        f"- threads: {t(threads_text(gb.get('threads')))}; device: {t(gb.get('device', '?'))}; "
        f"carbon intensity: {t(gb.get('intensity_label', '?'))}",
        f"- {len(benchmarks)} benchmarks with energy; figures are per call, median over rounds.",
    ]
    if est:
        md.append(f"- {R.ESTIMATED_LEGEND}. No RAPL/NVML counter was readable: energy comes from the "
                  "CPU-time model (the process tree's CPU time x the CPU's per-core power + memory; "
                  "the meter line above lists its assumptions).")
    if (output.get("greenbench") or {}).get("interrupted"):
        md.append("- **This run was interrupted** (Ctrl-C or SIGTERM): benchmarks after the interruption are "
                  "missing, and the energy gate refuses this run as a baseline.")
    md.append("")
    if plot_energy(benchmarks, out / "energy_per_workload.png"):
        md.append("![energy per workload](energy_per_workload.png)\n")
    if plot_pareto(benchmarks, out / "energy_vs_quality.png"):
        md.append("![energy vs quality, Pareto front per metric](energy_vs_quality.png)\n")
    md.append("## All benchmarks\n")
    md.append(summary_table(benchmarks) + "\n")
    warned = [(b["name"], w) for b in benchmarks for w in (R.energy(b) or {}).get("warnings", [])]
    if warned:
        md.append(f"<details><summary>Measurement warnings ({len(warned)})</summary>\n")
        md.extend(f"- {md_code(n, table=False)}: {md_text(w)}" for n, w in warned)
        md.append("\n</details>\n")
    parts, errors = render_sections(sections, output.get("benchmarks", []), out)
    md.extend(parts)
    if errors:
        md.append("## Section errors\n")
        md.extend(f"- {md_text(e)}" for e in errors)
    atomic.write_text(out / "README.md", "\n".join(md) + "\n")
    from greenbench.outputs.html import write_html

    write_html(output, out, sections_md=parts, verdicts=verdicts, errors=errors)
    return errors


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="greenbench report", description=__doc__.splitlines()[0])
    parser.add_argument("results", help="a pytest-benchmark JSON file (--benchmark-json / autosave)")
    parser.add_argument("--out", default="report", help="report folder (default: report)")
    parser.add_argument("--sections", action="append", default=[], metavar="MODULE",
                        help="also render the report sections of this module (e.g. bench.sections); repeatable")
    args = parser.parse_args(argv)
    try:
        path = write_report(R.load(args.results), args.out, sections=import_sections(args.sections), what="--out")
    except GreenbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"report written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

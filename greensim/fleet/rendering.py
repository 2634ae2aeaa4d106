"""Rendering: a section of :mod:`greensim.fleet` (its docstring tells the whole story)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

import numpy as np

from greenbench.io.atomic import figure_format
from greensim.fleet.keys import METRICS, MODES, PROJECTED_NOTE
from greensim.fleet.results import FleetResult
from greensim.fleet.scenario_files import _short
from greensim.fleet.sweeps import SweepResult


def _t(g: float) -> str:
    return f"{g / 1e6:,.3f}"


def render_fleet(result: FleetResult, file: IO[str] | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result.spec.title} — {PROJECTED_NOTE}", title_justify="left")
    for col in ("home region", "jobs", "energy (MWh)", "baseline t", "temporal t", "geographic t", "both t",
                "saved: temporal", "geographic", "both"):
        table.add_column(col, justify="left" if col == "home region" else "right")
    for region in result.spec.regions:
        s = {m: result.sums[m][region] for m in METRICS}
        base = s["baseline_g"]
        fr = [1.0 - s[f"{m}_g"] / base if base > 0 else 0.0 for m in MODES[1:]]
        table.add_row(region, f"{int(s['jobs']):,}", f"{s['energy_kwh'] / 1e3:,.1f}",
                      *(_t(s[f"{m}_g"]) for m in MODES), *(f"{f:.1%}" for f in fr))
    tot = result.totals
    table.add_row("total", f"{int(tot['jobs']):,}", f"{tot['energy_kwh'] / 1e3:,.1f}",
                  *(_t(tot[f"{m}_g"]) for m in MODES), *(f"{result.saving_fraction(m):.1%}" for m in MODES[1:]),
                  style="bold")
    console = Console(file=file, width=160, markup=False, highlight=False)
    console.print(table)
    landed = ", ".join(f"{r} {int(result.sums['both_landed_jobs'][r]):,}" for r in result.spec.regions)
    console.print(f"where the jobs run when shifted in time and space: {landed}")
    console.print("t = tonnes CO2e (projected).  saved = 1 − shifted ÷ baseline (baseline: home region, "
                  "start at submit).")


def render_sweep(result: SweepResult, file: IO[str] | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result.scenario.spec.title} (sweep) — {PROJECTED_NOTE}", title_justify="left")
    for key in result.scenario.sweep:
        table.add_column(key)
    for col in ("jobs", "baseline t", "temporal t", "geographic t", "both t", "saved: temporal", "geographic",
                "both"):
        table.add_column(col, justify="right")
    for point, res in zip(result.points, result.results, strict=True):
        table.add_row(*(_short(v) for v in point.values()), f"{res.jobs:,}",
                      *(_t(res.totals[f"{m}_g"]) for m in MODES),
                      *(f"{res.saving_fraction(m):.1%}" for m in MODES[1:]))
    Console(file=file, width=160, markup=False, highlight=False).print(table)


def plot_fleet(result: FleetResult, path: str | Path) -> None:
    """Grouped bars: CO2e per home region for each mode."""
    from matplotlib.figure import Figure

    from greensim.report import write_atomic

    regions = list(result.spec.regions)
    fig = Figure(figsize=(max(6.0, 1.2 * len(regions) + 2), 4))
    ax = fig.subplots()
    x = np.arange(len(regions))
    width = 0.2
    for k, mode in enumerate(MODES):
        ax.bar(x + (k - 1.5) * width, [result.sums[f"{mode}_g"][r] / 1e6 for r in regions], width, label=mode)
    ax.set_xticks(x, regions)
    ax.set_ylabel("t CO2e (projected)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{result.spec.title}: {result.jobs:,} jobs\n{PROJECTED_NOTE}", fontsize=10)
    fig.tight_layout()
    write_atomic(path, lambda fh: fig.savefig(fh, format=figure_format(path), dpi=100), "--plot")


def plot_sweep(result: SweepResult, path: str | Path) -> None:
    """The trade-offs: CO2e saved by each shifting mode (one panel each) against the first swept
    parameter, one line per combination of the others."""
    from matplotlib.figure import Figure

    from greensim.report import write_atomic

    keys = list(result.scenario.sweep)
    first = keys[0] if keys else None
    xs = list(result.scenario.sweep[first]) if first else [None]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs)
    groups: dict[str, list[tuple[float, FleetResult]]] = {}
    for point, res in zip(result.points, result.results, strict=True):
        label = ", ".join(f"{k}={_short(v)}" for k, v in point.items() if k != first) or "all"
        x = float(point[first]) if first and numeric else float(xs.index(point.get(first))) if first else 0.0
        groups.setdefault(label, []).append((x, res))
    fig = Figure(figsize=(13, 4.2))
    axes = fig.subplots(1, 3, sharey=True)
    for ax, mode in zip(axes, MODES[1:], strict=True):
        for label, pts in groups.items():
            pts.sort(key=lambda item: item[0])
            ax.plot([x for x, _ in pts], [100 * r.saving_fraction(mode) for _, r in pts], marker="o", label=label)
        ax.set_title(f"{mode} shifting", fontsize=10)
        ax.set_xlabel(first or "")
        if first and not numeric:
            ax.set_xticks(range(len(xs)), [_short(v) for v in xs], rotation=20, ha="right")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("CO2e saved vs baseline (%, projected)")
    if len(groups) > 1:
        axes[-1].legend(fontsize=8)
    fig.suptitle(f"{result.scenario.spec.title}: trade-offs — {PROJECTED_NOTE}", fontsize=10)
    fig.tight_layout()
    write_atomic(path, lambda fh: fig.savefig(fh, format=figure_format(path), dpi=100), "--plot")


def to_json_text(result: FleetResult | SweepResult) -> str:
    return json.dumps(result.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

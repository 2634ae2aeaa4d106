"""Render a :class:`~greensim.scenario.ScenarioResult`: rich table, JSON, PNG.

rich and matplotlib are imported only when used, so ``import greensim`` stays light.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from greenbench.errors import ConfigError
from greenbench.io import atomic
from greenbench.units import fmt_si
from greensim.scenario import Projection, ScenarioResult

PROJECTED_NOTE = "projected (estimated): model outputs, not measurements"
#: above this many rows the table is plain fixed-width text and the JSON has one projection per line, both
#: streamed row by row (issue #21: rich and the indenting JSON encoder cost ~1 ms and ~1 KB per row, so a
#: 50 MB scenario took minutes and gigabytes)
LARGE_ROWS = 1000


def fmt_factor(value: float | None) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return "∞"
    return f"{value:.3g}×" if abs(value) < 1000 else f"{value:,.0f}×"


def fmt_band(band: tuple[float, float], unit: str) -> str:
    """``low–high`` of a band, each end with its SI prefix, marked projected."""
    return f"{fmt_si(band[0], unit)}–{fmt_si(band[1], unit)}*"


def _rows(result: ScenarioResult) -> list[Projection]:
    return ([result.baseline] if result.baseline is not None else []) + list(result.rows)


def render_table(result: ScenarioResult, file: IO[str] | None = None) -> None:
    """Print the what-if table with rich (to ``file``, default stdout)."""
    from rich.console import Console
    from rich.table import Table

    sc = result.scenario
    table = Table(title=f"{sc.title} — {PROJECTED_NOTE}", title_justify="left")
    embodied = any(row.embodied_co2e_g > 0 for row in _rows(result))
    columns = [("projection", "left"), ("energy (facility)", "right"), ("PUE", "right"),
               ("intensity", "right"), ("grid", "left"), ("CO2e", "right"),
               ("energy gain", "right"), ("CO2e gain", "right")]
    if embodied:  # amortised manufacturing CO2e, beside (not inside) the operational CO2e and its gain
        columns[6:6] = [("embodied CO2e", "right"), ("total CO2e", "right")]
    banded = any(row.band is not None for row in _rows(result))
    if banded:  # issue #22: low-high beside the point value, for rows whose inputs carry ranges
        at = 6 if not embodied else 8  # after CO2e (and total CO2e), before the gains
        columns[at:at] = [("CO2e band", "right")] + ([("total CO2e band", "right")] if embodied else [])
        columns[2:2] = [("energy band", "right")]
    for col, justify in columns:
        table.add_column(col, justify=justify)  # type: ignore[arg-type]

    def row_cells(row: Projection) -> list[str]:
        cells = [row.name, fmt_si(row.facility_energy_j, "J") + "*", f"{row.pue:g}",
                 f"{row.intensity_g_per_kwh:.4g} g/kWh", row.intensity_label, fmt_si(row.co2e_g, "g") + "*"]
        if embodied:
            cells += [fmt_si(row.embodied_co2e_g, "g") + "*", fmt_si(row.total_co2e_g, "g") + "*"]
        if banded:
            b = row.band
            cells.insert(2, fmt_band(b.facility_energy_j, "J") if b is not None else "-")
            cells.append(fmt_band(b.co2e_g, "g") if b is not None else "-")
            if embodied:
                cells.append(fmt_band(b.total_co2e_g, "g") if b is not None else "-")
        return [*cells, fmt_factor(row.energy_factor_vs_baseline), fmt_factor(row.co2e_factor_vs_baseline)]

    console: Any
    if len(result.rows) > LARGE_ROWS:
        console = _PlainConsole(file)
        console.table(table.title, columns, (row_cells(row) for row in _rows(result)),
                      max((len(r.name) for r in _rows(result)), default=10))
    else:
        for row in _rows(result):
            table.add_row(*row_cells(row))
        console = Console(file=file, width=160, markup=False, highlight=False)
        console.print(table)
    if result.source is not None:
        src = result.source
        kind = ("estimated, not read off a hardware counter" if src.estimated
                else "read off a hardware counter")
        where = f" from {src.results}" if src.results else ""
        console.print(f"source: {src.label}{where}: {fmt_si(src.energy_j, 'J')} per call ({kind}"
                      f"{', meter ' + src.meter if src.meter else ''})")
    else:
        console.print("source: none (each row gives its own energy); gains vs baseline not computed")
    console.print("* projected/estimated.  gain = baseline ÷ row (>1: the row is better).")
    if banded:
        console.print("band: low–high with every ranged input at its ends at once (worst case, not a confidence "
                      "interval); '-': no ranged input.")
    if result.baseline is not None and result.baseline.band is not None:
        console.print(f"  {result.baseline.name}: band from {'; '.join(result.baseline.band.basis)}")
    for row in result.rows:
        if row.notes:
            console.print(f"  {row.name}: {'; '.join(row.notes)}")
        if row.band is not None:
            console.print(f"  {row.name}: band from {'; '.join(row.band.basis)}")
        if row.window is not None:
            w = row.window
            starts = w["best_starts_utc"]
            more = " …" if len(starts) > 3 else ""
            console.print(f"  {row.name}: now {w['now_utc']} at {w['now_g_per_kwh']:.4g} g/kWh → best "
                          f"start(s) {', '.join(starts[:3])}{more} at {w['best_g_per_kwh']:.4g} g/kWh "
                          f"({w['saving_vs_now_fraction']:.1%} less than now)")
    for key, version in result.data_versions.items():
        console.print(f"data: {key}: {version}")
    for note in result.notes:
        console.print(f"note: {note}")


class _PlainConsole:
    """The large-table path of :func:`render_table`: fixed-width text written row by row, same columns."""

    def __init__(self, file: IO[str] | None) -> None:
        import sys

        self.file = file if file is not None else sys.stdout

    def print(self, text: str) -> None:
        self.file.write(f"{text}\n")

    def table(self, title: Any, columns: list[tuple[str, str]], rows: Iterable[list[str]], name_width: int) -> None:
        widths = [max(len(col), min(name_width, 60) if i == 0 else 34 if col == "grid" else 12)
                  for i, (col, _) in enumerate(columns)]

        def line(cells: list[str]) -> str:
            return "  ".join(c.ljust(w) if j == "left" else c.rjust(w)
                             for c, w, (_, j) in zip(cells, widths, columns, strict=True)).rstrip()

        self.print(str(title))
        self.print(line([c for c, _ in columns]))
        self.print("  ".join("-" * w for w in widths))
        for cells in rows:
            self.print(line(cells))


def write_atomic(path: str | Path, writer: Callable[[IO[bytes]], None], what: str) -> None:
    """Write through greenbench's one atomic writer; an OS error names ``what`` and the path."""
    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            writer(fh)

    try:
        atomic.write_with(path, write, what)
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot write ({exc.strerror or exc})") from None


def to_json_text(result: ScenarioResult) -> str:
    try:
        return json.dumps(result.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    except ValueError as exc:  # run_scenario refuses non-finite rows; this is the last line of defence
        raise ConfigError(f"--json: the result holds a non-finite figure ({exc}); not written") from None


def iter_json(result: ScenarioResult) -> Iterator[str]:
    """:func:`to_json_text` in pieces: above :data:`LARGE_ROWS` rows, one projection per line, encoded one at a
    time (the same document, never held whole in memory)."""
    if len(result.rows) <= LARGE_ROWS:
        yield to_json_text(result)
        return
    import dataclasses
    import uuid

    head = dataclasses.replace(result, rows=()).to_json()
    marker = f"greensim-rows-{uuid.uuid4().hex}"
    head["projections"] = marker
    try:
        prefix, suffix = json.dumps(head, indent=2, ensure_ascii=False, allow_nan=False).split(f'"{marker}"', 1)
        yield prefix + "["
        sep = "\n    "
        for row in result.rows:
            yield sep + json.dumps(row.to_json(), ensure_ascii=False, allow_nan=False)
            sep = ",\n    "
        yield "\n  ]" + suffix + "\n"
    except ValueError as exc:  # run_scenario refuses non-finite rows; this is the last line of defence
        raise ConfigError(f"--json: the result holds a non-finite figure ({exc}); not written") from None


def write_json(result: ScenarioResult, path: str | Path) -> None:
    if len(result.rows) <= LARGE_ROWS:
        data = to_json_text(result).encode("utf-8")

        def _write(fh: IO[bytes]) -> None:
            fh.write(data)
    else:  # streamed; an error mid-way leaves no file (the atomic writer drops its temporary)
        def _write(fh: IO[bytes]) -> None:
            for chunk in iter_json(result):
                fh.write(chunk.encode("utf-8"))

    write_atomic(path, _write, "--json")


def plot(result: ScenarioResult, path: str | Path) -> None:
    """Two bar panels (facility energy, CO2e; log scale only where values span a decade), labelled projected."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    fmt = atomic.figure_format(path, "--plot")  # the suffix picks the format; one matplotlib cannot write fails
    rows = _rows(result)
    names = [r.name for r in rows]
    fig = Figure(figsize=(11, 0.45 * len(rows) + 1.6))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, values, bands, label, color in (
        (axes[0], [r.facility_energy_j for r in rows], [r.band.facility_energy_j if r.band else None for r in rows],
         "facility energy (J, projected)", "#4477aa"),
        (axes[1], [r.co2e_g for r in rows], [r.band.co2e_g if r.band else None for r in rows],
         "CO2e (g, projected)", "#228833"),
    ):
        ax.barh(range(len(rows)), [max(v, 1e-300) for v in values], color=color)
        # issue #22: the low-high band of rows with ranged inputs, as error bars around the point value
        ends = [(i, v, b) for i, (v, b) in enumerate(zip(values, bands, strict=True)) if b is not None]
        if ends:
            ax.errorbar([v for _, v, _ in ends], [i for i, _, _ in ends],
                        xerr=[[v - b[0] for _, v, b in ends], [b[1] - v for _, v, b in ends]],
                        fmt="none", ecolor="black", capsize=3, lw=1, label="low–high band")
            ax.legend(loc="lower right", fontsize=7)
        from matplotlib.ticker import EngFormatter, LogLocator, MaxNLocator, NullFormatter

        # issue #23: a log axis only where the values span a decade; savings of a few % read on a linear one
        spread = [v for v in values + [x for b in bands if b is not None for x in b] if v > 0]
        if all(v > 0 for v in values) and spread and max(spread) / min(spread) >= 10:
            ax.set_xscale("log")
            decades = math.log10(max(spread) / min(spread))  # 1-3-10 labels on a short axis, decades on a long one
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 3.0) if decades <= 3 else (1.0,), numticks=12))
            ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels ran into each other
        else:
            ax.set_xlim(left=0)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
        ax.xaxis.set_major_formatter(EngFormatter(unit="J" if "energy" in label else "g"))
        ax.set_xlabel(label.replace(" (J, ", " (").replace(" (g, ", " ("))
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(rows)), names)
    axes[0].invert_yaxis()
    fig.suptitle(f"{result.scenario.title}\n{PROJECTED_NOTE}", fontsize=10)
    fig.tight_layout()

    def _save(fh: Any) -> None:
        fig.savefig(fh, format=fmt, dpi=100)

    write_atomic(path, _save, "--plot")

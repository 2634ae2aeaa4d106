"""Report section: which energy meter was used and why, and what measuring costs.

Reads the ``meters`` benchmark (bench/test_meters.py): its
``extra_info["meter"]`` (the auto meter's describe()), ``["probe"]`` (every
source and why it is or is not used) and ``["overhead"]`` (start+stop
timings of our meters beside CodeCarbon's, measured in the same run).
Entries are read only through :mod:`greenbench.results`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from greenbench import results as r

TITLE = "Energy meters: which one, why, and what measuring costs"

GROUP = "meters"


def _num(mapping: Any, *keys: str) -> float:
    value: Any = mapping
    for key in keys:
        if not isinstance(value, Mapping):
            return math.nan
        value = value.get(key)
    return float(value) if isinstance(value, (int, float)) else math.nan


def _s(value: float) -> str:
    return r.fmt_si(value, "s")


def _ratio(value: float) -> str:
    return f"{value:.2%}" if math.isfinite(value) else "-"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(benchmarks: list[dict[str, Any]], out_dir: Path) -> str:
    rows = [b for b in r.select(benchmarks, group=GROUP) if r.extra(b, "overhead")]
    if not rows:
        return ""
    b = rows[0]
    o = r.extra(b, "overhead")
    meter = r.extra(b, "meter") or {}
    probe = r.extra(b, "probe") or []
    estimated = bool(meter.get("estimated", True))
    source = str(meter.get("source", o.get("auto_source", "?")))

    lines = [
        f"**Meter used: `{source}`** — "
        + ("estimated (not read off a hardware energy counter)." if estimated
           else "read off hardware energy counters."),
        f"Why: {_cell(meter.get('reason', 'not recorded'))}",
        "",
    ]
    if probe:
        lines += ["| source | here | used | reason |", "|---|---|---|---|"]
        for s in probe:
            lines.append(f"| `{_cell(s.get('name'))}` | {'available' if s.get('available') else 'no'} | "
                         f"{'yes' if s.get('used') else 'no'} | {_cell(s.get('reason', ''))} |")
        lines.append("")

    warm, first, ratio = o.get("warm_start_stop_s", {}), o.get("first_use_s", {}), o.get("ratio_vs_codecarbon_warm", {})
    reps = o.get("repetitions", {})
    target_ratio = _num(o, "targets", "ratio_vs_codecarbon_warm")
    target_first = _num(o, "targets", "first_use_s")
    lines += [
        "Cost of one empty measurement window (start + stop), measured side by side in one run: "
        "warm = median of interleaved repetitions in the benchmark process; first use = build (auto: probe) "
        "and first window in a fresh process, import excluded.",
        "",
        "| meter | warm start+stop | vs CodeCarbon warm | first use | repetitions |",
        "|---|---:|---:|---:|---:|",
        f"| auto (`{_cell(o.get('auto_source', '?'))}`) | {_s(_num(warm, 'auto'))} | {_ratio(_num(ratio, 'auto'))} "
        f"| {_s(_num(first, 'auto'))} | {reps.get('auto', '-')} |",
        f"| model | {_s(_num(warm, 'model'))} | {_ratio(_num(ratio, 'model'))} | - | {reps.get('model', '-')} |",
        f"| CodeCarbon (tracker per window) | {_s(_num(warm, 'codecarbon'))} | 100% "
        f"| {_s(_num(first, 'codecarbon'))} | {reps.get('codecarbon', '-')} |",
        "",
    ]
    met = o.get("met", {})
    lines.append(
        f"Targets: auto ≤ {_ratio(target_ratio)} of CodeCarbon's warm start+stop — "
        f"{'met' if met.get('ratio') else 'NOT met'}; first use ≤ {_s(target_first)} — "
        f"{'met' if met.get('first_use') else 'NOT met'}; a 1 ms window reads non-zero energy — "
        f"{'met' if met.get('one_ms_nonzero') else 'NOT met'}."
    )
    imports = o.get("import_s", {})
    if imports:
        lines.append(f"Imports before first use (not in the figures above): greenbench.meters "
                     f"{_s(_num(imports, 'auto'))}, codecarbon {_s(_num(imports, 'codecarbon'))}.")
    w = o.get("one_ms_window", {})
    if w:
        est = bool(w.get("estimated", True))
        lines += [
            "",
            f"1 ms busy window read by the auto meter: "
            f"{r.mark(r.fmt_si(_num(w, 'energy_j'), 'J'), est)} over {_s(_num(w, 'duration_s'))} "
            f"({r.mark(r.fmt_si(_num(w, 'power_w'), 'W'), est)}, CPU time {_s(_num(w, 'cpu_time_s'))}).",
        ]
    if estimated or w.get("estimated", False):
        lines += ["", r.ESTIMATED_LEGEND]
    return "\n".join(lines)

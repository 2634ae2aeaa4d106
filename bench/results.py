"""Read saved pytest-benchmark JSON (with greenbench's ``extra_info``).

This is the one place that knows where each figure lives in a benchmark
entry, so report sections and the gate never dig into the JSON themselves.

Layout of one entry written by the plugin (schema_version 1)::

    {"name": ..., "fullname": ..., "group": ..., "params": {...},
     "stats": {"min": s, "median": s, ..., "energy_j_min": J, "energy_j_median": J, ...},
     "extra_info": {
        "energy": {"schema_version": 1, "source": "model", "estimated": true,
                   "per_call_j": {"min": J, "median": J, "mean": J, "max": J, "stddev": J, "rounds": n},
                   "rounds_j": [J, ...], "power_w": W, "co2e_g": g,
                   "intensity_g_per_kwh": 475.0, "intensity_label": "...",
                   "domains_j": {...}, "contended_rounds": k, "warnings": [...]},
        "quality": {"accuracy": 0.94}, "artifacts": ["nca/texture.png"], ...}}

Energy figures are per call of the benchmarked function (a round's energy
divided by its iterations), like pytest-benchmark's times.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from greensim.errors import DataError

SCHEMA_VERSION = 1

#: marker appended to every figure that was not read off a hardware counter
ESTIMATED_MARK = "*"
ESTIMATED_LEGEND = "`*` estimated (not read off a hardware energy counter)"

Bench = Mapping[str, Any]


def load(path: str | Path) -> dict[str, Any]:
    """Load a pytest-benchmark JSON file, with a one-line error if it is not one."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise DataError(f"{p}: no such results file (expected a pytest-benchmark JSON)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{p}: not valid JSON ({exc}); expected a pytest-benchmark JSON file") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise DataError(f"{p}: missing the 'benchmarks' list of a pytest-benchmark JSON file")
    return data


def energy(b: Bench) -> Mapping[str, Any] | None:
    info = b.get("extra_info") or {}
    e = info.get("energy")
    return e if isinstance(e, Mapping) else None


def has_energy(b: Bench) -> bool:
    e = energy(b)
    return e is not None and isinstance(e.get("per_call_j"), Mapping)


def energy_j(b: Bench, stat: str = "median") -> float:
    """Energy per call (J) by statistic; NaN when the entry has no energy."""
    e = energy(b)
    if not e:
        return math.nan
    return float(e.get("per_call_j", {}).get(stat, math.nan))


def time_s(b: Bench, stat: str = "median") -> float:
    return float(b.get("stats", {}).get(stat, math.nan))


def power_w(b: Bench) -> float:
    e = energy(b)
    return float(e.get("power_w", math.nan)) if e else math.nan


def co2e_g(b: Bench) -> float:
    e = energy(b)
    return float(e.get("co2e_g", math.nan)) if e else math.nan


def source(b: Bench) -> str:
    e = energy(b)
    return str(e.get("source", "?")) if e else "-"


def is_estimated(b: Bench) -> bool:
    """True unless the entry says its energy came off a hardware counter."""
    e = energy(b)
    return bool(e.get("estimated", True)) if e else True


def quality(b: Bench) -> dict[str, float]:
    q = (b.get("extra_info") or {}).get("quality") or {}
    return {str(k): float(v) for k, v in q.items() if isinstance(v, (int, float))}


def extra(b: Bench, key: str, default: Any = None) -> Any:
    return (b.get("extra_info") or {}).get(key, default)


def select(benchmarks: Iterable[Bench], *, name: str | None = None, group: str | None = None,
           **params: Any) -> list[Bench]:
    """Entries whose test name starts with ``name`` / whose group and params match."""
    out = []
    for b in benchmarks:
        if name is not None and not str(b.get("name", "")).startswith(name):
            continue
        if group is not None and b.get("group") != group:
            continue
        bp = b.get("params") or {}
        if any(bp.get(k) != v for k, v in params.items()):
            continue
        out.append(b)
    return out


def mark(text: str, estimated: bool) -> str:
    """Append the estimated marker to a formatted figure ('-' for no figure stays bare)."""
    return f"{text}{ESTIMATED_MARK}" if estimated and text != "-" else text


def fmt_si(value: float, unit: str, digits: int = 3) -> str:
    """``fmt_si(0.0123, 'J') -> '12.3 mJ'``; NaN -> '-'."""
    if value is None or not math.isfinite(value):
        return "-"
    if value == 0:
        return f"0 {unit}"
    prefixes = [(1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p")]
    for scale, prefix in prefixes:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}"
    return f"{value:.{digits}g} {unit}"


def fmt_energy(b: Bench, stat: str = "median") -> str:
    return mark(fmt_si(energy_j(b, stat), "J"), is_estimated(b))

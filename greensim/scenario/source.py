"""Source: a section of :mod:`greensim.scenario` (its docstring tells the whole story)."""

from __future__ import annotations

import difflib
import fnmatch
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenbench import results as greenbench_results
from greenbench.errors import DataError, ScenarioError
from greensim import counted as counted_projection
from greensim.scenario.parse import Scenario, Source


@dataclass(frozen=True, slots=True)
class ResolvedSource:
    """The measured (or typed-in) energy per call that the scenario projects from."""

    energy_j: float
    estimated: bool
    label: str
    results: str | None = None
    benchmark: str | None = None
    stat: str = "median"
    meter: str | None = None
    #: issue #12: per-call event counts of a counted benchmark (extra_info.energy.counts), else None
    counts: Mapping[str, float] | None = None
    #: issue #22: the meter's own band as (low, high) factors on ``energy_j`` (the model meter's
    #: figures_j marginal_low_j / marginal_high_j over its central figure), else None
    band_factors: tuple[float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"energy_j_per_call": self.energy_j, "estimated": self.estimated, "label": self.label,
                "results": self.results, "benchmark": self.benchmark, "stat": self.stat, "meter": self.meter,
                "band_factors": list(self.band_factors) if self.band_factors is not None else None}


def meter_band_factors(energy: Mapping[str, Any]) -> tuple[float, float] | None:
    """(low, high) factors of the meter's band on its central figure: the model meter's ``figures_j``
    ``marginal_low_j`` / ``marginal_high_j`` per call over ``total_j / calls`` (the same rounds)."""
    figures, total, calls = energy.get("figures_j"), energy.get("total_j"), energy.get("calls")
    if not isinstance(figures, Mapping):
        return None
    values = [figures.get("marginal_low_j"), figures.get("marginal_high_j"), total, calls]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        return None
    lo, hi, total_f, calls_f = (float(v) for v in values)  # type: ignore[arg-type]
    if total_f <= 0 or calls_f <= 0 or lo < 0 or hi < lo:
        return None
    centre = total_f / calls_f
    return min(lo / centre, 1.0), max(hi / centre, 1.0)


def _benchmark_energy(entry: Mapping[str, Any], stat: str) -> tuple[float, bool, str | None] | None:
    info = entry.get("extra_info")
    energy = info.get("energy") if isinstance(info, Mapping) else None
    if not isinstance(energy, Mapping):
        return None
    per_call = energy.get("per_call_j")
    if not isinstance(per_call, Mapping):
        return None
    value = per_call.get(stat)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    meter = energy.get("source")
    return float(value), bool(energy.get("estimated", True)), str(meter) if meter is not None else None


def read_benchmark_energy(results: str | Path, benchmark: str, stat: str = "median") -> ResolvedSource:
    """Per-call energy of ``benchmark`` (exact name/fullname, else a shell-style pattern:
    first match with energy) from a pytest-benchmark JSON file."""
    p = Path(results)
    data = greenbench_results.load(p)  # one-line errors; refuses unknown schema versions
    entries = [e for e in data["benchmarks"] if isinstance(e, dict)]
    exact = [e for e in entries if benchmark in (e.get("name"), e.get("fullname"))]
    matches = exact or [e for e in entries if fnmatch.fnmatchcase(str(e.get("name", "")), benchmark)
                        or fnmatch.fnmatchcase(str(e.get("fullname", "")), benchmark)]
    if not matches:
        names = [str(e.get("name")) for e in entries]
        close = difflib.get_close_matches(benchmark, names, n=3)
        if close:
            hint = f"; did you mean {', '.join(close)}?"
        elif names:
            hint = f"; it holds {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}"
        else:
            hint = "; it holds no benchmarks"
        raise DataError(f"{p}: no benchmark named or matching {benchmark!r}{hint}")
    for entry in matches:
        found = _benchmark_energy(entry, stat)
        if found is not None:
            energy_j, estimated, meter = found
            name = str(entry.get("name"))
            return ResolvedSource(energy_j=energy_j, estimated=estimated, label=f"{name} ({stat}, per call)",
                                  results=str(p), benchmark=name, stat=stat, meter=meter,
                                  counts=counted_projection.stored_counts(entry["extra_info"]["energy"]),
                                  band_factors=meter_band_factors(entry["extra_info"]["energy"]))
    raise DataError(f"{p}: benchmark {matches[0].get('name')!r} has no extra_info.energy.per_call_j.{stat} "
                    "(expected a run with greenbench's energy measurement)")


def resolve_source(scenario: Scenario, results: str | Path | None = None,
                   benchmark: str | None = None) -> ResolvedSource | None:
    """The scenario's source energy; ``results``/``benchmark`` override the file's
    ``[source]`` (paths given here are relative to the working directory)."""
    src = scenario.source or Source()
    if src.energy_j is not None and (results is not None or benchmark is not None):
        raise ScenarioError(f"{scenario.path}: [source] gives energy_j; --results/--benchmark do not apply")
    if src.energy_j is not None:
        return ResolvedSource(energy_j=src.energy_j, estimated=src.estimated,
                              label=src.label or "energy_j given in the scenario")
    name = benchmark or src.benchmark
    path = Path(results) if results is not None else src.results
    if path is None and name is None:
        return None
    if name is None:
        raise ScenarioError(f"{scenario.path}: [source].benchmark: missing; expected the benchmark to read "
                            f"from {path} (or pass --benchmark NAME)")
    if path is None:
        raise ScenarioError(f"{scenario.path}: [source].results: missing; expected the pytest-benchmark JSON "
                            f"holding {name!r} (or pass --results PATH)")
    resolved = read_benchmark_energy(path, name, src.stat)
    if src.label:
        return ResolvedSource(energy_j=resolved.energy_j, estimated=resolved.estimated, label=src.label,
                              results=resolved.results, benchmark=resolved.benchmark, stat=resolved.stat,
                              meter=resolved.meter, counts=resolved.counts, band_factors=resolved.band_factors)
    return resolved

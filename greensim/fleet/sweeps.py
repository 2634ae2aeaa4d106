"""Sweeps: a section of :mod:`greensim.fleet` (its docstring tells the whole story)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from greensim.fleet.execution import _run_many
from greensim.fleet.keys import BLOCK_JOBS, MODES, PROJECTED_NOTE, SUM_RTOL, SWEEP_SCHEMA
from greensim.fleet.results import FleetResult
from greensim.fleet.scenario_files import FleetScenario


@dataclass(frozen=True, slots=True)
class SweepResult:
    scenario: FleetScenario
    points: tuple[Mapping[str, Any], ...]
    results: tuple[FleetResult, ...]

    @property
    def run_info(self) -> str:
        jobs = sum(r.jobs for r in self.results)
        elapsed = self.results[0].elapsed_s if self.results else 0.0
        workers = self.results[0].workers if self.results else 0
        where = f"{workers} Dask worker thread(s)" if workers else "this process"
        rate = jobs / elapsed if elapsed > 0 else math.inf
        return (f"{len(self.points)} sweep point(s), {jobs:,} jobs in all on {where}: {elapsed:.2f} s "
                f"({rate:,.0f} jobs/s)")

    def to_json(self) -> dict[str, Any]:
        rows = []
        for point, res in zip(self.points, self.results, strict=True):
            rows.append({"params": dict(point), "totals": dict(res.totals),
                         "saving_fraction": {m: res.saving_fraction(m) for m in MODES[1:]}})
        return {"schema": SWEEP_SCHEMA, "title": self.scenario.spec.title, "note": PROJECTED_NOTE,
                "projected": True, "parameters": list(self.scenario.sweep), "fleet": self.scenario.spec.to_json(),
                "points": rows,
                "determinism": {"summation": "math.fsum of per-block sums", "block_jobs": BLOCK_JOBS,
                                "same_stack": "bit-for-bit", "across_stacks_rtol": SUM_RTOL}}


def run_sweep(scenario: FleetScenario, client: Any = None, *, progress: bool | None = None,
              max_in_flight: int | None = None, overrides: Mapping[str, Any] | None = None) -> SweepResult:
    """Every ``[sweep]`` grid point as fleet runs on the same engine (all their partitions share the queue)."""
    points = scenario.points() or [{}]
    specs = [replace(scenario.spec_at(p), **(overrides or {})) for p in points]
    results = _run_many(specs, client, progress, max_in_flight)
    return SweepResult(scenario, tuple(points), tuple(results))

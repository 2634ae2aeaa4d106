"""Results: a section of :mod:`greensim.fleet` (its docstring tells the whole story)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from greensim.fleet.keys import _N_METRICS, BLOCK_JOBS, METRICS, MODES, PROJECTED_NOTE, SCHEMA, SUM_RTOL, FloatArray
from greensim.fleet.spec import FleetSpec


@dataclass(frozen=True, slots=True)
class FleetResult:
    """Totals of one fleet run.  ``sums[metric][region]`` (see :data:`METRICS`); grams CO2e, kWh."""

    spec: FleetSpec
    sums: Mapping[str, Mapping[str, float]]
    totals: Mapping[str, float]
    partitions: int = 0
    elapsed_s: float = 0.0
    workers: int = 0

    @property
    def jobs(self) -> int:
        return int(self.totals["jobs"])

    def saving_fraction(self, mode: str) -> float:
        base = self.totals["baseline_g"]
        return 1.0 - self.totals[f"{mode}_g"] / base if base > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """Deterministic: no timings, worker or partition counts (those go to :attr:`run_info`)."""
        by_region = {}
        for i, region in enumerate(self.spec.regions):
            row: dict[str, Any] = {m: self.sums[m][region] for m in METRICS}
            base = row["baseline_g"]
            row["saving_fraction"] = {mode: (1.0 - row[f"{mode}_g"] / base if base > 0 else 0.0)
                                      for mode in MODES[1:]}
            row["pue"] = self.spec._pue()[i]
            by_region[region] = row
        return {"schema": SCHEMA, "title": self.spec.title, "note": PROJECTED_NOTE, "projected": True,
                "fleet": self.spec.to_json(), "totals": dict(self.totals),
                "saving_fraction": {mode: self.saving_fraction(mode) for mode in MODES[1:]},
                "by_region": by_region,
                "determinism": {"summation": "math.fsum of per-block sums", "block_jobs": BLOCK_JOBS,
                                "same_stack": "bit-for-bit", "across_stacks_rtol": SUM_RTOL}}

    @property
    def run_info(self) -> str:
        rate = self.jobs / self.elapsed_s if self.elapsed_s > 0 else math.inf
        where = f"{self.workers} Dask worker thread(s)" if self.workers else "this process"
        return (f"{self.jobs:,} jobs in {self.partitions} partition(s) on {where}: "
                f"{self.elapsed_s:.2f} s ({rate:,.0f} jobs/s)")


def _result(spec: FleetSpec, block_sums: Sequence[FloatArray], partitions: int, elapsed: float,
            workers: int) -> FleetResult:
    r = len(spec.regions)
    stack = np.concatenate(block_sums) if block_sums else np.zeros((0, _N_METRICS, r))
    sums = {m: {region: math.fsum(stack[:, k, i].tolist()) for i, region in enumerate(spec.regions)}
            for k, m in enumerate(METRICS)}
    totals = {m: math.fsum(stack[:, k, :].ravel().tolist()) for k, m in enumerate(METRICS[:6])}
    return FleetResult(spec, sums, totals, partitions, elapsed, workers)

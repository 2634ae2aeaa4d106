"""Energy per benchmark round: the recorder the plugin attaches to pytest-benchmark.

pytest-benchmark times each round inside a *runner* closure that
``BenchmarkFixture._make_runner`` builds.  :class:`RoundRecorder` wraps that
factory so every runner call is bracketed by ``meter.start()`` / ``stop()``
*outside* the timed region (timings are untouched).  Calibration and warm-up
calls are recorded too; once the benchmark is over, the last
``len(stats.data)`` records are exactly the rounds pytest-benchmark kept.

Imports no pytest: the plugin passes the fixture in.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from greenbench.carbon import Intensity
from greenbench.load import CONTENDED_OTHER_CORES, LoadProbe
from greenbench.meters.base import Measurement, Meter
from greenbench.results import EnergyRecord
from greenbench.units import co2e_g

#: relative spread (IQR / median of energy per call) above which a warning is shown
HIGH_SPREAD = 0.25


@dataclass
class RoundRecord:
    measurement: Measurement
    iterations: int


@dataclass
class RoundRecorder:
    """Brackets each runner call of one benchmark with an energy window."""

    meter: Meter
    sync: Callable[[], None] | None = None
    records: list[RoundRecord] = field(default_factory=list)
    probe: LoadProbe = field(default_factory=LoadProbe)
    _started: bool = False

    def attach(self, fixture: Any) -> None:
        """Wrap ``fixture._make_runner`` (an instance attribute shadows the method)."""
        make_runner = fixture._make_runner

        def make_measured_runner(function: Any, args: Any, kwargs: Any) -> Callable[..., Any]:
            runner = make_runner(function, args, kwargs)

            def measured(loops_range: Any, *a: Any, **kw: Any) -> Any:
                if not self._started:
                    self.probe.begin()
                    self._started = True
                if self.sync is not None:
                    self.sync()
                self.meter.start()
                try:
                    result = runner(loops_range, *a, **kw)
                    if self.sync is not None:
                        self.sync()
                finally:
                    m = self.meter.stop()
                self.records.append(RoundRecord(m, len(loops_range) if loops_range else 1))
                self.probe.round_done()
                return result

            return measured

        fixture._make_runner = make_measured_runner

    def kept(self, n_rounds: int) -> tuple[list[RoundRecord], list[float | None]]:
        """The records (and other-process load) of the last ``n_rounds`` calls."""
        self.probe.finish()
        if n_rounds <= 0:
            return [], []
        return self.records[-n_rounds:], self.probe.per_round[-n_rounds:]


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def describe_values(values: Sequence[float]) -> dict[str, float]:
    """min/max/mean/median/stddev/q1/q3/iqr of a sample (pytest-benchmark's names)."""
    s = sorted(values)
    q1, q3 = _quantile(s, 0.25), _quantile(s, 0.75)
    return {
        "min": s[0],
        "max": s[-1],
        "mean": statistics.fmean(s),
        "median": statistics.median(s),
        "stddev": statistics.stdev(s) if len(s) > 1 else 0.0,
        "q1": q1,
        "q3": q3,
        "iqr": q3 - q1,
        "rounds": len(s),
    }


def summarize(
    records: Sequence[RoundRecord],
    other_cores: Sequence[float | None],
    meter_info: Mapping[str, Any],
    intensity: Intensity,
    *,
    speed_probe_s: float | None = None,
    speed_probes_s: Sequence[float] = (),
    threads: int | None = None,
) -> EnergyRecord:
    """The ``extra_info["energy"]`` record of one benchmark (see greenbench.results)."""
    per_call = [r.measurement.energy_j / r.iterations for r in records]
    calls = sum(r.iterations for r in records)
    total_j = sum(r.measurement.energy_j for r in records)
    total_s = sum(r.measurement.duration_s for r in records)
    domains: dict[str, float] = {}
    for r in records:
        for k, v in r.measurement.domains.items():
            domains[k] = domains.get(k, 0.0) + v
    stats = describe_values(per_call)
    estimated = any(r.measurement.estimated for r in records)
    source = records[-1].measurement.source
    known = [c for c in other_cores if c is not None]
    contended = [bool(c is not None and c >= CONTENDED_OTHER_CORES) for c in other_cores]
    warnings: list[str] = []
    update_period_s = float(meter_info.get("update_period_s") or 0.0)
    mean_window_s = total_s / len(records)
    if update_period_s and mean_window_s < update_period_s:
        warnings.append(
            f"rounds last {mean_window_s * 1e3:.3g} ms, shorter than the {source} meter's update period "
            f"({update_period_s * 1e3:.3g} ms): per-round energy is quantised; raise "
            "--benchmark-min-time or use benchmark.pedantic(iterations=...) so each round is longer"
        )
    if stats["median"] > 0 and stats["iqr"] / stats["median"] > HIGH_SPREAD:
        warnings.append(
            f"energy spread is high (IQR {stats['iqr'] / stats['median']:.0%} of the median): "
            "close other programs, pin the benchmark (taskset), or run more rounds"
        )
    n_contended = sum(contended)
    if n_contended:
        warnings.append(
            f"{n_contended} of {len(records)} rounds ran while other processes kept "
            f">= {CONTENDED_OTHER_CORES} cores busy: figures are inflated; the energy gate ignores those rounds"
        )
    notes = sorted({n for r in records for n in r.measurement.notes})
    return EnergyRecord(
        source=source,
        estimated=estimated,
        per_call_j=stats,
        rounds_j=tuple(per_call),
        calls=calls,
        total_j=total_j,
        power_w=total_j / total_s if total_s > 0 else math.nan,
        cpu_time_s=sum(r.measurement.cpu_time_s for r in records) / calls,
        co2e_g=co2e_g(stats["median"], intensity.g_per_kwh),
        intensity_g_per_kwh=intensity.g_per_kwh,
        intensity_label=intensity.label,
        domains_j={k: v / calls for k, v in domains.items()},
        other_cores_busy=statistics.fmean(known) if known else None,
        contended_rounds=n_contended,
        contended=tuple(contended),
        speed_probe_s=speed_probe_s,
        speed_probes_s=tuple(speed_probes_s),
        warnings=tuple(warnings),
        notes=tuple(notes),
        threads=threads,
    )

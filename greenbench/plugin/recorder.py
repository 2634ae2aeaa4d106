"""Energy per benchmark round: the recorder the plugin attaches to pytest-benchmark.

pytest-benchmark times each round inside a *runner* closure that
``BenchmarkFixture._make_runner`` builds.  :class:`RoundRecorder` wraps that
factory so runner calls are bracketed by ``meter.start()`` / ``stop()``
*outside* the timed region (timings are untouched).

Bounded cost (issue #17): a suite of sub-microsecond benchmarks runs 10^4-10^5
rounds of ~10 us each; metering every one of them tripled the wall time and
kept every round in memory and on disk.  So rounds are **sampled**: every
runner call is metered until :data:`SAMPLE_CAP` (64) records are held, then every
2nd, 4th, ... call (the held records are thinned by halves each time), so an
unmetered round costs one counter test and the records in memory never exceed
``SAMPLE_CAP``.  Metered calls number about ``cap + cap/2 * log2(calls/cap)``
(~400 of 10^5 calls): with the model meter's ~25 us start+stop that is ~1%
of a sub-us benchmark's wall time; :attr:`RoundRecorder.meter_cost_s` says
what it was.  The contention probe is fed metered rounds only and reads
``/proc/stat`` once per span of >= 50 ms (greenbench.meters.contention).  Once the benchmark
is over, the metered calls among the last ``len(stats.data)`` calls are the
rounds pytest-benchmark kept.

Energy per call independent of pytest-benchmark's iteration choice: a metered
window holds, besides the ``iterations`` calls pytest-benchmark times, a fixed
per-round cost (the runner's closure call, its GC toggles and two timer reads,
the meter's own reads) that pytest-benchmark's time excludes.  For sub-us calls
it is larger than the timed work, so energy per call moved +68% when
pytest-benchmark chose 2 instead of 10 iterations.  :meth:`RoundRecorder.harness_s`
calibrates it the way pytest-benchmark calibrates its timer: the minimum window
of the same runner around a no-op function, at 1 and 33 iterations, gives the
fixed part (the per-iteration loop cost stays in, as it does in
pytest-benchmark's time).  Each round's energy is scaled by
``(window - fixed) / window`` before dividing by its iterations.

Imports no pytest: the plugin passes the fixture in.
"""

from __future__ import annotations

import contextlib
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from greenbench.carbon import Intensity
from greenbench.errors import MeterError
from greenbench.meters.base import Measurement, Meter
from greenbench.meters.contention import CONTENDED_OTHER_CORES, SPEED_PROBES_KEPT, LoadProbe, thin
from greenbench.results import EnergyRecord
from greenbench.units import co2e_g

#: relative spread (IQR / median of energy per call) above which a warning is shown
HIGH_SPREAD = 0.25
#: metered-round records held in memory per benchmark at most (then thinned by halves)
SAMPLE_CAP = 64
#: per-call energies written per benchmark: all clean rounds up to this many, else this many quantiles
SAMPLE_KEPT = 32
#: fewer clean rounds than this: the summary falls back to all rounds (the gate calls such runs busy)
MIN_CLEAN_ROUNDS = 3
#: repetitions of each empty-harness window when calibrating the per-round overhead
HARNESS_REPS = 30
#: significant digits of the stored per-call energies (far below any meter's resolution)
DIGITS = 6


def _noop() -> None:
    return None


#: ``skip`` after a meter failure: no later round of the benchmark is metered
_NEVER = 1 << 62


def abort_meter(meter: Any) -> None:
    """Close ``meter``'s window after it raised (its ``abort()``, and its parts'), whatever state it is in."""
    for m in (meter, getattr(meter, "primary", None), *getattr(meter, "parts", ())):
        fn = getattr(m, "abort", None)
        if callable(fn):
            with contextlib.suppress(Exception):  # best effort after the failure already noted
                fn()


_DEFAULT: Any = object()  # "no timer passed": the runner's own default applies


@dataclass(slots=True)
class RoundRecord:
    measurement: Measurement
    iterations: int
    index: int = 0  # 1-based runner call number
    other: float | None = None  # other processes' cores busy during the round's span


class NoLoadProbe(LoadProbe):
    """A load probe that reads nothing (deterministic meters): no speed probes, no other-process load."""

    def begin(self) -> None:
        pass

    def round_done(self, slot: Any = None) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass
class RoundRecorder:
    """Brackets (a bounded sample of) the runner calls of one benchmark with an energy window."""

    meter: Meter
    sync: Callable[[], None] | None = None
    records: list[RoundRecord] = field(default_factory=list)
    probe: LoadProbe = field(default_factory=lambda: LoadProbe(track_rounds=False))
    cap: int = SAMPLE_CAP
    stride: int = 1
    _next: int = 1  # index (1-based) of the next metered call
    #: wall time (s) spent in the meter's start/stop calls: the recorder's main cost on sub-us benchmarks
    meter_cost_s: float = 0.0
    _skip_left: Callable[[], int] = lambda: 0
    _started: bool = False
    _make_runner: Any = None
    #: the meter's first failure in this benchmark, one line naming it (no round is metered after it)
    failure: str | None = None
    #: (hardware counters, process CPU s, wall s) when the benchmark began (greenbench.plugin.session, issue #21)
    span: Any = None

    def __post_init__(self) -> None:
        if getattr(self.meter, "deterministic", False) is True:
            # counts, not time: no load or host-speed probe (the gate does not use them for such a meter), and
            # under callgrind their reads of /proc/stat (text whose length follows the machine's counters) and
            # their timing loops would change the heap the benchmark starts from, run by run (issue #20)
            self.probe = NoLoadProbe()

    def _failed(self, what: str, exc: Exception) -> None:
        """Note the meter's failure once and close its window, so the next benchmark starts clean."""
        if self.failure is None:
            text = " ".join(str(exc).split()) or type(exc).__name__
            name = getattr(self.meter, "spec", None) or getattr(self.meter, "source", type(self.meter).__name__)
            self.failure = text if str(name) in text or "RAPL" in text or "NVML" in text \
                else f"{name} meter: {what}() failed: {type(exc).__name__}: {text}"
        abort_meter(self.meter)

    def attach(self, fixture: Any) -> None:
        """Wrap ``fixture._make_runner`` (an instance attribute shadows the method)."""
        make_runner = fixture._make_runner
        self._make_runner = make_runner
        begin = getattr(self.meter, "begin_benchmark", None)
        if begin is not None:  # the counted meter: calls per round are chosen afresh for each benchmark
            begin(str(getattr(fixture, "fullname", "") or getattr(fixture, "name", "")))

        def make_measured_runner(function: Any, args: Any, kwargs: Any) -> Callable[..., Any]:
            runner = make_runner(function, args, kwargs)
            skip = 0  # unmetered calls left before the next metered one (a local: the fast path is one test)

            # pytest-benchmark's runner signature, ``runner(loops_range, timer=...)``: no *args packing per round
            def measured(loops_range: Any, timer: Any = _DEFAULT) -> Any:
                nonlocal skip
                if skip:
                    skip -= 1
                    return runner(loops_range) if timer is _DEFAULT else runner(loops_range, timer)
                index = self._next
                if not self._started:
                    self.probe.begin()
                    self._started = True
                if self.sync is not None:
                    self.sync()
                run_round = getattr(self.meter, "run_round", None)
                if run_round is not None:  # issue #20: the counted meter runs the round (warm-up, calls by counts)

                    def call(n: int) -> Any:  # n calls of the runner; 0: its single-call path
                        lr = range(n) if n else None
                        return runner(lr) if timer is _DEFAULT else runner(lr, timer)

                    try:
                        result, counted, calls = run_round(call, len(loops_range) if loops_range else None,
                                                           self._noop_call)
                    except MeterError as exc:  # e.g. a child process started inside the round: refused by name
                        self._failed("round", exc)
                        skip = _NEVER
                        return runner(loops_range) if timer is _DEFAULT else runner(loops_range, timer)
                    self.records.append(RoundRecord(counted, calls, index))
                    self._next = index + 1
                    return result
                t0 = perf_counter()
                try:
                    self.meter.start()
                except Exception as exc:  # issue #21: the round runs unmetered, the benchmark fails in one line
                    self._failed("start", exc)
                    skip = _NEVER
                    return runner(loops_range) if timer is _DEFAULT else runner(loops_range, timer)
                t1 = perf_counter()
                try:
                    result = runner(loops_range) if timer is _DEFAULT else runner(loops_range, timer)
                    if self.sync is not None:
                        self.sync()
                finally:
                    t2 = perf_counter()
                    m: Measurement | None = None
                    try:
                        m = self.meter.stop()
                    except Exception as exc:  # the round's own exception (or KeyboardInterrupt) still propagates
                        self._failed("stop", exc)
                        skip = _NEVER
                    if m is not None:
                        t3 = perf_counter()
                        rec = RoundRecord(m, len(loops_range) if loops_range else 1, index)
                        self.records.append(rec)
                        self.probe.round_done(rec)
                        self.meter_cost_s += (t1 - t0) + (t3 - t2)
                        if len(self.records) >= self.cap:
                            self.stride *= 2
                            self.records = [r for r in self.records if r.index % self.stride == 0]
                        self._next = (index // self.stride + 1) * self.stride
                        skip = self._next - index - 1
                return result

            self._skip_left = lambda: skip
            return measured

        fixture._make_runner = make_measured_runner

    @property
    def calls(self) -> int:
        """Runner calls so far, metered or not."""
        return self._next - 1 - self._skip_left()

    def kept(self, n_rounds: int) -> tuple[list[RoundRecord], list[float | None]]:
        """The metered records (and other-process load) among the last ``n_rounds`` calls."""
        self.probe.finish()
        end = getattr(self.meter, "end_benchmark", None)
        if end is not None:  # the counted meter: code between benchmarks runs uninstrumented
            end()
        if n_rounds <= 0:
            return [], []
        first = self.calls - n_rounds + 1
        kept = [r for r in self.records if r.index >= first]
        return kept, [r.other for r in kept]

    def _noop_call(self) -> Callable[[int], Any]:
        """``n -> runner(range(n))`` of pytest-benchmark's runner around a no-op (harness calibration)."""
        runner = self._make_runner(_noop, (), {})
        return lambda n: runner(range(n))

    def harness_s(self, iterations: int = 1) -> float:
        """The fixed per-round cost (s) inside a metered window: runner call, timer reads, meter reads.

        Minimum window of pytest-benchmark's own runner around a no-op, at 1 and
        33 iterations; the per-iteration slope is taken out, so only the part
        that does not scale with ``iterations`` remains.  0.0 when it cannot be
        measured (no runner, a meter that fails outside a benchmark).
        """
        if self._make_runner is None:
            return 0.0
        meter = getattr(self.meter, "primary", self.meter)  # a TeeMeter's side meter keeps one entry per round
        try:
            runner = self._make_runner(_noop, (), {})

            def window(k: int) -> float:
                best = math.inf
                loops = range(k)
                for _ in range(HARNESS_REPS):
                    meter.start()
                    try:
                        runner(loops)
                    finally:
                        d = meter.stop().duration_s
                    best = min(best, d)
                return best

            d1, d33 = window(1), window(33)
        except Exception:  # a calibration failure must not lose the benchmark's energy
            abort_meter(meter)  # nor leave the meter's window open for the next benchmark
            return 0.0
        per_iteration = max(0.0, (d33 - d1) / 32)
        fixed = d1 - per_iteration
        return fixed if math.isfinite(fixed) and fixed > 0 else 0.0


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


def _sig(value: float) -> float:
    return float(f"{value:.{DIGITS}g}")


def sketch(values: Sequence[float], most: int = SAMPLE_KEPT) -> list[float]:
    """All values (in order) when at most ``most``, else ``most`` evenly spaced quantiles (min and max exact)."""
    if len(values) <= most:
        return [_sig(v) for v in values]
    s = sorted(values)
    return [_sig(_quantile(s, i / (most - 1))) for i in range(most)]


def summarize(
    records: Sequence[RoundRecord],
    other_cores: Sequence[float | None],
    meter_info: Mapping[str, Any],
    intensity: Intensity,
    *,
    speed_probe_s: float | None = None,
    speed_probes_s: Sequence[float] = (),
    threads: int | None = None,
    harness_s: float = 0.0,
) -> EnergyRecord:
    """The ``extra_info["energy"]`` record of one benchmark (see greenbench.results).

    Bounded whatever the number of rounds: exact statistics over the metered
    rounds (``per_call_j``: all; ``clean_j``: uncontended), a sketch of at most
    :data:`SAMPLE_KEPT` per-call energies (``rounds_j``) and at most
    :data:`greenbench.meters.contention.SPEED_PROBES_KEPT` host-speed probes.
    """
    harness = max(0.0, harness_s)
    shares = [min(1.0, harness / r.measurement.duration_s) if r.measurement.duration_s > 0 else 0.0 for r in records]
    per_call = [r.measurement.energy_j * (1.0 - sh) / r.iterations for r, sh in zip(records, shares, strict=True)]
    calls = sum(r.iterations for r in records)
    total_j = sum(r.measurement.energy_j for r in records)
    total_s = sum(r.measurement.duration_s for r in records)
    domains: dict[str, float] = {}
    for r in records:
        for k, v in r.measurement.domains.items():
            domains[k] = domains.get(k, 0.0) + v
    figures: dict[str, float] = {}  # side figures (the model's allocated_j, low/high band), summed like domains
    for r in records:
        for k, v in getattr(r.measurement, "figures", {}).items():
            figures[k] = figures.get(k, 0.0) + v
    stats = describe_values(per_call)
    estimated = any(r.measurement.estimated for r in records)
    source = records[-1].measurement.source
    known = [c for c in other_cores if c is not None]
    contended = [bool(c is not None and c >= CONTENDED_OTHER_CORES) for c in other_cores]
    if len(contended) != len(per_call):
        contended = [False] * len(per_call)
    clean = [v for v, c in zip(per_call, contended, strict=True) if not c]
    used = clean if len(clean) >= MIN_CLEAN_ROUNDS else per_call
    u = describe_values(used)
    clean_j = {k: _sig(u[k]) for k in ("min", "q1", "median", "q3", "mean")} | {"n": len(used)}
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
            f">= {CONTENDED_OTHER_CORES} cores busy: figures are inflated; "
            + ("the energy gate ignores those rounds" if len(clean) >= MIN_CLEAN_ROUNDS else
               "the energy gate decides on them only against 3 baseline runs saved under the same load")
        )
    notes = sorted({n for r in records for n in r.measurement.notes})
    iterations = statistics.mode([r.iterations for r in records])
    return EnergyRecord(
        source=source,
        estimated=estimated,
        per_call_j=stats,
        rounds_j=tuple(sketch(used)),
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
        speed_probe_s=speed_probe_s,
        speed_probes_s=tuple(_sig(p) for p in thin(list(speed_probes_s), SPEED_PROBES_KEPT)),
        warnings=tuple(warnings),
        notes=tuple(notes),
        threads=threads,
        deterministic=meter_info.get("deterministic") is True,
        clean_j=clean_j,
        rounds_measured=len(records),
        iterations=iterations,
        harness_s=_sig(harness) if harness else 0.0,
        harness_share=_sig(statistics.median(shares)) if shares else 0.0,
        extra={"figures_j": {k: v / calls for k, v in figures.items()}} if figures else {},
    )

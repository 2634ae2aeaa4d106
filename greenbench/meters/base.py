"""The measurement record and the small interface every energy meter follows.

Imports: stdlib and :mod:`greenbench.errors` only (never pytest, never numpy).
"""

from __future__ import annotations

import math
import re
import types
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from greenbench.errors import MeterError
from greenbench.units import j_to_kwh

#: Every source name a Measurement may carry (a composite joins them: "rapl+nvml").
#: greenbench's own sources; a meter of the user's (``--energy-meter MODULE:CLASS``) names its own
SOURCES = ("rapl", "nvml", "codecarbon", "model", "counted", "null")
_SOURCE_NAME = re.compile(r"[a-z][a-z0-9_-]*(\+[a-z][a-z0-9_-]*)*")


def _frozen_mapping(value: Mapping[str, float]) -> Mapping[str, float]:
    return types.MappingProxyType(dict(value))


@dataclass(frozen=True, slots=True)
class Measurement:
    """Energy of one window, validated at construction.

    ``energy_j`` is the total the source attributes to the window (joules);
    ``domains`` splits it (e.g. ``package-0``, ``dram-0``, ``gpu0``) and, when
    present, sums to ``energy_j`` (the model meter's ``cpu``/``memory`` split
    included).  ``estimated`` is True for every figure that was not read off a
    hardware counter.
    """

    energy_j: float
    duration_s: float
    cpu_time_s: float
    source: str
    estimated: bool
    domains: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    #: event counts of the window (the counted meter: instructions, cache misses); empty for other meters
    counts: Mapping[str, int] = field(default_factory=dict)
    #: side figures of the window in joules, additive over windows and *not* part of energy_j
    #: (the model meter: allocated_j and the low/high band); the recorder sums them like domains
    figures: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("energy_j", "duration_s", "cpu_time_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value):
                raise MeterError(f"Measurement.{name} must be a finite number, got {value!r}")
            if value < 0:
                raise MeterError(f"Measurement.{name} must be >= 0, got {value!r}")
        if self.duration_s <= 0:
            raise MeterError(f"Measurement.duration_s must be > 0, got {self.duration_s!r}")
        if not isinstance(self.source, str) or not _SOURCE_NAME.fullmatch(self.source):
            raise MeterError(
                f"Measurement.source must be a lower-case name such as {SOURCES[0]!r} (several joined by '+'), "
                f"got {self.source!r}"
            )
        for key, value in self.domains.items():
            if not math.isfinite(value) or value < 0:
                raise MeterError(f"Measurement.domains[{key!r}] must be finite and >= 0, got {value!r}")
        object.__setattr__(self, "domains", _frozen_mapping(self.domains))
        object.__setattr__(self, "counts", types.MappingProxyType(dict(self.counts)))
        if self.figures:
            for key, value in self.figures.items():
                if not math.isfinite(value) or value < 0:
                    raise MeterError(f"Measurement.figures[{key!r}] must be finite and >= 0, got {value!r}")
            object.__setattr__(self, "figures", _frozen_mapping(self.figures))

    @property
    def power_w(self) -> float:
        """Mean power over the window (W)."""
        return self.energy_j / self.duration_s

    @property
    def energy_kwh(self) -> float:
        return j_to_kwh(self.energy_j)

    def as_dict(self) -> dict[str, Any]:
        return {
            "energy_j": self.energy_j,
            "duration_s": self.duration_s,
            "cpu_time_s": self.cpu_time_s,
            "power_w": self.power_w,
            "source": self.source,
            "estimated": self.estimated,
            "domains": dict(self.domains),
            "notes": list(self.notes),
        } | ({"counts": dict(self.counts)} if self.counts else {}) | (
            {"figures": dict(self.figures)} if self.figures else {})


@runtime_checkable
class Meter(Protocol):
    """What the plugin needs from an energy source.

    ``start()`` / ``stop()`` bracket one window (one at a time per instance);
    ``stop()`` returns an immutable :class:`Measurement`.  ``describe()``
    returns JSON-safe facts for ``machine_info`` (source, estimated,
    resolution, update period, domains).
    """

    source: str
    estimated: bool
    #: shortest window (s) the source can resolve; shorter windows get a warning
    update_period_s: float

    def start(self) -> None: ...

    def stop(self) -> Measurement: ...

    def describe(self) -> dict[str, Any]: ...


class Window:
    """Holder filled when a ``with meter.measure()`` block ends."""

    __slots__ = ("measurement",)

    def __init__(self) -> None:
        self.measurement: Measurement | None = None


#: shortest window (s) a Measurement may have: a perf_counter tick, so a zero-length window is not an error
MIN_WINDOW_S = 1e-9


class MeterBase:
    """The window bookkeeping every meter shares, written once; subclasses only read their counters.

    A backend's ``start()`` calls :meth:`_begin_window` first (one window at a
    time, one message), reads its counters, then :meth:`_mark_open` with the
    wall and CPU clocks read beside them; ``stop()`` reads the clocks and its
    counters, calls :meth:`_end_window` (``stop()`` without ``start()`` is one
    message), and :meth:`_elapsed` turns the clock readings into the window's
    duration and CPU time.
    """

    source: str = "null"
    estimated: bool = True
    update_period_s: float = 0.0
    #: same figure for the same work whatever the load (instruction counts, not time): see greenbench.gate
    deterministic: bool = False
    _window_open: bool = False
    _t0: float = 0.0
    _cpu0: float = 0.0

    def _begin_window(self) -> None:
        if self._window_open:
            raise MeterError(f"{type(self).__name__}.start(): a window is already open; call stop() first")

    def _mark_open(self, wall_s: float, cpu_s: float) -> None:
        self._window_open = True
        self._t0 = wall_s
        self._cpu0 = cpu_s

    def _end_window(self) -> None:
        if not self._window_open:
            raise MeterError(f"{type(self).__name__}.stop() called without start()")
        self._window_open = False

    def attach_benchmark(self, fixture: Any) -> None:
        """Called when a benchmark test starts, before pytest-benchmark calibrates: a meter that needs the
        benchmark itself takes it here (the counted meter: the measured function, for its per-function
        profile).  The plugin never asks which meter it has.  Default: nothing."""

    def record_extras(self, record: Any, rounds: Sequence[Any]) -> Any:
        """The benchmark's EnergyRecord with what this meter adds to it, from its rounds
        (greenbench.plugin.recorder.RoundRecord); the counted meter adds per-call counts.  Default: unchanged."""
        return record

    def abort(self) -> None:
        """Close the window without a reading, whatever state a failed start()/stop() left it in.

        The recorder calls this after the meter raised, so the next benchmark can start a window
        (issue #21: one failure never turns into "a window is already open" in the next test).
        """
        self._window_open = False

    def _elapsed(self, wall_s: float, cpu_s: float) -> tuple[float, float]:
        """(duration_s, cpu_time_s) of the window ending at these clock readings."""
        return max(wall_s - self._t0, MIN_WINDOW_S), max(cpu_s - self._cpu0, 0.0)

    def start(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def stop(self) -> Measurement:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "estimated": self.estimated,
            "update_period_s": self.update_period_s,
            "deterministic": self.deterministic,
        }

    @contextmanager
    def measure(self) -> Iterator[Window]:
        """``with meter.measure() as w: ...`` then ``w.measurement``."""
        window = Window()
        self.start()
        try:
            yield window
        finally:
            window.measurement = self.stop()

    def __enter__(self) -> MeterBase:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.last = self.stop()

    last: Measurement | None = None


#: process CPU time (s), summed over a benchmark's metered windows, above which a CPU-side hardware
#: counter that never moved is stuck (RAPL ticks every ~1 ms while a core runs); see :func:`never_moved`
STUCK_BENCHMARK_CPU_S = 0.01
#: wall time (s), summed over a benchmark's windows, above which a GPU board's counter that never moved
#: is stuck (a powered board never draws 0 W; NVML updates every ~100 ms)
STUCK_BENCHMARK_GPU_S = 1.0


def never_moved(measurements: Sequence[Measurement]) -> str | None:
    """Why a benchmark's windows, taken together, show a counter that never moved; None when they do not.

    The per-window checks (RAPL, NVML) need a window long enough to see a tick; sub-millisecond
    rounds never are, so the same rule is applied over the whole benchmark: a CPU-side counter
    (every domain but ``gpu*``) that read 0 J in every window while the process used at least
    :data:`STUCK_BENCHMARK_CPU_S` of CPU, or a GPU domain that read 0 J over at least
    :data:`STUCK_BENCHMARK_GPU_S` of windows.  The caller decides what it means: refused for a
    hardware counter, a warning for an estimate or a meter of the user's.
    """
    if not measurements:
        return None
    cpu_s = sum(m.cpu_time_s for m in measurements)
    wall_s = sum(m.duration_s for m in measurements)
    n = len(measurements)
    keys = sorted({k for m in measurements for k in m.domains})
    cpu_keys = [k for k in keys if not k.startswith("gpu")]
    gpu_keys = [k for k in keys if k.startswith("gpu")]
    if not keys:
        if sum(m.energy_j for m in measurements) == 0 and cpu_s >= STUCK_BENCHMARK_CPU_S:
            return f"read 0 J in all {n} metered windows while this process used {cpu_s:.3g} s of CPU"
        return None
    if cpu_keys and cpu_s >= STUCK_BENCHMARK_CPU_S and \
            all(m.domains.get(k, 0.0) == 0 for m in measurements for k in cpu_keys):
        return (f"{', '.join(cpu_keys)} read 0 J in all {n} metered windows while this process used "
                f"{cpu_s:.3g} s of CPU")
    if wall_s >= STUCK_BENCHMARK_GPU_S:
        for k in gpu_keys:
            if all(m.domains.get(k, 0.0) == 0 for m in measurements):
                return f"{k} read 0 J over {n} windows lasting {wall_s:.3g} s in all (a powered board never draws 0 W)"
    return None


def counter_snapshot(meter: Any) -> dict[str, tuple[int, ...]]:
    """The raw hardware counters of ``meter`` and of the meters inside it, by source (``rapl``, ``nvml``).

    Read outside any window, before and after a whole benchmark, so that a counter that never moved
    is seen however short the rounds are (:func:`never_moved_span`).  A meter without ``counters()``
    or one that fails to read contributes nothing.
    """
    out: dict[str, tuple[int, ...]] = {}
    stack, seen = [meter], set()
    while stack:
        m = stack.pop()
        if m is None or id(m) in seen:
            continue
        seen.add(id(m))
        source = getattr(m, "source", None)
        fn = getattr(m, "counters", None)
        if source in ("rapl", "nvml") and callable(fn):
            try:
                out[source] = tuple(int(v) for v in fn())
            except Exception:  # no snapshot, no whole-benchmark verdict for this part
                continue
        stack += [getattr(m, "primary", None), *getattr(m, "parts", ())]
    return out


def never_moved_span(before: Mapping[str, tuple[int, ...]], after: Mapping[str, tuple[int, ...]],
                     cpu_s: float, wall_s: float) -> str | None:
    """Why counters read before and after a whole benchmark show a stuck source, or None.

    RAPL: every zone's counter unchanged while the process used :data:`STUCK_BENCHMARK_CPU_S` of CPU;
    NVML: a board's counter unchanged over :data:`STUCK_BENCHMARK_GPU_S` (a powered board never draws 0 W).
    """
    rapl0, rapl1 = before.get("rapl"), after.get("rapl")
    if rapl0 and rapl0 == rapl1 and cpu_s >= STUCK_BENCHMARK_CPU_S:
        return (f"no RAPL counter moved over the whole benchmark while this process used {cpu_s:.3g} s of CPU "
                f"(counters {', '.join(map(str, rapl0[:4]))} µJ before and after)")
    gpu0, gpu1 = before.get("nvml"), after.get("nvml")
    if gpu0 and gpu1 and len(gpu0) == len(gpu1) and wall_s >= STUCK_BENCHMARK_GPU_S:
        for i, (a, b) in enumerate(zip(gpu0, gpu1, strict=True)):
            if a == b:
                return (f"NVML board #{i} (of those with an energy counter) did not move over the whole benchmark "
                        f"({wall_s:.3g} s)")
    return None

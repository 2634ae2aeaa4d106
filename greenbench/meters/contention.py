"""How busy the rest of the machine was while a benchmark ran.

On a shared machine other processes steal cores, caches and memory
bandwidth; a round measured then is slower and costs more.  We compare the
machine-wide busy CPU time from ``/proc/stat`` with this process's own CPU
time over the same wall-clock span: what is left is other processes' work,
expressed in cores.  ``/proc/stat`` ticks at USER_HZ (10 ms), so spans are
sampled at most every :data:`MIN_SPAN_S` and every round in a span gets that
span's figure.  Where ``/proc/stat`` is unreadable the probe reports None.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

#: shortest span (s) worth sampling: 5 USER_HZ ticks keeps the quantisation error <= 20%
MIN_SPAN_S = 0.05
#: other processes using at least this many cores make a window "contended"
CONTENDED_OTHER_CORES = 0.5
#: probe the host's speed again once this long (s) has passed: ~45 us per 10 ms is <= 0.5% extra wall
#: time, outside timed rounds (it was 1 ms: 4.5% of every sub-microsecond suite's wall time, issue #17)
SPEED_PROBE_EVERY_S = 0.01
#: host-speed probe timings kept per benchmark (in memory: thinned by halves beyond twice this)
SPEED_PROBES_KEPT = 16
#: iterations of the host-speed probe loop (~45 us of pure-Python work here)
SPEED_PROBE_LOOPS = 2000
#: probes taken when a benchmark starts and ends (one more at each span boundary); 10 x ~45 us at each
#: end (was 20: sub-us suites run many short benchmarks, issue #17); the gate checks the probes' own noise
SPEED_PROBES_AT_EDGES = 10

_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system irq softirq steal


def read_machine_busy_s(stat_path: str | Path = "/proc/stat") -> float | None:
    """Machine-wide busy CPU seconds since boot (all cores), or None."""
    try:
        with open(stat_path, "rb") as fh:
            first = fh.readline().split()
    except OSError:
        return None
    if not first or first[0] != b"cpu":
        return None
    try:
        ticks = sum(int(first[1 + i]) for i in _BUSY_FIELDS if 1 + i < len(first))
    except ValueError:
        return None
    return ticks / os.sysconf("SC_CLK_TCK")


def speed_probe_s(loops: int = SPEED_PROBE_LOOPS) -> float:
    """Seconds a fixed pure-Python loop takes now: how fast the host runs us.

    On shared VMs the host's other tenants (an SMT sibling, frequency
    limits) slow a whole run down without any sign in ``/proc/stat``:
    measured here, the same loop's CPU time moved by +-12% between runs,
    while its ratio to this probe stayed within +-3%.  The minimum over a
    benchmark's probes is its *speed index*; the gate divides energy by it.
    """
    t0 = time.perf_counter()
    x = 0
    for i in range(loops):
        x ^= i
    return time.perf_counter() - t0


def thin(values: list[float], most: int = 200) -> list[float]:
    """An evenly spaced subsample of at most ``most`` values (keeps saved JSON small)."""
    step = max(1, -(-len(values) // most))
    return values[::step]


class LoadProbe:
    """Attributes other processes' CPU use to spans of benchmark rounds.

    Call :meth:`begin` once, :meth:`round_done` after each round, and
    :meth:`finish` at the end; :attr:`per_round` then holds, for each round,
    the mean number of cores other processes kept busy (None if unknown).

    The recorder passes each *measured* round's record to :meth:`round_done`
    instead (``track_rounds=False``): the span's figure is written to the
    record's ``other`` attribute, so nothing grows with the number of rounds.
    ``/proc/stat`` is read once per :data:`MIN_SPAN_S` span, never per round.
    """

    def __init__(self, stat_path: str | Path = "/proc/stat", *, track_rounds: bool = True) -> None:
        self._stat_path = stat_path
        self._track = track_rounds
        self._slots: list[Any] = []
        self.per_round: list[float | None] = []
        self._pending = 0
        self._t0 = 0.0
        self._busy0: float | None = None
        self._cpu0 = 0.0
        #: minimum of the host-speed probes taken during the benchmark (s)
        self.speed_s: float | None = None
        #: every probe timing (s), for the gate's bootstrap
        self.speeds: list[float] = []
        self._last_probe = 0.0

    def _probe_speed(self) -> None:
        t = speed_probe_s()
        self.speed_s = t if self.speed_s is None else min(self.speed_s, t)
        self.speeds.append(t)
        if len(self.speeds) > 2 * SPEED_PROBES_KEPT * 8:
            self.speeds = self.speeds[::2]  # bounded: keep an evenly spaced half
        self._last_probe = time.perf_counter()

    def begin(self) -> None:
        for _ in range(SPEED_PROBES_AT_EDGES):
            self._probe_speed()
        self._t0 = time.perf_counter()
        self._cpu0 = time.process_time()
        self._busy0 = read_machine_busy_s(self._stat_path)
        self._pending = 0

    def round_done(self, slot: Any = None) -> None:
        """One (measured) round ended; ``slot.other`` receives its span's figure when given."""
        self._pending += 1
        if slot is not None:
            self._slots.append(slot)
        now = time.perf_counter()
        if now - self._t0 >= MIN_SPAN_S:
            self._close_span()
        elif now - self._last_probe >= SPEED_PROBE_EVERY_S:
            # the host's speed drifts within a run: sample it through the run, so its
            # fastest moments (which set the energy floor) are seen by the probe too
            self._probe_speed()

    def finish(self) -> None:
        if self._pending:
            self._close_span()
        for _ in range(SPEED_PROBES_AT_EDGES):
            self._probe_speed()

    def _close_span(self) -> None:
        self._probe_speed()  # before the clocks are read: the probe is not other processes' work
        t1 = time.perf_counter()
        cpu1 = time.process_time()
        busy1 = read_machine_busy_s(self._stat_path)
        other: float | None = None
        wall = t1 - self._t0
        if busy1 is not None and self._busy0 is not None and wall >= MIN_SPAN_S / 5:
            other = max(0.0, ((busy1 - self._busy0) - (cpu1 - self._cpu0)) / wall)
        for slot in self._slots:
            slot.other = other
        self._slots.clear()
        if self._track:
            self.per_round.extend([other] * self._pending)
        self._pending = 0
        self._t0, self._cpu0, self._busy0 = t1, cpu1, busy1

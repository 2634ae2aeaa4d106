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

#: shortest span (s) worth sampling: 5 USER_HZ ticks keeps the quantisation error <= 20%
MIN_SPAN_S = 0.05
#: other processes using at least this many cores make a window "contended"
CONTENDED_OTHER_CORES = 0.5

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


class LoadProbe:
    """Attributes other processes' CPU use to spans of benchmark rounds.

    Call :meth:`begin` once, :meth:`round_done` after each round, and
    :meth:`finish` at the end; :attr:`per_round` then holds, for each round,
    the mean number of cores other processes kept busy (None if unknown).
    """

    def __init__(self, stat_path: str | Path = "/proc/stat") -> None:
        self._stat_path = stat_path
        self.per_round: list[float | None] = []
        self._pending = 0
        self._t0 = 0.0
        self._busy0: float | None = None
        self._cpu0 = 0.0

    def begin(self) -> None:
        self._t0 = time.perf_counter()
        self._cpu0 = time.process_time()
        self._busy0 = read_machine_busy_s(self._stat_path)
        self._pending = 0

    def round_done(self) -> None:
        self._pending += 1
        if time.perf_counter() - self._t0 >= MIN_SPAN_S:
            self._close_span()

    def finish(self) -> None:
        if self._pending:
            self._close_span()

    def _close_span(self) -> None:
        t1 = time.perf_counter()
        cpu1 = time.process_time()
        busy1 = read_machine_busy_s(self._stat_path)
        other: float | None = None
        wall = t1 - self._t0
        if busy1 is not None and self._busy0 is not None and wall >= MIN_SPAN_S / 5:
            other = max(0.0, ((busy1 - self._busy0) - (cpu1 - self._cpu0)) / wall)
        self.per_round.extend([other] * self._pending)
        self._pending = 0
        self._t0, self._cpu0, self._busy0 = t1, cpu1, busy1

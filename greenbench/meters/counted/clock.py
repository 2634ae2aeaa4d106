"""pytest-benchmark's clock in a counted run: counts, not the wall clock (issue #20).

Inside a counted run (one process under callgrind) pytest-benchmark reads a clock around every round and
formats what it read into its log strings (``format_time``: "9.87us", "123.45us", strings whose length follows
the reading) whether or not they are printed, and its ``time.time()`` around the rounds does the same.  Those
strings are allocated and freed between the measured calls, so the allocator's state -- and with it the next
benchmark's counts -- followed the machine's timing.  Measured on cattrs' own ``bench/`` (40 benchmarks, 3 fresh
counted runs side by side): per-call instructions identical in 24-25 of 40 benchmarks between two runs, energy per
call up to 1.32 % apart; with every clock of the process replaced by a deterministic one, 40 of 40 identical
(0.005 %); with only pytest-benchmark's timer and its module's ``time.time()`` replaced, 4 of 4 identical on
the selection where the first differences appeared (the timer alone or ``time.time()`` alone: not).

So in the counted run only:

* pytest-benchmark's timer (``--benchmark-timer``, saved as the ``timer`` of every benchmark's options) is
  :func:`counted_nominal_clock`: a clock that advances one nanosecond per reading.  It gives
  pytest-benchmark's timer-precision measurement a fixed answer (1 ns), so its calibration never asks for more
  rounds;
* the duration the counted meter hands pytest-benchmark for a round is the round's **net instructions at a
  nominal** :data:`NOMINAL_S_PER_INSTRUCTION` (1 ns: a 1 GHz core at one instruction per cycle) -- pytest-
  benchmark's time columns of a counted run are a deterministic function of the counts, an *estimate by
  convention*, not a measurement (the wall time under Valgrind, 50-150x slower than native and following the
  machine's load, is not one either; the meter's own record keeps it as ``duration_s``);
* pytest-benchmark's fixture module sees a ``time`` module whose ``time()`` is :func:`counted_nominal_clock`
  (it reads it only for its warm-up by wall time, off in a counted run, and for a debug line).

The code under test is not touched: its ``time`` module is the real one.
"""

from __future__ import annotations

import sys
import types
from typing import Any

#: seconds per net instruction in pytest-benchmark's time columns of a counted run: a convention (1 GHz, one
#: instruction per cycle), not a literature figure and not a measurement
NOMINAL_S_PER_INSTRUCTION = 1e-9
#: the value pytest-benchmark's ``--benchmark-timer`` takes in a counted run
TIMER = "greenbench.meters.counted.clock.counted_nominal_clock"
#: what the time columns of a counted run are, in words (the meter's describe(); docs/counted.md)
TIME_COLUMNS = ("pytest-benchmark's times in a counted run are net instructions x 1 ns (nominal 1 GHz, 1 "
                "instruction per cycle): a deterministic estimate from counts, not a measured time")

_now_ns = 0


def counted_nominal_clock() -> float:
    """A clock that advances exactly one nanosecond per reading (seconds, from 0)."""
    global _now_ns
    _now_ns += 1
    return _now_ns * 1e-9


def counted_duration_s(instructions: int) -> float:
    """pytest-benchmark's duration for ``instructions`` net instructions (at least one)."""
    return max(int(instructions), 1) * NOMINAL_S_PER_INSTRUCTION


def say_time_columns(terminalreporter: Any) -> None:
    """One line after pytest-benchmark's table of a counted run (when it has benchmarks): what its times are."""
    bs = getattr(terminalreporter.config, "_benchmarksession", None)
    if bs is not None and getattr(bs, "benchmarks", None):
        terminalreporter.write_line(f"counted meter: {TIME_COLUMNS}")


class _FixtureTime(types.ModuleType):
    """The ``time`` module as pytest-benchmark's fixture module sees it in a counted run: ``time()`` ticks."""

    def __getattr__(self, name: str) -> Any:
        import time

        return getattr(time, name)

    @staticmethod
    def time() -> float:
        return counted_nominal_clock()


def install() -> bool:
    """Give pytest-benchmark's fixture module the deterministic ``time`` (False: no pytest-benchmark)."""
    import importlib

    try:
        name = "pytest_benchmark.fixture"
        fixture: Any = sys.modules.get(name) or importlib.import_module(name)
    except ImportError:
        return False
    if not isinstance(getattr(fixture, "time", None), _FixtureTime):
        fixture.time = _FixtureTime("time")
    return True

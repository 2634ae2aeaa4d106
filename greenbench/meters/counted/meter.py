"""Meter: a section of :mod:`greenbench.meters.counted` (its docstring tells the whole story)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from greenbench.errors import MeterError, MeterUnavailable
from greenbench.meters.base import Measurement, MeterBase
from greenbench.meters.counted import arenas as _arenas
from greenbench.meters.counted import energy_model as CM
from greenbench.meters.counted.clock import TIME_COLUMNS, counted_duration_s
from greenbench.meters.counted.counts import (
    DIR_ENV,
    MAX_CALLS,
    MAX_WARMUP_CALLS,
    TARGET_INSTRUCTIONS,
    WARMUP_INSTRUCTIONS,
    counted_rounds,
    read_counts,
    settle_calls,
)
from greenbench.meters.counted.valgrind import refuse_child_processes


class CountedMeter(MeterBase):
    """Counts of each window under callgrind, turned into joules by the counted energy model.

    ``lib`` (the client-request shim) and ``out_dir`` can be injected for tests.

    Two ways in: :meth:`run_round` (what the plugin's recorder uses for a benchmark round: warm-up,
    calls chosen by counts, harness subtracted, steady-state caches) and the plain
    :meth:`start`/:meth:`stop` window (the meter protocol; the window's own code is counted as is).
    """

    source = "counted"
    estimated = True
    update_period_s = 0.0
    deterministic = True

    def attach_benchmark(self, fixture: Any) -> None:
        """Issue #24: remember the measured function, for the per-function profile (where the energy went)."""
        from greenbench.meters.counted import pyprofile

        pyprofile.capture(fixture)

    def record_extras(self, record: Any, rounds: Sequence[Any]) -> Any:
        """Issue #12: per-call counts beside the energy; a counted round is never contended."""
        from greenbench.meters.counted import with_counts

        return with_counts(record, rounds)

    def __init__(self, coefficients: CM.Coefficients | None = None, *, lib: Any = None,
                 out_dir: str | os.PathLike[str] | None = None) -> None:
        self.coefficients = coefficients if coefficients is not None else CM.load_coefficients()
        directory = out_dir or os.environ.get(DIR_ENV)
        if lib is None:
            if not directory:
                raise MeterUnavailable("counted meter: runs only under callgrind; pass --energy-meter=counted on "
                                       "the pytest command line and greenbench re-launches it under valgrind")
            from greenbench.meters.counted import callgrind as _callgrind

            lib = _callgrind.load()
            if not lib.gb_running_on_valgrind():
                raise MeterUnavailable(f"counted meter: {DIR_ENV} is set but this process is not running under "
                                       "valgrind; unset it and let the plugin re-launch pytest")
        self.lib = lib
        self.out_dir = Path(directory or ".")
        refuse_child_processes(self)
        self.windows = 0
        self._instrumented = False  # instrumentation switched on by this meter and still on
        self._window_started_instr = False
        #: the benchmark being measured (for messages), its calls per round (chosen at its first round)
        self.benchmark: str | None = None
        self.calls_per_round: int | None = None
        #: per-round counts of the harness around zero work (pytest-benchmark's runner on a no-op)
        self.harness: dict[str, int] | None = None
        #: set while a measured round runs: a child process started then is refused (CountedRunPlugin)
        self.in_round = False

    # -- the meter protocol: one counted window -----------------------------------
    def start(self) -> None:
        self._begin_window()
        self._mark_open(time.perf_counter(), time.process_time())
        self._window_started_instr = not self._instrumented
        self._instrument()
        self.lib.gb_zero_stats()
        self.lib.gb_toggle_collect()  # on

    def stop(self) -> Measurement:
        self._end_window()
        self.lib.gb_toggle_collect()  # off
        self.lib.gb_dump_stats_at(b"greenbench")
        duration, cpu = self._elapsed(time.perf_counter(), time.process_time())
        if self._window_started_instr:
            self._uninstrument()
        self.windows += 1
        return self._measurement(self._read_dump(), duration, cpu)

    def _measurement(self, counts: Mapping[str, int], duration: float, cpu: float) -> Measurement:
        split = CM.energy_split_j(counts, self.coefficients)
        m = Measurement(energy_j=sum(split.values()), duration_s=duration, cpu_time_s=cpu, source="counted",
                        estimated=True, domains=split, counts=dict(counts))
        from greenbench.meters.counted import (
            profile,  # issue #24: the measured calls' per-function costs kept beside it
        )

        profile.keep(self, m)
        return m

    def _instrument(self) -> None:
        if not self._instrumented:
            self.lib.gb_start_instrumentation()  # flushes the simulated caches: they fill in the warm-up
            self._instrumented = True

    def _uninstrument(self) -> None:
        if self._instrumented:
            self.lib.gb_stop_instrumentation()
            self._instrumented = False

    # -- benchmark rounds (the recorder's way in) -------------------------------------
    def begin_benchmark(self, name: str) -> None:
        """A new benchmark: its calls per round are chosen afresh at its first round."""
        import gc

        self.end_benchmark()
        self.benchmark = name
        self.calls_per_round = None
        gc.collect()  # uninstrumented: every benchmark starts from a collected heap

    def end_benchmark(self) -> None:
        """Switch instrumentation off (the code between benchmarks runs uninstrumented, faster)."""
        self._uninstrument()
        self.in_round = False

    def _collect(self, call: Callable[[int], Any], calls: int) -> tuple[Any, dict[str, int]]:
        """``call(calls)`` with collection on; its counts (harness included)."""
        self.lib.gb_zero_stats()
        self.lib.gb_toggle_collect()  # on
        try:
            result = call(calls)
        finally:
            self.lib.gb_toggle_collect()  # off
            self.lib.gb_dump_stats_at(b"greenbench")
        return result, self._read_dump()

    def _calibrate_harness(self, make_noop: Callable[[], Callable[[int], Any]] | None) -> dict[str, int]:
        """Counts of one round's fixed harness: ``c(1) - (c(33) - c(1)) / 32`` of a no-op runner."""
        if self.harness is not None:
            return self.harness
        harness: dict[str, int] = {}
        if make_noop is not None:
            noop = make_noop()
            noop(MAX_WARMUP_CALLS)
            _, one = self._collect(noop, 1)
            noop(MAX_WARMUP_CALLS)
            _, many = self._collect(noop, 33)
            for k, v in one.items():
                slope = (many.get(k, 0) - v) / 32
                harness[k] = max(0, round(v - max(slope, 0.0)))
        self.harness = harness
        return harness

    def run_round(self, call: Callable[[int], Any], loops: int | None,
                  make_noop: Callable[[], Callable[[int], Any]] | None = None) -> tuple[Any, Measurement, int]:
        """One benchmark round: ``(result for pytest-benchmark, measurement of the measured calls, calls)``.

        ``call(n)`` runs pytest-benchmark's runner over ``n`` calls and returns its duration;
        ``loops`` is the number of calls pytest-benchmark asked for (None: one call whose result it
        wants back, e.g. ``benchmark.pedantic`` with setup: run once, as asked, with the caches the
        previous round left).  ``make_noop()`` gives the same runner around a no-op (harness calibration).
        """
        import gc

        self._begin_window()
        t0, c0 = time.perf_counter(), time.process_time()
        self._mark_open(t0, c0)
        gc_was = gc.isenabled()
        try:
            self._instrument()
            harness = self._calibrate_harness(make_noop)
            self.in_round = True
            gc.disable()  # the pytest-benchmark runner re-enables it only if it was enabled
            if loops is None:
                result, counts = self._collect(call, 0)  # call(0): pytest-benchmark's single-call path
                n = 1
                loops = 0
            else:
                n = self.calls_per_round or 0
                if not n:
                    # the benchmark's first round (pytest-benchmark's calibration round, not kept) sizes the
                    # rounds: first touches and lazy initialisation uninstrumented (code generated on a first
                    # call -- cattrs compiles its converters then -- ran 32 s of a 34 s benchmark under the cache
                    # simulation; it is the same code and heap either way: switching instrumentation on only
                    # flushes the simulated caches), then one counted call
                    self._uninstrument()
                    call(2)
                    self._instrument()
                    _, counts = self._collect(call, 1)
                    net = max(counts.get("instructions", 0) - harness.get("instructions", 0), 1)
                    self.calls_per_round = 1 << max(0, min(MAX_CALLS.bit_length() - 1,
                                                           (TARGET_INSTRUCTIONS // net).bit_length() - 1))
                    n = 1
                    # then the interpreter's steady state, once per benchmark: CPython 3.11 re-tries a failed
                    # bytecode specialisation after up to 4096 executions, and with an instrumented warm-up of 4M
                    # instructions alone the three rounds still fell 1.1 % / 0.8 % / 0 in every process (cattrs,
                    # 70k-instruction calls: specialisation calls and slow frame set-up in the first rounds).
                    # Those calls run uninstrumented (several times faster), then the instrumented warm-up fills
                    # the simulated caches again (switching instrumentation on flushes them).
                    settle = settle_calls(net)
                    if settle:
                        self._uninstrument()
                        call(settle)
                        self._instrument()
                    call(min(MAX_CALLS, max(2 * self.calls_per_round, -(-WARMUP_INSTRUCTIONS // net))))
                else:
                    warm = 1 if n == 1 else min(MAX_WARMUP_CALLS, max(2, n // 2))
                    call(warm)
                    _, counts = self._collect(call, n)
            counts = {k: max(0, v - harness.get(k, 0)) for k, v in counts.items()}
            # pytest-benchmark's duration: the net instructions at a nominal 1 ns each (greenbench.meters.counted.
            # clock: the wall time under Valgrind follows the machine, and what pytest-benchmark does with it
            # reached the next benchmark's counts), for the calls it asked for (it divides by them)
            per_call_s = counted_duration_s(counts.get("instructions", 0)) / n
            if loops == 0:
                result = (per_call_s, result[1]) if isinstance(result, tuple) and len(result) == 2 else result
            else:
                result = per_call_s * max(loops, 1)
        except BaseException:
            self.in_round = False
            self._window_open = False  # closed: the next round or benchmark starts clean
            raise
        finally:
            if gc_was:
                gc.enable()
        self.in_round = False
        self._end_window()
        duration_s, cpu = self._elapsed(time.perf_counter(), time.process_time())
        self.windows += 1
        return result, self._measurement(counts, duration_s, cpu), n

    def _read_dump(self) -> dict[str, int]:
        """The counts of the dump(s) callgrind just wrote, read from their headers.

        A dump's whole text (tens of KiB, its length following the counts and callgrind's basic-block
        counter) is never held in this process while a benchmark runs: a block of that size on glibc's heap
        during the rounds decided whether a benchmark's growing list was extended in place or copied (issue
        #20: the same 3,000-element list comprehension 1,311,123 / 1,329,392 / 1,336,444 instructions per call
        in fresh runs; identical in 3 of 3 without it).  The dump files stay on disk for the profile
        (greenbench.meters.counted.profile.keep / take), which reads the chosen round's after the benchmark.
        """
        from greenbench.meters.counted import profile

        for stale in getattr(self, "dump_files", None) or ():  # an earlier window's dumps no profile claimed
            stale.unlink(missing_ok=True)
        files = sorted(self.out_dir.glob(f"cg.{os.getpid()}.*"), key=lambda p: int(p.suffix[1:] or 0))
        if not files:
            raise MeterError(f"counted meter: callgrind wrote no dump into {self.out_dir}")
        total: dict[str, int] = {}
        self.dump_files: list[Path] = []  # issue #24: this window's dumps, for its per-function profile
        keep_all = os.environ.get("GREENBENCH_COUNTED_KEEP_DUMPS")
        profiled = profile.enabled()
        for f in files:  # normally one; several only if someone else dumped too
            for k, v in read_counts(f).items():
                total[k] = total.get(k, 0) + v
            self._seq = getattr(self, "_seq", 0) + 1
            if keep_all:  # debugging: every dump kept, numbered in order, named by its benchmark
                import shutil

                name = (self.benchmark or "window").replace("/", "_")
                shutil.copyfile(f, Path(keep_all, f"{self._seq:05d}.{name}.cg"))
            if profiled:
                kept = f.with_name(f"kept.{os.getpid()}.{self._seq}.cg")
                os.replace(f, kept)
                self.dump_files.append(kept)
            else:
                f.unlink()
        return total

    def describe(self) -> dict[str, Any]:
        c = self.coefficients
        return {
            **super().describe(),
            "tool": "valgrind --tool=callgrind --cache-sim=yes",
            "rounds": counted_rounds(),
            "round": {"target_instructions": TARGET_INSTRUCTIONS, "max_warmup_calls": MAX_WARMUP_CALLS,
                      "caches": "warm (steady state)", "gc": "off in rounds", "harness": "subtracted",
                      "pymalloc_arenas": "aligned to 1 MiB" if _arenas.enabled() else "placed as pymalloc does"},
            "time_columns": TIME_COLUMNS,
            "coefficients": c.to_json(),
            "coefficients_source": c.source,
        }

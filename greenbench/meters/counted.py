"""The counted meter: energy from instruction and memory-traffic counts under callgrind.

``pytest --energy-meter=counted`` on an unchanged command line: the plugin
re-launches the same command under ``valgrind --tool=callgrind
--instr-atstart=no --cache-sim=yes`` (:func:`relaunch`) with a fixed
hash seed, one thread for BLAS/OpenMP/torch/Numba and fixed rounds (no
calibration by wall time), and exits with that run's status.  Inside it,
:class:`CountedMeter` brackets each measured round with callgrind client
requests (greenbench._callgrind): zero the statistics and start
instrumentation, then stop it and dump the round's counts to a file, whose
``totals:`` line is parsed (:func:`parse_callgrind`).  Energy is the model of
greenbench.counted_model over the counts (``estimated=True``).

Counts are deterministic: a busy machine changes how long a run takes, not
what it counts.  The gate uses that (:func:`counted_verdict`): no contention
filtering or host-speed correction, and a comparison only when the rounds of
each run agree (their spread is measured and stated).

Imports: stdlib, greenbench.errors/counted_model/meters.base (gate lazily).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from greenbench import counted_model as CM
from greenbench.errors import DataError, MeterError, MeterUnavailable
from greenbench.meters.base import Measurement, MeterBase

#: set in the re-launched run: the directory callgrind dumps into
DIR_ENV = "GREENBENCH_COUNTED_DIR"
#: rounds per benchmark in the counted run (fixed; no calibration by wall time)
ROUNDS_ENV = "GREENBENCH_COUNTED_ROUNDS"
DEFAULT_ROUNDS = 5
#: environment of the counted run only (never set in a non-counted run)
DETERMINISTIC_ENV = {
    "PYTHONHASHSEED": "0",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "BLIS_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "OMP_WAIT_POLICY": "PASSIVE",
    # Numba: compile for a generic x86-64 CPU with no extra features.  The host CPU's name and features are
    # part of Numba's on-disk cache key, and Valgrind's emulated CPU reports different ones than the host, so
    # without this every ``cache=True`` kernel misses its cache and LLVM compiles it under Valgrind (minutes).
    # With it, a plain run with the same variable (``NUMBA_ENV``) fills a cache the counted run hits.
    "NUMBA_CPU_NAME": "generic",  # Numba then also takes no CPU features (NUMBA_CPU_FEATURES defaults to "")
}
#: set these (with the thread variables) in a plain run before a counted one to warm Numba's cache for it
NUMBA_ENV = {"NUMBA_CPU_NAME": "generic"}
VALGRIND_ARGS = (
    "--tool=callgrind",
    "--instr-atstart=no",  # instrument only the measured rounds (client requests switch it)
    "--cache-sim=yes",  # L1 / last-level cache misses
    # a fixed cache geometry, not the host's: counts then match across CI runners of one binary
    "--I1=32768,8,64", "--D1=32768,8,64", "--LL=8388608,16,64",
    "--dump-instr=no",
    "--smc-check=all-non-file",  # JIT code (Numba, torch) is re-translated when rewritten
    "--trace-children=no",
    "-q",
)


def counted_rounds(environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    raw = env.get(ROUNDS_ENV, "")
    if not raw:
        return DEFAULT_ROUNDS
    if not raw.isdigit() or not 3 <= int(raw) <= 1000:
        from greenbench.errors import ConfigError

        raise ConfigError(f"{ROUNDS_ENV}={raw!r}: expected a whole number of rounds from 3 to 1000")
    return int(raw)


# -- reading callgrind's output ---------------------------------------------

def parse_callgrind(text: str, where: str = "callgrind output") -> dict[str, int]:
    """Counts named as in greenbench.counted_model.EVENTS from a callgrind dump's ``events:`` and
    ``totals:`` lines (``summary:`` if there is no ``totals:``).  Events not simulated are absent."""
    events: list[str] | None = None
    totals: list[str] | None = None
    summary: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("totals:"):
            totals = line.split()[1:]
        elif line.startswith("summary:"):
            summary = line.split()[1:]
    values = totals if totals is not None else summary
    if events is None or values is None:
        raise DataError(f"{where}: no 'events:' and 'totals:' lines; is it a callgrind output file?")
    out: dict[str, int] = {}
    for i, ev in enumerate(events):
        name = CM.EVENTS.get(ev)
        if name is None:
            continue
        try:
            value = int(values[i]) if i < len(values) else 0
        except ValueError:
            raise DataError(f"{where}: {ev} total {values[i]!r} is not a whole number") from None
        if value < 0 or value >= 2**63:  # callgrind prints a wrapped negative as a huge unsigned
            raise DataError(f"{where}: {ev} total {value} is out of range")
        out[name] = value
    if "instructions" not in out:
        raise DataError(f"{where}: no Ir (instructions) event")
    return out


def per_call(counts: Mapping[str, int], iterations: int) -> dict[str, int]:
    """Counts of one call: a round's counts divided by its iterations (rounded)."""
    n = max(int(iterations), 1)
    return {k: round(v / n) for k, v in counts.items()}


# -- the meter ------------------------------------------------------------

def under_counted_run() -> bool:
    """True inside the run the plugin re-launched under callgrind."""
    return bool(os.environ.get(DIR_ENV))


class CountedMeter(MeterBase):
    """Counts of each window under callgrind, turned into joules by the counted energy model.

    ``lib`` (the client-request shim) and ``out_dir`` can be injected for tests.
    """

    source = "counted"
    estimated = True
    update_period_s = 0.0
    deterministic = True

    def __init__(self, coefficients: CM.Coefficients | None = None, *, lib: Any = None,
                 out_dir: str | os.PathLike[str] | None = None) -> None:
        self.coefficients = coefficients if coefficients is not None else CM.load_coefficients()
        directory = out_dir or os.environ.get(DIR_ENV)
        if lib is None:
            if not directory:
                raise MeterUnavailable("counted meter: runs only under callgrind; pass --energy-meter=counted on "
                                       "the pytest command line and greenbench re-launches it under valgrind")
            from greenbench import _callgrind

            lib = _callgrind.load()
            if not lib.gb_running_on_valgrind():
                raise MeterUnavailable(f"counted meter: {DIR_ENV} is set but this process is not running under "
                                       "valgrind; unset it and let the plugin re-launch pytest")
        self.lib = lib
        self.out_dir = Path(directory or ".")
        self.windows = 0

    def start(self) -> None:
        self._begin_window()
        self._mark_open(time.perf_counter(), time.process_time())
        self.lib.gb_zero_stats()
        self.lib.gb_start_instrumentation()

    def stop(self) -> Measurement:
        self._end_window()
        self.lib.gb_stop_instrumentation()
        self.lib.gb_dump_stats_at(b"greenbench")
        duration, cpu = self._elapsed(time.perf_counter(), time.process_time())
        self.windows += 1
        counts = self._read_dump()
        split = CM.energy_split_j(counts, self.coefficients)
        return Measurement(energy_j=sum(split.values()), duration_s=duration, cpu_time_s=cpu, source="counted",
                           estimated=True, domains=split, counts=counts)

    def _read_dump(self) -> dict[str, int]:
        files = sorted(self.out_dir.glob(f"cg.{os.getpid()}.*"), key=lambda p: int(p.suffix[1:] or 0))
        if not files:
            raise MeterError(f"counted meter: callgrind wrote no dump into {self.out_dir}")
        total: dict[str, int] = {}
        for f in files:  # normally one; several only if someone else dumped too
            for k, v in parse_callgrind(f.read_text(encoding="utf-8", errors="replace"), str(f)).items():
                total[k] = total.get(k, 0) + v
            f.unlink()
        return total

    def describe(self) -> dict[str, Any]:
        c = self.coefficients
        return {
            **super().describe(),
            "tool": "valgrind --tool=callgrind --cache-sim=yes",
            "rounds": counted_rounds(),
            "coefficients": c.to_json(),
            "coefficients_source": c.source,
        }


# -- re-launching pytest under callgrind --------------------------------------

def relaunch_command(args: Sequence[str], out_dir: str, *, valgrind: str = "valgrind",
                     python: str = sys.executable, rounds: int = DEFAULT_ROUNDS) -> list[str]:
    """``valgrind ... python -m pytest ARGS`` plus pytest-benchmark options that fix the rounds."""
    return [
        valgrind, *VALGRIND_ARGS, f"--callgrind-out-file={out_dir}/cg.%p",
        python, "-m", "pytest", *args,
        # later options win: a fixed number of rounds, one iteration, no warm-up, no wall-time calibration
        f"--benchmark-min-rounds={rounds}", "--benchmark-max-time=0", "--benchmark-min-time=0",
        "--benchmark-calibration-precision=1", "--benchmark-warmup=off",
    ]


def relaunch_env(out_dir: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if environ is None else environ)
    env.update(DETERMINISTIC_ENV)
    env[DIR_ENV] = out_dir
    return env


def relaunch(args: Sequence[str], cwd: str | os.PathLike[str] | None = None) -> int:
    """Run the same pytest command under callgrind; its exit status."""
    from greenbench import _callgrind

    valgrind = _callgrind.valgrind_path()
    _callgrind.load()  # build the shim now: a missing header fails here, in one line, not under valgrind
    CM.load_coefficients()  # a bad coefficients file too
    rounds = counted_rounds()
    out_dir = tempfile.mkdtemp(prefix="greenbench-counted-")
    try:
        cmd = relaunch_command(args, out_dir, valgrind=valgrind, rounds=rounds)
        sys.stdout.flush()
        rc = subprocess.call(cmd, cwd=cwd, env=relaunch_env(out_dir))
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    return rc if rc >= 0 else 128 - rc


# -- results and the gate -------------------------------------------------------

def record_counts(rounds: Sequence[Any]) -> dict[str, int] | None:
    """Per-call counts stored with a benchmark: those of its lowest-energy kept round.

    ``rounds`` are greenbench.recorder.RoundRecord (measurement + iterations).
    """
    best = None
    for r in rounds:
        m = r.measurement
        if not m.counts:
            return None
        e = m.energy_j / max(r.iterations, 1)
        if best is None or e < best[0]:
            best = (e, per_call(m.counts, r.iterations))
    return best[1] if best else None


def with_counts(record: Any, rounds: Sequence[Any]) -> Any:
    """``record`` (an EnergyRecord) with its ``counts`` filled when the rounds were counted."""
    counts = record_counts(rounds)
    if counts is None or not hasattr(record, "counts"):
        return record
    # other processes' load changes how long a counted round takes, not what it counts: no round is contended
    warnings = tuple(w for w in record.warnings if "cores busy" not in w)
    return dataclasses.replace(record, counts=counts, contended=(False,) * len(record.contended),
                               contended_rounds=0, warnings=warnings)


def explain_change(base_counts: Mapping[str, float], cur_counts: Mapping[str, float],
                   coefficients: CM.Coefficients = CM.DEFAULT) -> str:
    """Which event class moved, e.g. ``'+2.0% energy: instructions +2.0%, DRAM lines +0.1%'``.

    Classes are listed by their share of the energy change, largest first.
    """
    b_split = CM.energy_split_j(base_counts, coefficients)
    c_split = CM.energy_split_j(cur_counts, coefficients)
    b_total, c_total = sum(b_split.values()), sum(c_split.values())
    if b_total <= 0:
        return "no counted energy in the baseline"
    b_cls, c_cls = CM.class_counts(base_counts), CM.class_counts(cur_counts)
    order = sorted(CM.CLASSES, key=lambda c: -abs(c_split[c] - b_split[c]))
    parts = []
    for c in order:
        if b_cls[c] > 0:
            parts.append(f"{CM.CLASS_LABELS[c]} {c_cls[c] / b_cls[c] - 1:+.1%}")
        elif c_cls[c] > 0:
            parts.append(f"{CM.CLASS_LABELS[c]} 0 -> {c_cls[c]:.0f}")
    return f"{c_total / b_total - 1:+.1%} energy: " + ", ".join(parts)



"""The counted meter: energy from instruction and memory-traffic counts under callgrind.

``pytest --energy-meter=counted`` on an unchanged command line: the plugin
re-launches the same command under ``setarch -R valgrind --tool=callgrind
--instr-atstart=no --collect-atstart=no --cache-sim=yes`` (:func:`relaunch`)
with a fixed hash seed, no address randomisation, one thread for
BLAS/OpenMP/torch/Numba and fixed rounds (no calibration by wall time), and
exits with that run's status (under pytest-xdist, ``-n N``, only the workers
run under callgrind: :func:`worker_wrapper`).

Inside it, the recorder hands every measured round to
:meth:`CountedMeter.run_round` (issue #20), which makes the counts a property
of the code, not of the process's history:

* instrumentation is switched on at the benchmark's first round and stays on
  until it ends, so the simulated caches hold what the code left there;
* each round first runs **uncollected warm-up calls** (caches, the
  interpreter's specialised bytecode, allocator free lists reach their
  steady state), then collection is toggled on (``CALLGRIND_TOGGLE_COLLECT``)
  for the measured calls only;
* the number of calls per round is chosen **by counts, not time**: a power of
  two that makes a round about :data:`TARGET_INSTRUCTIONS` instructions, from
  a one-call count at the benchmark's first round;
* the harness's own counts (pytest-benchmark's runner, timer reads, the
  client requests), calibrated on a no-op with the same runner, are
  subtracted as pytest-benchmark subtracts its timer overhead;
* the cyclic garbage collector does not run inside a round (its trigger
  depends on how many objects the process allocated since the last collection);
* ``random`` (and numpy's global generator) are seeded before each test module
  is imported and before each test, so module-level random data is the same
  whichever tests are selected (:class:`CountedRunPlugin`);
* a benchmark that starts a child process inside a measured round is refused
  by name (its child's work would not be counted).

Energy is the model of greenbench.counted_model over the counts
(``estimated=True``).  Counts are deterministic: a busy machine changes how
long a run takes, not what it counts; the gate (greenbench.gate) compares them directly.

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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from greenbench import counted_model as CM
from greenbench.errors import DataError, MeterError, MeterUnavailable
from greenbench.meters.base import Measurement, MeterBase

#: set in the re-launched run: the directory callgrind dumps into
DIR_ENV = "GREENBENCH_COUNTED_DIR"
#: rounds per benchmark in the counted run (fixed; no calibration by wall time)
ROUNDS_ENV = "GREENBENCH_COUNTED_ROUNDS"
DEFAULT_ROUNDS = 3
#: a measured round runs this many instructions or a little more (calls per round: a power of two)
TARGET_INSTRUCTIONS = 1_000_000
#: at most this many calls in one round (a call of a few instructions)
MAX_CALLS = 1 << 16
#: uncollected calls once per benchmark, after sizing its rounds: at least two rounds' worth and this many
#: instructions (the interpreter's adaptive specialisation settles)
WARMUP_INSTRUCTIONS = 4_000_000
#: uncollected warm-up calls before each round's measured calls: at least 2, at most this many
#: (CPython 3.11 specialises a bytecode after it ran a few dozen times; 64 calls cover its back-off)
MAX_WARMUP_CALLS = 64
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
    "--instr-atstart=no",  # instrument only benchmarks (client requests switch it): imports run fast
    "--collect-atstart=no",  # count only the measured calls of a round (CALLGRIND_TOGGLE_COLLECT)
    "--cache-sim=yes",  # L1 / last-level cache misses
    # a fixed cache geometry, not the host's: counts then match across CI runners of one binary
    "--I1=32768,8,64", "--D1=32768,8,64", "--LL=8388608,16,64",
    "--dump-instr=no",
    "--smc-check=all-non-file",  # JIT code (Numba, torch) is re-translated when rewritten
    "--trace-children=no",  # a benchmark that starts a child process is refused (CountedRunPlugin)
    "-q",
)
#: Valgrind's notes about the host's cache sizes: the fixed geometry above is used, so they are noise
_CACHE_NOTE = ("cache found, using its data", "specified LL cache:", "simulated LL cache:",
               "warning: Unknown Intel cache config", "warning: L2 cache", "warning: L3 cache")
#: audit events of a new process (fork, exec, spawn): refused inside a measured counted round
CHILD_EVENTS = frozenset({"os.fork", "os.forkpty", "os.system", "os.posix_spawn", "os.spawn", "os.exec",
                          "subprocess.Popen", "pty.spawn", "os.startfile"})


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

    Two ways in: :meth:`run_round` (what the plugin's recorder uses for a benchmark round: warm-up,
    calls chosen by counts, harness subtracted, steady-state caches) and the plain
    :meth:`start`/:meth:`stop` window (the meter protocol; the window's own code is counted as is).
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
        from greenbench import profile  # issue #24: the measured calls' per-function costs kept beside it

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
            else:
                n = self.calls_per_round or 0
                if not n:
                    # the benchmark's first round (pytest-benchmark's calibration round, not kept) sizes the
                    # rounds: first touches and lazy initialisation uncollected, then one counted call
                    call(2)
                    duration, counts = self._collect(call, 1)
                    net = max(counts.get("instructions", 0) - harness.get("instructions", 0), 1)
                    self.calls_per_round = 1 << max(0, min(MAX_CALLS.bit_length() - 1,
                                                           (TARGET_INSTRUCTIONS // net).bit_length() - 1))
                    n = 1
                    # then the interpreter's steady state, once per benchmark: CPython 3.11 re-tries a failed
                    # bytecode specialisation after up to 4096 executions, and rounds right after a short warm-up
                    # still ran 1.6 % above later ones (cattrs, 30k-instruction calls)
                    call(min(MAX_CALLS, max(2 * self.calls_per_round, -(-WARMUP_INSTRUCTIONS // net))))
                else:
                    warm = 1 if n == 1 else min(MAX_WARMUP_CALLS, max(2, n // 2))
                    call(warm)
                    duration, counts = self._collect(call, n)
                # pytest-benchmark divides the duration by the calls it asked for
                result = duration * max(loops, 1) / n if isinstance(duration, (int, float)) else duration
            counts = {k: max(0, v - harness.get(k, 0)) for k, v in counts.items()}
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
        files = sorted(self.out_dir.glob(f"cg.{os.getpid()}.*"), key=lambda p: int(p.suffix[1:] or 0))
        if not files:
            raise MeterError(f"counted meter: callgrind wrote no dump into {self.out_dir}")
        total: dict[str, int] = {}
        self.dump_texts = []  # issue #24: the last dump's per-function costs (greenbench.profile.keep)
        for f in files:  # normally one; several only if someone else dumped too
            text = f.read_text(encoding="utf-8", errors="replace")
            for k, v in parse_callgrind(text, str(f)).items():
                total[k] = total.get(k, 0) + v
            self.dump_texts.append(text)
            f.unlink()
        return total

    def describe(self) -> dict[str, Any]:
        c = self.coefficients
        return {
            **super().describe(),
            "tool": "valgrind --tool=callgrind --cache-sim=yes",
            "rounds": counted_rounds(),
            "round": {"target_instructions": TARGET_INSTRUCTIONS, "max_warmup_calls": MAX_WARMUP_CALLS,
                      "caches": "warm (steady state)", "gc": "off in rounds", "harness": "subtracted"},
            "coefficients": c.to_json(),
            "coefficients_source": c.source,
        }


# -- re-launching pytest under callgrind --------------------------------------

#: pytest-benchmark options of the counted run: a fixed number of rounds, no warm-up by wall time, no
#: calibration by wall time (the counted meter picks the calls per round by counts)
def benchmark_options(rounds: int) -> dict[str, Any]:
    return {"benchmark_min_rounds": rounds, "benchmark_max_time": 0.0, "benchmark_min_time": 0.0,
            "benchmark_calibration_precision": 1, "benchmark_warmup": False}


def aslr_off_prefix(machine: str | None = None) -> list[str]:
    """``setarch ARCH -R``: no address randomisation for the counted run (Linux; [] where refused).

    Addresses change hash-by-id orders, allocator paths and cache-set conflicts: with randomisation
    on, one C-extension call was counted at 323,678 or 330,800 instructions in different processes.
    """
    import platform

    setarch = shutil.which("setarch")
    if setarch is None or not sys.platform.startswith("linux"):
        return []
    prefix = [setarch, machine or platform.machine(), "-R"]
    try:  # containers may refuse personality(2)
        ok = subprocess.run([*prefix, sys.executable, "-c", ""], check=False, capture_output=True,
                            timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return prefix if ok else []


def relaunch_command(args: Sequence[str], out_dir: str, *, valgrind: str = "valgrind",
                     python: str = sys.executable, rounds: int = DEFAULT_ROUNDS,
                     prefix: Sequence[str] = ()) -> list[str]:
    """``[setarch -R] valgrind ... python -m pytest ARGS`` plus pytest-benchmark options that fix the rounds."""
    return [
        *prefix, valgrind, *VALGRIND_ARGS, f"--callgrind-out-file={out_dir}/cg.%p",
        f"--log-file={out_dir}/valgrind.%p.log",  # its messages are shown after the run, cache notes left out
        python, "-m", "pytest", *args,
        # later options win: a fixed number of rounds, no warm-up or calibration by wall time
        # (the counted run also sets them on its config: counted_cmdline_main)
        f"--benchmark-min-rounds={rounds}", "--benchmark-max-time=0", "--benchmark-min-time=0",
        "--benchmark-calibration-precision=1", "--benchmark-warmup=off",
    ]


def relaunch_env(out_dir: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if environ is None else environ)
    env.update(DETERMINISTIC_ENV)
    env[DIR_ENV] = out_dir
    return env


#: padding variable of the counted run's environment, and the size its strings are padded to
PAD_ENV = "GREENBENCH_COUNTED_PAD"
PAD_BLOCK = 16384


def pad_env(env: Mapping[str, str], argv: Sequence[str]) -> dict[str, str]:
    """``env`` plus :data:`PAD_ENV`, sized so that the argument and environment strings take a multiple of
    :data:`PAD_BLOCK` bytes.

    Those strings sit at the top of the new process's stack, so their total size shifts every stack address:
    a baseline run with ``--benchmark-autosave`` and a compared run with ``--benchmark-compare
    --energy-compare-fail=1%``, or two environments whose values differ in length, otherwise start from
    different stack addresses (alignment-dependent code paths, cache sets).  Padded, both start from the same
    one (address randomisation is off) as long as the strings fit in the same block.
    """
    out = {k: v for k, v in env.items() if k != PAD_ENV}
    size = sum(len(os.fsencode(a)) + 1 for a in argv)
    size += sum(len(os.fsencode(k)) + len(os.fsencode(v)) + 2 for k, v in out.items())
    size += len(PAD_ENV) + 2  # "NAME=" and the terminating NUL of the padding itself
    out[PAD_ENV] = "x" * ((-size) % PAD_BLOCK)
    return out


def valgrind_messages(out_dir: str | os.PathLike[str]) -> list[str]:
    """Valgrind's own messages of a counted run, without its notes about the host's cache sizes."""
    lines: list[str] = []
    for log in sorted(Path(out_dir).glob("valgrind.*.log")):
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip() and not any(note in line for note in _CACHE_NOTE):
                lines.append(line)
    return lines


def refuse_xdist(option: Any) -> None:
    """``-n N`` / ``--dist`` / ``--tx`` with the counted meter: one line saying why, before anything runs."""
    n = getattr(option, "numprocesses", None)
    dist = getattr(option, "dist", "no") or "no"
    tx = getattr(option, "tx", None) or []
    if (n not in (None, 0, "0")) or dist != "no" or tx:
        from greenbench.errors import ConfigError

        what = f"-n {n}" if n not in (None, 0, "0") else ("--tx" if tx else f"--dist={dist}")
        raise ConfigError(f"--energy-meter=counted with {what}: pytest-benchmark disables every benchmark under "
                          "pytest-xdist, so nothing would be counted; run the counted job without -n (its "
                          "counts do not depend on the load, so other jobs may run beside it)")


def counted_cmdline_main(config: Any) -> int | None:
    """The plugin's ``pytest_cmdline_main`` for ``--energy-meter=counted``.

    Outside callgrind: re-launch the same command under it (exit status: that run's).  Inside: fix
    pytest-benchmark's rounds on the config and register :class:`CountedRunPlugin`.
    """
    if os.environ.get(NUMBA_WARMUP_ENV):  # the native pass before a counted run: call everything once
        for k, v in WARMUP_OPTIONS.items():
            if hasattr(config.option, k):
                setattr(config.option, k, v)
        return None
    if under_counted_run():
        for k, v in benchmark_options(counted_rounds()).items():
            if hasattr(config.option, k):
                setattr(config.option, k, v)
        config.pluginmanager.register(counted_run_plugin(), "greenbench-counted-run")
        return None
    refuse_xdist(config.option)
    return relaunch(config.invocation_params.args, cwd=config.invocation_params.dir)


#: set in the native pass that fills Numba's cache before a counted run
NUMBA_WARMUP_ENV = "GREENBENCH_COUNTED_NUMBA_WARMUP"
#: that pass runs every test once with benchmarks disabled (one call each), saves, compares and reports nothing
WARMUP_OPTIONS: dict[str, Any] = {
    "energy_meter": "model", "benchmark_disable": True, "benchmark_autosave": False, "benchmark_save": None,
    "benchmark_json": None, "benchmark_compare": False, "benchmark_compare_fail": None,
    "energy_compare_fail": None, "energy_report": None, "energy_summary": None, "xmlpath": None,
}


def warm_numba_cache(args: Sequence[str], cwd: str | os.PathLike[str] | None = None) -> float | None:
    """Where Numba is installed: run the same tests once natively, benchmarks disabled, with the counted
    run's ``NUMBA_CPU_NAME=generic``, so ``cache=True`` kernels are compiled natively into Numba's on-disk
    cache and the counted run loads them instead of compiling under Valgrind (minutes each).  Its test
    outcome does not matter (the counted run reports); its wall time in seconds (None: no Numba).
    """
    import importlib.util

    if os.environ.get("GREENBENCH_COUNTED_NUMBA_WARMUP_SKIP") or importlib.util.find_spec("numba") is None:
        return None
    env = dict(os.environ)
    env.update(DETERMINISTIC_ENV)
    env[NUMBA_WARMUP_ENV] = "1"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", "-q"], cwd=cwd, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    took = time.perf_counter() - t0
    print(f"counted meter: Numba's cache filled natively for the counted run ({took:.1f} s, NUMBA_CPU_NAME=generic)",
          flush=True)
    return took


def relaunch(args: Sequence[str], cwd: str | os.PathLike[str] | None = None) -> int:
    """Run the same pytest command under callgrind; its exit status."""
    from greenbench import _callgrind

    valgrind = _callgrind.valgrind_path()
    _callgrind.load()  # build the shim now: a missing header fails here, in one line, not under valgrind
    CM.load_coefficients()  # a bad coefficients file too
    rounds = counted_rounds()
    warm_numba_cache(args, cwd)
    out_dir = tempfile.mkdtemp(prefix="greenbench-counted-")
    try:
        cmd = relaunch_command(args, out_dir, valgrind=valgrind, rounds=rounds, prefix=aslr_off_prefix())
        sys.stdout.flush()
        rc = subprocess.call(cmd, cwd=cwd, env=pad_env(relaunch_env(out_dir), cmd))
        messages = valgrind_messages(out_dir)
        if messages:
            print("\n".join(messages), file=sys.stderr)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    return rc if rc >= 0 else 128 - rc


# -- inside the counted run ---------------------------------------------------------

#: meters whose measured round refuses child processes (the audit hook is process-wide and permanent)
_METERS: list[CountedMeter] = []
_AUDIT_INSTALLED = False


class ChildProcessRefused(MeterError):
    """A benchmark started a child process inside a measured counted round."""


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event not in CHILD_EVENTS:
        return
    for meter in _METERS:
        if meter.in_round:
            meter.in_round = False
            raise ChildProcessRefused(
                f"counted meter: {meter.benchmark or 'this benchmark'} starts a child process ({event}) inside a "
                "measured round; callgrind counts this process only, so the child's work would be missing from "
                "its energy. Measure it with another meter (--energy-meter=model), or start the child outside "
                "the benchmarked call")


def refuse_child_processes(meter: CountedMeter) -> None:
    """Make ``meter``'s measured rounds refuse a fork/exec/spawn (Python audit events, PEP 578)."""
    global _AUDIT_INSTALLED
    if not _AUDIT_INSTALLED:
        sys.addaudithook(_audit)
        _AUDIT_INSTALLED = True
    if meter not in _METERS:
        _METERS.append(meter)


def seed_random() -> None:
    """``random.seed(0)`` and numpy's global ``np.random.seed(0)`` when numpy is loaded."""
    import random

    random.seed(0)
    np = sys.modules.get("numpy")
    if np is not None:
        import contextlib

        with contextlib.suppress(Exception):  # a numpy without the legacy global generator
            np.random.seed(0)


def counted_run_plugin() -> Any:
    """Hooks of the counted run: seed before each test module is imported and before each test."""
    import pytest

    class CountedRunPlugin:
        @pytest.hookimpl(tryfirst=True)
        def pytest_collectstart(self, collector: Any) -> None:
            if isinstance(collector, pytest.Module):
                seed_random()  # module-level random data: the same whichever modules were imported before

        @pytest.hookimpl(tryfirst=True)
        def pytest_runtest_setup(self, item: Any) -> None:
            seed_random()

    return CountedRunPlugin()


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



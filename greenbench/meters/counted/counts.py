"""Counts: a section of :mod:`greenbench.meters.counted` (its docstring tells the whole story)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from greenbench.errors import DataError
from greenbench.meters.counted import energy_model as CM

#: set in the re-launched run: the directory callgrind dumps into
DIR_ENV = "GREENBENCH_COUNTED_DIR"
#: rounds per benchmark in the counted run (fixed; no calibration by wall time)
ROUNDS_ENV = "GREENBENCH_COUNTED_ROUNDS"
DEFAULT_ROUNDS = 3
#: a measured round runs this many instructions or a little more (calls per round: a power of two).  Long
#: rounds average out CPython's adaptive interpreter: a polymorphic call site specialises, deoptimises after
#: its misses and specialises again, so a round of few calls lands on a cheap or dear phase of that cycle
#: (cattrs, 130k-instruction calls: 4-call rounds of 1M instructions differed by 1.3 %, 16-call rounds of 4M by
#: 0.3 %)
TARGET_INSTRUCTIONS = 4_000_000
#: at most this many calls in one round (a call of a few instructions)
MAX_CALLS = 1 << 16
#: uncollected calls once per benchmark, after sizing its rounds: at least two rounds' worth and this many
#: instructions (the interpreter's adaptive specialisation settles)
WARMUP_INSTRUCTIONS = 4_000_000
#: uninstrumented calls once per benchmark before that warm-up, so that every bytecode of a call has run this
#: many times (CPython 3.11 retries a failed specialisation with an exponential back-off of up to 4096
#: executions) -- at most :data:`SETTLE_INSTRUCTIONS` instructions' worth of calls
SETTLE_CALLS = 8192
SETTLE_INSTRUCTIONS = 400_000_000
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
    # a fixed cache geometry, not the host's: counts then match across CI runners of one binary.  The L1
    # caches are fully associative (512 ways of 64 B: one set), so an L1 miss depends on how many distinct lines
    # a call touches and in which order, not on where the allocator happened to put them: with 8 ways the
    # same calls' L1 misses moved ~10 % between fresh processes (cattrs; 0.35-1.4 % of the energy per call),
    # with 64 ways 0.2 %, fully associative 0.05 % (cost: instrumented code runs ~2.8x slower than with 8 ways)
    "--I1=32768,512,64", "--D1=32768,512,64", "--LL=8388608,16,64",
    "--dump-instr=no",
    "--smc-check=all-non-file",  # JIT code (Numba, torch) is re-translated when rewritten
    "--trace-children=no",  # a benchmark that starts a child process is refused (CountedRunPlugin)
    # no gdbserver FIFOs: their names hold the PID, which is 1 in every container's own PID namespace, so
    # concurrent counted runs (CI jobs, xdist workers in containers) printed "could not unlink
    # /tmp/vgdb-pipe-...-1-..." for each other's files
    "--vgdb=no",
    "-q",
)
#: Valgrind's notes about the host's cache sizes: the fixed geometry above is used, so they are noise
_CACHE_NOTE = ("cache found, using its data", "specified LL cache:", "simulated LL cache:",
               "warning: Unknown Intel cache config", "warning: L2 cache", "warning: L3 cache")
#: audit events of a new process (fork, exec, spawn): refused inside a measured counted round
CHILD_EVENTS = frozenset({"os.fork", "os.forkpty", "os.system", "os.posix_spawn", "os.spawn", "os.exec",
                          "subprocess.Popen", "pty.spawn", "os.startfile"})


def settle_calls(instructions_per_call: int) -> int:
    """Uninstrumented calls once per benchmark (:data:`SETTLE_CALLS`, fewer for calls of many instructions)."""
    return min(SETTLE_CALLS, SETTLE_INSTRUCTIONS // max(int(instructions_per_call), 1))


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
    """Counts named as in greenbench.meters.counted.energy_model.EVENTS from a callgrind dump's ``events:`` and
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


#: bytes read from the end of a dump for its ``totals:`` line
TAIL_BYTES = 4096


def read_counts(path: os.PathLike[str] | str) -> dict[str, int]:
    """:func:`parse_callgrind` of a dump file from its ``events:`` line (header, read line by line) and its
    ``totals:`` line (in the last :data:`TAIL_BYTES`); the whole text only where those are not found.  Nothing
    of the dump's size is allocated (greenbench.meters.counted.meter.CountedMeter._read_dump says why)."""
    events = None
    with open(path, "rb") as fh:
        for i, raw in enumerate(fh):
            if raw.startswith(b"events:"):
                events = raw.decode("utf-8", "replace")
                break
            if raw.startswith(b"fn=") or i > 256:
                break
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, size - TAIL_BYTES))
        tail = fh.read(TAIL_BYTES)
    at = tail.rfind(b"\ntotals:")
    if events is not None and at >= 0:
        line = tail[at + 1:].split(b"\n", 1)[0].decode("utf-8", "replace")
        return parse_callgrind(events + line + "\n", str(path))
    with open(path, encoding="utf-8", errors="replace") as fh:
        return parse_callgrind(fh.read(), str(path))


def per_call(counts: Mapping[str, int], iterations: int) -> dict[str, int]:
    """Counts of one call: a round's counts divided by its iterations (rounded)."""
    n = max(int(iterations), 1)
    return {k: round(v / n) for k, v in counts.items()}


# -- the meter ------------------------------------------------------------

def under_counted_run() -> bool:
    """True inside the run the plugin re-launched under callgrind."""
    return bool(os.environ.get(DIR_ENV))

"""Valgrind, guards: a section of :mod:`greenbench.meters.counted` (its docstring tells the whole story)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenbench.errors import MeterError
from greenbench.meters.counted import energy_model as CM
from greenbench.meters.counted.clock import TIMER as CLOCK_TIMER
from greenbench.meters.counted.commitinfo import PLUGIN as COMMIT_INFO_PLUGIN
from greenbench.meters.counted.counts import (
    _CACHE_NOTE,
    CHILD_EVENTS,
    DEFAULT_ROUNDS,
    DETERMINISTIC_ENV,
    DIR_ENV,
    VALGRIND_ARGS,
    counted_rounds,
    under_counted_run,
)

if TYPE_CHECKING:
    from greenbench.meters.counted.meter import CountedMeter


# -- re-launching pytest under callgrind --------------------------------------

#: pytest-benchmark options of the counted run: a fixed number of rounds, no warm-up by wall time, no
#: calibration by wall time (the counted meter picks the calls per round by counts), a clock that does not
#: follow the machine's timing (greenbench.meters.counted.clock)
def benchmark_options(rounds: int) -> dict[str, Any]:
    return {"benchmark_min_rounds": rounds, "benchmark_max_time": 0.0, "benchmark_min_time": 0.0,
            "benchmark_calibration_precision": 1, "benchmark_warmup": False, "benchmark_timer": CLOCK_TIMER}


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


def round_options(rounds: int) -> list[str]:
    """pytest-benchmark options of the counted run (later options win; the run also sets them on its config:
    counted_cmdline_main): a fixed number of rounds, no warm-up or calibration by wall time."""
    return [f"--benchmark-min-rounds={rounds}", "--benchmark-max-time=0", "--benchmark-min-time=0",
            "--benchmark-calibration-precision=1", "--benchmark-warmup=off", f"--benchmark-timer={CLOCK_TIMER}"]


def pid_namespace_prefix() -> list[str]:
    """``unshare --pid --fork --mount-proc``: the counted run gets the same process ids in every run (Linux;
    [] where refused, e.g. a container without CAP_SYS_ADMIN).

    The process id reaches the measured code's heap (its digits in strings, file names): two fresh runs of one
    python-rapidjson benchmark were counted at 39,393 or 39,795 instructions per call by process; in their own
    PID namespace (and with :func:`fixed_dir`), 3 of 3 runs counted the same 39,893.
    """
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux") or os.environ.get(NO_NAMESPACE_ENV):
        return []
    prefix = [unshare, "--pid", "--fork", "--mount-proc"]
    try:
        ok = subprocess.run([*prefix, sys.executable, "-c", ""], check=False, capture_output=True,
                            timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return prefix if ok else []


#: set to 1 to run the counted run in the caller's PID namespace (no ``unshare``)
NO_NAMESPACE_ENV = "GREENBENCH_COUNTED_NO_NAMESPACE"
#: the counted run sees its output directory as this file descriptor, ``/proc/self/fd/N``: one path in every run
DIR_FD = 200


def fixed_dir(out_dir: str) -> tuple[str, int | None]:
    """``(path the counted run uses for out_dir, descriptor to pass on)``.

    The directory's random name (``mkdtemp``) otherwise reaches the counted process (its environment, the
    meter's file names) and changes the heap it starts from; opened as descriptor :data:`DIR_FD` and named
    ``/proc/self/fd/200`` it is the same string in every run.  Where that cannot be done: ``(out_dir, None)``.
    """
    if not os.path.isdir("/proc/self/fd"):
        return out_dir, None
    try:
        os.fstat(DIR_FD)
        return out_dir, None  # taken in this process: keep the plain path
    except OSError:
        pass
    try:
        fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return out_dir, None
    if fd != DIR_FD:
        os.dup2(fd, DIR_FD, inheritable=True)
        os.close(fd)
    else:
        os.set_inheritable(fd, True)
    return f"/proc/self/fd/{DIR_FD}", DIR_FD


def relaunch_command(args: Sequence[str], out_dir: str, *, valgrind: str = "valgrind",
                     python: str = sys.executable, rounds: int = DEFAULT_ROUNDS,
                     prefix: Sequence[str] = ()) -> list[str]:
    """``[setarch -R] valgrind ... python -m pytest ARGS`` plus pytest-benchmark options that fix the rounds."""
    return [
        *prefix, valgrind, *VALGRIND_ARGS, f"--callgrind-out-file={out_dir}/cg.%p",
        f"--log-file={out_dir}/valgrind.%p.log",  # its messages are shown after the run, cache notes left out
        python, "-m", "pytest", "-p", COMMIT_INFO_PLUGIN, *args, *round_options(rounds),
    ]


def relaunch_env(out_dir: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The counted run's environment: ``environ`` plus :data:`DETERMINISTIC_ENV`, the output directory and the
    aligned-arena library in ``LD_PRELOAD`` (greenbench.meters.counted.arenas)."""
    from greenbench.meters.counted import arenas

    env = dict(os.environ if environ is None else environ)
    env.update(DETERMINISTIC_ENV)
    env[DIR_ENV] = out_dir
    return arenas.preload_env(env)


#: padding variable of the counted run's environment, and the size its strings are padded to
PAD_ENV = "GREENBENCH_COUNTED_PAD"
PAD_BLOCK = 16384


#: variables a shell sets about itself, not for the program: left out of the counted process's environment.
#: ``_`` is the path of the command the shell ran last: one python-rapidjson call was counted at 43,047
#: instructions when started through ``nohup`` and 43,990 when started by a Python script (the same command line,
#: --energy-isolate; issue #20): its value's length changes the heap the process builds from its environment
SHELL_BOOKKEEPING = frozenset({"_", "OLDPWD", "SHLVL"})


#: set in every counted process: it reads Python's bytecode caches but never writes them (with
#: :func:`stop_writing_bytecode` in the native processes around it).  Otherwise the first counted run after a
#: checkout or an install compiles what it imports first and writes the caches that later runs read: in a fresh
#: clone of greenbench, cattrs' 40 benchmarks counted with --energy-isolate differed from the four runs after it
#: in all 40 (up to 1.45 %), python-rapidjson's 12 in all 12 (up to 2.01 %); the later runs were identical to each
#: other (issue #20).  In CI the baseline run is such a first run.
COUNTED_PROCESS_ENV = {"PYTHONDONTWRITEBYTECODE": "1"}


def stop_writing_bytecode() -> None:
    """This (native) process writes no more bytecode caches: called before the counted processes start.

    What it imported until then (pytest, the plugins, in a controller the collected test modules and the library
    under test) is cached as a plain run caches it, before any counted process reads the caches; what it imports
    later (the reports, at the end) would otherwise be cached by the first run only and read by the next one's
    counted processes (:data:`COUNTED_PROCESS_ENV`).
    """
    sys.dont_write_bytecode = True


def pad_env(env: Mapping[str, str], argv: Sequence[str]) -> dict[str, str]:
    """``env`` without :data:`SHELL_BOOKKEEPING`, with :data:`COUNTED_PROCESS_ENV`, plus :data:`PAD_ENV`, sized so
    that the argument and environment strings take a multiple of :data:`PAD_BLOCK` bytes.

    Those strings sit at the top of the new process's stack, so their total size shifts every stack address:
    a baseline run with ``--benchmark-autosave`` and a compared run with ``--benchmark-compare
    --energy-compare-fail=1%``, or two environments whose values differ in length, otherwise start from
    different stack addresses (alignment-dependent code paths, cache sets).  Padded, both start from the same
    one (address randomisation is off) as long as the strings fit in the same block.
    """
    out = {k: v for k, v in env.items() if k != PAD_ENV and k not in SHELL_BOOKKEEPING}
    out.update(COUNTED_PROCESS_ENV)
    size = sum(len(os.fsencode(a)) + 1 for a in argv)
    size += sum(len(os.fsencode(k)) + len(os.fsencode(v)) + 2 for k, v in out.items())
    size += len(PAD_ENV) + 2  # "NAME=" and the terminating NUL of the padding itself
    out[PAD_ENV] = "x" * ((-size) % PAD_BLOCK)
    return out


#: a forked child that closed the descriptor of the output directory (``subprocess`` before its exec, uncounted
#: by design: --trace-children=no) cannot write its empty final dump there; not a problem of the measurement
_FD_GONE = "can not open cache simulation output file `/proc/self/fd/"


def valgrind_messages(out_dir: str | os.PathLike[str]) -> list[str]:
    """Valgrind's own messages of a counted run, without its notes about the host's cache sizes."""
    lines: list[str] = []
    for log in sorted(Path(out_dir).rglob("valgrind.*.log")):  # xdist: one directory per worker
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip() and not any(note in line for note in _CACHE_NOTE) and _FD_GONE not in line:
                lines.append(line)
    return lines


def refuse_xdist(option: Any) -> bool:
    """Whether the counted run is asked for xdist workers (``-n N``, ``--tx``, ``--dist``): True runs one
    Valgrind per worker (greenbench.meters.counted.xdist).  What it cannot count (ssh/socket workers, a
    ``python=`` of the user's) is refused in one line (ConfigError), before anything runs."""
    from greenbench.meters.counted.xdist import xdist_requested

    return xdist_requested(option)


def counted_cmdline_main(config: Any) -> int | None:
    """The plugin's ``pytest_cmdline_main`` for ``--energy-meter=counted``.

    Outside callgrind: re-launch the same command under it (exit status: that run's); with xdist (``-n N``),
    a native controller whose workers run under it.  Inside: fix pytest-benchmark's rounds on the config and
    register :class:`CountedRunPlugin` (an xdist worker also its shipping hooks; the controller its merging).
    """
    if os.environ.get(NUMBA_WARMUP_ENV):  # the native pass before a counted run: call everything once
        for k, v in WARMUP_OPTIONS.items():
            if hasattr(config.option, k):
                setattr(config.option, k, v)
        return None
    from greenbench.meters.counted import xdist

    if under_counted_run() or xdist.in_controller():
        for k, v in benchmark_options(counted_rounds()).items():
            if hasattr(config.option, k):
                setattr(config.option, k, v)
        if under_counted_run():
            from greenbench.meters.counted import clock

            clock.install()  # pytest-benchmark's time.time() in the counted process (the code under test: untouched)
        from greenbench.meters.counted import isolate

        if isolate.in_controller() and not under_counted_run():
            config.pluginmanager.register(isolate.controller_plugin(config), "greenbench-counted-isolate")
            return None
        if xdist.in_controller() and not under_counted_run():
            config.pluginmanager.register(xdist.controller_plugin(config), "greenbench-counted-xdist")
            return None
        if hasattr(config, "workerinput"):  # an xdist worker under Valgrind
            config.pluginmanager.register(xdist.worker_plugin(config), "greenbench-counted-xdist")
        if isolate.in_job():  # one benchmark's own counted process (--energy-isolate)
            config.pluginmanager.register(isolate.job_plugin(config), "greenbench-counted-isolate")
        config.pluginmanager.register(counted_run_plugin(), "greenbench-counted-run")
        return None
    if getattr(config.option, "energy_isolate", False):
        from greenbench.meters.counted import isolate

        jobs = isolate.jobs_from_option(config.option)
        isolate.option_actions(config)  # a parser it cannot read: refused here, in one line
        return relaunch(config.invocation_params.args, cwd=config.invocation_params.dir, isolated=jobs)
    workers = refuse_xdist(config.option)
    return relaunch(config.invocation_params.args, cwd=config.invocation_params.dir, workers=workers)


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


def relaunch(args: Sequence[str], cwd: str | os.PathLike[str] | None = None, *, workers: bool = False,
             isolated: int = 0) -> int:
    """Run the same pytest command under callgrind (``workers``: a native xdist controller whose workers run
    under callgrind, greenbench.meters.counted.xdist); its exit status."""
    from greenbench.meters.counted import callgrind as _callgrind

    valgrind = _callgrind.valgrind_path()
    _callgrind.load()  # build the shim now: a missing header fails here, in one line, not under valgrind
    from greenbench.meters.counted import arenas

    arenas.preload_env(os.environ)  # and the aligned-arena library (xdist workers find it built)
    from greenbench.meters.counted import commitinfo
    CM.load_coefficients()  # a bad coefficients file too
    rounds = counted_rounds()
    warm_numba_cache(args, cwd)
    stop_writing_bytecode()
    out_dir = tempfile.mkdtemp(prefix="greenbench-counted-")
    try:
        if isolated:
            from greenbench.meters.counted import isolate

            rc = isolate.launch(args, cwd, out_dir, valgrind=valgrind, rounds=rounds,
                                prefix=[*pid_namespace_prefix(), *aslr_off_prefix()], jobs=isolated)
        elif workers:
            from greenbench.meters.counted import xdist

            rc = xdist.launch(args, cwd, out_dir, valgrind=valgrind, rounds=rounds,
                              prefix=[*pid_namespace_prefix(), *aslr_off_prefix()])
        else:
            path, fd = fixed_dir(out_dir)
            try:
                cmd = relaunch_command(args, path, valgrind=valgrind, rounds=rounds,
                                       prefix=[*pid_namespace_prefix(), *aslr_off_prefix()])
                sys.stdout.flush()
                env = {**relaunch_env(path), **commitinfo.native_env(args, cwd)}
                rc = subprocess.call(cmd, cwd=cwd, env=pad_env(env, cmd),
                                     pass_fds=() if fd is None else (fd,))
            finally:
                if fd is not None:
                    os.close(fd)
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

        @pytest.hookimpl(trylast=True)
        def pytest_terminal_summary(self, terminalreporter: Any) -> None:
            from greenbench.meters.counted.clock import say_time_columns

            say_time_columns(terminalreporter)

    return CountedRunPlugin()

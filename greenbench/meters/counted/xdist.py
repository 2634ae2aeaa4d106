"""The counted meter under pytest-xdist (``-n N``, ``--tx popen``): one Valgrind per worker (issue #20).

``pytest --energy-meter=counted -n 2`` re-launches pytest as with ``-n 0``, but the re-launched process (the
*controller*) runs natively: it starts xdist's workers through a small wrapper executable (``--tx
popen//python=WRAPPER``) that execs ``[setarch -R] valgrind --tool=callgrind ... python`` with the counted
run's environment (:data:`~greenbench.meters.counted.counts.DIR_ENV`, the stack padding).  Each worker is a
counted process like the ``-n 0`` one: it runs its share of the tests and counts its benchmarks; callgrind
writes ``cg.<pid>.*`` into the run's shared temporary folder, and a worker reads only its own pid's dumps.

pytest-benchmark disables every benchmark when xdist is active, and keeps results in each process's own
``BenchmarkSession``.  So in a counted xdist run:

* each worker re-enables its benchmarks (``--benchmark-disable`` still wins), saves, compares, reports and
  gates nothing itself, and ships its benchmarks as pytest-benchmark's JSON (``config.workeroutput``);
* the controller, whose benchmarks pytest-benchmark also disabled, re-enables them, rebuilds every shipped
  benchmark as pytest-benchmark's own ``Metadata`` (statistics recomputed from the shipped per-round data, so
  they are the worker's exactly) in collection order, and from there pytest-benchmark's saving, table and
  ``--benchmark-compare`` and greenbench's gate, report and summary run as in a ``-n 0`` run;
* tests are split between the workers in fixed contiguous slices (:func:`static_scheduler`, for xdist's
  default ``--dist load``), so each benchmark runs after the same tests in every run of the same selection;
* the controller's meter (:func:`controller_meter`) describes the counted meter for the saved run and the gate
  but measures nothing.

The controller and the workers both carry :data:`~greenbench.meters.counted.counts.DETERMINISTIC_ENV` (the
controller runs no benchmark; with it, the saved ``machine_info`` records the same thread count as a ``-n 0``
counted run).  Only the workers carry ``DIR_ENV`` and the padding.

Imports at module level: stdlib only (the wrapper runs ``python -m greenbench.meters.counted.xdist`` once per
worker start).
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: set in the controller of a counted xdist run: the run's temporary folder (its callgrind dumps, the wrapper)
CONTROLLER_ENV = "GREENBENCH_COUNTED_XDIST"
#: the worker's shipment in ``config.workeroutput``
WORKEROUTPUT_KEY = "greenbench_counted"
#: the wrapper executable and its settings, in the run's temporary folder
WRAPPER_NAME = "worker-python"
WRAPPER_CONFIG = "worker.json"


# -- the outer process: is xdist asked for, and how to start the controller -------------------------------

def xdist_requested(option: Any) -> bool:
    """Whether ``-n N`` (N > 0, or ``auto``), ``--tx`` or ``--dist`` asks for xdist workers.

    Raises ConfigError (one line) for what a counted run cannot do: workers other than local ``popen`` ones
    (ssh, socket: their Valgrind would run elsewhere), or a ``python=`` of the user's (the counted run
    chooses the workers' interpreter).
    """
    from greenbench.errors import ConfigError

    n = getattr(option, "numprocesses", None)
    dist = getattr(option, "dist", "no") or "no"
    tx = list(getattr(option, "tx", None) or [])
    if n not in (None, 0, "0"):
        tx = []  # -n N replaces --tx with N popen workers (xdist)
    for spec in tx:
        body = spec.split("*", 1)[1] if "*" in spec and spec.split("*", 1)[0].isdigit() else spec
        parts = body.split("//")
        if parts[0] != "popen":
            raise ConfigError(f"--energy-meter=counted with --tx {spec}: only local workers (popen) are counted; "
                              "use -n N or --tx N*popen")
        if any(p.startswith("python=") for p in parts[1:]):
            raise ConfigError(f"--energy-meter=counted with --tx {spec}: the counted run starts each worker's "
                              "Python under Valgrind itself; drop python=")
    return n not in (None, 0, "0") or bool(tx) or dist != "no"


def write_wrapper(out_dir: str | os.PathLike[str], worker_cmd: Sequence[str], seen: str | None = None) -> str:
    """The executable xdist starts as each worker's Python: it execs ``worker_cmd`` + xdist's arguments.

    ``worker_cmd``: ``[setarch ARCH -R] valgrind ARGS python``.  A ``/bin/sh`` script (no shebang-length
    limit on the venv's path) that runs :func:`main` of this module natively, which sets the worker's
    environment and execs Valgrind (one process image: xdist's pipes go straight to the worker).
    """
    out = Path(out_dir)
    config = out / WRAPPER_CONFIG
    config.write_text(json.dumps({"cmd": list(worker_cmd), "dir": str(out), "seen": seen or str(out)}),
                      encoding="utf-8")
    wrapper = out / WRAPPER_NAME
    wrapper.write_text("#!/bin/sh\n"
                       f"exec {shlex.quote(sys.executable)} -m greenbench.meters.counted.xdist "
                       f"{shlex.quote(str(config))} \"$@\"\n", encoding="utf-8")
    wrapper.chmod(0o755)
    return str(wrapper)


def worker_environment(environ: Mapping[str, str], out_dir: str, argv: Sequence[str]) -> dict[str, str]:
    """A worker's environment: the controller's, without its marker, with ``DIR_ENV`` and the stack padding."""
    from greenbench.meters.counted import arenas
    from greenbench.meters.counted.counts import DETERMINISTIC_ENV, DIR_ENV
    from greenbench.meters.counted.valgrind import pad_env

    env = {k: v for k, v in environ.items() if k != CONTROLLER_ENV}
    env.update(DETERMINISTIC_ENV)
    env[DIR_ENV] = out_dir
    return pad_env(arenas.preload_env(env), argv)


def main(argv: Sequence[str] | None = None) -> None:
    """The wrapper's body: ``python -m greenbench.meters.counted.xdist CONFIG [python arguments...]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.exit("usage: python -m greenbench.meters.counted.xdist WORKER_JSON [python arguments]")
    settings = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    cmd = [*settings["cmd"], *args[1:]]
    seen = settings.get("seen") or settings["dir"]
    if seen != settings["dir"]:  # /proc/self/fd/DIR_FD: the directory on that descriptor, kept across exec
        from greenbench.meters.counted.valgrind import DIR_FD

        # a directory of its own: every worker is process 1 of its own PID namespace, so its dumps' names
        # (cg.1.N) are the same as its neighbours'
        own = tempfile.mkdtemp(prefix="worker-", dir=settings["dir"])
        fd = os.open(own, os.O_RDONLY | os.O_DIRECTORY)
        if fd != DIR_FD:
            os.dup2(fd, DIR_FD, inheritable=True)
            os.close(fd)
        else:
            os.set_inheritable(fd, True)
    env = worker_environment(os.environ, seen, cmd)
    sys.stdout.flush()
    os.execve(cmd[0], cmd, env)


def controller_environment(out_dir: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    from greenbench.meters.counted.counts import DETERMINISTIC_ENV, DIR_ENV

    env = {k: v for k, v in (os.environ if environ is None else environ).items() if k != DIR_ENV}
    env.update(DETERMINISTIC_ENV)
    env[CONTROLLER_ENV] = out_dir
    return env


def in_controller() -> bool:
    """True in the natively running controller of a counted xdist run (or of an ``--energy-isolate`` run,
    greenbench.meters.counted.isolate: it measures nothing itself either)."""
    from greenbench.meters.counted.isolate import CONTROLLER_ENV as ISOLATE_ENV

    return bool(os.environ.get(CONTROLLER_ENV) or os.environ.get(ISOLATE_ENV))


def popen_with_wrapper(tx: Sequence[str], wrapper: str) -> list[str]:
    """xdist's ``--tx`` specs with ``python=WRAPPER`` added to every popen spec (``N*`` kept)."""
    out = []
    for spec in tx:
        count, star, body = spec.partition("*")
        if not star or not count.isdigit():
            count, star, body = "", "", spec
        parts = body.split("//")
        if parts[0] == "popen" and not any(p.startswith("python=") for p in parts[1:]):
            body = "//".join([*parts, f"python={wrapper}"])
        out.append(f"{count}{star}{body}")
    return out


# -- the controller ------------------------------------------------------------

@functools.cache
def _controller_meter_class() -> Any:
    from greenbench.meters.counted.meter import CountedMeter

    class ControllerMeter(CountedMeter):
        """The controller's meter: describes the counted meter (saved ``machine_info``, the gate) and measures
        nothing (the controller runs no test)."""

        def __init__(self) -> None:  # no Valgrind here: only the coefficients (describe)
            from greenbench.meters.counted import energy_model as CM

            self.coefficients = CM.load_coefficients()

        def _refuse(self, *_: Any, **__: Any) -> Any:
            from greenbench.errors import MeterError

            raise MeterError("counted meter: the controller of a counted -n run measures nothing (its workers "
                             "count)")

        start = stop = run_round = _refuse

    return ControllerMeter


def controller_meter() -> Any:
    """The meter of ``--energy-meter=counted`` in a counted xdist run's controller (a CountedMeter that only
    describes itself), else None."""
    return _controller_meter_class()() if in_controller() else None


class Shipped:
    """A pytest-benchmark fixture's fields, as :class:`pytest_benchmark.stats.Metadata` reads them."""

    cprofile_stats = None

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.name = doc["name"]
        self.fullname = doc["fullname"]
        self.group = doc.get("group")
        self.param = doc.get("param")
        self.params = doc.get("params")
        self.extra_info = dict(doc.get("extra_info") or {})
        self.has_error = bool(doc.get("has_error", False))


def rebuild(doc: Mapping[str, Any]) -> Any:
    """pytest-benchmark's ``Metadata`` of a shipped benchmark: its statistics recomputed from its data."""
    from pytest_benchmark.stats import Metadata

    from greenbench.errors import DataError

    stats = doc.get("stats")
    if not isinstance(stats, Mapping) or not isinstance(stats.get("data"), list):
        raise DataError(f"counted -n: benchmark {doc.get('fullname')!r} was shipped without its per-round data")
    bench = Metadata(Shipped(doc), stats.get("iterations", 1), dict(doc.get("options") or {}))
    for value in stats["data"]:
        bench.stats.update(value)  # per-iteration durations, as the worker's Metadata.update stored them
    return bench


def ship(benchmarks: Sequence[Any], order: Mapping[str, int], worker: str, notes: Sequence[str] = ()) -> str:
    """A worker's benchmarks (pytest-benchmark's JSON, per-round data included) for the controller."""
    from pytest_benchmark.utils import safe_dumps

    docs = []
    for b in benchmarks:
        if not b:  # never finished a round (dropped as in -n 0)
            continue
        doc = b.as_dict(include_data=True)
        doc["has_error"] = bool(b.has_error)
        doc["order"] = order.get(b.fullname, len(order))
        docs.append(doc)
    return str(safe_dumps({"worker": worker, "benchmarks": docs, "notes": list(notes)}))


#: attribute of a rebuilt benchmark: its test's place in the collection
ORDER_ATTR = "_greenbench_order"


def merge(into: list[Any], shipped: str) -> list[str]:
    """Add a worker's shipped benchmarks to ``into`` (the controller's ``BenchmarkSession.benchmarks``), kept in
    collection order (as a ``-n 0`` run appends them); the worker's notes are returned."""
    doc = json.loads(shipped)
    for b in doc.get("benchmarks", []):
        bench = rebuild(b)
        setattr(bench, ORDER_ATTR, int(b.get("order", 0)))
        into.append(bench)
    into.sort(key=lambda b: getattr(b, ORDER_ATTR, -1))  # stable: anything else keeps its place
    return [str(n) for n in doc.get("notes", [])]


def _reenable(bs: Any, only: bool) -> None:
    """Undo pytest-benchmark's "disabled because xdist is active" (``--benchmark-disable`` still wins)."""
    cfg = bs.config
    bs.disabled = bool(cfg.getoption("benchmark_disable") and not cfg.getoption("benchmark_enable"))
    bs.xdist_warning = False
    bs.xdist_benchmark_found = False
    bs.only = only
    if bs.skip and bs.only:
        bs.skip = False


def _worker_number(node: Any) -> tuple[int, str]:
    wid = str(getattr(getattr(node, "gateway", None), "id", ""))
    return (int(wid[2:]) if wid[2:].isdigit() else 1 << 30, wid)


def static_scheduler(config: Any, log: Any = None) -> Any:
    """xdist's ``load`` scheduling with a fixed split: worker ``gwK`` runs the K-th contiguous slice of the
    collection (sizes differ by at most one test), whatever the timing.

    A counted benchmark's counts depend a little on what ran before it in its process (issue #20); xdist's own
    ``load`` hands tests to whichever worker is free first, so a benchmark's predecessors would change from run
    to run.  With the fixed split they are the same in every run of the same selection and ``-n`` (and ``gw0``'s
    are those of a ``-n 0`` run).  A counted benchmark costs about the same whatever it measures (rounds of
    ~1 M instructions), so equal counts of tests are about equal work.
    """
    from xdist.scheduler import LoadScheduling

    class StaticLoadScheduling(LoadScheduling):
        def schedule(self) -> None:
            assert self.collection_is_completed
            if getattr(self, "collection", None) is not None:  # a worker replaced a crashed one
                super().schedule()
                return
            if not self._check_nodes_have_same_collection():
                self.log("**Different tests collected, aborting run**")
                return
            collection = list(next(iter(self.node2collection.values())))
            self.collection = collection
            self.pending[:] = range(len(collection))
            nodes = sorted(self.nodes, key=_worker_number)
            for i, node in enumerate(nodes):
                left = len(nodes) - i
                self._send_tests(node, -(-len(self.pending) // left))  # ceil: the first slices take the rest
            for node in nodes:
                node.shutdown()

    return StaticLoadScheduling(config, log)


#: options a worker drops: the controller saves, compares, gates and reports for the whole run
WORKER_OPTIONS: dict[str, Any] = {
    "benchmark_autosave": False, "benchmark_save": None, "benchmark_json": None, "benchmark_compare": False,
    "benchmark_compare_fail": None, "benchmark_histogram": None, "energy_compare_fail": None,
    "energy_report": None, "energy_summary": None,
}


def controller_plugin(config: Any) -> Any:
    """The controller's hooks: workers started under Valgrind, benchmarks re-enabled, shipments merged."""
    import pytest

    only = bool(getattr(config.option, "benchmark_only", False))
    config.option.benchmark_only = False  # pytest-benchmark refuses --benchmark-only with its xdist disabling
    wrapper = str(Path(os.environ[CONTROLLER_ENV]) / WRAPPER_NAME)

    class CountedXdistController:
        @pytest.hookimpl(tryfirst=True)
        def pytest_configure(self, config: Any) -> None:
            from greenbench.meters.counted.valgrind import stop_writing_bytecode

            stop_writing_bytecode()  # before the workers start
            # after xdist's pytest_cmdline_main turned -n N into N popen specs, before its DSession reads them
            config.option.tx = popen_with_wrapper(config.getvalue("tx") or [], wrapper)

        @pytest.hookimpl(tryfirst=True)
        def pytest_sessionstart(self, session: Any) -> None:
            bs = getattr(session.config, "_benchmarksession", None)
            if bs is not None:
                _reenable(bs, only)

        @pytest.hookimpl(tryfirst=True)
        def pytest_xdist_make_scheduler(self, config: Any, log: Any) -> Any:
            # -n N's default distribution: a fixed split (a benchmark's predecessors are the same every run)
            return static_scheduler(config, log) if config.getvalue("dist") == "load" else None

        @pytest.hookimpl(trylast=True)
        def pytest_terminal_summary(self, terminalreporter: Any) -> None:
            from greenbench.meters.counted.clock import say_time_columns

            say_time_columns(terminalreporter)

        def pytest_testnodedown(self, node: Any, error: Any) -> None:
            from greenbench.plugin import session_of

            out = getattr(node, "workeroutput", None) or {}
            wid = str((getattr(node, "gateway", None) and node.gateway.id) or "?")
            es = session_of(node.config)
            shipped = out.get(WORKEROUTPUT_KEY)
            bs = getattr(node.config, "_benchmarksession", None)
            if shipped is None or bs is None:
                if es is not None:
                    es.notices.append(f"counted -n: worker {wid} went down without shipping its benchmarks "
                                      "(they are missing from this run's results)")
                return
            notes = merge(bs.benchmarks, shipped)
            if es is not None:
                for n in notes:
                    if n.startswith("unfinished:"):
                        es.unfinished.append(n[len("unfinished:"):])
                    else:
                        es.notices.append(f"{wid}: {n}")

    return CountedXdistController()


def worker_plugin(config: Any) -> Any:
    """A worker's hooks: its benchmarks re-enabled, nothing saved or gated here, its results shipped."""
    import pytest

    only = bool(getattr(config.option, "benchmark_only", False))
    config.option.benchmark_only = False
    for k, v in WORKER_OPTIONS.items():
        if hasattr(config.option, k):
            setattr(config.option, k, v)

    class CountedXdistWorker:
        def __init__(self) -> None:
            self.order: dict[str, int] = {}

        @pytest.hookimpl(tryfirst=True)
        def pytest_sessionstart(self, session: Any) -> None:
            bs = getattr(session.config, "_benchmarksession", None)
            if bs is not None:
                _reenable(bs, only)

        def pytest_collection_finish(self, session: Any) -> None:
            self.order = {item.nodeid: i for i, item in enumerate(session.items)}

        def pytest_sessionfinish(self, session: Any) -> None:
            # a plain hook: runs after pytest-benchmark's wrapper finished its session, before xdist's wrapper
            # sends workeroutput to the controller
            from greenbench.plugin import session_of

            cfg = session.config
            bs = getattr(cfg, "_benchmarksession", None)
            es = session_of(cfg)
            notes = [*(f"unfinished:{u}" for u in getattr(es, "unfinished", [])),
                     *(f"error: {e}" for e in getattr(es, "output_errors", []))]
            benchmarks = list(getattr(bs, "benchmarks", []) or [])
            cfg.workeroutput[WORKEROUTPUT_KEY] = ship(benchmarks, self.order,
                                                      str(cfg.workerinput.get("workerid", "?")), notes)

    return CountedXdistWorker()


def launch(args: Sequence[str], cwd: str | os.PathLike[str] | None, out_dir: str, *, valgrind: str,
           rounds: int, prefix: Sequence[str]) -> int:
    """Run the controller natively, its workers under Valgrind; its exit status."""
    import subprocess

    from greenbench.meters.counted.counts import VALGRIND_ARGS
    from greenbench.meters.counted.valgrind import DIR_FD, round_options

    # each worker sees the directory as /proc/self/fd/DIR_FD (main() opens it): one path in every run
    seen = f"/proc/self/fd/{DIR_FD}" if os.path.isdir("/proc/self/fd") else out_dir
    write_wrapper(out_dir, [*prefix, valgrind, *VALGRIND_ARGS, f"--callgrind-out-file={seen}/cg.%p",
                            f"--log-file={seen}/valgrind.%p.log", sys.executable], seen=seen)
    from greenbench.meters.counted import commitinfo

    cmd = [sys.executable, "-m", "pytest", "-p", commitinfo.PLUGIN, *args, *round_options(rounds)]
    sys.stdout.flush()
    return subprocess.call(cmd, cwd=cwd, env={**controller_environment(out_dir), **commitinfo.native_env(args, cwd)})


if __name__ == "__main__":
    main()

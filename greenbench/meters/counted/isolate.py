"""The counted meter with ``--energy-isolate``: each benchmark counted in a process of its own (issue #20).

A counted process's figures depend a little on what it ran and loaded before the benchmark: which test
modules were collected, which tests ran first, even the options on its command line reach its heap (where
type objects and buffers land decides dict collisions and ``realloc`` paths; docs/counted.md, "What still
moves counts").  With ``--energy-isolate`` nothing of that differs between runs or selections:

* the re-launched process (the *controller*) runs natively: it collects the user's selection, runs tests that
  do not use the ``benchmark`` fixture itself (they are not measured), and counts every benchmark test in a
  *job*: ``pytest NODEID`` with the user's command line less the selection (paths, ``-k``, ``-m``,
  ``--deselect``, ...) and less the options that only save, compare or report (:func:`job_args`).  So a
  benchmark is counted by the same command, in the same environment, whether the whole suite or only it was
  selected and whether the run saves a baseline or compares against one;
* jobs are forks of a *fork server* (:mod:`greenbench.meters.counted.forkserver`): one
  ``[unshare --pid] [setarch -R] valgrind ... python -m greenbench.meters.counted.forkserver ARGS`` per ``-n``
  slot imports pytest and the plugins once, then forks a child per node id from one and the same state (the
  same process id in its PID namespace, the same heap).  Starting each job as a fresh Python under Valgrind
  gave the same counts but cost 6.2x the plain run (the imports under Valgrind, ~10 s per benchmark here);
* a job counts its benchmark as a ``-n 0`` counted run does, saves nothing and writes its test reports and its
  benchmark (pytest-benchmark's JSON with every round) to ``result.json`` in its own directory, which it sees
  as ``/proc/self/fd/200`` (one path in every job);
* the controller logs the job's reports as its own, rebuilds the benchmark as pytest-benchmark's ``Metadata``
  (:func:`greenbench.meters.counted.xdist.rebuild`), and from there saving, ``--benchmark-compare``, the
  energy gate and the reports run as in a ``-n 0`` run;
* ``-n N`` runs N fork servers, a job on each at a time (the controller itself starts no xdist workers).

The price per benchmark is its test module's collection under Valgrind and the benchmark's own rounds;
session- and module-scoped fixtures are set up again in every job.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: set in the controller of an isolated counted run: the run's temporary folder
CONTROLLER_ENV = "GREENBENCH_COUNTED_ISOLATE"
#: how many jobs run at a time (from ``-n N``)
JOBS_ENV = "GREENBENCH_COUNTED_ISOLATE_JOBS"
#: set in a job
JOB_ENV = "GREENBENCH_COUNTED_JOB"
#: a job's results, in its directory
RESULT_NAME = "result.json"

#: options (argparse dests) a job leaves out: the selection, and what only saves, compares, gates or reports
#: (the controller does that for the whole run).  Everything else on the user's command line reaches the job.
DROPPED_DESTS = frozenset({
    "file_or_dir", "keyword", "markexpr", "deselect", "ignore", "ignore_glob", "lf", "last_failed",
    "failedfirst", "newfirst", "stepwise", "stepwise_skip", "maxfail", "exitfirst", "numprocesses",
    "maxprocesses", "dist", "tx", "rsyncdir", "rsyncignore", "looponfail", "verbose", "quiet", "reportchars",
    "durations", "durations_min", "xmlpath", "junitprefix", "color", "collectonly", "energy_isolate",
    "benchmark_autosave", "benchmark_save", "benchmark_save_data", "benchmark_json", "benchmark_compare",
    "benchmark_compare_fail", "benchmark_histogram", "benchmark_storage", "benchmark_netrc", "benchmark_sort",
    "benchmark_group_by", "benchmark_columns", "benchmark_name", "benchmark_only", "benchmark_skip",
    "energy_compare_fail", "energy_compare_fail_inconclusive", "energy_compare_any_meter",
    "energy_compare_any_machine", "energy_report", "energy_summary",
})

#: options a job sets on its configuration whatever its ini file's ``addopts`` ask (as an xdist worker does)
JOB_OPTIONS: dict[str, Any] = {
    "benchmark_autosave": False, "benchmark_save": None, "benchmark_json": None, "benchmark_compare": False,
    "benchmark_compare_fail": None, "benchmark_histogram": None, "energy_compare_fail": None,
    "energy_report": None, "energy_summary": None, "benchmark_only": False, "benchmark_skip": False,
}


def in_controller() -> bool:
    """True in the natively running controller of an isolated counted run."""
    return bool(os.environ.get(CONTROLLER_ENV))


def in_job() -> bool:
    return bool(os.environ.get(JOB_ENV))


# -- the job's command line -------------------------------------------------------

def _consumed(action: Any, rest: Sequence[str]) -> int:
    """How many of the tokens after an option (given without ``=value``) argparse gives to it."""
    nargs = action.nargs
    if nargs == 0:
        return 0
    if nargs is None:
        return 1 if rest else 0
    if nargs == "?":
        return 1 if rest and not rest[0].startswith("-") else 0
    if nargs in ("*", "+", "..."):
        n = 0
        while n < len(rest) and not rest[n].startswith("-"):
            n += 1
        return n
    return min(int(nargs), len(rest))


def split_args(args: Sequence[str], actions: Mapping[str, Any]) -> list[tuple[str | None, list[str]]]:
    """``args`` as ``(dest, tokens)`` groups, as pytest's argparse parser reads them: an option with its value
    tokens (``dest`` None for an option it does not know), or a positional argument (dest ``file_or_dir``).

    ``actions``: option string -> argparse action (the parser's ``_option_string_actions``).
    """
    out: list[tuple[str | None, list[str]]] = []
    i = 0
    args = list(args)
    while i < len(args):
        tok = args[i]
        if tok == "--":
            out.extend(("file_or_dir", [a]) for a in args[i + 1:])
            break
        if tok.startswith("--"):
            name, eq, _ = tok.partition("=")
            action = actions.get(name)
            n = 0 if eq or action is None else _consumed(action, args[i + 1:])
            out.append((getattr(action, "dest", None), args[i:i + 1 + n]))
            i += 1 + n
            continue
        if tok.startswith("-") and len(tok) > 1 and not tok[1:].replace(".", "", 1).isdigit():
            action = actions.get(tok[:2])
            n = 0
            if action is not None and action.nargs != 0 and len(tok) == 2:
                n = _consumed(action, args[i + 1:])
            out.append((getattr(action, "dest", None), args[i:i + 1 + n]))
            i += 1 + n
            continue
        out.append(("file_or_dir", [tok]))
        i += 1
    return out


def job_args(args: Sequence[str], actions: Mapping[str, Any], nodeid: str) -> list[str]:
    """The user's pytest arguments for the job of ``nodeid``: the selection and the options that only save,
    compare or report (:data:`DROPPED_DESTS`) replaced by the node id, everything else in its order."""
    kept: list[str] = []
    for dest, tokens in split_args(args, actions):
        if dest in DROPPED_DESTS:
            continue
        kept.extend(tokens)
    return [*kept, nodeid]


def option_actions(config: Any) -> dict[str, Any]:
    """pytest's argparse actions by option string (``-k``, ``--benchmark-json``, ...)."""
    from greenbench.errors import ConfigError

    parser = getattr(getattr(config, "_parser", None), "optparser", None)
    if parser is None:
        getparser = getattr(getattr(config, "_parser", None), "_getparser", None)
        parser = getparser() if callable(getparser) else None
    actions = getattr(parser, "_option_string_actions", None)
    if not isinstance(actions, Mapping):
        raise ConfigError("--energy-isolate: this pytest's option parser cannot be read; run without it")
    return dict(actions)


def jobs_from_option(option: Any) -> int:
    """How many jobs at a time: ``-n N`` (``auto``: the CPUs), else 1.  ``--tx``/``--dist`` are refused."""
    from greenbench.errors import ConfigError

    n = getattr(option, "numprocesses", None)
    dist = getattr(option, "dist", "no") or "no"
    # xdist turns -n N into N popen specs and --dist load by itself
    asked = dist not in ("no", "load") or (n in (None, 0, "0") and (getattr(option, "tx", None) or dist != "no"))
    if asked:
        raise ConfigError("--energy-isolate: runs its own jobs, one process per benchmark; use -n N for N at a "
                          "time, not --tx or --dist")
    if n in (None, 0, "0"):
        return 1
    if n in ("auto", "logical"):
        return max(1, os.cpu_count() or 1)
    try:
        return max(1, int(n))
    except (TypeError, ValueError):
        raise ConfigError(f"-n {n!r} with --energy-isolate: expected a number of jobs or auto") from None


# -- the outer process ---------------------------------------------------------------

def launch(args: Sequence[str], cwd: str | os.PathLike[str] | None, out_dir: str, *, valgrind: str,
           rounds: int, prefix: Sequence[str], jobs: int) -> int:
    """Run the controller natively; its exit status."""
    from greenbench.meters.counted import commitinfo
    from greenbench.meters.counted.counts import DETERMINISTIC_ENV, DIR_ENV, VALGRIND_ARGS
    from greenbench.meters.counted.valgrind import DIR_FD, round_options

    seen = f"/proc/self/fd/{DIR_FD}" if os.path.isdir("/proc/self/fd") else ""
    # the controller's own arguments (below) carry commitinfo's plugin and the round options on to each job
    settings = {"cmd": [*prefix, valgrind, *VALGRIND_ARGS, f"--callgrind-out-file={seen or '{dir}'}/cg.%p",
                        f"--log-file={seen or '{dir}'}/valgrind.%p.log", sys.executable, "-m",
                        "greenbench.meters.counted.forkserver"],
                "seen": seen, "jobs": jobs}
    Path(out_dir, "isolate.json").write_text(json.dumps(settings), encoding="utf-8")
    extra = ["-n", "0"] if _xdist_installed() else []  # the controller starts jobs, not xdist workers
    cmd = [sys.executable, "-m", "pytest", "-p", commitinfo.PLUGIN, *args, *extra, *round_options(rounds)]
    env = {k: v for k, v in os.environ.items() if k != DIR_ENV}
    env.update(DETERMINISTIC_ENV)
    env[CONTROLLER_ENV] = out_dir
    env.update(commitinfo.native_env(args, cwd))
    sys.stdout.flush()
    return subprocess.call(cmd, cwd=cwd, env=env)


def _xdist_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("xdist") is not None


# -- the controller ------------------------------------------------------------------

def job_environment(environ: Mapping[str, str], seen: str, argv: Sequence[str]) -> dict[str, str]:
    """A job's environment: the controller's without its marker, the counted run's variables, the stack
    padding (the same for every job of the same command line)."""
    from greenbench.meters.counted import arenas
    from greenbench.meters.counted.counts import DETERMINISTIC_ENV, DIR_ENV
    from greenbench.meters.counted.valgrind import pad_env

    env = {k: v for k, v in environ.items() if k not in (CONTROLLER_ENV, JOBS_ENV)}
    env.update(DETERMINISTIC_ENV)
    env[DIR_ENV] = seen
    env[JOB_ENV] = "1"
    return pad_env(arenas.preload_env(env), argv)


def job_target(item: Any) -> str:
    """The item's node id as a command-line argument from the directory pytest was started in (node ids are
    relative to the rootdir, which may lie above it)."""
    nodeid = str(item.nodeid)
    path, sep, rest = nodeid.partition("::")
    cfg = item.config
    if Path(cfg.invocation_params.dir) == Path(cfg.rootpath) or not path:
        return nodeid
    return os.path.relpath(Path(cfg.rootpath) / path, cfg.invocation_params.dir) + sep + rest


class Job:
    """One benchmark test counted in its own process: a fork of a :class:`Server`."""

    def __init__(self, item: Any, index: int, out_dir: str) -> None:
        self.item = item
        self.index = index
        self.target = job_target(item)
        self.dir = os.path.join(out_dir, f"job-{index}")
        self.rc: int | None = None
        self.server_log = ""

    def result(self) -> tuple[int, dict[str, Any] | None, str]:
        path = Path(self.dir, RESULT_NAME)
        doc = None
        if path.is_file():
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                doc = None
        out = Path(self.dir, "output.txt")
        tail = out.read_text(encoding="utf-8", errors="replace")[-4000:] if out.is_file() else ""
        rc = -1 if self.rc is None else self.rc
        return rc, doc, (tail + self.server_log)[-4000:]


class Server:
    """A fork server (:mod:`greenbench.meters.counted.forkserver`) under Valgrind and the jobs it runs, one at a
    time: each benchmark's process is a fork of one state, prepared once per server."""

    #: warm-up forks before the first job (the server's own allocations reach their fixed state)
    WARM_FORKS = 2

    def __init__(self, out_dir: str, settings: Mapping[str, Any], base_args: Sequence[str], cwd: str) -> None:
        import socket

        from greenbench.meters.counted.forkserver import JOB_DIR_NAME
        from greenbench.meters.counted.valgrind import DIR_FD

        self.slot = tempfile.mkdtemp(prefix="server-", dir=out_dir)
        self.job_dir = os.path.join(self.slot, JOB_DIR_NAME)
        seen = settings["seen"] or self.slot
        cmd = [c.replace("{dir}", self.slot) for c in settings["cmd"]] + list(base_args)
        env = job_environment(os.environ, seen, cmd)
        self.log_path = os.path.join(self.slot, "server.txt")
        self.ctl, theirs = socket.socketpair()
        fd = None
        try:
            with open(self.log_path, "wb") as log:
                if settings["seen"]:
                    fd = os.open(self.slot, os.O_RDONLY | os.O_DIRECTORY)
                    if fd != DIR_FD:
                        os.dup2(fd, DIR_FD, inheritable=True)
                        os.close(fd)
                    else:
                        os.set_inheritable(fd, True)
                    fd = DIR_FD
                self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=theirs.fileno(), stdout=subprocess.PIPE,
                                             stderr=log, pass_fds=() if fd is None else (fd,),
                                             start_new_session=True)
        finally:
            theirs.close()
            if fd is not None:
                os.close(fd)
        self.pending: list[Job | None] = []
        self.buf = b""
        self.dead = False
        for _ in range(self.WARM_FORKS):
            self._send(None)

    def _send(self, job: Job | None) -> None:
        from greenbench.meters.counted.forkserver import encode_request

        self.pending.append(job)
        try:
            self.ctl.sendall(encode_request(job.target if job is not None else ""))
        except OSError:
            self.dead = True

    @property
    def busy(self) -> bool:
        return any(j is not None for j in self.pending)

    def submit(self, job: Job) -> None:
        shutil.rmtree(self.job_dir, ignore_errors=True)
        os.mkdir(self.job_dir)
        self._send(job)

    def fileno(self) -> int:
        assert self.proc.stdout is not None
        return self.proc.stdout.fileno()

    def read(self) -> list[Job]:
        """Take what the server wrote (call when readable); the jobs that finished."""
        data = os.read(self.fileno(), 4096)
        if not data:
            self.dead = True
        self.buf += data
        finished: list[Job] = []
        while len(self.buf) >= 4 and self.pending:
            status = int.from_bytes(self.buf[:4], "little", signed=True)
            self.buf = self.buf[4:]
            job = self.pending.pop(0)
            if job is not None:
                job.rc = os.waitstatus_to_exitcode(status)
                self._move(job)
                finished.append(job)
        if self.dead:
            rc = self.proc.wait()
            log = Path(self.log_path).read_text(encoding="utf-8", errors="replace")[-2000:]
            for job in (j for j in self.pending if j is not None):
                job.rc = rc
                job.server_log = f"\n(its fork server exited {rc}:)\n{log}"
                self._move(job)
                finished.append(job)
            self.pending = []
        return finished

    def _move(self, job: Job) -> None:
        if os.path.isdir(self.job_dir):
            os.replace(self.job_dir, job.dir)
        else:
            os.makedirs(job.dir, exist_ok=True)

    def close(self) -> None:
        self.ctl.close()  # end of file: the server stops
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            import signal

            try:  # its group: unshare, Valgrind, the job and what the benchmark started
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                self.proc.kill()
            self.proc.wait()
        self.ctl.close()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _failed_report(item: Any, text: str) -> Any:
    from _pytest.reports import TestReport

    return TestReport(item.nodeid, item.location, {k: 1 for k in item.keywords}, "failed", text, "call")


def controller_plugin(config: Any) -> Any:
    """The controller's hooks: benchmark tests run as jobs, their reports and benchmarks taken in."""
    import pytest

    out_dir = os.environ[CONTROLLER_ENV]
    settings = json.loads(Path(out_dir, "isolate.json").read_text(encoding="utf-8"))
    actions = option_actions(config)

    class IsolatedController:
        def __init__(self) -> None:
            self.wall_s = 0.0

        def _take(self, session: Any, job: Job) -> None:
            from greenbench.meters.counted import xdist
            from greenbench.plugin import session_of

            cfg = session.config
            item = job.item
            rc, doc, tail = job.result()
            ihook = item.ihook
            ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
            reports = [cfg.hook.pytest_report_from_serializable(config=cfg, data=d)
                       for d in (doc or {}).get("reports", [])]
            reports = [r for r in reports if r is not None and getattr(r, "nodeid", None) == item.nodeid]
            if not reports:
                why = (f"greenbench: counted meter (--energy-isolate): the counted process of {item.nodeid} "
                       f"exited {rc} before reporting its result")
                collect = [d.get("longrepr_text") for d in (doc or {}).get("collect_errors", [])]
                reports = [_failed_report(item, "\n".join([why, *(c for c in collect if c), tail]))]
            for rep in reports:
                ihook.pytest_runtest_logreport(report=rep)
            ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
            bs = getattr(cfg, "_benchmarksession", None)
            es = session_of(cfg)
            shipped = (doc or {}).get("shipped")
            if bs is not None and shipped:
                shipment = json.loads(shipped)
                for b in shipment.get("benchmarks", []):
                    bench = xdist.rebuild(b)
                    setattr(bench, xdist.ORDER_ATTR, job.index)  # its test's place in the controller's collection
                    bs.benchmarks.append(bench)
                bs.benchmarks.sort(key=lambda b: getattr(b, xdist.ORDER_ATTR, -1))
                if es is not None:
                    for n in shipment.get("notes", []):
                        if str(n).startswith("unfinished:"):
                            es.unfinished.append(str(n)[len("unfinished:"):])
                        else:
                            es.notices.append(str(n))

        @pytest.hookimpl(tryfirst=True)
        def pytest_runtestloop(self, session: Any) -> Any:
            if session.testsfailed and not session.config.option.continue_on_collection_errors:
                raise session.Interrupted(f"{session.testsfailed} error"
                                          f"{'s' if session.testsfailed != 1 else ''} during collection")
            if session.config.option.collectonly:
                return True
            from greenbench.meters.counted.valgrind import stop_writing_bytecode

            stop_writing_bytecode()  # collected natively (test modules cached as a plain run caches them); no more
            t0 = time.perf_counter()
            items = list(session.items)
            bs = getattr(session.config, "_benchmarksession", None)
            measured = bs is not None and not getattr(bs, "disabled", False) and not getattr(bs, "skip", False)
            # --benchmark-disable/-skip: pytest-benchmark runs or skips them here, as it would without greenbench
            native = [it for it in items if not measured or "benchmark" not in getattr(it, "fixturenames", ())]
            nxt = {id(a): (native[i + 1] if i + 1 < len(native) else None) for i, a in enumerate(native)}
            servers: list[Server] = []
            limit = max(1, int(settings.get("jobs", 1)))
            base_args: list[str] | None = None
            try:
                for index, item in enumerate(items):
                    if session.shouldfail or session.shouldstop:
                        break
                    if id(item) in nxt:  # not a benchmark: not measured, run here
                        item.config.hook.pytest_runtest_protocol(item=item, nextitem=nxt[id(item)])
                        continue
                    if base_args is None:  # the same for every job: the user's arguments less the selection
                        base_args = job_args(item.config.invocation_params.args, actions, "")[:-1]
                    while True:
                        servers = self._reap(session, servers, block=False)
                        free = [s for s in servers if not s.busy]
                        if free or len(servers) < limit:
                            break
                        servers = self._reap(session, servers, block=True)
                    if not free:
                        servers.append(Server(out_dir, settings, base_args, str(item.config.invocation_params.dir)))
                        free = servers[-1:]
                    free[0].submit(Job(item, index, out_dir))
                while any(s.busy for s in servers):
                    servers = self._reap(session, servers, block=True)
                for server in servers:
                    server.close()
                servers = []
            finally:  # interrupted: no job outlives the run
                for server in servers:
                    server.kill()
            self.wall_s = time.perf_counter() - t0
            if session.shouldfail:
                raise session.Failed(session.shouldfail)
            if session.shouldstop:
                raise session.Interrupted(session.shouldstop)
            return True

        def _reap(self, session: Any, servers: list[Server], *, block: bool) -> list[Server]:
            """Take the jobs that finished (waiting for one when ``block``); the servers still alive."""
            import select

            busy = [s for s in servers if s.pending or s.dead]
            if busy:
                ready, _, _ = select.select(busy, [], [], None if block else 0)
                finished: list[Job] = []
                for server in ready:
                    finished.extend(server.read())
                for job in sorted(finished, key=lambda j: j.index):
                    self._take(session, job)
            return [s for s in servers if not s.dead]

        @pytest.hookimpl(trylast=True)
        def pytest_terminal_summary(self, terminalreporter: Any) -> None:
            from greenbench.meters.counted.clock import say_time_columns

            say_time_columns(terminalreporter)

    return IsolatedController()


# -- a job -------------------------------------------------------------------------------

def job_plugin(config: Any) -> Any:
    """A job's hooks: nothing saved or gated here; its reports and benchmarks written for the controller."""
    import pytest

    for k, v in JOB_OPTIONS.items():
        if hasattr(config.option, k):
            setattr(config.option, k, v)

    class IsolatedJob:
        def __init__(self) -> None:
            self.reports: list[Any] = []
            self.collect_errors: list[Any] = []

        def pytest_runtest_logreport(self, report: Any) -> None:
            self.reports.append(config.hook.pytest_report_to_serializable(config=config, report=report))

        def pytest_collectreport(self, report: Any) -> None:
            if report.failed:
                self.collect_errors.append({"nodeid": report.nodeid, "longrepr_text": str(report.longrepr)})

        @pytest.hookimpl(trylast=True)
        def pytest_sessionfinish(self, session: Any) -> None:
            from greenbench.io.atomic import write_text
            from greenbench.meters.counted import xdist
            from greenbench.meters.counted.counts import DIR_ENV
            from greenbench.plugin import session_of

            bs = getattr(session.config, "_benchmarksession", None)
            es = session_of(session.config)
            notes = [*(f"unfinished:{u}" for u in getattr(es, "unfinished", [])),
                     *(f"error: {e}" for e in getattr(es, "output_errors", []))]
            shipped = xdist.ship(list(getattr(bs, "benchmarks", []) or []), {}, "job", notes)
            doc = {"reports": self.reports, "collect_errors": self.collect_errors, "shipped": shipped}
            write_text(Path(os.environ[DIR_ENV]) / RESULT_NAME, json.dumps(doc))

    return IsolatedJob()


def cleanup(out_dir: str) -> None:
    shutil.rmtree(out_dir, ignore_errors=True)

"""greenbench's pytest plugin: hooks and fixtures only.

Registered once, through the ``pytest11`` entry point ``greenbench``.  Every
test using pytest-benchmark's ``benchmark`` fixture gains energy per round
(greenbench.plugin.recorder), stored in pytest-benchmark's own JSON; the energy gate
(greenbench.gate) runs when a baseline is compared; the logic lives in
greenbench.plugin.session, greenbench.outputs.report and greenbench.outputs.terminal.

It never changes how someone else's tests run: no environment variables, no
thread counts, only ``--energy-*``/``--carbon-*`` options and the
``energy_meter`` fixture.  Importing it loads no numpy.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from greenbench.errors import GreenbenchError

_SESSION = pytest.StashKey[Any]()
_COMPARED = pytest.StashKey[list[Any]]()
METERS = ("auto", "rapl", "nvml", "codecarbon", "model", "counted")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("greenbench", "greenbench: energy and carbon of benchmarks")
    group.addoption("--energy-meter", default="auto", metavar="NAME",
                    help=f"energy source: {', '.join(METERS)}, or MODULE:CLASS for a meter of your own "
                         "(default auto: RAPL if readable, NVML for GPUs, else the CPU-time model)")
    group.addoption("--energy-isolate", action="store_true", default=False,
                    help="with --energy-meter=counted: count each benchmark in a process of its own, so its "
                         "counts do not depend on the selection or on what ran before (one Python start "
                         "under Valgrind per benchmark; -n N runs N at a time)")
    group.addoption("--carbon-intensity", type=float, default=None, metavar="G_PER_KWH",
                    help="grid carbon intensity for gCO2e (default: world average 475 g/kWh, labelled)")
    group.addoption("--carbon-region", default=None, metavar="CODE",
                    help="take the intensity of this region from greensim's yearly table (e.g. FR, DE, US)")
    group.addoption("--energy-compare-fail", default=None, metavar="EXPR",
                    help="with --benchmark-compare: fail when energy got worse, e.g. '10%%' or 'median:10%%'")
    group.addoption("--energy-compare-any-meter", action="store_true", default=False,
                    help="compare energy even when the baseline was measured by another meter "
                         "(or with --energy-codecarbon set otherwise)")
    group.addoption("--energy-compare-any-machine", action="store_true", default=False,
                    help="compare energy even when the baseline was measured on another machine (node or CPU "
                         "model); the counted meter compares across machines without it")
    group.addoption("--energy-compare-fail-inconclusive", action="store_true", default=False,
                    help="with --energy-compare-fail: also fail when a benchmark could not be decided "
                         "(machine busy, too few baseline runs, missing or corrupt energy data)")
    group.addoption("--energy-report", metavar="DIR", default=None,
                    help="write the report folder (Markdown, PNG plots, results.json) here after the run")
    group.addoption("--energy-summary", metavar="PATH", default=None,
                    help="after a compare, write the gate's Markdown summary (PR comment) here; "
                         "it also goes to $GITHUB_STEP_SUMMARY when set")
    group.addoption("--energy-codecarbon", action="store_true", default=False,
                    help="also run one CodeCarbon tracker around each whole benchmark (outside greenbench's "
                         "windows) and show its estimate per call beside ours when the benchmark ran >= 3 s")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """A meter that runs the whole command elsewhere takes it over (``--energy-meter=counted`` outside
    callgrind: the same command under it, issue #12)."""
    from greenbench.meters.auto import cmdline_relaunch

    relaunch = cmdline_relaunch(getattr(config.option, "energy_meter", None))
    if relaunch is None or config.option.help or config.option.version:
        return None
    try:  # issue #20: inside the counted run it fixes the rounds and seeds; -n N: a Valgrind per worker
        return relaunch(config)
    except GreenbenchError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from greenbench.plugin import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    from greenbench.plugin.session import make_session

    try:
        config.stash[_SESSION] = es = make_session(config.option)
        report_dir = getattr(config.option, "energy_report", None)
        if report_dir and not hasattr(config, "workerinput"):  # xdist workers write nothing; the controller holds it
            from greenbench.io.atomic import lock_folder

            lock_folder(report_dir)  # issue #21: a second run writing the same folder at once is refused here
            es.locked_report = report_dir
    except GreenbenchError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.pluginmanager.register(_InterruptWatch(es), f"greenbench-interrupt-watch-{id(config)}")


def session_of(config: pytest.Config) -> Any:
    """The run's :class:`greenbench.plugin.session.EnergySession` (None when the plugin is not configured)."""
    return config.stash.get(_SESSION, None)


def _session(config: pytest.Config) -> Any:
    return config.stash.get(_SESSION, None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    fixture = getattr(item, "funcargs", {}).get("benchmark")
    es = _session(item.config)
    recorder = None
    if fixture is not None and es is not None and getattr(fixture, "enabled", False):
        recorder = es.attach(fixture)
        attach = getattr(es.meter, "attach_benchmark", None)
        if attach is not None:  # the meter takes what it needs from the benchmark (counted, #24: its profile)
            attach(fixture)
    try:
        result = yield
    except BaseException:
        if recorder is not None:  # the test's own failure (or Ctrl-C) is the one reported
            _finish_benchmark(es, fixture, recorder, item.config)
        raise
    if recorder is not None:
        problem = _finish_benchmark(es, fixture, recorder, item.config)
        if problem is not None:  # issue #21: one line naming the meter, never a traceback from inside greenbench
            pytest.fail(f"greenbench: {problem}", pytrace=False)
    return result


def _finish_benchmark(es: Any, fixture: Any, recorder: Any, config: pytest.Config) -> str | None:
    """Store the benchmark's energy; the one-line reason when it could not be (never raises)."""
    try:
        problem: str | None = es.finish(fixture, recorder)
        from greenbench.meters.counted import profile

        profile.after_benchmark(es, fixture, recorder, config)
    except Exception as exc:
        return f"energy of this benchmark not stored: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    return problem


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    es = _session(config)
    if es is not None:
        machine_info["greenbench"] = es.machine_info()


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]) -> None:
    es = _session(config)
    if es is not None:
        es.update_json(output_json)


def pytest_benchmark_compare_machine_info(
    config: pytest.Config, benchmarksession: Any, machine_info: dict[str, Any], compared_benchmark: dict[str, Any]
) -> None:
    es = _session(config)
    if es is not None:
        es.baseline_machine_info = compared_benchmark.get("machine_info")
        es.baseline_run = _run_provenance(compared_benchmark)  # issue #23: the summary names what it compared
        config.stash.setdefault(_COMPARED, []).append(compared_benchmark)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse, before any benchmark runs, a gate that could not decide (exit 4, one line)."""
    config = session.config
    es = _session(config)
    if es is None:
        return
    bs = getattr(config, "_benchmarksession", None)
    paths = list(getattr(bs, "compared_mapping", None) or {})
    if paths and isinstance(getattr(es, "baseline_run", None), dict):  # the newest compared file is the baseline
        from pathlib import Path

        es.baseline_run["run"] = Path(str(paths[-1])).stem
    compared = config.stash.setdefault(_COMPARED, [])
    for i, doc in enumerate(compared):
        es.check_baseline(doc, f"baseline {paths[i]}" if i < len(paths) else f"baseline #{i + 1}")
    _say_what_will_not_be_written(es, config, bs)
    if es.rule is None:
        return
    if getattr(config.option, "benchmark_skip", False):
        raise pytest.UsageError(
            f"--energy-compare-fail={es.rule}: --benchmark-skip skips every benchmark, so the gate would check "
            "nothing; run the gated benchmarks without it")
    if getattr(bs, "disabled", False):
        raise pytest.UsageError(
            f"--energy-compare-fail={es.rule}: benchmarks are disabled here (--benchmark-disable, or pytest-xdist's "
            "-n, which disables them), so the gate would check nothing; run the gated benchmarks without them")
    if not paths:
        raise pytest.UsageError(
            f"--energy-compare-fail={es.rule}: no baseline loaded from --benchmark-compare (no saved run "
            "matches, or each match is missing, empty, truncated or unreadable; pytest-benchmark's warning "
            "names the file); save one with --benchmark-autosave first")
    if es.baseline_problems:
        raise pytest.UsageError(f"--energy-compare-fail={es.rule}: {es.baseline_problems[0]}")


def _say_what_will_not_be_written(es: Any, config: pytest.Config, bs: Any) -> None:
    """Issue #23: an output that was asked for but will not be written says so, once, before the run."""
    report = config.getoption("energy_report", None)
    summary = config.getoption("energy_summary", None)
    if getattr(bs, "disabled", False):
        why = ("benchmarks are disabled here (--benchmark-disable, or pytest-xdist's -n, which disables them)")
    elif getattr(bs, "skip", False):
        why = "benchmarks are skipped (--benchmark-skip)"
    else:
        why = ""
    if report and why:
        es.notices.append(f"--energy-report {report}: no report will be written: {why}")
    if summary and why:
        es.notices.append(f"--energy-summary {summary}: no summary will be written: {why}")
    elif summary and not getattr(bs, "compared_mapping", None) and not es.baseline_problems:
        es.notices.append(f"--energy-summary {summary}: no summary will be written: it reports a comparison, and "
                          "no baseline was loaded (give --benchmark-compare with a saved run)")
    tr = config.pluginmanager.get_plugin("terminalreporter")
    for notice in es.notices:  # printed, not warnings.warn: a -W error setup must not turn a notice into a crash
        if tr is not None:
            tr.write_line(f"greenbench: warning: {notice}", yellow=True)


def _run_provenance(doc: Any) -> dict[str, Any]:
    """Commit, branch, date and machine of a saved run (for the summary's "compared against" line)."""
    if not isinstance(doc, dict):
        return {}
    ci: Any = doc.get("commit_info") if isinstance(doc.get("commit_info"), dict) else {}
    mi: Any = doc.get("machine_info") if isinstance(doc.get("machine_info"), dict) else {}
    return {"commit": ci.get("id"), "branch": ci.get("branch"), "date": doc.get("datetime"), "machine": mi.get("node")}


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum} (SIGTERM)")


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    """While tests run, SIGTERM (a CI cancel) stops the run as Ctrl-C does: marked interrupted when saved."""
    import signal
    import threading

    previous = None
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM") \
            and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL and _session(session.config) is not None:
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return (yield)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class _InterruptWatch:
    """Per-run plugin: marks its session interrupted (pytest_keyboard_interrupt carries no config)."""

    def __init__(self, es: Any) -> None:
        self.es = es

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.es.interrupted = True


@pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_sessionfinish")
def pytest_sessionfinish_guard(session: pytest.Session, exitstatus: int) -> Generator[None, None, None]:
    """Before pytest-benchmark saves: drop benchmarks that never finished a round (issue #21).

    A Ctrl-C or SIGTERM inside a benchmark's first round leaves it with no timings, and
    pytest-benchmark's saver fails on it (``min() arg is an empty sequence``), losing every
    completed benchmark.  Dropped here, named in greenbench's summary; pytest-benchmark unchanged.
    """
    bs = getattr(session.config, "_benchmarksession", None)
    es = _session(session.config)
    benchmarks = getattr(bs, "benchmarks", None)
    if isinstance(benchmarks, list):
        unfinished = [b for b in benchmarks if not b and not getattr(b, "has_error", False)]
        if unfinished:
            benchmarks[:] = [b for b in benchmarks if b or getattr(b, "has_error", False)]
            if es is not None:
                es.unfinished += [str(getattr(b, "fullname", "?")) for b in unfinished]
    return (yield)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from greenbench.plugin.session import finish_session

    es = _session(session.config)
    if es is None:
        return
    try:
        failed = finish_session(es, session.config)
    except Exception as exc:  # a last guard: the run's outcome stands, with one line saying what went wrong
        es.output_errors.append(f"greenbench could not finish: {type(exc).__name__}: {' '.join(str(exc).split())}")
        failed = True
    finally:
        _release(es)
    if failed and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _release(es: Any) -> None:
    """Give back the report folder's lock and remove temporary pictures (idempotent)."""
    from greenbench.io.atomic import unlock_folder

    es.drop_artifacts()
    locked = getattr(es, "locked_report", None)
    if locked:
        unlock_folder(locked)
        es.locked_report = None


def pytest_unconfigure(config: pytest.Config) -> None:
    es = _session(config)
    if es is not None:
        _release(es)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    from greenbench.outputs.terminal import summary

    es = _session(config)
    if es is None:
        return
    try:
        summary(es, config, terminalreporter)
    except Exception as exc:
        es.output_errors.append(f"energy table not printed: {type(exc).__name__}: {' '.join(str(exc).split())}")
    lines = [f"greenbench: warning: {n}" for n in es.notices]
    if es.unfinished:
        lines.append(f"greenbench: {len(es.unfinished)} benchmark(s) stopped before finishing one round, not saved: "
                     + ", ".join(es.unfinished[:5]) + (" ..." if len(es.unfinished) > 5 else ""))
    lines += [f"greenbench: error: {e}" for e in es.output_errors]
    if lines:
        terminalreporter.write_sep("-", "greenbench")
        for line in lines:
            terminalreporter.write_line(line, red="error:" in line, yellow="error:" not in line)


@pytest.fixture(scope="session")
def energy_meter(request: pytest.FixtureRequest) -> Any:
    """A meter of the session's kind (``--energy-meter``), for benchmarks that measure by hand.

    A fresh instance: the session's own meter is busy bracketing the round.
    """
    es = _session(request.config)
    if es is None:
        pytest.skip("greenbench plugin session not configured")
    return es.fresh_meter()

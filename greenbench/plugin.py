"""greenbench's pytest plugin: hooks and fixtures only.

Registered once, through the ``pytest11`` entry point ``greenbench``.  Every
test using pytest-benchmark's ``benchmark`` fixture gains energy per round
(greenbench.recorder), stored in pytest-benchmark's own JSON; the energy gate
(greenbench.gate) runs when a baseline is compared; the logic lives in
greenbench.session, greenbench.report and greenbench.terminal.

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
METERS = ("auto", "rapl", "nvml", "codecarbon", "model")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("greenbench", "greenbench: energy and carbon of benchmarks")
    group.addoption("--energy-meter", choices=METERS, default="auto",
                    help="energy source (default auto: RAPL if readable, NVML for GPUs, else the CPU-time model)")
    group.addoption("--carbon-intensity", type=float, default=None, metavar="G_PER_KWH",
                    help="grid carbon intensity for gCO2e (default: world average 475 g/kWh, labelled)")
    group.addoption("--carbon-region", default=None, metavar="CODE",
                    help="take the intensity of this region from greensim's yearly table (e.g. FR, DE, US)")
    group.addoption("--energy-compare-fail", default=None, metavar="EXPR",
                    help="with --benchmark-compare: fail when energy got worse, e.g. '10%%' or 'median:10%%'")
    group.addoption("--energy-compare-any-meter", action="store_true", default=False,
                    help="compare energy even when the baseline was measured by another meter")
    group.addoption("--energy-report", metavar="DIR", default=None,
                    help="write the report folder (Markdown, PNG plots, results.json) here after the run")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from greenbench import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    from greenbench.session import make_session

    try:
        config.stash[_SESSION] = make_session(config.option)
    except GreenbenchError as exc:
        raise pytest.UsageError(str(exc)) from None


def session_of(config: pytest.Config) -> Any:
    """The run's :class:`greenbench.session.EnergySession` (None when the plugin is not configured)."""
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
    try:
        return (yield)
    finally:
        if recorder is not None:
            es.finish(fixture, recorder)


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


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from greenbench.session import finish_session

    es = _session(session.config)
    if es is not None and finish_session(es, session.config) and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    from greenbench.terminal import summary

    es = _session(config)
    if es is not None:
        summary(es, config, terminalreporter)


@pytest.fixture(scope="session")
def energy_meter(request: pytest.FixtureRequest) -> Any:
    """A meter of the session's kind (``--energy-meter``), for benchmarks that measure by hand.

    A fresh instance: the session's own meter is busy bracketing the round.
    """
    es = _session(request.config)
    if es is None:
        pytest.skip("greenbench plugin session not configured")
    return es.fresh_meter()

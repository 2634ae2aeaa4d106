"""greenbench's pytest plugin: hooks and fixtures only.

Registered once, through the ``pytest11`` entry point ``greenbench``.  Every
test using pytest-benchmark's ``benchmark`` fixture gains energy per round
(bench.energy), stored in pytest-benchmark's own JSON; the energy gate
(bench.gate) runs when a baseline is compared; the logic lives in
bench.session, bench.report and bench.terminal.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from bench import threads
from greensim.errors import GreenbenchError

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
    group.addoption("--workload-size", choices=("quick", "full"), default="quick",
                    help="workload size: quick (CI, minutes on 2 cores) or full (close to the study)")
    group.addoption("--device", dest="workload_device", choices=("auto", "cpu", "cuda"), default="auto",
                    help="device for PyTorch workloads (auto: cuda when available)")
    group.addoption("--workload-threads", type=int, default=None, metavar="N",
                    help="threads for BLAS/OpenMP/torch/Numba, set before they load "
                         "(default: $OMP_NUM_THREADS, else 1); recorded with the results")
    group.addoption("--mnist-dir", default=None, metavar="DIR",
                    help="read full MNIST / Fashion-MNIST IDX files from DIR (sets GREENBENCH_MNIST_DIR)")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    ns = early_config.known_args_namespace
    n = threads.resolve(getattr(ns, "workload_threads", None))
    if n < 1:
        raise pytest.UsageError(f"--workload-threads must be >= 1, got {n}")
    threads.apply(n)
    mnist_dir = getattr(ns, "mnist_dir", None)
    if mnist_dir:
        os.environ["GREENBENCH_MNIST_DIR"] = str(mnist_dir)


def pytest_configure(config: pytest.Config) -> None:
    from bench.session import make_session

    try:
        config.stash[_SESSION] = make_session(config.option)
    except GreenbenchError as exc:
        raise pytest.UsageError(str(exc)) from None
    threads.apply(config.stash[_SESSION].threads)


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
    from bench.session import finish_session

    es = _session(session.config)
    if es is not None and finish_session(es, session.config) and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    from bench.terminal import summary

    es = _session(config)
    if es is not None:
        summary(es, config, terminalreporter)


@pytest.fixture(scope="session")
def workload_size(request: pytest.FixtureRequest) -> str:
    """``quick`` or ``full`` (``--workload-size``)."""
    return str(request.config.getoption("workload_size"))


@pytest.fixture(scope="session")
def workload_device(request: pytest.FixtureRequest) -> str:
    """``cpu`` or ``cuda`` (``--device``; auto picks cuda when torch sees a GPU)."""
    es = _session(request.config)
    if es is None:
        return "cpu"
    if es.device == "auto":  # resolved on first use: importing torch is not free
        try:
            import torch
        except ImportError:
            es.device = "cpu"
        else:
            es.device = "cuda" if torch.cuda.is_available() else "cpu"
    return str(es.device)


@pytest.fixture(scope="session")
def energy_meter(request: pytest.FixtureRequest) -> Any:
    """A meter of the session's kind (``--energy-meter``), for benchmarks that measure by hand.

    A fresh instance: the session's own meter is busy bracketing the round.
    """
    es = _session(request.config)
    if es is None:
        pytest.skip("greenbench plugin session not configured")
    return es.fresh_meter()


@pytest.fixture(scope="session")
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    """Where benchmarks put pictures for the report (``<report>/artifacts``)."""
    report = request.config.getoption("energy_report")
    path = Path(report) / "artifacts" if report else Path(tempfile.mkdtemp(prefix="greenbench-artifacts-"))
    path.mkdir(parents=True, exist_ok=True)
    return path

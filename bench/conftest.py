"""The benchmark suite's own options, fixtures and thread policy.

They apply when someone runs this suite (``pytest bench``) and never
elsewhere: greenbench the plugin adds only ``--energy-*``/``--carbon-*``.

Sizes: every ``bench/test_*.py`` keeps its sizes in a module-level dict keyed
by ``"quick"``/``"full"``, indexed with the ``workload_size`` fixture.

Thread policy (see bench/threads.py): one thread for BLAS/OpenMP/torch/Numba
unless ``--workload-threads`` or ``OMP_NUM_THREADS`` says otherwise, applied
when this file loads, before any workload imports numpy.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from bench import threads

# before numpy/torch load: conftest files load before test modules import them
threads.apply(threads.resolve(None))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("greenbench-suite", "greenbench's own benchmark suite (bench/)")
    group.addoption("--workload-size", choices=("quick", "full"), default="quick",
                    help="workload size: quick (CI, minutes on 2 cores) or full (close to the study)")
    group.addoption("--device", dest="workload_device", choices=("auto", "cpu", "cuda"), default="auto",
                    help="device for PyTorch workloads (auto: cuda when available)")
    group.addoption("--workload-threads", type=int, default=None, metavar="N",
                    help="threads for BLAS/OpenMP/torch/Numba (default: $OMP_NUM_THREADS, else 1); "
                         "recorded with the results")
    group.addoption("--mnist-dir", default=None, metavar="DIR",
                    help="read full MNIST / Fashion-MNIST IDX files from DIR (sets GREENBENCH_MNIST_DIR)")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    n = threads.resolve(config.getoption("workload_threads"))
    if n < 1:
        raise pytest.UsageError(f"--workload-threads must be >= 1, got {n}")
    threads.apply(n)
    mnist_dir = config.getoption("mnist_dir")
    if mnist_dir:
        os.environ["GREENBENCH_MNIST_DIR"] = str(mnist_dir)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    from greenbench.plugin import session_of

    es = session_of(session.config)
    if es is not None:  # the suite records what it set
        es.threads = threads.resolve(session.config.getoption("workload_threads"))
        es.device = str(session.config.getoption("workload_device"))


def pytest_greenbench_report_sections(config: pytest.Config) -> list[Any]:
    from bench.sections import load_sections

    return load_sections()


@pytest.fixture(scope="session")
def workload_size(request: pytest.FixtureRequest) -> str:
    """``quick`` or ``full`` (``--workload-size``)."""
    return str(request.config.getoption("workload_size"))


@pytest.fixture(scope="session")
def workload_device(request: pytest.FixtureRequest) -> str:
    """``cpu`` or ``cuda`` (``--device``; auto picks cuda when torch sees a GPU)."""
    from greenbench.plugin import session_of

    device = str(request.config.getoption("workload_device"))
    if device == "auto":  # resolved on first use: importing torch is not free
        try:
            import torch
        except ImportError:
            device = "cpu"
        else:
            device = "cuda" if torch.cuda.is_available() else "cpu"
    es = session_of(request.config)
    if es is not None:
        es.device = device
    return device


@pytest.fixture(scope="session")
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    """Where benchmarks put pictures for the report (they end up in ``<report>/artifacts``)."""
    from greenbench.plugin import session_of

    es = session_of(request.config)
    if es is not None:
        return Path(es.artifacts_dir())
    return Path(tempfile.mkdtemp(prefix="greenbench-artifacts-"))

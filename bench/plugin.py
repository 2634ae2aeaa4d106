"""greenbench pytest plugin (work in progress: options and fixtures first)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("greenbench", "greenbench energy measurement")
    group.addoption("--workload-size", choices=("quick", "full"), default="quick",
                    help="workload size: quick (CI, minutes on 2 cores) or full (close to the study)")
    group.addoption("--device", dest="workload_device", choices=("auto", "cpu", "cuda"), default="auto",
                    help="device for PyTorch workloads (auto: cuda when available)")
    group.addoption("--energy-report", metavar="DIR", default=None,
                    help="write the Markdown/PNG report folder here after the run")


@pytest.fixture(scope="session")
def workload_size(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("workload_size"))


@pytest.fixture(scope="session")
def workload_device(request: pytest.FixtureRequest) -> str:
    choice = str(request.config.getoption("workload_device"))
    if choice != "auto":
        return choice
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture(scope="session")
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    report = request.config.getoption("energy_report")
    path = Path(report) / "artifacts" if report else Path(tempfile.mkdtemp(prefix="greenbench-artifacts-"))
    path.mkdir(parents=True, exist_ok=True)
    return path

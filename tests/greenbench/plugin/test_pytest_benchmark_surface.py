"""The private surface of pytest-benchmark that greenbench relies on.

pyproject.toml pins ``pytest-benchmark<6``; if a release inside that range
moves any of these, this test fails loudly instead of greenbench silently
recording nothing.
"""

from __future__ import annotations

import inspect

import pytest_benchmark.fixture as fixture_mod
import pytest_benchmark.session as session_mod


def test_runner_factory_has_the_signature_the_recorder_wraps() -> None:
    make_runner = fixture_mod.BenchmarkFixture._make_runner
    params = list(inspect.signature(make_runner).parameters)
    assert params == ["self", "function_to_benchmark", "args", "kwargs"]


def test_fixture_exposes_what_the_session_reads() -> None:
    src = inspect.getsource(fixture_mod.BenchmarkFixture)
    for name in ("self.fullname", "self.extra_info", "self.stats", "self.has_error"):
        assert name in src, name


def test_session_exposes_compare_mapping_and_machine_info() -> None:
    src = inspect.getsource(session_mod.BenchmarkSession)
    for name in ("self.compared_mapping", "self.benchmarks", "def get_machine_info"):
        assert name in src, name


def test_plugin_stores_the_session_on_the_config() -> None:
    import pytest_benchmark.plugin as plugin_mod

    assert "config._benchmarksession" in inspect.getsource(plugin_mod)


def test_runner_signature_and_storage_the_gate_reads() -> None:
    # the recorder's wrapper mirrors ``runner(loops_range, timer=...)``; the gate reads older baseline runs
    # through the storage's query()/load() (issue #17)
    src = inspect.getsource(fixture_mod.BenchmarkFixture._make_runner)
    assert "def runner(loops_range, timer=self._timer)" in src
    import pytest_benchmark.storage.file as file_mod

    for name in ("def query(self, *globs_or_files)", "def load(self, *globs_or_files)"):
        assert name in inspect.getsource(file_mod.FileStorage), name
    assert "self.storage" in inspect.getsource(session_mod.BenchmarkSession)

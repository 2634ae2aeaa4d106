"""The counted meter under pytest-xdist (issue #20): one Valgrind per worker, results merged in the controller."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import stat
import types
from pathlib import Path
from typing import Any

import pytest

from greenbench.errors import ConfigError
from greenbench.meters import counted as C
from greenbench.meters.counted import xdist as X

# -- which runs use workers, and how they are started -------------------------------------------------

@pytest.mark.parametrize("tx, fragment", [
    (["ssh=host//python=python3"], "only local workers (popen)"),
    (["2*socket=1.2.3.4:8888"], "only local workers (popen)"),
    (["popen//python=python3.12"], "drop python="),
])
def test_workers_it_cannot_count_are_refused_in_one_line(tx: list[str], fragment: str) -> None:
    with pytest.raises(ConfigError, match="--energy-meter=counted with --tx") as e:
        X.xdist_requested(types.SimpleNamespace(numprocesses=None, dist="load", tx=tx))
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_n_replaces_tx() -> None:  # xdist turns -n N into N popen specs, whatever --tx said
    assert X.xdist_requested(types.SimpleNamespace(numprocesses=2, dist="load", tx=["ssh=h"]))


def test_popen_specs_get_the_wrapper() -> None:
    assert X.popen_with_wrapper(["popen", "2*popen", "popen//id=a", "popen//python=py", "ssh=h"], "/w") == [
        "popen//python=/w", "2*popen//python=/w", "popen//id=a//python=/w", "popen//python=py", "ssh=h"]


def test_worker_environment_is_the_counted_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    env = X.worker_environment({"PATH": "/bin", X.CONTROLLER_ENV: "/tmp/d"}, "/tmp/d", ["vg", "py", "-c", "x"])
    assert X.CONTROLLER_ENV not in env and env[C.DIR_ENV] == "/tmp/d" and env["PYTHONHASHSEED"] == "0"
    size = sum(len(a) + 1 for a in ["vg", "py", "-c", "x"]) + sum(len(k) + len(v) + 2 for k, v in env.items())
    assert size % C.PAD_BLOCK == 0  # the stack starts at the same address whatever the strings' lengths
    ctl = X.controller_environment("/tmp/d", {"PATH": "/bin", C.DIR_ENV: "/old"})
    assert C.DIR_ENV not in ctl and ctl[X.CONTROLLER_ENV] == "/tmp/d" and ctl["OMP_NUM_THREADS"] == "1"


def test_wrapper_execs_valgrind_with_xdists_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrapper = Path(X.write_wrapper(tmp_path, ["setarch", "x86_64", "-R", "vg", "--tool=callgrind", "py"]))
    assert wrapper.stat().st_mode & stat.S_IXUSR and wrapper.read_text().startswith("#!/bin/sh\nexec ")
    seen: list[Any] = []
    monkeypatch.setattr(os, "execve", lambda path, argv, env: seen.append((path, argv, env)))
    monkeypatch.setenv(X.CONTROLLER_ENV, str(tmp_path))
    X.main([str(tmp_path / X.WRAPPER_CONFIG), "-u", "-c", "bootstrap"])
    path, argv, env = seen[0]
    assert path == "setarch" and argv == ["setarch", "x86_64", "-R", "vg", "--tool=callgrind", "py", "-u", "-c",
                                          "bootstrap"]
    assert env[C.DIR_ENV] == str(tmp_path) and X.CONTROLLER_ENV not in env


def test_controller_meter_describes_the_counted_meter(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(X.CONTROLLER_ENV, raising=False)
    assert X.controller_meter() is None
    monkeypatch.setenv(X.CONTROLLER_ENV, str(tmp_path))
    meter = X.controller_meter()
    from greenbench.meters import get_meter

    assert type(get_meter("counted")) is type(meter)
    real = C.CountedMeter(lib=types.SimpleNamespace(), out_dir=tmp_path)
    assert meter.describe() == real.describe() and meter.deterministic and meter.source == "counted"
    from greenbench.errors import MeterError

    with pytest.raises(MeterError, match="measures nothing"):
        meter.start()


class FakeNode:
    def __init__(self, wid: str) -> None:
        self.gateway = types.SimpleNamespace(id=wid)
        self.sent: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent += indices

    def shutdown(self) -> None:
        self.shutting_down = True


@pytest.mark.parametrize("tests, workers, slices", [
    (10, 3, [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]),
    (2, 3, [[0], [1], []]),
    (40, 2, [list(range(20)), list(range(20, 40))]),
])
def test_fixed_split_whatever_order_the_workers_came_up_in(tests: int, workers: int,
                                                           slices: list[list[int]]) -> None:
    config = types.SimpleNamespace(getvalue=lambda k: ["popen"] * workers, getoption=lambda k: None)
    sched = X.static_scheduler(config)
    nodes = [FakeNode(f"gw{i}") for i in range(workers)]
    collection = [f"t.py::test_{i}" for i in range(tests)]
    for node in reversed(nodes):  # gw2 ready first
        sched.add_node(node)
    for node in reversed(nodes):
        sched.add_node_collection(node, collection)
    assert sched.collection_is_completed
    sched.schedule()
    assert [n.sent for n in nodes] == slices
    assert all(n.shutting_down for n in nodes) and not sched.pending


# -- shipping a worker's benchmarks and merging them in the controller -----------------------------

def metadata(name: str, data: list[float], iterations: int = 1, energy: float = 1.0) -> Any:
    """A pytest-benchmark Metadata as a worker's BenchmarkFixture leaves it."""
    from pytest_benchmark.stats import Metadata

    fixture = types.SimpleNamespace(name=name, fullname=f"t.py::{name}", group=None, param=None, params=None,
                                    extra_info={"energy": {"counts": {"instructions": 1234}, "rounds_j": [energy]}},
                                    cprofile_stats=None, has_error=False)
    m = Metadata(fixture, iterations, {"min_rounds": 3, "timer": "perf_counter", "disable_gc": False})
    for d in data:
        m.update(d * iterations)
    return m


def test_merged_benchmarks_are_the_workers_in_collection_order() -> None:
    order = {"t.py::a": 0, "t.py::b": 1, "t.py::c": 2}
    a, b, c = metadata("a", [0.3, 0.1, 0.2]), metadata("b", [1e-7, 3e-7, 2e-7], 64), metadata("c", [5.0, 5.5, 6])
    empty = metadata("d", [])  # never finished a round: dropped, as a -n 0 run's saver drops it
    merged: list[Any] = []
    notes = X.merge(merged, X.ship([c], order, "gw1", ["unfinished:t.py::x"]))
    X.merge(merged, X.ship([b, a, empty], order, "gw0"))
    assert [m.fullname for m in merged] == ["t.py::a", "t.py::b", "t.py::c"]
    assert notes == ["unfinished:t.py::x"]
    for original, rebuilt in zip((a, b, c), merged, strict=True):
        # what pytest-benchmark saves and tabulates: identical, statistics included
        assert json.loads(json.dumps(rebuilt.as_dict(include_data=True))) == \
            json.loads(json.dumps(original.as_dict(include_data=True)))
        assert rebuilt.as_dict(flat=True, include_data=False) == original.as_dict(flat=True, include_data=False)
        assert bool(rebuilt) and not rebuilt.has_error


def test_pytest_benchmarks_json_and_compare_see_the_rebuilt_benchmark() -> None:
    from pytest_benchmark.plugin import pytest_benchmark_generate_json

    merged: list[Any] = []
    X.merge(merged, X.ship([metadata("a", [0.2, 0.1, 0.3])], {"t.py::a": 0}, "gw0"))
    out = pytest_benchmark_generate_json(config=None, benchmarks=merged, include_data=False, machine_info={},
                                         commit_info={})
    entry = out["benchmarks"][0]
    assert entry["stats"]["min"] == 0.1 and entry["stats"]["rounds"] == 3
    assert entry["extra_info"]["energy"]["counts"]["instructions"] == 1234


def test_shipment_without_data_is_a_data_error() -> None:
    from greenbench.errors import DataError

    with pytest.raises(DataError, match="without its per-round data"):
        X.merge([], json.dumps({"benchmarks": [{"name": "a", "fullname": "t.py::a", "stats": {"min": 1}}]}))


# -- end to end: -n 2 under Valgrind against -n 0 --------------------------------------------------------

needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None or not os.path.isfile(
    "/usr/include/valgrind/callgrind.h"), reason="needs valgrind and valgrind/callgrind.h")

#: pure-Python loops: no I/O, no hash-order dependence
TINY = """
import os
SCALE = float(os.environ.get("WORK_SCALE", "1"))
def loop(n):
    t = 0
    for i in range(n):
        t += i * i
    return t
def test_a(benchmark):
    benchmark(loop, int(20000 * SCALE))
def test_b(benchmark):
    benchmark(loop, 5000)
def test_c(benchmark):
    benchmark(sorted, list(range(2000, 0, -1)))
def test_d(benchmark):
    benchmark(lambda: [i + 1 for i in range(3000)])
def test_plain():
    assert loop(3) == 5
"""

#: bound on the difference in per-call instructions between a -n 2 and a -n 0 run of TINY.  Counted processes
#: still differ by what ran before in them (issue #20's open history dependence): measured on this suite, two
#: -n 0 runs differed by up to 1.4 % (test_b lands on 3,192,121 or 3,236,917), two -n 2 runs by up to 1.6 %, and
#: -n 2 against -n 0 by up to 4.2 % (test_d, a list comprehension; the others <= 1.4 %).  So this checks that every
#: benchmark was counted in its own worker's process and window (another worker's dumps, a missing round or a
#: doubled window would be off by far more), not bit-identity
TOLERANCE = 0.10


def counted(pytester: pytest.Pytester, *args: str, scale: float = 1.0) -> pytest.RunResult:
    pytester.makeini("[pytest]\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORK_SCALE", str(scale))
        mp.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[3]))  # this checkout's greenbench
        return pytester.runpytest_subprocess("--energy-meter=counted", "-p", "no:cacheprovider",
                                             "-p", "no:randomly", *args)


def energies(path: Path) -> dict[str, dict[str, Any]]:
    return {b["fullname"]: b["extra_info"]["energy"] for b in json.loads(path.read_text())["benchmarks"]}


@pytest.mark.slow
@pytest.mark.serial
@needs_valgrind
def test_n2_saves_what_n0_saves(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_tiny=TINY)
    r0 = counted(pytester, "--benchmark-json=n0.json")
    assert r0.ret == 0, r0.stdout.str() + r0.stderr.str()
    r2 = counted(pytester, "-n", "2", "--benchmark-json=n2.json", "--benchmark-autosave")
    out = r2.stdout.str() + r2.stderr.str()
    assert r2.ret == 0, out
    assert "Benchmarks are automatically disabled" not in out and "cache found" not in out
    for line in ("*greenbench energy*", "*benchmark: 4 tests*"):  # both tables (in either order), every benchmark
        r2.stdout.fnmatch_lines([line])
    if importlib.util.find_spec("numba") is not None:  # the native pass filling Numba's cache: once, before
        assert out.count("Numba's cache filled natively") == 1
    n0, n2 = (json.loads((pytester.path / f).read_text()) for f in ("n0.json", "n2.json"))
    assert [b["fullname"] for b in n2["benchmarks"]] == [b["fullname"] for b in n0["benchmarks"]]
    assert n2["machine_info"]["greenbench"] == n0["machine_info"]["greenbench"]
    assert len(list((pytester.path / ".benchmarks").rglob("*.json"))) == 1  # saved once, by the controller
    e0, e2 = energies(pytester.path / "n0.json"), energies(pytester.path / "n2.json")
    for name, block in e0.items():
        other = e2[name]
        assert len(other["rounds_j"]) == len(block["rounds_j"]) == C.DEFAULT_ROUNDS
        assert set(other["counts"]) == set(block["counts"])
        i0, i2 = block["counts"]["instructions"], other["counts"]["instructions"]
        assert abs(i2 / i0 - 1) <= TOLERANCE, (name, i0, i2)


@pytest.mark.slow
@pytest.mark.serial
@needs_valgrind
def test_n2_gate_fails_a_planted_regression(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_tiny=TINY)
    r = counted(pytester, "-n", "2", "--benchmark-autosave")
    assert r.ret == 0, r.stdout.str() + r.stderr.str()
    r = counted(pytester, "-n", "2", "--benchmark-compare", "--energy-compare-fail=10%", "--energy-report=rep",
                "--energy-summary=summary.md", scale=1.5)
    out = r.stdout.str()
    assert r.ret == 1, out
    assert "test_tiny.py::test_a: regression" in out
    assert "test_tiny.py::test_b: regression" not in out and "test_tiny.py::test_c: regression" not in out
    assert "regression" in (pytester.path / "summary.md").read_text()
    results = json.loads((pytester.path / "rep" / "results.json").read_text())
    assert len(results["benchmarks"]) == 4


def test_other_meters_under_n_keep_pytest_benchmarks_behaviour(pytester: pytest.Pytester) -> None:
    """Only the counted meter re-enables benchmarks under xdist; the model meter's -n run is unchanged."""
    pytester.makepyfile(test_tiny=TINY)
    pytester.makeini("[pytest]\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[3]))
        # -n 1: pytest-benchmark warns only from worker gw0 when gw0 ran a benchmark; with -n 2 the scheduler
        # decides (under load all benchmarks went to gw1 once and the warning was not given: a flaky test)
        r = pytester.runpytest_subprocess("--energy-meter=model", "-n", "1", "-p", "no:cacheprovider",
                                          "-p", "no:randomly", "--benchmark-json=out.json")
    out = r.stdout.str() + r.stderr.str()
    assert r.ret == 0, out
    assert "Benchmarks are automatically disabled because xdist plugin is active" in out
    assert not (pytester.path / "out.json").exists()

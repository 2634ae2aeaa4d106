"""The counted meter with --energy-isolate (issue #20): every benchmark counted in a process of its own, by a
command line that does not depend on the selection or on what the run saves or compares."""

from __future__ import annotations

import json
import os
import shutil
import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenbench.errors import ConfigError
from greenbench.meters.counted import isolate as I

# -- the job's command line ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def actions(pytestconfig: pytest.Config) -> dict[str, Any]:
    """pytest's own parser with this environment's plugins (pytest-benchmark, greenbench, xdist)."""
    return I.option_actions(pytestconfig)


#: what a user may add to select tests, or to save, compare, gate and report: none of it reaches the job
SELECTION = [
    ["bench"], ["bench/test_x.py"], ["-k", "lists and not tuple"], ["-kfoo"], ["-m", "slow"],
    ["--deselect", "bench/test_x.py::test_y"], ["--ignore=bench/test_enums.py"], ["--ignore", "bench/t.py"],
    ["-x"], ["--maxfail=3"], ["-q"], ["-v"], ["-n", "2"], ["-n=auto"], ["--benchmark-autosave"],
    ["--benchmark-save=base"], ["--benchmark-json", "out.json"], ["--benchmark-compare"],
    ["--benchmark-compare=0001"], ["--benchmark-compare", "0002"], ["--benchmark-compare-fail=min:5%"],
    ["--energy-compare-fail=2%"], ["--energy-compare-fail-inconclusive"], ["--energy-report", "rep"],
    ["--energy-summary=summary.md"], ["--energy-isolate"], ["--benchmark-storage=file://x"],
    ["--junitxml=j.xml"], ["--lf"], ["-rA"], ["--durations=5"],
]
#: what changes how a test runs: kept, in order
KEPT = [
    ["--energy-meter=counted"], ["-p", "no:randomly"], ["-p", "greenbench_plant"], ["-o", "xfail_strict=true"],
    ["--benchmark-disable-gc"], ["--benchmark-min-rounds=5"], ["--rootdir", "."], ["--import-mode=importlib"],
    ["-W", "error"], ["-s"], ["--tb=short"],
]


def test_selection_and_outputs_are_replaced_by_the_node_id(actions: dict[str, Any]) -> None:
    base = ["-p", "no:randomly", "--energy-meter=counted"]
    whole = ["bench", "--ignore=bench/test_enums.py", *base, "--benchmark-autosave", "-q"]
    subset = ["bench/test_attrs_nested.py", "-k", "tuple", *base, "--benchmark-compare=0001",
              "--energy-compare-fail=2%", "--energy-report", "rep", "-n", "2"]
    node = "bench/test_attrs_nested.py::test_x[a-b]"
    assert I.job_args(whole, actions, node) == I.job_args(subset, actions, node) == [*base, node]


def test_an_optional_value_is_taken_with_its_option(actions: dict[str, Any]) -> None:
    # argparse gives "0001" to --benchmark-compare (nargs="?"), and "bench" after a flag is a path
    assert I.job_args(["--benchmark-compare", "0001", "--benchmark-disable-gc", "bench"], actions, "t.py::a") == [
        "--benchmark-disable-gc", "t.py::a"]
    assert I.job_args(["--", "-odd-name.py"], actions, "t.py::a") == ["t.py::a"]


@given(st.lists(st.sampled_from(range(len(SELECTION))), max_size=8),
       st.lists(st.sampled_from(range(len(KEPT))), max_size=6), st.randoms(use_true_random=False))
def test_any_selection_gives_the_same_job(actions: dict[str, Any], drop: list[int], keep: list[int],
                                          rnd: Any) -> None:
    """Whatever selection and outputs are mixed in, in any order, the job keeps exactly the other options."""
    groups = [("drop", SELECTION[i]) for i in drop] + [("keep", KEPT[i]) for i in keep]
    rnd.shuffle(groups)
    args = [t for _, g in groups for t in g]
    kept = [t for kind, g in groups if kind == "keep" for t in g]
    assert I.job_args(args, actions, "t.py::test_a") == [*kept, "t.py::test_a"]


def test_unknown_options_are_kept(actions: dict[str, Any]) -> None:
    assert I.job_args(["--my-plugin-flag", "x.py"], actions, "t.py::a") == ["--my-plugin-flag", "t.py::a"]


@pytest.mark.parametrize("invoked, nodeid, target", [
    ("/repo", "bench/test_x.py::test_a[p-1]", "bench/test_x.py::test_a[p-1]"),
    ("/repo/bench", "bench/test_x.py::TestC::test_a", "test_x.py::TestC::test_a"),
    ("/repo/docs", "bench/test_x.py::test_a", "../bench/test_x.py::test_a"),
])
def test_the_job_finds_its_test_from_where_pytest_was_started(invoked: str, nodeid: str, target: str) -> None:
    config = types.SimpleNamespace(rootpath=Path("/repo"), invocation_params=types.SimpleNamespace(dir=Path(invoked)))
    assert I.job_target(types.SimpleNamespace(nodeid=nodeid, config=config)) == target


@pytest.mark.parametrize("opts, jobs", [({}, 1), ({"numprocesses": 0}, 1), ({"numprocesses": 3}, 3),
                                        ({"numprocesses": "auto"}, max(1, os.cpu_count() or 1)),
                                        ({"numprocesses": 2, "dist": "load", "tx": ["popen", "popen"]}, 2)])
def test_jobs_at_a_time_follow_n(opts: dict[str, Any], jobs: int) -> None:
    assert I.jobs_from_option(types.SimpleNamespace(**opts)) == jobs


@pytest.mark.parametrize("opts", [{"tx": ["2*popen"]}, {"dist": "loadfile", "numprocesses": 2}])
def test_xdist_distribution_is_refused_in_one_line(opts: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="--energy-isolate: runs its own jobs"):
        I.jobs_from_option(types.SimpleNamespace(**opts))


def test_job_environment_is_the_same_for_every_job(monkeypatch: pytest.MonkeyPatch) -> None:
    from greenbench.meters.counted.counts import DIR_ENV
    from greenbench.meters.counted.valgrind import PAD_BLOCK

    monkeypatch.setenv(I.CONTROLLER_ENV, "/tmp/greenbench-counted-abc123")
    cmd = ["valgrind", "python", "-m", "pytest", "t.py::a"]
    env = I.job_environment(os.environ, "/proc/self/fd/200", cmd)
    assert I.CONTROLLER_ENV not in env and env[I.JOB_ENV] == "1" and env[DIR_ENV] == "/proc/self/fd/200"
    size = sum(len(os.fsencode(a)) + 1 for a in cmd)
    size += sum(len(os.fsencode(k)) + len(os.fsencode(v)) + 2 for k, v in env.items())
    assert size % PAD_BLOCK == 0
    monkeypatch.setenv(I.CONTROLLER_ENV, "/tmp/another-folder-name-entirely")
    assert I.job_environment(os.environ, "/proc/self/fd/200", cmd) == env


def test_isolate_needs_the_counted_meter(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one="def test_a(benchmark):\n    benchmark(sum, [1, 2])\n")
    r = pytester.runpytest_subprocess("--energy-meter=model", "--energy-isolate", "-p", "no:randomly")
    assert r.ret == 4
    r.stderr.fnmatch_lines(["*--energy-isolate needs --energy-meter=counted (got --energy-meter=model)*"])
    assert "Traceback" not in r.stderr.str()


# -- end to end under Valgrind ----------------------------------------------------------------------------

needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None or not os.path.isfile(
    "/usr/include/valgrind/callgrind.h"), reason="needs valgrind and valgrind/callgrind.h")

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
def test_plain():
    assert loop(3) == 5
def test_b(benchmark):
    benchmark(loop, 5000)
"""
HEAVY = """
def test_heavy_first(benchmark):
    junk = [{str(i): [i] * 50} for i in range(20000)]  # a predecessor that leaves the heap in another state
    benchmark(lambda: sum(range(100)))
"""
BROKEN = """
import os
def test_fails(benchmark):
    benchmark(lambda: None)
    assert False, "the benchmark's own assertion"
def test_crashes(benchmark):
    benchmark(lambda: None)
    os._exit(3)
def test_plain_after():
    pass
"""


def counted(pytester: pytest.Pytester, *args: str, scale: float = 1.0) -> pytest.RunResult:
    pytester.makeini("[pytest]\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORK_SCALE", str(scale))
        mp.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[3]))  # this checkout's greenbench
        mp.setenv("GREENBENCH_COUNTED_NUMBA_WARMUP_SKIP", "1")
        return pytester.runpytest_subprocess("--energy-meter=counted", "--energy-isolate", "-p", "no:cacheprovider",
                                             "-p", "no:randomly", *args)


def instructions(path: Path) -> dict[str, int]:
    return {b["name"]: b["extra_info"]["energy"]["counts"]["instructions"]
            for b in json.loads(path.read_text())["benchmarks"]}


@pytest.mark.slow
@pytest.mark.serial
@needs_valgrind
def test_counts_do_not_depend_on_the_selection_or_the_outputs(pytester: pytest.Pytester) -> None:
    """test_b counted with the whole suite (a heavy test module collected and run before it, -n 2, autosave)
    and alone (its node id, a compare) is the same command in the same environment: the same counts."""
    pytester.makepyfile(test_tiny=TINY, test_0heavy=HEAVY)
    whole = counted(pytester, "-n", "2", "--benchmark-autosave", "--benchmark-json=whole.json")
    out = whole.stdout.str() + whole.stderr.str()
    assert whole.ret == 0, out
    assert "4 passed" in out and "cache found" not in out
    for line in ("*greenbench energy*", "*benchmark: 3 tests*"):
        whole.stdout.fnmatch_lines([line])
    saved = json.loads(next((pytester.path / ".benchmarks").rglob("*.json")).read_text())
    assert [b["name"] for b in saved["benchmarks"]] == ["test_heavy_first", "test_a", "test_b"]  # collection order
    alone = counted(pytester, "test_tiny.py::test_b", "--benchmark-compare", "--energy-compare-fail=1%",
                    "--benchmark-json=alone.json")
    assert alone.ret == 0, alone.stdout.str() + alone.stderr.str()
    assert "energy gate passed (min:1%): 1 benchmark(s) decided" in alone.stdout.str()
    w, a = instructions(pytester.path / "whole.json"), instructions(pytester.path / "alone.json")
    assert set(a) == {"test_b"}
    # the same to an instruction or two per call (3.2 M): measured 3,237,058 and 3,237,057 here
    assert abs(a["test_b"] / w["test_b"] - 1) <= 1e-5, (a, w)


@pytest.mark.slow
@pytest.mark.serial
@needs_valgrind
def test_isolated_gate_and_failures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_tiny=TINY)
    r = counted(pytester, "--benchmark-autosave")
    assert r.ret == 0, r.stdout.str() + r.stderr.str()
    r = counted(pytester, "--benchmark-compare", "--energy-compare-fail=10%", "-n", "2", scale=1.5)
    out = r.stdout.str()
    assert r.ret == 1, out
    assert "test_tiny.py::test_a: regression" in out and "test_tiny.py::test_b: regression" not in out
    pytester.makepyfile(test_broken=BROKEN)
    r = counted(pytester, "test_broken.py")
    assert r.ret == 1
    r.stdout.fnmatch_lines(["*the benchmark's own assertion*"])
    r.stdout.fnmatch_lines(["*counted process of test_broken.py::test_crashes exited 3 before reporting its result*"])
    r.stdout.fnmatch_lines(["*2 failed, 1 passed*"])

"""bench/bench_counted_realsuites.py (issue #20's done-when script): how it judges A/A pairs and plants.

Fabricated schema-2 entries only: nothing here runs a suite or depends on the host.
"""

from __future__ import annotations

from typing import Any

from bench import bench_counted_realsuites as script
from greenbench.gate import GateRule

RULE = GateRule.parse("10%")


def entry(name: str, stat: float, *, contended: int = 0) -> dict[str, Any]:
    rounds = [stat * (1 + 0.005 * i) for i in range(32)]
    block = {"schema_version": 2, "estimated": True, "source": "model", "rounds_j": rounds,
             "clean_j": {"min": stat, "q1": stat, "median": stat, "q3": stat, "mean": stat, "n": 32},
             "rounds_measured": 32 + contended, "contended_rounds": contended}
    return {"fullname": name, "name": name, "extra_info": {"energy": block}}


def runs_of(values: list[float]) -> list[dict[str, dict[str, Any]]]:
    return [{"t.py::test_a": entry("t.py::test_a", v), "t.py::test_b": entry("t.py::test_b", 1.0)} for v in values]


def test_a_time_based_meter_is_judged_against_three_baselines() -> None:
    # A/A runs 1.00 / 1.01 / 1.02 / 0.99 / 1.00: against the pair's baseline alone +15 % would need > +20 % (one
    # baseline: threshold + drift) and is "inconclusive"; against three it clears their band and is a regression
    runs = runs_of([1.0, 1.01, 1.02, 0.99, 1.0])
    names = ["t.py::test_a", "t.py::test_b"]
    cur = {"t.py::test_a": entry("t.py::test_a", 1.15), "t.py::test_b": entry("t.py::test_b", 1.0)}
    three = script.judge(runs, 0, cur, names=names, rule=RULE, baselines=3)
    one = script.judge(runs, 0, cur, names=names, rule=RULE, baselines=1)
    assert three["t.py::test_a"].verdict == "regression" and three["t.py::test_a"].baselines == 3
    assert one["t.py::test_a"].verdict == "inconclusive" and one["t.py::test_a"].baselines == 1
    assert three["t.py::test_b"].verdict == "ok"


def test_an_a_a_pair_never_uses_its_own_current_run_as_a_baseline() -> None:
    runs = runs_of([1.0, 1.3, 1.0, 1.0, 1.0])
    names = ["t.py::test_a", "t.py::test_b"]
    # run 1 judged against run 0: the older baselines are runs 2 and 3, never run 1 itself
    v = script.judge(runs, 0, runs[1], names=names, rule=RULE, baselines=3, skip=1)["t.py::test_a"]
    assert v.baselines == 3 and v.spread == 0.0
    assert v.verdict == "regression"  # +30 % against three identical runs: a real change for this fake


def test_isolated_is_the_counted_meter_with_its_own_processes() -> None:
    assert script.meter_args("isolated", 3) == ["--energy-meter=counted", "--energy-isolate", "-n", "3"]
    assert script.meter_args("model") == ["--energy-meter=model"]
    assert script.deterministic("isolated") and script.deterministic("counted") and not script.deterministic("model")

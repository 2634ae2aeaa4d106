"""The energy gate's statistics (greenbench.gate): exact cases and invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenbench.errors import ConfigError
from greenbench.gate import MIN_ROUNDS, GateRule, compare_entries, decide, meter_of


@pytest.mark.parametrize(
    ("expr", "field", "threshold"),
    [("10%", "min", 0.10), ("min:10%", "min", 0.10), ("median:5.5%", "median", 0.055), (" mean : 20 % ", "mean", 0.2)],
)
def test_rule_parses(expr: str, field: str, threshold: float) -> None:
    rule = GateRule.parse(expr)
    assert rule.field == field
    assert rule.threshold == pytest.approx(threshold)


@pytest.mark.parametrize("expr", ["10", "max:10%", "min:%", "-5%", "0%", "ten%", "min:10%:x"])
def test_rule_rejects_bad_expressions(expr: str) -> None:
    with pytest.raises(ConfigError, match="--energy-compare-fail"):
        GateRule.parse(expr)


def noisy(base: float, n: int, spread: float, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    # interference only adds work: a floor plus a positive, skewed tail
    return list(base * (1 + rng.exponential(spread, n)))


RULE = GateRule.parse("10%")


def test_identical_runs_are_ok() -> None:
    runs = noisy(1.0, 30, 0.05, 1)
    v = decide("b", runs, runs, RULE)
    assert v.verdict == "ok"
    assert v.change == 0
    assert not v.failed


def test_forty_percent_regression_fails_and_says_how_sure() -> None:
    v = decide("b", noisy(1.0, 30, 0.05, 1), noisy(1.4, 30, 0.05, 2), RULE)
    assert v.verdict == "regression"
    assert v.failed
    assert v.change == pytest.approx(0.4, abs=0.03)
    assert v.confidence >= 0.95
    assert "sure" in v.line(RULE) and "+4" in v.line(RULE)


def test_three_percent_change_at_ten_percent_gate_passes() -> None:
    v = decide("b", noisy(1.0, 30, 0.05, 1), noisy(1.03, 30, 0.05, 2), RULE)
    assert v.verdict == "ok"


def test_a_floor_resting_on_one_lucky_round_is_inconclusive() -> None:
    base = [1.0] + [1.5] * 9
    cur = [1.2] * 10
    v = decide("b", base, cur, RULE)
    # +20% on the minimum, but the baseline's floor is a single round: not sure enough
    assert v.change == pytest.approx(0.2)
    assert v.verdict == "inconclusive"
    assert 0 < v.confidence < 0.95


def test_improvement_is_reported() -> None:
    v = decide("b", noisy(1.0, 30, 0.02, 1), noisy(0.5, 30, 0.02, 2), RULE)
    assert v.verdict == "improved"


def test_too_few_rounds_cannot_fail() -> None:
    v = decide("b", [1.0] * (MIN_ROUNDS - 1), [2.0] * (MIN_ROUNDS - 1), RULE)
    assert v.verdict == "inconclusive"
    assert not v.failed
    assert "round" in v.reason


def test_contended_rounds_are_dropped() -> None:
    base = [1.0] * 10
    cur = [1.0] * 10 + [5.0] * 5
    contended = [False] * 10 + [True] * 5
    v = decide("b", base, cur, GateRule.parse("mean:10%"), current_contended=contended)
    assert v.verdict == "ok"
    assert "this run: 5 contended rounds dropped" in v.reason


def test_mostly_contended_runs_cannot_fail() -> None:
    base = [1.0] * 10
    cur = [2.0] * 10
    v = decide("b", base, cur, RULE, current_contended=[True] * 9 + [False])
    assert v.verdict == "inconclusive"
    assert not v.failed
    assert "busy" in v.reason and "9 of 10 rounds contended" in v.reason


def test_zero_baseline_is_skipped_not_divided() -> None:
    v = decide("b", [0.0] * 5, [1.0] * 5, RULE)
    assert v.verdict == "skipped"


def entry(rounds: list[float] | None) -> dict[str, object]:
    extra = {} if rounds is None else {"energy": {"rounds_j": rounds, "contended": [False] * len(rounds)}}
    return {"fullname": "t.py::test_x", "name": "test_x", "extra_info": extra}


def test_compare_entries_skips_missing_energy() -> None:
    assert compare_entries(entry(None), entry([1.0] * 5), RULE).verdict == "skipped"
    assert compare_entries(entry([1.0] * 5), entry(None), RULE).verdict == "skipped"
    assert compare_entries(None, entry([1.0] * 5), RULE).verdict == "skipped"
    assert compare_entries(entry([1.0] * 5), entry([1.0] * 5), RULE).verdict == "ok"


def test_meter_of_reads_machine_info() -> None:
    assert meter_of({"greenbench": {"meter": {"source": "rapl"}}}) == "rapl"
    assert meter_of({}) is None
    assert meter_of(None) is None


rounds_st = st.lists(st.floats(0.01, 100.0), min_size=MIN_ROUNDS, max_size=25)


@given(rounds_st, rounds_st, st.floats(1e-6, 1e6))
def test_verdict_does_not_depend_on_units(base: list[float], cur: list[float], scale: float) -> None:
    a = decide("b", base, cur, RULE)
    b = decide("b", [x * scale for x in base], [x * scale for x in cur], RULE)
    assert a.verdict == b.verdict
    assert math.isclose(a.change, b.change, rel_tol=1e-9, abs_tol=1e-12)


@given(rounds_st, st.floats(1.0, 3.0))
def test_more_expensive_never_looks_better(base: list[float], factor: float) -> None:
    v = decide("b", base, [x * factor for x in base], RULE)
    assert v.verdict != "improved"
    assert v.change >= -1e-12
    if factor > 1.1 + 1e-9:
        # a real increase beyond the threshold is flagged, as sure or as unsure as the rounds allow
        assert v.verdict in ("regression", "inconclusive")


def test_bad_probe_data_is_ignored() -> None:
    base = {"rounds_j": [1.0] * 10, "speed_probes_s": ["x"]}
    cur = {"rounds_j": [1.0] * 10, "speed_probes_s": [0.0]}
    v = compare_entries({"extra_info": {"energy": base}}, {"name": "x", "extra_info": {"energy": cur}}, RULE)
    assert v.verdict == "ok" and "host" not in v.reason


def test_an_unsure_probe_floor_lowers_confidence() -> None:
    base = {"rounds_j": [1.0] * 20, "speed_probes_s": [1e-4] * 20}
    # the current run's speed index (25th percentile of its probes) rests on 6 fast probes of 20:
    # resamples with fewer of them say the host was 25% slower, so the +30% is not sure
    cur = {"rounds_j": [1.3] * 20, "speed_probes_s": [1e-4] * 6 + [1.25e-4] * 14}
    v = compare_entries({"extra_info": {"energy": base}}, {"name": "x", "extra_info": {"energy": cur}}, RULE)
    assert v.change == pytest.approx(0.3)
    assert v.verdict == "inconclusive"
    assert 0.5 < v.confidence < 0.95


def test_a_slower_host_is_not_a_regression() -> None:
    # the same code on a host running 40% slower: energy +40%, probe +40%
    base = {"rounds_j": [1.0] * 10, "speed_probes_s": [1e-4] * 10}
    cur = {"rounds_j": [1.4] * 10, "speed_probes_s": [1.4e-4] * 10}
    v = compare_entries({"extra_info": {"energy": base}}, {"name": "x", "extra_info": {"energy": cur}}, RULE)
    assert v.verdict == "ok"
    assert v.change == pytest.approx(0.0)
    assert "host 40% slower" in v.reason


def test_a_regression_on_a_faster_host_is_still_caught() -> None:
    base = {"rounds_j": [1.0] * 10, "speed_probe_s": 1e-4}  # an older file: only the fastest probe
    cur = {"rounds_j": [1.2] * 10, "speed_probes_s": [0.8e-4] * 10}  # +50% work, host 20% faster
    v = compare_entries({"extra_info": {"energy": base}}, {"name": "x", "extra_info": {"energy": cur}}, RULE)
    assert v.verdict == "regression"
    assert v.change == pytest.approx(0.5)

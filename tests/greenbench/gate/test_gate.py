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


def test_bad_probe_data_is_ignored_with_a_reason() -> None:
    base = {"rounds_j": [1.0] * 10, "speed_probes_s": ["x"]}
    cur = {"rounds_j": [1.0] * 10, "speed_probes_s": [0.0]}
    v = compare_entries({"extra_info": {"energy": base}}, {"name": "x", "extra_info": {"energy": cur}}, RULE)
    assert v.verdict == "ok" and not v.normalised
    assert "host-speed probes unusable" in v.reason and "normalised" not in v.reason


def test_noisy_probes_do_not_normalise() -> None:
    # issue #13: the normalisation must not apply when its own probes are noisier than the effect.  The
    # current run's speed index rests on 6 fast probes of 20: resamples say anything from 0% to 25% slower
    base = {"rounds_j": [1.0] * 20, "speed_probes_s": [1e-4] * 10 + [1.3e-4] * 10}
    cur = {"rounds_j": [1.0] * 20, "speed_probes_s": [0.95e-4] * 5 + [1.3e-4] * 15}
    v = compare_entries({"extra_info": {"energy": base}}, {"name": "x", "extra_info": {"energy": cur}}, RULE)
    assert v.verdict == "ok" and not v.normalised and v.change == 0
    assert "too noisy to correct" in v.reason


def test_a_slower_host_is_not_a_regression_nor_a_pass() -> None:
    # the same code on a host running 40% slower: energy +40%, probe +40%.  Issue #20: a host slowdown can move a
    # benchmark more (or less) than the probe, so this cannot be told from a regression: inconclusive, says so
    base = {"rounds_j": [1.0] * 10, "speed_probes_s": [1e-4] * 10}
    cur = {"rounds_j": [1.4] * 10, "speed_probes_s": [1.4e-4] * 10}
    v = compare_entries({"extra_info": {"energy": base}}, {"name": "x", "extra_info": {"energy": cur}}, RULE)
    assert v.verdict == "inconclusive" and v.cause == "host slowdown or regression" and not v.failed
    assert v.change == pytest.approx(0.0) and v.raw_change == pytest.approx(0.4)
    assert "host 40% slower" in v.reason and "counted meter" in v.reason
    # a planted regression far beyond what the slowdown can explain (HOST_SENSITIVITY x its log) still fails
    cur = {"rounds_j": [1.4 * 4] * 10, "speed_probes_s": [1.4e-4] * 10}
    v = compare_entries({"extra_info": {"energy": base}}, {"name": "x", "extra_info": {"energy": cur}}, RULE)
    assert v.verdict == "regression"


def test_a_regression_on_a_faster_host_is_still_caught() -> None:
    base = {"rounds_j": [1.0] * 10, "speed_probes_s": [1e-4] * 10}
    cur = {"rounds_j": [1.3] * 10, "speed_probes_s": [0.8e-4] * 10}  # +62% work, host 20% faster
    v = compare_entries({"extra_info": {"energy": base}}, {"name": "x", "extra_info": {"energy": cur}}, RULE)
    assert v.verdict == "regression"
    assert v.raw_change == pytest.approx(0.3) and v.change == pytest.approx(0.625)
    assert "+30.0% raw, +62.5% host-speed normalised" in v.line(RULE)
    # an older file carrying only its fastest probe: the probe's noise is unknown, so no normalisation
    old = {"rounds_j": [1.0] * 10, "speed_probe_s": 1e-4}
    v = compare_entries({"extra_info": {"energy": old}}, {"name": "x", "extra_info": {"energy": cur}}, RULE)
    assert v.verdict == "regression" and not v.normalised and v.change == pytest.approx(0.3)


# -- issue #17: run-to-run spread, host speed that may excuse but never accuse, ids, bounded records --------

from greenbench import gate as G  # noqa: E402
from greenbench.gate import MIN_BASELINES, SINGLE_RUN_DRIFT, summary  # noqa: E402


def e2(stat: float, *, n: int = 50, contended: int = 0, probes: list[float] | None = None,
       iterations: int | None = None, share: float = 0.0, name: str = "t.py::test_x[1]") -> dict[str, object]:
    """A schema-2 entry: exact clean statistics plus a bounded sketch."""
    block: dict[str, object] = {
        "schema_version": 2, "estimated": True, "rounds_j": [stat * (1 + 0.01 * i) for i in range(min(n, 64))],
        "clean_j": {"min": stat, "q1": stat * 1.1, "median": stat * 1.2, "q3": stat * 1.3, "mean": stat * 1.2, "n": n},
        "rounds_measured": n + contended, "contended_rounds": contended, "harness_share": share,
    }
    if probes is not None:
        block["speed_probes_s"] = probes
    if iterations is not None:
        block["iterations"] = iterations
    return {"fullname": name, "name": name.rsplit("::", maxsplit=1)[-1], "extra_info": {"energy": block}}


def test_single_baseline_between_threshold_and_drift_is_inconclusive_with_what_would_decide() -> None:
    v = compare_entries(e2(1.0), e2(1.15), RULE)
    assert v.verdict == "inconclusive" and not v.failed
    assert v.cause == f"needs {MIN_BASELINES} baseline runs"
    assert "needs 3 stored baseline runs (has 1)" in v.reason and "counted meter" in v.reason
    assert compare_entries(e2(1.0), e2(1.0 + RULE.threshold + SINGLE_RUN_DRIFT + 0.05), RULE).verdict == "regression"


def test_three_baseline_runs_set_the_bar_at_their_spread() -> None:
    history = [e2(0.95), e2(1.05)]  # run-to-run spread 10% around a median of 1.0
    ok = compare_entries(e2(1.0), e2(1.15), RULE, history)
    # +15% > 10% threshold, but within max + range = 1.05 + 0.10 = +15%: not beyond the observed spread
    assert ok.verdict == "inconclusive" and ok.cause == "within run-to-run spread" and ok.baselines == 3
    assert "median of 3 baseline runs (run-to-run spread 10.0%)" in ok.line(RULE)
    bad = compare_entries(e2(1.0), e2(1.3), RULE, history)
    assert bad.verdict == "regression" and bad.change == pytest.approx(0.3)
    # a quiet benchmark: three identical runs, so the threshold alone is the bar, without the single-run drift
    assert compare_entries(e2(1.0), e2(1.15), RULE, [e2(1.0), e2(1.0)]).verdict == "regression"


def test_busy_or_corrupt_older_runs_only_narrow_the_history() -> None:
    history = [e2(0.5, n=2, contended=40), {"extra_info": {"energy": {"rounds_j": ["x"]}}}, None]
    v = compare_entries(e2(1.0), e2(1.15), RULE, history, history_names=["0003_a", "0002_b", "0001_c"])
    assert v.baselines == 1 and v.cause == "needs 3 baseline runs"
    # issue #20: the runs left out are named, with why
    assert "0003_a (only 2 round(s))" in v.reason and "0002_b (corrupt" in v.reason
    assert "0001_c (benchmark not in that run)" in v.reason


def test_normalisation_never_hides_a_raw_drop_behind_a_big_increase() -> None:
    # issue #13: raw -9%, but the host ran 34% faster: normalised +38.5%.  Both are printed; not a regression
    base = e2(1.0, probes=[1e-4] * 30)
    cur = e2(0.91, probes=[0.657e-4] * 30)
    v = compare_entries(base, cur, RULE)
    assert v.normalised and v.raw_change == pytest.approx(-0.09) and v.change == pytest.approx(0.385, abs=0.01)
    assert v.verdict == "inconclusive" and v.cause == "host speed unclear" and not v.failed
    assert "-9.0% raw, +38.5% host-speed normalised" in v.line(RULE)


def test_identical_energy_is_never_a_regression_whatever_the_probes_say() -> None:
    # issue #17: '+49.6% (4.962e-06 J -> 4.962e-06 J per call), 100% sure' came from the host-speed correction
    v = compare_entries(e2(4.962e-6, probes=[1.5e-4] * 30), e2(4.962e-6, probes=[1e-4] * 30), RULE)
    assert v.raw_change == 0 and v.verdict == "inconclusive" and not v.failed


def test_changed_iterations_are_noted_and_cannot_fail_when_the_harness_is_large() -> None:
    v = compare_entries(e2(1.0, iterations=10, share=0.1), e2(1.0, iterations=2, share=0.3), RULE)
    assert v.verdict == "ok" and "iterations per round 10 -> 2" in v.reason
    v = compare_entries(e2(1.0, iterations=200, share=0.3), e2(1.5, iterations=1, share=0.45), RULE)
    assert v.verdict == "inconclusive" and v.cause == "iterations per round changed"
    assert "chose 200 then 1 iterations" in v.reason
    # a small harness share keeps a changed iteration count decidable
    assert compare_entries(e2(1.0, iterations=100, share=0.09), e2(1.5, iterations=48), RULE).verdict == "regression"


def test_verdicts_carry_the_full_test_id_literally() -> None:
    name = "bench/test_io.py::test_loads[/tmp]"
    v = compare_entries(e2(1.0, name=name), e2(1.5, name=name), RULE)
    assert v.name == name and v.line(RULE).startswith(f"{name}: regression")


def test_schema_1_baseline_compares_with_a_schema_2_run() -> None:
    old = {"extra_info": {"energy": {"schema_version": 1, "rounds_j": [1.0] * 20, "contended": [False] * 20}}}
    assert compare_entries(old, e2(1.0), RULE).verdict == "ok"
    assert compare_entries(old, e2(1.5), RULE).verdict == "regression"


CORRUPT = [float("nan"), float("inf"), -1.0, "1.0", [1.0], None, True, {"a": 1}, 1e300]


@pytest.mark.parametrize("bad", CORRUPT, ids=repr)
@pytest.mark.parametrize("where", ["rounds_j", "clean_j.min", "clean_j.median", "clean_j.n", "speed_probes_s",
                                   "estimated", "iterations", "contended_rounds"])
@pytest.mark.parametrize("side", ["baseline", "current"])
def test_corrupt_numbers_give_a_reason_never_a_bogus_change(bad: object, where: str, side: str) -> None:
    base, cur = e2(1.0, probes=[1e-4] * 10), e2(1.0, probes=[1e-4] * 10)
    block = (base if side == "baseline" else cur)["extra_info"]["energy"]  # type: ignore[index]
    key, _, sub = where.partition(".")
    if sub:
        block[key][sub] = bad
    elif key in ("rounds_j", "speed_probes_s"):
        block[key] = [1.0, bad, 1.0] if key == "rounds_j" else [1e-4, bad, 1e-4]
    else:
        block[key] = bad
    v = compare_entries(base, cur, RULE)
    assert v.verdict in ("skipped", "ok", "inconclusive")
    if v.verdict == "skipped":
        assert "corrupt" in v.reason or "zero" in v.reason
    else:
        assert math.isfinite(v.change) and abs(v.change) < 1.0
        if key == "speed_probes_s":
            assert not v.normalised and "probes unusable" in v.reason


@pytest.mark.parametrize("block", [[1.0, 2.0], "x", 3.0, True])
def test_an_energy_block_that_is_not_a_mapping_is_named(block: object) -> None:
    v = compare_entries({"extra_info": {"energy": block}}, e2(1.0), RULE)
    assert v.verdict == "skipped" and "corrupt" in v.reason


def test_an_inf_baseline_is_not_an_improvement() -> None:
    base = {"extra_info": {"energy": {"rounds_j": [float("inf")] * 5}}}
    v = compare_entries(base, e2(1.0), RULE)
    assert v.verdict == "skipped" and "rounds_j[0] is inf" in v.reason


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.text(max_size=4),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12)
block_keys = st.sampled_from(["rounds_j", "clean_j", "contended", "contended_rounds", "rounds_measured",
                              "speed_probes_s", "speed_probe_s", "estimated", "iterations", "harness_share"])


@given(st.dictionaries(block_keys, json_values, max_size=6), st.dictionaries(block_keys, json_values, max_size=6),
       st.booleans())
def test_random_corrupt_entries_give_a_verdict_or_a_reason_never_a_traceback(
        base_patch: dict[str, object], cur_patch: dict[str, object], multi: bool) -> None:
    base, cur = e2(1.0, probes=[1e-4] * 10), e2(1.2, probes=[1e-4] * 10)
    base["extra_info"]["energy"].update(base_patch)  # type: ignore[index]
    cur["extra_info"]["energy"].update(cur_patch)  # type: ignore[index]
    history = [e2(1.0), dict(base)] if multi else []
    v = compare_entries(base, cur, RULE, history)
    if v.verdict == "skipped":
        assert v.reason
    else:
        assert math.isfinite(v.change) and math.isfinite(v.raw_change)
        assert abs(v.change) < 1e6
        assert v.verdict != "improved" or math.isfinite(v.baseline_j)
    v.line(RULE)  # formats, whatever the data


def V(verdict: str, cause: str = "") -> G.Verdict:
    return G.Verdict("t.py::test_x[a]", verdict, 0.0, 0.0, 1.0, 1.0, (5, 5), "", cause=cause)


def test_the_gate_passes_only_when_every_benchmark_was_decided() -> None:
    text, failed = summary([V("ok")] * 5, RULE)
    assert text == "energy gate passed (min:10%): 5 benchmark(s) decided" and not failed
    mixed = [V("ok"), V("ok"), V("inconclusive", "machine busy"), V("inconclusive", "machine busy"),
             V("skipped", "corrupt data")]
    text, failed = summary(mixed, RULE)
    assert "passed" not in text and not failed
    assert "3 of 5 not decided: machine busy (2), corrupt data (1)" in text
    text, failed = summary(mixed, RULE, fail_inconclusive=True)
    assert failed and "--energy-compare-fail-inconclusive" in text
    text, failed = summary([V("ok"), V("inconclusive", "machine busy")], RULE)
    assert "1 of 2 not decided: machine busy" in text
    # a benchmark new since the baseline is said, but it is not an undecided one
    text, failed = summary([V("ok"), V("skipped", "new benchmark")], RULE, fail_inconclusive=True)
    assert "passed" in text and "1 new since the baseline" in text and not failed
    text, failed = summary([V("regression"), V("ok")], RULE)
    assert failed and "FAILED" in text


def test_older_runs_come_from_storage_before_the_compared_file(tmp_path: object) -> None:
    from pathlib import Path

    class Storage:
        def __init__(self) -> None:
            self.files = [Path(f"m/{i:04d}_run.json") for i in range(1, 8)]

        def query(self) -> list[Path]:
            return self.files

        def load(self, *files: str) -> list[tuple[str, dict[str, object]]]:
            return [(f, {"benchmarks": [{"fullname": "a", "n": f}]}) for f in files]

    runs = G.older_runs(Storage(), ["m/0005_run.json"])
    assert [r["benchmarks"][0]["n"] for r in runs] == ["m/0004_run.json", "m/0003_run.json", "m/0002_run.json",
                                                       "m/0001_run.json"]
    assert G.history_for(runs, "a")[0] == {"fullname": "a", "n": "m/0004_run.json"}
    assert G.history_for(runs, "b") == [None] * 4
    assert G.older_runs(None, ["x"]) == [] and G.older_runs(Storage(), []) == []


def test_verdict_lines_with_markup_like_ids_print_literally() -> None:
    # issue #17: a param id like `[/tmp]` crashed the run after the tests passed (rich.errors.MarkupError)
    import io
    from types import SimpleNamespace

    from fakes import make_entry

    from greenbench.outputs.terminal import summary as print_summary
    from greenbench.plugin.session import EnergySession

    name = "bench/test_io.py::test_loads[/tmp]"
    entry = make_entry("test_loads[/tmp]", [1.0] * 5, fullname=name)
    es = EnergySession(meter_factory=lambda: None, intensity=None, rule=RULE)  # type: ignore[arg-type]
    es.output = {"benchmarks": [entry]}
    es.verdicts = [compare_entries(make_entry("test_loads[/tmp]", [1.0] * 5, fullname=name), entry, RULE),
                   G.Verdict(name, "inconclusive", 0.2, 0.5, 1.0, 1.2, (5, 5), "x [bold]y[/bold]",
                             cause="needs 3 baseline runs")]
    out = io.StringIO()
    tr = SimpleNamespace(_tw=SimpleNamespace(fullwidth=200), hasmarkup=False,
                         write_sep=lambda *a, **k: None, write=out.write)
    print_summary(es, None, tr)
    text = out.getvalue()
    assert f"{name}: inconclusive" in text and "x [bold]y[/bold]" in text
    assert "1 of 2 not decided: needs 3 baseline runs" in text


@given(json_values, json_values)
def test_random_whole_blocks_and_entries_never_raise(base_block: object, cur_entry: object) -> None:
    v = compare_entries({"extra_info": {"energy": base_block}}, {"fullname": "t::x", "extra_info": cur_entry}, RULE)
    assert v.verdict == "skipped" or math.isfinite(v.change)
    v.line(RULE)


def with_time(entry: dict[str, object], t: float, source: str = "model") -> dict[str, object]:
    entry["stats"] = {"min": t, "median": t * 1.1, "mean": t * 1.2}
    entry["extra_info"]["energy"]["source"] = source  # type: ignore[index]
    return entry


def test_model_energy_rising_without_the_time_is_not_a_regression() -> None:
    # issue #17: energy per call moved with pytest-benchmark's iteration choice while its time min did not
    v = compare_entries(with_time(e2(1.0), 1e-7), with_time(e2(1.5), 1.02e-7), RULE)
    assert v.verdict == "inconclusive" and v.cause == "energy and time disagree"
    assert "pytest-benchmark's time min +2.0%" in v.reason
    assert compare_entries(with_time(e2(1.0), 1e-7), with_time(e2(1.5), 1.45e-7), RULE).verdict == "regression"
    # a hardware meter's energy may rise without the time: no such check
    hw = compare_entries(with_time(e2(1.0), 1e-7, "rapl"), with_time(e2(1.5), 1e-7, "rapl"), RULE)
    assert hw.verdict == "regression"
    # corrupt times only switch the check off
    bad = with_time(e2(1.5), 1e-7)
    bad["stats"] = {"min": "x"}
    assert compare_entries(with_time(e2(1.0), 1e-7), bad, RULE).verdict == "regression"


def test_improvements_face_the_same_doubts_as_regressions() -> None:
    # an unchanged benchmark whose baseline was calibrated to few iterations looked -35% "improved" (#17)
    v = compare_entries(e2(1.0, iterations=2, share=0.32), e2(0.6, iterations=20, share=0.1), RULE)
    assert v.verdict == "inconclusive" and v.cause == "iterations per round changed"
    v = compare_entries(with_time(e2(1.0), 1e-7), with_time(e2(0.6), 0.99e-7), RULE)
    assert v.verdict == "inconclusive" and v.cause == "energy and time disagree"
    assert compare_entries(with_time(e2(1.0), 1e-7), with_time(e2(0.6), 0.6e-7), RULE).verdict == "improved"

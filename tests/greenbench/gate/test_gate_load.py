"""The gate under load and on inputs that compare nothing (issues #20 and #21).

Every figure here is fabricated (schema-2 entries, fixed probes) or counted by a deterministic meter
(tests/fakes.py: OpcodeMeter), so no verdict depends on how busy the machine running the tests is.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from greenbench import gate as G
from greenbench.gate import MIN_BASELINES, GateRule, compare_entries, compare_run, summary

RULE = GateRule.parse("10%")


def e2(stat: float, *, n: int = 40, contended: int = 0, probes: list[float] | None = None, time_s: float | None = None,
       name: str = "t.py::test_x", source: str = "model") -> dict[str, Any]:
    """A schema-2 entry; ``contended`` rounds of ``n + contended`` (all contended: ``n=0``-like runs use all)."""
    rounds = [stat * (1 + 0.005 * i) for i in range(32)]
    block: dict[str, Any] = {
        "schema_version": 2, "estimated": True, "source": source, "rounds_j": rounds,
        "clean_j": {"min": stat, "q1": stat * 1.04, "median": stat * 1.08, "q3": stat * 1.12, "mean": stat * 1.08,
                    "n": n + contended if contended >= n else n},
        "rounds_measured": n + contended, "contended_rounds": contended,
    }
    if probes is not None:
        block["speed_probes_s"] = probes
    entry: dict[str, Any] = {"fullname": name, "name": name.rsplit("::", 1)[-1], "extra_info": {"energy": block}}
    if time_s is not None:
        entry["stats"] = {"min": time_s, "median": time_s * 1.05, "mean": time_s * 1.1}
    return entry


def busy(stat: float, **kw: Any) -> dict[str, Any]:
    """Every round contended (two busy loops on two cores): the statistics cover all rounds."""
    return e2(stat, n=2, contended=38, **kw)


# -- contended rounds decide when the noise is measured ---------------------------------------------------------

def test_all_contended_runs_decide_against_three_baselines_saved_under_the_same_load() -> None:
    history = [busy(0.96), busy(1.05)]
    ok = compare_entries(busy(1.0), busy(1.03), RULE, history)
    assert ok.verdict == "ok" and ok.decided and ok.baselines == MIN_BASELINES
    planted = compare_entries(busy(1.0), busy(1.7), RULE, history)
    assert planted.verdict == "regression" and planted.failed
    # within the band the three busy runs measured: undecided, and it says why
    near = compare_entries(busy(1.0), busy(1.13), RULE, history)  # bar: 1.05 + (1.05 - 0.96) = +14%
    assert near.verdict == "inconclusive" and near.cause == "within run-to-run spread"


def test_contended_rounds_without_measured_noise_decide_nothing() -> None:
    # issue #20: "ok" on fully contended rounds against one baseline was counted as decided
    ok = compare_entries(busy(1.0), busy(1.02), RULE)
    assert ok.verdict == "ok" and ok.cause == "machine busy" and not ok.decided
    assert "ok, not decided (machine busy)" in ok.line(RULE) and "counted meter" in ok.reason
    big = compare_entries(busy(1.0), busy(2.0), RULE)
    assert big.verdict == "inconclusive" and big.cause == "machine busy" and not big.failed
    text, failed = summary([ok, big], RULE)
    assert "passed" not in text and "2 of 2 not decided" in text and not failed


def test_a_contended_run_against_quiet_baselines_can_pass_but_not_fail() -> None:
    history = [e2(0.98), e2(1.02)]
    # contention only adds work: a small change on a busy run is still no regression
    assert compare_entries(e2(1.0), busy(1.01), RULE, history).decided
    v = compare_entries(e2(1.0), busy(1.8), RULE, history)
    assert v.verdict == "inconclusive" and v.cause == "machine busy" and "were not" in v.reason


def test_three_stored_baselines_are_never_silently_one() -> None:
    # issue #20: the busy older runs were dropped without a word; now they count, and what is left out is named
    v = compare_entries(busy(1.0), busy(1.03), RULE, [busy(1.0), busy(1.01)], history_names=["0002_b", "0001_a"])
    assert v.baselines == 3
    v = compare_entries(e2(1.0), e2(1.03), RULE, [None, {"extra_info": {}}], history_names=["0002_b", "0001_a"])
    assert v.baselines == 1
    assert "0002_b (benchmark not in that run)" in v.reason and "0001_a (no energy data)" in v.reason


# -- host speed and the energy-vs-time rule never cancel or invent more than they measured ----------------------

def test_a_host_slowdown_is_neither_a_regression_nor_a_pass() -> None:
    base = e2(1.0, probes=[1e-4] * 16)
    slow = e2(1.5, probes=[1.3e-4] * 16)  # host 30% slower, energy +50%: the gate cannot tell which
    v = compare_entries(base, slow, RULE)
    assert v.verdict == "inconclusive" and v.cause == "host slowdown or regression"
    assert "counted meter" in v.reason and "30% slower" in v.reason
    planted = compare_entries(base, e2(1.3 * 3.0, probes=[1.3e-4] * 16), RULE)  # +200% of work on top
    assert planted.verdict == "regression"


def test_a_faster_host_never_hides_a_regression_behind_an_ok() -> None:
    v = compare_entries(e2(1.0, probes=[1e-4] * 16), e2(1.0, probes=[0.7e-4] * 16), RULE)
    assert v.verdict == "inconclusive" and v.cause == "host speed unclear" and not v.decided


def test_noisy_probes_excuse_by_their_size_but_never_accuse() -> None:
    # probes too noisy to correct by still say "10 % slower": that size (x HOST_SENSITIVITY, without the noise) may
    # excuse an increase, as a significant probe's would; the change shown stays the raw one
    rng = [1e-4 * (1 + 0.5 * ((i * 7) % 16) / 16) for i in range(16)]
    v = compare_entries(e2(1.0, probes=rng), e2(1.5, probes=[p * 1.1 for p in rng[::-1]]), RULE)
    assert v.verdict == "inconclusive" and v.cause == "host slowdown or regression" and not v.normalised
    assert v.change == pytest.approx(0.5)
    v = compare_entries(e2(1.0, probes=rng), e2(2.5, probes=[p * 1.1 for p in rng[::-1]]), RULE)
    assert v.verdict == "regression" and not v.normalised
    # no change beyond the threshold: the probes accuse nothing
    assert compare_entries(e2(1.0, probes=rng), e2(1.05, probes=[p * 1.1 for p in rng[::-1]]), RULE).verdict == "ok"


def test_the_run_wide_shift_excuses_a_shared_move_but_not_a_planted_one() -> None:
    names = [f"t.py::test_{i}" for i in range(8)]
    baseline = {n: e2(1.0, name=n) for n in names}
    current = [e2(1.45, name=n) for n in names[:-1]] + [e2(1.45 * 2.0, name=names[-1])]
    verdicts = compare_run(baseline, current, RULE)
    assert {v.cause for v in verdicts[:-1]} == {"host slowdown or regression"}
    assert all("whole run moved +45%" in v.reason for v in verdicts[:-1])
    assert verdicts[-1].verdict == "regression" and verdicts[-1].name == names[-1]
    text, failed = summary(verdicts, RULE)
    assert failed and "1 benchmark(s) regressed" in text
    # fewer benchmarks than MIN_RUNWIDE: no run-wide excuse
    few = compare_run({n: baseline[n] for n in names[:2]}, current[:2], RULE)
    assert [v.verdict for v in few] == ["regression", "regression"]


def test_energy_and_time_disagree_only_beyond_their_measured_uncertainty() -> None:
    # issue #20: the rule cancelled real +34%/+61% changes when the load differed between runs
    real = compare_entries(e2(1.0, time_s=1e-6), e2(1.61, time_s=1.34e-6), RULE)
    assert real.verdict == "regression"
    artefact = compare_entries(e2(1.0, time_s=1e-6), e2(1.5, time_s=1.01e-6), RULE)
    assert artefact.verdict == "inconclusive" and artefact.cause == "energy and time disagree"
    # with three baselines the uncertainty is their measured band: tight times make +25% vs +1% a disagreement
    history = [e2(1.0, time_s=1e-6), e2(1.01, time_s=1.01e-6)]
    v = compare_entries(e2(1.0, time_s=1e-6), e2(1.25, time_s=1.01e-6), RULE, history)
    assert v.cause == "energy and time disagree"


# -- corrupt-looking but honest figures, implausible ones --------------------------------------------------------

def test_rounds_reading_zero_after_the_harness_subtraction_are_not_corrupt() -> None:
    # issue #20: a fresh run produced "corrupt data: statistics out of order (min 0 J)"
    schema1 = {"extra_info": {"energy": {"rounds_j": [0.0, 1.0, 1.01, 1.02, 1.0, 1.03]}}}
    v = compare_entries(schema1, {"fullname": "x", "extra_info": {"energy": {"rounds_j": [1.0] * 6}}}, RULE)
    assert v.verdict == "ok" and "reading 0 J left out" in v.reason
    cur = e2(1.0)
    cur["extra_info"]["energy"]["clean_j"]["min"] = 0.0
    cur["extra_info"]["energy"]["rounds_j"][0] = 0.0
    v = compare_entries(e2(1.0), cur, RULE)
    assert v.verdict == "ok" and v.current_j == pytest.approx(1.005) and "0 J" in v.reason


@pytest.mark.parametrize(("base", "cur"), [(1e-300, 1e-6), (1e-6, 1e-300), (1e-9, 1e3)])
def test_implausible_figures_are_skipped_with_a_reason(base: float, cur: float) -> None:
    v = compare_entries(e2(base), e2(cur), RULE)
    assert v.verdict == "skipped" and v.cause == "implausible figure"
    assert "no measurement" in v.reason or "not a measurement" in v.reason
    assert len(v.line(RULE)) < 400  # never a 300-digit percentage


# -- nothing compared is never a pass (issue #21) ------------------------------------------------------------------

def test_a_baseline_of_renamed_benchmarks_fails_the_gate() -> None:
    current = [e2(1.0, name=f"t.py::test_new[{i}]") for i in range(3)]
    verdicts = compare_run({"t.py::test_old[0]": e2(1.0, name="t.py::test_old[0]")}, current, RULE)
    text, failed = summary(verdicts, RULE, baseline_size=1)
    assert failed and "nothing could be compared" in text and "none of this run's 3 benchmark(s)" in text
    text, failed = summary(verdicts, None, baseline_size=1)
    assert not failed and "nothing could be compared" in text
    text, failed = summary([], RULE, baseline_size=0)
    assert failed and "the baseline holds no benchmarks" in text
    # every benchmark without energy data in the baseline: nothing compared either
    skipped = compare_entries({"fullname": "x", "extra_info": {}}, e2(1.0), RULE)
    assert summary([skipped], RULE)[1]


def test_another_machine_is_named() -> None:
    a = {"node": "ci-1", "cpu": {"brand_raw": "AMD EPYC 7763"}}
    assert G.other_machine(a, {"node": "ci-2", "cpu": {"brand_raw": "AMD EPYC 7763"}}) == "node 'ci-1' vs 'ci-2' here"
    assert "cpu 'AMD EPYC 7763' vs 'Intel" in str(G.other_machine(a, {"node": "ci-1", "cpu": {"brand_raw": "Intel"}}))
    assert G.other_machine(a, a) is None and G.other_machine(None, a) is None
    assert G.other_machine({"node": 3}, a) is None


class _Meter:
    def __init__(self, deterministic: bool) -> None:
        self.deterministic = deterministic

    def describe(self) -> dict[str, Any]:
        return {"source": "opcodes"}


@pytest.mark.parametrize(("deterministic", "any_machine", "refused"),
                         [(False, False, True), (False, True, False), (True, False, False)])
def test_the_session_refuses_another_machine_unless_counts_or_asked(deterministic: bool, any_machine: bool,
                                                                    refused: bool) -> None:
    from greenbench.plugin.session import EnergySession

    es = EnergySession(meter_factory=lambda: _Meter(deterministic), intensity=None,  # type: ignore[arg-type]
                       rule=RULE, any_machine=any_machine)
    es.baseline_machine_info = {"node": "laptop", "greenbench": {"meter": {"source": "opcodes"}}}
    es.output = {"machine_info": {"node": "ci-runner"}}
    es.run_gate([e2(1.0)], {"t.py::test_x": e2(1.0)})
    if refused:
        assert es.refusal and "another machine" in es.refusal and "--energy-compare-any-machine" in es.refusal
        assert es.failed
    else:
        assert es.refusal is None and es.verdicts
        assert any("another machine" in n for n in es.gate_notes)


# -- wording (issue #20, cosmetic) ---------------------------------------------------------------------------------

def test_thresholds_print_as_written() -> None:
    assert str(GateRule.parse("0.5%")) == "min:0.5%"
    assert str(GateRule.parse("median:12.5%")) == "median:12.5%"
    assert str(GateRule.parse("10%")) == "min:10%"


def test_certainty_is_printed_only_where_it_supports_the_verdict() -> None:
    rule = GateRule.parse("1%")
    improved = G.Verdict("t::x", "improved", -0.3, 0.0, 1.0, 0.7, (5, 5), "")
    assert "sure" not in improved.line(rule)
    sure = G.Verdict("t::x", "improved", -0.3, 0.99, 1.0, 0.7, (5, 5), "")
    assert "99% sure it is below -1%" in sure.line(rule)
    inc = G.Verdict("t::x", "inconclusive", 0.02, 0.0, 1.0, 1.02, (5, 5), "", cause="rounds too spread")
    assert "sure" not in inc.line(rule) and "inconclusive (rounds too spread)" in inc.line(rule)
    reg = G.Verdict("t::x", "regression", 0.3, 0.97, 1.0, 1.3, (5, 5), "")
    assert "97% sure it exceeds +1%" in reg.line(GateRule.parse("1%"))
    assert "0% sure it exceeds 0%" not in reg.line(GateRule.parse("0.5%"))


def test_the_markdown_summary_never_says_never_fail_when_undecided_ones_fail() -> None:
    from greenbench.outputs.summary import decision_line

    undecided = [G.Verdict("t::x", "inconclusive", 0.2, 0.5, 1.0, 1.2, (5, 5), "", cause="machine busy")]
    text = decision_line(undecided, RULE, None, fail_inconclusive=True)
    assert "never fail" not in text and "FAILED" in text and "--energy-compare-fail-inconclusive" in text
    assert "never fail the gate" in decision_line(undecided, RULE, None)


# -- end to end: a deterministic meter, so the host's load cannot change a verdict --------------------------------

WORK = """
import os

N = int(2000 * float(os.environ.get("WORK_SCALE", "1")))


def work():
    total = 0
    for i in range(N):
        total += i * i
    return total


def test_{name}(benchmark):
    assert benchmark(work) >= 0
"""
FAST = ["--benchmark-min-rounds=5", "--benchmark-max-time=0.05", "--benchmark-warmup=off", "-p", "no:cacheprovider"]


def _run(pytester: pytest.Pytester, *args: str, meter: str = "fakes:OpcodeMeter") -> pytest.RunResult:
    pytester.makeini("[pytest]\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH",  # the checkout first, then tests/ for fakes
                  f"{Path(__file__).resolve().parents[3]}:" + f"{Path(__file__).resolve().parents[2]}:{pytester.path}")
        return pytester.runpytest_subprocess(*FAST, *args, f"--energy-meter={meter}")


@pytest.mark.serial  # runs benchmarks: pytest-benchmark disables them under an xdist worker
def test_renamed_benchmarks_fail_the_gate_end_to_end(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_w=WORK.format(name="old"))
    _run(pytester, "--benchmark-autosave").assert_outcomes(passed=1)
    pytester.makepyfile(test_w=WORK.format(name="renamed"))
    result = _run(pytester, "--benchmark-compare", "--energy-compare-fail=10%")
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["*energy gate FAILED (min:10%): nothing could be compared: none of this run's 1*"])


def test_benchmark_skip_with_the_gate_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_w=WORK.format(name="w"))
    _run(pytester, "--benchmark-autosave").assert_outcomes(passed=1)
    result = _run(pytester, "--benchmark-compare", "--energy-compare-fail=10%", "--benchmark-skip")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--benchmark-skip skips every benchmark*"])


@pytest.mark.serial  # runs benchmarks: pytest-benchmark disables them under an xdist worker
def test_a_baseline_from_another_machine_end_to_end(pytester: pytest.Pytester) -> None:
    # a meter whose figures are treated as machine-dependent (not deterministic) is refused; asking compares
    pytester.makepyfile(test_w=WORK.format(name="w"),
                        machinedep="from fakes import OpcodeMeter\n\n\nclass Dep(OpcodeMeter):\n"
                                   "    deterministic = False\n")
    _run(pytester, "--benchmark-autosave", meter="machinedep:Dep").assert_outcomes(passed=1)
    saved = next(Path(pytester.path, ".benchmarks").rglob("*.json"))
    data = json.loads(saved.read_text())
    data["machine_info"]["node"] = "another-host"
    saved.write_text(json.dumps(data))
    result = _run(pytester, "--benchmark-compare", "--energy-compare-fail=10%", meter="machinedep:Dep")
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["*refusing to compare with a baseline measured on another machine*another-host*"])
    ok = _run(pytester, "--benchmark-compare", "--energy-compare-fail=10%", "--energy-compare-any-machine",
              meter="machinedep:Dep")
    ok.stdout.fnmatch_lines(["*baseline from another machine*--energy-compare-any-machine*"])
    # the deterministic meter's counts compare across machines, and the closing line says so
    counted = _run(pytester, "--benchmark-compare", "--energy-compare-fail=10%")
    assert "refusing to compare with a baseline measured on another machine" not in counted.stdout.str()
    counted.stdout.fnmatch_lines(["*baseline from another machine*counted figures compare across machines*"])


@pytest.mark.parametrize(("raw", "normalised"), [(0.42, 0.17), (1.49, 0.58), (0.8, 0.3)])
def test_the_issue_20_host_slowdowns_are_never_regressions(raw: float, normalised: float) -> None:
    # issue #20: unchanged code on a host whose speed shifted, against 3 fresh baselines: "+42% to +149% raw,
    # +17% to +58% after the host-speed correction" failed the gate 9 and 10 times out of 36
    speed = (1 + raw) / (1 + normalised)
    probes = [1e-4 * (1 + 0.002 * i) for i in range(16)]
    history = [e2(0.99, probes=probes), e2(1.01, probes=probes)]
    v = compare_entries(e2(1.0, probes=probes), e2(1 + raw, probes=[p * speed for p in probes]), RULE, history)
    assert v.verdict == "inconclusive" and v.cause == "host slowdown or regression", v.line(RULE)
    assert v.normalised and v.raw_change == pytest.approx(raw, abs=0.02)
    # the same host with a planted tripling on top: beyond what the slowdown can explain, so caught
    v = compare_entries(e2(1.0, probes=probes), e2((1 + raw) * 3, probes=[p * speed for p in probes]), RULE,
                        history)
    assert math.log(3 * (1 + raw)) - G.HOST_SENSITIVITY * math.log(speed) > math.log(1.2)
    assert v.verdict == "regression"


@pytest.mark.parametrize(("raw", "speed"), [(0.129, 1.05), (0.186, 1.09)])
def test_noisy_probes_of_a_slower_host_excuse_but_never_accuse(raw: float, speed: float) -> None:
    # issue #20, measured on this project's quiet-looking VM (bench/bench_gate_load.py, plain file): an unchanged
    # 9 us sort read +12.9 % and +18.6 % against 3 baselines 1.9 % apart, its probes saying "host 5 % / 9 % slower"
    # but too noisy to correct by; the raw change alone failed the gate 2 times in 20
    probes = [1e-4 * (1 + 0.03 * i) for i in range(16)]  # spread: the bootstrap noise is far above 9 %
    history = [e2(0.99, probes=probes), e2(1.01, probes=probes)]
    slower = [p * speed for p in probes]
    v = compare_entries(e2(1.0, probes=probes), e2(1 + raw, probes=slower), RULE, history)
    assert v.verdict == "inconclusive" and v.cause == "host slowdown or regression" and not v.failed, v.line(RULE)
    assert not v.normalised and v.change == pytest.approx(raw)  # not corrected by: the raw change is shown
    assert "too noisy to correct by" in v.reason and "counted meter" in v.reason
    # the planted +70 % / +100 % of issue #20 part 4 on the same host: beyond what that slowdown can excuse
    for planted in (1.7, 2.0):
        v = compare_entries(e2(1.0, probes=probes), e2(planted, probes=slower), RULE, history)
        assert v.verdict == "regression" and v.failed, v.line(RULE)
    # the same probes with no change at all: an ok (a slower host hides no regression)
    assert compare_entries(e2(1.0, probes=probes), e2(1.0, probes=slower), RULE, history).verdict == "ok"


def test_noisy_probes_of_a_faster_host_leave_an_unchanged_benchmark_undecided() -> None:
    # the mirror image: a host that may have run 5 % faster could hide a regression of up to 2.5 x that size
    probes = [1e-4 * (1 + 0.03 * i) for i in range(16)]
    history = [e2(0.99, probes=probes), e2(1.01, probes=probes)]
    v = compare_entries(e2(1.0, probes=probes), e2(1.0, probes=[p * 0.95 for p in probes]), RULE, history)
    assert v.verdict == "inconclusive" and v.cause == "host speed unclear" and not v.decided, v.line(RULE)
    # and with probes showing no speed change at all, the same figures decide
    assert compare_entries(e2(1.0, probes=probes), e2(1.0, probes=probes), RULE, history).decided


def test_contended_runs_need_the_threshold_plus_the_drift_three_runs_do_not_show() -> None:
    # issue #20, measured with two busy loops (bench/bench_gate_load.py): an unchanged 9 us sort read +17.0 % against
    # three baseline runs saved under the same load, 2.4 % apart, probes unmoved; the band alone (bar +10 %) failed it
    history = [busy(0.988), busy(1.0115)]
    v = compare_entries(busy(1.0), busy(1.17), RULE, history)
    assert v.verdict == "inconclusive" and v.cause == "within run-to-run spread" and not v.failed, v.line(RULE)
    assert f"> +{RULE.threshold + G.CONTENDED_DRIFT:.1%}" in v.reason and "rounds contended" in v.reason
    # part 4's planted +70 % / +100 % under the same load are still regressions
    for planted in (1.7, 2.0):
        assert compare_entries(busy(1.0), busy(planted), RULE, history).verdict == "regression"
    # clean runs keep the band of their three baselines: +17 % against runs 2.4 % apart is a regression there
    clean = compare_entries(e2(1.0), e2(1.17), RULE, [e2(0.988), e2(1.0115)])
    assert clean.verdict == "regression", clean.line(RULE)
    # a contended run against clean baselines can pass, never fail (point 3), whatever the bar
    assert compare_entries(e2(1.0), busy(1.5), RULE, [e2(0.988), e2(1.0115)]).cause == "machine busy"

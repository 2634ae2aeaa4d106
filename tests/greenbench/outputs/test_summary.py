"""The gate's Markdown summary (greenbench.outputs.summary): ordering, figures, folding, where it is written."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from fakes import make_entry

from greenbench.gate import GateRule, Verdict, compare_entries
from greenbench.outputs import summary
from greenbench.units import fmt_si

RULE = GateRule.parse("10%")


def pair(name: str, base: list[float], cur: list[float], **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    return make_entry(name, base, **kw), make_entry(name, cur, **kw)


def scenario() -> tuple[list[Verdict], list[dict[str, Any]], dict[str, dict[str, Any]]]:
    flat = [1.0] * 10
    entries = [
        pair("test_same", flat, flat),
        pair("test_worse", flat, [1.5] * 10),
        pair("test_much_worse", flat, [3.0] * 10),
        pair("test_better", flat, [0.5] * 10),
        pair("test_q", flat, flat, extra={"quality": {"accuracy": 0.9}}),
    ]
    entries[4][1]["extra_info"]["quality"] = {"accuracy": 0.95}
    baseline = {b["fullname"]: b for b, _ in entries}
    current = [c for _, c in entries]
    verdicts = [compare_entries(baseline[c["fullname"]], c, RULE) for c in current]
    return verdicts, current, baseline


def table_rows(md: str) -> list[str]:
    return [line for line in md.splitlines() if line.startswith("| ") and "`" in line]


def test_regressions_come_first_largest_first() -> None:
    verdicts, current, baseline = scenario()
    md = summary.render(verdicts, current, baseline, rule=RULE)
    names = [r.split("`")[1].split("::")[-1] for r in table_rows(md)]
    assert names[:2] == ["test_much_worse", "test_worse"]
    assert names[-1] != "test_much_worse"
    assert "energy gate FAILED (min:10%): 2 benchmark(s) regressed" in md
    assert "5 of 5 benchmarks decided" in md


def test_figures_match_the_entries_and_are_marked_estimated() -> None:
    verdicts, current, baseline = scenario()
    md = summary.render(verdicts, current, baseline, rule=RULE)
    first = table_rows(md)[0]
    assert f"{fmt_si(1.0, 'J')}* → {fmt_si(3.0, 'J')}*" in first
    assert "+200.0%" in first  # raw change (no probes: the same as the normalised one)
    assert "**regression**" in first
    assert "`*` =" in md


def test_raw_and_normalised_change_are_both_shown() -> None:
    v = Verdict("b::t", "regression", 0.30, 1.0, 1.0, 1.5, (10, 10), "host 15% slower")
    md = summary.render([v], [make_entry("t", fullname="b::t")], rule=RULE)
    row = table_rows(md)[0]
    assert "+50.0%" in row and "+30.0%" in row  # raw from the figures, normalised from the verdict


def test_a_raw_change_field_is_used_when_the_verdict_has_one() -> None:
    class V:
        name, verdict, change, confidence, baseline_j, current_j = "b::t", "ok", 0.01, 0.0, 1.0, 1.2
        rounds, reason, raw_change = (5, 5), "", 0.123

    assert summary.rows([V()], [])[0].raw_change == pytest.approx(0.123)


def test_quality_change_is_shown() -> None:
    verdicts, current, baseline = scenario()
    md = summary.render(verdicts, current, baseline, rule=RULE)
    assert "accuracy 0.9 → 0.95" in md


def test_long_lists_fold_into_details_and_stay_short() -> None:
    entries = [pair(f"test_{i:03d}", [1.0] * 5, [1.0 + i / 1000] * 5) for i in range(150)]
    baseline = {b["fullname"]: b for b, _ in entries}
    current = [c for _, c in entries]
    verdicts = [compare_entries(baseline[c["fullname"]], c, RULE) for c in current]
    md = summary.render(verdicts, current, baseline, rule=RULE)
    head, _, folded = md.partition("<details>")
    assert len(table_rows(head)) == summary.TOP_ROWS
    assert "140 more benchmark(s)" in folded
    assert len(md) < 65_536


def test_skipped_and_inconclusive_are_not_counted_as_decided() -> None:
    skipped = compare_entries(None, make_entry("test_new"), RULE)
    few = compare_entries(make_entry("test_few", [1.0]), make_entry("test_few", [2.0]), RULE)
    md = summary.render([skipped, few], [make_entry("test_new"), make_entry("test_few", [2.0])], rule=RULE)
    assert "0 of 2 benchmarks decided" in md
    assert "energy gate passed" not in md and "FAILED" not in md
    assert "not in the baseline" in md


def test_refusal_is_the_headline() -> None:
    md = summary.render([], [], rule=RULE, refusal="energy gate: refusing to compare (rapl vs model)")
    assert "refused" in md and "rapl vs model" in md


def test_written_to_a_file_and_appended_to_the_step_summary(tmp_path: Path) -> None:
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    written = summary.write("## hello", tmp_path / "out" / "summary.md", {"GITHUB_STEP_SUMMARY": str(step)})
    assert (tmp_path / "out" / "summary.md").read_text() == "## hello"
    assert step.read_text() == "earlier step\n## hello\n"
    assert len(written) == 2
    assert summary.write("x", None, {}) == []


# -- end to end: a CI-like gate run on a planted regression ---------------------------------------

PLANT = """
def work(n):
    return sum(i * i for i in range(n))


def test_steady(benchmark):
    benchmark(work, 3000)


def test_planted(benchmark):
    benchmark(work, 3000)


def test_kind_fast(benchmark):
    benchmark(work, 3000)
"""

#: bytecodes run, not time (tests/fakes.py): the verdicts do not depend on how busy the machine is
DETERMINISTIC = "--energy-meter=fakes:OpcodeMeter"
FAST = ["--benchmark-min-rounds=8", "--benchmark-max-time=0.1", "--benchmark-warmup=off", "-p", "no:cacheprovider"]


@pytest.mark.slow
@pytest.mark.serial
def test_gate_summary_names_the_planted_regression_first(pytester: pytest.Pytester,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH",  # the checkout first, then tests/ for fakes
                       f"{Path(__file__).resolve().parents[3]}:" + str(Path(__file__).resolve().parents[2]))
    """Baseline fabricated with make_entry (deterministic): test_planted's baseline is 1000x cheaper."""
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_plant=PLANT)
    # a real run gives the machine id and the current figures; the baseline is derived from it
    first = pytester.runpytest_subprocess(*FAST, DETERMINISTIC, "--benchmark-json=now.json")
    first.assert_outcomes(passed=3)
    now = json.loads((pytester.path / "now.json").read_text())
    base = dict(now)
    base["benchmarks"] = []
    for b in now["benchmarks"]:
        per_call = b["extra_info"]["energy"]["per_call_j"]["min"]
        factor = 1e-3 if b["name"] == "test_planted" else 10.0  # the others got 10x cheaper: improved
        fab = make_entry(b["name"], [per_call * factor] * 10, fullname=b["fullname"], group=b["group"],
                         source="opcodes", deterministic=True)
        # pytest-benchmark's own stats stay (its compare table reads them); the energy is fabricated
        base["benchmarks"].append({**b, "stats": {**b["stats"], **fab["stats"], "rounds": b["stats"]["rounds"]},
                                   "extra_info": fab["extra_info"]})
    store = pytester.path / ".benchmarks" / "Linux-CPython-3.11-64bit"
    store.mkdir(parents=True)
    (store / "0001_baseline.json").write_text(json.dumps(base))
    step = pytester.path / "step_summary.md"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GITHUB_STEP_SUMMARY", str(step))
        mp.setenv("OMP_NUM_THREADS", "1")
        result = pytester.runpytest_subprocess(
            *FAST, DETERMINISTIC, f"--benchmark-storage=file://{pytester.path / '.benchmarks'}",
            "--benchmark-compare=0001", "--energy-compare-fail=10%", "--energy-summary=summary.md",
            "--benchmark-json=cur.json")
    text = (pytester.path / "summary.md").read_text()
    assert step.read_text().strip() == text.strip()
    rows = table_rows(text)
    assert len(rows) == 3
    assert "test_plant.py::test_planted" in rows[0], text
    # the planted step is +99,900% on a deterministic meter: a regression, heading the summary
    assert "**regression**" in rows[0], text
    assert result.ret == 1
    assert "energy gate FAILED" in text
    # the numbers are the JSON's: baseline = the fabricated floor, current = this run's clean floor
    cur = {b["name"]: b for b in json.loads((pytester.path / "cur.json").read_text())["benchmarks"]}
    e = cur["test_planted"]["extra_info"]["energy"]
    contended = e.get("contended") or []
    same_length = len(contended) == len(e["rounds_j"])  # as the gate: flags that do not line up are ignored
    clean = [x for x, c in zip(e["rounds_j"], contended, strict=True) if not c] if same_length else e["rounds_j"]
    floor = min(clean) if len(clean) >= 3 else min(e["rounds_j"])
    fab_floor = next(b for b in base["benchmarks"] if b["name"] == "test_planted")["extra_info"]["energy"]
    expected = f"{fmt_si(fab_floor['per_call_j']['min'], 'J')}* → {fmt_si(floor, 'J')}*"
    assert expected in rows[0], (expected, rows[0])
    raw = floor / fab_floor["per_call_j"]["min"] - 1
    shown_raw = float(rows[0].split("|")[4].strip().rstrip("%")) / 100
    assert shown_raw == pytest.approx(raw, rel=1e-5)
    assert not math.isnan(raw)

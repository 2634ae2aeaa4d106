"""greensim projects a counted benchmark from its counts (issue #12, item 5)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from greenbench.errors import ConfigError, ScenarioError
from greenbench.meters.counted import energy_model as CM
from greensim import counted as GC
from greensim.scenario import load_scenario, run_scenario

COUNTS = {"instructions": 1_000_000, "data_reads": 300_000, "data_writes": 100_000, "l1i_misses": 50,
          "l1d_read_misses": 2_000, "l1d_write_misses": 500, "ll_instr_misses": 10, "ll_read_misses": 400,
          "ll_write_misses": 90}


def _results(tmp_path: Path, counts: dict[str, Any] | None = COUNTS) -> Path:
    energy: dict[str, Any] = {"source": "counted", "estimated": True, "per_call_j": {"median": 1e-4, "min": 9e-5}}
    if counts is not None:
        energy["counts"] = counts
    entries = [
        {"name": "test_sort", "fullname": "bench/t.py::test_sort", "extra_info": {"energy": energy}},
        {"name": "test_model", "fullname": "bench/t.py::test_model",
         "extra_info": {"energy": {"source": "model", "estimated": True, "per_call_j": {"median": 1.0}}}},
    ]
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"machine_info": {}, "benchmarks": entries}))
    return path


def _scenario(tmp_path: Path, rows: str, benchmark: str = "test_sort") -> Path:
    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent(f"""
        [source]
        results = "results.json"
        benchmark = "{benchmark}"
    """) + textwrap.dedent(rows))
    return path


def test_preset_reprices_the_counts_not_the_joules(tmp_path: Path) -> None:
    _results(tmp_path)
    path = _scenario(tmp_path, """
        [[project]]
        name = "45 nm"
        counts_target = "horowitz_45nm"
        calls = 10
    """)
    res = run_scenario(load_scenario(path))
    row = res.rows[0]
    assert row.it_energy_j == pytest.approx(10 * CM.energy_j(COUNTS, CM.DEFAULT))
    assert "Horowitz 2014" in row.notes[0] and "same instructions" in row.notes[0]
    assert res.source is not None and res.source.counts is not None
    assert res.source.counts["instructions"] == 1_000_000


def test_typed_in_table_and_calibrated_file(tmp_path: Path) -> None:
    _results(tmp_path)
    mine = CM.Coefficients(pj_per_instruction=10, pj_per_l1_access=2, pj_per_ll_access=50, nj_per_dram_line_64b=3,
                           source="calibrated on the target", fit={"rms_rel_error": 0.05})
    (tmp_path / "target.json").write_text(json.dumps(mine.to_json()))
    path = _scenario(tmp_path, """
        [[project]]
        name = "typed"
        counts_target = {pj_per_instruction=10, pj_per_l1_access=2, pj_per_ll_access=50, nj_per_dram_line_64b=3}
        [[project]]
        name = "file"
        counts_target = "target.json"
    """)
    res = run_scenario(load_scenario(path))
    expected = (10 * 1_000_000 + 2 * 400_000 + 50 * 2_550) * 1e-12 + 3e-9 * 500
    assert res.rows[0].it_energy_j == pytest.approx(expected)
    assert res.rows[1].it_energy_j == pytest.approx(expected)
    assert "calibrated on the target" in res.rows[1].notes[0]


def test_source_without_counts_is_a_one_line_error(tmp_path: Path) -> None:
    _results(tmp_path)
    path = _scenario(tmp_path, '[[project]]\nname = "x"\ncounts_target = "horowitz_45nm"\n', benchmark="test_model")
    with pytest.raises(ScenarioError, match=r"test_model.*no extra_info\.energy\.counts.*--energy-meter=counted"):
        run_scenario(load_scenario(path))


@pytest.mark.parametrize("row, pattern", [
    ('counts_target = "22nm"', "expected a preset"),
    ('counts_target = { pj_per_instruction = 1 }', "missing pj_per_l1_access"),
    ('counts_target = { pj_per_instruction = 1, pj_per_l1_access = 1, pj_per_ll_access = 1, '
     'nj_per_dram_line_64b = -1 }', ">= 0"),
    ('counts_target = { pj_per_instr = 1 }', "unknown key"),
    ('counts_target = "missing.json"', "not found"),
    ('counts_target = "horowitz_45nm"\nenergy_j = 1.0', "conflicts with counts_target"),
    ('counts_target = "horowitz_45nm"\narchitecture = "harvard"', "alternative energy models"),
])
def test_bad_targets_name_the_row_and_key(tmp_path: Path, row: str, pattern: str) -> None:
    _results(tmp_path)
    path = _scenario(tmp_path, f'[[project]]\nname = "x"\n{row}\n')
    with pytest.raises(ScenarioError, match=pattern):
        load_scenario(path)


def test_stored_counts_refuses_bad_values() -> None:
    assert GC.stored_counts({"counts": COUNTS}) == {k: float(v) for k, v in COUNTS.items()}
    assert GC.stored_counts({"counts": {**COUNTS, "instructions": -1}}) is None
    assert GC.stored_counts({"counts": {"data_reads": 3}}) is None
    assert GC.stored_counts({}) is None
    with pytest.raises(ConfigError):
        GC.target_coefficients(3)

"""bench/sections/greensim.py: the report section renders only what the run holds, labelled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import greensim as gs
from bench.sections import greensim as section

SCALING = {"jobs": 1_000_000, "regions": ["GB", "DE"], "hours": 8760, "target_s": 10.0, "saving_fraction": 0.5,
           "scaling": [{"jobs": 10_000, "best_s": 0.02, "per_job_s": 2e-6, "per_job_ratio_to_1e6": 4.0},
                       {"jobs": 1_000_000, "best_s": 0.5, "per_job_s": 5e-7, "per_job_ratio_to_1e6": 1.0}]}


def _entry(name: str, group: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "fullname": f"bench/x.py::{name}", "group": group, "extra_info": extra}


def test_empty_run_renders_nothing(tmp_path: Path) -> None:
    assert section.render([], tmp_path) == ""
    assert section.render([_entry("t", "other", {})], tmp_path) == ""


def test_scaling_table_from_extra_info(tmp_path: Path) -> None:
    text = section.render([_entry("test_load_shifting_1e6_jobs", "greensim", {"load_shifting": SCALING})],
                          tmp_path)
    assert "| 10,000 | 20 ms | 2 µs | 4.00 |" in text
    assert "| 1,000,000 | 500 ms | 500 ns | 1.00 |" in text
    assert "projected, estimated" in text
    assert "What if" not in text  # the greensim benchmark itself is not projected


def test_whatif_projects_the_first_benchmark_with_energy(tmp_path: Path) -> None:
    energy = {"energy": {"source": "model", "estimated": True, "per_call_j": {"median": 0.36}}}
    text = section.render([_entry("test_a", "classic", {}), _entry("test_knn", "classic", energy),
                           _entry("test_b", "classic", energy)], tmp_path)
    assert "`test_knn`: 360 mJ* per call" in text and "test_b" not in text
    world = gs.intensity_g_per_kwh("WORLD")
    expected_g = 0.36 * 1e6 / 3.6e6 * world  # PUE 1.0
    row = next(line for line in text.splitlines() if line.startswith("| WORLD"))
    assert f"| {world:.0f} | {expected_g:.3g} g* |" in row
    assert "projected" in text and "2023" in text


@pytest.mark.parametrize("ratio", [1.0, 12.5])
def test_scaling_lines_print_ratios(ratio: float) -> None:
    info = dict(SCALING, scaling=[dict(SCALING["scaling"][0], per_job_ratio_to_1e6=ratio)])  # type: ignore[call-overload]
    lines = section.scaling_lines(info)
    assert f"{ratio:.2f}×" in lines[1]


def test_whatif_carries_the_model_meters_band(tmp_path: Path) -> None:
    # issue #22 item 10: 0.36 J per call, the meter's band 0.5-1.5x of its central figure (total_j / calls)
    energy = {"energy": {"source": "model", "estimated": True, "per_call_j": {"median": 0.36}, "total_j": 3.6,
                         "calls": 10, "figures_j": {"marginal_low_j": 0.18, "marginal_high_j": 0.54}}}
    text = section.render([_entry("test_knn", "classic", energy)], tmp_path)
    co2e = gs.co2e_g(0.36 * 1e6, gs.intensity_g_per_kwh("WORLD"))
    world = next(line for line in text.splitlines() if line.startswith("| WORLD"))
    from greenbench.units import fmt_si

    assert f"[{fmt_si(co2e * 0.5, 'g')}–{fmt_si(co2e * 1.5, 'g')}]" in world
    assert "the meter's own band on the measured energy (0.5–1.5×" in text

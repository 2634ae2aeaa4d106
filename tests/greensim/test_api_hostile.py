"""greensim's Python API on hostile numbers (issue #21): every call returns finite figures or raises ConfigError
(a ValueError) in one line -- 4M factors that underflow, windows that underflow or are absurd, shift_jobs with
inf or overflowing intensities, Footprint with inconsistent fields -- and a large ``greensim run`` result is
written row by row, never held whole in memory."""

from __future__ import annotations

import json
import math
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import greensim as gs
from greenbench.errors import ConfigError
from greensim import report
from greensim.footprint import Footprint
from greensim.levers import FourM
from greensim.scenario import parse_scenario, run_scenario

SERIES = [12.0, 11.0, 10.0, 12.0, 13.0]
HOSTILE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 5e-324, 1e-320, 1e-300, 1e-200, 1e200, 1e300, 1.7976931348623157e308, -1.0]),
    st.integers(-3, 10),
)


def finite_or_config_error(fn: object, *args: object, **kwargs: object) -> object:
    """Call; a ConfigError must be one line; anything returned must be finite."""
    try:
        out = fn(*args, **kwargs)  # type: ignore[operator]
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc)
        return None
    return out


def all_finite(*values: object) -> bool:
    return all(bool(np.all(np.isfinite(np.asarray(v, dtype=np.float64)))) for v in values)


# --------------------------------------------------------------------------- 4M


@settings(max_examples=300, deadline=None)
@given(model=HOSTILE, machine=HOSTILE, mechanization=HOSTILE, map_=HOSTILE)
def test_four_m_factors_are_finite_non_zero_or_refused(model: float, machine: float, mechanization: float,
                                                        map_: float) -> None:
    out = finite_or_config_error(gs.four_m, model=model, machine=machine, mechanization=mechanization, map=map_)
    if out is not None:
        assert isinstance(out, tuple)
        energy, co2e = float(out[0]), float(out[1])
        assert all_finite(energy, co2e, 1 / energy, 1 / co2e) and energy > 0 and co2e > 0


@pytest.mark.parametrize("kw", [{"model": 5e-324}, {"model": 1e-200, "machine": 1e-200},
                                {"model": 1e200, "machine": 1e200}, {"model": 1e300, "map": 1e10},
                                {"machine": 1e-320}])
def test_four_m_products_beyond_a_float_are_refused(kw: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match=r"four_m: the (energy|CO2e) factor \(product of the levers\)"):
        FourM(**kw)


# --------------------------------------------------------------------------- windows


@settings(max_examples=300, deadline=None)
@given(step=HOSTILE, window=HOSTILE, deadline=st.one_of(st.none(), HOSTILE))
def test_rolling_average_and_best_windows_are_finite_or_refused(step: float, window: float,
                                                                deadline: float | None) -> None:
    means = finite_or_config_error(gs.rolling_average, SERIES, step, window)
    if means is not None:
        assert isinstance(means, np.ndarray) and means.size >= 1 and all_finite(means)
    choice = finite_or_config_error(gs.best_windows, SERIES, step, window, deadline_min=deadline)
    if choice is not None:
        assert all_finite(choice.best_g_per_kwh, choice.now_g_per_kwh, choice.saving_fraction,  # type: ignore[attr-defined]
                          choice.beyond_data_min)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("step", "window", "expected"), [
    (5, 5e-324, "window_min: 5e-324 min is"), (1e-300, 1e-320, "of a 1e-300-min step"),
    (1e-300, 1e300, "expected at most 2\\*\\*53 steps"), (5, 1e308, "expected at most 2\\*\\*53 steps"),
    (5, 60, "window_min: a 60-min window is longer than the series"), (5, 1e-13, "expected a window of at least"),
])
def test_absurd_windows_are_refused(step: float, window: float, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        gs.rolling_average(SERIES, step, window)
    with pytest.raises(ConfigError):
        gs.best_windows(SERIES, step, window)


def test_window_sums_that_overflow_are_refused() -> None:
    with pytest.raises(ConfigError, match="window sums overflow a float"):
        gs.rolling_average([1e308, 1e308, 1e308], 5, 10)


# --------------------------------------------------------------------------- shift_jobs


def _jobs(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {"energy_j": [1.0], "submit_index": [0], "job_steps": [2], "deadline_index": [4],
                               "here": [0]}
    base.update(kw)
    return base


@pytest.mark.parametrize(("ci", "pue", "kw", "expected"), [
    ([[1.0, np.inf, 2.0, 3.0]], [1.0], {}, "intensities must be finite"),
    ([[1e308] * 4], [1.0], {}, "sums overflow a float"),
    ([[1.0] * 4, [2.0] * 4], [1.0, np.inf], {}, "finite PUE values >= 1"),
    ([[1.0] * 4, [2.0] * 4], [1.0, np.nan], {}, "finite PUE values >= 1"),
    ([[1e300] * 4], [1.0], {"energy_j": [1e300]}, "job 0's CO2e overflows a float"),
    ([[1.0] * 4], [1.0], {"energy_j": [np.inf]}, "finite energies"),
])
def test_shift_jobs_refuses_inf_and_overflow(ci: list[list[float]], pue: list[float], kw: dict[str, object],
                                             expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        gs.shift_jobs(np.asarray(ci), pue, **_jobs(**kw))  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(ci=st.lists(HOSTILE, min_size=4, max_size=4), pue=HOSTILE, energy=HOSTILE)
def test_shift_jobs_is_finite_or_refused(ci: list[float], pue: float, energy: float) -> None:
    out = finite_or_config_error(gs.shift_jobs, np.asarray([ci]), [pue], **_jobs(energy_j=[energy]))
    if out is not None:
        assert all_finite(out.co2e_g, out.baseline_co2e_g)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- Footprint


@settings(max_examples=300, deadline=None)
@given(energy=HOSTILE, co2e=HOSTILE, it=HOSTILE, pue=HOSTILE, ci=HOSTILE)
def test_footprint_fields_are_consistent_or_refused(energy: float, co2e: float, it: float, pue: float,
                                                    ci: float) -> None:
    fp = finite_or_config_error(Footprint, energy_kwh=energy, co2e_g=co2e, it_energy_kwh=it, pue=pue,
                                intensity_g_per_kwh=ci)
    if fp is not None:
        assert isinstance(fp, Footprint)
        assert math.isclose(fp.energy_kwh, fp.it_energy_kwh * fp.pue, rel_tol=1e-9, abs_tol=1e-300)
        assert math.isclose(fp.co2e_g, fp.energy_kwh * fp.intensity_g_per_kwh, rel_tol=1e-9, abs_tol=1e-300)


@pytest.mark.parametrize(("kw", "expected"), [
    ({"energy_kwh": 1.0, "co2e_g": 10.0, "it_energy_kwh": 5.0}, "Footprint.energy_kwh: 1.0 is not it_energy_kwh"),
    ({"co2e_g": 1000.0}, "Footprint.co2e_g: 1000.0 is not energy_kwh × intensity_g_per_kwh"),
    ({"estimated": False}, "Footprint.estimated: a footprint is a model output"),
    ({"estimated": "yes"}, "Footprint.estimated"),
    ({"pue": 0.5}, "Footprint.pue: expected a PUE >= 1"),
])
def test_inconsistent_footprints_are_refused(kw: dict[str, object], expected: str) -> None:
    fields: dict[str, object] = {"energy_kwh": 1.5, "co2e_g": 15.0, "it_energy_kwh": 1.0, "pue": 1.5,
                                 "intensity_g_per_kwh": 10.0}
    fields.update(kw)
    with pytest.raises(ConfigError, match=expected):
        Footprint(**fields)  # type: ignore[arg-type]
    assert Footprint(energy_kwh=1.5, co2e_g=15.0, it_energy_kwh=1.0, pue=1.5, intensity_g_per_kwh=10.0).co2e_g == 15


def test_the_footprint_functions_still_build_consistent_footprints() -> None:
    assert gs.green_algorithms(runtime_h=1, n_cores=1, core_power_w=4.84375, memory_gb=4.8, pue=1.67,
                               intensity_g_per_kwh=253.19).co2e_g == pytest.approx(2.80, abs=0.01)
    assert gs.accelerator_footprint(8, 3.5 * 24, 296, 1.59, 429).energy_kwh == pytest.approx(316, abs=1)


# --------------------------------------------------------------------------- large results


def _large_result(rows: int) -> object:
    doc = {"source": {"energy_j": 435.0},
           "project": [{"name": f"row {i}", "energy_j": float(i) + 0.5, "region": ("FR", "DE", "GB")[i % 3],
                        "pue": 1 + (i % 50) / 100} for i in range(rows)]}
    return run_scenario(parse_scenario(doc))


def test_a_large_result_is_written_row_by_row(tmp_path: Path) -> None:
    """Above LARGE_ROWS rows, --json and the table are streamed: the same JSON document, and writing both
    allocates far less than the document's size (allocations are counted, not timed: load does not matter)."""
    result = _large_result(report.LARGE_ROWS * 3)
    out = tmp_path / "big.json"
    with open(os.devnull, "w", encoding="utf-8") as sink:  # imports (rich) first: they are not the table
        report.render_table(_large_result(3), file=sink)  # type: ignore[arg-type]
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        report.write_json(result, out)  # type: ignore[arg-type]
        with open(os.devnull, "w", encoding="utf-8") as sink:
            report.render_table(result, file=sink)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = out.stat().st_size
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(report.to_json_text(result))  # type: ignore[arg-type]
    assert peak - base < size / 10, (peak - base, size)  # the whole document took ~4x its size before


@pytest.mark.parametrize(("row", "expected"), [
    ({"window": {"region": "DE", "job_min": 1e-300}}, r"'w'\.window: window_min: 1e-300 min is"),
    ({"window": {"region": "DE", "job_h": 5e-324}}, r"'w'\.window: window_min: .* of a 60.0-min step"),
    ({"window": {"region": "DE", "job_h": 1, "deadline_h": 1e308}}, r"'w'\.window: expected job and deadline lengths"),
    ({"window": {"region": "DE", "job_h": 1e307}}, r"'w'\.window: expected job and deadline lengths"),
    ({"window": {"region": "DE", "job_h": 9000, "deadline_h": 9000}}, r"'w'\.window: window_min: a 540000-min window"),
    ({"four_m": {"model": 1e-200, "machine": 1e-200}}, r"'w'\.four_m: four_m: the energy factor"),
    ({"four_m": {"model": 1e200, "map": 1e200}}, r"'w'\.four_m: four_m: the CO2e factor"),
])
def test_scenario_rows_that_underflow_name_the_row(row: dict[str, object], expected: str) -> None:
    from greenbench.errors import ScenarioError

    doc = {"source": {"energy_j": 1.0}, "project": [{"name": "w", **row}]}
    with pytest.raises(ScenarioError, match=r"s\.toml: project\[1\] " + expected) as info:
        run_scenario(parse_scenario(doc, "s.toml"))
    assert "\n" not in str(info.value)

"""Carbon-aware load shifting: rolling windows, deadlines, regions, and the batch solver."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import greensim as gs
from greenbench.errors import ConfigError

intensities = st.lists(st.floats(0.0, 1000.0, allow_nan=False), min_size=1, max_size=48)


def test_rolling_average_carbon_aware_sdk_example() -> None:
    # 5-minute intensities [12, 11, 10, 12, 13], 10-minute job
    means = gs.rolling_average([12, 11, 10, 12, 13], 5, 10)
    np.testing.assert_allclose(means, [11.5, 10.5, 11.0, 12.5])
    choice = gs.best_windows([12, 11, 10, 12, 13], 5, 10)
    assert choice.start_indices == (1,)
    assert choice.best_g_per_kwh == pytest.approx(10.5)
    assert choice.now_g_per_kwh == pytest.approx(11.5)
    assert choice.saving_fraction == pytest.approx(1 - 10.5 / 11.5)


def test_every_tied_minimum_is_returned() -> None:
    choice = gs.best_windows([3, 1, 2, 1, 3, 1], 60, 60)
    assert choice.start_indices == (1, 3, 5)
    # float rounding of prefix sums does not break a tie
    choice = gs.best_windows([0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.1, 0.2], 60, 120)
    assert choice.start_indices == (0, 3, 6)


def test_partial_step_windows_weight_the_last_step() -> None:
    # 90 minutes over hourly data: one full hour plus half of the next
    np.testing.assert_allclose(gs.rolling_average([10, 20, 40], 60, 90), [(10 + 0.5 * 20) / 1.5,
                                                                          (20 + 0.5 * 40) / 1.5])
    np.testing.assert_allclose(gs.rolling_average([10, 20, 40], 60, 30), [10, 20, 40])
    with pytest.raises(ConfigError, match="window_min: a 180-min window is longer than the series"):
        gs.rolling_average([10, 20], 60, 180)


def test_deadline_limits_the_candidates() -> None:
    series = [5, 4, 3, 2, 1]
    assert gs.best_windows(series, 60, 60, deadline_min=180).start_indices == (2,)
    assert gs.best_windows(series, 60, 60, now_index=1, deadline_min=120).start_indices == (2,)
    assert gs.best_windows(series, 60, 60, deadline_min=60).start_indices == (0,)
    with pytest.raises(ConfigError, match="cannot finish by the deadline"):
        gs.best_windows(series, 60, 120, deadline_min=60)
    with pytest.raises(ConfigError, match="now_index"):
        gs.best_windows(series, 60, 60, now_index=9)
    with pytest.raises(ConfigError, match="window_min"):
        gs.rolling_average(series, 60, 0)
    with pytest.raises(ConfigError, match="series"):
        gs.rolling_average([1.0, -2.0], 60, 60)


def test_temporal_shift_on_shipped_series_never_loses() -> None:
    gb = gs.hourly_series("GB")
    now = gb.index_of(gb.start_utc.replace(month=6))
    shift = gs.temporal_shift(3.6e6, gb.intensity_g_per_kwh, gb.step_min, 120, now_index=now,
                              deadline_min=24 * 60, pue=1.1)
    assert shift.co2e_best_g <= shift.co2e_now_g
    assert shift.co2e_now_g == pytest.approx(1.1 * gb.intensity_g_per_kwh[now:now + 2].mean())
    assert all(now <= i <= now + 22 for i in shift.choice.start_indices)


def test_geographic_shift_picks_min_energy_times_pue_times_intensity() -> None:
    pue = {"here": 1.5, "clean": 1.2, "dirty": 1.1}
    ci = {"here": 400.0, "clean": 50.0, "dirty": 800.0}
    g = gs.geographic_shift(3.6e6, pue, "here", intensities_g_per_kwh=ci)
    assert g.best_regions == ("clean",)
    assert g.co2e_here_g == pytest.approx(600.0)
    assert g.co2e_best_g == pytest.approx(60.0)
    assert g.saving_g == pytest.approx(540.0)
    tie = gs.geographic_shift(1.0, {"a": 1.0, "b": 2.0}, "a", intensities_g_per_kwh={"a": 2.0, "b": 1.0})
    assert tie.best_regions == ("a", "b")
    real = gs.geographic_shift(1e6, {"AU": 1.56, "SE": 1.1, "FR": 1.1}, "AU")
    assert real.best_regions == ("SE",)
    with pytest.raises(ConfigError, match="must be one of the candidate regions"):
        gs.geographic_shift(1.0, {"a": 1.0}, "b", intensities_g_per_kwh={"a": 1.0})


def _brute_force(ci: np.ndarray, pue: np.ndarray, jobs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    e, s, length = jobs["energy_j"], jobs["submit_index"], jobs["job_steps"]
    d, h = jobs["deadline_index"], jobs["here"]
    best = np.empty(e.size)
    base = np.empty(e.size)
    for j in range(e.size):
        costs = [pue[r] * ci[r, t:t + length[j]].mean() for t in range(s[j], d[j] - length[j] + 1)
                 for r in range(ci.shape[0])]
        best[j] = e[j] / 3.6e6 * min(costs)
        base[j] = e[j] / 3.6e6 * pue[h[j]] * ci[h[j], s[j]:s[j] + length[j]].mean()
    return best, base


def _jobs(rng: np.random.Generator, n: int, steps: int, regions: int) -> dict[str, np.ndarray]:
    length = rng.integers(1, 6, n)
    submit = rng.integers(0, steps - length + 1)
    deadline = np.minimum(steps, submit + length + rng.integers(0, 12, n))
    return {"energy_j": rng.uniform(0, 1e7, n), "submit_index": submit, "job_steps": length,
            "deadline_index": deadline, "here": rng.integers(0, regions, n)}


def test_shift_jobs_matches_brute_force() -> None:
    rng = np.random.default_rng(7)
    ci = rng.uniform(10, 800, (4, 60)).round(0)  # rounding creates ties
    pue = np.array([1.1, 1.5, 1.2, 1.0])
    jobs = _jobs(rng, 300, 60, 4)
    out = gs.shift_jobs(ci, pue, **jobs)
    best, base = _brute_force(ci, pue, jobs)
    np.testing.assert_allclose(out.co2e_g, best, rtol=1e-9)
    np.testing.assert_allclose(out.baseline_co2e_g, base, rtol=1e-9)
    # the reported choice is feasible and achieves the reported CO2e
    L = jobs["job_steps"]
    assert np.all(out.start_index >= jobs["submit_index"])
    assert np.all(out.start_index + L <= jobs["deadline_index"])
    for j in range(0, 300, 17):
        r, t = out.region_index[j], out.start_index[j]
        achieved = jobs["energy_j"][j] / 3.6e6 * pue[r] * ci[r, t:t + L[j]].mean()
        assert achieved == pytest.approx(out.co2e_g[j], rel=1e-9)
    assert 0 < out.saving_fraction < 1


def test_shift_jobs_rejects_infeasible_jobs() -> None:
    ci = np.ones((2, 10))
    ok = {"energy_j": [1.0], "submit_index": [0], "job_steps": [3], "deadline_index": [3], "here": [0]}
    gs.shift_jobs(ci, [1.0, 1.0], **ok)
    with pytest.raises(ConfigError, match="deadline_index"):
        gs.shift_jobs(ci, [1.0, 1.0], **(ok | {"deadline_index": [2]}))
    with pytest.raises(ConfigError, match="here"):
        gs.shift_jobs(ci, [1.0, 1.0], **(ok | {"here": [2]}))
    with pytest.raises(ConfigError, match="pue"):
        gs.shift_jobs(ci, [1.0, 0.5], **ok)
    with pytest.raises(ConfigError, match="one length"):
        gs.shift_jobs(ci, [1.0, 1.0], **(ok | {"here": [0, 1]}))


# --------------------------------------------------------------------------- properties


@given(series=intensities, window_steps=st.integers(1, 6), data=st.data())
def test_shifting_is_never_worse_than_running_now(series: list[float], window_steps: int,
                                                  data: st.DataObject) -> None:
    if window_steps > len(series):
        return
    now = data.draw(st.integers(0, len(series) - window_steps))
    choice = gs.best_windows(series, 60, 60 * window_steps, now_index=now)
    assert choice.best_g_per_kwh <= choice.now_g_per_kwh + 1e-9
    means = gs.rolling_average(series, 60, 60 * window_steps)
    assert means.size == len(series) - window_steps + 1
    assert np.all(means >= -1e-9)
    assert choice.best_g_per_kwh == pytest.approx(float(means[now:].min()), abs=1e-9)
    for i in choice.start_indices:
        assert means[i] == pytest.approx(choice.best_g_per_kwh, abs=1e-6)


@given(series=intensities, k=st.floats(0.01, 100.0))
def test_rolling_average_is_linear_in_intensity(series: list[float], k: float) -> None:
    base = gs.rolling_average(series, 60, 60)
    np.testing.assert_allclose(gs.rolling_average([x * k for x in series], 60, 60), base * k,
                               rtol=1e-9, atol=1e-9)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 50))
def test_batch_shift_never_worse_and_linear_in_energy(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    ci = rng.uniform(0, 900, (3, 30))
    pue = rng.uniform(1.0, 2.0, 3)
    jobs = _jobs(rng, n, 30, 3)
    out = gs.shift_jobs(ci, pue, **jobs)
    assert np.all(out.co2e_g >= 0)
    assert np.all(out.co2e_g <= out.baseline_co2e_g * (1 + 1e-12) + 1e-12)
    doubled = gs.shift_jobs(ci, pue, **(jobs | {"energy_j": jobs["energy_j"] * 2}))
    np.testing.assert_allclose(doubled.co2e_g, out.co2e_g * 2, rtol=1e-12)
    np.testing.assert_array_equal(doubled.start_index, out.start_index)


@pytest.mark.parametrize("steps", [1, 5, 64, 65, 200])
def test_short_and_long_windows_agree_with_a_direct_mean(steps: int) -> None:
    x = np.random.default_rng(steps).uniform(0, 900, 500)
    expected = np.convolve(x, np.ones(steps) / steps, mode="valid")
    np.testing.assert_allclose(gs.rolling_average(x, 60, 60 * steps), expected, rtol=1e-10)

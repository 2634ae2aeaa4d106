"""Carbon-aware load shifting: in time (rolling windows) and in space (regions).

Temporal shifting follows the Green Software Foundation's carbon-aware-sdk
idea: for a job of length ``window_min`` over an intensity series sampled
every ``step_min``, the mean intensity of each window that fits the data
(:func:`rolling_average`) is computed; the job starts at the window with the
lowest mean, among those that finish by the deadline; every tied minimum is
returned.  A window that is not a whole number of steps takes the matching
fraction of its last step (the series is piecewise constant).

Geographic shifting picks the region minimising energy × PUE × intensity.
Savings are always reported against running *now, here*, which is itself a
candidate, so shifting is never worse than not shifting.

:func:`shift_jobs` does both for many jobs at once, vectorised with numpy:
window means by prefix sums, then a sparse table for O(1) range-minimum
queries over each job's [submit, deadline − length] interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from greenbench.errors import ConfigError
from greenbench.intensity import intensity_g_per_kwh
from greenbench.units import J_PER_KWH
from greensim import _check

#: relative tolerance under which two window means count as tied (float rounding of prefix sums)
TIE_RTOL = 1e-9
#: windows up to this many steps are summed directly; longer ones through prefix sums (O(n))
SHORT_WINDOW_STEPS = 64
#: a window shorter than this fraction of a step is refused (its weight would round to 0: a 0/0 mean)
MIN_WINDOW_STEPS = 1e-9

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _as_series(series: npt.ArrayLike, name: str = "series") -> FloatArray:
    try:
        arr = np.asarray(series, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"{name}: expected a 1-D sequence of numbers ({exc})") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ConfigError(f"{name}: expected a non-empty 1-D sequence of intensities")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ConfigError(f"{name}: intensities must be finite and >= 0")
    return arr


def _window_steps(step_min: float, window_min: float, n_steps: int | None = None) -> tuple[int, float]:
    """Whole steps and the fraction of one more that a window covers; absurd windows are refused: one that
    rounds to no time at all, one of more steps than a float counts exactly, or (``n_steps``) one longer than
    the series."""
    step = _check.positive("step_min", step_min)
    window = _check.positive("window_min", window_min)
    ratio = window / step
    if not ratio >= MIN_WINDOW_STEPS:
        raise ConfigError(f"window_min: {window_min!r} min is {ratio:.3g} of a {step_min!r}-min step; expected a "
                          f"window of at least {MIN_WINDOW_STEPS:g} step")
    if not ratio <= 2**53:
        raise ConfigError(f"window_min: {window_min!r} min is {ratio:.3g} steps of {step_min!r} min; expected at "
                          "most 2**53 steps")
    full = int(np.floor(ratio + 1e-12))
    frac = ratio - full
    if frac < 1e-12:
        frac = 0.0
    if n_steps is not None and full + (1 if frac else 0) > n_steps:
        raise ConfigError(f"window_min: a {window_min:g}-min window is longer than the series ({n_steps} steps of "
                          f"{step_min:g} min); expected at most {n_steps * step:g} min")
    return full, frac


def rolling_average(series: npt.ArrayLike, step_min: float, window_min: float) -> FloatArray:
    """Mean intensity of every window of ``window_min`` minutes that fits the data,
    one per start step: ``rolling_average([12, 11, 10, 12, 13], 5, 10)`` →
    ``[11.5, 10.5, 11.0, 12.5]``."""
    x = _as_series(series)
    full, frac = _window_steps(step_min, window_min, x.size)
    span = full + (1 if frac else 0)
    n_windows = x.size - span + 1
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused below
        if full == 0:
            sums = np.zeros(n_windows)
        elif full <= SHORT_WINDOW_STEPS:
            # direct sums: no prefix-sum rounding in the reported means (e.g. 317.505, not 317.50500000000466)
            sums = np.lib.stride_tricks.sliding_window_view(x, full)[:n_windows].sum(axis=1)
        else:
            csum = np.concatenate(([0.0], np.cumsum(x)))
            sums = csum[full:full + n_windows] - csum[:n_windows]
        if frac:
            sums = sums + frac * x[full:full + n_windows]
        means = sums / (full + frac)
    if not np.all(np.isfinite(means)):
        raise ConfigError("series: the window sums overflow a float (intensities near 1.8e308); expected "
                          "intensities a window can add up")
    return means


@dataclass(frozen=True, slots=True)
class WindowChoice:
    """The best start(s) for a job in a series, against starting now."""

    start_indices: tuple[int, ...]
    best_g_per_kwh: float
    now_g_per_kwh: float
    now_index: int
    window_min: float
    step_min: float
    #: minutes of the deadline that lie past the end of the data (not searched); 0 when all fit
    beyond_data_min: float = 0.0

    @property
    def saving_fraction(self) -> float:
        """1 − best/now (0 when now is already zero-carbon)."""
        return 1.0 - self.best_g_per_kwh / self.now_g_per_kwh if self.now_g_per_kwh > 0 else 0.0


def best_windows(series: npt.ArrayLike, step_min: float, window_min: float, *, now_index: int = 0,
                 deadline_min: float | None = None) -> WindowChoice:
    """Best start(s) for a ``window_min`` job starting no earlier than ``now_index``
    and finishing within ``deadline_min`` minutes of it (None: by the end of the data).

    A deadline past the end of the data is searched up to the end, and the choice says by how
    much it fell short (:attr:`WindowChoice.beyond_data_min`).
    """
    means = rolling_average(series, step_min, window_min)
    return best_in_means(means, int(np.asarray(series).shape[0]), step_min, window_min, now_index=now_index,
                         deadline_min=deadline_min)


def best_in_means(means: FloatArray, n: int, step_min: float, window_min: float, *, now_index: int = 0,
                  deadline_min: float | None = None) -> WindowChoice:
    """:func:`best_windows` from ``means = rolling_average(series, step_min, window_min)`` of an ``n``-step
    series, computed once and reused (a scenario's window rows over the same zone and job length)."""
    if isinstance(now_index, bool) or not isinstance(now_index, (int, np.integer)) or not 0 <= now_index < n:
        raise ConfigError(f"now_index: expected an integer step index in [0, {n}), got {now_index!r}")
    last = means.size - 1
    beyond_min = 0.0
    if deadline_min is not None:
        slack_min = _check.non_negative("deadline_min", deadline_min) - window_min
        slack_steps = slack_min / step_min + 1e-12 if slack_min >= 0 else -1.0
        if slack_steps < means.size:  # else (inf included): every window to the end of the data
            last = min(last, now_index + math.floor(slack_steps) if slack_steps >= 0 else -1)
        beyond_min = max(0.0, now_index * float(step_min) + float(deadline_min) - n * float(step_min))
    if last < now_index:
        raise ConfigError(f"window: a {window_min:g}-min job starting at step {now_index} cannot finish "
                          f"by the deadline ({deadline_min} min) within the data ({n} steps of "
                          f"{step_min:g} min)")
    candidates = means[now_index:last + 1]
    best = float(candidates.min())
    tied = np.flatnonzero(candidates <= best + TIE_RTOL * max(abs(best), 1.0)) + now_index
    return WindowChoice(start_indices=tuple(int(i) for i in tied), best_g_per_kwh=best,
                        now_g_per_kwh=float(means[now_index]), now_index=int(now_index),
                        window_min=float(window_min), step_min=float(step_min), beyond_data_min=beyond_min)


@dataclass(frozen=True, slots=True)
class TemporalShift:
    """CO2e of a job run now versus in its best window (same region)."""

    energy_j: float
    pue: float
    choice: WindowChoice

    @property
    def co2e_now_g(self) -> float:
        return self.energy_j * self.pue / J_PER_KWH * self.choice.now_g_per_kwh

    @property
    def co2e_best_g(self) -> float:
        return self.energy_j * self.pue / J_PER_KWH * self.choice.best_g_per_kwh

    @property
    def saving_g(self) -> float:
        return self.co2e_now_g - self.co2e_best_g


def temporal_shift(energy_j: float, series: npt.ArrayLike, step_min: float, job_min: float, *,
                   now_index: int = 0, deadline_min: float | None = None, pue: float = 1.0) -> TemporalShift:
    """Shift a job of ``energy_j`` (IT energy) lasting ``job_min`` to its best window."""
    e = _check.non_negative("energy_j", energy_j)
    p = _check.pue("pue", pue)
    return TemporalShift(e, p, best_windows(series, step_min, job_min, now_index=now_index,
                                            deadline_min=deadline_min))


@dataclass(frozen=True, slots=True)
class GeographicShift:
    """CO2e per candidate region; the best region(s) and the saving against ``here``."""

    here: str
    co2e_g_by_region: Mapping[str, float]
    best_regions: tuple[str, ...]

    @property
    def co2e_here_g(self) -> float:
        return self.co2e_g_by_region[self.here]

    @property
    def co2e_best_g(self) -> float:
        return self.co2e_g_by_region[self.best_regions[0]]

    @property
    def saving_g(self) -> float:
        return self.co2e_here_g - self.co2e_best_g


def geographic_shift(energy_j: float, pue_by_region: Mapping[str, float], here: str, *,
                     intensities_g_per_kwh: Mapping[str, float] | None = None,
                     table: str = "auto") -> GeographicShift:
    """Pick the region(s) minimising energy × PUE × intensity among ``pue_by_region``
    (``here`` must be one of them).  Intensities default to the yearly tables."""
    e = _check.non_negative("energy_j", energy_j)
    if not isinstance(pue_by_region, Mapping) or not pue_by_region:
        raise ConfigError(f"pue_by_region: expected a non-empty mapping of region -> PUE, got {pue_by_region!r}")
    bad = [r for r in pue_by_region if not isinstance(r, str) or not r.strip()]
    if bad or not isinstance(here, str):
        raise ConfigError(f"region: expected region codes as strings, got {(bad or [here])[0]!r}")
    if intensities_g_per_kwh is not None:
        if not isinstance(intensities_g_per_kwh, Mapping):
            raise ConfigError("intensities_g_per_kwh: expected a mapping of region -> gCO2e/kWh")
        missing = [r for r in pue_by_region if r not in intensities_g_per_kwh]
        if missing:
            raise ConfigError(f"intensities_g_per_kwh: no intensity for region {missing[0]!r}; expected one "
                              "for every region in pue_by_region")
    if here not in pue_by_region:
        raise ConfigError(f"here: {here!r} must be one of the candidate regions {sorted(pue_by_region)}")
    co2e = {}
    for region, pue in pue_by_region.items():
        ci = (intensities_g_per_kwh[region] if intensities_g_per_kwh is not None
              else intensity_g_per_kwh(region, table))
        co2e[region] = e * _check.pue(f"pue[{region}]", pue) / J_PER_KWH * _check.non_negative(
            f"intensity[{region}]", ci)
    best = min(co2e.values())
    tied = tuple(r for r, c in co2e.items() if c <= best + TIE_RTOL * max(abs(best), 1e-300))
    return GeographicShift(here=here, co2e_g_by_region=dict(co2e), best_regions=tied)


@dataclass(frozen=True, slots=True)
class BatchShift:
    """Per-job choice (region index, start step) and CO2e, shifted and now-here."""

    region_index: IntArray
    start_index: IntArray
    co2e_g: FloatArray
    baseline_co2e_g: FloatArray

    @property
    def saving_fraction(self) -> float:
        base = float(self.baseline_co2e_g.sum())
        return 1.0 - float(self.co2e_g.sum()) / base if base > 0 else 0.0


def _sparse_table(values: FloatArray) -> tuple[FloatArray, IntArray]:
    """Levels k of (min, argmin) over [i, i + 2**k), padded with +inf; earliest index on ties."""
    n = values.size
    levels = max(1, int(n).bit_length())
    mins = np.full((levels, n), np.inf)
    args = np.zeros((levels, n), dtype=np.int64)
    mins[0] = values
    args[0] = np.arange(n)
    for k in range(1, levels):
        half = 1 << (k - 1)
        m = n - (1 << k) + 1
        if m <= 0:
            break
        a, b = mins[k - 1, :m], mins[k - 1, half:half + m]
        take_b = b < a
        mins[k, :m] = np.where(take_b, b, a)
        args[k, :m] = np.where(take_b, args[k - 1, half:half + m], args[k - 1, :m])
    return mins, args


def _range_argmin(mins: FloatArray, args: IntArray, lo: IntArray, hi: IntArray) -> IntArray:
    """Index of the (earliest) minimum of values[lo..hi] (inclusive), vectorised."""
    k = np.frexp((hi - lo + 1).astype(np.float64))[1].astype(np.int64) - 1
    right = hi - (np.int64(1) << k) + 1
    a_val, b_val = mins[k, lo], mins[k, right]
    return np.where(b_val < a_val, args[k, right], args[k, lo])


def _floats(name: str, values: npt.ArrayLike) -> FloatArray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"{name}: expected numbers ({exc})") from None


def _whole(name: str, values: npt.ArrayLike) -> IntArray:
    """Step indices as int64; a fractional, non-finite or non-numeric index is refused, never truncated."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.floor(arr)) \
            and np.all(np.abs(arr) < 2**62):
        return arr.astype(np.int64)
    bad = arr.ravel()[:1].tolist() if arr.dtype.kind != "f" else \
        arr[~(np.isfinite(arr) & (arr == np.floor(arr)))].ravel()[:1].tolist()
    raise ConfigError(f"{name}: expected whole-number step indices, got {bad[0] if bad else arr!r}")


def shift_jobs(intensity_g_per_kwh: npt.ArrayLike, pue: npt.ArrayLike, *, energy_j: npt.ArrayLike,
               submit_index: npt.ArrayLike, job_steps: npt.ArrayLike, deadline_index: npt.ArrayLike,
               here: npt.ArrayLike) -> BatchShift:
    """Shift many jobs at once in time and space.

    ``intensity_g_per_kwh``: (regions, steps); ``pue``: (regions,); per job:
    ``energy_j`` (IT energy), ``submit_index`` (earliest start step),
    ``job_steps`` (length, whole steps >= 1), ``deadline_index`` (exclusive
    step by which it must have finished) and ``here`` (its home region index).
    The chosen start minimises PUE × window-mean intensity over every region
    and every start in [submit, deadline − length]; ties go to the earliest
    start, then the lowest region index.  Baseline: home region, start at
    submit.
    """
    ci = _floats("intensity_g_per_kwh", intensity_g_per_kwh)
    if ci.ndim != 2 or ci.size == 0:
        raise ConfigError("intensity_g_per_kwh: expected a (regions, steps) array")
    if not np.all(np.isfinite(ci)) or np.any(ci < 0):
        raise ConfigError("intensity_g_per_kwh: intensities must be finite and >= 0")
    n_regions, n_steps = ci.shape
    p = _floats("pue", pue)
    if p.shape != (n_regions,) or not np.all(p >= 1.0) or not np.all(np.isfinite(p)):
        raise ConfigError(f"pue: expected {n_regions} finite PUE values >= 1")
    e = _floats("energy_j", energy_j)
    s = _whole("submit_index", submit_index)
    length = _whole("job_steps", job_steps)
    d = _whole("deadline_index", deadline_index)
    h = _whole("here", here)
    n_jobs = e.shape[0] if e.ndim == 1 else -1
    if any(a.shape != (n_jobs,) for a in (e, s, length, d, h)):
        raise ConfigError("jobs: energy_j, submit_index, job_steps, deadline_index and here must be "
                          "1-D arrays of one length")
    if np.any(e < 0) or not np.all(np.isfinite(e)):
        raise ConfigError("energy_j: expected finite energies >= 0")
    if np.any(length < 1) or np.any(s < 0) or np.any(s + length > d) or np.any(d > n_steps):
        raise ConfigError(f"jobs: need job_steps >= 1 and 0 <= submit_index, "
                          f"submit_index + job_steps <= deadline_index <= {n_steps}")
    if np.any(h < 0) or np.any(h >= n_regions):
        raise ConfigError(f"here: expected region indices in [0, {n_regions})")

    region_out = np.empty(n_jobs, dtype=np.int64)
    start_out = np.empty(n_jobs, dtype=np.int64)
    best_ci = np.empty(n_jobs, dtype=np.float64)
    base_ci = np.empty(n_jobs, dtype=np.float64)
    with np.errstate(over="ignore"):
        csum = np.concatenate((np.zeros((n_regions, 1)), np.cumsum(ci, axis=1)), axis=1)
    if not np.all(np.isfinite(csum[:, -1])):
        raise ConfigError("intensity_g_per_kwh: the series' sums overflow a float (intensities near 1.8e308); "
                          "expected intensities a window can add up")
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused below, by job
        order = np.argsort(length, kind="stable")
        lengths, first = np.unique(length[order], return_index=True)
        bounds = [*first.tolist(), n_jobs]
        for j, L in enumerate(lengths.tolist()):
            idx = order[bounds[j]:bounds[j + 1]]
            n_windows = n_steps - L + 1
            means = (csum[:, L:L + n_windows] - csum[:, :n_windows]) / L  # (regions, windows)
            cost = means * p[:, None]
            best_region = np.argmin(cost, axis=0)  # lowest region index on ties
            best_cost = cost[best_region, np.arange(n_windows)]
            mins, args = _sparse_table(best_cost)
            lo, hi = s[idx], d[idx] - L
            start = _range_argmin(mins, args, lo, hi)
            start_out[idx] = start
            region_out[idx] = best_region[start]
            best_ci[idx] = best_cost[start]
            base_ci[idx] = cost[h[idx], lo]
        scale = e / J_PER_KWH
        co2e, base = scale * best_ci, scale * base_ci
    if not (np.all(np.isfinite(co2e)) and np.all(np.isfinite(base))):
        bad = int(np.flatnonzero(~(np.isfinite(co2e) & np.isfinite(base)))[0])
        raise ConfigError(f"energy_j: job {bad}'s CO2e overflows a float (energy_j {e[bad]:.3g} J × PUE × "
                          "intensity); expected smaller energies")
    return BatchShift(region_index=region_out, start_index=start_out, co2e_g=co2e, baseline_co2e_g=base)

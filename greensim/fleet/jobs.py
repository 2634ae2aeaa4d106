"""Jobs: a section of :mod:`greensim.fleet` (its docstring tells the whole story)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from greenbench.errors import ConfigError
from greensim.fleet.keys import _N_METRICS, BLOCK_JOBS, FloatArray, IntArray
from greensim.fleet.spec import FleetSpec
from greensim.fleet.tables import _TABLES_KEEP, _TABLES_LOCK, _Model, _Tables, _tables


@dataclass(frozen=True, slots=True)
class _Jobs:
    energy_kwh: FloatArray
    length: IntArray
    submit: IntArray
    home: IntArray
    deadline: IntArray


def _rng(seed: int, block: int, attribute: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block, attribute))))


class _HourSampler:
    """``np.searchsorted(cdf, v, side="right")`` over a submit-hour CDF, bit-for-bit, in O(1) per job.

    A binary search per job over the 8,760-entry CDF was the largest part of a synthetic job's cost
    (``python bench/bench_fleet.py --profile``).  Here ``v``'s bucket (of ``4 × len(cdf)``
    equal buckets) gives a start index no greater than the answer (the answer at the bucket one
    below), and a few vectorised steps move every index forward while ``cdf[i] <= v``; the count of
    entries ``<= v`` is exactly what searchsorted returns.  Stragglers after :attr:`MAX_STEPS`
    steps (only with extreme weight ratios) are finished by searchsorted itself.
    """

    MAX_STEPS = 8

    def __init__(self, cdf: FloatArray) -> None:
        self.cdf = cdf
        self.total = float(cdf[-1])
        nb = 4 * cdf.size
        self.scale = nb / self.total
        edges = (np.arange(nb + 1, dtype=np.float64) - 1.0) * (self.total / nb)
        self.start = np.searchsorted(cdf, edges, side="right")
        self.start[0] = 0
        self.padded = np.append(cdf, np.inf)  # index len(cdf) is never <= v
        self.n_buckets = nb

    def index(self, v: FloatArray) -> IntArray:
        b = (v * self.scale).astype(np.intp)
        np.minimum(b, self.n_buckets, out=b)
        i = self.start[b]
        for _ in range(self.MAX_STEPS):
            step = self.padded[i] <= v
            if not step.any():
                return i
            i += step
        late = np.flatnonzero(self.padded[i] <= v)
        i[late] = np.searchsorted(self.cdf, v[late], side="right")
        return i


_HOUR_SAMPLERS: dict[tuple[int, int, tuple[float, ...]], _HourSampler] = {}


def _choice(rng: np.random.Generator, p: Sequence[float], n: int) -> IntArray:
    """``rng.choice(len(p), n, p=p)`` bit for bit: numpy's own method (one uniform draw per job against
    the CDF of ``p``, normalised by its last entry), with the binary search replaced by counting the CDF
    entries <= u, a few vector passes for a few regions or deadlines (≈4× faster for 5 values).
    tests/greensim/fleet/test_fleet.py checks the jobs against ``rng.choice`` itself."""
    cdf = np.asarray(p, dtype=np.float64).cumsum()
    cdf /= cdf[-1]
    u = rng.random(n)
    idx = np.zeros(n, dtype=np.int64)
    for c in cdf[:-1].tolist():
        idx += u >= c
    return idx


def _hour_sampler(lo: int, hi: int, weights: tuple[float, ...]) -> _HourSampler:
    """The submit-hour sampler for hours [lo, hi) weighted by ``weights[hour % 24]`` (cached per process)."""
    key = (lo, hi, weights)
    with _TABLES_LOCK:
        sampler = _HOUR_SAMPLERS.get(key)
        if sampler is None:
            w = np.asarray(weights)[np.arange(lo, hi) % 24]
            if not w.sum() > 0:
                raise ConfigError(f"submit.hour_weights: every hour in [{lo}, {hi}) has weight 0")
            sampler = _HourSampler(np.cumsum(w))
            while len(_HOUR_SAMPLERS) >= _TABLES_KEEP:
                _HOUR_SAMPLERS.pop(next(iter(_HOUR_SAMPLERS)))
            _HOUR_SAMPLERS[key] = sampler
        return sampler


def synthetic_block(spec: FleetSpec, block: int, n_steps: int = 8760) -> _Jobs:
    """The jobs of block ``block`` (a pure function of the spec, the seed and the block index)."""
    n = min(BLOCK_JOBS, spec.jobs - block * BLOCK_JOBS)
    if n <= 0:
        raise ConfigError(f"block: {block} is past the fleet's {spec.jobs} jobs")
    seed = spec.seed
    raw_len = spec.duration_h.sample(_rng(seed, block, 0), n)
    length = np.clip(np.ceil(raw_len), 1, spec.max_duration_h).astype(np.int64)
    if spec.energy_kwh is not None:
        energy = spec.energy_kwh.sample(_rng(seed, block, 1), n)
    else:
        assert spec.power_kw is not None
        energy = spec.power_kw.sample(_rng(seed, block, 1), n) * length
    lo = spec.submit_start_h
    hi = min(n_steps, spec.submit_end_h if spec.submit_end_h is not None else n_steps)
    if lo >= hi:
        raise ConfigError(f"submit: start_h {lo} is past the {n_steps}-hour series")
    rs = _rng(seed, block, 2)
    if spec.hour_weights is None:
        submit = rs.integers(lo, hi, n, dtype=np.int64)
    else:  # P(hour) ∝ hour_weights[hour % 24] over [lo, hi)
        sampler = _hour_sampler(lo, hi, spec.hour_weights)
        submit = np.minimum(sampler.index(rs.random(n) * sampler.total), hi - lo - 1) + lo
    np.minimum(submit, n_steps - length, out=submit)
    n_regions = len(spec.regions)
    rh = _rng(seed, block, 3)
    home = (_choice(rh, spec.home_weights, n) if spec.home_weights is not None
            else rh.integers(0, n_regions, n, dtype=np.int64)).astype(np.int64)
    n_dl = len(spec.deadlines_h)
    rd = _rng(seed, block, 4)
    deadline = (np.zeros(n, dtype=np.int64) if n_dl == 1 else _choice(rd, spec.deadline_p, n)
                if spec.deadline_p is not None else rd.choice(n_dl, n).astype(np.int64))
    return _Jobs(energy, length, submit, home, deadline)


def _block_sums(tab: _Tables, jobs: _Jobs) -> FloatArray:
    """(metrics, regions) sums of one block; fixed order, so the same block always gives the same bits."""
    r, lmax, t = tab.n_regions, tab.max_len, tab.n_steps
    e, h, d = jobs.energy_kwh, jobs.home, jobs.deadline
    row = (jobs.length - 1) * t + jobs.submit
    plane = lmax * t
    base = np.take(tab.a, h * plane + row)
    temporal = np.take(tab.tm, (d * r + h) * plane + row)
    geo = np.take(tab.g, row)
    geo_r = np.take(tab.gi, row).astype(np.int64)
    ib = d * plane + row
    both = np.take(tab.bm, ib)
    both_r = np.take(tab.bmi, ib).astype(np.int64)
    out = np.empty((_N_METRICS, r))
    out[0] = np.bincount(h, minlength=r)
    out[1] = np.bincount(h, e, r)
    out[2] = np.bincount(h, e * base, r)
    out[3] = np.bincount(h, e * temporal, r)
    out[4] = np.bincount(h, e * geo, r)
    out[5] = np.bincount(h, e * both, r)
    out[6] = np.bincount(geo_r, minlength=r)
    out[7] = np.bincount(geo_r, e * geo, r)
    out[8] = np.bincount(both_r, minlength=r)
    out[9] = np.bincount(both_r, e * both, r)
    return out


def _synthetic_partition(model: _Model, spec: FleetSpec, first_block: int, n_blocks: int) -> FloatArray:
    """One task: (blocks, metrics, regions) sums of ``n_blocks`` blocks from ``first_block``."""
    tab = _tables(model)
    out = np.empty((n_blocks, _N_METRICS, tab.n_regions))
    for i in range(n_blocks):
        out[i] = _block_sums(tab, synthetic_block(spec, first_block + i, tab.n_steps))
    return out


def _jobs_partition(model: _Model, jobs: _Jobs) -> FloatArray:
    """One task over jobs read from a file: split into blocks of :data:`BLOCK_JOBS` rows."""
    tab = _tables(model)
    n = jobs.energy_kwh.shape[0]
    n_blocks = -(-n // BLOCK_JOBS)
    out = np.empty((n_blocks, _N_METRICS, tab.n_regions))
    for i in range(n_blocks):
        sl = slice(i * BLOCK_JOBS, (i + 1) * BLOCK_JOBS)
        out[i] = _block_sums(tab, _Jobs(jobs.energy_kwh[sl], jobs.length[sl], jobs.submit[sl], jobs.home[sl],
                                        jobs.deadline[sl]))
    return out

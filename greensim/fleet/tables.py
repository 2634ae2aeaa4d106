"""Tables: a section of :mod:`greensim.fleet` (its docstring tells the whole story)."""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from greenbench.errors import ConfigError
from greensim.fleet.keys import FloatArray
from greensim.fleet.spec import FleetSpec


@dataclass(frozen=True, eq=False)
class _Model:
    """What a worker needs to build its tables: intensities (regions × hours), PUE, limits."""

    ci: FloatArray
    pue: FloatArray
    max_len: int
    deadlines_h: tuple[float, ...]
    key: str = ""

    @classmethod
    def of(cls, spec: FleetSpec) -> _Model:
        from greensim.hourly import hourly_series

        series = [hourly_series(r) for r in spec.regions]
        first = series[0]
        for s in series[1:]:
            if s.start_utc != first.start_utc or len(s) != len(first) or s.step_min != first.step_min:
                raise ConfigError(f"regions: {s.region} and {first.region} series do not cover the same hours")
        ci = np.stack([s.intensity_g_per_kwh for s in series]).astype(np.float64)
        pue = np.asarray(spec._pue(), dtype=np.float64)
        h = hashlib.sha256(ci.tobytes())
        h.update(pue.tobytes())
        h.update(repr((spec.max_duration_h, spec.deadlines_h)).encode())
        return cls(ci, pue, spec.max_duration_h, tuple(spec.deadlines_h), h.hexdigest())


@dataclass(frozen=True, eq=False)
class _Tables:
    n_regions: int
    max_len: int
    n_steps: int
    a: FloatArray     # (R, Lmax, T): PUE × window-mean intensity; +inf where the job would not fit
    tm: FloatArray    # (D, R, Lmax, T): min of ``a`` over the job's start window
    g: FloatArray     # (Lmax, T): min over regions of ``a``
    gi: npt.NDArray[np.int8]   # its region
    bm: FloatArray    # (D, Lmax, T): min of ``g`` over the start window
    bmi: npt.NDArray[np.int8]  # its region (earliest start on ties)


def _window_min(x: FloatArray, w: int, arg: npt.NDArray[np.int8] | None = None
                ) -> tuple[FloatArray, npt.NDArray[np.int8] | None]:
    """min over [i, i + w) along the last axis (inf past the end), by doubling; earliest wins ties."""
    t = x.shape[-1]
    m = np.concatenate((x, np.full((*x.shape[:-1], w), np.inf)), axis=-1)
    a = None if arg is None else np.concatenate((arg, np.zeros((*arg.shape[:-1], w), arg.dtype)), axis=-1)
    span = 1
    while span * 2 <= w:
        n = m.shape[-1] - span
        left, right = m[..., :n], m[..., span:span + n]
        take = right < left
        if a is not None:
            a = np.where(take, a[..., span:span + n], a[..., :n])
        m = np.where(take, right, left)
        span *= 2
    off = w - span
    left, right = m[..., :t], m[..., off:off + t]
    take = right < left
    out_a = None if a is None else np.where(take, a[..., off:off + t], a[..., :t])
    return np.where(take, right, left), out_a


def _slack_steps(deadline_h: float, length: int) -> int:
    return max(0, math.floor(deadline_h - length + 1e-9))


def _build_tables(model: _Model) -> _Tables:
    ci, pue, lmax = model.ci, model.pue, model.max_len
    r, t = ci.shape
    d = len(model.deadlines_h)
    csum = np.concatenate((np.zeros((r, 1)), np.cumsum(ci, axis=1)), axis=1)
    a = np.full((r, lmax, t), np.inf)
    tm = np.empty((d, r, lmax, t))
    g = np.empty((lmax, t))
    gi = np.empty((lmax, t), dtype=np.int8)
    bm = np.empty((d, lmax, t))
    bmi = np.empty((d, lmax, t), dtype=np.int8)
    for length in range(1, min(lmax, t) + 1):
        n_windows = t - length + 1
        means = (csum[:, length:length + n_windows] - csum[:, :n_windows]) / length  # as shift_jobs
        a[:, length - 1, :n_windows] = means * pue[:, None]
        row = a[:, length - 1, :]
        g[length - 1] = row.min(axis=0)
        gi[length - 1] = row.argmin(axis=0)  # lowest region index on ties
        for k, deadline in enumerate(model.deadlines_h):
            w = _slack_steps(deadline, length) + 1
            tm[k, :, length - 1, :] = _window_min(row, w)[0]
            bm[k, length - 1], arg = _window_min(g[length - 1], w, gi[length - 1])
            assert arg is not None
            bmi[k, length - 1] = arg
    if lmax > t:
        tm[:, :, t:, :] = np.inf
        g[t:], gi[t:], bm[:, t:], bmi[:, t:] = np.inf, 0, np.inf, 0
    return _Tables(r, lmax, t, a, tm, g, gi, bm, bmi)


_TABLES: dict[str, _Tables] = {}
_TABLES_LOCK = threading.Lock()
_TABLES_KEEP = 4


def _tables(model: _Model) -> _Tables:
    """The model's tables, built once per process (a small cache: sweeps alternate models)."""
    with _TABLES_LOCK:
        tab = _TABLES.get(model.key)
        if tab is None:
            tab = _build_tables(model)
            while len(_TABLES) >= _TABLES_KEEP:
                _TABLES.pop(next(iter(_TABLES)))
            _TABLES[model.key] = tab
        return tab

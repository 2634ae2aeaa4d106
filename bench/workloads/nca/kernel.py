"""The NCA inference step as a Numba kernel on plain float32 arrays.

Layout: state ``(H, W, 12)`` (HWC, each cell's channels contiguous), mask
``(H, W)`` of 0/1, MLP weights ``w1 (48, 96)``, ``b1 (96,)``, ``w2 (96, 12)``
(see :class:`bench.workloads.nca.model.NCAWeights`).  One step computes, for
every cell, the perception vector (identity, Sobel x, Sobel y, Laplacian per
channel, circular boundary), the MLP, and ``out = state + Δ·mask``, exactly
the arithmetic of :meth:`TextureNCA.forward`, so the two agree to float32
rounding.

The grid is split into blocks of whole rows (about :data:`BLOCK_CELLS`
cells), run in parallel with ``prange``.  Per block, the perception vectors
of its cells are gathered into an ``(M, 48)`` matrix and the MLP runs as two
matrix products (``np.dot`` → BLAS sgemm), which is where the time goes
(5,760 of the ~6,000 MACs per cell): the dense kernel is as fast as the BLAS
sgemm it calls (see ``bench/bench_nca_kernel.py``, and the OpenBLAS core type
it reports).

Two kernels, because skipping is a fairness choice:

- :func:`step_all` computes Δ for every cell and multiplies by the mask, as
  the torch model does (same work as torch eager / ``torch.compile``);
- :func:`step_skip` computes Δ only for cells whose mask fires (about half of
  them at fire rate 0.5) and copies the others, which torch's dense
  convolutions cannot do.

Kernels take plain arrays and numbers only; :func:`run` validates at the
boundary.  Compiled with ``cache=True`` so later processes skip most of the
JIT cost; call :func:`warm_up` outside any timed region.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numba
import numpy as np
from numba import njit, prange

from greenbench.errors import ConfigError

from .model import CHANNELS, HIDDEN, PERCEPTION, NCAWeights

# float32 constants keep the arithmetic in float32, like torch's (a float64 literal would promote)
_ZERO = np.float32(0.0)
_TWO = np.float32(2.0)
_TWELVE = np.float32(12.0)
#: cells per block in :func:`step_all` (whole rows): perception (48 floats/cell) and hidden (96) of a
#: block take 288 KiB, inside one core's L2, and each sgemm gets M = 768 rows instead of one grid row
BLOCK_CELLS = 768


@njit(cache=True, inline="always")
def _perceive_cell(state, y, x, ym, yp, xm, xp, row, r):  # noqa: PLR0917  # pragma: no cover
    """Perception vector of cell (y, x) into ``row[r, :]``, channel-major (4c + f).

    Each filter is written as torch's cross-correlation of the filter taps
    (``perception_filters()``), summed in a fixed order.
    """
    n_ch = state.shape[2]
    for c in range(n_ch):
        nw = state[ym, xm, c]
        n = state[ym, x, c]
        ne = state[ym, xp, c]
        w = state[y, xm, c]
        s0 = state[y, x, c]
        e = state[y, xp, c]
        sw = state[yp, xm, c]
        s = state[yp, x, c]
        se = state[yp, xp, c]
        row[r, 4 * c] = s0
        row[r, 4 * c + 1] = (ne - nw) + _TWO * (e - w) + (se - sw)
        row[r, 4 * c + 2] = (sw + _TWO * s + se) - (nw + _TWO * n + ne)
        row[r, 4 * c + 3] = (nw + ne + sw + se) + _TWO * (n + w + e + s) - _TWELVE * s0


@njit(cache=True, inline="always")
def _perceive_row(state, y, perc, r0):  # pragma: no cover
    """Perception vectors of row ``y`` into ``perc[r0 + x, :]``; neighbours without ``%`` per cell."""
    height, width = state.shape[0], state.shape[1]
    ym = y - 1 if y > 0 else height - 1
    yp = y + 1 if y < height - 1 else 0
    for x in range(width):
        xm = x - 1 if x > 0 else width - 1
        xp = x + 1 if x < width - 1 else 0
        _perceive_cell(state, y, x, ym, yp, xm, xp, perc, r0 + x)


@njit(parallel=True, cache=True)
def step_all(state, mask, w1, b1, w2, out):  # noqa: PLR0917  # pragma: no cover
    """One NCA step for every cell: ``out = state + MLP(perceive(state)) * mask``.

    Rows are taken :data:`BLOCK_CELLS` cells at a time (whole rows), so each
    of the two matrix products is one sgemm over the block, and the block's
    perception / hidden matrices stay in L2 between them.
    """
    height, width, n_ch = state.shape
    n_hidden = w1.shape[1]
    n_perc = w1.shape[0]
    rows = max(1, min(height, BLOCK_CELLS // width))
    n_blocks = (height + rows - 1) // rows
    for blk in prange(n_blocks):
        y0 = blk * rows
        y1 = min(height, y0 + rows)
        m = (y1 - y0) * width
        perc = np.empty((m, n_perc), dtype=np.float32)
        hid = np.empty((m, n_hidden), dtype=np.float32)
        dlt = np.empty((m, n_ch), dtype=np.float32)
        for y in range(y0, y1):
            _perceive_row(state, y, perc, (y - y0) * width)
        np.dot(perc, w1, hid)
        for i in range(m):
            for j in range(n_hidden):
                v = hid[i, j] + b1[j]
                hid[i, j] = v if v > _ZERO else _ZERO
        np.dot(hid, w2, dlt)
        for y in range(y0, y1):
            r0 = (y - y0) * width
            for x in range(width):
                mk = mask[y, x]
                for c in range(n_ch):
                    out[y, x, c] = state[y, x, c] + dlt[r0 + x, c] * mk


@njit(parallel=True, cache=True)
def step_skip(state, mask, w1, b1, w2, out):  # noqa: PLR0917  # pragma: no cover
    """One NCA step computing the MLP only where ``mask`` fires; other cells are copied."""
    height, width, n_ch = state.shape
    n_hidden = w1.shape[1]
    n_perc = w1.shape[0]
    for y in prange(height):
        ym = (y - 1) % height
        yp = (y + 1) % height
        idx = np.empty(width, dtype=np.int64)
        n_fire = 0
        for x in range(width):
            if mask[y, x] != 0.0:
                idx[n_fire] = x
                n_fire += 1
            else:
                for c in range(n_ch):
                    out[y, x, c] = state[y, x, c]
        if n_fire == 0:
            continue
        perc = np.empty((n_fire, n_perc), dtype=np.float32)
        hid = np.empty((n_fire, n_hidden), dtype=np.float32)
        dlt = np.empty((n_fire, n_ch), dtype=np.float32)
        for r in range(n_fire):
            x = idx[r]
            _perceive_cell(state, y, x, ym, yp, x - 1 if x > 0 else width - 1, x + 1 if x < width - 1 else 0,
                           perc, r)
        np.dot(perc, w1, hid)
        for r in range(n_fire):
            for j in range(n_hidden):
                v = hid[r, j] + b1[j]
                hid[r, j] = v if v > _ZERO else _ZERO
        np.dot(hid, w2, dlt)
        for r in range(n_fire):
            x = idx[r]
            m = mask[y, x]
            for c in range(n_ch):
                out[y, x, c] = state[y, x, c] + dlt[r, c] * m


def _check(state: np.ndarray, masks: np.ndarray, weights: NCAWeights) -> None:
    if not isinstance(state, np.ndarray) or state.ndim != 3 or state.shape[2] != CHANNELS:
        got = getattr(state, "shape", type(state).__name__)
        raise ConfigError(f"nca kernel state: expected a float32 array (H, W, {CHANNELS}), got {got}")
    if state.shape[0] < 3 or state.shape[1] < 3:
        raise ConfigError(f"nca kernel state: grid must be at least 3×3 for 3×3 filters, got {state.shape[:2]}")
    if not isinstance(masks, np.ndarray) or masks.ndim != 3 or masks.shape[1:] != state.shape[:2]:
        got = getattr(masks, "shape", type(masks).__name__)
        raise ConfigError(f"nca kernel masks: expected (steps, {state.shape[0]}, {state.shape[1]}), got {got}")
    if weights.w1.shape != (PERCEPTION, HIDDEN):  # NCAWeights checks; keep the kernel's contract local
        raise ConfigError(f"nca kernel weights.w1: expected {(PERCEPTION, HIDDEN)}, got {weights.w1.shape}")


_blas_controller: Any = None


def _one_blas_thread() -> AbstractContextManager[Any]:
    """BLAS limited to one thread while the kernels run: they already split rows over
    Numba's threads, and a threaded BLAS inside them oversubscribes the cores (measured
    here with 2 threads at 256²: 77 -> 140 steps/s, and OpenBLAS warns "Detect OpenMP
    Loop").  No-op without threadpoolctl."""
    global _blas_controller
    if _blas_controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
            return nullcontext()
        import scipy.linalg.cython_blas  # noqa: F401  the BLAS Numba's np.dot calls: load before probing

        _blas_controller = ThreadpoolController()
    return _blas_controller.limit(limits=1, user_api="blas")


def run(state: np.ndarray, masks: np.ndarray, weights: NCAWeights, *, skip: bool = False) -> np.ndarray:
    """Run ``len(masks)`` steps from ``state`` (H, W, 12); returns the final state (a new array).

    ``masks[t]`` is step ``t``'s update mask (0/1), as drawn by
    :func:`bench.workloads.nca.model.draw_masks`.
    """
    _check(state, masks, weights)
    kernel = step_skip if skip else step_all
    cur = np.ascontiguousarray(state, dtype=np.float32).copy()
    nxt = np.empty_like(cur)
    masks32 = np.ascontiguousarray(masks, dtype=np.float32)
    with _one_blas_thread():
        for t in range(masks32.shape[0]):
            kernel(cur, masks32[t], weights.w1, weights.b1, weights.w2, nxt)
            cur, nxt = nxt, cur
    return cur


def snapshots(state: np.ndarray, masks: np.ndarray, weights: NCAWeights, at: Sequence[int],
              *, skip: bool = False) -> list[np.ndarray]:
    """States (H, W, 12) after each step count in ``at`` (ascending, <= len(masks)); 0 is the input."""
    marks = sorted(set(int(a) for a in at))
    if marks and (marks[0] < 0 or marks[-1] > len(masks)):
        raise ConfigError(f"nca snapshots: step counts must lie in [0, {len(masks)}], got {marks}")
    out, cur, done = [], np.ascontiguousarray(state, dtype=np.float32), 0
    for mark in marks:
        if mark > done:
            cur = run(cur, masks[done:mark], weights, skip=skip)
            done = mark
        out.append(cur.copy())
    return out


def warm_up() -> None:
    """Compile (or load from cache) both kernels on a tiny grid."""
    rng = np.random.default_rng(0)
    state = rng.standard_normal((4, 4, CHANNELS)).astype(np.float32)
    masks = np.ones((1, 4, 4), dtype=np.float32)
    w = NCAWeights(np.zeros((PERCEPTION, HIDDEN), np.float32), np.zeros(HIDDEN, np.float32),
                   np.zeros((HIDDEN, CHANNELS), np.float32))
    run(state, masks, w, skip=False)
    run(state, masks, w, skip=True)


def nchw_to_hwc(x: np.ndarray) -> np.ndarray:
    """One state (1, C, H, W) or (C, H, W) in torch layout -> (H, W, C) contiguous."""
    arr = x[0] if x.ndim == 4 else x
    return np.ascontiguousarray(np.moveaxis(arr, 0, -1), dtype=np.float32)


def hwc_to_nchw(x: np.ndarray) -> np.ndarray:
    """(H, W, C) -> (1, C, H, W) contiguous, for torch."""
    return np.ascontiguousarray(np.moveaxis(x, -1, 0)[None], dtype=np.float32)


def threads() -> int:
    """Numba's thread count for ``prange`` (recorded next to benchmark results)."""
    return int(numba.get_num_threads())

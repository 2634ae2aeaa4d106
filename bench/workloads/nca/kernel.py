"""The NCA inference step as a Numba kernel on plain float32 arrays.

Layout: state ``(H, W, 12)`` (HWC, each cell's channels contiguous), mask
``(H, W)`` of 0/1, MLP weights ``w1 (48, 96)``, ``b1 (96,)``, ``w2 (96, 12)``
(see :class:`bench.workloads.nca.model.NCAWeights`).  One step computes, for
every cell, the perception vector (identity, Sobel x, Sobel y, Laplacian per
channel, circular boundary), the MLP, and ``out = state + Δ·mask``, exactly
the arithmetic of :meth:`TextureNCA.forward`, so the two agree to float32
rounding.

The grid's rows run in parallel with ``prange``.  Per row, the perception
vectors are gathered into a ``(W, 48)`` matrix, and the MLP (5,760 of the
~6,000 MACs per cell) runs in a register-blocked micro-kernel written with
16-lane float32 vectors (:mod:`llvmlite` intrinsics: ``<16 x float>``
loads, broadcasts and ``llvm.fma``): two cells at a time, their 2 × 96
hidden units held in 12 vector registers while the 48 inputs stream past,
ReLU, then the 96 → 12 layer against ``w2`` padded to 16 columns, with
four partial sums per cell to hide the FMA latency.  The first version
called BLAS sgemm per row (``np.dot``) and was as fast as the sgemm it got;
this host's environment pins OpenBLAS to its AVX2 kernels
(``OPENBLAS_CORETYPE=Haswell``), and the micro-kernel, compiled by LLVM for
the host (AVX-512 here, two AVX2 halves elsewhere), runs the MLP at about
1.7× that sgemm's rate (``bench/bench_nca_kernel.py``).  FMA rounding and a
different summation order than torch's keep the two within float32
rounding (the tests require 1e-5 over 100 steps).

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
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

from greenbench.errors import ConfigError

from .model import CHANNELS, HIDDEN, N_FILTERS, PERCEPTION, NCAWeights

# float32 constants keep the arithmetic in float32, like torch's (a float64 literal would promote)
_ZERO = np.float32(0.0)
_TWO = np.float32(2.0)
_TWELVE = np.float32(12.0)
#: the micro-kernel's shape: 16 float32 lanes; 96 hidden units = 6 vectors; 12 channels padded to 16
LANES = 16
_KERNEL_SHAPE = (48, 96, 12)  # (PERCEPTION, HIDDEN, CHANNELS) the micro-kernel is written for

_VT = ir.VectorType(ir.FloatType(), LANES)


class _F32x16(types.Type):
    """A ``<16 x float>`` SSA value: kept in a vector register by LLVM."""

    def __init__(self) -> None:
        super().__init__(name="f32x16")


f32x16 = _F32x16()


@register_model(_F32x16)
class _F32x16Model(models.PrimitiveModel):
    def __init__(self, dmm: Any, fe_type: Any) -> None:
        super().__init__(dmm, fe_type, _VT)


def _vptr(context: Any, builder: Any, aryty: Any, ary: Any, idx: Any) -> Any:
    """Pointer to 16 floats at flat index ``idx`` of a C-contiguous float32 array."""
    a = context.make_array(aryty)(context, builder, ary)
    return builder.bitcast(builder.gep(a.data, [idx]), _VT.as_pointer())


def _vload_typer(typingctx: Any, arr: Any, idx: Any) -> Any:  # pragma: no cover - compiled
    """16 floats from ``arr.flat[idx:idx + 16]`` (unaligned)."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.load(_vptr(context, builder, sig.args[0], args[0], args[1]), align=4)
    return f32x16(arr, idx), codegen


_vload: Any = intrinsic(_vload_typer)


def _vstore_typer(typingctx: Any, arr: Any, idx: Any, v: Any) -> Any:  # pragma: no cover - compiled
    """``arr.flat[idx:idx + 16] = v``."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        builder.store(args[2], _vptr(context, builder, sig.args[0], args[0], args[1]), align=4)
        return context.get_dummy_value()
    return types.none(arr, idx, v), codegen


_vstore: Any = intrinsic(_vstore_typer)


def _vbcast_typer(typingctx: Any, x: Any) -> Any:  # pragma: no cover - compiled
    """``x`` in every lane."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        undef = ir.Constant(_VT, ir.Undefined)
        v = builder.insert_element(undef, args[0], ir.Constant(ir.IntType(32), 0))
        return builder.shuffle_vector(v, undef, ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES))
    return f32x16(types.float32), codegen


_vbcast: Any = intrinsic(_vbcast_typer)


def _vzero_typer(typingctx: Any) -> Any:  # pragma: no cover - compiled
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return ir.Constant(_VT, [0.0] * LANES)
    return f32x16(), codegen


_vzero: Any = intrinsic(_vzero_typer)


def _vfma_typer(typingctx: Any, a: Any, b: Any, c: Any) -> Any:  # pragma: no cover - compiled
    """``a * b + c`` lane by lane, one rounding (``llvm.fma``)."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VT, [_VT, _VT, _VT]),
                                            "llvm.fma.v16f32")
        return builder.call(fn, list(args))
    return f32x16(f32x16, f32x16, f32x16), codegen


_vfma: Any = intrinsic(_vfma_typer)


def _vadd_typer(typingctx: Any, a: Any, b: Any) -> Any:  # pragma: no cover - compiled
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.fadd(args[0], args[1])
    return f32x16(f32x16, f32x16), codegen


_vadd: Any = intrinsic(_vadd_typer)


def _vsub_typer(typingctx: Any, a: Any, b: Any) -> Any:  # pragma: no cover - compiled
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.fsub(args[0], args[1])
    return f32x16(f32x16, f32x16), codegen


_vsub: Any = intrinsic(_vsub_typer)


def _vmul_typer(typingctx: Any, a: Any, b: Any) -> Any:  # pragma: no cover - compiled
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.fmul(args[0], args[1])
    return f32x16(f32x16, f32x16), codegen


_vmul: Any = intrinsic(_vmul_typer)


def _vrelu_typer(typingctx: Any, a: Any) -> Any:  # pragma: no cover - compiled
    """``a if a > 0 else 0`` lane by lane (as the scalar kernels had it)."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        zero = ir.Constant(_VT, [0.0] * LANES)
        return builder.select(builder.fcmp_ordered(">", args[0], zero), args[0], zero)
    return f32x16(f32x16), codegen


_vrelu: Any = intrinsic(_vrelu_typer)


@njit(cache=True, inline="always")
def _perceive_vec(state, y, x, ym, yp, xm, xp, perc, r):  # noqa: PLR0917  # pragma: no cover
    """Perception vector of cell (y, x), the 12 channels in one 16-lane vector, into ``perc[r, :48]``
    filter-major (``12f + c``; ``w1``'s rows permuted to match, :func:`permute_w1`).

    Each filter is written as torch's cross-correlation of the filter taps (``perception_filters()``),
    summed in a fixed order, lane by lane without FMA, so it rounds as torch does.  Each load reads 4
    floats past the cell (the next cell's, or the slack that :func:`run` allocates after the grid);
    each store writes 4 lanes of junk that the next store (or the unused columns 48-63 of ``perc``)
    takes."""
    width = state.shape[1]
    n_ch = state.shape[2]
    two = _vbcast(_TWO)
    twelve = _vbcast(_TWELVE)
    nw = _vload(state, (ym * width + xm) * n_ch)
    n = _vload(state, (ym * width + x) * n_ch)
    ne = _vload(state, (ym * width + xp) * n_ch)
    w = _vload(state, (y * width + xm) * n_ch)
    s0 = _vload(state, (y * width + x) * n_ch)
    e = _vload(state, (y * width + xp) * n_ch)
    sw = _vload(state, (yp * width + xm) * n_ch)
    s = _vload(state, (yp * width + x) * n_ch)
    se = _vload(state, (yp * width + xp) * n_ch)
    o = r * perc.shape[1]
    _vstore(perc, o, s0)
    _vstore(perc, o + 12, _vadd(_vadd(_vsub(ne, nw), _vmul(two, _vsub(e, w))), _vsub(se, sw)))
    _vstore(perc, o + 24, _vsub(_vadd(_vadd(sw, _vmul(two, s)), se), _vadd(_vadd(nw, _vmul(two, n)), ne)))
    _vstore(perc, o + 36, _vsub(_vadd(_vadd(_vadd(_vadd(nw, ne), sw), se),
                                      _vmul(two, _vadd(_vadd(_vadd(n, w), e), s))), _vmul(twelve, s0)))


@njit(cache=True, inline="always")
def _mlp_pairs(perc, n, w1, b1, w2p, hs, dout):  # noqa: PLR0917  # pragma: no cover
    """``dout[r, :16] = relu(perc[r] @ w1 + b1) @ w2p`` for rows ``r < n`` (``n`` even; ``perc`` has at
    least ``n`` rows), two rows at a time; ``w1`` (48, 96), ``b1`` (96,), ``w2p`` (96, 16) with
    columns 12-15 zero, all C-contiguous float32; ``hs`` a 192-float scratch."""
    for x in range(0, n, 2):
        a0 = _vload(b1, 0)
        a1 = _vload(b1, 16)
        a2 = _vload(b1, 32)
        a3 = _vload(b1, 48)
        a4 = _vload(b1, 64)
        a5 = _vload(b1, 80)
        c0, c1, c2, c3, c4, c5 = a0, a1, a2, a3, a4, a5
        for k in range(48):
            p0 = _vbcast(perc[x, k])
            p1 = _vbcast(perc[x + 1, k])
            o = k * 96
            w = _vload(w1, o)
            a0 = _vfma(p0, w, a0)
            c0 = _vfma(p1, w, c0)
            w = _vload(w1, o + 16)
            a1 = _vfma(p0, w, a1)
            c1 = _vfma(p1, w, c1)
            w = _vload(w1, o + 32)
            a2 = _vfma(p0, w, a2)
            c2 = _vfma(p1, w, c2)
            w = _vload(w1, o + 48)
            a3 = _vfma(p0, w, a3)
            c3 = _vfma(p1, w, c3)
            w = _vload(w1, o + 64)
            a4 = _vfma(p0, w, a4)
            c4 = _vfma(p1, w, c4)
            w = _vload(w1, o + 80)
            a5 = _vfma(p0, w, a5)
            c5 = _vfma(p1, w, c5)
        _vstore(hs, 0, _vrelu(a0))
        _vstore(hs, 16, _vrelu(a1))
        _vstore(hs, 32, _vrelu(a2))
        _vstore(hs, 48, _vrelu(a3))
        _vstore(hs, 64, _vrelu(a4))
        _vstore(hs, 80, _vrelu(a5))
        _vstore(hs, 96, _vrelu(c0))
        _vstore(hs, 112, _vrelu(c1))
        _vstore(hs, 128, _vrelu(c2))
        _vstore(hs, 144, _vrelu(c3))
        _vstore(hs, 160, _vrelu(c4))
        _vstore(hs, 176, _vrelu(c5))
        d0 = _vzero()
        d1 = _vzero()
        d2 = _vzero()
        d3 = _vzero()
        e0 = _vzero()
        e1 = _vzero()
        e2 = _vzero()
        e3 = _vzero()
        for j in range(0, 96, 4):
            w = _vload(w2p, j * 16)
            d0 = _vfma(_vbcast(hs[j]), w, d0)
            e0 = _vfma(_vbcast(hs[96 + j]), w, e0)
            w = _vload(w2p, j * 16 + 16)
            d1 = _vfma(_vbcast(hs[j + 1]), w, d1)
            e1 = _vfma(_vbcast(hs[97 + j]), w, e1)
            w = _vload(w2p, j * 16 + 32)
            d2 = _vfma(_vbcast(hs[j + 2]), w, d2)
            e2 = _vfma(_vbcast(hs[98 + j]), w, e2)
            w = _vload(w2p, j * 16 + 48)
            d3 = _vfma(_vbcast(hs[j + 3]), w, d3)
            e3 = _vfma(_vbcast(hs[99 + j]), w, e3)
        _vstore(dout, x * 16, _vadd(_vadd(d0, d1), _vadd(d2, d3)))
        _vstore(dout, x * 16 + 16, _vadd(_vadd(e0, e1), _vadd(e2, e3)))


@njit(parallel=True, cache=True)
def step_all(state, mask, w1f, b1, w2p, out):  # noqa: PLR0917  # pragma: no cover
    """One NCA step for every cell: ``out = state + MLP(perceive(state)) * mask``.

    ``w1f``: ``w1`` with its rows filter-major (:func:`permute_w1`); ``w2p``: ``w2`` padded to 16
    columns with zeros (:func:`pad_w2`); ``state`` must be followed in memory by 4 readable floats
    (:func:`_grid_buffers`)."""
    height, width, n_ch = state.shape
    n_even = width + (width & 1)
    for y in prange(height):
        ym = y - 1 if y > 0 else height - 1
        yp = y + 1 if y < height - 1 else 0
        perc = np.zeros((n_even, 64), dtype=np.float32)  # an odd row's last pair has a zero twin
        dout = np.empty((n_even, LANES), dtype=np.float32)
        hs = np.empty(192, dtype=np.float32)
        for x in range(width):
            xm = x - 1 if x > 0 else width - 1
            xp = x + 1 if x < width - 1 else 0
            _perceive_vec(state, y, x, ym, yp, xm, xp, perc, x)
        _mlp_pairs(perc, n_even, w1f, b1, w2p, hs, dout)
        for x in range(width):
            m = mask[y, x]
            for c in range(n_ch):
                out[y, x, c] = state[y, x, c] + dout[x, c] * m


@njit(parallel=True, cache=True)
def step_skip(state, mask, w1f, b1, w2p, out):  # noqa: PLR0917  # pragma: no cover
    """One NCA step computing the MLP only where ``mask`` fires; other cells are copied."""
    height, width, n_ch = state.shape
    for y in prange(height):
        ym = y - 1 if y > 0 else height - 1
        yp = y + 1 if y < height - 1 else 0
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
        n_even = n_fire + (n_fire & 1)
        perc = np.zeros((n_even, 64), dtype=np.float32)
        dout = np.empty((n_even, LANES), dtype=np.float32)
        hs = np.empty(192, dtype=np.float32)
        for r in range(n_fire):
            x = idx[r]
            _perceive_vec(state, y, x, ym, yp, x - 1 if x > 0 else width - 1, x + 1 if x < width - 1 else 0,
                          perc, r)
        _mlp_pairs(perc, n_even, w1f, b1, w2p, hs, dout)
        for r in range(n_fire):
            x = idx[r]
            m = mask[y, x]
            for c in range(n_ch):
                out[y, x, c] = state[y, x, c] + dout[r, c] * m


def permute_w1(w1: np.ndarray) -> np.ndarray:
    """``w1``'s rows from channel-major (``4c + f``, torch's order) to filter-major (``12f + c``), as
    :func:`_perceive_vec` writes the perception vector; C-contiguous float32."""
    order = [N_FILTERS * c + f for f in range(N_FILTERS) for c in range(CHANNELS)]
    return np.ascontiguousarray(np.asarray(w1, dtype=np.float32)[order])


def _grid_buffers(state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two (H, W, C) float32 grids, the first a copy of ``state``, each followed in memory by
    :data:`LANES` floats of slack for the 16-lane loads of the last cell."""
    size = state.size
    grids = []
    for _ in range(2):
        buf = np.zeros(size + LANES, dtype=np.float32)
        grids.append(buf[:size].reshape(state.shape))
    grids[0][...] = state
    return grids[0], grids[1]


def pad_w2(w2: np.ndarray) -> np.ndarray:
    """``w2`` (96, 12) as the micro-kernel reads it: (96, 16) C-contiguous float32, columns 12-15 zero."""
    w2p = np.zeros((w2.shape[0], LANES), dtype=np.float32)
    w2p[:, : w2.shape[1]] = w2
    return w2p


def _check(state: np.ndarray, masks: np.ndarray, weights: NCAWeights) -> None:
    if not isinstance(state, np.ndarray) or state.ndim != 3 or state.shape[2] != CHANNELS:
        got = getattr(state, "shape", type(state).__name__)
        raise ConfigError(f"nca kernel state: expected a float32 array (H, W, {CHANNELS}), got {got}")
    if state.shape[0] < 3 or state.shape[1] < 3:
        raise ConfigError(f"nca kernel state: grid must be at least 3×3 for 3×3 filters, got {state.shape[:2]}")
    if not isinstance(masks, np.ndarray) or masks.ndim != 3 or masks.shape[1:] != state.shape[:2]:
        got = getattr(masks, "shape", type(masks).__name__)
        raise ConfigError(f"nca kernel masks: expected (steps, {state.shape[0]}, {state.shape[1]}), got {got}")
    if (PERCEPTION, HIDDEN, CHANNELS) != _KERNEL_SHAPE:  # pragma: no cover - the model's constants
        raise ConfigError(f"nca kernel: the micro-kernel is written for (perception, hidden, channels) = "
                          f"{_KERNEL_SHAPE}, the model has {(PERCEPTION, HIDDEN, CHANNELS)}")
    if weights.w1.shape != (PERCEPTION, HIDDEN):  # NCAWeights checks; keep the kernel's contract local
        raise ConfigError(f"nca kernel weights.w1: expected {(PERCEPTION, HIDDEN)}, got {weights.w1.shape}")


_blas_controller: Any = None


def _one_blas_thread() -> AbstractContextManager[Any]:
    """BLAS limited to one thread.  The kernels no longer call BLAS; ``bench/bench_nca_kernel.py``
    uses this for the sgemm figure it reports.  (The previous, sgemm-based kernel split rows over
    Numba's threads, and a threaded BLAS inside them oversubscribed the cores: measured here with
    2 threads at 256², 77 -> 140 steps/s.)  No-op without threadpoolctl."""
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
    cur, nxt = _grid_buffers(np.asarray(state, dtype=np.float32))
    masks32 = np.ascontiguousarray(masks, dtype=np.float32)
    w1f = permute_w1(weights.w1)
    b1 = np.ascontiguousarray(weights.b1, dtype=np.float32)
    w2p = pad_w2(weights.w2)
    for t in range(masks32.shape[0]):
        kernel(cur, masks32[t], w1f, b1, w2p, nxt)
        cur, nxt = nxt, cur
    return cur.copy()  # a plain array, not a view of the padded buffer


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

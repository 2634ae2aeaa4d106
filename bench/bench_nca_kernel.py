"""The NCA's dense Numba step vs torch eager / ``torch.compile``, one thread, side by side (issue 26).

    python bench/bench_nca_kernel.py                       # 128² and 256², 20 steps, 7 interleaved cycles
    python bench/bench_nca_kernel.py --grids 128 --repeats 15
    env -u OPENBLAS_CORETYPE python bench/bench_nca_kernel.py  # OpenBLAS's own (AVX-512) choice

Backends, timed in interleaved cycles in one process, each on one thread
(Numba threads, torch intra-op threads and BLAS threads all 1):

- ``numba-before``  the dense kernel as of ``--baseline-rev`` (loaded from git), the "today" figure;
- ``numba``         the dense kernel now (:func:`bench.workloads.nca.kernel.step_all`);
- ``numba-skip``    the MLP only where the update mask fires (not the same work: shown beside);
- ``torch-eager``, ``torch-compile``  the reference model.

Each figure is the best cycle's CPU time (ms per step, ``time.process_time``;
everything runs on one thread, so CPU time is the step's own time, and other
processes on a shared machine inflate it far less than wall time).  Ratios are torch time ÷ Numba time, from the same
cycles.  Agreement is the largest |difference| from torch eager after the
run's steps (the tests require <= 1e-5 over 100 steps).

FMA peak (estimated, not a counter): FLOPs per step = 2 × MACs per cell ×
cells (the MLP and the perception filters, :func:`model.macs_per_cell`),
divided by the time, against two peaks: the nominal one, one core × the
clock in /proc/cpuinfo × SIMD lanes (16 fp32 with avx512f, 8 with avx2) × 2
FMA units × 2 FLOPs (the cpuinfo clock may be below the turbo clock, so
this fraction can exceed 100 %), and a measured one: 12 independent chains
of 16-lane FMAs on this core, the throughput the silicon delivers at the
clock it runs at.

The dense step's MLP is the kernel's own register-blocked micro-kernel
(16-lane vectors and ``llvm.fma``); the first version called BLAS sgemm
(``numba-before``) and was bounded by it.  The script prints the OpenBLAS core
type in use: this host's environment sets ``OPENBLAS_CORETYPE=Haswell``
(AVX2), which now only affects ``numba-before`` and the sgemm figure
(``env -u OPENBLAS_CORETYPE`` lets OpenBLAS pick its AVX-512 kernels).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

#: the last commit with the row-at-a-time dense kernel (issue 26's "today")
BASELINE_REV = "df2a2d6"
KERNEL_PATH = "bench/workloads/nca/kernel.py"
#: issue 26 goals, one thread: Numba dense >= 3× torch eager and >= 2.5× torch.compile
GOAL_VS_EAGER = 3.0
GOAL_VS_COMPILE = 2.5


def _load_baseline(rev: str) -> Any:
    """The kernel module as of ``rev`` (from git), imported under a private name."""
    try:
        src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{KERNEL_PATH}"], capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"bench_nca_kernel: --baseline-rev {rev}: cannot read {KERNEL_PATH} from git "
                         f"({exc})") from None
    src = src.replace("from .model import", "from bench.workloads.nca.model import")
    tmp = Path(tempfile.mkdtemp(prefix="nca_baseline_"))
    path = tmp / "nca_kernel_baseline.py"
    path.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("nca_kernel_baseline", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _cpu() -> tuple[str, float, int]:
    name, mhz = "?", math.nan
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, val = line.partition(":")
            key = key.strip()
            if key == "model name" and name == "?":
                name = val.strip()
            elif key == "cpu MHz" and math.isnan(mhz):
                mhz = float(val)
            elif key == "flags" and not flags:
                flags = set(val.split())
    except OSError:
        pass
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    return name, mhz, lanes


def _sgemm_rate() -> float:
    """numpy's single-thread sgemm on 2048² matrices (whatever BLAS core the environment selects)."""
    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    a @ a
    best = min(_time(lambda: a @ a) for _ in range(3))
    return 2 * 2048**3 / best


def _fma_peak() -> float:
    """This core's float32 FMA throughput, measured: 12 independent chains of 16-lane ``llvm.fma`` (the
    kernel's own vector intrinsics), enough to cover the FMA latency on two FMA pipes."""
    from numba import njit

    from bench.workloads.nca import kernel as K

    @njit(cache=False)
    def chains(n: int, src: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
        m = K._vload(src, 0)  # operands from memory, so LLVM cannot fold the chains at compile time
        c = K._vload(src, 16)
        a0 = K._vload(src, 32)
        a1 = K._vadd(a0, c)
        a2 = K._vadd(a1, c)
        a3 = K._vadd(a2, c)
        a4 = K._vadd(a3, c)
        a5 = K._vadd(a4, c)
        a6 = K._vadd(a5, c)
        a7 = K._vadd(a6, c)
        a8 = K._vadd(a7, c)
        a9 = K._vadd(a8, c)
        a10 = K._vadd(a9, c)
        a11 = K._vadd(a10, c)
        for _ in range(n):
            a0 = K._vfma(a0, m, c)
            a1 = K._vfma(a1, m, c)
            a2 = K._vfma(a2, m, c)
            a3 = K._vfma(a3, m, c)
            a4 = K._vfma(a4, m, c)
            a5 = K._vfma(a5, m, c)
            a6 = K._vfma(a6, m, c)
            a7 = K._vfma(a7, m, c)
            a8 = K._vfma(a8, m, c)
            a9 = K._vfma(a9, m, c)
            a10 = K._vfma(a10, m, c)
            a11 = K._vfma(a11, m, c)
        s = K._vadd(K._vadd(K._vadd(a0, a1), K._vadd(a2, a3)), K._vadd(K._vadd(a4, a5), K._vadd(a6, a7)))
        K._vstore(out, 0, K._vadd(s, K._vadd(K._vadd(a8, a9), K._vadd(a10, a11))))

    src = np.concatenate([np.full(16, 0.999), np.full(16, 1e-3), np.ones(16)]).astype(np.float32)
    out = np.zeros(16, dtype=np.float32)
    n = 20_000_000
    chains(10, src, out)
    best = min(_time(lambda: chains(n, src, out)) for _ in range(3))
    return n * 12 * 16 * 2 / best


def _time(fn: Callable[[], Any]) -> float:
    """CPU seconds of this process (everything runs on one thread, so this is the work's own time; other
    processes on a shared machine inflate it far less than wall time)."""
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--steps", type=int, default=20, help="steps per timed call (default 20)")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved cycles (default 7)")
    parser.add_argument("--baseline-rev", default=BASELINE_REV, help=f"git revision of the 'before' kernel "
                        f"(default {BASELINE_REV}); 'none' to skip")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    args = parser.parse_args(argv)

    import numba
    import threadpoolctl
    import torch

    from bench.workloads.nca import images
    from bench.workloads.nca import kernel as K
    from bench.workloads.nca import model as M

    numba.set_num_threads(1)
    torch.set_num_threads(1)
    weights, _ = images.load_checkpoint(Path(K.__file__).with_name("brick_64.npz"))
    before = None if args.baseline_rev == "none" else _load_baseline(args.baseline_rev)
    K.warm_up()
    if before is not None:
        before.warm_up()
    blas = [f"{i['internal_api']} {i.get('version')} core={i.get('architecture')}"
            for i in threadpoolctl.threadpool_info() if i["internal_api"] in ("openblas", "mkl", "blis")]
    name, mhz, lanes = _cpu()
    nominal = mhz * 1e6 * lanes * 2 * 2
    with K._one_blas_thread():
        sgemm = _sgemm_rate()
    practical = _fma_peak()
    print(f"cpu: {name}, cpuinfo {mhz:.0f} MHz, {lanes} fp32 lanes; one thread everywhere; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print(f"BLAS: {'; '.join(blas)}")
    print(f"peaks (estimated): nominal {nominal / 1e9:.0f} GFLOP/s (2 FMA units × {lanes} lanes × "
          f"{mhz:.0f} MHz from /proc/cpuinfo, below the turbo clock), measured {practical / 1e9:.0f} GFLOP/s "
          f"(12 chains of 16-lane FMAs on this core); numpy sgemm 2048² here: {sgemm / 1e9:.0f} GFLOP/s")
    macs = M.macs_per_cell()["total"]
    ok = True
    for grid in args.grids:
        rng = np.random.default_rng(grid)
        noise = M.seed_state(rng, 1, grid, grid)
        state = K.run(K.nchw_to_hwc(noise), M.draw_masks(rng, 64, grid, grid), weights)
        masks = M.draw_masks(rng, args.steps, grid, grid)
        model = M.model_from_weights(weights).eval()
        x0 = torch.from_numpy(K.hwc_to_nchw(state))
        masks_t = torch.from_numpy(masks)[:, None, None]

        def torch_run(step: Callable[[Any, Any], Any], x0: Any = x0, masks_t: Any = masks_t) -> Any:
            x = x0
            with torch.inference_mode():
                for t in range(masks_t.shape[0]):
                    x = step(x, masks_t[t])
            return x

        runners: dict[str, Callable[[], Any]] = {}
        if before is not None:
            runners["numba-before"] = functools.partial(before.run, state, masks, weights)
        runners["numba"] = functools.partial(K.run, state, masks, weights)
        runners["numba-skip"] = functools.partial(K.run, state, masks, weights, skip=True)
        runners["torch-eager"] = functools.partial(torch_run, model)
        if not args.no_compile:
            def fwd(x: Any, m: Any, model: Any = model) -> Any:
                return model(x, m)

            compiled = torch.compile(fwd, dynamic=False)
            with torch.inference_mode():
                compiled(x0, masks_t[0])
            runners["torch-compile"] = functools.partial(torch_run, compiled)
        outs = {b: fn() for b, fn in runners.items()}  # warm, and the outputs compared below
        best = dict.fromkeys(runners, float("inf"))
        for _ in range(args.repeats):
            for b, fn in runners.items():
                best[b] = min(best[b], _time(fn) / args.steps)
        ref = K.nchw_to_hwc(outs["torch-eager"].numpy())
        flops = 2.0 * macs * grid * grid
        print(f"\n{grid}×{grid}, {args.steps} steps × {args.repeats} cycles (best cycle, CPU ms per step):")
        print(f"{'backend':>14} {'ms/step':>9} {'GFLOP/s':>8} {'% nominal':>9} {'% measured':>11} "
              f"{'eager/it':>8} {'compile/it':>10} {'max|Δ| vs eager':>15}")
        for b, t in best.items():
            diff = 0.0 if b == "torch-eager" else float(np.abs(np.asarray(
                outs[b] if b.startswith("numba") else K.nchw_to_hwc(outs[b].numpy())) - ref).max())
            vs_c = best["torch-compile"] / t if "torch-compile" in best else float("nan")
            print(f"{b:>14} {t * 1e3:>9.3f} {flops / t / 1e9:>8.1f} {100 * flops / t / nominal:>8.1f}% "
                  f"{100 * flops / t / practical:>10.1f}% {best['torch-eager'] / t:>7.2f}× {vs_c:>9.2f}× "
                  f"{diff:>15.2e}")
        print("  (numba-skip's GFLOP/s counts the dense step's FLOPs; it computes the MLP for about half the cells)")
        r_e = best["torch-eager"] / best["numba"]
        r_c = best["torch-compile"] / best["numba"] if "torch-compile" in best else float("nan")
        if before is not None:
            print(f"  numba now vs before: {best['numba-before'] / best['numba']:.2f}× faster")
        verdict_e = "meets" if r_e >= GOAL_VS_EAGER else "misses"
        verdict_c = ("not measured" if math.isnan(r_c) else "meets" if r_c >= GOAL_VS_COMPILE else "misses")
        print(f"  goal: numba {r_e:.2f}× eager ({verdict_e} {GOAL_VS_EAGER}×), {r_c:.2f}× torch.compile "
              f"({verdict_c} {GOAL_VS_COMPILE}×)  [CPU time, one thread; noisy on a shared machine]")
        ok &= not math.isnan(r_e)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

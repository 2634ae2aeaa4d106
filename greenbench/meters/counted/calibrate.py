"""``greenbench calibrate``: fit the counted meter's coefficients to a real energy counter.

    greenbench calibrate [--out FILE] [--powercap-root DIR] [--min-window-s 0.2] [--windows 5]

1. **Counts**: the shipped calibration kernels (:data:`KERNELS`: a pure-Python
   loop, sums over L1-sized, last-level-sized and DRAM-sized arrays, a strided
   walk that misses every line, a random gather...) run once each under
   callgrind with the counted meter's settings (one ``valgrind`` child).
2. **Joules**: the same kernels run natively, repeated until each window lasts
   ``--min-window-s``, bracketed by the RAPL meter (package + DRAM, the whole
   machine: run it on a quiet machine); energy per call is the minimum over
   ``--windows`` windows.
3. **Fit**: non-negative least squares of joules per call on the four event
   classes of greenbench.meters.counted.energy_model, each kernel's equation weighted by
   1/its energy (so every kernel counts by its *relative* error).  The fit
   error (RMS and largest relative error over the kernels) is printed and
   stored with the coefficients.

The file is written (atomically) to ``--out``, by default
``$XDG_CONFIG_HOME/greenbench/counted_coefficients.json``, where the counted
meter reads it (``$GREENBENCH_COEFFICIENTS`` names another).  Bad input
prints one line ``error: ...`` and exits 2.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from greenbench.errors import DataError, GreenbenchError, MeterUnavailable
from greenbench.meters.base import Meter
from greenbench.meters.counted import energy_model as CM

Kernel = Callable[[], Any]


def _kernels() -> dict[str, Kernel]:
    """Calibration kernels spanning the event mix: compute-bound to DRAM-bound (numpy, stdlib)."""
    import numpy as np

    rng = np.random.default_rng(0)
    l1 = np.ones(2_000)  # 16 KB: stays in L1
    llc = np.ones(400_000)  # 3.2 MB: in the (simulated 8 MB) last level, not in L1
    dram = np.ones(4_000_000)  # 32 MB: beyond any last level
    idx_llc = rng.integers(0, llc.size, 200_000)
    idx_dram = rng.integers(0, dram.size, 200_000)
    out = np.empty_like(dram)

    def py_loop() -> int:
        s = 0
        for i in range(20_000):
            s += i * i
        return s

    def l1_sum() -> float:
        t = 0.0
        for _ in range(200):
            t += float(l1.sum())
        return t

    return {
        "python_int_loop": py_loop,
        "numpy_l1_sum": l1_sum,
        "numpy_llc_sum": lambda: float(llc.sum()),
        "numpy_llc_gather": lambda: float(llc[idx_llc].sum()),
        "numpy_dram_sum": lambda: float(dram.sum()),
        "numpy_dram_copy": lambda: np.copyto(out, dram),
        "numpy_dram_stride": lambda: float(dram[::8].sum()),
        "numpy_dram_gather": lambda: float(dram[idx_dram].sum()),
        "numpy_matmul": lambda: float((l1[:1600].reshape(40, 40) @ l1[:1600].reshape(40, 40)).sum()),
    }


# -- counts under callgrind ---------------------------------------------------

def count_kernels(names: Sequence[str] | None = None) -> dict[str, dict[str, int]]:
    """Per-call counts of each kernel, from one valgrind child running :func:`_count_main`."""
    from greenbench.meters import counted
    from greenbench.meters.counted import callgrind as _callgrind

    valgrind = _callgrind.valgrind_path()
    _callgrind.load()
    with tempfile.TemporaryDirectory(prefix="greenbench-calibrate-") as d:
        out = Path(d) / "counts.json"
        cmd = [valgrind, *counted.VALGRIND_ARGS, f"--callgrind-out-file={d}/cg.%p",
               sys.executable, "-m", "greenbench.meters.counted.calibrate", "--count-into", str(out), *(names or ())]
        rc = subprocess.call(cmd, env=counted.relaunch_env(d))
        if rc != 0 or not out.is_file():
            raise MeterUnavailable(f"calibrate: counting the kernels under valgrind failed (exit {rc})")
        data: dict[str, dict[str, int]] = json.loads(out.read_text())
        return data


def _count_main(out: str, names: Sequence[str]) -> int:
    from greenbench.meters import counted

    meter = counted.CountedMeter()
    kernels = _kernels()
    result: dict[str, dict[str, int]] = {}
    for name in names or list(kernels):
        fn = kernels[name]

        def calls(n: int, fn: Kernel = fn) -> float:
            for _ in range(max(n, 1)):
                fn()
            return 0.0

        # as a benchmark round is counted (issue #20): uncollected warm-up calls (steady-state caches), then
        # a power-of-two number of calls chosen by counts; per call
        meter.begin_benchmark(name)
        _, m, n = meter.run_round(calls, 1)
        meter.end_benchmark()
        result[name] = counted.per_call(m.counts, n)
    Path(out).write_text(json.dumps(result))
    return 0


# -- joules with a real counter ---------------------------------------------------

def measure_kernels(kernels: Mapping[str, Kernel], meter: Meter, *, min_window_s: float = 0.2,
                    windows: int = 5, clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Energy per call (J) of each kernel: minimum over ``windows`` windows of >= ``min_window_s``."""
    out: dict[str, float] = {}
    for name, fn in kernels.items():
        fn()
        t0 = clock()
        fn()
        once = max(clock() - t0, 1e-6)
        calls = max(1, math.ceil(min_window_s / once))
        best = math.inf
        for _ in range(windows):
            meter.start()
            for _ in range(calls):
                fn()
            m = meter.stop()
            best = min(best, m.energy_j / calls)
        out[name] = best
    return out


# -- the fit -------------------------------------------------------------------

def fit(counts: Mapping[str, Mapping[str, float]], joules: Mapping[str, float], *,
        source: str = "greenbench calibrate") -> CM.Coefficients:
    """Non-negative least squares of ``joules`` on the four event classes, relative-error weighted."""
    import numpy as np
    from scipy.optimize import nnls

    names = [k for k in counts if k in joules and joules[k] > 0]
    classes = list(CM.CLASSES)
    if len(names) < len(classes):
        raise DataError(f"calibrate: {len(names)} kernels with both counts and energy; the fit of "
                        f"{len(classes)} coefficients needs at least {len(classes)}")
    a = np.array([[CM.class_counts(counts[k])[c] for c in classes] for k in names], dtype=float)
    y = np.array([joules[k] for k in names], dtype=float)
    w = 1.0 / y
    scale = a.max(axis=0)
    scale[scale == 0] = 1.0
    x, _ = nnls((a / scale) * w[:, None], y * w)
    j_per = x / scale  # joules per event of each class
    pred = a @ j_per
    rel = pred / y - 1.0
    rms = float(np.sqrt(np.mean(rel**2)))
    per = dict(zip(classes, j_per.tolist(), strict=True))
    return CM.Coefficients(
        pj_per_instruction=per["instructions"] * 1e12,
        pj_per_l1_access=per["l1_accesses"] * 1e12,
        pj_per_ll_access=per["ll_accesses"] * 1e12,
        nj_per_dram_line_64b=per["dram_lines"] * 1e9,
        source=source,
        fit={
            "rms_rel_error": rms,
            "max_rel_error": float(np.max(np.abs(rel))),
            "kernels": {k: {"measured_j": float(y[i]), "fitted_j": float(pred[i]), "rel_error": float(rel[i]),
                            "counts": dict(counts[k])} for i, k in enumerate(names)},
            "method": "non-negative least squares, each kernel weighted by 1/energy",
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "host": platform.node(),
            "machine": platform.machine(),
        },
    )


def calibrate(meter: Meter, *, kernels: Mapping[str, Kernel] | None = None,
              counts: Mapping[str, Mapping[str, float]] | None = None, min_window_s: float = 0.2,
              windows: int = 5) -> CM.Coefficients:
    """Counts (under valgrind unless given), joules with ``meter``, and the fit."""
    ks = dict(kernels) if kernels is not None else _kernels()
    counted = dict(counts) if counts is not None else count_kernels(list(ks))
    joules = measure_kernels(ks, meter, min_window_s=min_window_s, windows=windows)
    src = f"greenbench calibrate against {meter.source} on {platform.node() or '?'} ({platform.machine()})"
    return fit(counted, joules, source=src)


def report(c: CM.Coefficients) -> str:
    lines = [f"counted coefficients ({c.source}):",
             f"  {c.pj_per_instruction:10.2f} pJ per instruction",
             f"  {c.pj_per_l1_access:10.2f} pJ per L1 data access",
             f"  {c.pj_per_ll_access:10.2f} pJ per last-level-cache access (L1 miss)",
             f"  {c.nj_per_dram_line_64b:10.3f} nJ per 64-byte DRAM line (last-level miss)"]
    if c.fit:
        lines.append(f"fit error over {len(c.fit.get('kernels', {}))} kernels: RMS {c.fit['rms_rel_error']:.1%}, "
                     f"largest {c.fit['max_rel_error']:.1%}")
        for k, v in c.fit.get("kernels", {}).items():
            lines.append(f"  {k:<20} measured {v['measured_j']:.4g} J, fitted {v['fitted_j']:.4g} J "
                         f"({v['rel_error']:+.1%})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--count-into"] and len(args) >= 2:  # the valgrind child
        return _count_main(args[1], args[2:])
    ap = argparse.ArgumentParser(prog="greenbench calibrate", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="coefficients file (default: where the counted meter looks)")
    ap.add_argument("--powercap-root", default=None, help="powercap directory (default /sys/class/powercap)")
    ap.add_argument("--counts", default=None, help="per-kernel counts JSON (skip valgrind; from a previous run)")
    ap.add_argument("--min-window-s", type=float, default=0.2)
    ap.add_argument("--windows", type=int, default=5)
    a = ap.parse_args(args)
    try:
        from greenbench.io.atomic import write_json
        from greenbench.meters.rapl import DEFAULT_POWERCAP_ROOT, RaplMeter

        meter = RaplMeter(a.powercap_root or DEFAULT_POWERCAP_ROOT)
        counts = None
        if a.counts:
            try:
                counts = json.loads(Path(a.counts).read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise DataError(f"--counts {a.counts}: {exc}") from None
        coeffs = calibrate(meter, counts=counts, min_window_s=a.min_window_s, windows=a.windows)
        out = Path(a.out) if a.out else CM.default_coefficients_path()
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json(out, coeffs.to_json(), what="--out")
    except GreenbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report(coeffs))
    print(f"wrote {out}; the counted meter reads it (or point {CM.COEFFICIENTS_ENV} at it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

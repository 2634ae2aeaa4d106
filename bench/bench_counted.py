"""Counted vs model meter, side by side in one run (issue #12).

    python bench/bench_counted.py [--runs 3]

Per kind of workload (pure Python, numpy, torch, Numba): the slowdown of a
counted pytest run against a plain one (whole process wall time, imports
included), the A/A spread of energy per call over ``--runs`` fresh runs with
each meter, and the smallest regression each can gate without a false alarm
on those A/A pairs (the largest |A/A change| seen: a threshold above it
raised no false alarm; with more runs this estimates the 95% point).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = '''
import numpy as np


def loop(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def test_python(benchmark):
    benchmark(loop, 20000)


def test_numpy(benchmark):
    a = np.random.default_rng(0).standard_normal((96, 96))
    benchmark(lambda: np.sort(a @ a, axis=None))


def test_torch(benchmark):
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    x = torch.randn(32, 64)
    with torch.no_grad():
        net(x)
        benchmark(lambda: net(x))


def kernel(a):
    s = 0.0
    for i in range(a.size):
        s += a[i] * a[i]
    return s


def jitted():
    import numba

    return numba.njit(cache=True)(kernel)


def test_numba(benchmark):
    k = jitted()
    a = np.ones(20000)
    k(a)  # compile (or load from Numba's cache) outside the measured rounds
    benchmark(k, a)
'''
KINDS = ("python", "numpy", "torch", "numba")


def run(tmp: Path, kind: str, meter: str) -> tuple[float, float]:
    """Wall time of the pytest process and min energy per call of the kind's benchmark."""
    out = tmp / f"{kind}-{meter}.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "pytest", "t_kinds.py", "-q", "-p", "no:cacheprovider", "-k", kind,
                        f"--energy-meter={meter}", f"--benchmark-json={out}"], check=False, cwd=tmp, env=env,
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{kind}/{meter} failed:\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    b = json.loads(out.read_text())["benchmarks"][0]
    return wall, float(b["extra_info"]["energy"]["per_call_j"]["min"])


def spread(values: list[float]) -> tuple[float, float]:
    """Relative range of the runs' figures, and the largest |A/A change| over all ordered pairs."""
    med = sorted(values)[len(values) // 2]
    worst = max(abs(b / a - 1) for a, b in itertools.permutations(values, 2))
    return (max(values) - min(values)) / med, worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--kinds", default=",".join(KINDS))
    a = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="greenbench-bc-") as d:
        tmp = Path(d)
        (tmp / "t_kinds.py").write_text(TESTS)
        if "numba" in a.kinds.split(","):
            # fill Numba's cache for the generic CPU the counted run compiles for (docs/counted.md): under
            # Valgrind the kernel then loads instead of compiling for minutes
            subprocess.run([sys.executable, "-c", "import numpy, t_kinds; t_kinds.jitted()(numpy.ones(3))"],
                           check=True, cwd=tmp, env=dict(os.environ, NUMBA_CPU_NAME="generic", NUMBA_NUM_THREADS="1"))
        for kind in a.kinds.split(","):
            res: dict[str, list[tuple[float, float]]] = {"model": [], "counted": []}
            for _ in range(a.runs):  # interleaved, so drift hits both meters alike
                for meter in ("model", "counted"):
                    res[meter].append(run(tmp, kind, meter))
            wall_plain = min(w for w, _ in res["model"])
            wall_counted = min(w for w, _ in res["counted"])
            m_spread, m_worst = spread([e for _, e in res["model"]])
            c_spread, c_worst = spread([e for _, e in res["counted"]])
            rows.append((kind, wall_plain, wall_counted, c_spread, m_spread, c_worst, m_worst))
            print(f"... {kind} done", file=sys.stderr, flush=True)
    print(f"{'workload':<8} {'plain s':>8} {'counted s':>10} {'slowdown':>9} {'A/A counted':>12} "
          f"{'A/A model':>10} {'gate counted':>13} {'gate model':>11}")
    for kind, wp, wc, cs, ms, cw, mw in rows:
        print(f"{kind:<8} {wp:8.1f} {wc:10.1f} {wc / wp:8.1f}x {cs:12.4%} {ms:10.2%} {cw:12.3%}+ {mw:10.1%}+")
    print(f"A/A: relative range of min energy per call over {a.runs} fresh runs per meter; gate: smallest "
          "threshold with no false alarm on the A/A pairs (largest |A/A change|)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

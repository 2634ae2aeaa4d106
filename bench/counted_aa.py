"""Counted A/A and planted-regression check of the energy gate (issue #12), for CI.

    python bench/counted_aa.py [--busy 2] [--compares 3] [--threshold 1%] [--rounds 3] [--n 5000]

In a temporary directory, on a plain pytest-benchmark file: one counted
baseline, then ``--compares`` counted A/A compares at ``--energy-compare-fail``
(every one must pass), then the same with one benchmark doing 2% more work
(must exit 1 and name that benchmark only).  ``--busy N`` keeps N busy loops
running throughout, as on a loaded shared CI machine.  Exits 0 when all hold.
Sizes are small on purpose (CI time): each counted run is mostly Python,
pytest and numpy starting under Valgrind; the benchmarks' own rounds are
a few million instructions, and counts do not need long rounds to repeat.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEST_FILE = '''
import os

N = int(os.environ.get("GB_AA_N", "5000"))


def loop(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def test_loop(benchmark):
    benchmark(loop, N)


def test_sort(benchmark):
    data = [(i * 7919) % 10007 for i in range(1000)]
    benchmark(sorted, data)


def test_numpy(benchmark):
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((48, 48))
    benchmark(lambda: np.sort(a @ a, axis=None))
'''


def run(tmp: Path, *args: str, n: int, rounds: int) -> tuple[int, str]:
    env = dict(os.environ, GB_AA_N=str(n), GREENBENCH_COUNTED_ROUNDS=str(rounds))
    p = subprocess.run([sys.executable, "-m", "pytest", "test_aa.py", "-p", "no:cacheprovider", "-q",
                        "--energy-meter=counted", *args], check=False, cwd=tmp, env=env,
                       capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--busy", type=int, default=2, help="busy loops kept running (default 2)")
    ap.add_argument("--compares", type=int, default=3)
    ap.add_argument("--threshold", default="1%")
    ap.add_argument("--regression", type=float, default=0.02, help="planted extra work (default 0.02)")
    ap.add_argument("--rounds", type=int, default=3, help="counted rounds (default 3: the gate minimum)")
    ap.add_argument("--n", type=int, default=5000, help="test_loop's iterations (default 5000)")
    a = ap.parse_args(argv)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(a.busy)]
    ok = True
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="greenbench-aa-") as d:
            tmp = Path(d)
            (tmp / "test_aa.py").write_text(TEST_FILE)
            rc, out = run(tmp, "--benchmark-autosave", n=a.n, rounds=a.rounds)
            print(f"baseline: exit {rc}")
            ok &= rc == 0
            gate = ["--benchmark-compare", f"--energy-compare-fail={a.threshold}"]
            for i in range(a.compares):
                rc, out = run(tmp, *gate, n=a.n, rounds=a.rounds)
                line = next((x for x in out.splitlines() if "energy gate" in x), "?")
                print(f"A/A {i + 1}: exit {rc}: {line.strip()}")
                ok &= rc == 0
            rc, out = run(tmp, *gate, n=round(a.n * (1 + a.regression)), rounds=a.rounds)
            named = sorted(set(re.findall(r"(test_aa\.py::\w+): regression", out)))
            line = next((x for x in out.splitlines() if "energy gate" in x), "?")
            print(f"+{a.regression:.0%} on test_loop: exit {rc}: {line.strip()}; regressed: {', '.join(named)}")
            for x in out.splitlines():
                if ": regression" in x:
                    print("   ", x.strip())
            ok &= rc == 1 and named == ["test_aa.py::test_loop"]
    finally:
        for p in busy:
            p.kill()
            p.wait()
    print(f"counted A/A + planted regression: {'OK' if ok else 'FAILED'} ({time.perf_counter() - t0:.0f} s, "
          f"{a.busy} busy loops)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

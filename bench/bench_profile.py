"""Where the energy went (issue #24): planted regressions named, and the cost of keeping the profile.

    python bench/bench_profile.py [--part planted|cost|all] [--runs 2]

**planted**: a small counted suite (a pure-Python sort of words, numpy's sort
of an array, our C heap sort from ``native/``, and two benchmarks that never
change) is saved as the baseline with ``GREENBENCH_PYPROFILE=all``, then run
three times with one planted regression each, compared against it through the
gate (``--energy-compare-fail=1%``, Python level on the default ``flagged``):

* ``py``: an extra key function in the sort (``sorted(words, key=keyfn)``);
* ``np``: an extra copy of the array before ``np.sort``;
* ``c``: a worse heapify in ``native/sorts.c`` (an extra heapify pass sifting
  down from every index before the usual one), built outside the repository in a temporary copy
  of ``native/`` that goes first on ``PYTHONPATH`` (the baseline uses an
  unchanged copy built the same way).

For each run it prints the gate's verdicts and, per level, the functions
``greenbench explain`` lists, with the rank of the changed one; unchanged
benchmarks must list nothing.

**cost**: ``bench/realsuite`` (56 sub-microsecond benchmarks, pytest-benchmark
only) counted with the profile off (``GREENBENCH_COUNTED_PROFILE=0``), on (the
default), and on with the Python level for every benchmark
(``GREENBENCH_PYPROFILE=all``), ``--runs`` fresh processes each, interleaved:
CPU time of the whole process tree (pytest and Valgrind; less disturbed by
other processes than wall time, not immune: they share caches and cores),
whole-process wall time (both minimum over runs) and the saved JSON's size; then how many functions each
benchmark keeps and what share of its energy they hold (how many miss 99 %, and why), and the size of the same
suite's plain pytest-benchmark JSON (greenbench off) for scale.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

SUITE = '''
import os

import numpy as np

import native

PLANT = os.environ.get("PLANT", "")


def keyfn(word):
    return word


def sort_words(words):
    return sorted(words, key=keyfn) if PLANT == "py" else sorted(words)


def test_py_sort(benchmark):
    benchmark(sort_words, [str((i * 7919) % 1000) for i in range(300)])


def sort_array(a):
    if PLANT == "np":
        a = a.copy()
    return np.sort(a)


def test_np_sort(benchmark):
    benchmark(sort_array, np.random.default_rng(0).standard_normal(20000))


def c_heap(a):
    b = a.copy()
    native.heap_sort_inplace(b)
    return b


def test_c_heap(benchmark):
    benchmark(c_heap, np.random.default_rng(1).integers(0, 1 << 40, 2000))


def loop(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def test_py_loop(benchmark):
    benchmark(loop, 2000)


def test_np_sum(benchmark):
    a = np.arange(10000.0)
    benchmark(a.sum)
'''

#: the heapify loop of native/sorts.c and its worse twin (every index, twice)
HEAPIFY = "        for (size_t i = n / 2; i-- > 0;) {"
WORSE_HEAPIFY = "        for (size_t i = n; i-- > 0;) {"
#: the changed function per plant: (benchmark, level, substring of the listed name)
EXPECTED = {"py": ("test_py_sort", "python", "keyfn"),
            "np": ("test_np_sort", "native", "memcpy"),
            "c": ("test_c_heap", "native", "heap_sort")}
UNCHANGED = ("test_py_loop", "test_np_sum")


def built_native(tmp: Path, worse: bool) -> Path:
    """A copy of native/ (with the worse heapify when ``worse``) built in place, outside the repository; the
    directory to put first on PYTHONPATH.  Both copies are built alike and their paths have the same length, so
    the baseline and the planted run differ in the heapify only (not in the environment's size either)."""
    dest = tmp / ("variant" if worse else "vanilla")
    shutil.copytree(ROOT / "native", dest / "native", ignore=shutil.ignore_patterns("*.so", "*.o", "__pycache__"))
    src = dest / "native" / "sorts.c"
    text = src.read_text()
    if HEAPIFY not in text:
        raise SystemExit("native/sorts.c: heapify loop not found; update bench_profile.HEAPIFY")
    if not worse:
        subprocess.run([PY, "native/_ffi_build.py"], cwd=dest, check=True, capture_output=True)
        return dest
    # an extra heapify pass over every index first (leaves sift nothing), then the usual one over a heap
    src.write_text(text.replace(HEAPIFY, WORSE_HEAPIFY + " \\\n"
                                + "            sift_down_##SUFFIX(a, i, n); \\\n"
                                + "        } \\\n"
                                + HEAPIFY))
    subprocess.run([PY, "native/_ffi_build.py"], cwd=dest, check=True, capture_output=True)
    return dest


def counted(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str, int]:
    global LAST_CPU_S
    t0 = time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([PY, "-m", "pytest", *args, "--energy-meter=counted", "-p", "no:cacheprovider",
                           "-p", "no:randomly", "-q"], cwd=cwd, env=env, capture_output=True, text=True,
                          check=False)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    LAST_CPU_S = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)  # pytest and valgrind under it
    return time.perf_counter() - t0, done.stdout + done.stderr, done.returncode


LAST_CPU_S = 0.0


def planted(tmp: Path) -> None:
    from greenbench import results as R
    from greenbench.gate import explain as X

    suite = tmp / "suite"
    suite.mkdir()
    (suite / "test_plants.py").write_text(SUITE)
    vanilla, variant = built_native(tmp, False), built_native(tmp, True)
    # the environment has the same size in every run (it shifts the stack, and with it some counts): PLANT is
    # two characters, PAD makes up for "all" vs "flagged"
    base_env = {**os.environ, "PYTHONPATH": f"{vanilla}{os.pathsep}{ROOT}", "PLANT": "--",
                "GREENBENCH_PYPROFILE": "flagged", "PAD": ""}
    storage = ["--benchmark-storage", str(tmp / "storage")]
    # the command lines have the same length too (the arguments sit beside the environment at the top of the
    # stack): "--benchmark-save=0000000" / "--benchmark-compare=0001" and "--benchmark-columns=mean" (the display
    # table's columns only) / "--energy-compare-fail=1%" are 24 characters each, and so on
    wall, out, rc = counted([*storage, "--benchmark-save=0000000", "--benchmark-columns=mean",
                             "--benchmark-json", str(tmp / "run-0.json")], suite,
                            {**base_env, "GREENBENCH_PYPROFILE": "all", "PAD": "xxxx"})
    print(f"baseline: {wall:.0f} s, rc={rc}")
    if rc != 0:
        print(out[-3000:])
        raise SystemExit(1)
    base = R.load(tmp / "run-0.json")
    for plant, (bench, level, fragment) in EXPECTED.items():
        env = {**base_env, "PLANT": plant}
        if plant == "c":
            env = {**env, "PYTHONPATH": f"{variant}{os.pathsep}{ROOT}", "PLANT": "--"}
        wall, out, rc = counted([*storage, "--benchmark-compare=0001", "--energy-compare-fail=1%",
                                 "--benchmark-json", str(tmp / f"run-{plant[0]}.json")], suite, env)
        print(f"\n=== plant {plant!r} ({wall:.0f} s, pytest rc={rc}): the gate's verdicts ===")
        for line in out.splitlines():
            if ": regression" in line or ": inconclusive" in line or line.startswith("energy gate") \
                    or line.startswith("    "):
                print(line[:220])
        found = X.explain_runs(base, R.load(tmp / f"run-{plant[0]}.json"))
        print(f"--- greenbench explain run-0.json run-{plant[0]}.json ---")
        for name, bj, cj, ex in found:
            short = name.split("::")[-1]
            listed = {"native": [c.name for c in ex.native], "python": [c.name for c in ex.python]}
            rank = next((i + 1 for i, n in enumerate(listed[level]) if fragment in n), None) if short == bench else None
            mark = f"  <- changed: {fragment!r} ranked {rank} at the {level} level" if short == bench else ""
            print(f"{short}: {cj / bj - 1:+.2%}; native: {listed['native'][:3] or '-'}; "
                  f"Python: {listed['python'][:3] or '-'}{mark}")
            if short in UNCHANGED and not ex.empty:
                print(f"  !! unchanged benchmark {short} lists functions")


def cost(tmp: Path, runs: int) -> None:
    from greenbench.meters.counted import profile as P

    configs = {"profile off": {"GREENBENCH_COUNTED_PROFILE": "0"},
               "profile on (default)": {},
               "on + Python level for all": {"GREENBENCH_PYPROFILE": "all"}}
    walls: dict[str, list[float]] = {k: [] for k in configs}
    cpus: dict[str, list[float]] = {k: [] for k in configs}
    sizes: dict[str, int] = {}
    extra: dict[str, Any] = {}
    env0 = {k: v for k, v in os.environ.items() if k not in ("GREENBENCH_COUNTED_PROFILE", "GREENBENCH_PYPROFILE")}
    for r in range(runs):
        for label, env in configs.items():
            out_json = tmp / f"cost-{r}-{label.split()[0]}{len(walls[label])}.json"
            wall, out, rc = counted(["--noconftest", str(ROOT / "bench/realsuite/test_realsuite.py"),
                                     "--benchmark-json", str(out_json)], tmp, {**env0, **env})
            if rc != 0:
                print(out[-3000:])
                raise SystemExit(f"{label}: pytest rc={rc}")
            walls[label].append(wall)
            cpus[label].append(LAST_CPU_S)
            sizes[label] = out_json.stat().st_size
            doc = json.loads(out_json.read_text())
            profs = [b["extra_info"]["energy"].get("profile") for b in doc["benchmarks"]]
            extra[label] = (len(doc["benchmarks"]), [p for p in profs if p])
            print(f"run {r + 1}, {label}: {wall:.1f} s wall, {LAST_CPU_S:.1f} s CPU, {sizes[label]:,} bytes",
                  flush=True)
    off_w, off_c, off_s = min(walls["profile off"]), min(cpus["profile off"]), sizes["profile off"]
    print("\n| counted run of bench/realsuite | benchmarks | CPU time (min of runs) | vs off | wall (min) | vs off "
          "| saved JSON | vs off |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label in configs:
        n, _ = extra[label]
        c, w = min(cpus[label]), min(walls[label])
        print(f"| {label} | {n} | {c:.1f} s | {c / off_c:.3f}x | {w:.1f} s | {w / off_w:.3f}x | "
              f"{sizes[label]:,} B | {sizes[label] / off_s:.2f}x |")
    _, profs = extra["profile on (default)"]
    if profs:
        shares = sorted(p["listed_share"] for p in profs)
        counts = sorted(len(P.functions(p)) for p in profs)
        below = [p for p in profs if p["listed_share"] < P.COVERAGE]
        print(f"\nprofiles: {len(profs)}; functions kept per benchmark: median {counts[len(counts) // 2]}, "
              f"max {counts[-1]}; share of the energy they hold: min {shares[0]:.2%}, "
              f"median {shares[len(shares) // 2]:.2%}; below {P.COVERAGE:.0%}: {len(below)}"
              + (f" (capped at {P.MAX_FUNCTIONS}: {', '.join(str(p.get('capped')) for p in below[:3])})" if below
                 else ""))
        # pytest-benchmark's storage (its --benchmark-json, unlike the storage, holds every round's time: hundreds
        # of MB for thousands of calibrated rounds)
        done = subprocess.run([PY, "-m", "pytest", "--noconftest", str(ROOT / "bench/realsuite/test_realsuite.py"),
                               "-p", "no:greenbench", "-p", "no:cacheprovider", "-p", "no:randomly", "-q",
                               "--benchmark-autosave", "--benchmark-storage", str(tmp / "plain")], cwd=tmp, env=env0,
                              capture_output=True, text=True, check=False)
        saved = sorted((tmp / "plain").glob("*/*.json"))
        if done.returncode == 0 and saved:
            size = saved[-1].stat().st_size
            print(f"plain pytest-benchmark storage of the same suite (no greenbench): {size:,} B; profile on: "
                  f"{sizes['profile on (default)'] / size:.2f}x of it, profile off: {off_s / size:.2f}x")
        else:
            print(f"plain pytest-benchmark run failed (rc={done.returncode}): {done.stdout[-500:]}")
    print(f"all wall times: {json.dumps({k: [round(w, 1) for w in v] for k, v in walls.items()})}")
    print(f"all CPU times: {json.dumps({k: [round(w, 1) for w in v] for k, v in cpus.items()})}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=("planted", "cost", "all"), default="all")
    ap.add_argument("--runs", type=int, default=2, help="fresh counted runs per configuration (cost part)")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind (and its headers): apt-get install valgrind")
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as d:
        tmp = Path(d)
        t0 = time.perf_counter()
        if args.part in ("planted", "all"):
            planted(tmp)
        if args.part in ("cost", "all"):
            cost(tmp, max(args.runs, 1))
        print(f"\n(whole script: {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()

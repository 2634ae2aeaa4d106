"""greenbench's cost and its gate on a realistic sub-microsecond suite, side by side (issue #17).

Runs ``bench/realsuite`` (56 parametrised sub-us benchmarks, plain
pytest-benchmark code) in pytest subprocesses:

1. **Overhead**: plain pytest-benchmark (``-p no:greenbench``) against
   greenbench (``--energy-meter=model``), alternated ``--repeats`` times;
   prints the ratios of wall time, peak RSS (``getrusage(RUSAGE_CHILDREN)`` of
   a wrapper process per run) and the size of the run saved by ``--benchmark-autosave``.
   Bounds (issue #17): wall <= 1.5x (goal 1.1x), memory <= 3x (goal 1.5x),
   stored run <= 20x (goal 5x).
2. **Gate**: baselines saved with ``--benchmark-autosave``, then unchanged code
   compared at ``--energy-compare-fail=10%`` against one and against three
   stored baseline runs (no benchmark may be called a regression), then a
   planted +30-35% regression on one benchmark (it must be named, as a
   regression or inconclusive with its reason; no other one a regression).

    python bench/bench_overhead.py [--max-time 0.25] [--repeats 2] [--out DIR]

Exit status 1 when a bound is broken.  Results also go to ``DIR/overhead.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SUITE = "bench/realsuite"
PLANT = "test_dict_get[100]"
#: CPU seconds (user + system) of each run, in order: steadier than wall time on a loaded machine
CPU_S: list[float] = []
VERDICT = re.compile(r"^(?P<name>\S.*?): (?P<verdict>regression|inconclusive|improved|skipped) ")

#: runs pytest, then prints its own children's peak RSS (KiB on Linux): one wrapper per measured run
WRAPPER = ("import resource, subprocess, sys\n"
           "rc = subprocess.run(sys.argv[1:]).returncode\n"
           "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
           "print('PEAK_RSS_KB', ru.ru_maxrss, 'CPU_S', ru.ru_utime + ru.ru_stime, file=sys.stderr)\n"
           "sys.exit(rc)\n")


def pytest_args(max_time: float, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pytest", SUITE, "--noconftest", "-p", "no:cacheprovider", "-p", "no:xdist",
            "-q", "-o", "addopts=", f"--benchmark-max-time={max_time}", "--benchmark-columns=min", *extra]


def run(args: list[str], env: dict[str, str] | None = None) -> tuple[float, int, int, str]:
    """(wall s, peak RSS KiB, exit status, stdout) of one pytest subprocess; its CPU time goes to ``CPU_S``."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", WRAPPER, *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=False)
    wall = time.perf_counter() - t0
    m = re.search(r"PEAK_RSS_KB (\d+) CPU_S ([0-9.]+)", done.stderr)
    CPU_S.append(float(m.group(2)) if m else math.nan)
    return wall, int(m.group(1)) if m else 0, done.returncode, done.stdout


def overhead(out: Path, max_time: float, repeats: int) -> dict[str, float]:
    rows: dict[str, list[tuple[float, int, int, float]]] = {"plain": [], "greenbench": []}
    for i in range(repeats):
        order = ("plain", "greenbench") if i % 2 == 0 else ("greenbench", "plain")
        for kind in order:
            store = out / f"store-{kind}-{i}"
            extra = ["-p", "no:greenbench"] if kind == "plain" else ["--energy-meter=model"]
            # the stored run as users keep it (--benchmark-autosave; --benchmark-json adds every round's time)
            wall, rss, rc, stdout = run(pytest_args(max_time, f"--benchmark-storage={store}",
                                                    "--benchmark-autosave", *extra))
            if rc != 0:
                sys.exit(f"{kind} run failed (exit {rc}):\n{stdout[-3000:]}")
            js = next(store.rglob("*.json"))
            rows[kind].append((wall, rss, js.stat().st_size, CPU_S[-1]))
            print(f"  {kind:10s} run {i + 1}: {wall:6.1f} s (CPU {CPU_S[-1]:6.1f} s), peak RSS {rss / 1024:6.1f} MiB, "
                  f"JSON {js.stat().st_size / 1024:7.1f} KiB", flush=True)
    med = {k: [statistics.median(r[j] for r in v) for j in range(4)] for k, v in rows.items()}
    best = {k: min(r[0] for r in v) for k, v in rows.items()}
    return {"wall_ratio": med["greenbench"][0] / med["plain"][0],
            "wall_ratio_fastest": best["greenbench"] / best["plain"],
            "cpu_ratio": med["greenbench"][3] / med["plain"][3],
            "rss_ratio": med["greenbench"][1] / med["plain"][1],
            "json_ratio": med["greenbench"][2] / med["plain"][2],
            "plain_wall_s": med["plain"][0], "greenbench_wall_s": med["greenbench"][0],
            "plain_rss_mib": med["plain"][1] / 1024, "greenbench_rss_mib": med["greenbench"][1] / 1024,
            "plain_json_kib": med["plain"][2] / 1024, "greenbench_json_kib": med["greenbench"][2] / 1024}


def verdicts(stdout: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        m = VERDICT.match(line)
        if m:
            found.setdefault(m.group("verdict"), []).append(line)
    return found


def offline(storage: Path, saved: Path, plant: str) -> dict[str, Any]:
    """The same comparison redone from the saved files as if no round had been contended.

    On a loaded machine most verdicts are 'machine busy'; this shows what the
    run-to-run-spread logic alone would have said about the same numbers.
    """
    from greenbench.gate import GateRule, compare_entries

    def quiet(doc: dict[str, Any]) -> dict[str, Any]:
        for b in doc["benchmarks"]:
            e = b.get("extra_info", {}).get("energy")
            if e:
                e["contended_rounds"] = 0
        return doc

    files = sorted(storage.rglob("*.json"))
    runs = [quiet(json.loads(f.read_text())) for f in reversed(files)]  # newest first
    cur = quiet(json.loads(saved.read_text()))
    rule = GateRule.parse("10%")
    out: dict[str, Any] = {"regression": [], "inconclusive": [], "improved": [], "ok": 0}
    by_name = [{b["fullname"]: b for b in r["benchmarks"]} for r in runs]
    for b in cur["benchmarks"]:
        v = compare_entries(by_name[0].get(b["fullname"]), b, rule, [m.get(b["fullname"]) for m in by_name[1:]])
        if v.verdict == "ok":
            out["ok"] += 1
        elif v.verdict in out:
            out[v.verdict].append(v.line(rule))
    return out


def compare(storage: Path, max_time: float, label: str, plant: str = "") -> dict[str, Any]:
    keep = storage.parent / "compared"
    args = pytest_args(max_time, "--energy-meter=model", f"--benchmark-storage={storage}", "--benchmark-compare",
                       "--energy-compare-fail=10%", "--benchmark-save=compare")
    before = set(storage.rglob("*.json"))
    _, _, rc, stdout = run(args, {"REALSUITE_PLANT": plant})
    saved = sorted(set(storage.rglob("*.json")) - before)
    quiet = None
    if saved:  # move this run out of the baselines, then redo the decision as if uncontended
        keep.mkdir(exist_ok=True)
        moved = keep / f"{label.split(maxsplit=1)[0]}-{len(list(keep.iterdir()))}-{saved[-1].name}"
        shutil.move(saved[-1], moved)
        quiet = offline(storage, moved, plant)
    v = verdicts(stdout)
    gate_line = next((ln for ln in stdout.splitlines() if ln.startswith("energy gate")), "?")
    counts = {k: len(x) for k, x in v.items()}
    print(f"  {label}: exit {rc}; {counts or 'all ok'}; {gate_line}", flush=True)
    for line in v.get("regression", []) + [ln for ln in v.get("inconclusive", []) if plant and plant in ln]:
        print(f"    {line[:400]}")
    if quiet is not None:
        print(f"    same numbers, contention ignored: {quiet['ok']} ok, {len(quiet['regression'])} regression, "
              f"{len(quiet['inconclusive'])} inconclusive, {len(quiet['improved'])} improved")
        for line in quiet["regression"] + [ln for ln in quiet["inconclusive"] if plant and plant in ln]:
            print(f"      {line[:400]}")
    return {"exit": rc, "counts": counts, "gate": gate_line, "lines": v, "contention_ignored": quiet}


def gate(out: Path, max_time: float) -> dict[str, dict[str, Any]]:
    storage = out / "storage"
    single = out / "storage-single"
    save = ["--energy-meter=model", f"--benchmark-storage={storage}", "--benchmark-autosave"]
    results: dict[str, dict[str, Any]] = {}
    run(pytest_args(max_time, *save))
    results["aa_single"] = compare(storage, max_time, "unchanged vs 1 baseline run ")
    for _ in range(2):
        run(pytest_args(max_time, *save))
    newest = sorted(storage.rglob("*.json"))[-1]
    (single / newest.parent.name).mkdir(parents=True, exist_ok=True)
    shutil.copy(newest, single / newest.parent.name / newest.name)
    results["aa_multi_1"] = compare(storage, max_time, "unchanged vs 3 baseline runs")
    results["aa_multi_2"] = compare(storage, max_time, "unchanged vs 3 baseline runs")
    results["planted_single"] = compare(single, max_time, f"planted {PLANT} vs 1 baseline run ", PLANT)
    results["planted_multi"] = compare(storage, max_time, f"planted {PLANT} vs 3 baseline runs", PLANT)
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-time", type=float, default=0.25, help="pytest-benchmark's --benchmark-max-time")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--skip-gate", action="store_true")
    a = ap.parse_args()
    out = a.out or Path(tempfile.mkdtemp(prefix="gb-overhead-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"overhead on {SUITE} (--benchmark-max-time={a.max_time}, {a.repeats} alternated repeats):")
    o = overhead(out, a.max_time, a.repeats)
    print(f"greenbench / plain pytest-benchmark: wall {o['wall_ratio']:.2f}x median, {o['wall_ratio_fastest']:.2f}x "
          f"fastest runs (bound 1.5x, goal 1.1x), CPU time {o['cpu_ratio']:.2f}x, "
          f"peak RSS {o['rss_ratio']:.2f}x (bound 3x, goal 1.5x), stored JSON {o['json_ratio']:.2f}x "
          f"(bound 20x, goal 5x)")
    ok = o["wall_ratio"] <= 1.5 and o["rss_ratio"] <= 3 and o["json_ratio"] <= 20
    report: dict[str, object] = {"overhead": o}
    if not a.skip_gate:
        print("gate at --energy-compare-fail=10%:")
        g = gate(out, a.max_time)
        report["gate"] = g
        false_alarms = sum(g[k]["counts"].get("regression", 0) for k in ("aa_single", "aa_multi_1", "aa_multi_2"))
        named = {k: [ln for kind in ("regression", "inconclusive") for ln in g[k]["lines"].get(kind, [])
                     if PLANT in ln] for k in ("planted_single", "planted_multi")}
        others = {k: [ln for ln in g[k]["lines"].get("regression", []) if PLANT not in ln]
                  for k in ("planted_single", "planted_multi")}
        print(f"false alarms on unchanged code: {false_alarms} regression verdict(s) in 3 compares of 56 benchmarks")
        for k, lines in named.items():
            print(f"{k}: planted benchmark named: {'yes' if lines else 'NO'}; "
                  f"other benchmarks called a regression: {len(others[k])}")
        ok = ok and false_alarms == 0 and all(named.values()) and not any(others.values())
        q = {k: g[k].get("contention_ignored") or {} for k in g}
        q_false = sum(len(q[k].get("regression", [])) for k in ("aa_single", "aa_multi_1", "aa_multi_2"))
        parts = []
        for k in ("planted_single", "planted_multi"):
            lines = q[k].get("regression", []) + q[k].get("inconclusive", [])
            parts.append(f"{k}: planted named {'yes' if any(PLANT in ln for ln in lines) else 'NO'}, "
                         f"other regressions {sum(PLANT not in ln for ln in q[k].get('regression', []))}")
        print(f"same numbers with contention ignored (the spread logic alone): {q_false} false alarm(s) in 3 "
              f"unchanged compares; {'; '.join(parts)}")
    (out / "overhead.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"details: {out / 'overhead.json'}; bounds {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""The default (model) meter's gate under load: planted regressions caught, unchanged code never failed.

Issue #20 part 4.  For each suite -- a real third-party pytest-benchmark suite run unchanged from its own
checkout (cattrs's ``bench/``, cattrs installed from PyPI) and a plain test file written here -- and for each
condition -- ``busy`` (two ``while True: pass`` processes running through the baselines *and* the
compares) and ``asis`` (no extra load; this machine is shared, so "quiet" is not promised) -- the script

1. saves 3 baseline runs (``--benchmark-save``) in a fresh storage folder,
2. runs ``--compares`` unchanged compares ``--benchmark-compare=0003 --energy-compare-fail=10%``
   (the gate reads 0001/0002 as older baselines) and the planted ones (+70%, +100% in one benchmark),
   each a fresh pytest process, keeping its exit code, its gate lines and its JSON (``--benchmark-json``),

and ``replay`` recomputes every verdict from the saved JSON with the gate as it is now (the same
``greenbench.gate.compare_run`` the plugin calls), so the tally can be re-read after the gate changes.

    python bench/bench_gate_load.py collect --out /tmp/gl --condition busy
    python bench/bench_gate_load.py collect --out /tmp/gl --condition asis
    python bench/bench_gate_load.py replay --out /tmp/gl

Third-party suite: ``CATTRS_DIR`` (default ``cattrs-checkout`` in the current folder; a folder outside
this repository holding cattrs v26.1.0's ``bench/`` and ``pyproject.toml``, and ``site/`` with
``pip install --target site cattrs==26.1.0``).
Timings depend on the machine's load: say so when quoting them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CATTRS_DIR = Path(os.environ.get("CATTRS_DIR", "cattrs-checkout"))  # relative to the current folder
CATTRS_FILES = ["bench/test_primitives.py", "bench/test_attrs_primitives.py", "bench/test_attrs_nested.py"]
#: the planted benchmark of each suite (a substring of its node id)
PLANT = {
    "cattrs": "test_structure_attrs_primitives[UnstructureStrategy.AS_DICT-Converter]",
    "plain": "test_sum_squares",
}
PLANTS = (1.7, 2.0)
RULE = "10%"

PLAIN = '''"""A plain benchmark file: five pure-Python workloads of 0.1-1 ms (issue #20's "plain test file")."""
import os
import random

LOOP = int(20_000 * float(os.environ.get("PLANT_LOOP", "1")))
DATA = [random.Random(1).random() for _ in range(4000)]


def sum_squares(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def test_sum_squares(benchmark):
    benchmark(sum_squares, LOOP)


def test_dict_build(benchmark):
    benchmark(lambda: {str(i): i for i in range(3000)})


def test_sort(benchmark):
    benchmark(sorted, DATA)


def test_join(benchmark):
    benchmark(lambda: ",".join(map(str, range(5000))))


def test_fib(benchmark):
    benchmark(fib, 15)
'''


def suite_cmd(suite: str, work: Path) -> tuple[list[str], Path, dict[str, str]]:
    env = dict(os.environ)
    env.pop("GREENBENCH_PLANT", None)
    env.pop("PLANT_LOOP", None)
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
            "--benchmark-max-time=0.25", f"--benchmark-storage=file://{work / 'storage'}"]
    if suite == "cattrs":
        env["PYTHONPATH"] = os.pathsep.join([str(CATTRS_DIR / "site"), str(HERE / "gate_support")])
        # min-time 0.1 ms: >= 20 iterations per round, so a planted 1.7x is 1.7x in every round.  Run from the
        # work folder (pytest-benchmark 5.1's "machine_info is different" warning crashes on a storage folder
        # outside the current directory), with cattrs's own pytest configuration and root
        files = [str(CATTRS_DIR / f) for f in CATTRS_FILES]
        return [*base, f"--rootdir={CATTRS_DIR}", "-c", str(CATTRS_DIR / "pyproject.toml"), "-p", "gate_plant",
                "--benchmark-min-time=0.0001", *files], work, env
    plain = work / "plain"
    plain.mkdir(parents=True, exist_ok=True)
    (plain / "test_plain.py").write_text(PLAIN)
    return [*base, "--noconftest", str(plain / "test_plain.py")], work, env


def run(cmd: list[str], cwd: Path, env: dict[str, str], log: Path, label: str) -> dict[str, Any]:
    t0 = time.time()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
    out = done.stdout + done.stderr
    gate = [ln for ln in out.splitlines() if "energy gate" in ln or "energy compare" in ln
            or " — energy " in ln or ": skipped (" in ln]
    rec = {"label": label, "rc": done.returncode, "wall_s": round(time.time() - t0, 1), "gate": gate,
           "load1": os.getloadavg()[0]}
    with log.open("a") as fh:
        fh.write(json.dumps(rec) + "\n")
    print(f"  {label}: rc={done.returncode} {rec['wall_s']}s load={rec['load1']:.1f} "
          f"{gate[-1] if gate else out[-300:]}", flush=True)
    return rec


def collect(out: Path, condition: str, compares: int, suites: list[str], start_loops: bool = True) -> None:
    loops = []
    if condition == "busy" and start_loops:
        loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
        time.sleep(2)
    try:
        for suite in suites:
            work = out / condition / suite
            if work.exists():
                raise SystemExit(f"{work} exists: choose another --out")
            (work / "runs").mkdir(parents=True)
            log = work / "log.jsonl"
            cmd, cwd, env = suite_cmd(suite, work)
            print(f"{condition} / {suite}", flush=True)
            base_env = dict(env, GREENBENCH_PLANT=f"{PLANT[suite]}=1.0") if suite == "cattrs" else env
            for i in range(3):
                run([*cmd, "--benchmark-save=base"], cwd, base_env, log, f"baseline-{i + 1}")
            gate = ["--benchmark-compare=0003", f"--energy-compare-fail={RULE}"]
            plan = [("unchanged", i, 1.0) for i in range(compares)]
            for f in PLANTS:  # planted runs interleaved with unchanged ones (drift hits both alike)
                plan.insert(len(plan) // 3 * (PLANTS.index(f) + 1), (f"planted{round((f - 1) * 100)}", 0, f))
            for kind, i, f in plan:
                e = dict(env)
                if suite == "plain":
                    e["PLANT_LOOP"] = str(f)
                else:  # the target is wrapped in every run (factor 1: unchanged), so the wrapper cancels out
                    e["GREENBENCH_PLANT"] = f"{PLANT[suite]}={f}"
                label = f"{kind}-{i:02d}"
                run([*cmd, *gate, f"--benchmark-json={work / 'runs' / (label + '.json')}"], cwd, e, log, label)
    finally:
        for p in loops:
            p.kill()
            p.wait()


def replay(out: Path) -> int:
    sys.path.insert(0, str(HERE.parent))
    from greenbench import gate

    rule = gate.GateRule.parse(RULE)
    print(f"replay with the gate as it is now ({RULE}); live = the exit code the run itself gave")
    for cond_dir in sorted(p for p in out.iterdir() if p.is_dir()):
        for work in sorted(p for p in cond_dir.iterdir() if p.is_dir()):
            suite = work.name
            stored = sorted((work / "storage").rglob("*.json"))
            docs = [json.loads(p.read_text()) for p in stored]
            if len(docs) < 3:
                continue
            baseline = {b["fullname"]: b for b in docs[-1]["benchmarks"]}
            older = [docs[1], docs[0]]
            live = {}
            for line in (work / "log.jsonl").read_text().splitlines():
                rec = json.loads(line)
                live[rec["label"]] = rec
            tallies: dict[str, list[Any]] = {"unchanged": [], "planted70": [], "planted100": []}
            for path in sorted((work / "runs").glob("*.json")):
                if path.stem not in live:  # a run stopped before it logged its exit code (collect was ended)
                    print(f"   ({path.stem}: left out, the run did not finish)")
                    continue
                cur = json.loads(path.read_text())
                verdicts = gate.compare_run(baseline, cur["benchmarks"], rule, older,
                                            baseline_machine_info=docs[-1].get("machine_info"),
                                            machine_info=cur.get("machine_info"))
                _, failed = gate.summary(verdicts, rule)
                kind = path.stem.split("-")[0]
                tallies[kind].append((path.stem, failed, verdicts, live.get(path.stem, {}).get("rc")))
            print(f"\n== {cond_dir.name} / {suite}: {len(tallies['unchanged'])} unchanged compares "
                  f"against 3 baselines ({len(baseline)} benchmarks each)")
            un = tallies["unchanged"]
            fails = sum(f for _, f, _, _ in un)
            regs = sum(v.verdict == "regression" for _, _, vs, _ in un for v in vs)
            inc = sum(v.verdict == "inconclusive" for _, _, vs, _ in un for v in vs)
            dec = sum(v.decided for _, _, vs, _ in un for v in vs)
            total = sum(len(vs) for _, _, vs, _ in un)
            live_fail = sum(rc == 1 for *_, rc in un)
            print(f"   unchanged: runs failed {fails}/{len(un)} (live exit 1: {live_fail}/{len(un)}); "
                  f"regression verdicts {regs}/{total}; inconclusive {inc}/{total}; decided {dec}/{total}")
            # how far unchanged code moved (raw change of the gate's statistic against the baselines' median), and
            # how much of a host-speed change (probes) it followed: the data behind HOST_SENSITIVITY
            moves, sens = [], []
            for _, _, vs, _ in un:
                for v in vs:
                    if v.verdict != "skipped":
                        moves.append(v.raw_change)
            for path in sorted((work / "runs").glob("unchanged-*.json")):
                if path.stem not in live:
                    continue
                cur = json.loads(path.read_text())
                for b in cur["benchmarks"]:
                    ref = [d for d in (baseline.get(b["fullname"]), *[
                        next((x for x in o["benchmarks"] if x["fullname"] == b["fullname"]), None) for o in older])
                        if d]
                    try:
                        e = b["extra_info"]["energy"]
                        bp = [statistics.quantiles(r["extra_info"]["energy"]["speed_probes_s"], n=4)[0] for r in ref]
                        speed = statistics.quantiles(e["speed_probes_s"], n=4)[0] / statistics.median(bp)
                        ratio = e["clean_j"]["min"] / statistics.median(r["extra_info"]["energy"]["clean_j"]["min"]
                                                                         for r in ref)
                    except (KeyError, TypeError, statistics.StatisticsError, ZeroDivisionError):
                        continue
                    if abs(math.log(speed)) >= 0.05:
                        sens.append(math.log(ratio) / math.log(speed))
            if moves:
                moves.sort()
                print(f"   unchanged raw changes: min {moves[0]:+.1%}, median {statistics.median(moves):+.1%}, "
                      f"max {moves[-1]:+.1%} over {len(moves)} verdicts")
            if sens:
                sens.sort()
                print(f"   log(energy change) / log(probe speed change) where the probes moved >= 5%: n={len(sens)}, "
                      f"median {statistics.median(sens):.2f}, max {sens[-1]:.2f}, min {sens[0]:.2f}")
            # the same compares against the compared baseline alone (what a CI keeping one baseline gets)
            finished = [p for p in sorted((work / "runs").glob("*.json")) if p.stem in live]
            alone = [gate.compare_run(baseline, json.loads(p.read_text())["benchmarks"], rule) for p in finished]
            labels = [p.stem for p in finished]
            a_un = [vs for lab, vs in zip(labels, alone, strict=True) if lab.startswith("unchanged")]
            a_pl = [(lab, vs) for lab, vs in zip(labels, alone, strict=True) if lab.startswith("planted")]
            n_un = sum(len(vs) for vs in a_un)
            planted = [f"{lab} {v.verdict} [{v.cause}]" for lab, vs in a_pl for v in vs if PLANT[suite] in v.name]
            a_fail = sum(v.failed for vs in a_un for v in vs)
            a_dec = sum(v.decided for vs in a_un for v in vs)
            print(f"   against 1 baseline run: unchanged regressions {a_fail}/{n_un}, decided {a_dec}/{n_un}; "
                  f"planted: {', '.join(planted)}")
            causes: dict[str, int] = {}
            for _, _, vs, _ in un:
                for v in vs:
                    if v.verdict == "inconclusive":
                        causes[v.cause] = causes.get(v.cause, 0) + 1
            if causes:
                print("   inconclusive causes: " + ", ".join(f"{k} {n}" for k, n in sorted(causes.items())))
            for kind in ("planted70", "planted100"):
                for label, failed, vs, rc in tallies[kind]:
                    target = [v for v in vs if PLANT[suite] in v.name]
                    others = [v.name.split("::")[-1] for v in vs if v.verdict == "regression" and v not in target]
                    t = target[0] if target else None
                    cur = json.loads((work / "runs" / f"{label}.json").read_text())
                    tc = next((b for b in cur["benchmarks"] if PLANT[suite] in b["fullname"]), None)
                    tb = [d["stats"]["min"] for d in (baseline.get(tc["fullname"]) if tc else None,) if d]
                    if tc and tb:
                        print(f"   {label}: pytest-benchmark time min of the planted benchmark "
                              f"{tc['stats']['min'] / tb[0] - 1:+.1%} against the compared baseline")
                    print(f"   {label}: run {'FAILED' if failed else 'passed'} (live rc {rc}); planted "
                          f"{t.verdict if t else '?'} {t.change:+.1%} [{t.cause}]" if t else "", end="")
                    print(f"; other regressions: {others or 'none'}")
                    if t and t.verdict != "regression":
                        print(f"      {t.line(rule)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["collect", "replay"])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--condition", choices=["busy", "asis"], default="busy")
    ap.add_argument("--compares", type=int, default=20)
    ap.add_argument("--suite", choices=["cattrs", "plain", "both"], default="both")
    ap.add_argument("--no-loops", action="store_true",
                    help="busy: the two loops are already running (another collect of the same condition)")
    a = ap.parse_args(argv)
    if a.what == "collect":
        collect(a.out, a.condition, a.compares, ["cattrs", "plain"] if a.suite == "both" else [a.suite],
                start_loops=not a.no_loops)
        return 0
    return replay(a.out)


if __name__ == "__main__":
    raise SystemExit(main())

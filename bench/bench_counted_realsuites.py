"""Counted vs default meter on real third-party suites, side by side (issue #20's done-when script).

    python bench/bench_counted_realsuites.py \\
        --suite cattrs=CHECKOUT/cattrs::bench --ignore=bench/test_enums.py \\
        --subset cattrs::bench/test_primitives.py --plant "cattrs::test_unstructure_int[Converter]" \\
        --runs 5 --meters counted,model --busy 0,2

For every suite (a checkout of a third-party project with a pytest-benchmark suite, run unchanged from
its own directory; only ``-p greenbench_plant`` is added (bench/greenbench_plant.py, a plugin that wraps one
benchmark's function)), every
meter and every load (``--busy N``: N ``while True: pass`` loops run beside it), in fresh pytest processes:

* ``--runs`` A/A runs of the selection; per benchmark the relative spread of the energy per call
  (min over rounds; max/min - 1 over the runs);
* one run of ``--subset`` (a smaller selection of the same suite): the largest deviation of its
  benchmarks from the A/A runs' range;
* the gate's verdict (``greenbench.gate.compare_run``, the code ``--energy-compare-fail`` runs) over
  every ordered pair of A/A runs at ``--threshold`` (false alarms: "regression"; undecided: anything but
  ok/improved/regression).  The counted meter is judged against the one baseline run (the counted recipe);
  a time-based meter (``model``) as the README tells its users to gate it, against three baseline runs saved
  under the same load: the pair's baseline plus two other A/A runs as the older stored runs;
* one planted run: the ``--plant`` benchmark calls its function once more every ``--every`` calls
  (``--every 50``: +2 % of that function's own work; ``--model-every`` for a time-based meter, default 1:
  +100 %, issue #20's part 4), judged against each A/A run (and two others, as above): caught when the gate
  says "regression" for it and for no other benchmark.

The plugin is loaded in the A/A runs too (wrapper only, nothing planted), so the planted run differs from
them by the planted work alone.  Wall times are printed; they depend on the machine's load, counts do not.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import itertools
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def parse_suite(spec: str) -> tuple[str, Path, list[str]]:
    name, _, rest = spec.partition("=")
    cwd, _, args = rest.partition("::")
    if not name or not cwd or not args:
        raise SystemExit(f"--suite {spec!r}: expected NAME=DIR::PYTEST ARGS")
    return name, Path(cwd), shlex.split(args)


#: the counted meter with --energy-isolate (each benchmark in a process of its own), N jobs at a time
ISOLATED = "isolated"


def meter_args(meter: str, isolate_jobs: int = 2) -> list[str]:
    if meter == ISOLATED:
        return ["--energy-meter=counted", "--energy-isolate", "-n", str(isolate_jobs)]
    return [f"--energy-meter={meter}"]


def deterministic(meter: str) -> bool:
    return meter in ("counted", ISOLATED)


def run_suite(cwd: Path, args: list[str], meter: str, out: Path, *, rounds: int, plant: str = "",
              isolate_jobs: int = 2) -> float:
    # the plugin module is on the path by itself: a suite's own ``bench`` package must not shadow it
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "bench"), os.environ.get("PYTHONPATH", "")]),
               GREENBENCH_COUNTED_ROUNDS=str(rounds))
    env["GREENBENCH_PLANT"] = plant
    cmd = [sys.executable, "-m", "pytest", *args, "-p", "greenbench_plant", "-p", "no:randomly",
           "-p", "no:cacheprovider", "-q", *meter_args(meter, isolate_jobs), f"--benchmark-json={out}"]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if p.returncode not in (0, 1) or not out.is_file():
        raise SystemExit(f"{' '.join(cmd)} (in {cwd}) exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return wall


def entries(path: Path) -> dict[str, dict[str, Any]]:
    data = json.loads(path.read_text())
    return {b["fullname"]: b for b in data["benchmarks"] if (b.get("extra_info") or {}).get("energy")}


def per_call(entry: dict[str, Any]) -> float:
    return float(min(entry["extra_info"]["energy"]["rounds_j"]))


def judge(runs: list[dict[str, dict[str, Any]]], base: int, cur: dict[str, dict[str, Any]], *, names: list[str],
          rule: Any, baselines: int, skip: int = -1) -> dict[str, Any]:
    """The gate's verdicts for ``cur`` against A/A run ``base`` (and ``baselines - 1`` other A/A runs, not ``skip``,
    as the older stored runs), as the plugin decides them: ``greenbench.gate.compare_run``."""
    from greenbench import gate

    others = [i for i in range(len(runs)) if i not in (base, skip)][:baselines - 1]
    older = [{"benchmarks": list(runs[i].values())} for i in others]
    return {v.name: v for v in gate.compare_run(runs[base], [cur[b] for b in names if b in cur], rule, older)}


def busy_loops(n: int) -> list[subprocess.Popen[bytes]]:
    # sessions of their own: they load the machine, not only this script's share of it (scheduler autogroups)
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True) for _ in range(n)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", action="append", required=True, help="NAME=DIR::PYTEST ARGS (selection)")
    ap.add_argument("--subset", action="append", default=[], help="NAME::PYTEST ARGS (a smaller selection)")
    ap.add_argument("--plant", action="append", default=[], help="NAME::TEST ID SUBSTRING")
    ap.add_argument("--every", type=int, default=50, help="planted: one extra call every N calls (50: +2%%)")
    ap.add_argument("--model-every", type=int, default=1,
                    help="the same for a time-based meter (1: +100%%, judged at --model-threshold)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3, help="counted rounds (GREENBENCH_COUNTED_ROUNDS)")
    ap.add_argument("--meters", default="counted,model",
                    help=f"comma list: counted, model, ..., or {ISOLATED} (counted with --energy-isolate)")
    ap.add_argument("--isolate-jobs", type=int, default=2, help=f"{ISOLATED}: jobs at a time (-n)")
    ap.add_argument("--busy", default="0", help="comma list of busy-loop counts, e.g. 0,2")
    ap.add_argument("--threshold", default="1%", help="the gate's threshold for the counted meter")
    ap.add_argument("--model-threshold", default="10%", help="the gate's threshold for the model meter")
    ap.add_argument("--keep", type=Path, default=None, help="keep the JSON files here")
    ap.add_argument("--jobs", type=int, default=1, help="counted runs side by side (time-based meters: 1)")
    ap.add_argument("--analyse-only", action="store_true", help="only read the JSON files already in --keep")
    ns = ap.parse_args(argv)

    from greenbench import gate

    suites = [parse_suite(s) for s in ns.suite]
    subsets = {s.partition("::")[0]: shlex.split(s.partition("::")[2]) for s in ns.subset}
    plants = {s.partition("::")[0]: s.partition("::")[2] for s in ns.plant}
    meters = ns.meters.split(",")
    loads = [int(b) for b in ns.busy.split(",")]
    work = ns.keep or Path(tempfile.mkdtemp(prefix="greenbench-realsuites-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average at start "
          f"{os.getloadavg()[0]:.1f}; files in {work}", flush=True)
    rows: list[str] = []
    for (name, cwd, args), busy, meter in itertools.product(suites, loads, meters):
        rule = gate.GateRule.parse(ns.threshold if deterministic(meter) else ns.model_threshold)
        loops = busy_loops(0 if ns.analyse_only else busy)
        every = ns.every if deterministic(meter) else ns.model_every
        try:
            tag = f"{name}-{meter}-busy{busy}"
            # the wrapper alone, nothing planted; "0" padded to the planted value's width and the planted run's file
            # named like an A/A run's: a counted process's small calls move ~1 % when anything before them differs,
            # an environment string's length included (docs/counted.md), so the planted run differs by its work only
            off = f"{plants[name]}:{'0' * len(str(every))}" if name in plants else ""
            jobs: list[tuple[str, list[str], str]] = [(f"aa{i}", args, off) for i in range(ns.runs)]
            if name in subsets:
                jobs.append(("subset", subsets[name], off))
            if name in plants:
                jobs.append(("pl0", args, f"{plants[name]}:{every}"))
            # counted runs may run side by side (counts do not depend on the load); time-based meters one by one
            width = ns.jobs if deterministic(meter) else 1
            if ns.analyse_only:  # the JSON files of an earlier run in --keep
                walls = [float("nan")]
            else:
                with concurrent.futures.ThreadPoolExecutor(max_workers=width) as pool:
                    futures = {key: pool.submit(run_suite, cwd, a, meter, work / f"{tag}-{key}.json",
                                                rounds=ns.rounds, plant=plant, isolate_jobs=ns.isolate_jobs)
                               for key, a, plant in jobs}
                    walls = [futures[k].result() for k, _, _ in jobs if k != "pl0"]
            runs = [entries(work / f"{tag}-aa{i}.json") for i in range(ns.runs)]
            subset = entries(work / f"{tag}-subset.json") if name in subsets else None
            planted = entries(work / f"{tag}-pl0.json") if name in plants else None
            print(f"  {tag}: {len(jobs)} runs of {min(walls):.0f}-{max(walls):.0f} s ({width} at a time)", flush=True)
        finally:
            for p in loops:
                p.kill()
                p.wait()
        names = sorted(set.intersection(*(set(r) for r in runs)))
        baselines = 1 if deterministic(meter) else 3
        pair_verdicts = {(a, b): judge(runs, a, runs[b], names=names, rule=rule, baselines=baselines, skip=b)
                         for a, b in itertools.permutations(range(len(runs)), 2)}
        rows.append(f"\n## {name}, meter {meter}, {busy} busy loops: {len(names)} benchmarks, {ns.runs} A/A runs "
                    f"({min(walls):.0f}-{max(walls):.0f} s each, {width} at a time), gate at {rule}")
        rows.append("| benchmark | energy per call | A/A spread | subset vs A/A | false alarms | undecided |")
        rows.append("|---|---|---|---|---|---|")
        worst_spread, worst_subset, alarms, undecided, pairs = 0.0, 0.0, 0, 0, 0
        for bench in names:
            vals = [per_call(r[bench]) for r in runs]
            spread = max(vals) / min(vals) - 1
            sub = ""
            if subset is not None and bench in subset:
                v = per_call(subset[bench])
                dev = max(v / max(vals) - 1, 1 - v / min(vals), 0.0)
                worst_subset = max(worst_subset, dev)
                sub = f"{dev:.3%}"
            fa = ud = 0
            for a, b in itertools.permutations(range(len(runs)), 2):
                verdict = pair_verdicts[(a, b)][bench]
                fa += verdict.verdict == "regression"
                ud += (verdict.verdict not in ("ok", "improved", "regression")
                       or (verdict.verdict == "ok" and bool(verdict.cause)))
            n_pairs = len(runs) * (len(runs) - 1)
            pairs += n_pairs
            alarms += fa
            undecided += ud
            worst_spread = max(worst_spread, spread)
            short = bench.split("::", 1)[-1]
            rows.append(f"| {short} | {min(vals):.4g} J | {spread:.3%} | {sub or '-'} | {fa}/{n_pairs} "
                        f"| {ud}/{n_pairs} |")
        rows.append(f"\nworst A/A spread {worst_spread:.3%}; worst subset deviation "
                    f"{worst_subset:.3%}; false alarms {alarms}/{pairs} ordered pairs; undecided {undecided}/{pairs}")
        if planted is not None:
            target = [b for b in names if plants[name] in b]
            caught = other = 0
            changes = []
            for i in range(len(runs)):
                verdicts = judge(runs, i, planted, names=names, rule=rule, baselines=baselines)
                hit = all(verdicts[t].verdict == "regression" for t in target)
                flagged = [b for b, v in verdicts.items() if v.verdict == "regression" and b not in target]
                caught += hit and not flagged
                other += len(flagged)
                changes += [verdicts[t].change for t in target]
            rows.append(f"planted +{1 / every:.1%} work in {', '.join(t.split('::', 1)[-1] for t in target)}: "
                        f"measured {min(changes):+.2%} to {max(changes):+.2%}; caught alone against "
                        f"{caught}/{len(runs)} A/A baselines; other benchmarks flagged {other} times")
        print("\n".join(rows[-(len(names) + 6):]), flush=True)
    print("\n# summary\n" + "\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

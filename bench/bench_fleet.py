"""Fleet-scale throughput: single process vs a local Dask cluster, side by side.

    python bench/bench_fleet.py               # 10^6 and 10^7 jobs, single process and LocalCluster(2 workers)
    python bench/bench_fleet.py --quick       # 10^5 and 10^6 jobs
    python bench/bench_fleet.py --jobs 1e8    # add the goal run (10^8 jobs × 8,760 h × 5 regions)
    python bench/bench_fleet.py --workers 4 --scenario my_fleet.toml

Every configuration runs in a fresh child process, so its peak memory (max RSS of
the driver and of each worker) is its own.  Time counts the run itself (tables,
generation, shifting, summation), not starting Python or the cluster (shown
apart).  The fleet is greensim/scenarios/fleet/fleet_example.toml with
``jobs`` overridden and the default partition size.  Totals of the two engines
must agree bit for bit; the script checks it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "greensim" / "scenarios" / "fleet" / "fleet_example.toml"
GOAL_S = 120.0


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _child(scenario: str, jobs: int, workers: int) -> dict[str, object]:
    from greensim import fleet as fl

    spec = replace(fl.load_fleet_scenario(scenario).spec, jobs=jobs, partition_jobs=fl.DEFAULT_PARTITION_JOBS)
    out: dict[str, object] = {"jobs": jobs, "workers": workers}
    if workers == 0:
        start = time.perf_counter()
        result = fl.run_fleet(spec, progress=False)
        out["run_s"] = time.perf_counter() - start
        out["startup_s"] = 0.0
        out["rss_mb"] = [_max_rss_mb()]
    else:
        import dask
        import distributed

        t0 = time.perf_counter()
        with dask.config.set(fl.NO_WORKER_PROFILE), \
                distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
                distributed.Client(cluster) as client:
            client.wait_for_workers(workers)
            out["startup_s"] = time.perf_counter() - t0
            start = time.perf_counter()
            result = fl.run_fleet(spec, client, progress=False)
            out["run_s"] = time.perf_counter() - start
            worker_rss = client.run(_max_rss_mb)
            out["rss_mb"] = [_max_rss_mb(), *worker_rss.values()]
    out["totals"] = result.totals
    out["partitions"] = result.partitions
    return out


def _run_child(scenario: str, jobs: int, workers: int, timeout: float) -> dict[str, object]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, __file__, "--child", "--scenario", scenario, "--jobs", str(jobs),
                           "--workers", str(workers)], capture_output=True, text=True, env=env, timeout=timeout,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench_fleet: child (jobs={jobs}, workers={workers}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^5 and 10^6 jobs instead of 10^6 and 10^7")
    parser.add_argument("--jobs", type=float, action="append", default=[], metavar="N",
                        help="also run N jobs (repeatable), e.g. --jobs 1e8 for the goal run")
    parser.add_argument("--workers", type=int, default=2, help="local cluster workers (default 2)")
    parser.add_argument("--scenario", default=str(EXAMPLE), help="fleet scenario file")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per configuration")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.scenario, int(args.jobs[0]), args.workers)))
        return 0
    sizes = [10**5, 10**6] if args.quick else [10**6, 10**7]
    sizes += [int(n) for n in args.jobs if int(n) not in sizes]
    print(f"fleet: {Path(args.scenario).name}, {os.cpu_count()} CPUs; cluster = LocalCluster({args.workers} "
          f"workers × 1 thread, processes)")
    header = (f"{'jobs':>13} | {'single: s':>9} {'jobs/s':>12} {'µs/job':>7} {'peak MB':>8} | "
              f"{'cluster: s':>10} {'jobs/s':>12} {'µs/job':>7} {'peak MB drv+wrk':>19} {'start s':>7} | "
              f"{'speed-up':>8} {'same totals':>11}")
    print(header)
    print("-" * len(header))
    rows = []
    for n in sorted(sizes):
        single = _run_child(args.scenario, n, 0, args.timeout)
        cluster = _run_child(args.scenario, n, args.workers, args.timeout)
        s_t, c_t = float(single["run_s"]), float(cluster["run_s"])  # type: ignore[arg-type]
        rss_c = cluster["rss_mb"]
        assert isinstance(rss_c, list)
        same = single["totals"] == cluster["totals"]
        print(f"{n:>13,} | {s_t:>9.2f} {n / s_t:>12,.0f} {1e6 * s_t / n:>7.3f} {single['rss_mb'][0]:>8.0f} | "  # type: ignore[index]
              f"{c_t:>10.2f} {n / c_t:>12,.0f} {1e6 * c_t / n:>7.3f} "
              f"{'+'.join(f'{m:.0f}' for m in rss_c):>19} {cluster['startup_s']:>7.1f} | "
              f"{s_t / c_t:>7.2f}× {'yes' if same else 'NO':>11}")
        rows.append((n, s_t, c_t, same))
    print("\nµs/job = run time / jobs (flat = cost per job independent of job count; small fleets also pay the")
    print("fixed table build, ~0.3 s per process).  peak MB = max RSS of the driver (+ each worker).")
    for n, s_t, c_t, _ in rows:
        if n >= 10**8:
            best = min(s_t, c_t)
            verdict = "meets" if best < GOAL_S else "misses"
            print(f"goal: {n:,} jobs × 8,760 h × regions in {best:.1f} s — {verdict} the {GOAL_S:.0f} s goal")
    if not all(same for *_, same in rows):
        print("ERROR: single-process and cluster totals differ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

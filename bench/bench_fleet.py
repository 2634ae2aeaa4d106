"""Fleet-scale throughput: the engine before and now, single process vs a local Dask cluster, side by side.

    python bench/bench_fleet.py               # 10^6 and 10^7 jobs: before/now × single process/LocalCluster(2)
    python bench/bench_fleet.py --quick       # 10^5 and 10^6 jobs
    python bench/bench_fleet.py --jobs 1e8    # add a 10^8 run (10^8 synthetic jobs × 8,760 h × 5 regions)
    python bench/bench_fleet.py --jobs 1e9 --engines now --modes cluster   # the billion-job goal run
    python bench/bench_fleet.py --profile     # where a synthetic job's time goes, before and now
    python bench/bench_fleet.py --parquet 1e8 --files 8   # jobs from a Parquet dataset read by the workers

Every configuration runs in a fresh child process, so its peak memory (max RSS of
the driver and of each worker) is its own.  Time counts the run itself (tables,
generation, shifting, summation), not starting Python or the cluster (shown
apart).  The fleet is greensim/scenarios/fleet/fleet_example.toml with ``jobs``
overridden and the default partition size.

``before`` is greensim/fleet.py as of ``--baseline-rev`` (read from git into a
temporary module, importable by the workers through PYTHONPATH), ``now`` the
working tree.  Both draw the same jobs, so the script requires every total to
agree bit for bit across engines and worker counts.  On a shared machine wall
times are noisy: compare rows of the same run, and read the ratios.

``--parquet N``: writes N jobs (the synthetic fleet's first N, so the totals are
known) as ``--files`` Parquet files into a temporary directory (deleted
afterwards; ``--keep`` keeps it), then runs the fleet from that directory on
one process and on the cluster, where each worker reads its own row groups.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "greensim" / "scenarios" / "fleet" / "fleet_example.toml"
GOAL_S = 120.0
#: greensim/fleet.py before issue 26's per-job work (the "today" of the issue)
BASELINE_REV = "e40254a"
FLEET_PATH = "greensim/fleet.py"
BEFORE_MODULE = "greensim_fleet_before"


def _max_rss_mb() -> float:
    """Peak RSS of this process: VmHWM (Linux), not ``ru_maxrss``, which keeps the parent's RSS at the fork
    across exec (a child of a parent that wrote a big dataset would report the parent's peak)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _cpu_s() -> float:
    """CPU seconds (user + system) this process has used: far less sensitive to other load than wall time."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _engine(name: str) -> Any:
    if name == "before":
        import importlib

        return importlib.import_module(BEFORE_MODULE)
    from greensim import fleet

    return fleet


def _child(scenario: str, jobs: int, workers: int, engine: str, source: str | None) -> dict[str, object]:
    fl = _engine(engine)
    spec = replace(fl.load_fleet_scenario(scenario).spec, jobs=jobs, partition_jobs=fl.DEFAULT_PARTITION_JOBS)
    if source is not None:
        spec = _file_spec(fl, spec, source)
    out: dict[str, object] = {"jobs": jobs, "workers": workers, "engine": engine}
    if workers == 0:
        cpu0 = _cpu_s()
        start = time.perf_counter()
        result = fl.run_fleet(spec, progress=False)
        out["run_s"] = time.perf_counter() - start
        out["cpu_s"] = _cpu_s() - cpu0
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
            drv0, wrk0 = _cpu_s(), sum(client.run(_cpu_s).values())
            start = time.perf_counter()
            result = fl.run_fleet(spec, client, progress=False)
            out["run_s"] = time.perf_counter() - start
            drv = _cpu_s() - drv0  # client + scheduler (LocalCluster runs it in this process)
            wrk = sum(client.run(_cpu_s).values()) - wrk0
            out.update(cpu_driver_s=drv, cpu_workers_s=wrk, cpu_s=drv + wrk)
            worker_rss = client.run(_max_rss_mb)
            out["rss_mb"] = [_max_rss_mb(), *worker_rss.values()]
    out["totals"] = result.totals
    out["sums"] = result.sums
    out["partitions"] = result.partitions
    return out


def _file_spec(fl: Any, spec: Any, source: str) -> Any:
    kw = {k: getattr(spec, k) for k in ("regions", "pue", "max_duration_h", "deadlines_h", "deadline_p",
                                        "partition_jobs", "title")}
    return fl.FleetSpec(source=Path(source), **kw)


def _profile(scenario: str, engine: str) -> dict[str, object]:
    """Per-job cost of one partition (16 blocks), split into generation and shifting + sums, and the
    top functions by own time (cProfile)."""
    import cProfile
    import io
    import pstats

    fl = _engine(engine)
    spec = replace(fl.load_fleet_scenario(scenario).spec, jobs=64 * fl.BLOCK_JOBS)
    model = fl._Model.of(spec)
    t0 = time.perf_counter()
    tab = fl._tables(model)
    tables_s = time.perf_counter() - t0
    gen = sums = float("inf")
    for _ in range(3):
        g = s = 0.0
        for b in range(16):
            t0 = time.process_time()
            jobs = fl.synthetic_block(spec, b, tab.n_steps)
            t1 = time.process_time()
            fl._block_sums(tab, jobs)
            s += time.process_time() - t1
            g += t1 - t0
        gen, sums = min(gen, g), min(sums, s)
    n = 16 * fl.BLOCK_JOBS
    prof = cProfile.Profile()
    prof.enable()
    fl._synthetic_partition(model, spec, 16, 16)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(6)
    return {"engine": engine, "generate_ns": 1e9 * gen / n, "sums_ns": 1e9 * sums / n, "tables_s": tables_s,
            "cprofile": buf.getvalue()}


def _env(extra_path: str | None) -> dict[str, str]:
    paths = [str(ROOT), extra_path, os.environ.get("PYTHONPATH")]
    return {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def _run_child(args: argparse.Namespace, before_dir: str | None, jobs: int, workers: int, engine: str, *,
               source: str | None = None, profile: bool = False) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", "--scenario", args.scenario, "--jobs", str(jobs),
           "--workers", str(workers), "--engines", engine]
    if source is not None:
        cmd += ["--source", source]
    if profile:
        cmd += ["--profile"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(before_dir), timeout=args.timeout,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench_fleet: child (engine={engine}, jobs={jobs}, workers={workers}) failed:\n"
                         f"{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _write_before(rev: str) -> str:
    try:
        src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{FLEET_PATH}"], capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"bench_fleet: --baseline-rev {rev}: cannot read {FLEET_PATH} from git ({exc})") from None
    tmp = tempfile.mkdtemp(prefix="fleet_before_")
    Path(tmp, f"{BEFORE_MODULE}.py").write_text(src, encoding="utf-8")
    return tmp


def _write_dataset(directory: Path, scenario: str, jobs: int, files: int) -> float:
    """The synthetic fleet's first ``jobs`` jobs as ``files`` Parquet files (whole blocks per file,
    row groups of one block), written block by block (memory flat).  Returns seconds taken."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from greensim import fleet as fl

    spec = replace(fl.load_fleet_scenario(scenario).spec, jobs=jobs)
    n_blocks = -(-jobs // fl.BLOCK_JOBS)
    per_file = -(-n_blocks // files)
    regions = np.asarray(spec.regions)
    deadlines = np.asarray(spec.deadlines_h)
    schema = pa.schema([("duration_h", pa.float64()), ("submit_h", pa.float64()), ("region", pa.string()),
                        ("energy_kwh", pa.float64()), ("deadline_h", pa.float64())])
    t0 = time.perf_counter()
    for f, first in enumerate(range(0, n_blocks, per_file)):
        with pq.ParquetWriter(directory / f"jobs-{f:04d}.parquet", schema) as writer:
            for b in range(first, min(n_blocks, first + per_file)):
                j = fl.synthetic_block(spec, b)
                writer.write_table(pa.table({
                    "duration_h": j.length.astype(np.float64), "submit_h": j.submit.astype(np.float64),
                    "region": pa.array(regions[j.home]).dictionary_encode(), "energy_kwh": j.energy_kwh,
                    "deadline_h": deadlines[j.deadline]}).cast(schema))
    return time.perf_counter() - t0


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(a["totals"] == b["totals"] and a["sums"] == b["sums"])


def _row(label: str, n: int, r: dict[str, Any]) -> str:
    t = float(r["run_s"])
    rss = "+".join(f"{m:.0f}" for m in r["rss_mb"])
    return (f"{label:>22} {n:>14,} {t:>9.2f} {n / t:>13,.0f} {1e6 * t / n:>8.4f} "
            f"{1e6 * t * max(1, int(r['workers'])) / n:>11.4f} {1e6 * float(r['cpu_s']) / n:>10.4f} {rss:>17} "
            f"{float(r['startup_s']):>7.1f}")


HEADER = (f"{'engine / where':>22} {'jobs':>14} {'run s':>9} {'jobs/s':>13} {'µs/job':>8} {'µs/job/core':>11} "
          f"{'CPU µs/job':>10} {'peak MB drv+wrk':>17} {'start s':>7}")


def _main_profile(args: argparse.Namespace, before_dir: str | None, engines: list[str]) -> None:
    res = {e: _run_child(args, before_dir, 0, 0, e, profile=True) for e in engines}
    print("where a synthetic job's time goes (one partition of 16 blocks, best of 3, CPU ns per job):")
    for e, r in res.items():
        print(f"  {e:>6}: generate {r['generate_ns']:7.1f}  shift + sums {r['sums_ns']:7.1f}  total "
              f"{r['generate_ns'] + r['sums_ns']:7.1f} ns/job   (tables once per process: {r['tables_s']:.2f} s)")
    if len(res) == 2:
        b, n = res["before"], res["now"]
        print(f"  now vs before: {(b['generate_ns'] + b['sums_ns']) / (n['generate_ns'] + n['sums_ns']):.2f}× "
              "less time per job")
    for e, r in res.items():
        print(f"\n-- cProfile, engine {e} (own time) --")
        print("\n".join(line for line in r["cprofile"].splitlines()[6:] if line.strip()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^5 and 10^6 jobs instead of 10^6 and 10^7")
    parser.add_argument("--jobs", type=float, action="append", default=[], metavar="N",
                        help="also run N jobs (repeatable), e.g. --jobs 1e8")
    parser.add_argument("--only", action="store_true", help="run only the --jobs sizes")
    parser.add_argument("--workers", type=int, default=2, help="local cluster workers (default 2)")
    parser.add_argument("--engines", default="before,now", help="before,now (default), or one of them")
    parser.add_argument("--modes", default="single,cluster", help="single,cluster (default), or one of them")
    parser.add_argument("--baseline-rev", default=BASELINE_REV, help=f"git revision of the 'before' engine "
                        f"(default {BASELINE_REV})")
    parser.add_argument("--scenario", default=str(EXAMPLE), help="fleet scenario file")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per configuration")
    parser.add_argument("--profile", action="store_true", help="where a job's time goes, per engine")
    parser.add_argument("--parquet", type=float, default=None, metavar="N",
                        help="jobs from a generated Parquet dataset of N jobs instead (engine now)")
    parser.add_argument("--files", type=int, default=8, help="Parquet files in the dataset (default 8)")
    parser.add_argument("--keep", action="store_true", help="keep the generated dataset (prints its path)")
    parser.add_argument("--source", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not set(engines) <= {"before", "now"} or not engines or not set(modes) <= {"single", "cluster"} or not modes:
        parser.error("--engines: expected before and/or now; --modes: single and/or cluster")
    if args.child:
        if args.profile:
            print(json.dumps(_profile(args.scenario, engines[0])))
        else:
            print(json.dumps(_child(args.scenario, int(args.jobs[0]), args.workers, engines[0], args.source)))
        return 0
    if args.parquet is not None:
        return _main_parquet(args, int(args.parquet), modes)
    before_dir = _write_before(args.baseline_rev) if "before" in engines else None
    try:
        if args.profile:
            _main_profile(args, before_dir, engines)
            return 0
        return _main_synthetic(args, before_dir, engines, modes)
    finally:
        if before_dir is not None:
            shutil.rmtree(before_dir, ignore_errors=True)


def _main_synthetic(args: argparse.Namespace, before_dir: str | None, engines: list[str], modes: list[str]) -> int:
    sizes = [] if args.only else [10**5, 10**6] if args.quick else [10**6, 10**7]
    sizes += [int(n) for n in args.jobs if int(n) not in sizes]
    print(f"fleet: {Path(args.scenario).name}, {os.cpu_count()} CPUs; cluster = LocalCluster({args.workers} "
          f"workers × 1 thread, processes); before = {FLEET_PATH} at {args.baseline_rev}, now = working tree")
    print(HEADER)
    print("-" * len(HEADER))
    ok = True
    goal_rows = []
    for n in sorted(sizes):
        runs: dict[tuple[str, str], dict[str, Any]] = {}
        for mode in modes:
            for engine in engines:
                r = _run_child(args, before_dir, n, 0 if mode == "single" else args.workers, engine)
                runs[(engine, mode)] = r
                where = "1 process" if mode == "single" else f"{args.workers} workers"
                print(_row(f"{engine}, {where}", n, r), flush=True)
        first = next(iter(runs.values()))
        same = all(_same(first, r) for r in runs.values())
        ok &= same
        notes = [f"same totals (every engine and worker count, bit for bit): {'yes' if same else 'NO'}"]
        for mode in modes:
            if ("before", mode) in runs and ("now", mode) in runs:
                b, w = runs[("before", mode)], runs[("now", mode)]
                notes.append(f"now vs before ({mode}): wall {float(b['run_s']) / float(w['run_s']):.2f}×, "
                             f"CPU {float(b['cpu_s']) / float(w['cpu_s']):.2f}×")
        for (engine, _mode), r in runs.items():
            if "cpu_workers_s" in r:
                notes.append(f"{engine} cluster CPU: workers {1e6 * r['cpu_workers_s'] / n:.4f} + driver/scheduler "
                             f"{1e6 * r['cpu_driver_s'] / n:.4f} µs/job")
        print("   " + "; ".join(notes))
        if ("now", "cluster") in runs:
            goal_rows.append((n, float(runs[("now", "cluster")]["run_s"])))
    print("\nµs/job = run time / jobs; µs/job/core multiplies by the worker count (1 for one process); CPU µs/job")
    print("= CPU seconds of the driver and every worker during the run / jobs (less sensitive to other load).  Small")
    print("fleets also pay the fixed table build (~0.3-1.5 s per process).  peak MB = max RSS of the driver")
    print("(+ each worker).  Wall time on a shared machine: noisy; the ratios come from the same run.")
    for n, t in goal_rows:
        if n >= 10**9:
            verdict = "meets" if t <= GOAL_S else "misses"
            print(f"goal: {n:,} jobs on {args.workers} workers in {t:.1f} s — {verdict} the {GOAL_S:.0f} s goal")
        elif n >= 10**8:
            print(f"extrapolated (not run): 10^9 jobs on {args.workers} workers ≈ {t * 10**9 / n:.0f} s "
                  f"from {n:,} in {t:.1f} s (goal {GOAL_S:.0f} s)")
    if not ok:
        print("ERROR: totals differ between engines or worker counts", file=sys.stderr)
        return 1
    return 0


def _main_parquet(args: argparse.Namespace, jobs: int, modes: list[str]) -> int:
    directory = Path(tempfile.mkdtemp(prefix="fleet_parquet_"))
    try:
        took = _write_dataset(directory, args.scenario, jobs, args.files)
        size = sum(p.stat().st_size for p in directory.iterdir())
        print(f"dataset: {jobs:,} jobs in {len(list(directory.iterdir()))} Parquet files, {size / 2**20:,.0f} MiB, "
              f"written in {took:.1f} s ({directory}{', kept' if args.keep else ', deleted afterwards'})")
        print(HEADER)
        print("-" * len(HEADER))
        runs = {}
        for mode in modes:
            workers = 0 if mode == "single" else args.workers
            r = _run_child(args, None, jobs, workers, "now", source=str(directory))
            runs[mode] = r
            print(_row(f"parquet, {'1 process' if mode == 'single' else f'{workers} workers'}", jobs, r),
                  flush=True)
            if "cpu_workers_s" in r:
                print(f"   cluster CPU: workers {1e6 * r['cpu_workers_s'] / jobs:.4f} + driver/scheduler "
                      f"{1e6 * r['cpu_driver_s'] / jobs:.4f} µs/job; driver peak {r['rss_mb'][0]:.0f} MB")
        synthetic = _run_child(args, None, jobs, args.workers if "cluster" in modes else 0, "now")
        print(_row(f"synthetic, {'2 workers' if 'cluster' in modes else '1 process'}", jobs, synthetic))
        same = all(r["totals"] == synthetic["totals"] for r in runs.values())
        print(f"   same totals as the synthetic fleet it was written from (every mode): {'yes' if same else 'NO'}")
        if "cluster" in modes and jobs >= 10**7:
            t = float(runs["cluster"]["run_s"])
            scale = "" if jobs >= 10**8 else f" (extrapolated to 10^8: ≈ {t * 10**8 / jobs:.0f} s)"
            print(f"goal: {jobs:,} jobs from Parquet on {args.workers} workers in {t:.1f} s{scale}; goal "
                  f"{GOAL_S:.0f} s for 10^8")
        return 0 if same else 1
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

"""``greensim`` command line: run what-if scenarios, list regions, show the SNN sweep.

    greensim run FILE.toml [--results JSON] [--benchmark NAME] [--json [PATH]] [--plot PNG]
    greensim regions [--table auto|owid|electricitymaps|green_algorithms] [--hourly]
    greensim snn-sweep [--timesteps T]
    greensim fleet FILE.toml [--workers N | --scheduler ADDRESS] [--json [PATH]] [--plot PNG]

Errors print one line to stderr (``greensim: error: ...``) and exit with status 2.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from typing import IO, Any

from greenbench.errors import GreenbenchError

EXIT_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="greensim", description="Projections of measured energy: "
                                     "architectures, SNNs, data centres, grids, hours, 4M.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a what-if scenario file (TOML)")
    run.add_argument("file", help="scenario TOML file (examples: greensim/scenarios/*.toml)")
    run.add_argument("--results", metavar="JSON", help="pytest-benchmark JSON to read the measured energy "
                     "from (overrides [source].results; relative to the working directory)")
    run.add_argument("--benchmark", metavar="NAME", help="benchmark name, fullname or pattern "
                     "(overrides [source].benchmark)")
    run.add_argument("--json", nargs="?", const="-", metavar="PATH",
                     help="write the result as JSON to PATH (atomically), or to stdout without PATH")
    run.add_argument("--plot", metavar="PNG", help="write a bar chart of the projections")
    regions = sub.add_parser("regions", help="list regions with a yearly (or hourly) intensity")
    regions.add_argument("--table", default="auto", help="auto, owid, electricitymaps or green_algorithms")
    regions.add_argument("--hourly", action="store_true", help="zones with a shipped hourly series")
    sweep = sub.add_parser("snn-sweep",
                           help="ANN/SNN energy ratio vs spike rate, beside the study's quoted figures")
    sweep.add_argument("--timesteps", type=float, default=1.0)
    fleet = sub.add_parser("fleet", help="fleet-scale load shifting (and [sweep] grids), optionally on Dask")
    fleet.add_argument("file", help="fleet scenario TOML file with a [fleet] table "
                       "(example: greensim/scenarios/fleet/fleet_example.toml)")
    where = fleet.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N", help="start a local Dask cluster of N worker "
                       "processes (default: run in this process, no cluster)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="use an existing Dask scheduler, "
                       "e.g. tcp://host:8786")
    fleet.add_argument("--jobs", type=float, metavar="N", help="override [fleet].jobs (e.g. 1e7)")
    fleet.add_argument("--seed", type=int, help="override [fleet].seed")
    fleet.add_argument("--partition-jobs", type=float, metavar="N", help="override [fleet].partition_jobs")
    fleet.add_argument("--json", nargs="?", const="-", metavar="PATH",
                       help="write the result as JSON to PATH (atomically), or to stdout without PATH")
    fleet.add_argument("--plot", metavar="PNG", help="write a chart (per region; trade-offs for a sweep)")
    fleet.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="progress bar on stderr (default: on a terminal, for long runs)")
    return parser


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse, before any work, an output that cannot be written: ``--json ''``, a folder, a bad suffix."""
    from greenbench.io import atomic

    if args.json == "/dev/stdout":  # the JSON alone on stdout, as with a bare --json (no table after it)
        args.json = "-"
    if args.json is not None and args.json != "-":
        atomic.check_path(args.json, "--json")
    if args.plot is not None:
        atomic.figure_format(args.plot, "--plot")


def _run(args: argparse.Namespace) -> int:
    from greensim.report import iter_json, plot, render_table, write_json
    from greensim.scenario import load_scenario, run_scenario

    _check_outputs(args)
    result = run_scenario(load_scenario(args.file), results=args.results, benchmark=args.benchmark)
    if args.plot:
        plot(result, args.plot)
    if args.json == "-":
        for chunk in iter_json(result):
            sys.stdout.write(chunk)
        return 0
    if args.json:
        write_json(result, args.json)
    render_table(result)
    return 0


def _fleet(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from greenbench.errors import ConfigError
    from greensim import fleet as fl

    _check_outputs(args)
    sc = fl.load_fleet_scenario(args.file)
    overrides: dict[str, Any] = {}
    for key, value in (("jobs", args.jobs), ("seed", args.seed), ("partition_jobs", args.partition_jobs)):
        if value is not None:
            least = 0 if key == "seed" else 1
            if not math.isfinite(value) or value < least or value != int(value) or \
                    (key != "seed" and value > fl.MAX_JOBS):
                top = "" if key == "seed" else " and <= 2**53"
                raise ConfigError(f"--{key.replace('_', '-')}: expected a whole number >= {least}{top}, "
                                  f"got {value:g}")
            overrides[key] = int(value)
    if sc.spec.source is not None and "jobs" in overrides:
        raise ConfigError(f"--jobs: the jobs come from [fleet].source = {str(sc.spec.source)!r}; drop --jobs")
    specs = [replace(sc.spec_at(p), **overrides) for p in sc.points()] if sc.sweep else \
        [replace(sc.spec, **overrides)]
    rows = [s.jobs if s.source is None else fl._file_rows(s) for s in specs]
    n_jobs = sum(r or 0 for r in rows)
    if args.scheduler is None:  # refuse a run beyond a day before starting any cluster
        fl.check_run_length(n_jobs, args.workers or 1, "--jobs" if args.jobs is not None else "[fleet].jobs")
    with fl.cluster_client(workers=args.workers, scheduler=args.scheduler, spec=specs[0]) as client:
        if args.scheduler is not None:
            fl.check_run_length(n_jobs, fl._client_threads(client),
                                "--jobs" if args.jobs is not None else "[fleet].jobs")
        try:
            if sc.sweep:
                result: fl.FleetResult | fl.SweepResult = fl.run_sweep(sc, client, progress=args.progress,
                                                                       overrides=overrides)
            else:
                result = fl.run_fleet(specs[0], client, progress=args.progress)
        except OverflowError as exc:  # math.fsum of finite sums beyond a float
            raise ConfigError(f"{args.file}: totals overflowed a float ({exc}); expected smaller energies or "
                              "PUE") from None
    print(f"greensim: {result.run_info}", file=sys.stderr)
    for res in (result.results if isinstance(result, fl.SweepResult) else (result,)):
        bad = [k for k, v in res.totals.items() if not math.isfinite(v)]
        if bad:
            raise ConfigError(f"{args.file}: totals.{bad[0]} overflowed a float ({res.totals[bad[0]]}); "
                              "expected smaller energies or PUE")
    if args.plot:
        if isinstance(result, fl.SweepResult):
            fl.plot_sweep(result, args.plot)
        else:
            fl.plot_fleet(result, args.plot)
    text = fl.to_json_text(result)
    if args.json == "-":
        sys.stdout.write(text)
        return 0
    if args.json:
        from greensim.report import write_atomic

        def _write(fh: IO[bytes]) -> None:
            fh.write(text.encode("utf-8"))

        write_atomic(args.json, _write, "--json")
    if isinstance(result, fl.SweepResult):
        fl.render_sweep(result)
    else:
        fl.render_fleet(result)
    return 0


def _regions(args: argparse.Namespace) -> int:
    if args.hourly:
        from greensim.hourly import hourly_regions, hourly_series

        for zone in hourly_regions():
            s = hourly_series(zone)
            mean = float(s.intensity_g_per_kwh.mean())
            print(f"{zone:12s} {len(s)} h from {s.start_utc:%Y-%m-%d}, mean {mean:7.1f} g/kWh"
                  f" (estimated hours {s.estimated_fraction:.1%})")
        return 0
    from greenbench.intensity import intensity_record, regions

    for key in regions(args.table):
        rec = intensity_record(key, args.table)
        print(f"{key:14s} {rec.intensity_g_per_kwh:8.1f} g/kWh  {rec.year or '':4}  {rec.table:16s} "
              f"{rec.name}")
    return 0


def _snn_sweep(args: argparse.Namespace) -> int:
    from greensim.snn import (
        DAMPFHOFER_2023,
        MemoryAwareSnnModel,
        break_even_spike_ops,
        implied_timesteps,
        sparsity_sweep,
    )

    rates = sorted({0.5, 0.2, 0.1, 0.05, 0.02, 0.01, *(r for r, _ in DAMPFHOFER_2023)}, reverse=True)
    print(f"ANN/SNN energy ratio (>1: SNN better), timesteps = {args.timesteps:g}; model outputs (estimated)")
    print(f"{'spike rate':>10} {'simple':>9} {'memory-aware':>13} {'study (quoted)':>16}")
    for row in sparsity_sweep(rates, args.timesteps):
        pub = f"{row.published_ratio:.1f}×" if row.published_ratio else "-"
        print(f"{row.spike_rate:>10g} {row.simple_ratio:>8.3g}× {row.memory_ratio:>12.3g}× {pub:>16}")
    print(f"break-even spike_rate × timesteps: simple {break_even_spike_ops():.3f}, "
          f"memory-aware {MemoryAwareSnnModel().break_even_spike_ops():.3f}")
    for rate, ratio in DAMPFHOFER_2023:
        print(f"study's {ratio}× at {rate}: the simple model matches at timesteps = "
              f"{implied_timesteps(ratio, rate):.1f}")
    print("study's figures are attributed to Dampfhofer et al. 2023 but not found in that paper, which "
          "concludes IF-SNNs compete with efficient ANNs only at 0.15-1.38 spikes per synapse per inference")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "regions":
            return _regions(args)
        if args.command == "fleet":
            return _fleet(args)
        return _snn_sweep(args)
    except GreenbenchError as exc:
        print(f"greensim: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly, as other CLIs do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    raise SystemExit(main())

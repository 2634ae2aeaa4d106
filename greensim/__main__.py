"""``greensim`` command line: run what-if scenarios, list regions, show the SNN sweep.

    greensim run FILE.toml [--results JSON] [--benchmark NAME] [--json [PATH]] [--plot PNG]
    greensim regions [--table auto|owid|electricitymaps|green_algorithms] [--hourly]
    greensim snn-sweep [--timesteps T]

Errors print one line to stderr (``greensim: error: ...``) and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from greensim.errors import GreenbenchError

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
                           help="ANN/SNN energy ratio vs spike rate, against Dampfhofer et al. 2023")
    sweep.add_argument("--timesteps", type=float, default=1.0)
    return parser


def _run(args: argparse.Namespace) -> int:
    from greensim.report import plot, render_table, to_json_text, write_json
    from greensim.scenario import load_scenario, run_scenario

    result = run_scenario(load_scenario(args.file), results=args.results, benchmark=args.benchmark)
    if args.plot:
        plot(result, args.plot)
    if args.json == "-":
        sys.stdout.write(to_json_text(result))
        return 0
    if args.json:
        write_json(result, args.json)
    render_table(result)
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
    from greensim.intensity import intensity_record, regions

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
    print(f"{'spike rate':>10} {'simple':>9} {'memory-aware':>13} {'Dampfhofer 2023':>16}")
    for row in sparsity_sweep(rates, args.timesteps):
        pub = f"{row.published_ratio:.1f}×" if row.published_ratio else "-"
        print(f"{row.spike_rate:>10g} {row.simple_ratio:>8.3g}× {row.memory_ratio:>12.3g}× {pub:>16}")
    print(f"break-even spike_rate × timesteps: simple {break_even_spike_ops():.3f}, "
          f"memory-aware {MemoryAwareSnnModel().break_even_spike_ops():.3f}")
    for rate, ratio in DAMPFHOFER_2023:
        print(f"Dampfhofer {ratio}× at {rate}: the simple model matches at timesteps = "
              f"{implied_timesteps(ratio, rate):.1f}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "regions":
            return _regions(args)
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

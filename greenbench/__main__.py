"""``greenbench`` command line: argparse subcommands, one module each with its own ``main(argv)``.

    greenbench report RESULTS.json --out DIR     # rebuild a report folder
    greenbench history [--storage .benchmarks]  # energy across stored runs
    greenbench export FORMAT RESULTS.json       # Bencher / github-action-benchmark / CodeCarbon CSV
    greenbench calibrate                        # fit the counted meter's coefficients to RAPL
    greenbench explain RUN_A RUN_B [-k NAME]    # where a counted benchmark's energy moved, per function

``greenbench --help`` lists every subcommand; ``greenbench COMMAND --help`` shows its options.  Bad input
prints one line ``error: ...`` and exits 2; nothing is half-written.

Adding a subcommand: one entry in :data:`COMMANDS` (its module, which has ``main(argv) -> int``) and one
in :data:`HELP` (its line in ``greenbench --help``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: subcommand -> module with ``main(argv: Sequence[str] | None) -> int``
COMMANDS = {
    "report": "greenbench.outputs.report",
    "history": "greenbench.outputs.history",
    "export": "greenbench.outputs.exports",
    "calibrate": "greenbench.meters.counted.calibrate",
    "explain": "greenbench.gate.explain",
}

#: subcommand -> its one line in ``greenbench --help``
HELP = {
    "report": "rebuild a report folder (README.md, plots, index.html) from a saved run: RESULTS.json --out DIR",
    "history": "energy across the runs stored in .benchmarks, with the gate's verdicts between them",
    "export": "Bencher BMF, github-action-benchmark or CodeCarbon CSV from a saved run",
    "calibrate": "fit the counted meter's per-event coefficients to RAPL on this machine",
    "explain": "where a counted benchmark's energy moved between two runs, per function",
}


def parser() -> argparse.ArgumentParser:
    """The top-level parser: ``greenbench --help`` lists every subcommand (their options are their own)."""
    top = argparse.ArgumentParser(
        prog="greenbench", description="greenbench: energy and carbon of benchmarks, from saved pytest-benchmark runs.",
        epilog="Run `greenbench COMMAND --help` for a command's options. Measuring happens in pytest: "
               "`pytest --help` lists greenbench's --energy-* and --carbon-* options.")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in COMMANDS:
        # the subcommand's own arguments are parsed by its module (prog "greenbench NAME")
        sub.add_parser(name, help=HELP.get(name, ""), add_help=False)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    top = parser()
    if not args:
        top.print_help(sys.stderr)
        return 2
    if args[0] in ("-h", "--help"):
        top.print_help()
        return 0
    name, rest = args[0], args[1:]
    module_name = COMMANDS.get(name)
    if module_name is None:
        print(f"error: unknown command {name!r}; expected one of: {', '.join(COMMANDS)} (see greenbench --help)",
              file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            print(f"error: greenbench {name} is not available in this version", file=sys.stderr)
            return 2
        raise
    return int(module.main(rest))


if __name__ == "__main__":
    raise SystemExit(main())

"""``greenbench`` command line: one subcommand per module, each with its own ``main(argv)``.

    greenbench report RESULTS.json --out DIR     # rebuild a report folder
    greenbench history [--storage .benchmarks]  # energy across stored runs
    greenbench export FORMAT RESULTS.json       # Bencher / github-action-benchmark / CodeCarbon CSV
    greenbench calibrate                        # fit the counted meter's coefficients to RAPL
    greenbench explain RUN_A RUN_B [-k NAME]    # where a counted benchmark's energy moved, per function

Bad input prints one line ``error: ...`` and exits 2; nothing is half-written.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

#: subcommand -> module with ``main(argv: Sequence[str] | None) -> int``
COMMANDS = {
    "report": "greenbench.report",
    "history": "greenbench.history",
    "export": "greenbench.exports",
    "calibrate": "greenbench.calibrate",
    "explain": "greenbench.explain",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    name, rest = args[0], args[1:]
    module_name = COMMANDS.get(name)
    if module_name is None:
        print(f"error: unknown command {name!r}; expected one of: {', '.join(COMMANDS)}", file=sys.stderr)
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

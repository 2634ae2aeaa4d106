"""Project a counted benchmark onto another machine from its counts (issue #12, item 5).

A benchmark run with ``--energy-meter=counted`` stores, per call, what the code
did (``extra_info.energy.counts``: instructions, L1 data accesses, last-level
cache accesses, DRAM lines; see docs/counted.md).  A scenario row with
``counts_target`` re-prices those counts with another machine's energy per
event instead of scaling the measured joules by a flat factor::

    [[project]]
    name = "same work, 45 nm-class core"
    counts_target = "horowitz_45nm"             # a preset (TARGETS)
    # or the file `greenbench calibrate` wrote on the target machine (relative to the scenario):
    # counts_target = "target_coefficients.json"
    # or the four coefficients typed in, on one line (TOML); all four required, source optional:
    # counts_target = { pj_per_instruction = 20, pj_per_l1_access = 5, pj_per_ll_access = 150, ... }

Presets: only ``horowitz_45nm`` (Horowitz 2014, ISSCC, 45 nm, 0.9 V -- the
counted meter's defaults, greenbench.meters.counted.energy_model).  No other node is shipped:
per-event figures for newer processes that could be cited exactly were not
available offline, so other targets are a calibration file or a typed-in table.

What the projection assumes (:data:`ASSUMPTIONS`): the target runs the *same
instruction stream* with the *same cache behaviour* as the counted run
(same ISA and binaries, the simulated 32 KB L1 / 8 MB last-level caches, one
thread, cold caches at each round), and its energy is linear in the four event
classes with no static or idle power.  A different ISA, vector width, compiler
or cache hierarchy changes the counts themselves, which this does not model.

Imports: stdlib, greenbench.meters.counted.energy_model, greenbench.errors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from greenbench.errors import ConfigError
from greenbench.meters.counted import energy_model as CM

#: named targets: energy per counted event
TARGETS: dict[str, CM.Coefficients] = {
    "horowitz_45nm": CM.DEFAULT,
}
#: keys of a typed-in ``counts_target`` table
TABLE_KEYS = ("pj_per_instruction", "pj_per_l1_access", "pj_per_ll_access", "nj_per_dram_line_64b", "source")
ASSUMPTIONS = ("assumes the target runs the same instructions with the same cache behaviour as the counted run "
               "(same ISA and binaries, simulated 32 KB L1 / 8 MB LL, one thread, cold caches per round) and "
               "charges only dynamic energy per event (no static or idle power)")


def target_coefficients(spec: Any, base_dir: str | Path = ".") -> CM.Coefficients:
    """Coefficients for ``spec``: a preset name, a coefficients JSON path (relative to ``base_dir``),
    or a table of the four coefficients.  Raises ConfigError with what was expected."""
    if isinstance(spec, str):
        key = spec.lower().replace("-", "_").replace(" ", "_")
        if key in TARGETS:
            return TARGETS[key]
        if spec.endswith(".json"):
            p = Path(spec)
            return CM.load_coefficients(p if p.is_absolute() else Path(base_dir) / p)
        raise ConfigError(f"expected a preset ({', '.join(TARGETS)}), a coefficients .json file written by "
                          f"`greenbench calibrate`, or a table of {', '.join(TABLE_KEYS[:4])}; got {spec!r}")
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - set(TABLE_KEYS))
        if unknown:
            raise ConfigError(f"unknown key(s) {', '.join(unknown)}; expected {', '.join(TABLE_KEYS)}")
        missing = [k for k in TABLE_KEYS[:4] if k not in spec]
        if missing:
            raise ConfigError(f"missing {', '.join(missing)}; a typed-in target needs all four coefficients")
        data = dict(spec)
        data.setdefault("source", "typed-in coefficients")
        return CM.Coefficients.from_json(data, "counts_target")
    raise ConfigError(f"expected a preset name, a .json path or a table; got {type(spec).__name__}")


def stored_counts(energy: Mapping[str, Any]) -> dict[str, float] | None:
    """``extra_info.energy.counts`` of a counted benchmark (non-negative finite numbers), else None."""
    counts = energy.get("counts")
    if not isinstance(counts, Mapping) or not counts:
        return None
    out: dict[str, float] = {}
    for k, v in counts.items():
        if k not in CM.COUNT_NAMES:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            return None
        out[k] = float(v)
    return out if "instructions" in out else None


def projected_j(counts: Mapping[str, float], target: CM.Coefficients) -> float:
    """Energy per call of ``counts`` on ``target``."""
    return CM.energy_j(counts, target)


def describe(counts: Mapping[str, float], target: CM.Coefficients) -> str:
    """One line: the event classes, their share of the projected energy, the target's source."""
    split = CM.energy_split_j(counts, target)
    total = sum(split.values())
    shares = ", ".join(f"{CM.CLASS_LABELS[c]} {split[c] / total:.0%}" for c in CM.CLASSES) if total > 0 else "0 J"
    return f"counted op/memory mix × {target.source} ({shares}); {ASSUMPTIONS}"

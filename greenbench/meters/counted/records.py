"""Records: a section of :mod:`greenbench.meters.counted` (its docstring tells the whole story)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from greenbench.meters.counted import energy_model as CM
from greenbench.meters.counted.counts import per_call

# -- results and the gate -------------------------------------------------------

def record_counts(rounds: Sequence[Any]) -> dict[str, int] | None:
    """Per-call counts stored with a benchmark: those of its lowest-energy kept round.

    ``rounds`` are greenbench.plugin.recorder.RoundRecord (measurement + iterations).
    """
    best = None
    for r in rounds:
        m = r.measurement
        if not m.counts:
            return None
        e = m.energy_j / max(r.iterations, 1)
        if best is None or e < best[0]:
            best = (e, per_call(m.counts, r.iterations))
    return best[1] if best else None


def with_counts(record: Any, rounds: Sequence[Any]) -> Any:
    """``record`` (an EnergyRecord) with its ``counts`` filled when the rounds were counted."""
    counts = record_counts(rounds)
    if counts is None or not hasattr(record, "counts"):
        return record
    # other processes' load changes how long a counted round takes, not what it counts: no round is contended
    warnings = tuple(w for w in record.warnings if "cores busy" not in w)
    return dataclasses.replace(record, counts=counts, contended=(False,) * len(record.contended),
                               contended_rounds=0, warnings=warnings)


def explain_change(base_counts: Mapping[str, float], cur_counts: Mapping[str, float],
                   coefficients: CM.Coefficients = CM.DEFAULT) -> str:
    """Which event class moved, e.g. ``'+2.0% energy: instructions +2.0%, DRAM lines +0.1%'``.

    Classes are listed by their share of the energy change, largest first.
    """
    b_split = CM.energy_split_j(base_counts, coefficients)
    c_split = CM.energy_split_j(cur_counts, coefficients)
    b_total, c_total = sum(b_split.values()), sum(c_split.values())
    if b_total <= 0:
        return "no counted energy in the baseline"
    b_cls, c_cls = CM.class_counts(base_counts), CM.class_counts(cur_counts)
    order = sorted(CM.CLASSES, key=lambda c: -abs(c_split[c] - b_split[c]))
    parts = []
    for c in order:
        if b_cls[c] > 0:
            parts.append(f"{CM.CLASS_LABELS[c]} {c_cls[c] / b_cls[c] - 1:+.1%}")
        elif c_cls[c] > 0:
            parts.append(f"{CM.CLASS_LABELS[c]} 0 -> {c_cls[c]:.0f}")
    return f"{c_total / b_total - 1:+.1%} energy: " + ", ".join(parts)

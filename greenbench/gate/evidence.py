"""Evidence: a section of :mod:`greenbench.gate` (its docstring tells the whole story)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from greenbench.gate.rules import FIELDS, MAX_PLAUSIBLE_RATIO, MAX_PROBE_S, MIN_ROUNDS


class Corrupt(ValueError):
    """A number in a saved energy block that cannot be compared (the message names the field)."""


def _real(value: Any, what: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Corrupt(f"{what} is {_show(value)}, not a number")
    v = float(value)
    if not math.isfinite(v):
        raise Corrupt(f"{what} is {v}")
    if v < 0 or (positive and v == 0):
        raise Corrupt(f"{what} is {v:g}, expected {'> 0' if positive else '>= 0'}")
    return v


def _reals(value: Any, what: str) -> np.ndarray:
    if not isinstance(value, (list, tuple)):
        raise Corrupt(f"{what} is {_show(value)}, not a list of numbers")
    return np.asarray([_real(v, f"{what}[{i}]") for i, v in enumerate(value)], dtype=float)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Corrupt(f"{what} is {_show(value)}, not a count")
    return int(value)


def _statistic(values: np.ndarray, field: str, axis: int = -1) -> np.ndarray:
    if field == "min":
        return np.min(values, axis=axis)
    if field == "median":
        return np.median(values, axis=axis)
    return np.mean(values, axis=axis)


class Run(NamedTuple):
    """What the gate needs of one run of one benchmark, validated."""

    stats: dict[str, float]  # min / median / mean energy per call over the rounds used
    sample: np.ndarray  # per-call energies (all rounds, or a quantile sketch) for the bootstrap
    n: int  # rounds the statistics cover
    clean: bool  # enough uncontended rounds
    note: str  # contention note
    probes: np.ndarray | None  # host-speed probe timings (s)
    probe_note: str
    iterations: int | None
    harness_share: float
    time_s: dict[str, float] | None = None  # pytest-benchmark's own time statistics per call, when sane
    time_based: bool = False  # energy derived from CPU time (the model meter): it must move with the time


def _times(entry: Any) -> dict[str, float] | None:
    stats = entry.get("stats") if isinstance(entry, Mapping) else None
    if not isinstance(stats, Mapping):
        return None
    try:
        out = {f: _real(stats.get(f), f"stats.{f}", positive=True) for f in FIELDS}
    except Corrupt:
        return None
    return out


def _deterministic(e: Any) -> bool:
    """A block measured by a deterministic meter (files before the flag: the counted meter)."""
    return isinstance(e, Mapping) and (e.get("deterministic") is True or e.get("source") == "counted")


def _clean(rounds: np.ndarray, contended: Any) -> tuple[np.ndarray, bool, str]:
    """Drop contended rounds; the flag says whether enough clean rounds were left."""
    if not isinstance(contended, (list, tuple)) or len(contended) != rounds.size:
        return rounds, True, ""
    if not all(isinstance(c, bool) for c in contended):
        raise Corrupt("contended holds values other than true/false")
    mask = ~np.asarray(contended, dtype=bool)
    dropped = int((~mask).sum())
    if mask.sum() >= MIN_ROUNDS:
        return rounds[mask], True, (f"{dropped} contended rounds dropped" if dropped else "")
    return rounds, False, f"{dropped} of {rounds.size} rounds contended"


def _probes(block: Mapping[str, Any]) -> tuple[np.ndarray | None, str]:
    """The run's host-speed probe timings (older files: the single fastest one), or None and why not."""
    values = block.get("speed_probes_s")
    if not values and block.get("speed_probe_s") is not None:
        values = [block.get("speed_probe_s")]
    if not values:
        return None, ""
    try:
        probes = _reals(values, "speed_probes_s")
    except Corrupt as exc:
        return None, f"host-speed probes unusable ({exc})"
    if probes.size and (probes.min() <= 0 or probes.max() >= MAX_PROBE_S):
        bad = probes.min() if probes.min() <= 0 else probes.max()
        return None, f"host-speed probes unusable (a probe of {bad:.3g} s)"
    return probes, ""


def run_of(block: Any) -> Run:
    """Validate one energy block (schema 1 or 2) into a :class:`Run`; :class:`Corrupt` names the bad field."""
    if not isinstance(block, Mapping):
        raise Corrupt(f"energy block is {_show(block)}")
    if "estimated" in block and not isinstance(block["estimated"], bool):
        raise Corrupt(f"estimated is {_show(block['estimated'])}, expected true/false")
    rounds = _reals(block.get("rounds_j"), "rounds_j")
    if not rounds.size:
        raise Corrupt("rounds_j is empty")
    clean_j = block.get("clean_j")
    if clean_j:  # schema 2: exact statistics over the clean rounds, rounds_j a bounded sketch of them
        if not isinstance(clean_j, Mapping):
            raise Corrupt(f"clean_j is {_show(clean_j)}")
        stats = {f: _real(clean_j.get(f), f"clean_j.{f}") for f in FIELDS}
        n = _count(clean_j.get("n"), "clean_j.n")
        measured = _count(block.get("rounds_measured", n), "rounds_measured")
        contended = _count(block.get("contended_rounds", 0), "contended_rounds")
        clean = measured - contended >= MIN_ROUNDS
        note = (f"{contended} contended rounds dropped" if contended and clean
                else f"{contended} of {measured} rounds contended" if contended else "")
        sample = rounds
    else:  # schema 1: every round
        sample, clean, note = _clean(rounds, block.get("contended"))
        zero = sample <= 0
        if zero.any() and not zero.all():
            sample = sample[~zero]
            note = "; ".join(filter(None, [note, f"{int(zero.sum())} round(s) reading 0 J left out"]))
        n = int(sample.size)
        stats = {f: float(_statistic(sample, f)) for f in FIELDS}
    if stats["median"] <= 0 < float(sample.max()):
        raise Corrupt("most rounds read 0 J once pytest-benchmark's per-round overhead was subtracted: the benchmark "
                      "is shorter than its harness; raise --benchmark-min-time so each round runs longer")
    if stats["min"] <= 0 < stats["median"]:
        # a fresh run's rounds can read 0 J where the calibrated per-round harness overhead (greenbench.plugin.recorder)
        # was at least the whole window: a harness artefact, not a measurement; the floor is the lowest real round
        positive = sample[sample > 0]
        stats["min"] = float(min(positive.min() if positive.size else stats["median"], stats["median"]))
        note = "; ".join(filter(None, [note,
                                       "rounds reading 0 J (harness overhead >= the window) left out of the min"]))
    if stats["min"] > stats["median"] * (1 + 1e-9):
        raise Corrupt(f"statistics out of order (min {stats['min']:.3g} J, median {stats['median']:.3g} J)")
    if stats["min"] > 0 and stats["median"] > MAX_PLAUSIBLE_RATIO * stats["min"]:
        raise Corrupt(f"rounds spread beyond any measurement (min {stats['min']:.3g} J, median "
                      f"{stats['median']:.3g} J: more than {MAX_PLAUSIBLE_RATIO:.0e}x apart)")
    probes, probe_note = _probes(block)
    iterations = block.get("iterations")
    iterations = _count(iterations, "iterations") if iterations is not None else None
    share = block.get("harness_share", 0.0)
    share = _real(share, "harness_share") if share is not None else 0.0
    return Run(stats, sample, n, clean, note, probes, probe_note, iterations, min(share, 1.0),
               time_based=block.get("source") == "model")

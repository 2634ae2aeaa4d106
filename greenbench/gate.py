"""The energy regression gate: did a benchmark's energy really get worse?

Method (documented in the README, "How the gate decides"):

1. **Statistic.** Per benchmark we compare one statistic of energy per call
   between the baseline run and this run — by default the *minimum* over
   rounds.  Measured here, identical code run back to back moved
   pytest-benchmark's median by up to 2x while the minimum stayed within
   +-2%: interference from other processes only ever *adds* work, so the
   floor is the most repeatable figure.  ``median:`` and ``mean:`` can be
   asked for.
2. **Clean rounds only.** Rounds during which other processes kept
   >= 0.5 cores busy (greenbench.load) are dropped when enough clean rounds
   remain; when fewer than 3 clean rounds remain in either run, a change
   beyond the threshold is ``inconclusive``, never a failure: on a 2-vCPU
   machine another process's load inflated a pure-Python loop's CPU time
   (and so its modelled energy) by up to 2x here.
3. **Minimum effect size.** A change smaller than the threshold (``10%``)
   never fails, however sure we are of it.
4. **Host speed taken out.** On shared VMs the host's other tenants slow a
   whole run down with no trace in ``/proc/stat``: here the same loop's CPU
   time (so the model's energy) moved +-12% between runs while its ratio to a
   fixed probe loop stayed within +-3%.  Each benchmark times that probe
   through its run (greenbench.load.speed_probe_s); each run's statistic is
   divided by its fastest probe before comparing, and the bootstrap
   resamples the probes too, so an uncertain floor lowers the confidence.
5. **How sure: a percentile bootstrap.**  Rounds are resampled with
   replacement within each run (B = 2000, fixed seed) and the statistic's
   ratio recomputed; *confidence* is the share of resamples whose increase
   exceeds the threshold.  Rounds of one run are **not** independent samples
   (they share the machine's state: a Mann-Whitney test over rounds flagged
   identical code at p=3e-101 here), so this confidence is about how firmly
   the statistic is established *within* the runs, not a p-value across
   runs; the threshold must cover run-to-run drift, which the
   ``bench/test_gate.py`` benchmark measures (false-alarm and detection
   rates on this machine).
6. **Verdicts.** ``regression`` (increase > threshold with confidence >=
   95%: fails the run), ``inconclusive`` (increase > threshold but less sure,
   or fewer than 3 clean rounds: shown, never fails), ``improved``, ``ok``,
   ``skipped`` (no energy data in one of the runs).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from greenbench.errors import ConfigError

#: bootstrap resamples; 2000 keeps the 95% decision's Monte Carlo error ~ +-0.5%
BOOTSTRAP_RESAMPLES = 2000
#: share of resamples that must exceed the threshold to call a regression (95% certainty)
CONFIDENCE = 0.95
#: the host-speed index of a run: this quantile of its probe timings (the minimum of ~45 us
#: probes catches rare fast moments that ~1 ms rounds never see)
PROBE_QUANTILE = 0.25
#: fewer clean rounds than this in either run cannot decide
MIN_ROUNDS = 3
FIELDS = ("min", "median", "mean")

_EXPR = re.compile(r"^\s*(?:(?P<field>[a-z]+)\s*:)?\s*(?P<pct>[0-9]*\.?[0-9]+)\s*%\s*$")


@dataclass(frozen=True, slots=True)
class GateRule:
    """Parsed ``--energy-compare-fail`` expression: ``[field:]N%``."""

    field: str
    threshold: float  # fraction, 0.10 for 10%

    @classmethod
    def parse(cls, expr: str) -> GateRule:
        m = _EXPR.match(expr)
        if not m:
            raise ConfigError(
                f"--energy-compare-fail={expr!r}: expected a percentage like '10%' or 'min:10%' / 'median:10%'"
            )
        field = m.group("field") or "min"
        if field not in FIELDS:
            raise ConfigError(f"--energy-compare-fail={expr!r}: field must be one of {', '.join(FIELDS)}")
        pct = float(m.group("pct"))
        if not 0 < pct < 1000:
            raise ConfigError(f"--energy-compare-fail={expr!r}: the percentage must be > 0 and < 1000")
        return cls(field, pct / 100.0)

    def __str__(self) -> str:
        return f"{self.field}:{self.threshold:.0%}"


@dataclass(frozen=True, slots=True)
class Verdict:
    name: str
    verdict: str  # regression | inconclusive | improved | ok | skipped | refused
    change: float  # relative change of the statistic (0.2 = +20%); NaN if skipped
    confidence: float  # share of bootstrap resamples beyond the threshold
    baseline_j: float
    current_j: float
    rounds: tuple[int, int]
    reason: str

    @property
    def failed(self) -> bool:
        return self.verdict == "regression"

    def line(self, rule: GateRule) -> str:
        if self.verdict in ("skipped", "refused"):
            return f"{self.name}: {self.verdict} ({self.reason})"
        return (
            f"{self.name}: {self.verdict} — energy {rule.field} {self.change:+.1%} "
            f"({self.baseline_j:.4g} J -> {self.current_j:.4g} J per call), "
            f"{self.confidence:.0%} sure it exceeds {rule.threshold:.0%}"
            + (f"; {self.reason}" if self.reason else "")
        )


def _statistic(values: np.ndarray, field: str, axis: int = -1) -> np.ndarray:
    if field == "min":
        return np.min(values, axis=axis)
    if field == "median":
        return np.median(values, axis=axis)
    return np.mean(values, axis=axis)


def _clean(rounds: Sequence[float], contended: Sequence[bool] | None) -> tuple[np.ndarray, bool, str]:
    """Drop contended rounds; the flag says whether enough clean rounds were left."""
    arr = np.asarray(rounds, dtype=float)
    if contended is None or len(contended) != len(arr):
        return arr, True, ""
    mask = ~np.asarray(contended, dtype=bool)
    dropped = int((~mask).sum())
    if mask.sum() >= MIN_ROUNDS:
        return arr[mask], True, (f"{dropped} contended rounds dropped" if dropped else "")
    return arr, False, f"{dropped} of {arr.size} rounds contended"


def decide(
    name: str,
    baseline: Sequence[float],
    current: Sequence[float],
    rule: GateRule,
    *,
    baseline_contended: Sequence[bool] | None = None,
    current_contended: Sequence[bool] | None = None,
    baseline_probes: Sequence[float] | None = None,
    current_probes: Sequence[float] | None = None,
    seed: int = 0,
) -> Verdict:
    """Compare per-call energy rounds of two runs of one benchmark.

    With host-speed probe timings for both runs (greenbench.load), each run's
    statistic is divided by its fastest probe, in the point estimate and in
    every bootstrap resample (so an uncertain probe floor lowers confidence).
    """
    base, clean_b, note_b = _clean(baseline, baseline_contended)
    cur, clean_c, note_c = _clean(current, current_contended)
    notes = "; ".join(n for n in (note_b and f"baseline: {note_b}", note_c and f"this run: {note_c}") if n)
    b_stat = float(_statistic(base, rule.field)) if base.size else math.nan
    c_stat = float(_statistic(cur, rule.field)) if cur.size else math.nan
    rounds = (int(base.size), int(cur.size))
    if not (base.size and cur.size) or not (b_stat > 0):
        return Verdict(name, "skipped", math.nan, 0.0, b_stat, c_stat, rounds,
                       "no usable energy rounds (zero or missing baseline)")
    rng = np.random.default_rng(seed)
    b_boot = _statistic(rng.choice(base, size=(BOOTSTRAP_RESAMPLES, base.size)), rule.field, axis=1)
    c_boot = _statistic(rng.choice(cur, size=(BOOTSTRAP_RESAMPLES, cur.size)), rule.field, axis=1)
    bp = np.asarray(baseline_probes if baseline_probes else [], dtype=float)
    cp = np.asarray(current_probes if current_probes else [], dtype=float)
    if bp.size and cp.size and bp.min() > 0 and cp.min() > 0:
        speed = float(np.quantile(cp, PROBE_QUANTILE) / np.quantile(bp, PROBE_QUANTILE))
        change = c_stat / b_stat / speed - 1.0
        b_boot = b_boot / np.quantile(rng.choice(bp, size=(BOOTSTRAP_RESAMPLES, bp.size)), PROBE_QUANTILE, axis=1)
        c_boot = c_boot / np.quantile(rng.choice(cp, size=(BOOTSTRAP_RESAMPLES, cp.size)), PROBE_QUANTILE, axis=1)
        if abs(speed - 1) >= 0.01:
            host = f"host {abs(speed - 1):.0%} {'slower' if speed > 1 else 'faster'} than for the baseline (normalised)"
            notes = "; ".join(filter(None, [host, notes]))
    else:
        change = c_stat / b_stat - 1.0
    ratios = c_boot / np.where(b_boot > 0, b_boot, np.nan) - 1.0
    worse = float(np.nanmean(ratios > rule.threshold))
    better = float(np.nanmean(ratios < -rule.threshold))
    if min(rounds) < MIN_ROUNDS:
        verdict = "inconclusive" if abs(change) > rule.threshold else "ok"
        reason = f"only {min(rounds)} round(s): the gate needs >= {MIN_ROUNDS} to decide"
        return Verdict(name, verdict, change, worse, b_stat, c_stat, rounds, "; ".join(filter(None, [reason, notes])))
    if not (clean_b and clean_c):
        # other processes kept cores busy in most rounds: their work inflates ours; never trust it to fail
        verdict = "inconclusive" if abs(change) > rule.threshold else "ok"
        reason = "other processes kept the machine busy; rerun on a quiet machine"
        return Verdict(name, verdict, change, worse, b_stat, c_stat, rounds, f"{reason} ({notes})")
    if change > rule.threshold:
        verdict = "regression" if worse >= CONFIDENCE else "inconclusive"
    elif change < -rule.threshold and better >= CONFIDENCE:
        verdict = "improved"
    else:
        verdict = "ok"
    return Verdict(name, verdict, change, worse, b_stat, c_stat, rounds, notes)


def compare_entries(
    baseline: Mapping[str, Any] | None,
    current: Mapping[str, Any],
    rule: GateRule,
) -> Verdict:
    """Decide for one benchmark from its saved JSON entries (baseline may be missing)."""
    name = str(current.get("fullname") or current.get("name"))
    cur_e = (current.get("extra_info") or {}).get("energy")
    if baseline is None:
        return Verdict(name, "skipped", math.nan, 0.0, math.nan, math.nan, (0, 0), "not in the baseline")
    base_e = (baseline.get("extra_info") or {}).get("energy")
    if not isinstance(base_e, Mapping) or not base_e.get("rounds_j"):
        return Verdict(name, "skipped", math.nan, 0.0, math.nan, math.nan, (0, 0), "baseline has no energy data")
    if not isinstance(cur_e, Mapping) or not cur_e.get("rounds_j"):
        return Verdict(name, "skipped", math.nan, 0.0, math.nan, math.nan, (0, 0), "this run has no energy data")
    return decide(
        name,
        base_e["rounds_j"],
        cur_e["rounds_j"],
        rule,
        baseline_contended=base_e.get("contended"),
        current_contended=cur_e.get("contended"),
        baseline_probes=_probes(base_e),
        current_probes=_probes(cur_e),
    )


def _probes(block: Mapping[str, Any]) -> list[float] | None:
    """The run's host-speed probe timings (older files: the single fastest one)."""
    values = block.get("speed_probes_s") or ([block["speed_probe_s"]] if block.get("speed_probe_s") else [])
    try:
        probes = [float(v) for v in values]
    except (TypeError, ValueError):
        return None
    return probes if probes and all(v > 0 and math.isfinite(v) for v in probes) else None


def meter_of(machine_info: Mapping[str, Any] | None) -> str | None:
    gb = (machine_info or {}).get("greenbench") or {}
    meter = gb.get("meter") or {}
    src = meter.get("source")
    return str(src) if src else None

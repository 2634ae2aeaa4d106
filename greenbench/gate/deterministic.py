"""Deterministic: a section of :mod:`greenbench.gate` (its docstring tells the whole story)."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from greenbench.gate.rules import MIN_ROUNDS, GateRule, Verdict

#: rounds of one deterministic run agreeing within this share of the threshold count as deterministic
NOISE_SHARE_OF_THRESHOLD = 0.5


def round_noise(rounds_j: Sequence[float]) -> float:
    """Measured disagreement of a deterministic run's rounds: (median - min) / min of energy per call."""
    values = sorted(float(v) for v in rounds_j)
    if not values or values[0] <= 0:
        return float("nan")
    n = len(values)
    median = values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
    return median / values[0] - 1.0


def round_disagreement(noise: float, threshold: float, rounds_j: Sequence[float]) -> str:
    """Why a deterministic run's rounds cannot decide, saying only what their figures show.

    The same calls counted different work in one process; the order of the rounds tells a little more (work
    that falls round after round has not reached a steady state; work that rises grows with the calls made;
    no order: the work differs from call to call), never the cause itself.
    """
    values = [float(v) for v in rounds_j]
    shown = " / ".join(f"{v / min(values):.4f}" for v in values) if values and min(values) > 0 else ""
    head = (f"counted rounds disagree by {noise:.2%} (more than half the {threshold:.1%} threshold): the same calls "
            f"were counted as different work in one process (rounds in order, relative to the lowest: {shown}); ")
    if len(values) >= 3 and all(a > b for a, b in itertools.pairwise(values)):
        why = ("the work falls round after round, so the calls had not reached a steady state (something they fill "
               "or warm as they run: a cache, a memo, the interpreter's specialisation)")
    elif len(values) >= 3 and all(a < b for a, b in itertools.pairwise(values)):
        why = "the work grows round after round (something the calls keep adding to: a list, a cache, a log)"
    else:
        why = ("the work varies from round to round without an order (input that changes between calls, time- or "
               "thread-dependent work, or state such as a cache the calls evict and refill)")
    return head + why + "; its counts cannot decide at this threshold (a higher one can)"


def _det_rounds(block: Mapping[str, Any]) -> list[float]:
    values = [float(v) for v in block.get("rounds_j") or []]
    return [v for v in values if math.isfinite(v) and v >= 0]


def deterministic_verdict(name: str, base_e: Mapping[str, Any], cur_e: Mapping[str, Any], rule: GateRule) -> Verdict:
    """The verdict for two runs of a deterministic meter (counted, or a user's with ``deterministic``).

    Such figures (counts) do not depend on other processes' load or on host speed, so no round is dropped as
    contended, no probe correction is applied and no run-to-run drift margin is added: the
    statistic (``min`` by default) of energy per call is compared directly.  The rounds' own
    disagreement is *measured* in both runs (:func:`round_noise`) and stated; when it exceeds half
    the threshold the code is not deterministic and a change beyond the threshold is
    ``inconclusive`` instead of a pass or a failure.
    """
    field, threshold = rule.field, rule.threshold
    try:
        b, c = _det_rounds(base_e), _det_rounds(cur_e)
    except (TypeError, ValueError):
        return Verdict(name, "skipped", math.nan, 0.0, math.nan, math.nan, (0, 0),
                            "counted energy data is corrupt", cause="corrupt data")
    rounds = (len(b), len(c))

    def stat(v: list[float]) -> float:
        return min(v) if field == "min" else statistics.median(v) if field == "median" else statistics.fmean(v)

    b_stat = stat(b) if b else math.nan
    c_stat = stat(c) if c else math.nan
    if not (b and c) or not b_stat > 0:
        return Verdict(name, "skipped", math.nan, 0.0, b_stat, c_stat, rounds,
                            "no usable counted rounds", cause="no energy data")
    change = c_stat / b_stat - 1.0
    noise = max(round_noise(b), round_noise(c))
    notes = [f"{cur_e.get('source', 'counted')}; rounds agree to {noise:.1e}"]
    bc, cc = base_e.get("counts"), cur_e.get("counts")
    if isinstance(bc, Mapping) and isinstance(cc, Mapping) and bc and cc:
        from greenbench.meters.counted import explain_change  # which event class moved

        notes.insert(0, explain_change(bc, cc))
    # a change is certain when it exceeds the threshold by more than the rounds' own disagreement
    sure = 1.0 if abs(change) - threshold > noise else 0.0
    kind, cause = "ok", ""
    if min(rounds) < MIN_ROUNDS:
        kind = "inconclusive" if abs(change) > threshold else "ok"
        cause = "too few rounds" if kind == "inconclusive" else ""
        notes.append(f"only {min(rounds)} round(s): the gate needs >= {MIN_ROUNDS}")
    elif not noise <= threshold * NOISE_SHARE_OF_THRESHOLD:
        kind = "inconclusive" if abs(change) > threshold or noise > threshold else "ok"
        cause = "nondeterministic rounds" if kind == "inconclusive" else ""
        notes[-1] = round_disagreement(noise, threshold, b if round_noise(b) >= round_noise(c) else c)
    elif change > threshold:
        kind = "regression" if sure else "inconclusive"
        cause = "" if sure else "within round noise"
    elif change < -threshold:
        kind = "improved" if sure else "ok"
    if kind == "regression" or (kind == "inconclusive" and change > threshold):  # issue #24: where it moved
        from greenbench.gate.explain import verdict_note

        notes += filter(None, [verdict_note(name, base_e, cur_e)])
    return Verdict(name, kind, change, sure if change > 0 else 0.0, b_stat, c_stat, rounds,
                        "; ".join(notes), raw_change=change, cause=cause)

"""Verdicts: a section of :mod:`greenbench.gate` (its docstring tells the whole story)."""

from __future__ import annotations

from collections.abc import Sequence

from greenbench.gate.rules import GateRule, Verdict

UNDECIDED_FAIL = ("inconclusive",)


def nothing_compared(verdicts: Sequence[Verdict], baseline_size: int | None = None) -> str | None:
    """Why no benchmark could be compared (every one new, or without usable energy data), or None."""
    if any(v.verdict != "skipped" for v in verdicts):
        return None
    if baseline_size == 0:
        return "the baseline holds no benchmarks"
    if not verdicts:
        return "this run has no benchmarks with energy data"
    new = sum(v.cause == "new benchmark" for v in verdicts)
    if new == len(verdicts):
        return (f"none of this run's {new} benchmark(s) is in the baseline (renamed tests or parametrize ids? "
                "a baseline of other tests?); save a new baseline")
    why: dict[str, int] = {}
    for v in verdicts:
        why[v.cause or v.verdict] = why.get(v.cause or v.verdict, 0) + 1
    causes = sorted(why.items(), key=lambda kv: -kv[1])
    return "every benchmark was skipped: " + ", ".join(f"{k} ({n})" for k, n in causes)


def summary(verdicts: Sequence[Verdict], rule: GateRule | None, fail_inconclusive: bool = False, *,
            notes: Sequence[str] = (), baseline_size: int | None = None) -> tuple[str, bool]:
    """The gate's closing line and whether the run fails.

    "passed" only when every compared benchmark was decided; otherwise how many
    were not and why.  With ``fail_inconclusive`` an undecided benchmark (inconclusive,
    or skipped for missing/corrupt data; not a benchmark new since the baseline) fails the run.
    Nothing compared at all (a baseline without benchmarks, every benchmark renamed) is never a pass:
    it fails a gate.  ``notes`` (the baseline runs used, another machine) are appended.
    """
    extra = f" ({'; '.join(notes)})" if notes else ""
    nothing = nothing_compared(verdicts, baseline_size)
    if nothing:
        if rule is None:
            return f"energy compare: nothing could be compared: {nothing}{extra}", False
        return f"energy gate FAILED ({rule}): nothing could be compared: {nothing}{extra}", True
    failed = [v for v in verdicts if v.failed]
    undecided = [v for v in verdicts if not v.decided and v.cause != "new benchmark"]
    new = [v for v in verdicts if v.cause == "new benchmark"]
    why: dict[str, int] = {}
    for v in undecided:
        key = v.cause or v.verdict
        why[key] = why.get(key, 0) + 1
    detail = ", ".join(f"{k} ({n})" if len(why) > 1 else k for k, n in sorted(why.items(), key=lambda kv: -kv[1]))
    compared = len(verdicts) - len(new)
    parts = []
    if undecided:
        parts.append(f"{len(undecided)} of {compared} not decided: {detail}")
    if new:
        parts.append(f"{len(new)} new since the baseline")
    tail = f"; {'; '.join(parts)}" if parts else ""
    if rule is None:
        return f"energy compare: informative only (add --energy-compare-fail=10% to gate on it){tail}{extra}", False
    if failed:
        return f"energy gate FAILED ({rule}): {len(failed)} benchmark(s) regressed{tail}{extra}", True
    if undecided and fail_inconclusive:
        return f"energy gate FAILED ({rule}, --energy-compare-fail-inconclusive){tail}{extra}", True
    if undecided:
        return f"energy gate: no regression found ({rule}), but{tail[1:]}{extra}", False
    return f"energy gate passed ({rule}): {compared} benchmark(s) decided{tail}{extra}", False

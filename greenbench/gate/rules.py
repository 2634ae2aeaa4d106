"""Rules: a section of :mod:`greenbench.gate` (its docstring tells the whole story)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

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
#: stored baseline runs needed to measure run-to-run spread
MIN_BASELINES = 3
#: baseline runs read at most (the compared one and the ones saved before it)
MAX_BASELINES = 5
#: with fewer than MIN_BASELINES runs: the run-to-run drift one baseline cannot show, added to the threshold
#: (measured: unchanged sub-us benchmarks moved up to ~+9% between runs on a loaded 2-vCPU VM, docs/gate.md)
SINGLE_RUN_DRIFT = 0.10
#: with contended rounds in either run, even >= MIN_BASELINES runs' band is widened to at least the threshold plus
#: this: three runs saved under load do not show its tail (bench/bench_gate_load.py on this 2-vCPU VM with two busy
#: loops: an unchanged 9 us sort moved +17.0 % against three baseline runs saved under the same load whose band was
#: 2.4 %, its pytest-benchmark time +18 %, probes unmoved; cattrs's calls up to +12.8 %, +14.7 % in an earlier
#: session; issue #20, docs/gate.md)
CONTENDED_DRIFT = 0.10
#: host-speed normalisation applies only when the speed change exceeds this many times the probes' own noise
PROBE_NOISE_FACTOR = 2.0
#: a probe (s) outside (0, this) is not a timing of the ~45 us probe loop
MAX_PROBE_S = 1.0
#: a window whose harness overhead share exceeds this, with iterations changed between runs, cannot fail:
#: measured on bench/realsuite under load, runs whose iterations fell 30-200 -> 1 with 30-45% of each window
#: harness moved energy per call +40% to +470% even after the calibrated subtraction (docs/gate.md)
HARNESS_DOMINATES = 0.25
#: a host slowdown the probes measure can move a benchmark's model energy by up to this many times as much (in
#: log): issue #20 measured unchanged benchmarks at +42% to +149% while the probes said the host was 24-46% slower
#: (log ratios 1.6-2.4: a ~45 us pure-Python loop does not feel an SMT sibling or a cache thief as every
#: benchmark does); bench/bench_gate_load.py measures it on its runs (docs/gate.md)
HOST_SENSITIVITY = 2.5
#: compared benchmarks needed before their median change (the run-wide shift) counts as a possible host effect
MIN_RUNWIDE = 5
#: energy per call below this is no measurement: one 32-bit integer add costs ~0.1 pJ and a whole instruction
#: ~70 pJ at 45 nm (Horowitz 2014, "Computing's energy problem", ISSCC, p. 10-11); a benchmarked call runs many
MIN_PLAUSIBLE_J = 1e-15
#: statistics or runs of one benchmark apart by more than this factor are no measurement of the same code
MAX_PLAUSIBLE_RATIO = 1e6
FIELDS = ("min", "median", "mean")


def pct(fraction: float) -> str:
    """A threshold as the user wrote it: 0.005 -> '0.5%', 0.1 -> '10%' (never rounded to '0%')."""
    return f"{round(fraction * 100, 6):g}%"

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
        return f"{self.field}:{pct(self.threshold)}"


@dataclass(frozen=True, slots=True)
class Verdict:
    name: str  # the full test id (pytest node id, parameters included), printed literally
    verdict: str  # regression | inconclusive | improved | ok | skipped | refused
    change: float  # relative change (host-normalised when applied, for display; the raw change decides); NaN if skipped
    confidence: float  # share of bootstrap resamples supporting the verdict (beyond +threshold; improved: below -)
    baseline_j: float
    current_j: float
    rounds: tuple[int, int]
    reason: str
    raw_change: float = math.nan  # the change before host-speed normalisation
    normalised: bool = False  # whether ``change`` is host-speed normalised
    baselines: int = 1  # baseline runs the decision used
    spread: float = math.nan  # run-to-run spread of the baseline runs (relative range), when >= MIN_BASELINES
    cause: str = ""  # short why for undecided verdicts (an "ok" with a cause was not decided): "machine busy", ...

    @property
    def failed(self) -> bool:
        return self.verdict == "regression"

    @property
    def decided(self) -> bool:
        """Whether the gate had evidence for the verdict: an "ok" with a cause (e.g. machine busy) was not decided."""
        return self.verdict in ("regression", "improved") or (self.verdict == "ok" and not self.cause)

    def line(self, rule: GateRule) -> str:
        if self.verdict in ("skipped", "refused"):
            return f"{self.name}: {self.verdict} ({self.reason})"
        if self.normalised:
            change = f"{self.raw_change:+.1%} raw, {self.change:+.1%} host-speed normalised"
        else:
            change = f"{self.change:+.1%}"
        if self.baselines >= MIN_BASELINES:
            basis = f"against the median of {self.baselines} baseline runs (run-to-run spread {self.spread:.1%})"
        else:
            basis = f"against {self.baselines} baseline run{'s' if self.baselines != 1 else ''}"
        # a certainty only where it supports the verdict: never "improved ... 0% sure it exceeds 1%"
        if self.verdict == "regression" and self.confidence > 0:
            basis += f", {self.confidence:.0%} sure it exceeds +{pct(rule.threshold)}"
        elif self.verdict == "improved" and self.confidence > 0:
            basis += f", {self.confidence:.0%} sure it is below -{pct(rule.threshold)}"
        head = self.verdict
        if self.verdict == "inconclusive" and self.cause:
            head = f"inconclusive ({self.cause})"
        elif self.verdict == "ok" and self.cause:
            head = f"ok, not decided ({self.cause})"
        return (
            f"{self.name}: {head} — energy {rule.field} {change} "
            f"({self.baseline_j:.4g} J -> {self.current_j:.4g} J per call), {basis}"
            + (f"; {self.reason}" if self.reason else "")
        )

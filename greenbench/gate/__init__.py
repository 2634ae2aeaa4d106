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
   >= 0.5 cores busy (greenbench.meters.contention) are dropped when enough clean rounds
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
   through its run (greenbench.meters.contention.speed_probe_s); each run's statistic is
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

Issue #17 revised points 4 and 5 (docs/gate.md has the measurements):

* **Run-to-run spread decides.**  The within-run bootstrap cannot see drift
  between runs.  With >= :data:`MIN_BASELINES` stored baseline runs (the
  compared one and the runs saved before it, read from pytest-benchmark's
  storage), the reference is their median and a change is a regression only
  beyond both the threshold and the band of the baseline runs widened by its
  own width (``max + (max - min)``).  With fewer, a change is a regression only
  beyond the threshold plus :data:`SINGLE_RUN_DRIFT` (the drift one baseline
  cannot show); between the two it is ``inconclusive: needs 3 baseline runs``.
  Where either run's rounds were contended, the bar is at least the threshold
  plus :data:`CONTENDED_DRIFT` even with three runs (their band misses the tail
  of the drift under load).
* **Host speed may excuse, never accuse.**  The raw and the host-speed
  normalised change are both reported; normalisation applies only when its
  probes' own noise is smaller than the speed change it would correct; a
  regression needs the raw change *and* (when applied) the normalised one
  beyond the bar; when they disagree the verdict is ``inconclusive``.
* **Model energy must move with the time.**  A model-meter regression whose
  pytest-benchmark time statistic rose by <= half the threshold is
  ``inconclusive`` (the rise is outside the timed work).
* **Iterations per round changed** with the harness > 25% of a window:
  ``inconclusive`` (per-call energy not comparable).
* **Corrupt numbers** (NaN, inf, strings, negative, lists, a probe outside
  (0, 1 s), non-boolean flags) skip the benchmark with a reason naming the
  field; nothing raises.
"""

# split by restructure.py (issue #25): one module per section: rules, evidence, compare, machines, verdicts,
#   baselines, deterministic

from __future__ import annotations

from greenbench.gate.baselines import history_for as history_for
from greenbench.gate.baselines import meter_of as meter_of
from greenbench.gate.baselines import older_runs as older_runs
from greenbench.gate.baselines import older_runs_named as older_runs_named
from greenbench.gate.baselines import run_name as run_name
from greenbench.gate.compare import compare_entries as compare_entries
from greenbench.gate.compare import compare_run as compare_run
from greenbench.gate.compare import decide as decide
from greenbench.gate.compare import judge as judge
from greenbench.gate.compare import runwide_shift as runwide_shift
from greenbench.gate.deterministic import NOISE_SHARE_OF_THRESHOLD as NOISE_SHARE_OF_THRESHOLD
from greenbench.gate.deterministic import deterministic_verdict as deterministic_verdict
from greenbench.gate.deterministic import round_noise as round_noise
from greenbench.gate.evidence import Corrupt as Corrupt
from greenbench.gate.evidence import Run as Run
from greenbench.gate.evidence import _count as _count
from greenbench.gate.evidence import _real as _real
from greenbench.gate.evidence import run_of as run_of
from greenbench.gate.machines import _energy as _energy
from greenbench.gate.machines import machine_of as machine_of
from greenbench.gate.machines import other_machine as other_machine
from greenbench.gate.rules import BOOTSTRAP_RESAMPLES as BOOTSTRAP_RESAMPLES
from greenbench.gate.rules import CONFIDENCE as CONFIDENCE
from greenbench.gate.rules import CONTENDED_DRIFT as CONTENDED_DRIFT
from greenbench.gate.rules import FIELDS as FIELDS
from greenbench.gate.rules import HARNESS_DOMINATES as HARNESS_DOMINATES
from greenbench.gate.rules import HOST_SENSITIVITY as HOST_SENSITIVITY
from greenbench.gate.rules import MAX_BASELINES as MAX_BASELINES
from greenbench.gate.rules import MAX_PLAUSIBLE_RATIO as MAX_PLAUSIBLE_RATIO
from greenbench.gate.rules import MAX_PROBE_S as MAX_PROBE_S
from greenbench.gate.rules import MIN_BASELINES as MIN_BASELINES
from greenbench.gate.rules import MIN_PLAUSIBLE_J as MIN_PLAUSIBLE_J
from greenbench.gate.rules import MIN_ROUNDS as MIN_ROUNDS
from greenbench.gate.rules import MIN_RUNWIDE as MIN_RUNWIDE
from greenbench.gate.rules import PROBE_NOISE_FACTOR as PROBE_NOISE_FACTOR
from greenbench.gate.rules import PROBE_QUANTILE as PROBE_QUANTILE
from greenbench.gate.rules import SINGLE_RUN_DRIFT as SINGLE_RUN_DRIFT
from greenbench.gate.rules import GateRule as GateRule
from greenbench.gate.rules import Verdict as Verdict
from greenbench.gate.rules import pct as pct
from greenbench.gate.verdicts import UNDECIDED_FAIL as UNDECIDED_FAIL
from greenbench.gate.verdicts import nothing_compared as nothing_compared
from greenbench.gate.verdicts import summary as summary

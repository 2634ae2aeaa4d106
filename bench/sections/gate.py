"""Report section: the energy gate's measured false-alarm and detection rates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from greenbench import results as R

TITLE = "Energy regression gate: false alarms and detection on this machine"


def render(benchmarks: list[dict[str, Any]], out_dir: Path) -> str:
    rows = [b for b in benchmarks if R.extra(b, "gate")]
    if not rows:
        return ""
    g = R.extra(rows[0], "gate")
    lines = [
        f"{g['runs']} runs of {g['rounds_per_run']} rounds of a small CPU-bound workload, interleaved with runs "
        f"doing {g['planted_regression']:.0%} more work, measured by the `{g['meter']}` meter. "
        "A/A pairs estimate false alarms, A/B pairs detection. Targets: false alarms <= 5%, detection >= 95%.",
        "",
        f"| rule | false alarms (A/A) | detection (+{g['planted_regression']:.0%}) | inconclusive (all pairs) "
        "| target met |",
        "|---|---:|---:|---:|---|",
    ]
    for expr, r in g["rates"].items():
        if expr == "contended_runs":
            continue
        met = r["false_alarm_rate"] <= 0.05 and r["detection_rate"] >= 0.95
        lines.append(f"| `{expr}` | {r['false_alarm_rate']:.0%} of {r['aa_pairs']} | "
                     f"{r['detection_rate']:.0%} of {r['ab_pairs']} | {r.get('inconclusive_rate', 0):.0%} | "
                     f"{'yes' if met else 'no'} |")
    c = g["rates"].get("contended_runs")
    if c:
        lines.append(f"\n{c['count']} of {c['of']} runs had rounds during which other processes kept >= 0.5 cores "
                     "busy; the gate calls such comparisons inconclusive rather than risk a false alarm.")
    return "\n".join(lines)

"""Report section: greensim — load-shifting scaling, and a what-if of one measured benchmark.

Two parts, each only when the run holds what it needs:

* the load-shifting benchmark (bench/test_greensim.py, group "greensim"):
  time to place 10^4, 10^5 and 10^6 jobs and the per-job time ratios;
* a what-if projection of the first benchmark with energy (outside the
  greensim group): 10^6 calls across a few grids and PUEs.  Every figure there
  is a greensim model output — projected, estimated — and says so.

Entries are read only through :mod:`greenbench.results`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import greensim as gs
from greenbench import results as r
from greensim.scenario import meter_band_factors

TITLE = "greensim: load shifting and what-if projections"

GROUP = "greensim"
CALLS = 1e6
WHATIF_REGIONS = ("WORLD", "SE", "FR", "DE", "US", "IN", "AU")
WHATIF_PUES = (1.0, gs.PUE_GOOGLE_FLEET, gs.PUE_INDUSTRY_2024)
PUE_LABELS = ("PUE 1.0 (as measured)", "PUE 1.10 (Google fleet)", "PUE 1.56 (industry, Uptime 2024)")


def scaling_lines(info: Mapping[str, Any]) -> list[str]:
    """Plain-text lines of the scaling measurement (also printed by the benchmark)."""
    out = [f"{'jobs':>10} {'best time':>11} {'per job':>10} {'per-job ratio to 1e6':>21}"]
    for row in info.get("scaling", []):
        out.append(f"{row['jobs']:>10,} {r.fmt_si(row['best_s'], 's'):>11} {r.fmt_si(row['per_job_s'], 's'):>10} "
                   f"{row['per_job_ratio_to_1e6']:>20.2f}×")
    out.append(f"{len(info.get('regions', []))} regions × {info.get('hours', '?')} h; target < "
               f"{info.get('target_s', '?')} s for {info.get('jobs', 0):,} jobs; CO2e saved vs now-here: "
               f"{info.get('saving_fraction', float('nan')):.1%} (projected, estimated)")
    return out


def _scaling(benchmarks: list[dict]) -> list[str]:
    infos = [r.extra(b, "load_shifting") for b in r.select(benchmarks, group=GROUP)]
    infos = [i for i in infos if isinstance(i, Mapping) and i.get("scaling")]
    if not infos:
        return []
    info = infos[0]
    parts = [
        "### Load shifting at scale",
        "",
        f"`greensim.shift_jobs` places each job in the region and start hour minimising PUE × mean intensity "
        f"over its length, before its deadline ({', '.join(info.get('regions', []))}; Electricity Maps 2023 "
        "hourly, ODbL). Best of the rounds, timed side by side in this run; a per-job ratio near 1 means the "
        "cost grows linearly with the number of jobs.",
        "",
        "| jobs | best time | per job | per-job time ÷ at 10^6 |",
        "|---:|---:|---:|---:|",
    ]
    for row in info["scaling"]:
        parts.append(f"| {row['jobs']:,} | {r.fmt_si(row['best_s'], 's')} | {r.fmt_si(row['per_job_s'], 's')} | "
                     f"{row['per_job_ratio_to_1e6']:.2f} |")
    parts += ["", f"Target: under {info.get('target_s', 10)} s for {info.get('jobs', 0):,} jobs. CO2e saved "
              f"against running at submission in the home region: {info.get('saving_fraction', 0):.1%} "
              "(projected, estimated) for a synthetic job set: moves across continents are free (no data "
              "transfer, latency or capacity limits), and intensities are averages, not the marginal "
              "emissions that shifting actually changes (no marginal data is shipped). A speed test, not an "
              "achievable saving.", ""]
    return parts


def _whatif(benchmarks: list[dict]) -> list[str]:
    candidates = [b for b in benchmarks if r.has_energy(b) and b.get("group") != GROUP]
    if not candidates:
        return []
    b = candidates[0]
    per_call_j = r.energy_j(b, "median")
    energy_j = per_call_j * CALLS
    measured = r.mark(r.fmt_si(per_call_j, "J"), r.is_estimated(b))
    parts = [
        "### What if it ran elsewhere? (projected)",
        "",
        f"`{b.get('name')}`: {measured} per call (median, meter `{r.source(b)}`), × {CALLS:,.0f} calls, "
        "projected with greensim onto yearly grid intensities and data-centre PUEs. All CO2e figures below are "
        f"model outputs (projected, estimated{r.ESTIMATED_MARK}).",
        "",
        "| grid | intensity (g/kWh) | " + " | ".join(PUE_LABELS) + " |",
        "|---|---:|" + "---:|" * len(WHATIF_PUES),
    ]
    band = meter_band_factors(r.energy(b) or {})  # the model meter's own low/high, carried into every cell
    for region in WHATIF_REGIONS:
        rec = gs.intensity_record(region)
        cells = []
        for pue in WHATIF_PUES:
            co2e = gs.co2e_g(gs.facility_energy_j(energy_j, pue), rec.intensity_g_per_kwh)
            text = r.mark(r.fmt_si(co2e, "g"), True)
            if band is not None:
                text += f" [{r.fmt_si(co2e * band[0], 'g')}–{r.fmt_si(co2e * band[1], 'g')}]"
            cells.append(text)
        parts.append(f"| {rec.label} | {rec.intensity_g_per_kwh:.0f} | " + " | ".join(cells) + " |")
    if band is not None:
        parts += ["", f"[low–high]: the meter's own band on the measured energy ({band[0]:.3g}–{band[1]:.3g}× "
                  "its figure: per-core power, idle fraction, SMT factor at their ends), carried through."]
    versions = sorted({gs.intensity_record(reg).data_version for reg in WHATIF_REGIONS})
    parts += ["", f"Data: {'; '.join(versions)}. More levers (architectures, SNN, hours, 4M): "
              "`greensim run greensim/scenarios/knn.toml --results results.json`.", ""]
    return parts


def render(benchmarks: list[dict], out_dir: Path) -> str:
    parts = _scaling(benchmarks) + _whatif(benchmarks)
    return "\n".join(parts)

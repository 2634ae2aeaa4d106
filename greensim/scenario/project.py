"""Project: a section of :mod:`greensim.scenario` (its docstring tells the whole story)."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from greenbench.errors import ConfigError, GreenbenchError, ScenarioError
from greenbench.intensity import intensity_record
from greenbench.units import J_PER_KWH
from greensim import counted as counted_projection
from greensim.architectures import ARCHITECTURES, op_mix_energy_j, ops_energy_j
from greensim.embodied import HOURS_PER_YEAR
from greensim.levers import FOUR_M_RANGES, FourM
from greensim.scenario.keys import SCHEMA
from greensim.scenario.parse import Baseline, Embodied, Project, Scenario, Window, _Ctx
from greensim.scenario.source import ResolvedSource, resolve_source
from greensim.snn import MemoryAwareSnnModel, snn_vs_ann


@dataclass(frozen=True, slots=True)
class Band:
    """Low/high ends of a row's figures when its inputs carry ranges (issue #22).

    Each pair is (low, high) and holds the row's point value.  ``basis`` says
    which ranged inputs made it.  A worst-case interval over the ranges' ends,
    not a confidence interval.
    """

    it_energy_j: tuple[float, float]
    pue: tuple[float, float]
    co2e_g: tuple[float, float]
    embodied_co2e_g: tuple[float, float]
    basis: tuple[str, ...]

    @property
    def facility_energy_j(self) -> tuple[float, float]:
        return self.it_energy_j[0] * self.pue[0], self.it_energy_j[1] * self.pue[1]

    @property
    def total_co2e_g(self) -> tuple[float, float]:
        return self.co2e_g[0] + self.embodied_co2e_g[0], self.co2e_g[1] + self.embodied_co2e_g[1]

    def values(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name in ("it_energy_j", "facility_energy_j", "co2e_g", "embodied_co2e_g", "total_co2e_g"):
            lo, hi = getattr(self, name)
            stem, unit = name.rsplit("_", 1)
            out[f"{stem}_low_{unit}"], out[f"{stem}_high_{unit}"] = lo, hi
        return out


@dataclass(frozen=True, slots=True)
class Projection:
    """One row of the what-if table.  A model output: projected and estimated."""

    name: str
    it_energy_j: float
    pue: float
    intensity_g_per_kwh: float
    intensity_label: str
    co2e_g: float
    notes: tuple[str, ...] = ()
    window: Mapping[str, Any] | None = None
    energy_factor_vs_baseline: float | None = None
    co2e_factor_vs_baseline: float | None = None
    intensity_basis: str = ""
    embodied_co2e_g: float = 0.0
    #: issue #22: low/high band when the row's inputs carry ranges, else None
    band: Band | None = None

    @property
    def facility_energy_j(self) -> float:
        return self.it_energy_j * self.pue

    @property
    def total_co2e_g(self) -> float:
        """Operational (``co2e_g``) plus amortised embodied CO2e."""
        return self.co2e_g + self.embodied_co2e_g

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "projected": True, "estimated": True,
            "it_energy_j": self.it_energy_j, "pue": self.pue, "facility_energy_j": self.facility_energy_j,
            "facility_energy_kwh": self.facility_energy_j / J_PER_KWH,
            "intensity_g_per_kwh": self.intensity_g_per_kwh, "intensity_source": self.intensity_label,
            "intensity_basis": self.intensity_basis,
            "co2e_g": self.co2e_g, "embodied_co2e_g": self.embodied_co2e_g, "total_co2e_g": self.total_co2e_g,
            "energy_factor_vs_baseline": _finite(self.energy_factor_vs_baseline),
            "co2e_factor_vs_baseline": _finite(self.co2e_factor_vs_baseline),
            "notes": list(self.notes), "window": dict(self.window) if self.window is not None else None,
            **self._band_json(),
        }

    def _band_json(self) -> dict[str, Any]:
        """Low/high keys beside the point values (null without ranged inputs), and what made the band."""
        keys = ("it_energy_low_j", "it_energy_high_j", "facility_energy_low_j", "facility_energy_high_j",
                "co2e_low_g", "co2e_high_g", "embodied_co2e_low_g", "embodied_co2e_high_g",
                "total_co2e_low_g", "total_co2e_high_g")
        if self.band is None:
            return {**dict.fromkeys(keys), "band_basis": []}
        values = self.band.values()
        return {**{k: values[k] for k in keys}, "band_basis": list(self.band.basis)}


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    scenario: Scenario
    source: ResolvedSource | None
    baseline: Projection | None
    rows: tuple[Projection, ...]
    data_versions: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        from greensim import __version__

        return {
            "schema": SCHEMA, "greensim_version": __version__,
            "projected": True, "estimated": True,
            "note": "Model outputs (projected, estimated) from the source energy; not measurements.",
            "scenario": {"path": str(self.scenario.path), "title": self.scenario.title,
                         "description": self.scenario.description},
            "source": self.source.to_json() if self.source is not None else None,
            "baseline": self.baseline.to_json() if self.baseline is not None else None,
            "projections": [r.to_json() for r in self.rows],
            "data_versions": dict(self.data_versions),
            "notes": list(self.notes),
        }


def _ratio(a: float, b: float) -> float | None:
    """Gain ``a / b``; None where it has no finite value (a row of 0 J against a non-zero baseline)."""
    if b > 0:
        r = a / b
        return r if math.isfinite(r) else None
    return 1.0 if a == 0 else None


#: the figures of a row that must be finite (else the row fails, naming the figure)
_ROW_FIGURES = ("it_energy_j", "pue", "facility_energy_j", "intensity_g_per_kwh", "co2e_g", "embodied_co2e_g",
                "total_co2e_g")


def _check_finite(ctx: _Ctx, where: str, row: Projection) -> Projection:
    """Refuse a row with a non-finite figure: never a 'nan g/kWh' or an infinite CO2e."""
    for name in _ROW_FIGURES:
        value = getattr(row, name)
        if not math.isfinite(value):
            raise ScenarioError(f"{ctx.path}: {where}: the projected {name} is {value} (not a finite number): the "
                                "inputs overflow a float (e.g. calls x energy_j beyond 1.8e308); expected smaller "
                                "figures")
    for name, value in (row.band.values().items() if row.band is not None else ()):
        if not math.isfinite(value):
            raise ScenarioError(f"{ctx.path}: {where}: the projected band's {name} is {value} (not a finite "
                                "number); expected smaller figures")
    for key in ("now_g_per_kwh", "best_g_per_kwh", "saving_vs_now_fraction"):
        value = (row.window or {}).get(key, 0.0)
        if not math.isfinite(value):
            raise ScenarioError(f"{ctx.path}: {where}.window: {key} is {value} (not a finite number)")
    return row


def _start_index(series: Any, start: datetime) -> tuple[int, list[str]]:
    """The first step starting at or after ``start``: a job cannot start before it is submitted."""
    index = series.index_of(start)
    if series.time_of(index) >= start:
        return index, []
    index += 1
    if index >= len(series):
        raise ConfigError(f"start: {start.isoformat()} is inside the last hour of the {series.region} series; "
                          "no whole hour is left to start in")
    when = series.time_of(index).isoformat().replace("+00:00", "Z")
    return index, [f"window start {start.isoformat().replace('+00:00', 'Z')} falls between hours: the job "
                   f"starts at {when}, the first whole hour after submission"]


#: basis of the shipped hourly series (Electricity Maps Data Portal, life-cycle column)
HOURLY_BASIS = "consumption-based, life cycle"


def _grid(ctx: _Ctx, where: str, region: str, table: str, used: dict[str, str]) -> tuple[float, str, str]:
    try:
        rec = intensity_record(region, table)
    except GreenbenchError as exc:
        raise ScenarioError(f"{ctx.path}: {where}: {exc}") from None
    used[rec.dataset_id] = rec.data_version
    return rec.intensity_g_per_kwh, rec.label, rec.basis


@functools.lru_cache(maxsize=64)
def _hourly_means(region: str, job_min: float) -> Any:
    """Window means of a shipped hourly series, once per (zone, job length): window rows share them."""
    from greensim.hourly import hourly_series
    from greensim.shift import rolling_average

    series = hourly_series(region)
    means = rolling_average(series.intensity_g_per_kwh, series.step_min, job_min)
    means.setflags(write=False)
    return means


def _window_grid(ctx: _Ctx, where: str, w: Window, used: dict[str, str]) -> tuple[float, str, dict[str, Any]]:
    from greensim.hourly import hourly_series
    from greensim.shift import best_in_means

    series = hourly_series(w.region)
    used[series.dataset_id] = series.data_version
    try:
        now, notes = _start_index(series, w.start) if w.start is not None else (0, [])
        choice = best_in_means(_hourly_means(w.region, w.job_min), len(series), series.step_min, w.job_min,
                               now_index=now, deadline_min=w.deadline_min)
    except ConfigError as exc:
        raise ScenarioError(f"{ctx.path}: {where}.window: {exc}") from None
    starts = [series.time_of(i).isoformat().replace("+00:00", "Z") for i in choice.start_indices]
    info = {
        "region": w.region, "job_min": w.job_min, "deadline_min": w.deadline_min,
        "now_utc": series.time_of(now).isoformat().replace("+00:00", "Z"),
        "now_g_per_kwh": choice.now_g_per_kwh, "best_g_per_kwh": choice.best_g_per_kwh,
        "best_starts_utc": starts, "saving_vs_now_fraction": choice.saving_fraction,
        "beyond_data_min": choice.beyond_data_min, "notes": notes,
    }
    if choice.beyond_data_min > 0:
        searched_h = (w.deadline_min - choice.beyond_data_min) / 60
        notes.append(f"the deadline runs {choice.beyond_data_min / 60:g} h past the end of the {w.region} 2023 "
                     f"data: only {searched_h:g} h of the {w.deadline_min / 60:g} h window were searched")
    label = f"{w.region} hourly 2023, best {w.job_min / 60:g} h of {w.deadline_min / 60:g} h"
    return choice.best_g_per_kwh, label, info


#: why per-operation architecture figures do not project a measured workload
ILLUSTRATIVE_ARCHITECTURE = ("the study's per-op figures (Table 1) are orders of magnitude for one instruction, with "
                             "no physical model of this workload on that hardware; modern CPUs are already "
                             "modified Harvard machines")


def _project(ctx: _Ctx, pr: Project, base: Baseline, source: ResolvedSource | None,
             used: dict[str, str], *, embodied: Embodied | None = None) -> Projection:
    where = f"project[{pr.index}] {pr.name!r}"
    notes: list[str] = []
    per_call = pr.energy_j if pr.energy_j is not None else (source.energy_j if source else None)
    band = _BandBuilder()

    def need_base(what: str) -> float:
        if per_call is None:
            raise ScenarioError(f"{ctx.path}: {where}: no energy to project for {what}; expected energy_j "
                                "here, a [source] (or --results), or absolute counts (ops, op_mix, macs)")
        if pr.energy_j is None and source is not None and source.band_factors is not None:
            band.energy(*source.band_factors, f"source: {source.meter or 'meter'} band "
                                              f"{source.band_factors[0]:.3g}-{source.band_factors[1]:.3g}x")
        return per_call

    if pr.architecture is not None:
        arch = ARCHITECTURES[pr.architecture]
        if pr.ops is not None:
            energy = ops_energy_j(pr.ops, pr.architecture)
            notes.append(f"{pr.ops:.3g} ops × {arch.energy_per_op_j * 1e9:g} nJ/op ({arch.source}); "
                         f"{ILLUSTRATIVE_ARCHITECTURE}")
        else:
            scale = arch.energy_per_op_j / ARCHITECTURES["von_neumann"].energy_per_op_j
            energy = need_base("architecture") * scale
            notes.append(f"ILLUSTRATIVE, not a projection: measured energy × {scale:g} ({pr.architecture} vs "
                         f"von_neumann per op); {ILLUSTRATIVE_ARCHITECTURE}")
    elif pr.counts_target is not None:
        if source is None or source.counts is None:
            what = f"benchmark {source.benchmark!r}" if source is not None and source.benchmark else "the source"
            raise ScenarioError(f"{ctx.path}: {where}.counts_target: {what} has no extra_info.energy.counts; "
                                "expected a [source] benchmark run with --energy-meter=counted")
        energy = counted_projection.projected_j(source.counts, pr.counts_target)
        notes.append(counted_projection.describe(source.counts, pr.counts_target))
    elif pr.op_mix is not None:
        energy = op_mix_energy_j(pr.op_mix)
        notes.append("op mix × Horowitz 2014 45 nm energies")
    elif pr.spike_rate is not None and pr.timesteps is not None:
        memory = MemoryAwareSnnModel() if pr.snn_model == "memory" else None
        model = "memory-aware (after Lemaire et al. 2022)" if memory else "simple (Horowitz 2014 E_MAC/E_AC)"
        if pr.spike_rate_range is not None:
            at = [snn_vs_ann(1.0 if pr.macs is None else pr.macs, r, pr.timesteps, memory=memory, neurons=pr.neurons,
                             first_layer_macs=pr.first_layer_macs if pr.macs is not None else 0.0)[1]
                  for r in (min(pr.spike_rate_range[0], pr.spike_rate), pr.spike_rate,
                            max(pr.spike_rate_range[1], pr.spike_rate))]
            if at[1] > 0:
                band.energy(at[0] / at[1], at[2] / at[1],
                            f"spike rate {pr.spike_rate_range[0]:g}-{pr.spike_rate_range[1]:g}")
        if pr.macs is not None:
            ann, energy = snn_vs_ann(pr.macs, pr.spike_rate, pr.timesteps, memory=memory, neurons=pr.neurons,
                                     first_layer_macs=pr.first_layer_macs)
            first = (f"first layer {pr.first_layer_macs:.3g} MACs dense (non-spike input)" if pr.first_layer_macs
                     else "first layer not separated (give first_layer_macs: it receives non-spike input, "
                          "so charging it as spikes flatters the SNN)")
            notes.append(f"SNN {model}: {pr.macs:.3g} MACs per call, the ANN would take {ann:.3g} J per call; "
                         f"{first}")
        else:
            ann, snn = snn_vs_ann(1.0, pr.spike_rate, pr.timesteps, memory=memory, neurons=pr.neurons)
            energy = need_base("spike_rate") * (snn / ann)
            notes.append(f"measured energy × SNN/ANN {snn / ann:.3g}, {model}; assumes the measured "
                         "workload is the equivalent ANN; first layer not separated (needs macs)")
    else:
        energy = need_base("this row")
    calls = pr.calls if pr.calls is not None else base.calls
    energy *= calls
    if calls != base.calls:
        notes.append(f"× {calls:g} calls (baseline: {base.calls:g})")
    energy_factor = co2e_extra = 1.0
    if pr.four_m is not None:
        energy_factor, co2e_factor = pr.four_m.energy_factor, pr.four_m.co2e_factor
        co2e_extra = co2e_factor / energy_factor
        energy /= energy_factor
        notes.append(f"4M: energy ÷ {energy_factor:g}, CO2e ÷ {co2e_factor:g} (Patterson et al. 2022)")
        _four_m_band(band, pr.four_m)
    pue = pr.pue if pr.pue is not None else base.pue
    if pr.pue_range is not None:
        band.pue_range(pue, pr.pue_range)
    window_info = None
    if pr.window is not None:
        ci, label, window_info = _window_grid(ctx, where, pr.window, used)
        notes.extend(window_info["notes"])
        basis = HOURLY_BASIS
    else:
        ci, label, basis = _grid(ctx, where, pr.region or base.region,
                                 pr.intensity_table or base.intensity_table, used)
    embodied_spec = pr.embodied if pr.embodied is not None else embodied
    embodied_g = embodied_spec.co2e_g(calls) if embodied_spec is not None else 0.0
    if embodied_spec is not None:
        notes.append(_embodied_note(embodied_spec, calls))
        band.embodied(embodied_spec, calls)
    if pr.note:
        notes.append(pr.note)
    co2e = energy * pue / J_PER_KWH * ci / co2e_extra
    return Projection(name=pr.name, it_energy_j=energy, pue=pue, intensity_g_per_kwh=ci,
                      intensity_label=label, co2e_g=co2e, notes=tuple(notes), window=window_info,
                      intensity_basis=basis, embodied_co2e_g=embodied_g,
                      band=band.build(energy, pue, co2e, embodied_g))


class _BandBuilder:
    """Collects the (low, high) factors of a row's ranged inputs (issue #22); the row is a product of
    positive factors, each monotone in its input, so the band is the product of the factors' ends."""

    def __init__(self) -> None:
        self.energy_lo = self.energy_hi = 1.0  # on IT energy
        self.pue_lo = self.pue_hi = 1.0  # on PUE
        self.co2e_lo = self.co2e_hi = 1.0  # on CO2e only (the Map lever)
        self.embodied_g: tuple[float, float] | None = None
        self.basis: list[str] = []

    def energy(self, lo: float, hi: float, why: str) -> None:
        self.energy_lo *= min(lo, 1.0)
        self.energy_hi *= max(hi, 1.0)
        self.basis.append(why)

    def pue_range(self, pue: float, rng: tuple[float, float]) -> None:
        self.pue_lo, self.pue_hi = min(rng[0], pue) / pue, max(rng[1], pue) / pue
        self.basis.append(f"PUE {rng[0]:g}-{rng[1]:g}")

    def embodied(self, spec: Embodied, calls: float) -> None:
        if spec.device.has_band:
            lo, hi = spec.device.band_g(spec.hours_per_call * spec.devices * calls)
            self.embodied_g = (lo, hi)
            self.basis.append(f"embodied: {spec.device.band_source or 'device ranges'}")

    def build(self, energy: float, pue: float, co2e: float, embodied_g: float) -> Band | None:
        if not self.basis:
            return None
        e_lo, e_hi = self.energy_lo, self.energy_hi
        return Band(it_energy_j=(energy * e_lo, energy * e_hi), pue=(pue * self.pue_lo, pue * self.pue_hi),
                    co2e_g=(co2e * e_lo * self.pue_lo * self.co2e_lo, co2e * e_hi * self.pue_hi * self.co2e_hi),
                    embodied_co2e_g=self.embodied_g if self.embodied_g is not None else (embodied_g, embodied_g),
                    basis=tuple(self.basis))


def _four_m_band(band: _BandBuilder, four: FourM) -> None:
    """Each lever the row sets (a factor other than 1) at the ends of its published range: energy is divided
    by model × machine × mechanization, CO2e also by map."""
    energy_lo = energy_hi = co2e_lo = co2e_hi = 1.0
    used = []
    for lever in ("model", "machine", "mechanization", "map"):
        value = getattr(four, lever)
        if value == 1.0:
            continue
        lo, hi = FOUR_M_RANGES[lever]
        lo, hi = min(lo, value), max(hi, value)
        used.append(f"{lever} {lo:g}-{hi:g}x")
        if lever == "map":
            co2e_lo, co2e_hi = co2e_lo * value / hi, co2e_hi * value / lo
        else:
            energy_lo, energy_hi = energy_lo * value / hi, energy_hi * value / lo
    if not used:
        return
    why = "4M ranges as quoted by the study: " + ", ".join(used)
    band.energy(energy_lo, energy_hi, why)
    band.co2e_lo, band.co2e_hi = co2e_lo, co2e_hi


def _embodied_note(e: Embodied, calls: float) -> str:
    d = e.device
    return (f"embodied {e.co2e_g(calls):.3g} g: {e.devices:g} × {e.hours_per_call * calls:.3g} device-h × "
            f"{d.g_per_device_hour:.3g} g/device-h ({d.name}: {d.embodied_kg_co2e:g} kg over "
            f"{d.lifetime_h / HOURS_PER_YEAR:g} y at {d.utilisation:.0%} use; {d.source})")


def _basis_notes(baseline: Projection | None, rows: list[Projection]) -> tuple[list[Projection], list[str]]:
    """Label rows whose intensity basis differs from the baseline's (production- vs consumption-based)."""
    reference = baseline.intensity_basis if baseline is not None else (rows[0].intensity_basis if rows else "")
    bases = {r.intensity_basis for r in ([baseline] if baseline is not None else []) + rows}
    if len(bases) <= 1:
        return rows, []
    out = [row if row.intensity_basis == reference else dataclasses.replace(
        row, notes=(*row.notes, f"MIXED INTENSITY BASIS: {row.intensity_basis} vs the baseline's {reference}; "
                                "its CO2e gain mixes methods")) for row in rows]
    note = ("intensity bases mixed in one scenario (" + "; ".join(sorted(bases)) + "): production-based "
            "figures count generation inside the region, consumption-based ones follow imports; compare "
            "rows of one basis, or set intensity_table to one table")
    return out, [note]


def run_scenario(scenario: Scenario, *, results: str | Path | None = None,
                 benchmark: str | None = None) -> ScenarioResult:
    """Project every row of ``scenario``; savings factors are against ``[baseline]``
    (which needs a source energy).

    ``results`` alone is ignored (with a note) by a scenario that reads no
    benchmark, so one command line can serve every scenario file in CI.
    """
    if not isinstance(scenario, Scenario):
        raise ConfigError(f"run_scenario: expected a Scenario (from load_scenario/parse_scenario), got "
                          f"{type(scenario).__name__}")
    ctx = _Ctx(scenario.path)
    notes: list[str] = []
    reads_benchmark = scenario.source is not None and scenario.source.benchmark is not None
    if results is not None and benchmark is None and not reads_benchmark:
        notes.append(f"--results {results} ignored: this scenario reads no benchmark")
        results = None
    source = resolve_source(scenario, results, benchmark)
    used: dict[str, str] = {}
    baseline = None
    if source is not None:
        b = scenario.baseline
        ci, label, basis = _grid(ctx, "[baseline]", b.region, b.intensity_table, used)
        energy = source.energy_j * b.calls
        base_notes = [f"source: {source.label}" + (" (estimated)" if source.estimated else "")]
        emb = scenario.embodied
        if emb is not None:
            base_notes.append(_embodied_note(emb, b.calls))
        base_band = _BandBuilder()
        if source.band_factors is not None:
            base_band.energy(*source.band_factors, f"source: {source.meter or 'meter'} band "
                                                   f"{source.band_factors[0]:.3g}-{source.band_factors[1]:.3g}x")
        if emb is not None:
            base_band.embodied(emb, b.calls)
        base_co2e, base_embodied = energy * b.pue / J_PER_KWH * ci, emb.co2e_g(b.calls) if emb else 0.0
        baseline = _check_finite(ctx, "[baseline]", Projection(
            name=b.name, it_energy_j=energy, pue=b.pue, intensity_g_per_kwh=ci,
            intensity_label=label, co2e_g=base_co2e,
            notes=tuple(base_notes), energy_factor_vs_baseline=1.0, co2e_factor_vs_baseline=1.0,
            intensity_basis=basis, embodied_co2e_g=base_embodied,
            band=base_band.build(energy, b.pue, base_co2e, base_embodied)))
    rows = []
    for pr in scenario.projects:
        row = _check_finite(ctx, f"project[{pr.index}] {pr.name!r}",
                            _project(ctx, pr, scenario.baseline, source, used, embodied=scenario.embodied))
        if baseline is not None:
            energy_gain = _ratio(baseline.facility_energy_j, row.facility_energy_j)
            co2e_gain = _ratio(baseline.co2e_g, row.co2e_g)
            undefined = [n for n, g in (("energy", energy_gain), ("CO2e", co2e_gain)) if g is None]
            row = dataclasses.replace(
                row, energy_factor_vs_baseline=energy_gain, co2e_factor_vs_baseline=co2e_gain,
                notes=(*row.notes, *([f"{' and '.join(undefined)} gain undefined: this row's figure is 0 (or "
                                      "beyond a float's range) against a non-zero baseline"] if undefined else [])))
        rows.append(row)
    rows, basis_notes = _basis_notes(baseline, rows)
    notes.extend(basis_notes)
    return ScenarioResult(scenario=scenario, source=source, baseline=baseline, rows=tuple(rows),
                          data_versions=dict(sorted(used.items())), notes=tuple(notes))

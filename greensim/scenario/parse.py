"""Parse: a section of :mod:`greensim.scenario` (its docstring tells the whole story)."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from greenbench.errors import ConfigError, ScenarioError
from greenbench.intensity import TABLES, intensity_record
from greenbench.meters.counted.energy_model import Coefficients
from greensim import _check
from greensim import counted as counted_projection
from greensim.architectures import ARCHITECTURES, HOROWITZ_45NM
from greensim.embodied import EMBODIED_DEVICES, HOURS_PER_YEAR, EmbodiedDevice, get_device
from greensim.levers import FourM
from greensim.scenario.keys import (
    _BASELINE_KEYS,
    _EMBODIED_KEYS,
    _FOUR_M_KEYS,
    _PROJECT_KEYS,
    _SOURCE_KEYS,
    _TOP_KEYS,
    _WINDOW_KEYS,
    BASELINE_NAME,
    DEFAULT_DEADLINE_H,
    SNN_MODELS,
    STATS,
)
from greensim.snn import E_SRAM_32B_J, SRAM_OP_MIX_ENTRY


@dataclass(frozen=True, slots=True)
class Source:
    results: Path | None = None
    benchmark: str | None = None
    stat: str = "median"
    energy_j: float | None = None
    estimated: bool = True
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Baseline:
    name: str = BASELINE_NAME
    region: str = "WORLD"
    pue: float = 1.0
    calls: float = 1.0
    intensity_table: str = "auto"


@dataclass(frozen=True, slots=True)
class Window:
    region: str
    job_min: float
    deadline_min: float
    start: datetime | None = None


@dataclass(frozen=True, slots=True)
class Embodied:
    """Amortised embodied CO2e: ``devices`` × ``hours_per_call`` device-hours per call
    of a device (see :mod:`greensim.embodied`)."""

    device: EmbodiedDevice
    hours_per_call: float
    devices: float = 1.0

    def co2e_g(self, calls: float) -> float:
        return self.device.embodied_g(self.hours_per_call * self.devices * calls)


@dataclass(frozen=True, slots=True)
class Project:
    index: int
    name: str
    energy_j: float | None = None
    calls: float | None = None
    region: str | None = None
    intensity_table: str | None = None
    pue: float | None = None
    architecture: str | None = None
    ops: float | None = None
    op_mix: Mapping[str, float] | None = None
    spike_rate: float | None = None
    timesteps: float | None = None
    macs: float | None = None
    first_layer_macs: float = 0.0
    neurons: float = 0.0
    snn_model: str = "simple"
    four_m: FourM | None = None
    window: Window | None = None
    embodied: Embodied | None = None
    note: str | None = None
    #: issue #12: energy per counted event of the target (greensim.counted); the source must be counted
    counts_target: Coefficients | None = None
    #: issue #22: (low, high) ends of ranged inputs, for the row's band
    pue_range: tuple[float, float] | None = None
    spike_rate_range: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    path: Path
    title: str
    description: str
    source: Source | None
    baseline: Baseline
    projects: tuple[Project, ...]
    embodied: Embodied | None = None


class _Ctx:
    """Builds one-line errors: ``FILE: where.key: expected ..., got ...``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self.path}: {where}: {message}")

    def table(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a table, got {type(value).__name__} {value!r}")
        return value

    def keys(self, tbl: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in tbl:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise self.fail(where, f"unknown key '{key}'{hint}; expected one of {', '.join(allowed)}")

    def checked(self, where: str, check: Any, value: Any) -> float:
        try:
            return float(check(where, value))
        except ConfigError as exc:
            raise ScenarioError(f"{self.path}: {exc}") from None

    def opt_num(self, tbl: Mapping[str, Any], key: str, where: str,
                check: Any = _check.number) -> float | None:
        return None if key not in tbl else self.checked(f"{where}.{key}", check, tbl[key])

    def opt_str(self, tbl: Mapping[str, Any], key: str, where: str) -> str | None:
        if key not in tbl:
            return None
        value = tbl[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}.{key}", f"expected a non-empty string, got {value!r}")
        return value.strip()

    def region(self, value: str, table: str, where: str) -> str:
        try:
            return intensity_record(value, table).region
        except ConfigError as exc:
            raise ScenarioError(f"{self.path}: {where}: {exc}") from None

    def intensity_table(self, tbl: Mapping[str, Any], where: str) -> str | None:
        value = self.opt_str(tbl, "intensity_table", where)
        if value is not None and value not in TABLES:
            raise self.fail(f"{where}.intensity_table", f"expected one of {', '.join(TABLES)}, got {value!r}")
        return value


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (one-line :class:`ScenarioError` on any problem)."""
    from greenbench.io import read as safeio

    data = safeio.load_toml(path, what="scenario file (TOML)", error=ScenarioError)
    p = Path(path)
    return parse_scenario(data, p)


def parse_scenario(data: Mapping[str, Any], path: str | Path = "<scenario>") -> Scenario:
    """Validate an already-parsed TOML document (``path`` is only used in messages and
    to resolve ``[source].results``)."""
    ctx = _Ctx(Path(path))
    ctx.keys(data, _TOP_KEYS, "top level")
    title = ctx.opt_str(data, "title", "top level") or ctx.path.stem
    description = ctx.opt_str(data, "description", "top level") or ""
    source = _parse_source(ctx, data["source"]) if "source" in data else None
    baseline = _parse_baseline(ctx, data.get("baseline", {}))
    embodied = _parse_embodied(ctx, data["embodied"], "[embodied]") if "embodied" in data else None
    raw_projects = data.get("project")
    if raw_projects is None:
        raise ctx.fail("top level", "no [[project]] tables; expected at least one projection row")
    if not isinstance(raw_projects, list) or not raw_projects:
        raise ctx.fail("project", "expected an array of tables ([[project]]), one per projection row")
    projects = tuple(_parse_project(ctx, i, raw, baseline) for i, raw in enumerate(raw_projects, start=1))
    seen: set[str] = set()  # a set, not list.count: 50,000 rows load in a second
    for pr in projects:
        if pr.name in seen:
            raise ctx.fail("project", f"duplicate project name {pr.name!r}; expected unique names")
        seen.add(pr.name)
    _check_one_sram_energy(ctx, projects)
    return Scenario(path=ctx.path, title=title, description=description, source=source,
                    baseline=baseline, projects=projects, embodied=embodied)


def _check_one_sram_energy(ctx: _Ctx, projects: tuple[Project, ...]) -> None:
    """Memory-aware SNN rows charge 5 pJ per 32-bit SRAM access (Horowitz's 8 KB SRAM);
    an op-mix row beside them must use that SRAM, or the comparison mixes two memories."""
    memory_rows = [pr for pr in projects if pr.spike_rate is not None and pr.snn_model == "memory"]
    if not memory_rows:
        return
    for pr in projects:
        other = sorted(k for k in (pr.op_mix or {}) if k.startswith("sram_") and k != SRAM_OP_MIX_ENTRY)
        if other:
            raise ctx.fail(f"project[{pr.index}] '{pr.name}'.op_mix.{other[0]}",
                           f"the memory-aware SNN row '{memory_rows[0].name}' charges "
                           f"{E_SRAM_32B_J / 1e-12:g} pJ per 32-bit SRAM access ({SRAM_OP_MIX_ENTRY} / 2); "
                           f"expected {SRAM_OP_MIX_ENTRY} here too (one SRAM energy per scenario)")


def _parse_embodied(ctx: _Ctx, raw: Any, where: str) -> Embodied:
    tbl = ctx.table(raw, where)
    ctx.keys(tbl, _EMBODIED_KEYS, where)
    device_name = ctx.opt_str(tbl, "device", where)
    custom = [k for k in ("device_kg_co2e", "lifetime_years", "utilisation") if k in tbl]
    if device_name is not None and custom:
        raise ctx.fail(f"{where}.{custom[0]}", "conflicts with device (a preset with its own figures); give one")
    if device_name is not None:
        try:
            device = get_device(device_name)
        except ConfigError as exc:
            raise ScenarioError(f"{ctx.path}: {where}.device: {exc}") from None
    else:
        kg = ctx.opt_num(tbl, "device_kg_co2e", where, _check.non_negative)
        years = ctx.opt_num(tbl, "lifetime_years", where, _check.positive)
        if kg is None or years is None:
            raise ctx.fail(where, "expected device = one of " + ", ".join(EMBODIED_DEVICES)
                           + ", or device_kg_co2e and lifetime_years (and utilisation)")
        util = _default(ctx.opt_num(tbl, "utilisation", where, _check.fraction), 1.0)
        if util <= 0:
            raise ctx.fail(f"{where}.utilisation", "expected a fraction > 0 of the lifetime in use")
        device = EmbodiedDevice("custom", kg, years * HOURS_PER_YEAR, util, "given in the scenario")
    hours = ctx.opt_num(tbl, "hours_per_call", where, _check.non_negative)
    if hours is None:
        raise ctx.fail(f"{where}.hours_per_call", "missing; expected the device-hours one call occupies")
    devices = _default(ctx.opt_num(tbl, "devices", where, _check.positive), 1.0)
    return Embodied(device=device, hours_per_call=hours, devices=devices)


def _parse_source(ctx: _Ctx, raw: Any) -> Source:
    where = "[source]"
    tbl = ctx.table(raw, where)
    ctx.keys(tbl, _SOURCE_KEYS, where)
    results = ctx.opt_str(tbl, "results", where)
    benchmark = ctx.opt_str(tbl, "benchmark", where)
    stat = ctx.opt_str(tbl, "stat", where) or "median"
    if stat not in STATS:
        raise ctx.fail(f"{where}.stat", f"expected one of {', '.join(STATS)}, got {stat!r}")
    energy_j = ctx.opt_num(tbl, "energy_j", where, _check.non_negative)
    estimated = tbl.get("estimated", True)
    if not isinstance(estimated, bool):
        raise ctx.fail(f"{where}.estimated", f"expected true or false, got {estimated!r}")
    if energy_j is not None and (results is not None or benchmark is not None):
        raise ctx.fail(where, "give either energy_j (standalone) or results/benchmark, not both")
    if results is not None and benchmark is None:
        raise ctx.fail(f"{where}.benchmark", "missing; expected the benchmark name (or pattern) to read "
                                             "from the results file")
    results_path = None
    if results is not None:
        results_path = Path(results) if Path(results).is_absolute() else ctx.path.parent / results
    return Source(results=results_path, benchmark=benchmark, stat=stat, energy_j=energy_j,
                  estimated=estimated, label=ctx.opt_str(tbl, "label", where))


def _parse_baseline(ctx: _Ctx, raw: Any) -> Baseline:
    where = "[baseline]"
    tbl = ctx.table(raw, where)
    ctx.keys(tbl, _BASELINE_KEYS, where)
    table = ctx.intensity_table(tbl, where) or "auto"
    region = ctx.opt_str(tbl, "region", where) or "WORLD"
    return Baseline(
        name=ctx.opt_str(tbl, "name", where) or BASELINE_NAME,
        region=ctx.region(region, table, f"{where}.region"),
        pue=ctx.opt_num(tbl, "pue", where, _check.pue) or 1.0,
        calls=_default(ctx.opt_num(tbl, "calls", where, _check.non_negative), 1.0),
        intensity_table=table,
    )


def _default(value: float | None, default: float) -> float:
    return default if value is None else value


def _parse_datetime(ctx: _Ctx, value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0), tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    raise ctx.fail(where, f"expected a UTC date-time such as 2023-06-01T00:00:00Z, got {value!r}")


def _parse_window(ctx: _Ctx, raw: Any, where: str, row_region: str | None) -> Window:
    from greensim.hourly import hourly_regions

    tbl = ctx.table(raw, where)
    ctx.keys(tbl, _WINDOW_KEYS, where)
    region = ctx.opt_str(tbl, "region", where) or row_region
    if region is None:
        raise ctx.fail(f"{where}.region", f"missing; expected a zone with an hourly series "
                                          f"({', '.join(hourly_regions())})")
    if row_region is not None and region.upper() != row_region.upper():
        raise ctx.fail(f"{where}.region", f"{region!r} differs from the row's region {row_region!r}; "
                                          "give the region once")
    if region.upper() not in hourly_regions():
        raise ctx.fail(f"{where}.region", f"no hourly series for {region!r}; expected one of "
                                          f"{', '.join(hourly_regions())}")
    job_h = ctx.opt_num(tbl, "job_h", where, _check.positive)
    job_min = ctx.opt_num(tbl, "job_min", where, _check.positive)
    if (job_h is None) == (job_min is None):
        raise ctx.fail(where, "expected exactly one of job_h or job_min (the job's length)")
    length_min = job_min if job_min is not None else (job_h or 0.0) * 60.0
    deadline_h = _default(ctx.opt_num(tbl, "deadline_h", where, _check.positive), DEFAULT_DEADLINE_H)
    if not math.isfinite(deadline_h * 60.0) or not math.isfinite(length_min):
        raise ctx.fail(where, f"expected job and deadline lengths a float can hold in minutes, got "
                              f"job {length_min:g} min, deadline {deadline_h:g} h")
    if deadline_h * 60.0 < length_min:
        raise ctx.fail(f"{where}.deadline_h", f"expected a deadline >= the job length "
                                              f"({length_min / 60:g} h), got {deadline_h:g} h")
    start = _parse_datetime(ctx, tbl["start"], f"{where}.start") if "start" in tbl else None
    return Window(region=region.upper(), job_min=length_min, deadline_min=deadline_h * 60.0, start=start)


def _parse_project(ctx: _Ctx, index: int, raw: Any, baseline: Baseline) -> Project:
    where = f"project[{index}]"
    tbl = ctx.table(raw, where)
    name = ctx.opt_str(tbl, "name", where)
    if name is None:
        raise ctx.fail(f"{where}.name", "missing; expected a short label for this row")
    where = f"project[{index}] {name!r}"
    ctx.keys(tbl, _PROJECT_KEYS, where)
    num = ctx.opt_num
    table = ctx.intensity_table(tbl, where)
    region = ctx.opt_str(tbl, "region", where)
    window = _parse_window(ctx, tbl["window"], f"{where}.window", region) if "window" in tbl else None
    if region is not None and window is None:
        region = ctx.region(region, table or baseline.intensity_table, f"{where}.region")
    architecture = ctx.opt_str(tbl, "architecture", where)
    if architecture is not None:
        key = architecture.lower().replace("-", "_").replace(" ", "_")
        if key not in ARCHITECTURES:
            raise ctx.fail(f"{where}.architecture", f"expected one of {', '.join(ARCHITECTURES)}, "
                                                    f"got {architecture!r}")
        architecture = key
    op_mix = None
    if "op_mix" in tbl:
        mix = ctx.table(tbl["op_mix"], f"{where}.op_mix")
        ctx.keys(mix, HOROWITZ_45NM.op_names(), f"{where}.op_mix")
        op_mix = {k: ctx.checked(f"{where}.op_mix.{k}", _check.non_negative, v) for k, v in mix.items()}
    four = None
    if "four_m" in tbl:
        fm = ctx.table(tbl["four_m"], f"{where}.four_m")
        ctx.keys(fm, _FOUR_M_KEYS, f"{where}.four_m")
        try:
            four = FourM(**{k: ctx.checked(f"{where}.four_m.{k}", _check.positive, v) for k, v in fm.items()})
        except ConfigError as exc:  # the levers' product beyond a float (issue #21)
            raise ctx.fail(f"{where}.four_m", str(exc)) from None
    snn_model = ctx.opt_str(tbl, "snn_model", where) or "simple"
    if snn_model not in SNN_MODELS:
        raise ctx.fail(f"{where}.snn_model", f"expected one of {', '.join(SNN_MODELS)}, got {snn_model!r}")
    p = Project(
        index=index, name=name,
        energy_j=num(tbl, "energy_j", where, _check.non_negative),
        calls=num(tbl, "calls", where, _check.non_negative),
        region=region, intensity_table=table,
        pue=num(tbl, "pue", where, _check.pue),
        architecture=architecture, ops=num(tbl, "ops", where, _check.non_negative), op_mix=op_mix,
        spike_rate=num(tbl, "spike_rate", where, _check.fraction),
        timesteps=num(tbl, "timesteps", where, _check.positive),
        macs=num(tbl, "macs", where, _check.non_negative),
        first_layer_macs=_default(num(tbl, "first_layer_macs", where, _check.non_negative), 0.0),
        neurons=_default(num(tbl, "neurons", where, _check.non_negative), 0.0),
        snn_model=snn_model, four_m=four, window=window,
        embodied=_parse_embodied(ctx, tbl["embodied"], f"{where}.embodied") if "embodied" in tbl else None,
        note=ctx.opt_str(tbl, "note", where),
        counts_target=_parse_counts_target(ctx, tbl["counts_target"], f"{where}.counts_target")
        if "counts_target" in tbl else None,
        pue_range=_parse_range(ctx, tbl, "pue_range", where, _check.pue),
        spike_rate_range=_parse_range(ctx, tbl, "spike_rate_range", where, _check.fraction),
    )
    _check_combinations(ctx, where, tbl, p)
    return p


def _parse_range(ctx: _Ctx, tbl: Mapping[str, Any], key: str, where: str, check: Any) -> tuple[float, float] | None:
    """``key = [low, high]``: two numbers passing ``check``, low <= high (issue #22 bands)."""
    if key not in tbl:
        return None
    raw = tbl[key]
    if not isinstance(raw, list) or len(raw) != 2:
        raise ctx.fail(f"{where}.{key}", f"expected [low, high] (two numbers), got {raw!r}")
    lo, hi = (ctx.checked(f"{where}.{key}", check, v) for v in raw)
    if lo > hi:
        raise ctx.fail(f"{where}.{key}", f"expected [low, high] with low <= high, got {raw!r}")
    return lo, hi


def _parse_counts_target(ctx: _Ctx, raw: Any, where: str) -> Coefficients:
    try:
        return counted_projection.target_coefficients(raw, ctx.path.parent)
    except ConfigError as exc:
        raise ctx.fail(where, str(exc)) from None


def _check_combinations(ctx: _Ctx, where: str, tbl: Mapping[str, Any], p: Project) -> None:
    models = [k for k in ("architecture", "op_mix", "spike_rate", "counts_target") if k in tbl]
    if len(models) > 1:
        raise ctx.fail(where, f"{' and '.join(models)} are alternative energy models; use one per row")
    if p.ops is not None and p.architecture is None:
        raise ctx.fail(f"{where}.ops", "given without architecture; expected architecture = "
                                       f"one of {', '.join(ARCHITECTURES)}")
    if (p.spike_rate is None) != (p.timesteps is None):
        raise ctx.fail(where, "spike_rate and timesteps go together; expected both")
    if p.spike_rate_range is not None and p.spike_rate is None:
        raise ctx.fail(f"{where}.spike_rate_range", "given without spike_rate; expected spike_rate (the point "
                                                    "value) and timesteps too")
    if p.pue_range is not None and p.pue is None:
        raise ctx.fail(f"{where}.pue_range", "given without pue; expected pue (the point value) too")
    for key in ("macs", "first_layer_macs", "neurons", "snn_model"):
        if key in tbl and p.spike_rate is None:
            raise ctx.fail(f"{where}.{key}", "only applies to an SNN row; expected spike_rate and "
                                             "timesteps too")
    absolute = [k for k in ("ops", "op_mix", "macs", "counts_target") if k in tbl]
    if p.energy_j is not None and absolute:
        raise ctx.fail(f"{where}.energy_j", f"conflicts with {absolute[0]} (which sets the energy itself); "
                                            "give one")
    if "first_layer_macs" in tbl and (p.macs is None or p.first_layer_macs > p.macs):
        raise ctx.fail(f"{where}.first_layer_macs", "expected macs too, and first_layer_macs <= macs "
                                                    "(the first layer is part of the network's MACs)")
    if p.four_m is not None:
        if "machine" in tbl["four_m"] and p.architecture is not None:
            raise ctx.fail(f"{where}.four_m.machine", "double-counts architecture (both change the hardware "
                                                      "the work runs on); give one of architecture and "
                                                      "four_m.machine")
        if "model" in tbl["four_m"] and p.spike_rate is not None:
            raise ctx.fail(f"{where}.four_m.model", "double-counts spike_rate (a spiking network is the model "
                                                    "change); give one of spike_rate and four_m.model")
        if "mechanization" in tbl["four_m"] and p.pue is not None:
            raise ctx.fail(f"{where}.four_m.mechanization", "double-counts pue (Mechanization is the PUE "
                                                            "lever); give one")
        if "map" in tbl["four_m"] and (p.region is not None or p.window is not None):
            raise ctx.fail(f"{where}.four_m.map", "double-counts region/window (Map is the grid lever); "
                                                  "give one")

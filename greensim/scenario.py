"""What-if scenario files (TOML): take one measured energy, list projections.

Shape (every table optional except at least one ``[[project]]``)::

    title = "KNN on MNIST: what if ..."
    description = "free text"

    [source]                 # where the measured energy comes from
    results = "results.json" # pytest-benchmark JSON, relative to this file (or --results)
    benchmark = "test_knn*"  # name or fullname; shell-style pattern allowed (first match with energy)
    stat = "median"          # which per-call statistic of extra_info.energy.per_call_j
    # or, standalone:
    energy_j = 15260.0       # J per call, typed in
    estimated = true         # was it read off a hardware counter? (default true)
    label = "NCA training on a T4 (study)"

    [baseline]               # "now, here": what the savings are against
    region = "WORLD"         # yearly intensity (greensim regions)
    pue = 1.0                # the measuring machine had no data-centre overhead
    calls = 1                # multiply the per-call energy (e.g. 1e6 inferences)
    intensity_table = "auto"

    [[project]]              # one row of the what-if table
    name = "Google-class DC in Sweden"
    energy_j = 2.0           # overrides the source's per-call energy
    calls = 1000
    region = "SE"
    pue = 1.10
    architecture = "harvard" # + ops = 1e9 (absolute), or scale the measured energy
    op_mix = { fp32_mac = 1e9, sram_8kb_read_64b = 2e8 }   # Horowitz 45 nm op counts
    spike_rate = 0.1         # + timesteps (+ macs for absolute energies; first_layer_macs, snn_model, neurons)
    four_m = { model = 4, machine = 3 }                    # Patterson et al. 2022 factors
    window = { region = "GB", start = 2023-06-01T00:00:00Z, job_h = 4, deadline_h = 24 }
    embodied = { device = "laptop", hours_per_call = 1e-4 }  # replaces the file's [embodied]
    counts_target = "horowitz_45nm"  # re-price a counted source's counts (greensim.counted): a preset,
                                     # a `greenbench calibrate` .json, or a table of the four coefficients
    pue_range = [1.08, 1.15]         # low/high PUE of the facility (needs pue, the point value)
    spike_rate_range = [0.0375, 0.345]  # low/high spike rate of an SNN row (needs spike_rate)

    [embodied]               # optional: amortised manufacturing CO2e, added beside the operational CO2e
    device = "a100_gpu"      # a preset (greensim.embodied.EMBODIED_DEVICES), or:
    # device_kg_co2e = 150.0, lifetime_years = 6, utilisation = 0.85
    hours_per_call = 2.8e-7  # device-hours one call occupies
    devices = 1              # devices busy during a call

Refused as double counts: ``four_m.mechanization`` with ``pue``, ``four_m.map``
with ``region``/``window``, ``four_m.machine`` with ``architecture`` (both are
the hardware), ``four_m.model`` with ``spike_rate`` (both are the model).
Rows that mix intensity bases with the baseline (production- vs
consumption-based) are labelled in their notes and in the result's notes.

Bands: every row whose inputs carry a range gets a low/high band beside its
point value (:class:`Band`): the source's band (the model meter's
``figures_j`` low/high), ``spike_rate_range``, the 4M levers it sets (each
at the ends of :data:`greensim.levers.FOUR_M_RANGES`), ``pue_range`` and the
embodied device's ranges (lifetime, utilisation, embodied kg).  The band is
the model evaluated at the ends of every ranged input at once (all inputs act
monotonically): a worst-case interval, not a confidence interval.

Every error names the file, the table/key and what was expected, as one line
(:class:`greenbench.errors.ScenarioError`).  All results are projections
(model outputs): they are labelled projected/estimated everywhere.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from greenbench import results as greenbench_results
from greenbench.counted_model import Coefficients
from greenbench.errors import ConfigError, DataError, GreenbenchError, ScenarioError
from greenbench.intensity import TABLES, intensity_record
from greenbench.units import J_PER_KWH
from greensim import _check
from greensim import counted as counted_projection
from greensim.architectures import ARCHITECTURES, HOROWITZ_45NM, op_mix_energy_j, ops_energy_j
from greensim.embodied import EMBODIED_DEVICES, HOURS_PER_YEAR, EmbodiedDevice, get_device
from greensim.levers import FOUR_M_RANGES, FourM
from greensim.snn import E_SRAM_32B_J, SRAM_OP_MIX_ENTRY, MemoryAwareSnnModel, snn_vs_ann

SCHEMA = "greensim.scenario-result/1"
SNN_MODELS = ("simple", "memory")
STATS = ("min", "median", "mean", "max")
DEFAULT_DEADLINE_H = 24.0
BASELINE_NAME = "baseline (as measured, now, here)"

_TOP_KEYS = ("title", "description", "source", "baseline", "embodied", "project")
_SOURCE_KEYS = ("results", "benchmark", "stat", "energy_j", "estimated", "label")
_BASELINE_KEYS = ("region", "pue", "calls", "intensity_table", "name")
_PROJECT_KEYS = ("name", "energy_j", "calls", "region", "intensity_table", "pue", "architecture", "ops",
                 "op_mix", "spike_rate", "timesteps", "macs", "first_layer_macs", "neurons", "snn_model",
                 "four_m", "window", "embodied", "note", "counts_target", "pue_range", "spike_rate_range")
_WINDOW_KEYS = ("region", "start", "job_h", "job_min", "deadline_h")
_FOUR_M_KEYS = ("model", "machine", "mechanization", "map")
_EMBODIED_KEYS = ("device", "device_kg_co2e", "lifetime_years", "utilisation", "hours_per_call", "devices")


# --------------------------------------------------------------------------- parsed file


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
    from greenbench import safeio

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


# --------------------------------------------------------------------------- measured source


@dataclass(frozen=True, slots=True)
class ResolvedSource:
    """The measured (or typed-in) energy per call that the scenario projects from."""

    energy_j: float
    estimated: bool
    label: str
    results: str | None = None
    benchmark: str | None = None
    stat: str = "median"
    meter: str | None = None
    #: issue #12: per-call event counts of a counted benchmark (extra_info.energy.counts), else None
    counts: Mapping[str, float] | None = None
    #: issue #22: the meter's own band as (low, high) factors on ``energy_j`` (the model meter's
    #: figures_j marginal_low_j / marginal_high_j over its central figure), else None
    band_factors: tuple[float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"energy_j_per_call": self.energy_j, "estimated": self.estimated, "label": self.label,
                "results": self.results, "benchmark": self.benchmark, "stat": self.stat, "meter": self.meter,
                "band_factors": list(self.band_factors) if self.band_factors is not None else None}


def meter_band_factors(energy: Mapping[str, Any]) -> tuple[float, float] | None:
    """(low, high) factors of the meter's band on its central figure: the model meter's ``figures_j``
    ``marginal_low_j`` / ``marginal_high_j`` per call over ``total_j / calls`` (the same rounds)."""
    figures, total, calls = energy.get("figures_j"), energy.get("total_j"), energy.get("calls")
    if not isinstance(figures, Mapping):
        return None
    values = [figures.get("marginal_low_j"), figures.get("marginal_high_j"), total, calls]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        return None
    lo, hi, total_f, calls_f = (float(v) for v in values)  # type: ignore[arg-type]
    if total_f <= 0 or calls_f <= 0 or lo < 0 or hi < lo:
        return None
    centre = total_f / calls_f
    return min(lo / centre, 1.0), max(hi / centre, 1.0)


def _benchmark_energy(entry: Mapping[str, Any], stat: str) -> tuple[float, bool, str | None] | None:
    info = entry.get("extra_info")
    energy = info.get("energy") if isinstance(info, Mapping) else None
    if not isinstance(energy, Mapping):
        return None
    per_call = energy.get("per_call_j")
    if not isinstance(per_call, Mapping):
        return None
    value = per_call.get(stat)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    meter = energy.get("source")
    return float(value), bool(energy.get("estimated", True)), str(meter) if meter is not None else None


def read_benchmark_energy(results: str | Path, benchmark: str, stat: str = "median") -> ResolvedSource:
    """Per-call energy of ``benchmark`` (exact name/fullname, else a shell-style pattern:
    first match with energy) from a pytest-benchmark JSON file."""
    p = Path(results)
    data = greenbench_results.load(p)  # one-line errors; refuses unknown schema versions
    entries = [e for e in data["benchmarks"] if isinstance(e, dict)]
    exact = [e for e in entries if benchmark in (e.get("name"), e.get("fullname"))]
    matches = exact or [e for e in entries if fnmatch.fnmatchcase(str(e.get("name", "")), benchmark)
                        or fnmatch.fnmatchcase(str(e.get("fullname", "")), benchmark)]
    if not matches:
        names = [str(e.get("name")) for e in entries]
        close = difflib.get_close_matches(benchmark, names, n=3)
        if close:
            hint = f"; did you mean {', '.join(close)}?"
        elif names:
            hint = f"; it holds {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}"
        else:
            hint = "; it holds no benchmarks"
        raise DataError(f"{p}: no benchmark named or matching {benchmark!r}{hint}")
    for entry in matches:
        found = _benchmark_energy(entry, stat)
        if found is not None:
            energy_j, estimated, meter = found
            name = str(entry.get("name"))
            return ResolvedSource(energy_j=energy_j, estimated=estimated, label=f"{name} ({stat}, per call)",
                                  results=str(p), benchmark=name, stat=stat, meter=meter,
                                  counts=counted_projection.stored_counts(entry["extra_info"]["energy"]),
                                  band_factors=meter_band_factors(entry["extra_info"]["energy"]))
    raise DataError(f"{p}: benchmark {matches[0].get('name')!r} has no extra_info.energy.per_call_j.{stat} "
                    "(expected a run with greenbench's energy measurement)")


def resolve_source(scenario: Scenario, results: str | Path | None = None,
                   benchmark: str | None = None) -> ResolvedSource | None:
    """The scenario's source energy; ``results``/``benchmark`` override the file's
    ``[source]`` (paths given here are relative to the working directory)."""
    src = scenario.source or Source()
    if src.energy_j is not None and (results is not None or benchmark is not None):
        raise ScenarioError(f"{scenario.path}: [source] gives energy_j; --results/--benchmark do not apply")
    if src.energy_j is not None:
        return ResolvedSource(energy_j=src.energy_j, estimated=src.estimated,
                              label=src.label or "energy_j given in the scenario")
    name = benchmark or src.benchmark
    path = Path(results) if results is not None else src.results
    if path is None and name is None:
        return None
    if name is None:
        raise ScenarioError(f"{scenario.path}: [source].benchmark: missing; expected the benchmark to read "
                            f"from {path} (or pass --benchmark NAME)")
    if path is None:
        raise ScenarioError(f"{scenario.path}: [source].results: missing; expected the pytest-benchmark JSON "
                            f"holding {name!r} (or pass --results PATH)")
    resolved = read_benchmark_energy(path, name, src.stat)
    if src.label:
        return ResolvedSource(energy_j=resolved.energy_j, estimated=resolved.estimated, label=src.label,
                              results=resolved.results, benchmark=resolved.benchmark, stat=resolved.stat,
                              meter=resolved.meter, counts=resolved.counts, band_factors=resolved.band_factors)
    return resolved


# --------------------------------------------------------------------------- projections


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

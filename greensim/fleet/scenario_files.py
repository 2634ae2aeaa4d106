"""Scenario files: a section of :mod:`greensim.fleet` (its docstring tells the whole story)."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greenbench.errors import ConfigError, ScenarioError
from greensim.fleet.keys import _DIST_KEYS, _FLEET_KEYS, _SUBMIT_KEYS, _SYNTHETIC_KEYS, _TOP_KEYS
from greensim.fleet.parquet import _is_url
from greensim.fleet.spec import Dist, FleetSpec, _probabilities


@dataclass(frozen=True, slots=True)
class FleetScenario:
    """A fleet scenario file: the fleet, and the optional sweep grid (parameter → values)."""

    path: Path
    spec: FleetSpec
    raw_fleet: Mapping[str, Any]
    sweep: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def points(self) -> list[dict[str, Any]]:
        """Every grid point (parameter → value), in declaration order (the last parameter varies fastest)."""
        keys = list(self.sweep)
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*self.sweep.values())]

    def spec_at(self, point: Mapping[str, Any]) -> FleetSpec:
        label = ", ".join(f"{k}={_short(v)}" for k, v in point.items())
        try:
            spec = parse_fleet({**self.raw_fleet, **point}, self.path, title=self.spec.title,
                               description=self.spec.description)
        except ScenarioError as exc:
            raise ScenarioError(f"{exc} (at [sweep] point {label})") from None
        return spec


def _short(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str) if not isinstance(value, str) else value


def load_fleet_scenario(path: str | Path) -> FleetScenario:
    """Read a fleet scenario (``[fleet]`` and optional ``[sweep]``); one-line :class:`ScenarioError`."""
    from greenbench.io import read as safeio

    p = Path(path)
    # regular files only, size/nesting limits, BOM named (issue #13): never a hang on a FIFO
    data = safeio.load_toml(p, what="fleet scenario file (TOML with a [fleet] table)", error=ScenarioError)
    return parse_fleet_scenario(data, p)


def parse_fleet_scenario(data: Mapping[str, Any], path: str | Path = "<fleet>") -> FleetScenario:
    p = Path(path)
    _known(p, data, _TOP_KEYS, "top level")
    if "fleet" not in data:
        raise ScenarioError(f"{p}: top level: no [fleet] table; expected one (see docs/greensim.md)")
    raw = data["fleet"]
    if not isinstance(raw, dict):
        raise ScenarioError(f"{p}: [fleet]: expected a table, got {raw!r}")
    title = data.get("title", p.stem)
    description = data.get("description", "")
    if not isinstance(title, str) or not isinstance(description, str):
        raise ScenarioError(f"{p}: top level: title and description must be strings")
    spec = parse_fleet(raw, p, title=title, description=description)
    sweep: dict[str, tuple[Any, ...]] = {}
    if "sweep" in data:
        raw_sweep = data["sweep"]
        if not isinstance(raw_sweep, dict) or not raw_sweep:
            raise ScenarioError(f"{p}: [sweep]: expected a table of parameter = [values, ...]")
        for key, values in raw_sweep.items():
            if key not in _FLEET_KEYS or key in ("partition_jobs", "source"):
                raise ScenarioError(f"{p}: [sweep].{key}: not a sweepable [fleet] key; expected one of "
                                    f"{', '.join(k for k in _FLEET_KEYS if k not in ('partition_jobs', 'source'))}")
            if not isinstance(values, list) or not values:
                raise ScenarioError(f"{p}: [sweep].{key}: expected a non-empty list of values, got {values!r}")
            sweep[key] = tuple(values)
    scenario = FleetScenario(path=p, spec=spec, raw_fleet=dict(raw), sweep=sweep)
    for point in scenario.points():  # every grid point must be valid before anything runs
        scenario.spec_at(point)
    return scenario


def _known(path: Path, tbl: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    import difflib

    for key in tbl:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ScenarioError(f"{path}: {where}: unknown key '{key}'{hint}; expected one of {', '.join(allowed)}")


def _num(path: Path, where: str, value: Any, *, minimum: float | None = None, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScenarioError(f"{path}: {where}: expected a finite number, got {value!r}")
    if integer and not float(value).is_integer():
        raise ScenarioError(f"{path}: {where}: expected a whole number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ScenarioError(f"{path}: {where}: expected a number >= {minimum:g}, got {value!r}")
    return float(value)


def _num_list(path: Path, where: str, value: Any, *, minimum: float | None = None) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        raise ScenarioError(f"{path}: {where}: expected a non-empty list of numbers, got {value!r}")
    return tuple(_num(path, f"{where}[{i}]", v, minimum=minimum) for i, v in enumerate(value))


def _dist(path: Path, where: str, value: Any, *, minimum: float | None = None) -> Dist:
    if not isinstance(value, dict):
        v = _num(path, where, value, minimum=minimum)
        return Dist.constant(v)
    kind = value.get("dist", "constant")
    if kind not in _DIST_KEYS:
        raise ScenarioError(f"{path}: {where}.dist: expected one of {', '.join(_DIST_KEYS)}, got {kind!r}")
    _known(path, value, ("dist", *_DIST_KEYS[kind], "min", "max"), where)
    low = _num(path, f"{where}.min", value["min"]) if "min" in value else -math.inf
    high = _num(path, f"{where}.max", value["max"]) if "max" in value else math.inf
    if minimum is not None:
        low = max(low, minimum)
    if low > high:
        raise ScenarioError(f"{path}: {where}: expected min <= max, got {low} > {high}")
    if kind == "choice":
        if "values" not in value:
            raise ScenarioError(f"{path}: {where}.values: missing; expected a list of numbers")
        vals = _num_list(path, f"{where}.values", value["values"], minimum=minimum)
        p = None
        if "p" in value:
            try:
                p = _probabilities(f"{where}.p", _num_list(path, f"{where}.p", value["p"]), len(vals),
                                   exact=True)
            except ConfigError as exc:
                raise ScenarioError(f"{path}: {exc}") from None
        return Dist("choice", (), vals, p, low, high)
    params = []
    for key in _DIST_KEYS[kind]:
        if key not in value:
            raise ScenarioError(f"{path}: {where}.{key}: missing; a {kind} distribution needs "
                                f"{', '.join(_DIST_KEYS[kind])}")
        positive = (key in ("median", "sigma", "mean", "sd") and kind != "normal") or key == "sd"
        params.append(_num(path, f"{where}.{key}", value[key], minimum=0.0 if positive else None))
    if kind == "uniform" and params[0] > params[1]:
        raise ScenarioError(f"{path}: {where}: expected low <= high, got {params[0]} > {params[1]}")
    if kind == "lognormal" and params[0] <= 0:
        raise ScenarioError(f"{path}: {where}.median: expected a number > 0, got {params[0]}")
    return Dist(kind, tuple(params), (), None, low, high)


def parse_fleet(raw: Mapping[str, Any], path: str | Path = "<fleet>", *, title: str = "fleet",
                description: str = "") -> FleetSpec:
    """Validate a ``[fleet]`` table into a :class:`FleetSpec` (errors name the file and key)."""
    p = Path(path)
    where = "[fleet]"
    _known(p, raw, _FLEET_KEYS, where)
    kw: dict[str, Any] = {"title": title, "description": description}
    if "source" in raw:
        src = raw["source"]
        if not isinstance(src, str) or not src.strip():
            raise ScenarioError(f"{p}: {where}.source: expected a Parquet or CSV file, a directory of Parquet "
                                f"files or an fsspec URL, got {src!r}")
        extra = [k for k in _SYNTHETIC_KEYS if k in raw]
        if extra:
            raise ScenarioError(f"{p}: {where}.{extra[0]}: only applies to a synthetic fleet; the jobs come "
                                f"from source = {src!r}")
        sp = Path(src)
        kw["source"] = src.strip() if _is_url(src) else sp if sp.is_absolute() else p.parent / sp
    if "regions" in raw:
        regions = raw["regions"]
        if not isinstance(regions, list) or not regions or not all(isinstance(r, str) for r in regions):
            raise ScenarioError(f"{p}: {where}.regions: expected a list of zone ids, got {regions!r}")
        kw["regions"] = tuple(r.strip().upper() for r in regions)
    regions_t: tuple[str, ...] = kw.get("regions", FleetSpec.__dataclass_fields__["regions"].default)
    if "pue" in raw:
        pue = raw["pue"]
        if isinstance(pue, dict):
            _known(p, pue, regions_t, f"{where}.pue")
            kw["pue"] = tuple(_num(p, f"{where}.pue.{r}", pue.get(r, 1.0), minimum=1.0) for r in regions_t)
        else:
            kw["pue"] = (_num(p, f"{where}.pue", pue, minimum=1.0),) * len(regions_t)
    if "home_weights" in raw:
        kw["home_weights"] = _num_list(p, f"{where}.home_weights", raw["home_weights"], minimum=0.0)
    for key in ("jobs", "seed", "max_duration_h", "partition_jobs"):
        if key in raw:
            kw[key] = int(_num(p, f"{where}.{key}", raw[key], minimum=1.0 if key != "seed" else 0.0,
                               integer=True))
    if "duration_h" in raw:
        kw["duration_h"] = _dist(p, f"{where}.duration_h", raw["duration_h"], minimum=0.0)
    if "energy_kwh" in raw or "power_kw" in raw:
        kw["energy_kwh"] = None
    for key in ("energy_kwh", "power_kw"):
        if key in raw:
            kw[key] = _dist(p, f"{where}.{key}", raw[key], minimum=0.0)
    if "submit" in raw:
        sub = raw["submit"]
        if not isinstance(sub, dict):
            raise ScenarioError(f"{p}: {where}.submit: expected a table {{ start_h, end_h, hour_weights }}")
        _known(p, sub, _SUBMIT_KEYS, f"{where}.submit")
        if "start_h" in sub:
            kw["submit_start_h"] = int(_num(p, f"{where}.submit.start_h", sub["start_h"], minimum=0, integer=True))
        if "end_h" in sub:
            kw["submit_end_h"] = int(_num(p, f"{where}.submit.end_h", sub["end_h"], minimum=1, integer=True))
        if "hour_weights" in sub:
            kw["hour_weights"] = _num_list(p, f"{where}.submit.hour_weights", sub["hour_weights"], minimum=0.0)
    if "deadline_h" in raw:
        d = _dist(p, f"{where}.deadline_h", raw["deadline_h"], minimum=0.0)
        if d.kind == "constant":
            kw["deadlines_h"] = d.params
        elif d.kind == "choice":
            kw["deadlines_h"], kw["deadline_p"] = d.values, d.p
        else:
            raise ScenarioError(f"{p}: {where}.deadline_h: expected a number or {{ dist = \"choice\", values = "
                                f"[...], p = [...] }} (deadlines are discrete), got dist = {d.kind!r}")
    try:
        return FleetSpec(**kw)
    except ConfigError as exc:
        raise ScenarioError(f"{p}: {where}.{exc}") from None

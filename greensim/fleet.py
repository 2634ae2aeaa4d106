"""Fleet scale: carbon-aware load shifting over millions of jobs, on one process or a Dask cluster.

A *fleet* is a stream of jobs (energy, whole-hour duration, submit hour, home
region, deadline), synthetic (drawn from distributions, ``[fleet]`` table) or
read from a Parquet/CSV file.  For every job four CO2e figures are computed
against the shipped 2023 hourly series (:mod:`greensim.hourly`):

``baseline``    home region, start at submit (now, here)
``temporal``    home region, best start in [submit, submit + deadline − duration]
``geographic``  best allowed region (PUE × window-mean intensity), start at submit
``both``        best (region, start) pair in that window

Totals are reported per home region and overall; ``*_landed`` figures count
where the shifted load ends up.  Shifting is never worse than not shifting:
``baseline`` is always a candidate.

Engine.  Jobs come in *blocks* of :data:`BLOCK_JOBS`; block ``b``'s jobs are
drawn from ``SeedSequence(seed, spawn_key=(b, attribute))`` (one stream per
attribute, so a sweep over, say, ``deadline_h`` keeps the same jobs: common
random numbers).  A *partition* (one task) is a run of whole blocks.  Per
region, duration and deadline the engine precomputes PUE × window-mean
intensity and its sliding-window minima (O(T log W) once per worker), so each
job costs a handful of vectorised table look-ups: O(1).  Every block returns
its per-region sums; totals are :func:`math.fsum` of the block sums, which is
exactly rounded and order-free.  Hence results are **bit-for-bit identical
whatever the worker count, the partition size or the completion order** on one
software stack; across machines with different numpy/libm builds the drawn
jobs may differ in the last ulp, and totals agree to :data:`SUM_RTOL`.

Memory is bounded: at most ``2 × threads`` partitions are in flight, a
partition holds ``partition_jobs`` jobs at a time, and the per-worker tables
are ``(1 + deadlines) × (regions + 1) × max_duration_h × 8760`` floats
(≈ 80 MB for 5 regions, 48 h, 3 deadlines).

Dask is optional (``pip install 'greenbench[dask]'``): without a client every
partition runs in this process.  Every figure is a projection (model output).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from greenbench.atomic import figure_format
from greenbench.errors import ConfigError, ScenarioError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SCHEMA = "greensim.fleet-result/1"
SWEEP_SCHEMA = "greensim.fleet-sweep/1"
#: jobs per block: the unit of random generation and of summation (fixed: changing it changes the jobs)
BLOCK_JOBS = 1 << 16
#: default jobs per partition (one task): 16 blocks
DEFAULT_PARTITION_JOBS = 16 * BLOCK_JOBS
DEFAULT_MAX_DURATION_H = 48
DEFAULT_DEADLINE_H = 24.0
#: stated tolerance between runs on different software stacks (same stack: bit-for-bit equal)
SUM_RTOL = 1e-9
#: refuse tables larger than this per worker
TABLE_LIMIT_BYTES = 1 << 30
PROJECTED_NOTE = "projected (estimated): model outputs, not measurements"
DASK_HINT = "pip install 'greenbench[dask]'"
#: Dask settings for workers that run fleets: no statistical profiler (``DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=
#: False`` on a real cluster), and glibc's default heap trimming instead of the ``MALLOC_TRIM_THRESHOLD_=65536``
#: that Dask's nanny sets: with it every 512 KiB numpy temporary of a block is a fresh mmap and its page faults,
#: ≈1.7× the CPU per synthetic job (bench_fleet's "cluster CPU: workers"; unset it on a real cluster)
NO_WORKER_PROFILE = {"distributed.worker.profile.enabled": False,
                     "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
#: job counts are summed as float64 (np.bincount): exact up to 2**53
MAX_JOBS = 1 << 53
#: sanity bound on one job's energy: 1 TWh (the largest published training-run estimates are ~10^7 kWh);
#: with it every per-job product and every total stays finite
MAX_JOB_ENERGY_KWH = 1e9
#: a distribution's "upper end" for the bound above: this many standard deviations (P ≈ 6e-16 per job)
DIST_TAIL_SD = 8.0
#: ``--scheduler``: connecting, the handshake and the scheduler's identity reply must all fit in this
SCHEDULER_TIMEOUT_S = 10.0
#: estimated cost per job and worker thread, for refusing runs beyond a day (bench/bench_fleet.py, 2 shared
#: cores: ≈0.28 µs per job past the fixed table build; an estimate, the host decides the real figure)
JOB_COST_S = 0.28e-6
#: refuse runs whose estimate exceeds this
MAX_RUN_S = 86_400.0
#: per local worker process besides its look-up tables (interpreter, numpy, Dask: measured ≈ 85 MB)
WORKER_BASE_BYTES = 96 << 20

MODES = ("baseline", "temporal", "geographic", "both")
METRICS = ("jobs", "energy_kwh", "baseline_g", "temporal_g", "geographic_g", "both_g",
           "geographic_landed_jobs", "geographic_landed_g", "both_landed_jobs", "both_landed_g")
_N_METRICS = len(METRICS)

_DIST_KEYS: dict[str, tuple[str, ...]] = {
    "constant": ("value",), "uniform": ("low", "high"), "lognormal": ("median", "sigma"),
    "exponential": ("mean",), "normal": ("mean", "sd"), "choice": ("values", "p"),
}
_TOP_KEYS = ("title", "description", "fleet", "sweep")
_SYNTHETIC_KEYS = ("jobs", "seed", "home_weights", "duration_h", "energy_kwh", "power_kw", "submit")
_FLEET_KEYS = ("regions", "pue", "max_duration_h", "deadline_h", "partition_jobs", "source", *_SYNTHETIC_KEYS)
_SUBMIT_KEYS = ("start_h", "end_h", "hour_weights")


# --------------------------------------------------------------------------- the fleet description


@dataclass(frozen=True, slots=True)
class Dist:
    """A distribution of one job attribute: ``kind`` in :data:`_DIST_KEYS`, clipped to [low, high]."""

    kind: str = "constant"
    params: tuple[float, ...] = (0.0,)
    values: tuple[float, ...] = ()
    p: tuple[float, ...] | None = None
    low: float = -math.inf
    high: float = math.inf

    @classmethod
    def constant(cls, value: float) -> Dist:
        return cls("constant", (float(value),))

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        k, a = self.kind, self.params
        if k == "constant":
            x = np.full(n, a[0])
        elif k == "uniform":
            x = rng.uniform(a[0], a[1], n)
        elif k == "lognormal":
            x = rng.lognormal(math.log(a[0]), a[1], n)
        elif k == "exponential":
            x = rng.exponential(a[0], n)
        elif k == "normal":
            x = rng.normal(a[0], a[1], n)
        else:  # choice
            vals = np.asarray(self.values, dtype=np.float64)
            x = vals[rng.choice(vals.size, n, p=self.p)] if vals.size > 1 else np.full(n, vals[0])
        if self.low > -math.inf or self.high < math.inf:
            np.clip(x, self.low, self.high, out=x)
        return x

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dist": self.kind}
        if self.kind == "choice":
            out["values"] = list(self.values)
            if self.p is not None:
                out["p"] = list(self.p)
        else:
            out.update(zip(_DIST_KEYS[self.kind], self.params, strict=True))
        if self.low > -math.inf:
            out["min"] = self.low
        if self.high < math.inf:
            out["max"] = self.high
        return out


@dataclass(frozen=True, slots=True)
class FleetSpec:
    """What to simulate.  Synthetic by default; ``source`` reads jobs from a Parquet/CSV file instead.

    Durations are rounded up to whole hours and clipped to [1, ``max_duration_h``];
    a job must finish within ``deadline_h`` of its submission (its slack is
    ``deadline − duration``, at least 0); ``deadlines_h`` lists the allowed
    deadlines, drawn with probabilities ``deadline_p`` (None: uniform).
    """

    jobs: int = 100_000
    seed: int = 0
    regions: tuple[str, ...] = ("DE", "GB", "CA-ON", "US-CAL-CISO", "ZA")
    pue: tuple[float, ...] | None = None
    home_weights: tuple[float, ...] | None = None
    duration_h: Dist = Dist("lognormal", (2.0, 1.0))
    max_duration_h: int = DEFAULT_MAX_DURATION_H
    energy_kwh: Dist | None = Dist("lognormal", (5.0, 1.0))
    power_kw: Dist | None = None
    submit_start_h: int = 0
    submit_end_h: int | None = None
    hour_weights: tuple[float, ...] | None = None
    deadlines_h: tuple[float, ...] = (DEFAULT_DEADLINE_H,)
    deadline_p: tuple[float, ...] | None = None
    source: Path | str | None = None  # a str is an fsspec URL
    partition_jobs: int = DEFAULT_PARTITION_JOBS
    title: str = "fleet"
    description: str = ""

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def blocks_per_partition(self) -> int:
        return max(1, -(-self.partition_jobs // BLOCK_JOBS))

    def to_json(self) -> dict[str, Any]:
        """The fleet as simulated (without ``partition_jobs``: results do not depend on it)."""
        out: dict[str, Any] = {"regions": list(self.regions), "pue": list(self._pue()),
                               "max_duration_h": self.max_duration_h, "deadlines_h": list(self.deadlines_h),
                               "deadline_p": None if self.deadline_p is None else list(self.deadline_p),
                               "block_jobs": BLOCK_JOBS}
        if self.source is not None:
            out["source"] = str(self.source)
            return out
        out.update(jobs=self.jobs, seed=self.seed,
                   home_weights=None if self.home_weights is None else list(self.home_weights),
                   duration_h=self.duration_h.to_json(),
                   energy_kwh=None if self.energy_kwh is None else self.energy_kwh.to_json(),
                   power_kw=None if self.power_kw is None else self.power_kw.to_json(),
                   submit={"start_h": self.submit_start_h, "end_h": self.submit_end_h,
                           "hour_weights": None if self.hour_weights is None else list(self.hour_weights)})
        return out

    def _pue(self) -> tuple[float, ...]:
        return self.pue if self.pue is not None else (1.0,) * len(self.regions)


def _probabilities(name: str, weights: Sequence[float], n: int, *, exact: bool = False) -> tuple[float, ...]:
    """Weights normalised to sum 1; ``exact``: they are probabilities and must already sum to 1."""
    w = [float(x) for x in weights]
    if len(w) != n or any(not math.isfinite(x) or x < 0 for x in w) or sum(w) <= 0:
        raise ConfigError(f"{name}: expected {n} finite weights >= 0 with a positive sum, got {list(weights)!r}")
    total = math.fsum(w)
    if exact and abs(total - 1.0) > 1e-9:
        raise ConfigError(f"{name}: expected probabilities summing to 1, got {list(weights)!r} (sum {total:.12g})")
    return tuple(x / total for x in w)


def _dist_range(d: Dist) -> tuple[float, float]:
    """Where a distribution's values lie (to :data:`DIST_TAIL_SD` standard deviations), after clipping;
    may be ±inf when its parameters overflow a float."""
    k, a = d.kind, d.params
    with np.errstate(over="ignore"):
        if k == "constant":
            lo = hi = a[0]
        elif k == "choice":
            lo, hi = min(d.values), max(d.values)
        elif k == "uniform":
            lo, hi = a[0], a[1]
            if not math.isfinite(hi - lo):
                return -math.inf, math.inf
        elif k == "lognormal":
            span = DIST_TAIL_SD * a[1]
            lo = math.exp(max(-745.0, math.log(a[0]) - span))
            hi = math.exp(math.log(a[0]) + span) if math.log(a[0]) + span < 709.0 else math.inf
        elif k == "exponential":
            lo, hi = 0.0, a[0] * math.log(1e16)  # P(X > hi) = 10**-16
        else:  # normal
            lo, hi = a[0] - DIST_TAIL_SD * a[1], a[0] + DIST_TAIL_SD * a[1]
    return max(lo, d.low), min(hi, d.high)


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _check_dist(name: str, d: Dist, *, scale: float = 1.0, limit: float | None = None, unit: str = "") -> None:
    """A distribution whose draws overflow (unless its own max clips them), go below 0, or (``limit``)
    exceed the limit once scaled, is refused by name."""
    kind = d.kind
    if d.kind not in _DIST_KEYS or (d.kind != "choice" and len(d.params) != len(_DIST_KEYS[d.kind])):
        raise ConfigError(f"{name}: expected a distribution among {', '.join(_DIST_KEYS)} with its parameters, "
                          f"got {d!r}")
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
               for x in (*d.params, *d.values)) or (d.kind == "choice" and not d.values):
        raise ConfigError(f"{name}: expected finite parameters, got {d.to_json()}")
    if not (isinstance(d.low, (int, float)) and isinstance(d.high, (int, float)) and d.low <= d.high):
        raise ConfigError(f"{name}: expected min <= max, got min {d.low!r}, max {d.high!r}")
    object.__setattr__(d, "params", tuple(float(x) for x in d.params))  # an int constant would make int draws
    object.__setattr__(d, "values", tuple(float(x) for x in d.values))
    if d.kind == "choice" and d.p is not None:
        object.__setattr__(d, "p", _probabilities(f"{name}.p", d.p, len(d.values), exact=True))
    if (d.kind == "lognormal" and d.params[0] <= 0) or (d.kind == "uniform" and d.params[0] > d.params[1]) or \
            any(x < 0 for x in d.params[1:2] if d.kind in ("lognormal", "normal")):
        raise ConfigError(f"{name}: invalid {kind} parameters {d.to_json()}")
    lo, hi = _dist_range(d)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ConfigError(f"{name}: {_a(kind)} distribution {d.to_json()} overflows a float within "
                          f"{DIST_TAIL_SD:g} standard deviations; expected smaller parameters or a min/max")
    if lo < 0 and limit is not None:
        raise ConfigError(f"{name}: {_a(kind)} distribution {d.to_json()} draws values below 0; expected "
                          "values >= 0 (add min = 0)")
    if limit is not None and hi * scale > limit:
        raise ConfigError(f"{name}: {_a(kind)} distribution {d.to_json()} reaches {hi * scale:.3g} {unit} per job "
                          f"(at {DIST_TAIL_SD:g} standard deviations, or its max); expected at most {limit:g} "
                          f"{unit} per job (a sanity bound): smaller parameters or a max")


def _validate(spec: FleetSpec) -> None:
    from greensim.hourly import hourly_regions

    if isinstance(spec.jobs, bool) or not isinstance(spec.jobs, int) or not 1 <= spec.jobs <= MAX_JOBS:
        raise ConfigError(f"jobs: expected a whole number of jobs in [1, 2**53] (job counts are summed as "
                          f"float64), got {spec.jobs!r}")
    if isinstance(spec.seed, bool) or not isinstance(spec.seed, int) or spec.seed < 0:
        raise ConfigError(f"seed: expected an integer >= 0, got {spec.seed!r}")
    if not spec.regions or len(set(spec.regions)) != len(spec.regions):
        raise ConfigError(f"regions: expected a non-empty list of distinct zones, got {list(spec.regions)!r}")
    known = hourly_regions()
    for r in spec.regions:
        if r not in known:
            raise ConfigError(f"regions: no hourly series for {r!r}; expected zones among {', '.join(known)}")
    n = len(spec.regions)
    if spec.pue is not None and (len(spec.pue) != n or not all(math.isfinite(p) and p >= 1.0 for p in spec.pue)):
        raise ConfigError(f"pue: expected {n} PUE values >= 1 (one per region), got {spec.pue!r}")
    if spec.home_weights is not None:
        object.__setattr__(spec, "home_weights", _probabilities("home_weights", spec.home_weights, n))
    if isinstance(spec.max_duration_h, bool) or not isinstance(spec.max_duration_h, int) or \
            not 1 <= spec.max_duration_h <= 24 * 31:
        raise ConfigError(f"max_duration_h: expected an integer in [1, 744], got {spec.max_duration_h!r}")
    if (spec.energy_kwh is None) == (spec.power_kw is None) and spec.source is None:
        raise ConfigError("energy_kwh, power_kw: expected exactly one (energy per job, or power × duration)")
    _check_dist("duration_h", spec.duration_h)
    if spec.energy_kwh is not None:
        _check_dist("energy_kwh", spec.energy_kwh, limit=MAX_JOB_ENERGY_KWH, unit="kWh")
    if spec.power_kw is not None:
        _check_dist("power_kw", spec.power_kw, scale=spec.max_duration_h, limit=MAX_JOB_ENERGY_KWH,
                    unit=f"kWh (× max_duration_h = {spec.max_duration_h})")
    if not spec.deadlines_h or not all(math.isfinite(d) and d >= 0 for d in spec.deadlines_h):
        raise ConfigError(f"deadline_h: expected deadlines >= 0 (hours), got {list(spec.deadlines_h)!r}")
    if spec.deadline_p is not None:
        object.__setattr__(spec, "deadline_p", _probabilities("deadline_h.p", spec.deadline_p,
                                                              len(spec.deadlines_h), exact=True))
    if spec.hour_weights is not None:
        object.__setattr__(spec, "hour_weights", _probabilities("submit.hour_weights", spec.hour_weights, 24))
    end = spec.submit_end_h
    if not 0 <= spec.submit_start_h < (end if end is not None else 1 << 62):
        raise ConfigError(f"submit: expected 0 <= start_h < end_h, got start_h={spec.submit_start_h}, "
                          f"end_h={end}")
    if isinstance(spec.partition_jobs, bool) or not isinstance(spec.partition_jobs, int) or spec.partition_jobs < 1:
        raise ConfigError(f"partition_jobs: expected an integer >= 1, got {spec.partition_jobs!r}")
    table_bytes = 8 * (1 + len(spec.deadlines_h)) * (n + 1) * spec.max_duration_h * 8760
    if table_bytes > TABLE_LIMIT_BYTES:
        raise ConfigError(f"max_duration_h, deadline_h, regions: look-up tables would take "
                          f"{table_bytes / 2**20:.0f} MiB per worker (limit {TABLE_LIMIT_BYTES >> 20} MiB); "
                          "expected fewer regions, deadlines or a smaller max_duration_h")


# --------------------------------------------------------------------------- scenario files


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
    from greenbench import safeio

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


# --------------------------------------------------------------------------- per-worker look-up tables


@dataclass(frozen=True, eq=False)
class _Model:
    """What a worker needs to build its tables: intensities (regions × hours), PUE, limits."""

    ci: FloatArray
    pue: FloatArray
    max_len: int
    deadlines_h: tuple[float, ...]
    key: str = ""

    @classmethod
    def of(cls, spec: FleetSpec) -> _Model:
        from greensim.hourly import hourly_series

        series = [hourly_series(r) for r in spec.regions]
        first = series[0]
        for s in series[1:]:
            if s.start_utc != first.start_utc or len(s) != len(first) or s.step_min != first.step_min:
                raise ConfigError(f"regions: {s.region} and {first.region} series do not cover the same hours")
        ci = np.stack([s.intensity_g_per_kwh for s in series]).astype(np.float64)
        pue = np.asarray(spec._pue(), dtype=np.float64)
        h = hashlib.sha256(ci.tobytes())
        h.update(pue.tobytes())
        h.update(repr((spec.max_duration_h, spec.deadlines_h)).encode())
        return cls(ci, pue, spec.max_duration_h, tuple(spec.deadlines_h), h.hexdigest())


@dataclass(frozen=True, eq=False)
class _Tables:
    n_regions: int
    max_len: int
    n_steps: int
    a: FloatArray     # (R, Lmax, T): PUE × window-mean intensity; +inf where the job would not fit
    tm: FloatArray    # (D, R, Lmax, T): min of ``a`` over the job's start window
    g: FloatArray     # (Lmax, T): min over regions of ``a``
    gi: npt.NDArray[np.int8]   # its region
    bm: FloatArray    # (D, Lmax, T): min of ``g`` over the start window
    bmi: npt.NDArray[np.int8]  # its region (earliest start on ties)


def _window_min(x: FloatArray, w: int, arg: npt.NDArray[np.int8] | None = None
                ) -> tuple[FloatArray, npt.NDArray[np.int8] | None]:
    """min over [i, i + w) along the last axis (inf past the end), by doubling; earliest wins ties."""
    t = x.shape[-1]
    m = np.concatenate((x, np.full((*x.shape[:-1], w), np.inf)), axis=-1)
    a = None if arg is None else np.concatenate((arg, np.zeros((*arg.shape[:-1], w), arg.dtype)), axis=-1)
    span = 1
    while span * 2 <= w:
        n = m.shape[-1] - span
        left, right = m[..., :n], m[..., span:span + n]
        take = right < left
        if a is not None:
            a = np.where(take, a[..., span:span + n], a[..., :n])
        m = np.where(take, right, left)
        span *= 2
    off = w - span
    left, right = m[..., :t], m[..., off:off + t]
    take = right < left
    out_a = None if a is None else np.where(take, a[..., off:off + t], a[..., :t])
    return np.where(take, right, left), out_a


def _slack_steps(deadline_h: float, length: int) -> int:
    return max(0, math.floor(deadline_h - length + 1e-9))


def _build_tables(model: _Model) -> _Tables:
    ci, pue, lmax = model.ci, model.pue, model.max_len
    r, t = ci.shape
    d = len(model.deadlines_h)
    csum = np.concatenate((np.zeros((r, 1)), np.cumsum(ci, axis=1)), axis=1)
    a = np.full((r, lmax, t), np.inf)
    tm = np.empty((d, r, lmax, t))
    g = np.empty((lmax, t))
    gi = np.empty((lmax, t), dtype=np.int8)
    bm = np.empty((d, lmax, t))
    bmi = np.empty((d, lmax, t), dtype=np.int8)
    for length in range(1, min(lmax, t) + 1):
        n_windows = t - length + 1
        means = (csum[:, length:length + n_windows] - csum[:, :n_windows]) / length  # as shift_jobs
        a[:, length - 1, :n_windows] = means * pue[:, None]
        row = a[:, length - 1, :]
        g[length - 1] = row.min(axis=0)
        gi[length - 1] = row.argmin(axis=0)  # lowest region index on ties
        for k, deadline in enumerate(model.deadlines_h):
            w = _slack_steps(deadline, length) + 1
            tm[k, :, length - 1, :] = _window_min(row, w)[0]
            bm[k, length - 1], arg = _window_min(g[length - 1], w, gi[length - 1])
            assert arg is not None
            bmi[k, length - 1] = arg
    if lmax > t:
        tm[:, :, t:, :] = np.inf
        g[t:], gi[t:], bm[:, t:], bmi[:, t:] = np.inf, 0, np.inf, 0
    return _Tables(r, lmax, t, a, tm, g, gi, bm, bmi)


_TABLES: dict[str, _Tables] = {}
_TABLES_LOCK = threading.Lock()
_TABLES_KEEP = 4


def _tables(model: _Model) -> _Tables:
    """The model's tables, built once per process (a small cache: sweeps alternate models)."""
    with _TABLES_LOCK:
        tab = _TABLES.get(model.key)
        if tab is None:
            tab = _build_tables(model)
            while len(_TABLES) >= _TABLES_KEEP:
                _TABLES.pop(next(iter(_TABLES)))
            _TABLES[model.key] = tab
        return tab


# --------------------------------------------------------------------------- jobs and per-block sums


@dataclass(frozen=True, slots=True)
class _Jobs:
    energy_kwh: FloatArray
    length: IntArray
    submit: IntArray
    home: IntArray
    deadline: IntArray


def _rng(seed: int, block: int, attribute: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block, attribute))))


class _HourSampler:
    """``np.searchsorted(cdf, v, side="right")`` over a submit-hour CDF, bit-for-bit, in O(1) per job.

    A binary search per job over the 8,760-entry CDF was the largest part of a synthetic job's cost
    (``python bench/bench_fleet.py --profile``).  Here ``v``'s bucket (of ``4 × len(cdf)``
    equal buckets) gives a start index no greater than the answer (the answer at the bucket one
    below), and a few vectorised steps move every index forward while ``cdf[i] <= v``; the count of
    entries ``<= v`` is exactly what searchsorted returns.  Stragglers after :attr:`MAX_STEPS`
    steps (only with extreme weight ratios) are finished by searchsorted itself.
    """

    MAX_STEPS = 8

    def __init__(self, cdf: FloatArray) -> None:
        self.cdf = cdf
        self.total = float(cdf[-1])
        nb = 4 * cdf.size
        self.scale = nb / self.total
        edges = (np.arange(nb + 1, dtype=np.float64) - 1.0) * (self.total / nb)
        self.start = np.searchsorted(cdf, edges, side="right")
        self.start[0] = 0
        self.padded = np.append(cdf, np.inf)  # index len(cdf) is never <= v
        self.n_buckets = nb

    def index(self, v: FloatArray) -> IntArray:
        b = (v * self.scale).astype(np.intp)
        np.minimum(b, self.n_buckets, out=b)
        i = self.start[b]
        for _ in range(self.MAX_STEPS):
            step = self.padded[i] <= v
            if not step.any():
                return i
            i += step
        late = np.flatnonzero(self.padded[i] <= v)
        i[late] = np.searchsorted(self.cdf, v[late], side="right")
        return i


_HOUR_SAMPLERS: dict[tuple[int, int, tuple[float, ...]], _HourSampler] = {}


def _choice(rng: np.random.Generator, p: Sequence[float], n: int) -> IntArray:
    """``rng.choice(len(p), n, p=p)`` bit for bit: numpy's own method (one uniform draw per job against
    the CDF of ``p``, normalised by its last entry), with the binary search replaced by counting the CDF
    entries <= u, a few vector passes for a few regions or deadlines (≈4× faster for 5 values).
    tests/greensim/test_fleet.py checks the jobs against ``rng.choice`` itself."""
    cdf = np.asarray(p, dtype=np.float64).cumsum()
    cdf /= cdf[-1]
    u = rng.random(n)
    idx = np.zeros(n, dtype=np.int64)
    for c in cdf[:-1].tolist():
        idx += u >= c
    return idx


def _hour_sampler(lo: int, hi: int, weights: tuple[float, ...]) -> _HourSampler:
    """The submit-hour sampler for hours [lo, hi) weighted by ``weights[hour % 24]`` (cached per process)."""
    key = (lo, hi, weights)
    with _TABLES_LOCK:
        sampler = _HOUR_SAMPLERS.get(key)
        if sampler is None:
            w = np.asarray(weights)[np.arange(lo, hi) % 24]
            if not w.sum() > 0:
                raise ConfigError(f"submit.hour_weights: every hour in [{lo}, {hi}) has weight 0")
            sampler = _HourSampler(np.cumsum(w))
            while len(_HOUR_SAMPLERS) >= _TABLES_KEEP:
                _HOUR_SAMPLERS.pop(next(iter(_HOUR_SAMPLERS)))
            _HOUR_SAMPLERS[key] = sampler
        return sampler


def synthetic_block(spec: FleetSpec, block: int, n_steps: int = 8760) -> _Jobs:
    """The jobs of block ``block`` (a pure function of the spec, the seed and the block index)."""
    n = min(BLOCK_JOBS, spec.jobs - block * BLOCK_JOBS)
    if n <= 0:
        raise ConfigError(f"block: {block} is past the fleet's {spec.jobs} jobs")
    seed = spec.seed
    raw_len = spec.duration_h.sample(_rng(seed, block, 0), n)
    length = np.clip(np.ceil(raw_len), 1, spec.max_duration_h).astype(np.int64)
    if spec.energy_kwh is not None:
        energy = spec.energy_kwh.sample(_rng(seed, block, 1), n)
    else:
        assert spec.power_kw is not None
        energy = spec.power_kw.sample(_rng(seed, block, 1), n) * length
    lo = spec.submit_start_h
    hi = min(n_steps, spec.submit_end_h if spec.submit_end_h is not None else n_steps)
    if lo >= hi:
        raise ConfigError(f"submit: start_h {lo} is past the {n_steps}-hour series")
    rs = _rng(seed, block, 2)
    if spec.hour_weights is None:
        submit = rs.integers(lo, hi, n, dtype=np.int64)
    else:  # P(hour) ∝ hour_weights[hour % 24] over [lo, hi)
        sampler = _hour_sampler(lo, hi, spec.hour_weights)
        submit = np.minimum(sampler.index(rs.random(n) * sampler.total), hi - lo - 1) + lo
    np.minimum(submit, n_steps - length, out=submit)
    n_regions = len(spec.regions)
    rh = _rng(seed, block, 3)
    home = (_choice(rh, spec.home_weights, n) if spec.home_weights is not None
            else rh.integers(0, n_regions, n, dtype=np.int64)).astype(np.int64)
    n_dl = len(spec.deadlines_h)
    rd = _rng(seed, block, 4)
    deadline = (np.zeros(n, dtype=np.int64) if n_dl == 1 else _choice(rd, spec.deadline_p, n)
                if spec.deadline_p is not None else rd.choice(n_dl, n).astype(np.int64))
    return _Jobs(energy, length, submit, home, deadline)


def _block_sums(tab: _Tables, jobs: _Jobs) -> FloatArray:
    """(metrics, regions) sums of one block; fixed order, so the same block always gives the same bits."""
    r, lmax, t = tab.n_regions, tab.max_len, tab.n_steps
    e, h, d = jobs.energy_kwh, jobs.home, jobs.deadline
    row = (jobs.length - 1) * t + jobs.submit
    plane = lmax * t
    base = np.take(tab.a, h * plane + row)
    temporal = np.take(tab.tm, (d * r + h) * plane + row)
    geo = np.take(tab.g, row)
    geo_r = np.take(tab.gi, row).astype(np.int64)
    ib = d * plane + row
    both = np.take(tab.bm, ib)
    both_r = np.take(tab.bmi, ib).astype(np.int64)
    out = np.empty((_N_METRICS, r))
    out[0] = np.bincount(h, minlength=r)
    out[1] = np.bincount(h, e, r)
    out[2] = np.bincount(h, e * base, r)
    out[3] = np.bincount(h, e * temporal, r)
    out[4] = np.bincount(h, e * geo, r)
    out[5] = np.bincount(h, e * both, r)
    out[6] = np.bincount(geo_r, minlength=r)
    out[7] = np.bincount(geo_r, e * geo, r)
    out[8] = np.bincount(both_r, minlength=r)
    out[9] = np.bincount(both_r, e * both, r)
    return out


def _synthetic_partition(model: _Model, spec: FleetSpec, first_block: int, n_blocks: int) -> FloatArray:
    """One task: (blocks, metrics, regions) sums of ``n_blocks`` blocks from ``first_block``."""
    tab = _tables(model)
    out = np.empty((n_blocks, _N_METRICS, tab.n_regions))
    for i in range(n_blocks):
        out[i] = _block_sums(tab, synthetic_block(spec, first_block + i, tab.n_steps))
    return out


def _jobs_partition(model: _Model, jobs: _Jobs) -> FloatArray:
    """One task over jobs read from a file: split into blocks of :data:`BLOCK_JOBS` rows."""
    tab = _tables(model)
    n = jobs.energy_kwh.shape[0]
    n_blocks = -(-n // BLOCK_JOBS)
    out = np.empty((n_blocks, _N_METRICS, tab.n_regions))
    for i in range(n_blocks):
        sl = slice(i * BLOCK_JOBS, (i + 1) * BLOCK_JOBS)
        out[i] = _block_sums(tab, _Jobs(jobs.energy_kwh[sl], jobs.length[sl], jobs.submit[sl], jobs.home[sl],
                                        jobs.deadline[sl]))
    return out


# --------------------------------------------------------------------------- jobs from files

_FILE_COLUMNS = ("duration_h", "submit_h", "region")


def _file_batches(spec: FleetSpec, rows: int) -> Iterator[Mapping[str, Any]]:
    """Column dicts of ``rows`` rows each (the last may be shorter), streamed from the source file."""
    assert spec.source is not None
    path = Path(spec.source)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ConfigError(f"{path}: [fleet].source: no such file (expected Parquet or CSV jobs)")
    try:
        import pyarrow as pa
    except ImportError:
        pa = None
    if suffix == ".parquet":
        if pa is None:
            raise ConfigError(f"{path}: reading Parquet needs pyarrow: {DASK_HINT}")
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
            yield {name: batch.column(name).to_numpy(zero_copy_only=False) for name in batch.schema.names}
    elif suffix == ".csv":
        if pa is not None:
            import pyarrow.csv as pacsv

            reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 24))
            buf: list[Any] = []
            count = 0
            for batch in reader:
                buf.append(batch)
                count += batch.num_rows
                while count >= rows:
                    table = pa.Table.from_batches(buf)
                    head, rest = table.slice(0, rows), table.slice(rows)
                    yield {n: head.column(n).to_numpy() for n in head.column_names}
                    buf, count = rest.to_batches(), rest.num_rows
            if count:
                table = pa.Table.from_batches(buf)
                yield {n: table.column(n).to_numpy() for n in table.column_names}
        else:
            import csv

            with path.open(newline="", encoding="utf-8") as fh:
                reader_rows = csv.DictReader(fh)
                while True:
                    chunk = list(itertools.islice(reader_rows, rows))
                    if not chunk:
                        break
                    yield {k: np.asarray([row[k] for row in chunk]) for k in chunk[0]}
    else:
        raise ConfigError(f"{path}: [fleet].source: expected a .parquet or .csv file")


def _guarded_batches(spec: FleetSpec, rows: int) -> Iterator[Mapping[str, Any]]:
    """:func:`_file_batches`, with a file that is not Parquet/CSV (empty, binary, ragged rows, bad UTF-8) or
    holds no jobs (header only, 0 rows) refused in one line naming it, as ``jobs = 0`` is."""
    assert spec.source is not None
    path = Path(spec.source)
    rows_seen = 0
    kind = "Parquet" if path.suffix.lower() == ".parquet" else "CSV"
    try:
        for cols in _file_batches(spec, rows):
            n = min((len(v) for v in cols.values()), default=0)
            if n:
                rows_seen += n
                yield cols
    except ConfigError:
        raise
    except (OSError, ValueError, UnicodeError, TypeError, KeyError, IndexError, MemoryError) as exc:
        # pyarrow.ArrowInvalid is a ValueError, ArrowIOError an OSError
        first = "".join(c if c.isprintable() and c.isascii() else "?" for c in
                        (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160])
        raise ConfigError(f"{path}: [fleet].source: not a readable {kind} jobs file ({first})") from None
    if rows_seen == 0:
        raise ConfigError(f"{path}: [fleet].source: no jobs (a header only, or 0 rows); expected at least one "
                          "job, as [fleet].jobs >= 1")


def _file_jobs(spec: FleetSpec, cols: Mapping[str, Any], first_row: int, n_steps: int) -> _Jobs:
    path = spec.source
    missing = [c for c in _FILE_COLUMNS if c not in cols]
    if missing or ("energy_kwh" in cols) == ("power_kw" in cols):
        raise ConfigError(f"{path}: columns: expected {', '.join(_FILE_COLUMNS)} and one of energy_kwh or "
                          f"power_kw (optional deadline_h), got {', '.join(cols)}")

    def num(name: str) -> FloatArray:
        try:
            x = np.asarray(cols[name], dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(f"{path}: column {name}: expected numbers near row {first_row + 2}") from None
        if not np.all(np.isfinite(x)) or np.any(x < 0):
            bad = int(np.flatnonzero(~np.isfinite(x) | (x < 0))[0])
            raise ConfigError(f"{path}: row {first_row + bad + 1}: {name} must be finite and >= 0, got {x[bad]}")
        return x

    dur = num("duration_h")
    if np.any(dur > spec.max_duration_h):
        bad = int(np.flatnonzero(dur > spec.max_duration_h)[0])
        raise ConfigError(f"{path}: row {first_row + bad + 1}: duration_h {dur[bad]:g} exceeds "
                          f"[fleet].max_duration_h = {spec.max_duration_h}; raise it")
    length = np.clip(np.ceil(dur), 1, spec.max_duration_h).astype(np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        energy = num("energy_kwh") if "energy_kwh" in cols else num("power_kw") * dur
        too_big = ~(energy <= MAX_JOB_ENERGY_KWH)
    if np.any(too_big):
        bad = int(np.flatnonzero(too_big)[0])
        field_name = "energy_kwh" if "energy_kwh" in cols else "power_kw × duration_h"
        raise ConfigError(f"{path}: row {first_row + bad + 1}: {field_name} is {energy[bad]:.3g} kWh; expected at "
                          f"most {MAX_JOB_ENERGY_KWH:g} kWh per job (a sanity bound: 1 TWh)")
    submit = num("submit_h")
    if np.any(submit != np.floor(submit)) or np.any(submit >= n_steps):
        bad = int(np.flatnonzero((submit != np.floor(submit)) | (submit >= n_steps))[0])
        raise ConfigError(f"{path}: row {first_row + bad + 1}: submit_h must be a whole hour in [0, {n_steps}), "
                          f"got {submit[bad]}")
    s = np.minimum(submit.astype(np.int64), n_steps - length)
    try:
        names = np.asarray(cols["region"]).astype(str)
    except UnicodeError:
        raise ConfigError(f"{path}: column region: expected UTF-8 zone ids near row {first_row + 1}") from None
    order = np.argsort(np.asarray(spec.regions))
    sorted_regions = np.asarray(spec.regions)[order]
    pos = np.clip(np.searchsorted(sorted_regions, names), 0, len(spec.regions) - 1)
    ok = sorted_regions[pos] == names
    if not np.all(ok):
        bad = int(np.flatnonzero(~ok)[0])
        raise ConfigError(f"{path}: row {first_row + bad + 1}: region {str(names[bad])!r} is not in [fleet].regions "
                          f"({', '.join(spec.regions)})")
    home = order[pos].astype(np.int64)
    if "deadline_h" in cols:
        dl = num("deadline_h")
        allowed = np.asarray(spec.deadlines_h)
        match = dl[:, None] == allowed[None, :]
        if not np.all(match.any(axis=1)):
            bad = int(np.flatnonzero(~match.any(axis=1))[0])
            raise ConfigError(f"{path}: row {first_row + bad + 1}: deadline_h {dl[bad]:g} is not one of "
                              f"[fleet].deadline_h {list(spec.deadlines_h)}")
        deadline = match.argmax(axis=1).astype(np.int64)
    elif len(spec.deadlines_h) == 1:
        deadline = np.zeros(dur.size, dtype=np.int64)
    else:
        raise ConfigError(f"{path}: columns: no deadline_h column, and [fleet].deadline_h lists several; "
                          "expected the column or one deadline")
    return _Jobs(energy, length, s, home, deadline)


# --------------------------------------------------------------------------- Parquet datasets, read by the workers

#: the columns a job file may have (anything else in a Parquet file is not read)
_PARQUET_COLUMNS = (*_FILE_COLUMNS, "energy_kwh", "power_kw", "deadline_h")


def _is_url(source: Path | str | None) -> bool:
    return isinstance(source, str) and "://" in source


def _is_dataset(spec: FleetSpec) -> bool:
    """Parquet jobs that the workers read themselves: a ``.parquet`` file, a directory of them (searched
    recursively), or an fsspec URL of either (``s3://bucket/jobs/``, ``gs://...``, ``file:///...``)."""
    src = spec.source
    return src is not None and (_is_url(src) or Path(src).is_dir() or Path(src).suffix.lower() == ".parquet")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


def _parquet_file(name: str) -> Any:
    """A ``pyarrow.parquet.ParquetFile`` (a context manager) for a local path or an fsspec URL."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(f"{name}: reading Parquet needs pyarrow: {DASK_HINT}") from None
    if _is_url(name):
        try:
            import fsspec
        except ImportError:
            raise ConfigError(f"{name}: [fleet].source: a URL needs fsspec: {DASK_HINT}") from None
        fs, path = fsspec.core.url_to_fs(name)
        return pq.ParquetFile(path, filesystem=fs)
    return pq.ParquetFile(name)


def _parquet_files(spec: FleetSpec) -> list[str]:
    """The dataset's files, sorted (the order fixes the row numbers in messages, not the totals)."""
    src = spec.source
    assert src is not None
    if _is_url(src):
        try:
            import fsspec
        except ImportError:
            raise ConfigError(f"{src}: [fleet].source: a URL needs fsspec: {DASK_HINT}") from None
        try:
            fs, root = fsspec.core.url_to_fs(src)
            if fs.isdir(root):
                files = [fs.unstrip_protocol(f) for f in sorted(fs.find(root)) if f.lower().endswith(".parquet")]
            elif fs.isfile(root):
                files = [str(src)]
            else:
                raise ConfigError(f"{src}: [fleet].source: no such file or directory (expected Parquet jobs)")
        except ConfigError:
            raise
        except Exception as exc:  # fsspec back-ends raise their own types (credentials, network, ...)
            raise ConfigError(f"{src}: [fleet].source: cannot list ({_first_line(exc)})") from None
    else:
        p = Path(src)
        if p.is_dir():
            files = sorted(str(f) for f in p.rglob("*") if f.suffix.lower() == ".parquet" and f.is_file())
        elif p.is_file():
            files = [str(p)]
        else:
            raise ConfigError(f"{p}: [fleet].source: no such file (expected Parquet or CSV jobs)")
    if not files:
        raise ConfigError(f"{src}: [fleet].source: no .parquet files in this directory; expected Parquet jobs")
    return files


@dataclass(frozen=True, slots=True)
class _RowGroups:
    """One task of a Parquet dataset: consecutive row groups of one file, read by the worker that runs it."""

    file: str
    groups: tuple[int, ...]
    first_row: int  # 0-based row, within the file, of the first group's first row
    rows: int


def _parquet_plan(spec: FleetSpec) -> list[_RowGroups]:
    """Tasks over the dataset from the files' footers alone (no job is read here): runs of whole row
    groups of about ``partition_jobs`` rows.  Each row group is split into blocks of
    :data:`BLOCK_JOBS` rows on its own, so the blocks (and the totals, bit for bit) depend on the
    files only, not on ``partition_jobs`` or the worker count.  A missing or unreadable file, or one
    without the job columns, is refused here, naming it, before any task runs."""
    per_task = spec.blocks_per_partition * BLOCK_JOBS
    plan: list[_RowGroups] = []
    for name in _parquet_files(spec):
        try:
            with _parquet_file(name) as pf:
                meta = pf.metadata
                columns = set(pf.schema_arrow.names)
                sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        except ConfigError:
            raise
        except Exception as exc:  # pyarrow.ArrowInvalid (a ValueError), OSError, fsspec errors...
            raise ConfigError(f"{name}: [fleet].source: not a readable Parquet jobs file "
                              f"({_first_line(exc)})") from None
        if any(c not in columns for c in _FILE_COLUMNS) or ("energy_kwh" in columns) == ("power_kw" in columns):
            raise ConfigError(f"{name}: columns: expected {', '.join(_FILE_COLUMNS)} and one of energy_kwh or "
                              f"power_kw (optional deadline_h), got {', '.join(sorted(columns))}")
        group: list[int] = []
        rows = offset = first = 0
        for i, n in enumerate(sizes):
            if n and group and rows + n > per_task:
                plan.append(_RowGroups(name, tuple(group), first, rows))
                group, rows = [], 0
            if n:
                if not group:
                    first = offset
                group.append(i)
                rows += n
            offset += n
        if group:
            plan.append(_RowGroups(name, tuple(group), first, rows))
    if not plan:
        raise ConfigError(f"{spec.source}: [fleet].source: no jobs (0 rows); expected at least one job, as "
                          "[fleet].jobs >= 1")
    return plan


def _parquet_partition(model: _Model, spec: FleetSpec, part: _RowGroups) -> FloatArray:
    """One task, on the worker: read ``part``'s row groups (only the job columns) and return their
    (blocks, metrics, regions) sums; errors name the file and the row."""
    named = replace(spec, source=part.file)
    out = []
    first = part.first_row
    group = part.groups[0]
    try:
        with _parquet_file(part.file) as pf:
            wanted = [c for c in pf.schema_arrow.names if c in _PARQUET_COLUMNS]
            for group in part.groups:
                table = pf.read_row_group(group, columns=wanted)
                cols = {c: _column_numpy(table.column(c)) for c in table.column_names}
                jobs = _file_jobs(named, cols, first, model.ci.shape[1])
                first += table.num_rows
                del table, cols
                out.append(_jobs_partition(model, jobs))
    except ConfigError:
        raise
    except Exception as exc:  # a file changed or lost since the plan, a corrupt page, a network error
        raise ConfigError(f"{part.file}: [fleet].source: cannot read row group {group} "
                          f"({_first_line(exc)})") from None
    return np.concatenate(out) if out else np.zeros((0, _N_METRICS, len(spec.regions)))


def _column_numpy(col: Any) -> Any:
    """A pyarrow column as numpy; strings through their dictionary (a few zone ids, not a Python object
    per row)."""
    import pyarrow as pa

    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_dictionary(col.type):
        enc = col.dictionary_encode() if not pa.types.is_dictionary(col.type) else col
        chunks = enc.chunks if hasattr(enc, "chunks") else [enc]
        parts = [np.asarray(c.dictionary.to_pylist(), dtype=str)[c.indices.to_numpy(zero_copy_only=False)]
                 if len(c) else np.zeros(0, dtype=str) for c in chunks]
        if any(c.null_count for c in chunks):
            raise ValueError("column region: a missing (null) zone id")
        return np.concatenate(parts) if parts else np.zeros(0, dtype=str)
    return col.to_numpy()


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class FleetResult:
    """Totals of one fleet run.  ``sums[metric][region]`` (see :data:`METRICS`); grams CO2e, kWh."""

    spec: FleetSpec
    sums: Mapping[str, Mapping[str, float]]
    totals: Mapping[str, float]
    partitions: int = 0
    elapsed_s: float = 0.0
    workers: int = 0

    @property
    def jobs(self) -> int:
        return int(self.totals["jobs"])

    def saving_fraction(self, mode: str) -> float:
        base = self.totals["baseline_g"]
        return 1.0 - self.totals[f"{mode}_g"] / base if base > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """Deterministic: no timings, worker or partition counts (those go to :attr:`run_info`)."""
        by_region = {}
        for i, region in enumerate(self.spec.regions):
            row: dict[str, Any] = {m: self.sums[m][region] for m in METRICS}
            base = row["baseline_g"]
            row["saving_fraction"] = {mode: (1.0 - row[f"{mode}_g"] / base if base > 0 else 0.0)
                                      for mode in MODES[1:]}
            row["pue"] = self.spec._pue()[i]
            by_region[region] = row
        return {"schema": SCHEMA, "title": self.spec.title, "note": PROJECTED_NOTE, "projected": True,
                "fleet": self.spec.to_json(), "totals": dict(self.totals),
                "saving_fraction": {mode: self.saving_fraction(mode) for mode in MODES[1:]},
                "by_region": by_region,
                "determinism": {"summation": "math.fsum of per-block sums", "block_jobs": BLOCK_JOBS,
                                "same_stack": "bit-for-bit", "across_stacks_rtol": SUM_RTOL}}

    @property
    def run_info(self) -> str:
        rate = self.jobs / self.elapsed_s if self.elapsed_s > 0 else math.inf
        where = f"{self.workers} Dask worker thread(s)" if self.workers else "this process"
        return (f"{self.jobs:,} jobs in {self.partitions} partition(s) on {where}: "
                f"{self.elapsed_s:.2f} s ({rate:,.0f} jobs/s)")


def _result(spec: FleetSpec, block_sums: Sequence[FloatArray], partitions: int, elapsed: float,
            workers: int) -> FleetResult:
    r = len(spec.regions)
    stack = np.concatenate(block_sums) if block_sums else np.zeros((0, _N_METRICS, r))
    sums = {m: {region: math.fsum(stack[:, k, i].tolist()) for i, region in enumerate(spec.regions)}
            for k, m in enumerate(METRICS)}
    totals = {m: math.fsum(stack[:, k, :].ravel().tolist()) for k, m in enumerate(METRICS[:6])}
    return FleetResult(spec, sums, totals, partitions, elapsed, workers)


# --------------------------------------------------------------------------- execution


def _dask_or_fail(option: str) -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigError(f"{option} needs Dask: {DASK_HINT}") from None
    return distributed


def _client_threads(client: Any) -> int:
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:
        return 2


_Task = tuple[Any, Callable[..., FloatArray], tuple[Any, ...], int]  # key, function, args, jobs


def _execute(tasks: Iterable[_Task], client: Any, on_done: Callable[[Any, FloatArray], None],
             progress: Callable[[int], None], max_in_flight: int | None = None) -> None:
    """Run tasks here (client None) or on the cluster with a bounded number in flight."""
    if client is None:
        for key, fn, args, jobs in tasks:
            on_done(key, fn(*args))
            progress(jobs)
        return
    distributed = _dask_or_fail("client")
    limit = max_in_flight or 2 * _client_threads(client)
    it = iter(tasks)
    meta: dict[Any, tuple[Any, int]] = {}
    done = distributed.as_completed()

    def submit_next() -> bool:
        try:
            key, fn, args, jobs = next(it)
        except StopIteration:
            return False
        fut = client.submit(fn, *args, pure=False)
        meta[fut.key] = (key, jobs)
        done.add(fut)
        return True

    for _ in range(limit):
        if not submit_next():
            break
    for fut in done:
        key, jobs = meta.pop(fut.key)
        on_done(key, fut.result())
        fut.release()
        progress(jobs)
        submit_next()


class _Progress:
    """A rich progress bar on stderr when it is a terminal (or when asked); silent otherwise."""

    def __init__(self, total: int | None, enabled: bool | None, label: str) -> None:
        self.bar: Any = None
        if enabled is None:
            enabled = sys.stderr.isatty() and (total is None or total > DEFAULT_PARTITION_JOBS)
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), TimeRemainingColumn(),
                                console=Console(file=sys.stderr), transient=False)
            self.task = self.bar.add_task(label, total=total)

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, jobs: int) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, jobs)


def _model_handle(model: _Model, client: Any) -> Any:
    return model if client is None else client.scatter(model, broadcast=True, hash=False)


def _synthetic_tasks(key: Any, spec: FleetSpec, handle: Any) -> Iterator[_Task]:
    n_blocks = -(-spec.jobs // BLOCK_JOBS)
    per = spec.blocks_per_partition
    for part, first in enumerate(range(0, n_blocks, per)):
        count = min(per, n_blocks - first)
        jobs = min(spec.jobs, (first + count) * BLOCK_JOBS) - first * BLOCK_JOBS
        yield (key, part), _synthetic_partition, (handle, spec, first, count), jobs


def _file_tasks(key: Any, spec: FleetSpec, handle: Any, n_steps: int) -> Iterator[_Task]:
    if _is_dataset(spec):  # Parquet: the client holds the plan; each worker reads its own row groups
        for part, groups in enumerate(_parquet_plan(spec)):
            yield (key, part), _parquet_partition, (handle, spec, groups), groups.rows
        return
    rows = spec.blocks_per_partition * BLOCK_JOBS
    first = 0
    for part, cols in enumerate(_guarded_batches(spec, rows)):
        jobs = _file_jobs(spec, cols, first, n_steps)
        n = int(jobs.energy_kwh.shape[0])
        first += n
        yield (key, part), _jobs_partition, (handle, jobs), n


def _file_rows(spec: FleetSpec) -> int | None:
    assert spec.source is not None
    if _is_dataset(spec):
        try:
            return sum(groups.rows for groups in _parquet_plan(spec))
        except Exception:  # the run itself reports it, naming the file
            return None
    return None


def _run_many(specs: Sequence[FleetSpec], client: Any, progress: bool | None,
              max_in_flight: int | None) -> list[FleetResult]:
    models = [_Model.of(s) for s in specs]
    handles = [_model_handle(m, client) for m in models]
    totals = [s.jobs if s.source is None else _file_rows(s) for s in specs]
    total = None if any(t is None for t in totals) else sum(t or 0 for t in totals)

    def tasks() -> Iterator[_Task]:
        for i, (spec, handle, model) in enumerate(zip(specs, handles, models, strict=True)):
            if spec.source is None:
                yield from _synthetic_tasks(i, spec, handle)
            else:
                yield from _file_tasks(i, spec, handle, model.ci.shape[1])

    parts: list[dict[int, FloatArray]] = [{} for _ in specs]

    def on_done(key: Any, value: FloatArray) -> None:
        point, part = key
        parts[point][part] = value

    start = time.perf_counter()
    label = "fleet" if len(specs) == 1 else f"sweep ({len(specs)} points)"
    with _Progress(total, progress, label) as bar:
        _execute(tasks(), client, on_done, bar, max_in_flight)
    elapsed = time.perf_counter() - start
    workers = _client_threads(client) if client is not None else 0
    return [_result(spec, [p[k] for k in sorted(p)], len(p), elapsed, workers)
            for spec, p in zip(specs, parts, strict=True)]


def run_fleet(spec: FleetSpec, client: Any = None, *, progress: bool | None = None,
              max_in_flight: int | None = None) -> FleetResult:
    """Baseline and shifted CO2e of a fleet.  ``client``: a ``distributed.Client`` (None: this process)."""
    return _run_many([spec], client, progress, max_in_flight)[0]


# --------------------------------------------------------------------------- sweeps


@dataclass(frozen=True, slots=True)
class SweepResult:
    scenario: FleetScenario
    points: tuple[Mapping[str, Any], ...]
    results: tuple[FleetResult, ...]

    @property
    def run_info(self) -> str:
        jobs = sum(r.jobs for r in self.results)
        elapsed = self.results[0].elapsed_s if self.results else 0.0
        workers = self.results[0].workers if self.results else 0
        where = f"{workers} Dask worker thread(s)" if workers else "this process"
        rate = jobs / elapsed if elapsed > 0 else math.inf
        return (f"{len(self.points)} sweep point(s), {jobs:,} jobs in all on {where}: {elapsed:.2f} s "
                f"({rate:,.0f} jobs/s)")

    def to_json(self) -> dict[str, Any]:
        rows = []
        for point, res in zip(self.points, self.results, strict=True):
            rows.append({"params": dict(point), "totals": dict(res.totals),
                         "saving_fraction": {m: res.saving_fraction(m) for m in MODES[1:]}})
        return {"schema": SWEEP_SCHEMA, "title": self.scenario.spec.title, "note": PROJECTED_NOTE,
                "projected": True, "parameters": list(self.scenario.sweep), "fleet": self.scenario.spec.to_json(),
                "points": rows,
                "determinism": {"summation": "math.fsum of per-block sums", "block_jobs": BLOCK_JOBS,
                                "same_stack": "bit-for-bit", "across_stacks_rtol": SUM_RTOL}}


def run_sweep(scenario: FleetScenario, client: Any = None, *, progress: bool | None = None,
              max_in_flight: int | None = None, overrides: Mapping[str, Any] | None = None) -> SweepResult:
    """Every ``[sweep]`` grid point as fleet runs on the same engine (all their partitions share the queue)."""
    points = scenario.points() or [{}]
    specs = [replace(scenario.spec_at(p), **(overrides or {})) for p in points]
    results = _run_many(specs, client, progress, max_in_flight)
    return SweepResult(scenario, tuple(points), tuple(results))


# --------------------------------------------------------------------------- rendering


def _t(g: float) -> str:
    return f"{g / 1e6:,.3f}"


def render_fleet(result: FleetResult, file: IO[str] | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result.spec.title} — {PROJECTED_NOTE}", title_justify="left")
    for col in ("home region", "jobs", "energy (MWh)", "baseline t", "temporal t", "geographic t", "both t",
                "saved: temporal", "geographic", "both"):
        table.add_column(col, justify="left" if col == "home region" else "right")
    for region in result.spec.regions:
        s = {m: result.sums[m][region] for m in METRICS}
        base = s["baseline_g"]
        fr = [1.0 - s[f"{m}_g"] / base if base > 0 else 0.0 for m in MODES[1:]]
        table.add_row(region, f"{int(s['jobs']):,}", f"{s['energy_kwh'] / 1e3:,.1f}",
                      *(_t(s[f"{m}_g"]) for m in MODES), *(f"{f:.1%}" for f in fr))
    tot = result.totals
    table.add_row("total", f"{int(tot['jobs']):,}", f"{tot['energy_kwh'] / 1e3:,.1f}",
                  *(_t(tot[f"{m}_g"]) for m in MODES), *(f"{result.saving_fraction(m):.1%}" for m in MODES[1:]),
                  style="bold")
    console = Console(file=file, width=160, markup=False, highlight=False)
    console.print(table)
    landed = ", ".join(f"{r} {int(result.sums['both_landed_jobs'][r]):,}" for r in result.spec.regions)
    console.print(f"where the jobs run when shifted in time and space: {landed}")
    console.print("t = tonnes CO2e (projected).  saved = 1 − shifted ÷ baseline (baseline: home region, "
                  "start at submit).")


def render_sweep(result: SweepResult, file: IO[str] | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result.scenario.spec.title} (sweep) — {PROJECTED_NOTE}", title_justify="left")
    for key in result.scenario.sweep:
        table.add_column(key)
    for col in ("jobs", "baseline t", "temporal t", "geographic t", "both t", "saved: temporal", "geographic",
                "both"):
        table.add_column(col, justify="right")
    for point, res in zip(result.points, result.results, strict=True):
        table.add_row(*(_short(v) for v in point.values()), f"{res.jobs:,}",
                      *(_t(res.totals[f"{m}_g"]) for m in MODES),
                      *(f"{res.saving_fraction(m):.1%}" for m in MODES[1:]))
    Console(file=file, width=160, markup=False, highlight=False).print(table)


def plot_fleet(result: FleetResult, path: str | Path) -> None:
    """Grouped bars: CO2e per home region for each mode."""
    from matplotlib.figure import Figure

    from greensim.report import write_atomic

    regions = list(result.spec.regions)
    fig = Figure(figsize=(max(6.0, 1.2 * len(regions) + 2), 4))
    ax = fig.subplots()
    x = np.arange(len(regions))
    width = 0.2
    for k, mode in enumerate(MODES):
        ax.bar(x + (k - 1.5) * width, [result.sums[f"{mode}_g"][r] / 1e6 for r in regions], width, label=mode)
    ax.set_xticks(x, regions)
    ax.set_ylabel("t CO2e (projected)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{result.spec.title}: {result.jobs:,} jobs\n{PROJECTED_NOTE}", fontsize=10)
    fig.tight_layout()
    write_atomic(path, lambda fh: fig.savefig(fh, format=figure_format(path), dpi=100), "--plot")


def plot_sweep(result: SweepResult, path: str | Path) -> None:
    """The trade-offs: CO2e saved by each shifting mode (one panel each) against the first swept
    parameter, one line per combination of the others."""
    from matplotlib.figure import Figure

    from greensim.report import write_atomic

    keys = list(result.scenario.sweep)
    first = keys[0] if keys else None
    xs = list(result.scenario.sweep[first]) if first else [None]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs)
    groups: dict[str, list[tuple[float, FleetResult]]] = {}
    for point, res in zip(result.points, result.results, strict=True):
        label = ", ".join(f"{k}={_short(v)}" for k, v in point.items() if k != first) or "all"
        x = float(point[first]) if first and numeric else float(xs.index(point.get(first))) if first else 0.0
        groups.setdefault(label, []).append((x, res))
    fig = Figure(figsize=(13, 4.2))
    axes = fig.subplots(1, 3, sharey=True)
    for ax, mode in zip(axes, MODES[1:], strict=True):
        for label, pts in groups.items():
            pts.sort(key=lambda item: item[0])
            ax.plot([x for x, _ in pts], [100 * r.saving_fraction(mode) for _, r in pts], marker="o", label=label)
        ax.set_title(f"{mode} shifting", fontsize=10)
        ax.set_xlabel(first or "")
        if first and not numeric:
            ax.set_xticks(range(len(xs)), [_short(v) for v in xs], rotation=20, ha="right")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("CO2e saved vs baseline (%, projected)")
    if len(groups) > 1:
        axes[-1].legend(fontsize=8)
    fig.suptitle(f"{result.scenario.spec.title}: trade-offs — {PROJECTED_NOTE}", fontsize=10)
    fig.tight_layout()
    write_atomic(path, lambda fh: fig.savefig(fh, format=figure_format(path), dpi=100), "--plot")


def to_json_text(result: FleetResult | SweepResult) -> str:
    return json.dumps(result.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# --------------------------------------------------------------------------- clients for the CLI


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _available_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def table_bytes(spec: FleetSpec) -> int:
    """Bytes of one worker's look-up tables for ``spec`` (see the module docstring)."""
    return 8 * (1 + len(spec.deadlines_h)) * (len(spec.regions) + 1) * spec.max_duration_h * 8760


def max_local_workers(spec: FleetSpec | None = None) -> tuple[int, str]:
    """How many local worker processes this machine can hold, and why: one single-threaded process per
    usable core (more only time-share the cores), and each needs its own tables plus
    :data:`WORKER_BASE_BYTES` of the memory available now."""
    cores = usable_cores()
    limit, why = cores, f"{cores} usable core(s): more single-threaded worker processes only time-share them"
    avail = _available_bytes()
    if avail is not None:
        per = WORKER_BASE_BYTES + (table_bytes(spec) if spec is not None else 0)
        by_mem = max(1, avail // per)
        if by_mem < limit:
            limit, why = by_mem, (f"{avail / 2**30:.1f} GiB available and each worker process needs about "
                                  f"{per / 2**20:.0f} MiB (its own look-up tables + interpreter)")
    return int(limit), why


def estimated_run_s(jobs: int, threads: int) -> float:
    """Estimated seconds for ``jobs`` jobs on ``threads`` worker threads (:data:`JOB_COST_S` each)."""
    return jobs * JOB_COST_S / max(1, threads)


def check_run_length(jobs: int, threads: int, option: str = "jobs") -> None:
    """Refuse a run estimated to take longer than :data:`MAX_RUN_S` (a day), with the estimate."""
    est = estimated_run_s(jobs, threads)
    if est > MAX_RUN_S:
        most = int(MAX_RUN_S / JOB_COST_S) * max(1, threads)
        raise ConfigError(f"{option}: {jobs:.3g} jobs would take about {est / 86_400:,.3g} days on {threads} worker "
                          f"thread(s) (estimated at {JOB_COST_S * 1e6:g} µs per job per thread); expected at "
                          f"most {most:.3g} jobs (a day), or more workers")


def check_scheduler_address(address: str) -> str:
    """A Dask scheduler address: ``[tcp|tls|ws|wss://]host:port``; one line naming ``--scheduler`` otherwise."""
    what = "expected [tcp://|tls://|ws://|wss://]HOST:PORT, e.g. tcp://head-node:8786"
    if not isinstance(address, str) or not address.strip() or any(c.isspace() or not c.isprintable()
                                                                   for c in address):
        raise ConfigError(f"--scheduler: {address!r} is not an address; {what}")
    scheme, _, rest = address.rpartition("://") if "://" in address else ("tcp", "", address)
    if scheme not in ("tcp", "tls", "ws", "wss"):
        raise ConfigError(f"--scheduler: unknown scheme {scheme!r} in {address!r}; {what}")
    host, sep, port = rest.rpartition(":")
    if host.startswith("[") != host.endswith("]") or not host.strip("[]") or not sep or \
            not port.isdigit() or not 1 <= int(port) <= 65535 or "/" in host:
        raise ConfigError(f"--scheduler: {address!r} has no valid host and port (1-65535); {what}")
    return f"{scheme}://{rest}"


def _probe_scheduler(address: str, timeout_s: float) -> None:
    """Connect, shake hands and ask for the peer's identity, all within ``timeout_s``: an address that does not
    answer, answers in another protocol (HTTP) or is not a Dask scheduler is refused in one line."""
    import asyncio
    import socket

    from distributed.comm import connect
    from distributed.security import Security

    scheme, _, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    try:  # a closed port or an unknown host fails at once, not after the connect retries
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ConfigError(f"--scheduler: cannot reach {address} ({exc.strerror or exc})") from None

    async def identity() -> Any:
        kwargs = Security().get_connection_args("client") if scheme in ("tls", "wss") else {}
        comm = await connect(address, timeout=timeout_s, **kwargs)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    hint = f"expected a Dask scheduler answering within {timeout_s:g} s"
    try:
        reply = asyncio.run(asyncio.wait_for(identity(), timeout_s))
    except TimeoutError:
        raise ConfigError(f"--scheduler: {address} did not answer as a Dask scheduler within {timeout_s:g} s "
                          "(a silent port, or another protocol such as HTTP); " + hint) from None
    except Exception as exc:  # CommClosedError, a garbled handshake, TLS errors: not a scheduler we can use
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise ConfigError(f"--scheduler: {address} is not a Dask scheduler we can talk to "
                          f"({type(exc).__name__}: {first}); {hint}") from None
    kind = reply.get("type") if isinstance(reply, dict) else None
    if kind != "Scheduler":
        raise ConfigError(f"--scheduler: {address} answered, but as {kind or type(reply).__name__!r}, "
                          f"not a Dask scheduler; {hint}")


class cluster_client:
    """``with cluster_client(workers=N)`` / ``(scheduler=ADDR)``: a Dask client, or None for neither.

    ``workers`` is capped at :func:`max_local_workers`; a ``scheduler`` must answer as a Dask scheduler within
    ``timeout_s`` (:data:`SCHEDULER_TIMEOUT_S`) or is refused in one line."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None, *,
                 spec: FleetSpec | None = None, timeout_s: float = SCHEDULER_TIMEOUT_S) -> None:
        if workers is not None and scheduler is not None:
            raise ConfigError("--workers, --scheduler: give one (a local cluster, or an existing scheduler)")
        if workers is not None and (isinstance(workers, bool) or workers < 1):
            raise ConfigError(f"--workers: expected an integer >= 1, got {workers!r}")
        if workers is not None:
            most, why = max_local_workers(spec)
            if workers > most:
                raise ConfigError(f"--workers: {workers} is more than this machine can hold; expected at most "
                                  f"{most} ({why})")
        if scheduler is not None:
            scheduler = check_scheduler_address(scheduler)
        if not (isinstance(timeout_s, (int, float)) and math.isfinite(timeout_s) and timeout_s > 0):
            raise ConfigError(f"timeout_s: expected a number of seconds > 0, got {timeout_s!r}")
        self.timeout_s = float(timeout_s)
        self.workers, self.scheduler = workers, scheduler
        self.client: Any = None
        self.cluster: Any = None
        self.config: Any = None

    def __enter__(self) -> Any:
        if self.workers is not None:
            distributed = _dask_or_fail("--workers")
            import logging

            import dask

            # the workers' statistical profiler costs these short numpy-bound tasks ~40% of their time, and
            # Dask's MALLOC_TRIM_THRESHOLD_ about as much again (see NO_WORKER_PROFILE)
            self.config = dask.config.set(NO_WORKER_PROFILE)
            self.cluster = distributed.LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                                    dashboard_address=":0", silence_logs=logging.ERROR)
            self.client = distributed.Client(self.cluster)
        elif self.scheduler is not None:
            distributed = _dask_or_fail("--scheduler")
            _probe_scheduler(self.scheduler, self.timeout_s)
            try:
                self.client = distributed.Client(self.scheduler, timeout=f"{self.timeout_s:g}s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise ConfigError(f"--scheduler: cannot reach {self.scheduler} ({exc})") from None
        return self.client

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        if self.config is not None:
            self.config.__exit__(None, None, None)

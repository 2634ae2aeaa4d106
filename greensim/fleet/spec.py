"""Spec: a section of :mod:`greensim.fleet` (its docstring tells the whole story)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from greenbench.errors import ConfigError
from greensim.fleet.keys import (
    _DIST_KEYS,
    BLOCK_JOBS,
    DEFAULT_DEADLINE_H,
    DEFAULT_MAX_DURATION_H,
    DEFAULT_PARTITION_JOBS,
    DIST_TAIL_SD,
    MAX_JOB_ENERGY_KWH,
    MAX_JOBS,
    TABLE_LIMIT_BYTES,
    FloatArray,
)


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

"""The one owner of greenbench's results schema, and the reader of saved JSON.

Every figure greenbench stores lives in pytest-benchmark's own JSON: the
energy block of one benchmark is ``extra_info["energy"]`` (an
:class:`EnergyRecord`), flat copies go under ``stats`` (``energy_j_min``...,
for pytest-benchmark's compare), the meter under ``machine_info["greenbench"]``
and the file-level version under ``output["greenbench"]``.  Report sections,
the gate and greensim read entries only through this module.

Layout of one entry written by the plugin (schema_version 2; version 1 stored every round in
``rounds_j``/``contended``/``speed_probes_s`` and is still read; version 2 is bounded: ``rounds_j`` is a
sketch of <= 32 clean rounds, ``clean_j`` exact statistics, plus ``rounds_measured``, ``iterations``,
``harness_s``/``harness_share``, see greenbench.plugin.recorder)::

    {"name": ..., "fullname": ..., "group": ..., "params": {...},
     "stats": {"min": s, "median": s, ..., "energy_j_min": J, "energy_j_median": J, ...},
     "extra_info": {
        "energy": {"schema_version": 1, "source": "model", "estimated": true,
                   "per_call_j": {"min": J, "median": J, "mean": J, "max": J, "stddev": J, "rounds": n},
                   "rounds_j": [J, ...], "power_w": W, "co2e_g": g,
                   "intensity_g_per_kwh": 475.0, "intensity_label": "...",
                   "domains_j": {...}, "contended_rounds": k, "warnings": [...]},
        "quality": {"accuracy": 0.94}, "artifacts": ["nca/texture.png"], ...}}

Energy figures are per call of the benchmarked function (a round's energy
divided by its iterations), like pytest-benchmark's times.  A change of this
layout that older readers would misread bumps :data:`SCHEMA_VERSION`
(``tests/greenbench/golden_results.json`` fails otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from greenbench.errors import DataError
from greenbench.units import fmt_si

#: version of the energy block and of the file-level ``greenbench`` key; readers refuse others
SCHEMA_VERSION = 2
#: versions this reader understands (1: every round's energy, contention flag and probe stored;
#: 2: bounded -- ``rounds_j`` a sketch of <= 32 clean rounds, exact ``clean_j`` statistics, issue #17)
KNOWN_VERSIONS = frozenset({1, 2})

#: marker appended to every figure that was not read off a hardware counter
ESTIMATED_MARK = "*"
ESTIMATED_LEGEND = "`*` estimated (not read off a hardware energy counter)"

Bench = Mapping[str, Any]

__all__ = ["SCHEMA_VERSION", "EnergyRecord", "check_version", "fmt_si", "load", "record"]


@dataclass(frozen=True, slots=True)
class EnergyRecord:
    """The energy block of one benchmark (``extra_info["energy"]``), per call of the function.

    Built by :mod:`greenbench.plugin.recorder`; written with :meth:`to_json` and read
    back with :meth:`from_json`, which refuses an unknown ``schema_version``.
    """

    source: str
    estimated: bool
    per_call_j: Mapping[str, float]
    rounds_j: tuple[float, ...]
    calls: int
    total_j: float
    power_w: float
    cpu_time_s: float
    co2e_g: float
    intensity_g_per_kwh: float
    intensity_label: str
    domains_j: Mapping[str, float] = field(default_factory=dict)
    other_cores_busy: float | None = None
    contended_rounds: int = 0
    contended: tuple[bool, ...] = ()
    speed_probe_s: float | None = None
    speed_probes_s: tuple[float, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    threads: int | None = None
    # -- schema 2 (issue #17, the gate's bounded summary; see greenbench.plugin.recorder) --
    #: exact min/q1/median/q3/mean over the uncontended metered rounds (all of them when < 3 were), and n
    clean_j: Mapping[str, float] = field(default_factory=dict)
    #: rounds metered (the recorder samples rounds of long runs); None in schema 1 files
    rounds_measured: int | None = None
    #: pytest-benchmark's iterations per round (most common among kept rounds)
    iterations: int | None = None
    #: per-round harness overhead (s) subtracted from each window, and its median share of a window
    harness_s: float = 0.0
    harness_share: float = 0.0
    #: issue #12, the counted meter: per-call event counts (instructions, cache misses); None for other meters
    counts: Mapping[str, int] | None = None
    #: the meter gives the same figure for the same work whatever the machine's load (counted); the gate then
    #: compares figures directly instead of correcting for contention and run-to-run drift
    deterministic: bool = False
    #: fields a newer writer of the same schema version added (kept, not interpreted)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "energy block") -> EnergyRecord:
        check_version(data.get("schema_version"), where)
        names = {f.name for f in fields(cls)} - {"extra"}
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        missing = sorted(required - set(data))
        if missing:
            raise DataError(f"{where}: missing field(s) {', '.join(missing)}")
        kwargs: dict[str, Any] = {}
        for name in names & set(data):
            value = data[name]
            if isinstance(value, list):
                value = tuple(value)
            kwargs[name] = value
        extra = {k: v for k, v in data.items() if k not in names and k != "schema_version"}
        return cls(**kwargs, extra=extra)


def check_version(version: Any, where: str) -> None:
    """Refuse a schema version this reader does not know (one line, naming ``where``)."""
    if version is None:  # files of greenbench 0.1 before the version was checked carry 1
        return
    if isinstance(version, bool) or not isinstance(version, int) or version not in KNOWN_VERSIONS:
        known = ", ".join(str(v) for v in sorted(KNOWN_VERSIONS))
        raise DataError(f"{where}: unknown greenbench schema_version {version!r} (this greenbench reads {known}); "
                        "upgrade greenbench to read it")


def load(path: str | Path) -> dict[str, Any]:
    """Load a pytest-benchmark JSON file, with a one-line error if it is not one.

    The file-level and per-benchmark ``schema_version`` are checked here, so
    every reader of saved results refuses versions it does not know.
    """
    from greenbench.io import read as safeio

    p = Path(path)
    # regular files only, size and nesting limits, BOM named: one line, never a hang or a RecursionError
    data = safeio.load_json(p, what="results file (a pytest-benchmark JSON)")
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise DataError(f"{p}: missing the 'benchmarks' list of a pytest-benchmark JSON file")
    check_output(data, str(p))
    from greenbench.meters.counted import profile  # issue #24: profiles' names from the run's one table

    profile.expand_run(data, str(p))
    return data


def label(value: Any) -> str:
    """``value`` for a one-line message: as is when printable, else its repr (no newline from a file)."""
    text = str(value)
    return text if text.isprintable() else repr(text)


#: sources whose figures are never read off a hardware counter: ``"estimated": false`` on them is a lie
ESTIMATED_SOURCES = frozenset({"model", "codecarbon", "counted", "null"})
#: energy-block fields that hold one figure each (J, W, g, s): a number, finite and >= 0 when present
_SCALARS = ("total_j", "power_w", "co2e_g", "cpu_time_s")
#: energy-block fields that map statistic names to figures (J per call)
_TABLES = ("per_call_j", "clean_j", "domains_j")


def _bad_number(value: Any) -> str | None:
    """Why ``value`` is not a figure (a finite number >= 0), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{type(value).__name__} {label(repr(value))[:40]}"
    if not math.isfinite(value):
        return repr(float(value))
    if value < 0:
        return f"negative ({value!r})"
    return None


def energy_problem(e: Mapping[str, Any]) -> str | None:
    """The first field of an energy block that no reader may show as a value, named; None when sound.

    The one validation every reader of saved results goes through (the report, exports, the gate,
    ``greensim run --results``, ``history``): ``estimated`` must be true or false (never null or a
    string) and cannot be false for a source that only estimates (:data:`ESTIMATED_SOURCES`), and
    every energy figure must be a finite number >= 0 (never a string, a bool, NaN or negative).
    """
    est = e.get("estimated", True)
    if not isinstance(est, bool):
        return f"estimated is {label(repr(est))[:40]}; expected true or false"
    src = e.get("source")
    if src is not None and not isinstance(src, str):
        return f"source is {type(src).__name__} {label(repr(src))[:40]}; expected a meter name"
    if est is False and isinstance(src, str) and set(src.split("+")) & ESTIMATED_SOURCES:
        return (f"estimated is false for source {label(src)!r}, which is never read off a hardware counter; "
                "the file was edited or written by another tool")
    for name in _TABLES:
        table = e.get(name)
        if table is None and (name not in e or name == "domains_j"):
            continue
        if not isinstance(table, Mapping):
            return f"{name} is {type(table).__name__}; expected a mapping of figures"
        for key, value in table.items():
            if name != "domains_j" and key in ("rounds", "n"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    return f"{name}.{label(key)} is {label(repr(value))[:40]}; expected a count"
                continue
            why = _bad_number(value)
            if why is not None:
                return f"{name}.{label(key)} is {why}; expected a finite number >= 0"
    for name in _SCALARS:
        if name in e and e[name] is not None:
            value = e[name]
            # power_w is NaN in the recorder when no window had a duration (never, since durations are > 0)
            why = _bad_number(value)
            if why is not None:
                return f"{name} is {why}; expected a finite number >= 0"
    rounds = e.get("rounds_j")
    if rounds is not None:
        if not isinstance(rounds, (list, tuple)):
            return f"rounds_j is {type(rounds).__name__}; expected a list of figures"
        for i, value in enumerate(rounds):
            why = _bad_number(value)
            if why is not None:
                return f"rounds_j[{i}] is {why}; expected a finite number >= 0"
    return None


def check_output(data: Mapping[str, Any], where: str) -> None:
    """Check a whole pytest-benchmark JSON document: versions, ``machine_info``, every energy block.

    One line naming the benchmark and field (:func:`energy_problem`); every reader of saved
    results (:func:`load`, the gate's baseline check) calls this.
    """
    gb = data.get("greenbench")
    if gb is not None and not isinstance(gb, Mapping):
        raise DataError(f"{where}: greenbench is {type(gb).__name__}; expected a mapping")
    if isinstance(gb, Mapping):
        check_version(gb.get("schema_version"), f"{where}: greenbench")
    mi = data.get("machine_info")
    if mi is not None and not isinstance(mi, Mapping):
        raise DataError(f"{where}: machine_info is {type(mi).__name__}; expected a mapping")
    mgb = (mi or {}).get("greenbench")
    if mgb is not None:
        if not isinstance(mgb, Mapping):
            raise DataError(f"{where}: machine_info.greenbench is {type(mgb).__name__} "
                            f"{label(repr(mgb))[:40]}; expected a mapping (the meter, threads, intensity)")
        meter = mgb.get("meter")
        if meter is not None and not isinstance(meter, Mapping):
            raise DataError(f"{where}: machine_info.greenbench.meter is {type(meter).__name__}; expected a mapping")
        if isinstance(meter, Mapping) and meter.get("source") is not None and not isinstance(meter["source"], str):
            raise DataError(f"{where}: machine_info.greenbench.meter.source is not a string")
    benchmarks = data.get("benchmarks") or []
    if not isinstance(benchmarks, list):
        raise DataError(f"{where}: benchmarks is {type(benchmarks).__name__}; expected a list")
    for i, b in enumerate(benchmarks):
        info = b.get("extra_info") if isinstance(b, Mapping) else None
        e = info.get("energy") if isinstance(info, Mapping) else None
        if isinstance(e, Mapping):
            name = label(b.get("fullname", "?"))
            check_version(e.get("schema_version"), f"{where}: benchmarks[{i}] ({name}) energy")
            problem = energy_problem(e)
            if problem is not None:
                raise DataError(f"{where}: benchmarks[{i}] ({name}) extra_info.energy.{problem}")


def energy(b: Bench) -> Mapping[str, Any] | None:
    """The raw energy block of an entry (version-checked), or None."""
    info = b.get("extra_info") or {}
    e = info.get("energy")
    if not isinstance(e, Mapping):
        return None
    where = f"{label(b.get('fullname', b.get('name', '?')))}: energy"
    check_version(e.get("schema_version"), where)
    problem = energy_problem(e)
    if problem is not None:
        raise DataError(f"{where}: {problem}")
    return e


def record(b: Bench) -> EnergyRecord | None:
    """The entry's energy block as an :class:`EnergyRecord`, or None."""
    e = energy(b)
    return EnergyRecord.from_json(e, f"{b.get('fullname', b.get('name', '?'))}: energy") if e else None


def stats_fields(e: Mapping[str, Any]) -> dict[str, float]:
    """Flat ``stats`` keys (``energy_j_min``...) so saved files carry them for compare."""
    per_call = e.get("per_call_j") or {}
    out = {f"energy_j_{k}": float(v) for k, v in per_call.items() if k != "rounds"}
    out["power_w"] = float(e.get("power_w", math.nan))
    out["co2e_g"] = float(e.get("co2e_g", math.nan))
    return out


def has_energy(b: Bench) -> bool:
    e = energy(b)
    return e is not None and isinstance(e.get("per_call_j"), Mapping)


def energy_j(b: Bench, stat: str = "median") -> float:
    """Energy per call (J) by statistic; NaN when the entry has no energy."""
    e = energy(b)
    if not e:
        return math.nan
    return float((e.get("per_call_j") or {}).get(stat, math.nan))


def time_s(b: Bench, stat: str = "median") -> float:
    return float(b.get("stats", {}).get(stat, math.nan))


def power_w(b: Bench) -> float:
    e = energy(b)
    return float(e.get("power_w", math.nan)) if e else math.nan


def co2e_g(b: Bench) -> float:
    e = energy(b)
    return float(e.get("co2e_g", math.nan)) if e else math.nan


def source(b: Bench) -> str:
    e = energy(b)
    return str(e.get("source", "?")) if e else "-"


def is_estimated(b: Bench) -> bool:
    """True unless the entry says its energy came off a hardware counter."""
    e = energy(b)
    return bool(e.get("estimated", True)) if e else True


def quality(b: Bench) -> dict[str, float]:
    q = (b.get("extra_info") or {}).get("quality") or {}
    return {str(k): float(v) for k, v in q.items() if isinstance(v, (int, float))}


def extra(b: Bench, key: str, default: Any = None) -> Any:
    return (b.get("extra_info") or {}).get(key, default)


def select(benchmarks: Iterable[Bench], *, name: str | None = None, group: str | None = None,
           **params: Any) -> list[Bench]:
    """Entries whose test name starts with ``name`` / whose group and params match."""
    out = []
    for b in benchmarks:
        if name is not None and not str(b.get("name", "")).startswith(name):
            continue
        if group is not None and b.get("group") != group:
            continue
        bp = b.get("params") or {}
        if any(bp.get(k) != v for k, v in params.items()):
            continue
        out.append(b)
    return out


def codecarbon_j(b: Bench, stat: str = "median") -> float:
    """CodeCarbon's energy per call measured around the same rounds (``--energy-codecarbon``); NaN if none.

    Stored beside the energy block as ``extra_info["codecarbon"]`` (greenbench.meters.sidebyside): one window
    around the whole benchmark, ``{"source": "codecarbon", "estimated": true, "per_call_j": J}``, or no
    ``per_call_j`` and a ``hidden`` reason when the window was too short for CodeCarbon's sampling.
    Files from before issue #23 hold ``per_call_j`` as statistics over per-round trackers (``stat``).
    """
    cc = (b.get("extra_info") or {}).get("codecarbon")
    if not isinstance(cc, Mapping):
        return math.nan
    value = cc.get("per_call_j")
    if isinstance(value, Mapping):
        value = value.get(stat)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def mark(text: str, estimated: bool) -> str:
    """Append the estimated marker to a formatted figure ('-' for no figure stays bare)."""
    return f"{text}{ESTIMATED_MARK}" if estimated and text != "-" else text


def fmt_energy(b: Bench, stat: str = "median") -> str:
    return mark(fmt_si(energy_j(b, stat), "J"), is_estimated(b))

"""Cpu: a section of :mod:`greenbench.meters.model` (its docstring tells the whole story)."""

from __future__ import annotations

import functools
import os
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from greenbench.errors import DataError
from greenbench.meters.model.coefficients import (
    CORE_POWER_ENV,
    CORE_POWER_SOURCE,
    DEFAULT_CORE_POWER_W,
    TDP_TABLE,
    _positive,
)


@dataclass(frozen=True, slots=True)
class CpuInfo:
    """The CPU as the OS shows it: model name, physical cores, hardware threads."""

    model_name: str
    logical_cpus: int
    physical_cores: int
    source: str

    @property
    def threads_per_core(self) -> float:
        return self.logical_cpus / self.physical_cores if self.physical_cores else 1.0


def parse_cpuinfo(text: str, source: str = "/proc/cpuinfo") -> CpuInfo:
    """Model name, logical CPUs and physical cores from ``/proc/cpuinfo`` text.

    Physical cores are the distinct (``physical id``, ``core id``) pairs; a
    file without them (some ARM and VM kernels) counts one core per processor.
    """
    model = ""
    logical = 0
    cores: set[tuple[str, str]] = set()
    phys = core = ""
    for line in [*text.splitlines(), ""]:
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if not key:  # blank line: end of one processor block
            if phys or core:
                cores.add((phys, core))
            phys = core = ""
            continue
        if key == "processor":
            logical += 1
        elif key in ("model name", "hardware", "cpu model") and not model:
            model = value
        elif key == "physical id":
            phys = value
        elif key == "core id":
            core = value
    logical = max(logical, 1)
    physical = len(cores) if cores else logical
    return CpuInfo(model or "unknown", logical, min(physical, logical), source)


@functools.cache
def read_cpu_info(path: str = "/proc/cpuinfo") -> CpuInfo:
    """This machine's CPU (cached); without ``/proc/cpuinfo``, ``os.cpu_count()`` cores."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return parse_cpuinfo(f.read(), path)
    except OSError:
        n = os.cpu_count() or 1
        return CpuInfo("unknown", n, n, f"os.cpu_count() ({path} unreadable; SMT not detectable)")


_NOISE = re.compile(r"\((?:r|tm)\)|\b(?:intel|amd|cpu|processor|with radeon.*|\d+-core)\b|@.*$")


def normalise_cpu_name(name: str) -> str:
    """Lower case, without vendor, ®/™, "CPU", "Processor", "N-Core" and the "@ x GHz" tail."""
    return " ".join(_NOISE.sub(" ", name.lower()).split())


@dataclass(frozen=True, slots=True)
class TdpMatch:
    """The per-core power picked for a CPU and where it came from."""

    row: str
    tdp_w: float | None
    n_cores: int | None
    tdp_per_core_w: float
    matched: bool
    source: str


@functools.cache
def _tdp_rows() -> tuple[dict[str, str], ...]:
    from greenbench.datasets import read_csv

    return tuple(read_csv(TDP_TABLE, skip_units_row=True))


def _float(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def match_tdp(model_name: str, rows: Sequence[Mapping[str, str]] | None = None) -> TdpMatch:
    """The table row whose model appears, as whole words, in ``model_name`` (longest wins).

    "Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz" finds "Xeon Gold 6148"; a
    name the table lacks (e.g. a VM's "Intel(R) Xeon(R) Processor") gets the
    row "Any" (12 W per core), flagged ``matched=False``.
    """
    try:
        table = list(_tdp_rows()) if rows is None else list(rows)
    except DataError:
        table = []
    name = normalise_cpu_name(model_name)
    best: Mapping[str, str] | None = None
    best_len = 0
    for row in table:
        key = normalise_cpu_name(row.get("model", ""))
        if not key or row.get("model", "").strip() == "Any" or _float(row.get("TDP_per_core", "")) is None:
            continue
        if re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", name) and len(key) > best_len:
            best, best_len = row, len(key)
    if best is not None:
        tdp, n = _float(best.get("TDP", "")), _float(best.get("n_cores", ""))
        per_core = float(best["TDP_per_core"])
        return TdpMatch(best["model"].strip(), tdp, int(n) if n else None, per_core, True,
                        f"Green Algorithms v3.0 TDP_cpu.csv, row '{best['model'].strip()}' "
                        f"({tdp:g} W / {int(n or 0)} cores; {best.get('source', '').strip() or 'no source given'})")
    return TdpMatch("Any", None, None, DEFAULT_CORE_POWER_W, False,
                    f"CPU '{model_name}' not in the table: {CORE_POWER_SOURCE}, fallback")


def unknown_cpu_power_range_w(rows: Sequence[Mapping[str, str]] | None = None) -> tuple[float, float]:
    """Interquartile range of the table's ``TDP_per_core`` (W): the band for an unknown CPU."""
    try:
        table = list(_tdp_rows()) if rows is None else list(rows)
    except DataError:
        table = []
    values = sorted(v for r in table if r.get("model", "").strip() != "Any"
                    and (v := _float(r.get("TDP_per_core", ""))) is not None)
    if len(values) < 4:
        return DEFAULT_CORE_POWER_W * 0.5, DEFAULT_CORE_POWER_W * 1.5
    q1, _, q3 = statistics.quantiles(values, n=4)
    return q1, q3


def resolve_core_power_w(
    core_power_w: float | None = None, environ: Mapping[str, str] | None = None,
    cpu: CpuInfo | None = None,
) -> tuple[float, str]:
    """Per-core power (W) and where it came from: argument > env var > TDP table > 12 W."""
    if core_power_w is not None:
        return _positive(core_power_w, "ModelMeter.core_power_w"), "argument core_power_w"
    env = os.environ if environ is None else environ
    text = env.get(CORE_POWER_ENV, "").strip()
    if text:
        return _positive(text, f"environment variable {CORE_POWER_ENV}"), CORE_POWER_ENV
    if cpu is None:
        return DEFAULT_CORE_POWER_W, CORE_POWER_SOURCE
    m = match_tdp(cpu.model_name)
    return m.tdp_per_core_w, m.source


def allocated_cores(cpu: CpuInfo, cgroup_cpu_max: str = "/sys/fs/cgroup/cpu.max") -> tuple[float, str]:
    """Physical-core equivalents this process may use: affinity ÷ threads per core, capped by cpu.max."""
    try:
        logical = len(os.sched_getaffinity(0))
        how = f"{logical} CPUs in this process's affinity"
    except (AttributeError, OSError):
        logical, how = cpu.logical_cpus, f"{cpu.logical_cpus} CPUs ({cpu.source})"
    cores = logical / max(cpu.threads_per_core, 1.0)
    try:
        with open(cgroup_cpu_max, encoding="ascii") as f:
            quota, period = f.read().split()[:2]
        if quota != "max" and float(period) > 0:
            limit = float(quota) / float(period)
            if limit < cores:
                cores, how = limit, f"cgroup cpu.max quota {quota}/{period}"
    except (OSError, ValueError):
        pass
    return max(cores, 1e-3), how

"""Pick the best readable energy source, once, and say why.

Order for the CPU side: RAPL (hardware counters, whole machine) when its
``energy_uj`` files are readable, else the CPU-time model (estimated, this
process).  When NVML sees a GPU its meter joins the CPU side in a
:class:`CompositeMeter` (``rapl+nvml`` / ``model+nvml``).  CodeCarbon is
never chosen automatically (milliseconds per window, whole-machine
estimates); ask for it by name.

:func:`auto_meter` never raises for a missing source: each one it could not
use is recorded with the reason (:func:`probe_report`).  A malformed
setting (e.g. ``GREENBENCH_CORE_POWER_W=abc``) still raises ConfigError.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from greenbench.errors import ConfigError, MeterError, MeterUnavailable
from greenbench.meters.base import Measurement, Meter, MeterBase
from greenbench.meters.codecarbon import CodeCarbonMeter
from greenbench.meters.model import ModelMeter
from greenbench.meters.nvml import NvmlMeter, nvidia_driver_present
from greenbench.meters.rapl import DEFAULT_POWERCAP_ROOT, RaplMeter

_M = TypeVar("_M", RaplMeter, NvmlMeter)

#: names accepted by :func:`get_meter`
METER_NAMES = ("auto", "rapl", "nvml", "codecarbon", "model", "counted")


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """One energy source as probed: can it be read here, is it used, and why."""

    name: str
    available: bool
    used: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "available": self.available, "used": self.used, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Probe:
    """The outcome of probing: the chosen meter, why, and every source's status."""

    meter: Meter
    reason: str
    sources: tuple[SourceStatus, ...]


class CompositeMeter(MeterBase):
    """A CPU-side meter and a GPU meter over the same window; domains merged.

    ``estimated`` if either part is.  The CPU window encloses the GPU one
    (started first, stopped last), so the composite's duration is the CPU part's.
    """

    def __init__(self, cpu: Meter, gpu: Meter, *, reason: str = "asked for explicitly") -> None:
        self.parts = (cpu, gpu)
        self.source = f"{cpu.source}+{gpu.source}"
        self.estimated = bool(cpu.estimated or gpu.estimated)
        self.update_period_s = max(cpu.update_period_s, gpu.update_period_s)
        self.reason = reason

    def start(self) -> None:
        cpu, gpu = self.parts
        cpu.start()
        try:
            gpu.start()
        except BaseException:
            cpu.stop()  # leave the CPU meter closed so it can start again
            raise

    def stop(self) -> Measurement:
        cpu, gpu = self.parts
        try:
            g = gpu.stop()
        finally:
            c = cpu.stop()
        domains = dict(c.domains)
        for key, value in g.domains.items():
            if key in domains:
                raise MeterError(
                    f"CompositeMeter: domain {key!r} reported by both {cpu.source} and {gpu.source}"
                )
            domains[key] = value
        return Measurement(
            energy_j=c.energy_j + g.energy_j,
            duration_s=c.duration_s,
            cpu_time_s=c.cpu_time_s,
            source=self.source,
            estimated=self.estimated,
            domains=domains,
            notes=c.notes + g.notes,
            figures=getattr(c, "figures", {}),  # the model's side figures cover the CPU side only
        )

    def describe(self) -> dict[str, Any]:
        parts = [p.describe() for p in self.parts]
        return {
            "source": self.source,
            "estimated": self.estimated,
            "update_period_s": self.update_period_s,
            "domains": [d for part in parts for d in part.get("domains", [])],
            "reason": self.reason,
            "parts": parts,
        }


def _try(factory: Callable[[], _M]) -> tuple[_M | None, str]:
    try:
        return factory(), ""
    except MeterUnavailable as exc:
        return None, str(exc)


def probe(powercap_root: str | os.PathLike[str] = DEFAULT_POWERCAP_ROOT, nvml: Any = None) -> Probe:
    """Probe every source (uncached; :func:`auto_meter` caches the default probe).

    ``powercap_root`` and ``nvml`` (a pynvml-like module) are for tests.
    Without an injected ``nvml`` the pynvml import (~25 ms) is skipped when
    no NVIDIA driver shows itself.
    """
    rapl, rapl_why = _try(lambda: RaplMeter(powercap_root))
    if nvml is None and not nvidia_driver_present():
        gpu: NvmlMeter | None = None
        nvml_why = "NVML: no NVIDIA driver here (/proc/driver/nvidia and /dev/nvidiactl absent)"
    else:
        gpu, nvml_why = _try(lambda: NvmlMeter(nvml=nvml))

    cpu: RaplMeter | ModelMeter
    if rapl is not None:
        cpu = rapl
        keys = ", ".join(z.key for z in rapl.zones)
        cpu_why = f"rapl: energy counters readable under {rapl.layout.root} ({keys})"
        model_status = SourceStatus("model", True, False, "fallback only; RAPL counters are readable")
    else:
        cpu = ModelMeter()
        cpu_why = f"model (estimated, this process tree only): {rapl_why}"
        model_status = SourceStatus("model", True, True, "no readable hardware counter for the CPU")

    if gpu is not None:
        names = ", ".join(f"gpu{g.index} {g.name} ({g.path})" for g in gpu.gpus)
        why = f"{cpu_why}; nvml: {names}"
        meter: RaplMeter | ModelMeter | CompositeMeter = CompositeMeter(cpu, gpu, reason=why)
        gpu_status = SourceStatus("nvml", True, True, names)
    else:
        why = cpu_why
        meter = cpu
        gpu_status = SourceStatus("nvml", False, False, nvml_why)
    cpu.reason = meter.reason = why
    if gpu is not None:
        gpu.reason = why

    has_cc = importlib.util.find_spec("codecarbon") is not None
    cc_status = SourceStatus(
        "codecarbon", has_cc, False,
        "never chosen automatically (ms per window, whole-machine estimate); ask for get_meter('codecarbon')"
        if has_cc else "the codecarbon package is not installed (`pip install codecarbon`)",
    )
    rapl_status = SourceStatus("rapl", rapl is not None, rapl is not None, cpu_why if rapl else rapl_why)
    return Probe(meter, why, (rapl_status, gpu_status, model_status, cc_status))


@functools.cache
def _default_probe() -> Probe:
    return probe()


def auto_meter() -> Meter:
    """The best meter readable here (probed once per process, then cached).

    One shared instance: one window at a time.  ``auto_meter().describe()["reason"]``
    says what was picked and why; :func:`probe_report` lists every source.
    """
    return _default_probe().meter


def probe_report() -> tuple[SourceStatus, ...]:
    """Every source of the cached probe: available, used, and why (or why not)."""
    return _default_probe().sources


def format_probe_report(sources: tuple[SourceStatus, ...] | None = None) -> str:
    """One line per source, for terminals and logs."""
    rows = probe_report() if sources is None else sources
    return "\n".join(
        f"{s.name:<10} {'used' if s.used else 'available' if s.available else 'unavailable':<11} {s.reason}"
        for s in rows
    )


def clear_cache() -> None:
    """Forget the cached probe (tests; a machine whose permissions just changed)."""
    _default_probe.cache_clear()


_EXPLICIT: dict[str, Callable[[], Meter]] = {
    "rapl": RaplMeter,
    "nvml": NvmlMeter,
    "codecarbon": CodeCarbonMeter,
    "model": ModelMeter,
    "counted": lambda: _counted(),  # noqa: PLW0108 - defined below; issue #12: only under the callgrind run the plugin re-launches
}


def _counted() -> Meter:
    from greenbench.meters.counted import CountedMeter

    return CountedMeter()


def _user_meter(spec: str) -> Meter:
    """``MODULE:ATTR``: a meter class (or factory) of the user's, built with no arguments."""
    import importlib

    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except ImportError as exc:
        raise ConfigError(f"--energy-meter {spec}: cannot import {module_name} ({exc})") from None
    except AttributeError:
        raise ConfigError(f"--energy-meter {spec}: {module_name} has no {attr}") from None
    meter = factory()
    if not isinstance(meter, Meter):
        raise ConfigError(f"--energy-meter {spec}: {attr}() is not a meter (expected source, estimated, "
                          "update_period_s, start(), stop() and describe(); see greenbench.meters.MeterBase)")
    return meter


def get_meter(name: str) -> Meter:
    """The meter named ``name`` (one of :data:`METER_NAMES`), for the plugin's option.

    ``"auto"`` is :func:`auto_meter` and never raises for a missing source; any
    other name builds a fresh meter and raises MeterUnavailable, with the fix,
    if that source cannot be read here.  Unknown names raise ConfigError.
    """
    if isinstance(name, str) and ":" in name:
        return _user_meter(name.strip())
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in METER_NAMES:
        raise ConfigError(f"meter name {name!r}: expected one of {', '.join(METER_NAMES)}, or MODULE:CLASS")
    if key == "auto":
        return auto_meter()
    try:
        return _EXPLICIT[key]()
    except MeterUnavailable as exc:
        raise MeterUnavailable(
            f"{exc}; or use the 'auto' meter, which falls back to the estimated model"
        ) from None

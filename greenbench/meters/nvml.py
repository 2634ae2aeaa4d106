"""NVIDIA GPU energy through NVML (the ``nvidia-ml-py`` package, imported as ``pynvml``).

Two paths, chosen per GPU:

* **counter** -- ``nvmlDeviceGetTotalEnergyConsumption`` (mJ since the
  driver loaded; Volta and newer).  Read at start and stop; read off the
  board's energy counter, so ``estimated=False``.
* **sampling** -- older boards without the counter: ``nvmlDeviceGetPowerUsage``
  (mW) sampled by a background thread while a window is open and integrated
  with the trapezoid rule.  The samples come off the board's power sensor,
  but the energy between them is interpolated, not counted: by this
  project's rule (only energy read off a hardware energy counter is
  measured) these figures are ``estimated=True``, and each Measurement says
  so in its notes.

NVML reports the whole board, every process on it.  Imports: stdlib and
:mod:`greenbench.errors`; ``pynvml`` lazily (or an injected module for tests).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from greenbench.errors import ConfigError, MeterError, MeterUnavailable
from greenbench.meters.base import Measurement, MeterBase

#: NVML's power and energy readings refresh about every 100 ms on recent
#: boards (Yang, Adámek & Armour 2024, "Accurate and Convenient Energy
#: Measurements for GPUs", SC'24: A100/H100 update power every 100 ms).
NVML_UPDATE_PERIOD_S = 0.1

#: A generous bound on one board's power (W): 2024 boards top out near 1.2 kW (GB200);
#: a window above bound x (duration + slack) is refused as impossible energy.
MAX_GPU_POWER_W = 2000.0
BOUND_SLACK_S = 2 * NVML_UPDATE_PERIOD_S

#: A window at least this long in which a board's energy did not move is a stuck
#: counter (a powered GPU never draws 0 W), not 0 J measured.
STUCK_WINDOW_S = 10 * NVML_UPDATE_PERIOD_S

#: Default interval (s) between power samples on boards without an energy counter.
DEFAULT_SAMPLE_INTERVAL_S = 0.05

INSTALL_HINT = "install it with `pip install nvidia-ml-py` (or `pip install greenbench[nvml]`)"


def mj_to_j(energy_mj: float) -> float:
    """The one conversion of NVML energy (mJ, or mW·s from integrated samples) to joules."""
    return energy_mj / 1e3


def nvidia_driver_present() -> bool:
    """Cheap hint that NVML could work here, checked before importing pynvml (~25 ms).

    On Linux the driver shows itself in ``/proc/driver/nvidia`` or
    ``/dev/nvidiactl`` (WSL: ``/usr/lib/wsl/lib/libnvidia-ml.so.1``); other
    systems are left to NVML itself.
    """
    if not sys.platform.startswith("linux"):
        return True
    return any(
        os.path.exists(p)
        for p in ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/usr/lib/wsl/lib/libnvidia-ml.so.1")
    )


def import_pynvml() -> Any:
    """The ``pynvml`` module from nvidia-ml-py, or MeterUnavailable with the fix."""
    try:
        import pynvml
    except ImportError:
        raise MeterUnavailable(f"NVML: the nvidia-ml-py package is not installed; {INSTALL_HINT}") from None
    return pynvml


def _error_text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


@dataclass(frozen=True, slots=True)
class GpuInfo:
    """One measured GPU: NVML index, name, and path ("counter" or "sampling")."""

    index: int
    name: str
    path: str

    @property
    def key(self) -> str:
        return f"gpu{self.index}"


class _Sampled:
    """Running trapezoid integral of one board's power (mW·s = mJ)."""

    __slots__ = ("energy_mj", "handle", "power_last_mw", "t_last_s")

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.t_last_s = 0.0
        self.power_last_mw = 0.0
        self.energy_mj = 0.0


def _sample_loop(ref: weakref.ReferenceType[NvmlMeter], interval_s: float,
                 active: threading.Event, halt: threading.Event) -> None:
    # Sleeps on `active` between windows: no NVML calls while nothing is measured.
    while not halt.is_set():
        active.wait()
        if halt.wait(interval_s):
            return
        meter = ref()
        if meter is None:
            return
        try:
            meter.sample()
        except MeterError as exc:
            # a thread cannot raise to the caller: stop() re-raises it
            meter.sample_error = exc
        del meter


def _shutdown(nvml: Any, halt: threading.Event, active: threading.Event) -> None:
    halt.set()
    active.set()  # wake the sampler so it sees `halt`
    shutdown = getattr(nvml, "nvmlShutdown", None)
    if shutdown is not None:
        with contextlib.suppress(Exception):  # shutting down at exit must not raise
            shutdown()


class NvmlMeter(MeterBase):
    """Energy (J) of NVIDIA GPUs: ``domains={"gpu0": J, ...}``.

    ``device_indices``: NVML indices to measure (default: all).  ``nvml``: a
    module object with pynvml's API (tests inject a fake).  ``clock`` /
    ``cpu_clock`` (s) are injectable; ``background=False`` leaves sampling to
    the caller (:meth:`sample`).  One window at a time per instance.
    """

    source = "nvml"

    def __init__(
        self,
        device_indices: Sequence[int] | None = None,
        nvml: Any = None,
        *,
        sample_interval_s: float = DEFAULT_SAMPLE_INTERVAL_S,
        clock: Callable[[], float] = time.perf_counter,
        cpu_clock: Callable[[], float] = time.process_time,
        background: bool = True,
        reason: str = "asked for explicitly",
    ) -> None:
        if not sample_interval_s > 0:
            raise ConfigError(f"NvmlMeter.sample_interval_s: expected > 0 s, got {sample_interval_s!r}")
        self._nvml = nvml = import_pynvml() if nvml is None else nvml
        err = nvml.NVMLError
        try:
            nvml.nvmlInit()
        except err as exc:
            raise MeterUnavailable(
                f"NVML: cannot initialise ({_error_text(exc)}): no NVIDIA driver is loaded here; "
                "install the NVIDIA driver"
            ) from None
        try:
            count = int(nvml.nvmlDeviceGetCount())
        except err as exc:
            raise MeterUnavailable(f"NVML: cannot count GPUs ({_error_text(exc)})") from None
        if count == 0:
            raise MeterUnavailable("NVML: the driver is loaded but sees no GPU")
        if device_indices is None:
            indices = list(range(count))
        else:
            indices = list(device_indices)
            bad = [i for i in indices if not isinstance(i, int) or not 0 <= i < count]
            if bad or not indices:
                raise ConfigError(
                    f"NvmlMeter.device_indices: expected indices in 0..{count - 1}, "
                    f"got {list(device_indices)!r}"
                )
        self._clock = clock
        self._cpu_clock = cpu_clock
        self.sample_interval_s = float(sample_interval_s)
        self.reason = reason

        gpus: list[GpuInfo] = []
        self._counter_handles: list[Any] = []
        self._sampled: list[_Sampled] = []
        for i in indices:
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(i)
            except err as exc:
                raise MeterUnavailable(f"NVML: cannot open GPU {i} ({_error_text(exc)})") from None
            name = self._device_name(handle)
            try:
                nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
                path = "counter"
            except err:
                # pre-Volta boards answer NVML_ERROR_NOT_SUPPORTED: fall back to power samples
                try:
                    nvml.nvmlDeviceGetPowerUsage(handle)
                except err as exc:
                    raise MeterUnavailable(
                        f"NVML: GPU {i} ({name}) reports neither energy nor power ({_error_text(exc)})"
                    ) from None
                path = "sampling"
            gpus.append(GpuInfo(i, name, path))
            if path == "counter":
                self._counter_handles.append(handle)
            else:
                self._sampled.append(_Sampled(handle))
        self.gpus = tuple(gpus)
        self._counter_keys = [g.key for g in gpus if g.path == "counter"]
        self._sampled_keys = [g.key for g in gpus if g.path == "sampling"]
        self.estimated = bool(self._sampled)
        self.update_period_s = max(NVML_UPDATE_PERIOD_S, self.sample_interval_s) if self._sampled \
            else NVML_UPDATE_PERIOD_S
        self._notes: tuple[str, ...] = tuple(
            f"{key}: estimated -- integrated (trapezoid) from board power samples every "
            f"{self.sample_interval_s:g} s (no energy counter on this GPU)"
            for key in self._sampled_keys
        )

        self._lock = threading.Lock()
        self._start_mj: list[int] = []
        self._background = background
        self._thread: threading.Thread | None = None
        self.sample_error: MeterError | None = None
        self._active = threading.Event()
        self._halt = threading.Event()
        self._finalizer = weakref.finalize(self, _shutdown, nvml, self._halt, self._active)

    def _device_name(self, handle: Any) -> str:
        try:
            name = self._nvml.nvmlDeviceGetName(handle)
        except Exception:  # a name is only for the record
            return "unknown"
        return name.decode() if isinstance(name, bytes) else str(name)

    # -- readings -----------------------------------------------------------
    def counters(self) -> tuple[int, ...]:
        """The boards' total-energy counters (mJ), read now (boards without one are not included)."""
        return tuple(self._read_counters_mj())

    def _read_counters_mj(self) -> list[int]:
        try:
            return [int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(h)) for h in self._counter_handles]
        except self._nvml.NVMLError as exc:
            raise MeterError(f"NVML: energy counter read failed ({_error_text(exc)})") from None

    def _read_power_mw(self, state: _Sampled) -> float:
        try:
            return float(self._nvml.nvmlDeviceGetPowerUsage(state.handle))
        except self._nvml.NVMLError as exc:
            raise MeterError(f"NVML: power read failed ({_error_text(exc)})") from None

    def _sample_at(self, t_s: float) -> None:
        # caller holds self._lock
        for state in self._sampled:
            power_mw = self._read_power_mw(state)
            state.energy_mj += (state.power_last_mw + power_mw) / 2 * (t_s - state.t_last_s)
            state.t_last_s = t_s
            state.power_last_mw = power_mw

    def sample(self) -> None:
        """Take one power sample of every sampled GPU (the sampler thread calls this)."""
        if not self._window_open or not self._sampled:
            return
        with self._lock:
            if self._window_open:
                self._sample_at(self._clock())

    # -- window ---------------------------------------------------------------
    def start(self) -> None:
        self._begin_window()
        if self._sampled and self._background and self._thread is None:
            self._thread = threading.Thread(
                target=_sample_loop,
                args=(weakref.ref(self), self.sample_interval_s, self._active, self._halt),
                name="greenbench-nvml-sampler",
                daemon=True,
            )
            self._thread.start()
        with self._lock:
            t0 = self._clock()
            cpu0 = self._cpu_clock()
            self._start_mj = self._read_counters_mj()
            for state in self._sampled:
                state.power_last_mw = self._read_power_mw(state)
                state.t_last_s = t0
                state.energy_mj = 0.0
            self.sample_error = None
            self._mark_open(t0, cpu0)
        if self._sampled:
            self._active.set()

    def stop(self) -> Measurement:
        with self._lock:
            # closed first: a failed read below must not leave the window open
            self._end_window()
            self._active.clear()
            if self.sample_error is not None:
                exc, self.sample_error = self.sample_error, None
                raise MeterError(f"NVML: the power sampler failed in this window: {exc}")
            end_mj = self._read_counters_mj()
            t1 = self._clock()
            self._sample_at(t1)
            cpu1 = self._cpu_clock()
            sampled_mj = [s.energy_mj for s in self._sampled]
        domains: dict[str, float] = {}
        for key, before, after in zip(self._counter_keys, self._start_mj, end_mj, strict=True):
            if after < before:
                raise MeterError(f"NVML: {key} energy counter went backwards (driver reloaded?)")
            domains[key] = mj_to_j(after - before)
        for key, energy_mj in zip(self._sampled_keys, sampled_mj, strict=True):
            domains[key] = mj_to_j(energy_mj)
        duration_s, cpu_s = self._elapsed(t1, cpu1)
        bound_j = MAX_GPU_POWER_W * (duration_s + BOUND_SLACK_S)
        for key, energy_j in domains.items():
            if not energy_j <= bound_j:
                raise MeterError(f"NVML: {key} counted {energy_j:.4g} J in {duration_s:.3g} s, above a board's "
                                 f"{MAX_GPU_POWER_W:g} W bound: impossible energy (a counter glitch); "
                                 "this window is refused")
            if energy_j == 0 and duration_s >= STUCK_WINDOW_S:
                raise MeterError(f"NVML: {key} energy did not move in a {duration_s:.3g} s window: a powered GPU "
                                 "never draws 0 W, so the counter is stuck (driver issue?), not 0 J; this window "
                                 "is refused")
        notes = self._notes
        if duration_s < self.update_period_s:
            notes += (f"window shorter than NVML's ~{self.update_period_s:g} s update period",)
        return Measurement(
            energy_j=sum(domains.values()),
            duration_s=duration_s,
            cpu_time_s=cpu_s,
            source="nvml",
            estimated=self.estimated,
            domains={k: domains[k] for k in (g.key for g in self.gpus)},
            notes=notes,
        )

    def close(self) -> None:
        """Stop the sampler and release NVML."""
        self._finalizer()

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "domains": [g.key for g in self.gpus],
            "reason": self.reason,
            "devices": [{"index": g.index, "name": g.name, "path": g.path} for g in self.gpus],
            "sample_interval_s": self.sample_interval_s if self._sampled else None,
            "scope": "whole GPU board (all processes on it)",
        }

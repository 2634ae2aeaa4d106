"""Fabricated hardware for the meter tests: powercap trees and a fake NVML module.

Not a test module (no ``test_`` prefix): helpers imported by tests/test_meters_*.py.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

#: typical Intel package counter range (µJ): 2^32 energy units of 61.035 µJ
INTEL_RANGE_UJ = 262_143_328_850

#: counter values are written fixed-width and in place, so a meter holding
#: the file open (pread at offset 0) sees each new value, never a torn one
_WIDTH = 24


def _write_counter(path: Path, value_uj: int) -> None:
    data = f"{value_uj:>{_WIDTH - 1}}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, data, 0)
    finally:
        os.close(fd)


def build_powercap(tmp_path: Path, zones: dict[str, tuple[str, int]] | list[tuple[str, str, int]],
                   range_uj: int = INTEL_RANGE_UJ) -> Path:
    """Lay out powercap as the kernel does; return the ``class/powercap`` directory.

    ``zones``: ``{"intel-rapl:0": ("package-0", energy_uj), "intel-rapl:0:0": ("dram", e)}``.
    Real zone directories live nested under ``devices/virtual/powercap/intel-rapl``;
    ``class/powercap`` holds flat symlinks to them, plus the ``intel-rapl`` control type.
    """
    devices = tmp_path / "devices" / "virtual" / "powercap" / "intel-rapl"
    cls = tmp_path / "class" / "powercap"
    devices.mkdir(parents=True, exist_ok=True)
    cls.mkdir(parents=True, exist_ok=True)
    items = zones.items() if isinstance(zones, dict) else [(z, (n, e)) for z, n, e in zones]
    for zone_id, (name, energy_uj) in items:
        parts = zone_id.split(":")
        zone_dir = devices / zone_id if len(parts) == 2 else devices / f"intel-rapl:{parts[1]}" / zone_id
        zone_dir.mkdir(parents=True, exist_ok=True)
        (zone_dir / "name").write_text(name + "\n")
        (zone_dir / "max_energy_range_uj").write_text(f"{range_uj}\n")
        _write_counter(zone_dir / "energy_uj", energy_uj)
        (cls / zone_id).symlink_to(zone_dir)
    if not (cls / "intel-rapl").exists():
        (cls / "intel-rapl").symlink_to(devices)
    return cls


def set_energy(cls_dir: Path, zone_id: str, value_uj: int) -> None:
    """Move one zone's counter to ``value_uj`` (in place)."""
    _write_counter(cls_dir / zone_id / "energy_uj", value_uj)


# -- fake NVML ---------------------------------------------------------------

NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
_MESSAGES = {
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
}


class FakeNVMLError(Exception):
    """Like pynvml.NVMLError: carries the NVML return code in ``value``."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return _MESSAGES.get(self.value, f"NVML error {self.value}")


@dataclass
class FakeGpu:
    """One board: ``energy_mj`` None = no energy counter; ``power_mw`` None = no power reading."""

    name: str = "Fake A100"
    energy_mj: int | None = 0
    power_mw: float | None = 100_000.0
    fail_reads: bool = False
    power_reads: int = 0


@dataclass
class FakeNvml:
    """A module-like object with the slice of pynvml's API NvmlMeter uses."""

    gpus: list[FakeGpu] = field(default_factory=list)
    init_error: int | None = None
    NVMLError: type[FakeNVMLError] = FakeNVMLError
    shutdowns: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise FakeNVMLError(self.init_error)

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        return self.gpus[index]

    def nvmlDeviceGetName(self, handle: FakeGpu) -> bytes:
        return handle.name.encode()  # older nvidia-ml-py returns bytes

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: FakeGpu) -> int:
        if handle.energy_mj is None:
            raise FakeNVMLError(NVML_ERROR_NOT_SUPPORTED)
        if handle.fail_reads:
            raise FakeNVMLError(NVML_ERROR_DRIVER_NOT_LOADED)
        return handle.energy_mj

    def nvmlDeviceGetPowerUsage(self, handle: FakeGpu) -> float:
        if handle.power_mw is None:
            raise FakeNVMLError(NVML_ERROR_NOT_SUPPORTED)
        if handle.fail_reads:
            raise FakeNVMLError(NVML_ERROR_DRIVER_NOT_LOADED)
        with self.lock:
            handle.power_reads += 1
        return handle.power_mw


class SteppingClock:
    """A clock returning the given values in turn (then repeating the last)."""

    def __init__(self, *values: float) -> None:
        self.values = list(values)
        self.calls = 0

    def __call__(self) -> float:
        value = self.values[min(self.calls, len(self.values) - 1)]
        self.calls += 1
        return value

"""The one module of test fakes: fabricated powercap trees, a fake NVML module,
deterministic meters, a stand-in for pytest-benchmark's fixture, and the one
builder of result entries (:func:`make_entry`, from :class:`greenbench.results.EnergyRecord`).

Not a test module (no ``test_`` prefix); tests import it as ``fakes``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greenbench.meters.base import Measurement, MeterBase
from greenbench.results import EnergyRecord, stats_fields

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


class FakeMeter(MeterBase):
    """Each window costs ``joules`` and lasts ``seconds``, deterministically."""

    source = "model"
    estimated = True
    update_period_s = 0.0

    def __init__(self, joules: list[float], seconds: float = 0.01) -> None:
        self.joules = list(joules)
        self.seconds = seconds
        self.open = False

    def start(self) -> None:
        assert not self.open
        self.open = True

    def stop(self) -> Measurement:
        self.open = False
        e = self.joules.pop(0)
        return Measurement(e, self.seconds, self.seconds, "model", True, {"cpu": e * 0.75, "memory": e * 0.25})


class FakeFixture:
    """The two attributes of pytest-benchmark's BenchmarkFixture the recorder touches."""

    def _make_runner(self, function: Any, args: Any, kwargs: Any) -> Any:
        def runner(loops_range: Any, timer: Any = None) -> Any:
            if loops_range:
                for _ in loops_range:
                    function(*args, **kwargs)
                return 0.001
            return 0.001, function(*args, **kwargs)

        return runner


def make_record(rounds_j: list[float] | None = None, *, estimated: bool = True, source: str = "model",
                intensity_g_per_kwh: float = 475.0, duration_s: float = 0.01, **fields: Any) -> EnergyRecord:
    """An energy record with per-call energies ``rounds_j`` (one call per round)."""
    import statistics

    rounds = list(rounds_j if rounds_j is not None else [1.0, 1.1, 1.2])
    s = sorted(rounds)
    q1 = s[(len(s) - 1) // 4]
    q3 = s[(3 * (len(s) - 1)) // 4]
    per_call = {"min": s[0], "max": s[-1], "mean": statistics.fmean(s), "median": statistics.median(s),
                "stddev": statistics.stdev(s) if len(s) > 1 else 0.0, "q1": q1, "q3": q3, "iqr": q3 - q1,
                "rounds": len(s)}
    base: dict[str, Any] = {
        "source": source, "estimated": estimated, "per_call_j": per_call, "rounds_j": tuple(rounds),
        "calls": len(rounds), "total_j": sum(rounds), "power_w": sum(rounds) / (duration_s * len(rounds)),
        "cpu_time_s": duration_s, "co2e_g": per_call["median"] / 3.6e6 * intensity_g_per_kwh,
        "intensity_g_per_kwh": intensity_g_per_kwh, "intensity_label": "test", "contended": (False,) * len(rounds),
    }
    base.update(fields)
    return EnergyRecord(**base)


def make_entry(name: str = "test_x", rounds_j: list[float] | None = None, *, group: str | None = None,
               time_s: float | None = None, params: dict[str, Any] | None = None, extra: dict[str, Any] | None = None,
               energy: bool = True, fullname: str | None = None, **record_fields: Any) -> dict[str, Any]:
    """One pytest-benchmark JSON entry as greenbench writes it (``energy=False``: plain pytest-benchmark).

    ``time_s`` defaults to 10 ms per joule of the rounds' minimum (0.01 s without energy): the model meter's
    energy follows CPU time, and the gate checks that they move together (issue #17).
    """
    if time_s is None:
        time_s = 0.01 * min(rounds_j) if energy and rounds_j and min(rounds_j) > 0 else 0.01
    info: dict[str, Any] = dict(extra or {})
    stats: dict[str, Any] = {"min": time_s, "max": time_s, "mean": time_s, "median": time_s, "stddev": 0.0,
                             "rounds": len(rounds_j or [0, 0, 0])}
    if energy:
        block = make_record(rounds_j, **record_fields).to_json()
        info["energy"] = block
        stats.update(stats_fields(block))
    return {"name": name, "fullname": fullname or f"bench/test_x.py::{name}", "group": group,
            "params": params, "stats": stats, "extra_info": info}


class OpcodeMeter(MeterBase):
    """A deterministic meter for end-to-end gate tests: Python bytecodes run in the window x 1 nJ.

    Counted with ``sys.settrace`` opcode events, so the same work gives the same figure however busy
    the machine is (like the counted meter, without Valgrind).  Use it in a pytester subprocess as
    ``--energy-meter=fakes:OpcodeMeter`` with this folder on ``PYTHONPATH``.
    """

    source = "opcodes"
    estimated = True
    deterministic = True
    J_PER_OPCODE = 1e-9

    def __init__(self) -> None:
        self._n = 0

    def _count(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "opcode":
            self._n += 1
        return self._count

    def _enter(self, frame: Any, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        return self._count

    def start(self) -> None:
        import sys
        import time

        self._begin_window()
        self._n = 0
        self._mark_open(time.perf_counter(), time.process_time())
        sys.settrace(self._enter)

    def stop(self) -> Measurement:
        import sys
        import time

        sys.settrace(None)
        n = self._n
        self._end_window()
        duration_s, cpu_s = self._elapsed(time.perf_counter(), time.process_time())
        energy_j = n * self.J_PER_OPCODE
        return Measurement(energy_j, duration_s, cpu_s, self.source, True, {"opcodes": energy_j})

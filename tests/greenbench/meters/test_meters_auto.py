"""Auto-selection, the composite meter, and get_meter's errors."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fakes import (
    NVML_ERROR_LIBRARY_NOT_FOUND,
    FakeGpu,
    FakeNvml,
    build_powercap,
    set_energy,
)

import greenbench.meters.rapl as rapl_module
from greenbench.errors import ConfigError, MeterError, MeterUnavailable
from greenbench.meters import (
    METER_NAMES,
    CodeCarbonMeter,
    CompositeMeter,
    Meter,
    ModelMeter,
    RaplMeter,
    auto_meter,
    clear_cache,
    format_probe_report,
    get_meter,
    probe,
    probe_report,
)
from greenbench.meters.nvml import nvidia_driver_present

NO_DRIVER = FakeNvml([], init_error=NVML_ERROR_LIBRARY_NOT_FOUND)
TREE = {"intel-rapl:0": ("package-0", 0), "intel-rapl:0:0": ("dram", 0)}


def statuses(p: object) -> dict[str, tuple[bool, bool, str]]:
    return {s.name: (s.available, s.used, s.reason) for s in p.sources}  # type: ignore[attr-defined]


def test_readable_rapl_is_chosen(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, TREE)
    p = probe(cls, nvml=NO_DRIVER)
    assert isinstance(p.meter, RaplMeter)
    assert p.meter.source == "rapl" and p.meter.estimated is False
    assert "rapl" in p.meter.describe()["reason"]
    s = statuses(p)
    assert s["rapl"][:2] == (True, True)
    assert s["model"][:2] == (True, False)
    assert s["nvml"][:2] == (False, False) and "Library Not Found" in s["nvml"][2]
    p.meter.start()
    set_energy(cls, "intel-rapl:0", 2_000_000)
    assert p.meter.stop().energy_j == 2.0


def test_root_only_rapl_falls_back_to_model_with_the_reason(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def root_only(path: str) -> int:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(rapl_module.meter, "_open_ro", root_only)
    p = probe(build_powercap(tmp_path, TREE), nvml=NO_DRIVER)
    assert isinstance(p.meter, ModelMeter)
    assert p.meter.estimated is True
    reason = p.meter.describe()["reason"]
    assert "chmod a+r" in reason and "model" in reason
    s = statuses(p)
    assert s["rapl"][:2] == (False, False) and "energy_uj" in s["rapl"][2]
    assert s["model"][:2] == (True, True)


def test_missing_tree_falls_back_to_model(tmp_path: Path) -> None:
    p = probe(tmp_path / "absent", nvml=NO_DRIVER)
    assert isinstance(p.meter, ModelMeter)
    assert "not found" in p.reason


def test_gpu_joins_rapl_in_a_composite(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, TREE)
    gpu = FakeGpu(energy_mj=0)
    p = probe(cls, nvml=FakeNvml([gpu]))
    meter = p.meter
    assert isinstance(meter, CompositeMeter)
    assert meter.source == "rapl+nvml" and meter.estimated is False
    meter.start()
    set_energy(cls, "intel-rapl:0", 3_000_000)
    set_energy(cls, "intel-rapl:0:0", 1_000_000)
    gpu.energy_mj = 5_000
    time.sleep(0.01)  # 3 J in >= 10 ms: below RAPL's 1 kW plausibility bound (issue #13)
    m = meter.stop()
    assert m.source == "rapl+nvml" and m.estimated is False
    assert dict(m.domains) == {"package-0": 3.0, "dram-0": 1.0, "gpu0": 5.0}
    assert m.energy_j == 9.0
    info = json.loads(json.dumps(meter.describe()))
    assert info["domains"] == ["package-0", "dram-0", "gpu0"]
    assert "nvml" in info["reason"] and len(info["parts"]) == 2
    assert statuses(p)["nvml"][:2] == (True, True)


def test_gpu_with_model_is_estimated(tmp_path: Path) -> None:
    p = probe(tmp_path / "absent", nvml=FakeNvml([FakeGpu(energy_mj=0)]))
    assert p.meter.source == "model+nvml"
    assert p.meter.estimated is True
    with p.meter.measure() as w:  # type: ignore[attr-defined]
        pass
    assert w.measurement is not None
    assert set(w.measurement.domains) == {"cpu", "memory", "gpu0"}
    assert w.measurement.estimated is True


class Exploding:
    source, estimated, update_period_s = "nvml", False, 0.1

    def start(self) -> None:
        raise MeterError("gpu start failed")

    def stop(self) -> None:  # pragma: no cover - never reached
        raise AssertionError

    def describe(self) -> dict[str, object]:
        return {}


def test_composite_closes_cpu_window_when_gpu_start_fails() -> None:
    cpu = ModelMeter()
    meter = CompositeMeter(cpu, Exploding())  # type: ignore[arg-type]
    with pytest.raises(MeterError, match="gpu start failed"):
        meter.start()
    cpu.start()  # not left open
    cpu.stop()


def test_auto_meter_here_is_the_model_and_cached() -> None:
    clear_cache()
    meter = auto_meter()
    assert meter is auto_meter()
    assert isinstance(meter, Meter)
    info = json.loads(json.dumps(meter.describe()))
    report = {s.name: s for s in probe_report()}
    assert set(report) == {"rapl", "nvml", "model", "codecarbon"}
    assert not report["codecarbon"].used
    assert report["model"].used is not report["rapl"].used
    if not report["rapl"].available:  # as on these machines: no RAPL
        assert info["source"].split("+")[0] == "model" and info["estimated"] is True
        assert "RAPL" in info["reason"]
    assert info["source"].endswith("+nvml") == report["nvml"].used
    assert "model" in format_probe_report()
    meter.start()
    end = time.perf_counter() + 0.001
    while time.perf_counter() < end:
        pass
    m = meter.stop()
    assert m.energy_j > 0


def test_get_meter_auto_and_model() -> None:
    assert get_meter("auto") is auto_meter()
    assert get_meter(" AUTO ") is auto_meter()
    assert isinstance(get_meter("model"), ModelMeter)
    assert isinstance(get_meter("codecarbon"), CodeCarbonMeter)


@pytest.mark.skipif(Path("/sys/class/powercap").exists(), reason="this machine has a powercap tree")
def test_get_meter_rapl_here_names_the_fix() -> None:
    with pytest.raises(MeterUnavailable) as info:
        get_meter("rapl")
    message = str(info.value)
    assert "modprobe" in message and "'auto'" in message


@pytest.mark.skipif(nvidia_driver_present(), reason="this machine has an NVIDIA driver")
def test_get_meter_nvml_here_is_unavailable() -> None:
    with pytest.raises(MeterUnavailable, match="NVML"):
        get_meter("nvml")


@pytest.mark.parametrize("name", ["", "perf", "RAPL2", 3])
def test_unknown_meter_name_is_a_config_error(name: object) -> None:
    with pytest.raises(ConfigError, match="expected one of auto, rapl, nvml, codecarbon, model"):
        get_meter(name)  # type: ignore[arg-type]


def test_names_are_the_contract() -> None:
    assert METER_NAMES == ("auto", "rapl", "nvml", "codecarbon", "model", "counted")  # counted: issue #12

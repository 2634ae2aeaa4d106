"""NvmlMeter with a fake NVML module: counter path, sampling path, errors."""

from __future__ import annotations

import json
import sys
import threading
import time

import pytest
from fakes import (
    NVML_ERROR_DRIVER_NOT_LOADED,
    NVML_ERROR_LIBRARY_NOT_FOUND,
    FakeGpu,
    FakeNvml,
    SteppingClock,
)

from greenbench.errors import ConfigError, MeterError, MeterUnavailable
from greenbench.meters import NvmlMeter
from greenbench.meters.nvml import NVML_UPDATE_PERIOD_S, mj_to_j


def test_mj_to_j_is_the_conversion() -> None:
    assert mj_to_j(2500) == 2.5


def test_counter_path_reads_total_energy_not_estimated() -> None:
    gpu = FakeGpu(energy_mj=1_000)
    meter = NvmlMeter(nvml=FakeNvml([gpu]), clock=SteppingClock(5.0, 7.0))
    meter.start()
    gpu.energy_mj = 4_500
    m = meter.stop()
    assert (m.source, m.estimated) == ("nvml", False)
    assert dict(m.domains) == {"gpu0": 3.5}
    assert m.energy_j == 3.5 and m.duration_s == 2.0
    assert m.notes == ()
    assert meter.update_period_s == NVML_UPDATE_PERIOD_S
    assert meter.gpus[0].path == "counter" and meter.gpus[0].name == "Fake A100"
    assert gpu.power_reads == 0  # the counter path never samples power


def test_sampling_path_integrates_power_with_trapezoids() -> None:
    gpu = FakeGpu(energy_mj=None, power_mw=100_000.0)  # pre-Volta: no energy counter
    clock = SteppingClock(0.0, 1.0, 2.0)
    meter = NvmlMeter(nvml=FakeNvml([gpu]), clock=clock, background=False)
    meter.start()                  # t=0 s, 100 W
    gpu.power_mw = 200_000.0
    meter.sample()                 # t=1 s, 200 W: (100+200)/2 × 1 s = 150 J
    m = meter.stop()               # t=2 s, 200 W: 200 J more
    assert m.energy_j == pytest.approx(350.0)
    assert dict(m.domains) == {"gpu0": pytest.approx(350.0)}
    assert m.estimated is True and meter.estimated is True
    assert any("estimated" in n and "power samples" in n for n in m.notes)


def test_sampling_thread_runs_while_a_window_is_open() -> None:
    gpu = FakeGpu(energy_mj=None, power_mw=50_000.0)  # constant 50 W: the integral is exact
    meter = NvmlMeter(nvml=FakeNvml([gpu]), sample_interval_s=0.001)
    meter.start()
    deadline = time.monotonic() + 30
    while gpu.power_reads < 5 and time.monotonic() < deadline:
        time.sleep(0.002)
    m = meter.stop()
    assert gpu.power_reads >= 5
    assert m.energy_j == pytest.approx(50.0 * m.duration_s, rel=1e-9)
    meter.close()


def test_mixed_boards_estimated_if_any_is_sampled() -> None:
    new, old = FakeGpu(energy_mj=0), FakeGpu(energy_mj=None, power_mw=10_000.0)
    meter = NvmlMeter(nvml=FakeNvml([new, old]), clock=SteppingClock(0.0, 2.0), background=False)
    meter.start()
    new.energy_mj = 30_000
    m = meter.stop()
    assert dict(m.domains) == {"gpu0": 30.0, "gpu1": pytest.approx(20.0)}
    assert m.energy_j == pytest.approx(50.0) and m.estimated is True
    assert [g.path for g in meter.gpus] == ["counter", "sampling"]


def test_device_indices_select_gpus() -> None:
    gpus = [FakeGpu(energy_mj=0), FakeGpu(energy_mj=0)]
    meter = NvmlMeter(device_indices=[1], nvml=FakeNvml(gpus))
    meter.start()
    gpus[0].energy_mj, gpus[1].energy_mj = 9_000, 2_000
    assert dict(meter.stop().domains) == {"gpu1": 2.0}
    for bad in ([2], [-1], []):
        with pytest.raises(ConfigError, match="device_indices"):
            NvmlMeter(device_indices=bad, nvml=FakeNvml(gpus))


@pytest.mark.parametrize("code", [NVML_ERROR_LIBRARY_NOT_FOUND, NVML_ERROR_DRIVER_NOT_LOADED])
def test_no_driver_is_unavailable(code: int) -> None:
    with pytest.raises(MeterUnavailable, match="no NVIDIA driver"):
        NvmlMeter(nvml=FakeNvml([FakeGpu()], init_error=code))


def test_no_gpu_is_unavailable() -> None:
    with pytest.raises(MeterUnavailable, match="sees no GPU"):
        NvmlMeter(nvml=FakeNvml([]))


def test_gpu_without_energy_or_power_is_unavailable() -> None:
    with pytest.raises(MeterUnavailable, match=r"neither energy nor power.*Not Supported"):
        NvmlMeter(nvml=FakeNvml([FakeGpu(energy_mj=None, power_mw=None)]))


def test_read_errors_and_backwards_counter_raise_meter_error() -> None:
    gpu = FakeGpu(energy_mj=5_000)
    meter = NvmlMeter(nvml=FakeNvml([gpu]))
    meter.start()
    gpu.fail_reads = True
    with pytest.raises(MeterError, match="counter read failed"):
        meter.stop()
    gpu.fail_reads = False
    meter.start()  # the failed window was closed
    gpu.energy_mj = 1_000
    with pytest.raises(MeterError, match="went backwards"):
        meter.stop()


def test_sampler_error_surfaces_at_stop() -> None:
    gpu = FakeGpu(energy_mj=None, power_mw=1_000.0)
    meter = NvmlMeter(nvml=FakeNvml([gpu]), background=False)
    meter.start()
    gpu.fail_reads = True
    with pytest.raises(MeterError, match="power read failed"):
        meter.sample()
    meter.sample_error = MeterError("boom")
    with pytest.raises(MeterError, match="sampler failed"):
        meter.stop()


def test_misuse_raises_meter_error() -> None:
    meter = NvmlMeter(nvml=FakeNvml([FakeGpu()]))
    with pytest.raises(MeterError, match="without start"):
        meter.stop()
    meter.start()
    with pytest.raises(MeterError, match="already open"):
        meter.start()
    meter.stop()
    with pytest.raises(ConfigError, match="sample_interval_s"):
        NvmlMeter(nvml=FakeNvml([FakeGpu()]), sample_interval_s=0)


def test_describe_is_json_safe_and_close_shuts_nvml_down() -> None:
    fake = FakeNvml([FakeGpu(energy_mj=None)])
    meter = NvmlMeter(nvml=fake, reason="test")
    info = json.loads(json.dumps(meter.describe()))
    assert info["source"] == "nvml" and info["estimated"] is True
    assert info["domains"] == ["gpu0"] and info["devices"][0]["path"] == "sampling"
    meter.close()
    meter.close()
    assert fake.shutdowns == 1


def test_missing_package_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    with pytest.raises(MeterUnavailable, match="pip install nvidia-ml-py"):
        NvmlMeter()


def test_real_nvml_here_reads_or_explains() -> None:
    try:
        meter = NvmlMeter()
    except MeterUnavailable as exc:
        assert "NVML" in str(exc)
        return
    meter.start()
    meter.stop()
    meter.close()


def test_threads_do_not_outlive_close() -> None:
    meter = NvmlMeter(nvml=FakeNvml([FakeGpu(energy_mj=None)]), sample_interval_s=0.001)
    meter.start()
    meter.stop()
    thread = meter._thread
    meter.close()
    assert isinstance(thread, threading.Thread)
    thread.join(timeout=30)
    assert not thread.is_alive()

"""ModelMeter: exact arithmetic with injected clocks, invariants, real windows."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest
from fakes import SteppingClock
from hypothesis import given
from hypothesis import strategies as st

from greenbench.errors import ConfigError, MeterError
from greenbench.meters import ModelMeter
from greenbench.meters import model as model_module
from greenbench.meters.model import (
    CORE_POWER_ENV,
    DEFAULT_CORE_POWER_W,
    MEMORY_POWER_W_PER_GB,
    default_rss_reader,
)

#: the shipped Green Algorithms v3.0 tables (greenbench/data)
GREEN_ALGORITHMS = Path(__file__).resolve().parents[2] / "greenbench" / "data" / "green_algorithms_v3.0"


@pytest.fixture(autouse=True)
def _no_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CORE_POWER_ENV, raising=False)


def fixed_meter(cpu: tuple[float, float], wall: tuple[float, float], rss: tuple[int, int],
                **kwargs: float) -> ModelMeter:
    return ModelMeter(cpu_clock=SteppingClock(*cpu), wall_clock=SteppingClock(*wall),
                      rss_reader=SteppingClock(*rss), **kwargs)  # type: ignore[arg-type]


def test_exact_energy_from_cpu_time_and_memory() -> None:
    meter = fixed_meter(cpu=(10.0, 12.5), wall=(100.0, 104.0), rss=(2_000_000_000, 4_000_000_000))
    meter.start()
    m = meter.stop()
    # cpu: 2.5 s × 12 W = 30 J; memory: mean 3 GB × 0.3725 W/GB × 4 s = 4.47 J
    assert m.domains["cpu"] == pytest.approx(30.0)
    assert m.domains["memory"] == pytest.approx(4.47)
    assert m.energy_j == pytest.approx(34.47)
    assert (m.duration_s, m.cpu_time_s) == (4.0, 2.5)
    assert (m.source, m.estimated) == ("model", True)
    assert any("estimated" in n for n in m.notes)


def test_core_power_argument_and_memory_power_are_used() -> None:
    meter = fixed_meter(cpu=(0.0, 1.0), wall=(0.0, 2.0), rss=(10**9, 10**9),
                        core_power_w=5.0, memory_power_w_per_gb=1.0)
    meter.start()
    m = meter.stop()
    assert dict(m.domains) == {"cpu": 5.0, "memory": 2.0}


def test_env_var_sets_core_power(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CORE_POWER_ENV, "7.5")
    meter = ModelMeter()
    assert meter.core_power_w == 7.5 and meter.core_power_source == CORE_POWER_ENV
    assert ModelMeter(core_power_w=3.0).core_power_w == 3.0  # the argument wins


@pytest.mark.parametrize("value", ["abc", "-1", "0", "nan", "inf"])
def test_bad_env_var_names_it(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(CORE_POWER_ENV, value)
    with pytest.raises(ConfigError, match=CORE_POWER_ENV):
        ModelMeter()


def test_bad_arguments_name_the_field() -> None:
    with pytest.raises(ConfigError, match="core_power_w"):
        ModelMeter(core_power_w=-3.0)
    with pytest.raises(ConfigError, match="memory_power_w_per_gb"):
        ModelMeter(memory_power_w_per_gb=float("nan"))


def test_defaults_match_green_algorithms_data() -> None:
    with (GREEN_ALGORITHMS / "TDP_cpu.csv").open() as f:
        rows = list(csv.reader(f))
    header = rows[1]
    any_row = next(r for r in rows if r and r[0] == "Any")
    assert float(any_row[header.index("TDP_per_core")]) == DEFAULT_CORE_POWER_W
    with (GREEN_ALGORITHMS / "referenceValues.csv").open() as f:
        ref = {r[0]: r[1] for r in csv.reader(f) if len(r) > 1}
    assert float(ref["memoryPower"]) == MEMORY_POWER_W_PER_GB
    assert ModelMeter().core_power_w == DEFAULT_CORE_POWER_W


cpu_s = st.floats(min_value=0, max_value=1e5, allow_nan=False)
wall_s = st.floats(min_value=1e-9, max_value=1e5, allow_nan=False)
rss_b = st.floats(min_value=0, max_value=1e12, allow_nan=False)
power_w = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False)


@given(cpu=cpu_s, wall=wall_s, rss=rss_b, core=power_w)
def test_energy_is_non_negative_and_domains_sum(cpu: float, wall: float, rss: float, core: float) -> None:
    m = ModelMeter(core_power_w=core, rss_reader=lambda: 0).estimate(cpu, wall, rss)
    assert m.energy_j >= 0
    assert m.domains["cpu"] + m.domains["memory"] == pytest.approx(m.energy_j)


@given(a=cpu_s, b=cpu_s, wall=wall_s, rss=rss_b)
def test_energy_is_monotone_in_cpu_time(a: float, b: float, wall: float, rss: float) -> None:
    meter = ModelMeter(rss_reader=lambda: 0)
    lo, hi = sorted((a, b))
    assert meter.estimate(lo, wall, rss).energy_j <= meter.estimate(hi, wall, rss).energy_j


@given(cpu=cpu_s, wall=wall_s, core=power_w, k=st.floats(min_value=0.01, max_value=100))
def test_cpu_energy_is_linear_in_core_power(cpu: float, wall: float, core: float, k: float) -> None:
    one = ModelMeter(core_power_w=core, rss_reader=lambda: 0).estimate(cpu, wall, 0.0)
    scaled = ModelMeter(core_power_w=core * k, rss_reader=lambda: 0).estimate(cpu, wall, 0.0)
    assert scaled.domains["cpu"] == pytest.approx(k * one.domains["cpu"], rel=1e-9, abs=1e-300)
    assert scaled.domains["memory"] == one.domains["memory"] == 0.0


def test_real_busy_window_charges_this_process_cpu_time() -> None:
    meter = ModelMeter()
    meter.start()
    end = time.perf_counter() + 0.02
    x = 0
    while time.perf_counter() < end:
        x += 1
    m = meter.stop()
    assert m.cpu_time_s > 0
    assert m.domains["cpu"] == pytest.approx(m.cpu_time_s * DEFAULT_CORE_POWER_W)
    assert m.domains["memory"] > 0
    assert m.energy_j > 0


def test_idle_window_charges_memory_only() -> None:
    meter = fixed_meter(cpu=(3.0, 3.0), wall=(0.0, 1.0), rss=(10**9, 10**9))
    meter.start()
    m = meter.stop()
    assert m.domains["cpu"] == 0.0
    assert m.domains["memory"] == pytest.approx(MEMORY_POWER_W_PER_GB)


def test_resident_memory_readers_agree() -> None:
    reader, how = default_rss_reader()
    assert how == "/proc/self/statm"
    statm = reader()
    psutil_rss = model_module._psutil_reader()()
    assert statm > 1_000_000
    assert abs(statm - psutil_rss) / psutil_rss < 0.2
    assert model_module._peak_rss_reader()() >= statm * 0.5


def test_reader_falls_back_without_proc(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_proc(*_: object) -> None:
        raise OSError("no /proc here")

    monkeypatch.setattr(model_module, "_StatmReader", no_proc)
    reader, how = default_rss_reader()
    assert how == "psutil" and reader() > 0

    def no_psutil() -> None:
        raise ImportError("psutil")

    monkeypatch.setattr(model_module, "_psutil_reader", no_psutil)
    reader, how = default_rss_reader()
    assert "peak" in how and reader() > 0


def test_misuse_raises_meter_error() -> None:
    meter = ModelMeter()
    with pytest.raises(MeterError, match="without start"):
        meter.stop()
    meter.start()
    with pytest.raises(MeterError, match="already open"):
        meter.start()
    meter.stop()


def test_describe_is_json_safe() -> None:
    info = json.loads(json.dumps(ModelMeter(reason="test").describe()))
    assert info["source"] == "model" and info["estimated"] is True
    assert info["domains"] == ["cpu", "memory"] and info["reason"] == "test"
    assert "Lannelongue" in info["core_power_source"]

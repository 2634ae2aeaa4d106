"""ModelMeter: exact arithmetic with injected clocks, CPU identification from fabricated
/proc/cpuinfo text, children's CPU time from fake samples, SMT, the allocated figure and
the band, invariants, real windows."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

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
    IDLE_FRACTION_OF_TDP,
    IDLE_FRACTION_RANGE,
    MEMORY_POWER_W_PER_GB,
    SMT_SIBLING_FACTOR,
    ChildrenSample,
    CpuInfo,
    children_cpu_delta_s,
    default_rss_reader,
    match_tdp,
    no_children,
    parse_cpuinfo,
    unknown_cpu_power_range_w,
)

#: a CPU the TDP table does not know, without SMT (the old model's arithmetic with idle_fraction=0)
UNKNOWN_CPU = CpuInfo("Intel(R) Xeon(R) Processor", 2, 2, "test")

#: the shipped Green Algorithms v3.0 tables (greenbench/data)
GREEN_ALGORITHMS = Path(__file__).resolve().parents[3] / "greenbench" / "data" / "green_algorithms_v3.0"


@pytest.fixture(autouse=True)
def _no_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CORE_POWER_ENV, raising=False)


def fixed_meter(cpu: tuple[float, float], wall: tuple[float, float], rss: tuple[int, int],
                **kwargs: Any) -> ModelMeter:
    kwargs = {"idle_fraction": 0.0, "cpu": UNKNOWN_CPU, "cores_allocated": 1.0,
              "children_reader": no_children} | kwargs
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
    assert ModelMeter(cpu=UNKNOWN_CPU).core_power_w == DEFAULT_CORE_POWER_W


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
    meter = ModelMeter(count_children=False)
    meter.start()
    end = time.process_time() + 0.02  # 20 ms of this process's CPU, however long a busy host takes to give it
    x = 0
    while time.process_time() < end:
        x += 1
    m = meter.stop()
    assert m.cpu_time_s >= 0.02
    assert m.domains["cpu"] == pytest.approx(meter.core_equivalent_s(m.cpu_time_s, m.duration_s)
                                             * meter.core_power_w * (1 - IDLE_FRACTION_OF_TDP))
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

    monkeypatch.setattr(model_module.process, "_StatmReader", no_proc)
    reader, how = default_rss_reader()
    assert how == "psutil" and reader() > 0

    def no_psutil() -> None:
        raise ImportError("psutil")

    monkeypatch.setattr(model_module.process, "_psutil_reader", no_psutil)
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
    info = json.loads(json.dumps(ModelMeter(reason="test", cpu=UNKNOWN_CPU).describe()))
    assert info["source"] == "model" and info["estimated"] is True
    assert info["domains"] == ["cpu", "memory"] and info["reason"] == "test"
    assert "Lannelongue" in info["core_power_source"] and "not in the table" in info["core_power_source"]
    for key in ("cpu_model", "tdp_row", "physical_cores", "threads_per_core", "smt_factor", "smt_source",
                "idle_fraction", "idle_source", "band_basis", "cores_allocated", "children", "scope"):
        assert key in info, key
    assert info["tdp_row"] == "Any" and info["tdp_row_matched"] is False


# --------------------------------------------------------------------------- hardware-aware model

#: two sockets × 2 cores × 2 hardware threads, as /proc/cpuinfo lists them
CPUINFO_SMT = "".join(
    f"processor\t: {i}\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz\n"
    f"physical id\t: {i // 4}\nsiblings\t: 4\ncore id\t\t: {(i // 2) % 2}\ncpu cores\t: 2\n\n"
    for i in range(8)
)
CPUINFO_ARM = "processor\t: 0\nBogoMIPS\t: 48.00\n\nprocessor\t: 1\nBogoMIPS\t: 48.00\n\n"


def test_cpuinfo_counts_cores_and_threads() -> None:
    cpu = parse_cpuinfo(CPUINFO_SMT)
    assert cpu.model_name == "Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz"
    assert (cpu.logical_cpus, cpu.physical_cores, cpu.threads_per_core) == (8, 4, 2.0)
    arm = parse_cpuinfo(CPUINFO_ARM)  # no model name, no core ids: one core per processor
    assert (arm.model_name, arm.logical_cpus, arm.physical_cores) == ("unknown", 2, 2)


@pytest.mark.parametrize(("name", "row", "per_core_w"), [
    ("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", "Xeon Gold 6148", 7.5),
    ("AMD EPYC 7763 64-Core Processor", "AMD EPYC 7763", 4.4),
    ("Intel(R) Core(TM) i7-10700K CPU @ 3.80GHz", "Core i7-10700K", 15.6),  # not the i7-10700 row
    ("Intel(R) Core(TM) i7-10700 CPU @ 2.90GHz", "Core i7-10700", 8.1),
    ("AMD Ryzen 9 3900X 12-Core Processor", "Ryzen 9 3900X", 10.4),
    ("Intel(R) Xeon(R) CPU E5-2690 v3 @ 2.60GHz", "Xeon E5-2690 v3", 11.3),  # not the E5-2690 v2 row
])
def test_tdp_table_matches_real_model_names(name: str, row: str, per_core_w: float) -> None:
    m = match_tdp(name)
    assert (m.row, m.tdp_per_core_w, m.matched) == (row, per_core_w, True)
    assert row in m.source and "Green Algorithms" in m.source


@pytest.mark.parametrize("name", ["Intel(R) Xeon(R) Processor", "unknown", "Apple M2", "Intel(R) Xeon(R) Gold 61"])
def test_unknown_cpu_falls_back_to_12_w_and_says_so(name: str) -> None:
    m = match_tdp(name)
    assert (m.row, m.tdp_per_core_w, m.matched) == ("Any", DEFAULT_CORE_POWER_W, False)
    assert "not in the table" in m.source and "fallback" in m.source


def test_meter_takes_core_power_from_the_identified_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    meter = ModelMeter(cpu=parse_cpuinfo(CPUINFO_SMT), cores_allocated=4.0, children_reader=no_children)
    assert meter.core_power_w == 7.5 and "Xeon Gold 6148" in meter.core_power_source
    info = meter.describe()
    assert (info["tdp_row"], info["tdp_row_matched"], info["physical_cores"]) == ("Xeon Gold 6148", True, 4)
    assert "SMT sibling factor 0-0.35" in info["band_basis"] and "0.75-1 x TDP" in info["band_basis"]
    monkeypatch.setenv(CORE_POWER_ENV, "9")  # an explicit setting still wins over the table
    assert ModelMeter(cpu=parse_cpuinfo(CPUINFO_SMT)).core_power_w == 9.0


def test_children_delta_counts_live_and_reaped_children_once() -> None:
    before = ChildrenSample(reaped_s=10.0, live_s={101: 2.0, 102: 0.5})
    # 101 ran 1.5 s more and is still alive; 102 (0.5 s before the window) ran 1 s more, then was reaped;
    # 103 started and ran 0.25 s; a 4 s child started and was reaped inside the window
    after = ChildrenSample(reaped_s=10.0 + 1.5 + 4.0, live_s={101: 3.5, 103: 0.25})
    assert children_cpu_delta_s(before, after) == pytest.approx(1.5 + 1.0 + 0.25 + 4.0)
    assert children_cpu_delta_s(after, after) == 0.0
    # a child reparented away (not reaped by us): never a negative delta
    assert children_cpu_delta_s(ChildrenSample(0.0, {7: 5.0}), ChildrenSample(0.0, {})) == 0.0


def test_window_adds_children_cpu_time() -> None:
    samples = iter([ChildrenSample(1.0, {50: 0.5}), ChildrenSample(3.0, {50: 0.75, 51: 0.25})])
    meter = fixed_meter(cpu=(0.0, 1.0), wall=(0.0, 4.0), rss=(0, 0), children_reader=lambda: next(samples))
    meter.start()
    m = meter.stop()
    assert m.cpu_time_s == pytest.approx(1.0 + 2.0 + 0.25 + 0.25)
    assert m.domains["cpu"] == pytest.approx(3.5 * DEFAULT_CORE_POWER_W)  # idle_fraction 0, no SMT


def test_smt_siblings_are_charged_a_fraction_of_a_core() -> None:
    smt = parse_cpuinfo(CPUINFO_SMT)  # 2 threads per core
    meter = ModelMeter(core_power_w=10.0, idle_fraction=0.0, cpu=smt, cores_allocated=2.0,
                       children_reader=no_children, rss_reader=lambda: 0)
    # 1 s wall, 3 CPU-s on 2 usable physical cores: 2 full cores + 1 sibling at 0.3
    assert meter.core_equivalent_s(3.0, 1.0) == pytest.approx(2.0 + SMT_SIBLING_FACTOR)
    assert meter.core_equivalent_s(1.5, 1.0) == 1.5  # fits in the physical cores: no discount
    assert meter.estimate(3.0, 1.0, 0.0).domains["cpu"] == pytest.approx(23.0)
    no_smt = ModelMeter(core_power_w=10.0, idle_fraction=0.0, cpu=UNKNOWN_CPU, cores_allocated=2.0,
                        children_reader=no_children, rss_reader=lambda: 0)
    assert no_smt.core_equivalent_s(3.0, 1.0) == 3.0


def test_marginal_and_allocated_figures_exact() -> None:
    meter = fixed_meter(cpu=(0.0, 1.0), wall=(0.0, 2.0), rss=(10**9, 10**9), core_power_w=10.0,
                        idle_fraction=0.25, cores_allocated=2.0)
    meter.start()
    m = meter.stop()
    memory = 2 * MEMORY_POWER_W_PER_GB  # 1 GB for 2 s
    assert m.domains["cpu"] == pytest.approx(1.0 * 10.0 * 0.75)  # dynamic share of 1 busy core-second
    assert m.energy_j == pytest.approx(7.5 + memory)
    # allocated: + idle of 2 cores (10 W × 0.25 each) over 2 s = 10 J
    assert m.figures["allocated_j"] == pytest.approx(7.5 + 10.0 + memory)
    # a fully busy allocation: allocated is the old CPU-time × TDP model
    full = meter.estimate(cpu_time_s=4.0, duration_s=2.0, mean_rss_bytes=0.0)
    assert full.figures["allocated_j"] == pytest.approx(4.0 * 10.0)
    assert m.domains["cpu"] + m.domains["memory"] == pytest.approx(m.energy_j)


def test_band_of_an_unknown_cpu_uses_the_tables_spread() -> None:
    meter = fixed_meter(cpu=(0.0, 1.0), wall=(0.0, 1.0), rss=(0, 0), idle_fraction=IDLE_FRACTION_OF_TDP,
                        cores_allocated=1.0)
    meter.start()
    m = meter.stop()
    p_lo, p_hi = unknown_cpu_power_range_w()
    assert (p_lo, p_hi) == (7.5, pytest.approx(15.65))
    f_lo, f_hi = IDLE_FRACTION_RANGE
    assert m.figures["marginal_low_j"] == pytest.approx(p_lo * (1 - f_hi))
    assert m.figures["marginal_high_j"] == pytest.approx(p_hi * (1 - f_lo))
    # one fully busy core of one allocated: allocated = P whatever the idle fraction
    assert m.figures["allocated_low_j"] == pytest.approx(p_lo)
    assert m.figures["allocated_high_j"] == pytest.approx(p_hi)
    assert "interquartile" in meter.band_basis


def test_fixed_core_power_has_no_power_band() -> None:
    meter = fixed_meter(cpu=(0.0, 1.0), wall=(0.0, 1.0), rss=(0, 0), core_power_w=10.0)  # idle 0 given
    meter.start()
    m = meter.stop()
    assert m.figures["marginal_low_j"] == m.figures["marginal_high_j"] == m.energy_j == pytest.approx(10.0)


@given(cpu=cpu_s, wall=wall_s, rss=rss_b, alloc=st.floats(min_value=0.5, max_value=256),
       smt=st.booleans())
def test_band_brackets_both_figures(cpu: float, wall: float, rss: float, alloc: float, smt: bool) -> None:
    meter = ModelMeter(cpu=parse_cpuinfo(CPUINFO_SMT) if smt else UNKNOWN_CPU, cores_allocated=alloc,
                       children_reader=no_children, rss_reader=lambda: 0)
    m = meter.estimate(cpu, wall, rss)
    f = m.figures
    assert f["marginal_low_j"] <= m.energy_j * (1 + 1e-9) + 1e-300
    assert m.energy_j <= f["marginal_high_j"] * (1 + 1e-9) + 1e-300
    assert f["allocated_low_j"] <= f["allocated_j"] * (1 + 1e-9) + 1e-300
    assert f["allocated_j"] <= f["allocated_high_j"] * (1 + 1e-9) + 1e-300
    assert m.energy_j <= f["allocated_j"] * (1 + 1e-9) + 1e-300


def test_real_child_process_cpu_time_is_counted() -> None:
    import subprocess
    import sys

    meter = ModelMeter()
    meter.start()
    # the child spins until it has used 0.2 s of its own CPU time, then exits (reaped by run())
    subprocess.run([sys.executable, "-c", "import time\nwhile time.process_time() < 0.2: pass"], check=True)
    m = meter.stop()
    assert m.cpu_time_s >= 0.2
    assert "getrusage" in meter.describe()["children"]

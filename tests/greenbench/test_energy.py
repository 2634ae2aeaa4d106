"""Per-round energy recording and its summary (greenbench.plugin.recorder, greenbench.meters.contention,
greenbench.carbon)."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fakes import FakeFixture, FakeMeter
from hypothesis import given
from hypothesis import strategies as st

from greenbench import carbon
from greenbench.errors import ConfigError, MeterError
from greenbench.meters import contention as load
from greenbench.meters.base import Measurement
from greenbench.plugin.recorder import RoundRecord, RoundRecorder, describe_values, summarize
from greenbench.results import stats_fields


def summarize_json(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return summarize(*args, **kwargs).to_json()


def test_recorder_brackets_every_runner_call_and_keeps_the_last_rounds() -> None:
    meter = FakeMeter([9.0, 9.0, 1.0, 2.0, 3.0])  # two calibration calls, then 3 rounds
    rec = RoundRecorder(meter)
    fx = FakeFixture()
    rec.attach(fx)
    calls = []
    runner = fx._make_runner(calls.append, (1,), {})
    for _ in range(2):
        runner(range(4))
    for _ in range(3):
        runner(range(4))
    kept, other = rec.kept(3)
    assert [r.measurement.energy_j for r in kept] == [1.0, 2.0, 3.0]
    assert all(r.iterations == 4 for r in kept)
    assert len(other) == 3
    assert len(calls) == 20
    assert not meter.open


def test_recorder_passes_pedantic_results_through() -> None:
    rec = RoundRecorder(FakeMeter([1.0]))
    fx = FakeFixture()
    rec.attach(fx)
    _duration, result = fx._make_runner(lambda: 42, (), {})(None)
    assert result == 42
    assert rec.kept(1)[0][0].iterations == 1


def test_recorder_stops_the_meter_when_the_workload_raises() -> None:
    meter = FakeMeter([1.0])
    rec = RoundRecorder(meter)
    fx = FakeFixture()
    rec.attach(fx)

    def boom() -> None:
        raise ValueError("x")

    with pytest.raises(ValueError):
        fx._make_runner(boom, (), {})(None)
    assert not meter.open


def records(joules: list[float], iterations: int = 2) -> list[RoundRecord]:
    return [RoundRecord(Measurement(j, 0.5, 0.5, "model", True, {"cpu": j}), iterations) for j in joules]


def test_summary_figures_are_per_call() -> None:
    intensity = carbon.Intensity(500.0, "test")
    block = summarize_json(records([2.0, 4.0, 6.0]), [0.0, 0.0, 0.0], {"update_period_s": 0.0}, intensity)
    assert block["per_call_j"]["min"] == 1.0
    assert block["per_call_j"]["median"] == 2.0
    assert block["rounds_j"] == [1.0, 2.0, 3.0]
    assert block["calls"] == 6
    assert block["total_j"] == 12.0
    assert block["power_w"] == pytest.approx(12.0 / 1.5)
    assert block["co2e_g"] == pytest.approx(2.0 / 3.6e6 * 500.0)
    assert block["domains_j"] == {"cpu": 2.0}
    assert block["estimated"] is True and block["source"] == "model"
    assert block["contended_rounds"] == 0
    fields = stats_fields(block)
    assert fields["energy_j_min"] == 1.0 and fields["energy_j_median"] == 2.0 and "energy_j_rounds" not in fields


def test_summary_warns_about_short_windows_spread_and_contention() -> None:
    intensity = carbon.Intensity(475.0, "x")
    block = summarize_json(records([1.0, 1.0, 5.0, 9.0]), [0.0, 1.5, None, 0.0], {"update_period_s": 1.0}, intensity)
    text = " ".join(block["warnings"])
    assert "shorter than the model meter's update period" in text
    assert "spread is high" in text
    assert "1 of 4 rounds ran while other processes" in text
    # bounded summary (schema 2): the sample and the gate's statistics hold the clean rounds only
    assert block["contended_rounds"] == 1 and block["contended"] == []
    assert block["rounds_j"] == [0.5, 2.5, 4.5] and block["clean_j"]["min"] == 0.5 and block["clean_j"]["n"] == 3
    assert block["other_cores_busy"] == pytest.approx(0.5)


def test_describe_values_exact() -> None:
    d = describe_values([4.0, 1.0, 3.0, 2.0])
    assert (d["min"], d["max"], d["mean"], d["median"]) == (1.0, 4.0, 2.5, 2.5)
    assert d["q1"] == 1.75 and d["q3"] == 3.25 and d["iqr"] == 1.5 and d["rounds"] == 4
    assert d["stddev"] == pytest.approx(math.sqrt(5 / 3))


@given(st.lists(st.floats(0.0, 1e6), min_size=1, max_size=40))
def test_describe_values_orders(values: list[float]) -> None:
    d = describe_values(values)
    assert d["min"] <= d["q1"] <= d["median"] <= d["q3"] <= d["max"]
    assert d["min"] <= d["mean"] * (1 + 1e-12) + 1e-300 and d["mean"] <= d["max"] * (1 + 1e-12) + 1e-300


def test_measurement_rejects_bad_values() -> None:
    with pytest.raises(MeterError, match="energy_j"):
        Measurement(-1.0, 1.0, 0.0, "model", True)
    with pytest.raises(MeterError, match="duration_s"):
        Measurement(1.0, 0.0, 0.0, "model", True)
    with pytest.raises(MeterError, match="finite"):
        Measurement(math.nan, 1.0, 0.0, "model", True)
    for bad_source in ("", "Perf meter!", "rapl+", 3):
        with pytest.raises(MeterError, match="source"):
            Measurement(1.0, 1.0, 0.0, bad_source, True)  # type: ignore[arg-type]
    assert Measurement(1.0, 1.0, 0.0, "opcodes", True).source == "opcodes"  # a user's meter names its own
    m = Measurement(2.0, 4.0, 1.0, "rapl+nvml", False, {"gpu0": 1.0, "package-0": 1.0})
    assert m.power_w == 0.5
    with pytest.raises(TypeError):
        m.domains["x"] = 1.0  # type: ignore[index]


# -- carbon ----------------------------------------------------------------

def test_co2e_exact() -> None:
    assert carbon.co2e_g(3.6e6, 475.0) == pytest.approx(475.0)
    assert carbon.co2e_g(0.0, 475.0) == 0.0


@given(st.floats(0, 1e12), st.floats(0, 2000), st.floats(0.1, 10))
def test_co2e_is_linear_in_energy_and_intensity(energy_j: float, intensity: float, k: float) -> None:
    assert carbon.co2e_g(energy_j * k, intensity) == pytest.approx(k * carbon.co2e_g(energy_j, intensity), rel=1e-9)
    assert carbon.co2e_g(energy_j, intensity * k) == pytest.approx(k * carbon.co2e_g(energy_j, intensity), rel=1e-9)


def test_intensity_resolution() -> None:
    default = carbon.resolve_intensity()
    assert default.g_per_kwh == 475.0 and "world average" in default.label
    given_ = carbon.resolve_intensity(56.0)
    assert given_.g_per_kwh == 56.0 and "given" in given_.label
    with pytest.raises(ConfigError, match="exclusive"):
        carbon.resolve_intensity(56.0, "FR")
    with pytest.raises(ConfigError, match="carbon intensity"):
        carbon.Intensity(-1.0, "bad")


# -- machine load ------------------------------------------------------------

def test_read_machine_busy_from_a_fabricated_proc_stat(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal
    stat.write_text("cpu  100 10 50 1000 20 5 5 10 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\n")
    hz = __import__("os").sysconf("SC_CLK_TCK")
    assert load.read_machine_busy_s(stat) == pytest.approx((100 + 10 + 50 + 5 + 5 + 10) / hz)
    assert load.read_machine_busy_s(tmp_path / "missing") is None
    (tmp_path / "bad").write_text("intr 1 2 3\n")
    assert load.read_machine_busy_s(tmp_path / "bad") is None


def test_load_probe_attributes_other_processes_work(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = {"wall": 0.0, "cpu": 0.0, "busy": 0.0}
    monkeypatch.setattr(load.time, "perf_counter", lambda: clock["wall"])
    monkeypatch.setattr(load.time, "process_time", lambda: clock["cpu"])
    monkeypatch.setattr(load, "read_machine_busy_s", lambda path: clock["busy"])
    probe = load.LoadProbe()
    probe.begin()
    for _ in range(4):  # 4 rounds of 30 ms: we use 1 core, others 1.5 cores
        clock["wall"] += 0.03
        clock["cpu"] += 0.03
        clock["busy"] += 0.03 * 2.5
        probe.round_done()
    probe.finish()
    assert len(probe.per_round) == 4
    assert all(x == pytest.approx(1.5) for x in probe.per_round if x is not None)


# -- threads -----------------------------------------------------------------


# -- issue #17: bounded recording, harness overhead taken out -----------------------------------------


def test_recorder_samples_rounds_and_holds_a_bounded_number() -> None:
    from greenbench.plugin.recorder import SAMPLE_CAP

    meter = FakeMeter([1.0] * 10_000)
    rec = RoundRecorder(meter)
    fx = FakeFixture()
    rec.attach(fx)
    runner = fx._make_runner(lambda: None, (), {})
    for _ in range(20_000):
        runner(range(3))
    assert rec.calls == 20_000
    assert len(rec.records) < SAMPLE_CAP and rec.stride > 1
    metered = 10_000 - len(meter.joules)
    assert metered < 20_000 // 10  # most rounds pass unmetered: one counter test each
    kept, other = rec.kept(5_000)
    assert kept and all(r.index > 15_000 for r in kept) and len(other) == len(kept)
    # evenly spread over the kept window
    assert kept[-1].index - kept[0].index > 4_000


def test_summary_is_bounded_whatever_the_number_of_rounds() -> None:
    from greenbench.plugin.recorder import SAMPLE_KEPT

    intensity = carbon.Intensity(475.0, "x")
    joules = [1.0 + (i % 97) / 97 for i in range(5_000)]
    block = summarize_json(records(joules), [0.0] * 5_000, {"update_period_s": 0.0}, intensity,
                           speed_probes_s=[1e-4] * 1_000)
    assert len(block["rounds_j"]) == SAMPLE_KEPT and len(block["speed_probes_s"]) <= 16
    assert block["rounds_j"][0] == block["clean_j"]["min"] == 0.5  # the sketch keeps the exact minimum
    assert block["clean_j"]["n"] == 5_000 and block["rounds_measured"] == 5_000
    assert len(__import__("json").dumps(block)) < 3_000


def test_harness_overhead_is_taken_out_so_iterations_do_not_move_energy_per_call() -> None:
    # the same function (1 J per call at 1 W) measured with 10 and with 2 iterations per round; each
    # window also holds a fixed 4 s harness (runner call, timer reads) at the same power
    intensity = carbon.Intensity(475.0, "x")

    def rounds(iterations: int) -> list[RoundRecord]:
        d = 4.0 + iterations * 1.0
        return [RoundRecord(Measurement(d, d, d, "model", True, {}), iterations) for _ in range(5)]

    raw10 = summarize_json(rounds(10), [0.0] * 5, {}, intensity)["per_call_j"]["min"]
    raw2 = summarize_json(rounds(2), [0.0] * 5, {}, intensity)["per_call_j"]["min"]
    assert raw2 / raw10 == pytest.approx(3.0 / 1.4)  # the bias issue #17 measured: +68% here +114%
    b10 = summarize_json(rounds(10), [0.0] * 5, {}, intensity, harness_s=4.0)
    b2 = summarize_json(rounds(2), [0.0] * 5, {}, intensity, harness_s=4.0)
    assert b10["per_call_j"]["min"] == pytest.approx(1.0) and b2["per_call_j"]["min"] == pytest.approx(1.0)
    assert b2["harness_share"] == pytest.approx(4 / 6) and b2["iterations"] == 2


def test_harness_calibration_measures_the_empty_runner() -> None:
    from greenbench.meters.model import ModelMeter

    ticks = _Ticks(1e-6)  # every clock read is 1 us later: the result cannot depend on the host's load
    rec = RoundRecorder(ModelMeter(rss_reader=lambda: 0, wall_clock=ticks, cpu_clock=ticks))
    assert rec.harness_s() == 0.0  # not attached: nothing to calibrate
    rec.attach(FakeFixture())
    h = rec.harness_s()
    assert 0.0 < h < 1e-4  # a few clock reads' worth: the empty runner's fixed cost, never a whole round
    assert rec.harness_s() == pytest.approx(h, rel=1e-9)  # deterministic
    broken = RoundRecorder(FakeMeter([]))  # a meter failing outside a benchmark never loses the energy
    broken.attach(FakeFixture())
    assert broken.harness_s() == 0.0


class _Ticks:
    """A clock that moves ``step`` seconds per read: time passes only as the code reads it."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.mark.parametrize(("round_s", "spans_closed"), [(1e-6, 0), (0.2, 3)])
def test_load_probe_feeds_metered_rounds_without_growing(monkeypatch: pytest.MonkeyPatch, round_s: float,
                                                         spans_closed: int) -> None:
    """Three metered rounds, on a quiet host (1 us between clock reads) and on a busy one (200 ms: every
    round closes its own span); the clocks are injected, so the host's real load cannot change the result
    (this test went red on a loaded machine when it assumed three calls happen within 10 ms)."""
    wall, cpu = _Ticks(round_s), _Ticks(round_s / 2)
    monkeypatch.setattr(load, "time", SimpleNamespace(perf_counter=wall, process_time=cpu))
    busy = _Ticks(round_s)
    monkeypatch.setattr(load, "read_machine_busy_s", lambda path: busy())
    probe = load.LoadProbe(track_rounds=False)
    probe.begin()
    slots = [RoundRecord(Measurement(1.0, 1.0, 1.0, "model", True, {}), 1) for _ in range(3)]
    for s in slots:
        probe.round_done(s)
    probe.finish()
    assert probe.per_round == []  # nothing grows with the rounds: each record got its span's figure
    # the edge probes, one per span closed (finish closes the last one) and none in between
    assert len(probe.speeds) == 2 * load.SPEED_PROBES_AT_EDGES + max(spans_closed, 1)
    if spans_closed:  # each span long enough to say how busy the others were
        assert all(s.other is not None and math.isfinite(s.other) and s.other >= 0 for s in slots)
    else:  # 3 us in all: too short to say, never a made-up figure
        assert [s.other for s in slots] == [None] * 3

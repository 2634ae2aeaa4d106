"""RaplMeter on fabricated powercap trees (these machines have no RAPL)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from fakes import INTEL_RANGE_UJ, SteppingClock, build_powercap, set_energy
from hypothesis import given
from hypothesis import strategies as st

from greenbench.errors import MeterError, MeterUnavailable
from greenbench.meters import RaplMeter
from greenbench.meters.rapl import (
    MAX_ZONE_POWER_W,
    POLL_MAX_INTERVAL_S,
    RAPL_UPDATE_PERIOD_S,
    counter_delta_uj,
    discover,
    uj_to_j,
)

ONE_SOCKET = {
    "intel-rapl:0": ("package-0", 1_000_000),
    "intel-rapl:0:0": ("core", 500_000),
    "intel-rapl:0:1": ("uncore", 100_000),
    "intel-rapl:0:2": ("dram", 2_000_000),
}


#: a 10 s window: the few joules these tests count stay below any zone's power bound
TEN_S_VALUES = (0.0, 10.0)


def ten_s() -> SteppingClock:
    return SteppingClock(*TEN_S_VALUES)


def window(meter: RaplMeter, cls: Path, after: dict[str, int]) -> tuple[float, dict[str, float]]:
    meter.start()
    for zone, value in after.items():
        set_energy(cls, zone, value)
    m = meter.stop()
    return m.energy_j, dict(m.domains)


def test_uj_to_j_is_the_conversion() -> None:
    assert uj_to_j(1_500_000) == 1.5
    assert uj_to_j(0) == 0.0


def test_one_socket_counts_package_and_dram_never_core_or_uncore(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, ONE_SOCKET)
    meter = RaplMeter(cls, background=False, clock=ten_s())
    energy_j, domains = window(meter, cls, {
        "intel-rapl:0": 6_000_000,     # +5 J
        "intel-rapl:0:0": 3_500_000,   # +3 J core: inside the package already
        "intel-rapl:0:1": 1_100_000,   # +1 J uncore: likewise
        "intel-rapl:0:2": 2_750_000,   # +0.75 J
    })
    assert domains == {"package-0": 5.0, "dram-0": 0.75}
    assert energy_j == pytest.approx(5.75)
    assert meter.source == "rapl" and meter.estimated is False
    assert meter.update_period_s == RAPL_UPDATE_PERIOD_S
    assert any("core" in s for s in meter.layout.skipped)
    assert any("uncore" in s for s in meter.layout.skipped)


def test_measurement_record_says_rapl_not_estimated(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, ONE_SOCKET)
    meter = RaplMeter(cls, background=False, clock=SteppingClock(10.0, 12.0),
                      cpu_clock=SteppingClock(1.0, 1.5))
    meter.start()
    set_energy(cls, "intel-rapl:0", 5_000_000)
    m = meter.stop()
    assert (m.source, m.estimated) == ("rapl", False)
    assert m.duration_s == 2.0 and m.cpu_time_s == 0.5
    assert m.power_w == pytest.approx(2.0)  # 4 J package + 0 J dram over 2 s
    assert sum(m.domains.values()) == pytest.approx(m.energy_j)


def test_two_sockets_sum_both_packages_and_drams(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, {
        "intel-rapl:0": ("package-0", 0),
        "intel-rapl:0:0": ("dram", 0),
        "intel-rapl:1": ("package-1", 0),
        "intel-rapl:1:0": ("dram", 0),
        "intel-rapl:1:1": ("core", 0),
    })
    meter = RaplMeter(cls, background=False, clock=ten_s())
    energy_j, domains = window(meter, cls, {
        "intel-rapl:0": 10_000_000, "intel-rapl:0:0": 1_000_000,
        "intel-rapl:1": 20_000_000, "intel-rapl:1:0": 2_000_000, "intel-rapl:1:1": 9_000_000,
    })
    assert domains == {"package-0": 10.0, "package-1": 20.0, "dram-0": 1.0, "dram-1": 2.0}
    assert energy_j == pytest.approx(33.0)


def test_amd_style_package_without_dram(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, {"intel-rapl:0": ("package-0", 0), "intel-rapl:0:0": ("core", 0)})
    meter = RaplMeter(cls, background=False, clock=ten_s())
    energy_j, domains = window(meter, cls, {"intel-rapl:0": 3_000_000, "intel-rapl:0:0": 2_000_000})
    assert domains == {"package-0": 3.0}
    assert energy_j == 3.0
    assert meter.describe()["domains"] == ["package-0"]


def test_psys_only_as_alternative_never_on_top(tmp_path: Path) -> None:
    both = build_powercap(tmp_path / "both", {"intel-rapl:0": ("package-0", 0), "intel-rapl:1": ("psys", 0)})
    meter = RaplMeter(both, background=False, clock=ten_s())
    energy_j, domains = window(meter, both, {"intel-rapl:0": 4_000_000, "intel-rapl:1": 9_000_000})
    assert domains == {"package-0": 4.0}
    assert energy_j == 4.0
    assert any("psys" in s for s in meter.layout.skipped)

    only = build_powercap(tmp_path / "only", {"intel-rapl:0": ("psys", 0)})
    meter = RaplMeter(only, background=False, clock=ten_s())
    energy_j, domains = window(meter, only, {"intel-rapl:0": 7_000_000})
    assert domains == {"psys": 7.0}


def test_multi_die_duplicate_package_counted_once(tmp_path: Path) -> None:
    # the same package counter exposed twice under one name
    cls = build_powercap(tmp_path, {
        "intel-rapl:0": ("package-0", 0),
        "intel-rapl:0:0": ("dram", 0),
        "intel-rapl:1": ("package-0", 0),
        "intel-rapl:1:0": ("dram", 0),
    })
    meter = RaplMeter(cls, background=False, clock=ten_s())
    energy_j, domains = window(meter, cls, {
        "intel-rapl:0": 5_000_000, "intel-rapl:0:0": 1_000_000,
        "intel-rapl:1": 5_000_000, "intel-rapl:1:0": 1_000_000,
    })
    assert domains == {"package-0": 5.0, "dram-0": 1.0}
    assert energy_j == 6.0
    assert any("duplicate" in s for s in meter.layout.skipped)


def test_nested_layout_gives_the_same_zones(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, ONE_SOCKET)
    flat = discover(cls)
    nested = discover(tmp_path / "devices" / "virtual" / "powercap")
    assert [z.key for z in nested.zones] == [z.key for z in flat.zones] == ["package-0", "dram-0"]
    assert [z.path for z in nested.zones] == [z.path for z in flat.zones]


def test_counter_wrapping_once_is_corrected(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, {"intel-rapl:0": ("package-0", 900_000)}, range_uj=1_000_000)
    meter = RaplMeter(cls, background=False)
    meter.start()
    set_energy(cls, "intel-rapl:0", 100_000)
    m = meter.stop()
    assert m.energy_j == pytest.approx(0.2)  # 0.1 J to the wrap point + 0.1 J after it
    assert any("wrapped 1 time" in n for n in m.notes)


def test_several_wraps_in_a_long_window_need_the_poller(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, {"intel-rapl:0": ("package-0", 900_000)}, range_uj=1_000_000)
    meter = RaplMeter(cls, background=False)
    meter.start()
    for value in (500_000, 100_000):   # each step wraps once: +0.6 J, +0.6 J
        set_energy(cls, "intel-rapl:0", value)
        meter.poll()
    set_energy(cls, "intel-rapl:0", 600_000)  # +0.5 J
    m = meter.stop()
    assert m.energy_j == pytest.approx(1.7)
    assert any("wrapped 2 time" in n for n in m.notes)

    # without polls the same counter path reads one wrap short
    set_energy(cls, "intel-rapl:0", 900_000)
    meter.start()
    for value in (500_000, 100_000, 600_000):
        set_energy(cls, "intel-rapl:0", value)
    assert meter.stop().energy_j == pytest.approx(0.7)


def test_poll_interval_stays_below_the_shortest_wrap(tmp_path: Path) -> None:
    # 2^32 µJ wraps in 4.29 s at the assumed maximum power
    small = build_powercap(tmp_path / "small", {"intel-rapl:0": ("package-0", 0)}, range_uj=2**32)
    meter = RaplMeter(small, background=False)
    assert meter.shortest_wrap_s == pytest.approx(2**32 / 1e6 / MAX_ZONE_POWER_W)
    assert meter.poll_interval_s <= meter.shortest_wrap_s / 4
    # Intel's usual range wraps after 262 s at that power: the poller wakes every few seconds
    big = build_powercap(tmp_path / "big", {"intel-rapl:0": ("package-0", 0)}, range_uj=INTEL_RANGE_UJ)
    assert RaplMeter(big, background=False).poll_interval_s == POLL_MAX_INTERVAL_S


def test_background_poller_folds_wraps(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, {"intel-rapl:0": ("package-0", 900_000)}, range_uj=1_000_000)
    meter = RaplMeter(cls, poll_interval_s=0.002)
    polls = 0
    polled = threading.Condition()
    original = meter.poll

    def counting_poll() -> None:
        nonlocal polls
        original()
        with polled:
            polls += 1
            polled.notify_all()

    meter.poll = counting_poll  # type: ignore[method-assign]

    def two_polls_after_now() -> None:
        # the second poll surely started after the counter was set
        with polled:
            target = polls + 2
            assert polled.wait_for(lambda: polls >= target, timeout=30)

    meter.start()
    set_energy(cls, "intel-rapl:0", 500_000)
    two_polls_after_now()
    set_energy(cls, "intel-rapl:0", 100_000)
    two_polls_after_now()
    set_energy(cls, "intel-rapl:0", 600_000)
    assert meter.stop().energy_j == pytest.approx(1.7)
    meter.close()


def test_poller_error_surfaces_at_stop(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, {"intel-rapl:0": ("package-0", 0)})
    meter = RaplMeter(cls, background=False)
    meter.start()
    set_energy(cls, "intel-rapl:0", 10)
    (cls / "intel-rapl:0" / "energy_uj").write_text("garbage\n")
    with pytest.raises(MeterError, match="expected an integer"):
        meter.poll()
    meter.poll_error = MeterError("boom")
    with pytest.raises(MeterError, match="poller failed"):
        meter.stop()
    set_energy(cls, "intel-rapl:0", 20)
    meter.start()  # the failed window is closed; a new one works
    assert meter.stop().energy_j == 0.0


@given(
    range_uj=st.integers(min_value=1, max_value=2**64),
    before=st.integers(min_value=0, max_value=2**64),
    delta=st.integers(min_value=0, max_value=2**64),
)
def test_counter_delta_inverts_one_wrap(range_uj: int, before: int, delta: int) -> None:
    before %= range_uj
    delta %= range_uj
    after = (before + delta) % range_uj
    got, wrapped = counter_delta_uj(before, after, range_uj)
    assert got == delta
    assert wrapped == (before + delta >= range_uj)


def test_permission_denied_is_unavailable_with_the_fix(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, ONE_SOCKET)

    def root_only(path: str) -> int:
        raise PermissionError(13, "Permission denied", path)

    with pytest.raises(MeterUnavailable) as info:
        RaplMeter(cls, opener=root_only)
    message = str(info.value)
    assert "energy_uj" in message and "root" in message
    assert "chmod a+r" in message and "udev" in message
    assert "\n" not in message


def test_missing_tree_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(MeterUnavailable, match="not found"):
        RaplMeter(tmp_path / "no-such-powercap")


def test_tree_without_rapl_zones_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "dtpm").mkdir()
    with pytest.raises(MeterUnavailable, match="no intel-rapl:N zone"):
        RaplMeter(tmp_path)
    cls = build_powercap(tmp_path / "odd", {"intel-rapl:0": ("mystery", 0)})
    with pytest.raises(MeterUnavailable, match="no package-N or psys zone"):
        RaplMeter(cls)


def test_unreadable_counter_values_are_unavailable(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, {"intel-rapl:0": ("package-0", 0)})
    (cls / "intel-rapl:0" / "energy_uj").write_text("n/a\n")
    with pytest.raises(MeterUnavailable, match="expected an integer count of µJ"):
        RaplMeter(cls)
    (cls / "intel-rapl:0" / "energy_uj").write_text("0\n")
    (cls / "intel-rapl:0" / "max_energy_range_uj").write_text("-5\n")
    with pytest.raises(MeterUnavailable, match="max_energy_range_uj"):
        RaplMeter(cls)


def test_misuse_raises_meter_error(tmp_path: Path) -> None:
    meter = RaplMeter(build_powercap(tmp_path, ONE_SOCKET), background=False)
    with pytest.raises(MeterError, match="without start"):
        meter.stop()
    meter.start()
    with pytest.raises(MeterError, match="already open"):
        meter.start()
    meter.stop()


def test_context_manager_and_short_window_note(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, ONE_SOCKET)
    meter = RaplMeter(cls, background=False, clock=SteppingClock(0.0, 0.0002))
    with meter.measure() as w:
        set_energy(cls, "intel-rapl:0", 1_000_500)
    assert w.measurement is not None
    assert w.measurement.energy_j == pytest.approx(0.0005)
    assert any("update period" in n for n in w.measurement.notes)


def test_describe_is_json_safe(tmp_path: Path) -> None:
    meter = RaplMeter(build_powercap(tmp_path, ONE_SOCKET), background=False, reason="test")
    info = json.loads(json.dumps(meter.describe()))
    assert info["source"] == "rapl" and info["estimated"] is False
    assert info["domains"] == ["package-0", "dram-0"]
    assert info["update_period_s"] == RAPL_UPDATE_PERIOD_S and info["reason"] == "test"


def test_close_releases_files_and_poller(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, ONE_SOCKET)
    meter = RaplMeter(cls, poll_interval_s=0.001)
    fds = list(meter._fds)
    meter.start()
    meter.stop()
    thread = meter._thread
    meter.close()
    assert thread is not None
    thread.join(timeout=30)
    assert not thread.is_alive()
    for fd in fds:
        with pytest.raises(OSError):
            os.fstat(fd)


def test_real_machine_reads_or_explains() -> None:
    # here: no /sys/class/powercap; elsewhere: a working meter or a reason
    try:
        meter = RaplMeter()
    except MeterUnavailable as exc:
        assert "RAPL" in str(exc)
        return
    meter.start()
    time.sleep(0.01)
    assert meter.stop().energy_j >= 0

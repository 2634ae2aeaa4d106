"""CodeCarbonMeter: really runs CodeCarbon's offline tracker here."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from greenbench.errors import ConfigError, MeterError, MeterUnavailable
from greenbench.meters import CodeCarbonMeter
from greenbench.meters.codecarbon import kwh_to_j


def test_kwh_to_j_is_the_conversion() -> None:
    assert kwh_to_j(1.0) == 3.6e6
    assert kwh_to_j(2.5e-9) == pytest.approx(9e-3)


def test_offline_tracker_around_a_window_writes_nothing(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # CodeCarbon would write emissions.csv / a lock file here
    meter = CodeCarbonMeter("FRA")
    meter.start()
    end = time.perf_counter() + 0.2  # well past the ~50 ms under which it reads 0 J
    x = 0
    while time.perf_counter() < end:
        x += 1
    m = meter.stop()
    assert (m.source, m.estimated) == ("codecarbon", True)
    assert m.energy_j > 0
    assert m.duration_s >= 0.2
    assert {"cpu", "memory"} <= set(m.domains)
    # energy_consumed = cpu + ram (+ gpu) at CodeCarbon's default PUE of 1
    assert sum(m.domains.values()) == pytest.approx(m.energy_j, rel=1e-6)
    assert any("whole machine" in n for n in m.notes)
    assert os.listdir(tmp_path) == []

    # a second window gets its own tracker
    meter.start()
    assert meter.stop().energy_j >= 0


def test_bad_settings_name_the_field() -> None:
    with pytest.raises(ConfigError, match="country_iso_code"):
        CodeCarbonMeter("France")
    with pytest.raises(ConfigError, match="tracking_mode"):
        CodeCarbonMeter("FRA", tracking_mode="cluster")
    with pytest.raises(ConfigError, match="measure_power_secs"):
        CodeCarbonMeter("FRA", measure_power_secs=0)


class SilentlyFailingTracker:
    """CodeCarbon's stop() swallows exceptions and may leave no emissions data."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def test_tracker_without_emissions_data_is_an_error() -> None:
    meter = CodeCarbonMeter("FRA", tracker_cls=SilentlyFailingTracker)
    meter.start()
    with pytest.raises(MeterError, match="without emissions data"):
        meter.stop()


def test_tracker_is_configured_offline_and_quiet() -> None:
    made: list[SilentlyFailingTracker] = []

    def factory(**kwargs: Any) -> SilentlyFailingTracker:
        made.append(SilentlyFailingTracker(**kwargs))
        return made[-1]

    meter = CodeCarbonMeter("deu", tracker_cls=factory)
    meter.start()
    with pytest.raises(MeterError):
        meter.stop()
    kwargs = made[0].kwargs
    assert kwargs["country_iso_code"] == "DEU"
    assert kwargs["output_methods"] == [] and kwargs["log_level"] == "error"
    assert kwargs["allow_multiple_runs"] is True


def test_misuse_raises_meter_error() -> None:
    meter = CodeCarbonMeter("FRA", tracker_cls=SilentlyFailingTracker)
    with pytest.raises(MeterError, match="without start"):
        meter.stop()
    meter.start()
    with pytest.raises(MeterError, match="already open"):
        meter.start()


def test_missing_package_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "codecarbon", None)
    with pytest.raises(MeterUnavailable, match="pip install codecarbon"):
        CodeCarbonMeter("FRA")


def test_describe_is_json_safe() -> None:
    info = json.loads(json.dumps(CodeCarbonMeter("FRA", reason="test").describe()))
    assert info["source"] == "codecarbon" and info["estimated"] is True
    assert info["country_iso_code"] == "FRA" and info["reason"] == "test"

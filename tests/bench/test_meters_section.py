"""The meters report section renders what the overhead benchmark stored."""

from __future__ import annotations

from pathlib import Path

from bench.sections import meters as section
from greenbench import results as r


def entry(estimated: bool = True) -> dict[str, object]:
    return {
        "name": "test_meter_overhead",
        "group": "meters",
        "extra_info": {
            "meter": {"source": "model", "estimated": estimated, "reason": "RAPL: not found | here"},
            "probe": [
                {"name": "rapl", "available": False, "used": False, "reason": "not found"},
                {"name": "model", "available": True, "used": True, "reason": "fallback"},
            ],
            "overhead": {
                "auto_source": "model",
                "warm_start_stop_s": {"auto": 1e-5, "model": 9e-6, "codecarbon": 5e-3},
                "ratio_vs_codecarbon_warm": {"auto": 0.002, "model": 0.0018},
                "first_use_s": {"auto": 4e-4, "codecarbon": 1.9},
                "import_s": {"auto": 0.2, "codecarbon": 0.25},
                "repetitions": {"auto": 1500, "model": 1500, "codecarbon": 15},
                "targets": {"ratio_vs_codecarbon_warm": 0.01, "first_use_s": 0.05},
                "met": {"ratio": True, "first_use": True, "one_ms_nonzero": True},
                "one_ms_window": {"duration_s": 1e-3, "cpu_time_s": 1e-3, "energy_j": 0.012,
                                  "power_w": 12.0, "estimated": estimated},
            },
        },
    }


def test_nothing_to_say_without_the_benchmark(tmp_path: Path) -> None:
    assert section.render([], tmp_path) == ""
    assert section.render([{"name": "x", "group": "classic"}], tmp_path) == ""


def test_renders_choice_reasons_ratios_and_estimated_marks(tmp_path: Path) -> None:
    text = section.render([entry()], tmp_path)
    assert "`model`" in text and "estimated" in text
    assert "RAPL: not found \\| here" in text  # table-safe
    assert "| auto (`model`) | 10 µs | 0.20% | 400 µs | 1500 |" in text
    assert "5 ms" in text and "1.9 s" in text
    assert "12 mJ" + r.ESTIMATED_MARK in text
    assert r.ESTIMATED_LEGEND in text
    assert "NOT met" not in text


def test_counter_readings_are_not_marked(tmp_path: Path) -> None:
    text = section.render([entry(estimated=False)], tmp_path)
    assert "12 mJ" + r.ESTIMATED_MARK not in text and "12 mJ" in text
    assert "hardware energy counters" in text

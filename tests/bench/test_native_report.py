"""The sorts report section (bench/sections/sorts.py): fits, extrapolation, rendering."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from fakes import make_entry

from bench.sections import sorts


def entry(impl: str, n: int, time_s: float, energy_j: float | None = None, *, algorithm: str = "heap",
          estimated: bool = True, cpu_s: float | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {"sort": {"algorithm": algorithm, "impl": impl, "label": impl, "n": n},
                             "numpy_version": "9.9"}
    if impl.startswith("c-"):
        extra["native_build"] = {"compiler_version": "gcc 12", "cflags": ["-O2"], "base_cflags": ["-O3"]}
    return make_entry(f"test_{algorithm}_sort[{impl}-{n}]", [energy_j or 0.0], group=f"sorts-{algorithm}",
                      time_s=time_s, extra=extra, energy=energy_j is not None, estimated=estimated,
                      cpu_time_s=cpu_s if cpu_s is not None else time_s)


def test_fit_exponent_recovers_a_power_law() -> None:
    ns = [1e3, 1e4, 1e5]
    assert sorts.fit_exponent(ns, [3e-9 * n**2 for n in ns]) == pytest.approx(2.0)
    assert sorts.fit_exponent(ns, [5.0 * n**1.5 for n in ns]) == pytest.approx(1.5)
    assert math.isnan(sorts.fit_exponent([1e3], [1.0]))
    assert math.isnan(sorts.fit_exponent([1e3, 1e4], [1.0, math.nan]))


def test_extrapolation_follows_the_cost_model() -> None:
    # selection sort: exactly c·n², so 10^6 is (10^6 / 2·10^4)² times the last point
    ns, ts = [10**4, 2 * 10**4], [0.1, 0.4]
    assert sorts.extrapolate("selection", ns, ts) == pytest.approx(0.4 * 50**2)
    # heap sort: c·n·log2 n
    t = 2.0 * 10**5 * math.log2(10**5)
    assert sorts.extrapolate("heap", [10**5], [t]) == pytest.approx(2.0 * 10**6 * math.log2(10**6))
    assert math.isnan(sorts.extrapolate("heap", [10**5], [math.nan]))


def test_study_ratios_are_the_published_figures() -> None:
    assert sorts.STUDY_HEAP.time_ratio == pytest.approx(6.5 / 0.74)
    assert sorts.STUDY_HEAP.energy_ratio == pytest.approx(66.26 / 11.36)
    assert sorts.STUDY_SELECTION.time_ratio == pytest.approx(7384 / 1091.76)
    assert sorts.STUDY_SELECTION.python_estimated


def test_render_is_empty_without_sort_benchmarks(tmp_path: Path) -> None:
    assert sorts.render([{"name": "test_other", "extra_info": {}}], tmp_path) == ""


def test_render_marks_estimates_labels_extrapolation_and_compares(tmp_path: Path) -> None:
    benches = [
        entry("c-heap", 10**4, 1e-3, 0.012),
        entry("c-heap", 10**5, 1.2e-2, 0.144),
        entry("python-heap", 10**4, 5e-2, 0.6),
        entry("python-heap", 10**5, 0.6, 7.2),
        entry("numpy", 10**4, 2e-4, 0.0024),
        entry("numpy-heapsort", 10**4, 2e-4, 0.0024),
        entry("c-selection", 10**3, 1e-3, 0.012, algorithm="selection"),
        entry("c-selection", 2 * 10**3, 4e-3, 0.048, algorithm="selection"),
        entry("python-selection", 10**3, 3e-2, 0.36, algorithm="selection"),
        entry("python-selection", 2 * 10**3, 0.12, 1.44, algorithm="selection"),
    ]
    body = sorts.render(benches, tmp_path)
    assert (tmp_path / sorts.PLOT_FILE).stat().st_size > 0
    assert "| heap | python-heap | 100,000 | 600 ms | 600 ms | 7.2 J* | 50× | 50× | 50×* |" in body
    assert "(extrapolated)" in body and "**extrapolated**" in body
    # selection sort, 10^6 extrapolated as c·n²: 0.12 s × 500² = 30 ks for Python
    assert "30 ks (extrapolated)" in body
    # fitted exponents of an exact n² series (two sizes: no standard error), no contended rounds
    assert "| 2.00 ± n/a (2 sizes) | 2.00 ± n/a (2 sizes) | no |" in body
    assert "8.78×" in body and "75.88×" in body
    assert "within noise of the default" in body.lower()
    assert "`-O2`" in body
    assert "`*` estimated" in body


def test_render_without_energy_shows_dashes(tmp_path: Path) -> None:
    body = sorts.render([entry("c-heap", 10**3, 1e-5), entry("python-heap", 10**3, 1e-3)], tmp_path)
    assert "| heap | python-heap | 1,000 | 1 ms | - | - | 100× | - | - |" in body
    assert (tmp_path / sorts.PLOT_FILE).exists()
    assert "Energy here comes from the CPU-time model" not in body

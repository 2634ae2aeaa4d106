"""The study's figures (bench/study.toml) checked against each other (issue #22, item 4).

At CodeCarbon's constants behind the study (CPU 12.5 W + RAM 2.93 W = 15.43 W, 84.88 g/kWh, CodeCarbon's
France value of April-July 2024) the deep-learning Tables 14-16 add up; Tables 12-13 do not.
"""

from __future__ import annotations

import pytest

from bench import study

J_PER_KWH = 3.6e6


def test_codecarbon_constants() -> None:
    cc = study.numbers("codecarbon", "cpu_w", "ram_w", "intensity_g_per_kwh")
    assert cc["cpu_w"] + cc["ram_w"] == pytest.approx(15.43)
    assert cc["intensity_g_per_kwh"] == 84.88


@pytest.mark.parametrize("key, co2e_kg, time_s", [
    ("deep.mlp", 1.4007e-05, 38.5),   # printed 41 s
    ("deep.gru", 1.0874e-04, 298.9),  # printed 302 s
    ("deep.cnn", 3.7664e-05, 103.6),  # printed 205 s: its own energy implies ≈103.6 s
])
def test_tables_14_to_16_add_up_at_15_43_w_and_84_88_g(key: str, co2e_kg: float, time_s: float) -> None:
    kwh = study.numbers(key, "energy_kwh")["energy_kwh"]
    # energy × 84.88 g/kWh = the printed CO2e (to the tables' rounding of the kWh)
    assert kwh * 84.88 / 1e3 == pytest.approx(co2e_kg, rel=0.01)
    # energy ÷ 15.43 W = the time the energy implies
    assert kwh * J_PER_KWH / 15.43 == pytest.approx(time_s, abs=0.1)
    assert study.implied_window_s(co2e_kg) == pytest.approx(time_s, rel=0.01)


def test_tables_12_and_13_co2_cannot_be_reconciled_with_their_times() -> None:
    knn = study.numbers("classic.knn", "co2e_kg", "time_s")
    km256 = study.numbers("classic.kmeans_256", "co2e_kg", "time_s")
    fourier = study.numbers("classic.fourier", "co2e_kg", "time_s")
    km2 = study.numbers("classic.kmeans_2", "co2e_kg", "time_s")
    # 4.4933e-9 kg = 4.4933e-6 g; / 84.88 g/kWh = 5.294e-8 kWh = 0.1906 J; / 15.43 W = 12.35 ms
    w_km2 = 4.4933e-6 / 84.88 * J_PER_KWH / 15.43
    assert w_km2 == pytest.approx(0.01235, abs=1e-5)
    assert study.implied_window_s(km2["co2e_kg"]) == pytest.approx(w_km2)
    # shorter than KMeans-2's own 26.2 ms timer, which the tracker encloses: the timer-window story fails
    assert w_km2 < km2["time_s"] == 0.02618
    # Table 12: 29 ms and 1.37 s implied against 0.1046 s and 9.707 s printed
    assert study.implied_window_s(knn["co2e_kg"]) == pytest.approx(0.0294, abs=5e-4)
    assert study.implied_window_s(km256["co2e_kg"]) == pytest.approx(1.370, abs=0.005)
    assert knn["time_s"] / study.implied_window_s(knn["co2e_kg"]) == pytest.approx(3.56, abs=0.01)
    assert km256["time_s"] / study.implied_window_s(km256["co2e_kg"]) == pytest.approx(7.09, abs=0.01)
    # Fourier alone is in the expected order (its timer excludes fft2, the tracker includes it): 4.7 ms > 3.5 ms
    w_fourier = study.implied_window_s(fourier["co2e_kg"])
    assert w_fourier == pytest.approx(0.00473, abs=1e-5)
    assert w_fourier > fourier["time_s"]


def test_implied_window_refuses_nonsense() -> None:
    from greenbench.errors import DataError

    with pytest.raises(DataError, match="implied_window_s"):
        study.implied_window_s(-1.0)

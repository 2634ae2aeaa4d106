"""Unit conversions, done once, here.  SI in, SI out; the unit is in every name."""

from __future__ import annotations

#: joules in one kilowatt-hour (1000 W × 3600 s, by definition)
J_PER_KWH = 3.6e6
#: seconds in one hour
S_PER_H = 3600.0
#: grams in one tonne (metric)
G_PER_T = 1e6


def j_to_kwh(energy_j: float) -> float:
    """Joules → kilowatt-hours."""
    return energy_j / J_PER_KWH


def kwh_to_j(energy_kwh: float) -> float:
    """Kilowatt-hours → joules."""
    return energy_kwh * J_PER_KWH


def co2e_g(energy_j: float, intensity_g_per_kwh: float) -> float:
    """Grams CO2e of ``energy_j`` joules drawn from a grid at ``intensity_g_per_kwh``."""
    return j_to_kwh(energy_j) * intensity_g_per_kwh

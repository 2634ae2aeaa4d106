"""Unit conversions and SI formatting, done once, here.  SI in, SI out; the unit is in every name."""

from __future__ import annotations

import math

#: joules in one kilowatt-hour (1000 W × 3600 s, by definition)
J_PER_KWH = 3.6e6
#: seconds in one hour
S_PER_H = 3600.0
#: grams in one tonne (metric)
G_PER_T = 1e6

_SI_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"))


def j_to_kwh(energy_j: float) -> float:
    """Joules → kilowatt-hours."""
    return energy_j / J_PER_KWH


def kwh_to_j(energy_kwh: float) -> float:
    """Kilowatt-hours → joules."""
    return energy_kwh * J_PER_KWH


def co2e_g(energy_j: float, intensity_g_per_kwh: float) -> float:
    """Grams CO2e of ``energy_j`` joules drawn from a grid at ``intensity_g_per_kwh``."""
    return j_to_kwh(energy_j) * intensity_g_per_kwh


def fmt_si(value: float | None, unit: str, digits: int = 3) -> str:
    """``fmt_si(0.0123, 'J') -> '12.3 mJ'``; None, NaN and inf -> '-'."""
    if value is None or not math.isfinite(value):
        return "-"
    if value == 0:
        return f"0 {unit}"
    for scale, prefix in _SI_PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}"
    return f"{value:.{digits}g} {unit}"

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


def quantity(name: str, value: object) -> float:
    """``value`` as a finite float >= 0, else ConfigError naming ``name`` (bool and non-numbers refused)."""
    from greenbench.errors import ConfigError

    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name}: expected a number, got {type(value).__name__} {value!r}")
    try:
        out = float(value)
    except OverflowError:
        raise ConfigError(f"{name}: {str(value)[:20]}... is too large for a float") from None
    if not math.isfinite(out) or out < 0:
        raise ConfigError(f"{name}: expected a finite number >= 0, got {value!r}")
    return out


def j_to_kwh(energy_j: float) -> float:
    """Joules → kilowatt-hours (energy must be a finite number >= 0)."""
    return quantity("energy_j", energy_j) / J_PER_KWH


def kwh_to_j(energy_kwh: float) -> float:
    """Kilowatt-hours → joules (energy must be a finite number >= 0)."""
    return quantity("energy_kwh", energy_kwh) * J_PER_KWH


def co2e_g(energy_j: float, intensity_g_per_kwh: float) -> float:
    """Grams CO2e of ``energy_j`` joules drawn from a grid at ``intensity_g_per_kwh`` (both finite, >= 0)."""
    return j_to_kwh(energy_j) * quantity("intensity_g_per_kwh", intensity_g_per_kwh)


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

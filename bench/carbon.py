"""Grams CO2e from energy and a grid carbon intensity.

The one conversion lives here: ``co2e_g = energy_j / 3.6e6 * intensity_g_per_kwh``.
Region look-ups come from :func:`greensim.intensity_g_per_kwh` (the shipped
yearly table); the default is the labelled world average.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from greensim.errors import ConfigError

J_PER_KWH = 3.6e6

#: World-average grid intensity (gCO2e/kWh) that CodeCarbon falls back to,
#: from the IEA (2019) global average; quoted by the study's guide.
WORLD_AVERAGE_G_PER_KWH = 475.0
WORLD_AVERAGE_LABEL = "world average 475 g/kWh (IEA 2019, CodeCarbon's default)"


@dataclass(frozen=True, slots=True)
class Intensity:
    """A grid carbon intensity and where it came from."""

    g_per_kwh: float
    label: str

    def __post_init__(self) -> None:
        if not math.isfinite(self.g_per_kwh) or self.g_per_kwh < 0:
            raise ConfigError(f"carbon intensity must be a finite number >= 0 g/kWh, got {self.g_per_kwh!r}")


def co2e_g(energy_j: float, intensity_g_per_kwh: float) -> float:
    """Grams CO2e for ``energy_j`` joules at ``intensity_g_per_kwh``."""
    return energy_j / J_PER_KWH * intensity_g_per_kwh


def resolve_intensity(intensity_g_per_kwh: float | None = None, region: str | None = None) -> Intensity:
    """Pick the intensity from an explicit value, a region code, or the default.

    Giving both is an error: it would be unclear which one the figures use.
    """
    if intensity_g_per_kwh is not None and region is not None:
        raise ConfigError("--carbon-intensity and --carbon-region are exclusive: give one of them")
    if intensity_g_per_kwh is not None:
        return Intensity(float(intensity_g_per_kwh), f"{intensity_g_per_kwh:g} g/kWh (given)")
    if region is not None:
        import greensim  # light import; the table is read lazily

        rec = greensim.intensity_record(region)
        return Intensity(float(rec.intensity_g_per_kwh), f"{rec.label}: {rec.intensity_g_per_kwh:.0f} g/kWh (greensim)")
    return Intensity(WORLD_AVERAGE_G_PER_KWH, WORLD_AVERAGE_LABEL)

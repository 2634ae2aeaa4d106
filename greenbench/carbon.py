"""Grams CO2e from energy and a grid carbon intensity.

The one conversion lives here: ``co2e_g = energy_j / 3.6e6 * intensity_g_per_kwh``.
Region look-ups come from :mod:`greenbench.intensity` (the shipped yearly
tables); the default is the labelled world average.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from greenbench.errors import ConfigError
from greenbench.units import co2e_g

#: World-average grid carbon intensity, gCO2e/kWh: IEA Global Energy & CO2
#: Status Report 2019, as used by Green Algorithms v3.0 ``CI_aggregated.csv``
#: (row WORLD) and as CodeCarbon's fallback; quoted by the study's guide.
WORLD_INTENSITY_G_PER_KWH_IEA_2019 = 475.0
WORLD_AVERAGE_LABEL = f"world average {WORLD_INTENSITY_G_PER_KWH_IEA_2019:g} g/kWh (IEA 2019, CodeCarbon's default)"

__all__ = ["WORLD_AVERAGE_LABEL", "WORLD_INTENSITY_G_PER_KWH_IEA_2019", "Intensity", "co2e_g", "resolve_intensity"]


@dataclass(frozen=True, slots=True)
class Intensity:
    """A grid carbon intensity and where it came from."""

    g_per_kwh: float
    label: str

    def __post_init__(self) -> None:
        if not math.isfinite(self.g_per_kwh) or self.g_per_kwh < 0:
            raise ConfigError(f"carbon intensity must be a finite number >= 0 g/kWh, got {self.g_per_kwh!r}")


def resolve_intensity(intensity_g_per_kwh: float | None = None, region: str | None = None) -> Intensity:
    """Pick the intensity from an explicit value, a region code, or the default.

    Giving both is an error: it would be unclear which one the figures use.
    """
    if intensity_g_per_kwh is not None and region is not None:
        raise ConfigError("--carbon-intensity and --carbon-region are exclusive: give one of them")
    if intensity_g_per_kwh is not None:
        return Intensity(float(intensity_g_per_kwh), f"{intensity_g_per_kwh:g} g/kWh (given)")
    if region is not None:
        from greenbench.intensity import intensity_record  # the table is read on first use

        rec = intensity_record(region)
        return Intensity(float(rec.intensity_g_per_kwh), f"{rec.label}: {rec.intensity_g_per_kwh:.0f} g/kWh")
    return Intensity(WORLD_INTENSITY_G_PER_KWH_IEA_2019, WORLD_AVERAGE_LABEL)

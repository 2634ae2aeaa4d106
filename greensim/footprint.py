"""Energy and carbon footprints of a computation (Green Algorithms, accelerators).

Both formulas are pure functions over SI-ish floats (hours and watts, as the
papers state them) returning a :class:`Footprint`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Memory power (Green Algorithms v3.0) and the world-average intensity (IEA
# 2019) are defined once, with their sources, in greenbench.
from greenbench.carbon import WORLD_INTENSITY_G_PER_KWH_IEA_2019
from greenbench.errors import ConfigError
from greenbench.meters.model import MEMORY_POWER_W_PER_GB
from greenbench.units import G_PER_T, J_PER_KWH
from greensim import _check
from greensim.datacentre import PUE_INDUSTRY_2024

__all__ = ["MEMORY_POWER_W_PER_GB", "WORLD_INTENSITY_G_PER_KWH_IEA_2019", "Footprint",
           "accelerator_footprint", "green_algorithms"]


@dataclass(frozen=True, slots=True)
class Footprint:
    """Energy drawn at the facility (kWh, IT × PUE) and its emissions (gCO2e).

    A footprint computed here is a model output: ``estimated`` is always True.
    """

    energy_kwh: float
    co2e_g: float
    it_energy_kwh: float
    pue: float
    intensity_g_per_kwh: float
    estimated: bool = True

    def __post_init__(self) -> None:
        for name in ("energy_kwh", "co2e_g", "it_energy_kwh", "intensity_g_per_kwh"):
            object.__setattr__(self, name, _check.non_negative(f"Footprint.{name}", getattr(self, name)))
        object.__setattr__(self, "pue", _check.pue("Footprint.pue", self.pue))
        if self.estimated is not True:
            raise ConfigError(f"Footprint.estimated: a footprint is a model output, always estimated; got "
                              f"{self.estimated!r}")
        # the fields are one computation: facility = IT × PUE, CO2e = facility × intensity
        for name, value, expected in (("energy_kwh", self.energy_kwh, self.it_energy_kwh * self.pue),
                                      ("co2e_g", self.co2e_g, self.energy_kwh * self.intensity_g_per_kwh)):
            if not math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-300):
                formula = "it_energy_kwh × pue" if name == "energy_kwh" else "energy_kwh × intensity_g_per_kwh"
                raise ConfigError(f"Footprint.{name}: {value!r} is not {formula} = {expected!r}; expected "
                                  "consistent fields (use green_algorithms() or accelerator_footprint())")

    @property
    def energy_j(self) -> float:
        return self.energy_kwh * J_PER_KWH

    @property
    def co2e_kg(self) -> float:
        return self.co2e_g / 1e3

    @property
    def co2e_t(self) -> float:
        return self.co2e_g / G_PER_T


def _footprint(it_energy_kwh: float, pue: float, intensity_g_per_kwh: float) -> Footprint:
    energy_kwh = it_energy_kwh * pue
    return Footprint(energy_kwh=energy_kwh, co2e_g=energy_kwh * intensity_g_per_kwh,
                     it_energy_kwh=it_energy_kwh, pue=pue, intensity_g_per_kwh=intensity_g_per_kwh)


def green_algorithms(  # noqa: PLR0917 - positional order is the issue's public contract
        runtime_h: float, n_cores: float, core_power_w: float, core_usage: float = 1.0,
                     memory_gb: float = 0.0, pue: float = PUE_INDUSTRY_2024,
                     intensity_g_per_kwh: float = WORLD_INTENSITY_G_PER_KWH_IEA_2019,
                     memory_power_w_per_gb: float = MEMORY_POWER_W_PER_GB) -> Footprint:
    """Green Algorithms footprint (Lannelongue, Grealey & Inouye 2021, Adv. Sci., eq. 1-2).

    C = t × (n_c·P_c·u_c + n_m·P_m) × PUE × CI × 0.001, with t in h, P in W,
    n_m in GB, CI in gCO2e/kWh, C in gCO2e (0.001 turns W·h into kWh).
    Default PUE 1.56 (Uptime Institute 2024, Green Algorithms v3.0 default);
    default CI 475 gCO2e/kWh (world, IEA 2019).
    """
    t = _check.non_negative("runtime_h", runtime_h)
    n_c = _check.non_negative("n_cores", n_cores)
    p_c = _check.non_negative("core_power_w", core_power_w)
    u_c = _check.fraction("core_usage", core_usage)
    n_m = _check.non_negative("memory_gb", memory_gb)
    p_m = _check.non_negative("memory_power_w_per_gb", memory_power_w_per_gb)
    p = _check.pue("pue", pue)
    ci = _check.non_negative("intensity_g_per_kwh", intensity_g_per_kwh)
    it_energy_kwh = t * (n_c * p_c * u_c + n_m * p_m) * 0.001
    return _footprint(it_energy_kwh, p, ci)


def accelerator_footprint(n_chips: float, hours: float, chip_power_w: float, pue: float,
                          intensity_g_per_kwh: float) -> Footprint:
    """Training footprint as in Patterson et al. 2021 ("Carbon Emissions and Large
    Neural Network Training"), Table 1: kWh = chips × hours × W × PUE / 1000,
    CO2e = kWh × CI.  ``chip_power_w`` is the measured average system power per chip.
    """
    n = _check.non_negative("n_chips", n_chips)
    h = _check.non_negative("hours", hours)
    w = _check.non_negative("chip_power_w", chip_power_w)
    p = _check.pue("pue", pue)
    ci = _check.non_negative("intensity_g_per_kwh", intensity_g_per_kwh)
    return _footprint(n * h * w / 1000.0, p, ci)

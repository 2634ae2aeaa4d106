"""Embodied (manufacturing) carbon of hardware, amortised per device-hour.

Operational CO2e (energy × intensity) leaves out the carbon emitted to make
the machine: scope 3 for its user.  The usual amortisation (Luccioni, Viguier
& Ligozat 2023, "Estimating the Carbon Footprint of BLOOM", JMLR 24(253),
§ "Embodied emissions"; also Gupta et al. 2021, "Chasing Carbon", HPCA) charges a
job the device's embodied CO2e in proportion to the share of the device's
*used* lifetime it occupies::

    embodied_g = device_kg_co2e × 1000 × hours / (lifetime_years × 8760 × utilisation)

``utilisation`` is the fraction of its lifetime the device does useful work
(0.85 in Luccioni et al.): the idle hours are charged to the jobs that run.

Constants (each cited once, here):

* HPE Apollo 6500 Gen10 Plus server without its GPUs, **2,500 kg CO2e**; one
  Nvidia A100 GPU, **150 kg CO2e**; **6-year** lifetime at **85 %** use —
  Luccioni, Viguier & Ligozat 2023 (JMLR 24(253)), § Embodied emissions.  With
  1,082,990 GPU-hours (their Table 1) and 8 GPUs per server they get 11.2 t
  CO2e for BLOOM's training (3.64 t GPUs + 7.57 t servers): a test checks it.
* A laptop, **330 kg CO2e**, "scope 1–3": the figure quoted by the study's guide
  (source not given there).  It is a *cradle-to-grave* total, use phase
  included; amortising all of it on top of measured energy counts the use
  phase twice.  For the Dell Latitude E6400 (a mainstream business laptop,
  4-year life) O'Connell & Stutz 2010 (IEEE ISSST, "Product Carbon Footprint
  (PCF) Assessment of Dell Laptop") find 300–400 kg CO2e over the life cycle,
  split nearly equally between manufacturing and use: take about half as embodied.

Pure functions over floats; parameters of a device are a frozen dataclass
checked on construction.
"""

from __future__ import annotations

from dataclasses import dataclass

from greenbench.errors import ConfigError
from greensim import _check

HOURS_PER_YEAR = 8760.0

#: Luccioni, Viguier & Ligozat 2023 (JMLR 24(253)), § Embodied emissions: HPE Apollo 6500
#: Gen10 Plus server (GPUs excluded), kg CO2e; an Nvidia A100 GPU, kg CO2e; lifetime, years;
#: average use of the cluster (fraction of the lifetime doing work).
SERVER_APOLLO_6500_EMBODIED_KG_CO2E = 2500.0
GPU_A100_EMBODIED_KG_CO2E = 150.0
LUCCIONI_2023_LIFETIME_YEARS = 6.0
LUCCIONI_2023_UTILISATION = 0.85
#: Luccioni et al. 2023, Table 1: GPU-hours of BLOOM's final training (8 A100 per server).
BLOOM_GPU_HOURS = 1_082_990.0
BLOOM_GPUS_PER_SERVER = 8
#: Luccioni et al. 2023, § Embodied emissions: 11.2 t CO2e for BLOOM's training.
BLOOM_EMBODIED_T_CO2E = 11.2
#: Laptop, life cycle (scope 1–3, use phase included), kg CO2e, as quoted by the study's guide.
LAPTOP_LIFECYCLE_KG_CO2E_STUDY = 330.0
#: O'Connell & Stutz 2010 (IEEE ISSST): Dell Latitude E6400, life cycle 300–400 kg CO2e over
#: 4 years, manufacturing ≈ use; the manufacturing share taken as embodied.
LAPTOP_LIFETIME_YEARS_OCONNELL_2010 = 4.0
LAPTOP_MANUFACTURING_SHARE_OCONNELL_2010 = 0.5


def embodied_g(device_kg_co2e: float, lifetime_years: float, hours: float,
               utilisation: float = 1.0) -> float:
    """Embodied CO2e (g) charged to ``hours`` of one device's time.

    ``device_kg_co2e``: the device's embodied (manufacturing) CO2e, kg;
    ``lifetime_years``: its service life; ``utilisation`` in (0, 1]: the
    fraction of that life doing work (idle time is charged to the work).
    """
    kg = _check.non_negative("device_kg_co2e", device_kg_co2e)
    years = _check.positive("lifetime_years", lifetime_years)
    h = _check.non_negative("hours", hours)
    u = _check.fraction("utilisation", utilisation)
    if u <= 0:
        _check.positive("utilisation", u)
    return kg * 1e3 * h / (years * HOURS_PER_YEAR * u)


@dataclass(frozen=True, slots=True)
class EmbodiedDevice:
    """One device's embodied CO2e and how it is amortised (units in the names)."""

    name: str
    embodied_kg_co2e: float
    lifetime_h: float
    utilisation: float
    source: str

    def __post_init__(self) -> None:
        _check.non_negative(f"EmbodiedDevice({self.name}).embodied_kg_co2e", self.embodied_kg_co2e)
        _check.positive(f"EmbodiedDevice({self.name}).lifetime_h", self.lifetime_h)
        _check.positive(f"EmbodiedDevice({self.name}).utilisation", self.utilisation)
        _check.fraction(f"EmbodiedDevice({self.name}).utilisation", self.utilisation)

    @property
    def g_per_device_hour(self) -> float:
        """Embodied CO2e charged per hour of use, g."""
        return self.embodied_g(1.0)

    def embodied_g(self, hours: float) -> float:
        return embodied_g(self.embodied_kg_co2e, self.lifetime_h / HOURS_PER_YEAR, hours, self.utilisation)


EMBODIED_DEVICES: dict[str, EmbodiedDevice] = {
    d.name: d for d in (
        EmbodiedDevice("a100_gpu", GPU_A100_EMBODIED_KG_CO2E, LUCCIONI_2023_LIFETIME_YEARS * HOURS_PER_YEAR,
                       LUCCIONI_2023_UTILISATION, "Luccioni, Viguier & Ligozat 2023 (JMLR), Embodied emissions"),
        EmbodiedDevice("apollo_6500_server", SERVER_APOLLO_6500_EMBODIED_KG_CO2E,
                       LUCCIONI_2023_LIFETIME_YEARS * HOURS_PER_YEAR, LUCCIONI_2023_UTILISATION,
                       "Luccioni, Viguier & Ligozat 2023 (JMLR), Embodied emissions (server without GPUs)"),
        EmbodiedDevice("laptop", LAPTOP_LIFECYCLE_KG_CO2E_STUDY * LAPTOP_MANUFACTURING_SHARE_OCONNELL_2010,
                       LAPTOP_LIFETIME_YEARS_OCONNELL_2010 * HOURS_PER_YEAR, 1.0,
                       "330 kg CO2e life cycle (the study's guide) × 0.5 manufacturing share, 4 years "
                       "(O'Connell & Stutz 2010, Dell Latitude E6400); utilisation 1: charge wall-clock hours"),
    )
}


def get_device(name: str) -> EmbodiedDevice:
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return EMBODIED_DEVICES[key]
    except KeyError:
        raise ConfigError(f"embodied.device: unknown {name!r}; expected one of "
                          f"{', '.join(EMBODIED_DEVICES)} (or give device_kg_co2e and lifetime_years)") from None

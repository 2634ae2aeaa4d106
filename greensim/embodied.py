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
  Band: lifetime **4-6 years** (4 years: Cloud Carbon Footprint's server
  lifespan, microsite/docs/HowItWorks/EmbodiedEmissions.md @ b7a049c, after
  Dell's PowerEdge R740 LCA) and utilisation **0.85-1.0** (1.0: CCF charges the
  reserved time over the lifespan, with no idle uplift).
* A laptop, **330 kg CO2e for its manufacture** ("la construction"): the
  study's guide, which cites Broca 2020 (Le Monde diplomatique) — *as quoted
  by the study*; Broca's article was not read here.  It is a manufacturing
  figure, so the whole of it is embodied (an earlier version halved it on the
  misreading that it was a life-cycle total).  Independent check: O'Connell &
  Stutz 2010 (IEEE ISSST, "Product Carbon Footprint (PCF) Assessment of Dell
  Laptop"; not read here, as summarised by a referee) give 300-400 kg CO2e over
  a Dell Latitude E6400's 4-year life, manufacturing about equal to use, i.e.
  **about 150-200 kg** for manufacturing: the band's low end is 150 kg.
  Lifetime **4 years** (O'Connell & Stutz's), band **3-5 years** (greenbench's
  assumption, ±1 year; no source read gives a laptop's spread).

``utilisation`` means the same for every preset: the fraction of the device's
lifetime spent doing the work that is charged, the idle rest being charged to
that work.  Every preset uses Luccioni et al.'s **0.85**, so presets compare;
for the laptop this is an assumption (no source read gives a laptop's share of
working hours, and a personal laptop idles far more: a lower utilisation would
charge more).  The band runs from 0.85 to 1.0 for every preset.

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
#: Band on the server / GPU lifetime, years: Cloud Carbon Footprint's 4-year server lifespan
#: (microsite/docs/HowItWorks/EmbodiedEmissions.md @ b7a049c; SERVER_EXPECTED_LIFESPAN = 35040 h) to
#: Luccioni et al.'s 6 years.
SERVER_LIFETIME_RANGE_YEARS = (4.0, LUCCIONI_2023_LIFETIME_YEARS)
#: Band on utilisation for every preset: Luccioni et al.'s 0.85 to 1.0 (CCF: reserved time / lifespan).
UTILISATION_RANGE = (LUCCIONI_2023_UTILISATION, 1.0)
#: Laptop manufacturing ("la construction"), kg CO2e, as quoted by the study's guide, which cites
#: Broca 2020 (Le Monde diplomatique); Broca not read here.
LAPTOP_MANUFACTURING_KG_CO2E_STUDY = 330.0
#: O'Connell & Stutz 2010 (IEEE ISSST), Dell Latitude E6400: 300-400 kg CO2e over the life cycle, 4 years,
#: manufacturing about equal to use (not read here; as summarised by a referee) -> about 150-200 kg
#: manufacturing.  The band's low end is half of 300 kg.
LAPTOP_LIFECYCLE_KG_CO2E_OCONNELL_2010 = (300.0, 400.0)
LAPTOP_MANUFACTURING_KG_RANGE = (LAPTOP_LIFECYCLE_KG_CO2E_OCONNELL_2010[0] / 2, LAPTOP_MANUFACTURING_KG_CO2E_STUDY)
LAPTOP_LIFETIME_YEARS_OCONNELL_2010 = 4.0
#: greenbench's assumption (±1 year around O'Connell & Stutz's 4): no source read gives a laptop's spread.
LAPTOP_LIFETIME_RANGE_YEARS = (3.0, 5.0)


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
    """One device's embodied CO2e and how it is amortised (units in the names).

    The ``*_range`` fields are the (low, high) ends of each input's published
    or assumed range (default: the point value, i.e. no band on that input);
    :meth:`band_g` evaluates the amortisation at their ends.
    """

    name: str
    embodied_kg_co2e: float
    lifetime_h: float
    utilisation: float
    source: str
    embodied_kg_range: tuple[float, float] | None = None
    lifetime_h_range: tuple[float, float] | None = None
    utilisation_range: tuple[float, float] | None = None
    band_source: str = ""

    def __post_init__(self) -> None:
        _check.non_negative(f"EmbodiedDevice({self.name}).embodied_kg_co2e", self.embodied_kg_co2e)
        _check.positive(f"EmbodiedDevice({self.name}).lifetime_h", self.lifetime_h)
        _check.positive(f"EmbodiedDevice({self.name}).utilisation", self.utilisation)
        _check.fraction(f"EmbodiedDevice({self.name}).utilisation", self.utilisation)
        for field_name, check in (("embodied_kg_range", _check.non_negative), ("lifetime_h_range", _check.positive),
                                  ("utilisation_range", _check.positive)):
            rng = getattr(self, field_name)
            if rng is None:
                continue
            lo, hi = (check(f"EmbodiedDevice({self.name}).{field_name}", v) for v in rng)
            if lo > hi:
                raise ConfigError(f"EmbodiedDevice({self.name}).{field_name}: expected (low, high) with "
                                  f"low <= high, got {rng!r}")
            if field_name == "utilisation_range":
                _check.fraction(f"EmbodiedDevice({self.name}).utilisation_range", hi)

    @property
    def g_per_device_hour(self) -> float:
        """Embodied CO2e charged per hour of use, g."""
        return self.embodied_g(1.0)

    @property
    def has_band(self) -> bool:
        return any(r is not None and r[0] != r[1] for r in
                   (self.embodied_kg_range, self.lifetime_h_range, self.utilisation_range))

    def embodied_g(self, hours: float) -> float:
        return embodied_g(self.embodied_kg_co2e, self.lifetime_h / HOURS_PER_YEAR, hours, self.utilisation)

    def band_g(self, hours: float) -> tuple[float, float]:
        """(low, high) embodied CO2e (g) for ``hours``: least kg over the longest life at the highest
        utilisation, most kg over the shortest life at the lowest (the point value always lies inside)."""
        kg = self.embodied_kg_range or (self.embodied_kg_co2e, self.embodied_kg_co2e)
        life = self.lifetime_h_range or (self.lifetime_h, self.lifetime_h)
        util = self.utilisation_range or (self.utilisation, self.utilisation)
        lo = embodied_g(min(kg[0], self.embodied_kg_co2e), max(life[1], self.lifetime_h) / HOURS_PER_YEAR, hours,
                        max(util[1], self.utilisation))
        hi = embodied_g(max(kg[1], self.embodied_kg_co2e), min(life[0], self.lifetime_h) / HOURS_PER_YEAR, hours,
                        min(util[0], self.utilisation))
        return lo, hi


_SERVER_LIFE_H = (SERVER_LIFETIME_RANGE_YEARS[0] * HOURS_PER_YEAR, SERVER_LIFETIME_RANGE_YEARS[1] * HOURS_PER_YEAR)
_SERVER_BAND = ("lifetime 4-6 y (CCF 4 y, Luccioni et al. 6 y), utilisation 0.85-1.0 (Luccioni et al.; CCF's "
                "reserved-time amortisation)")

EMBODIED_DEVICES: dict[str, EmbodiedDevice] = {
    d.name: d for d in (
        EmbodiedDevice("a100_gpu", GPU_A100_EMBODIED_KG_CO2E, LUCCIONI_2023_LIFETIME_YEARS * HOURS_PER_YEAR,
                       LUCCIONI_2023_UTILISATION, "Luccioni, Viguier & Ligozat 2023 (JMLR), Embodied emissions",
                       lifetime_h_range=_SERVER_LIFE_H, utilisation_range=UTILISATION_RANGE,
                       band_source=_SERVER_BAND),
        EmbodiedDevice("apollo_6500_server", SERVER_APOLLO_6500_EMBODIED_KG_CO2E,
                       LUCCIONI_2023_LIFETIME_YEARS * HOURS_PER_YEAR, LUCCIONI_2023_UTILISATION,
                       "Luccioni, Viguier & Ligozat 2023 (JMLR), Embodied emissions (server without GPUs)",
                       lifetime_h_range=_SERVER_LIFE_H, utilisation_range=UTILISATION_RANGE,
                       band_source=_SERVER_BAND),
        EmbodiedDevice("laptop", LAPTOP_MANUFACTURING_KG_CO2E_STUDY,
                       LAPTOP_LIFETIME_YEARS_OCONNELL_2010 * HOURS_PER_YEAR, LUCCIONI_2023_UTILISATION,
                       "330 kg CO2e manufacturing, the study's guide citing Broca 2020 (as quoted by the study); "
                       "4 years (O'Connell & Stutz 2010); utilisation 0.85 as for every preset (our assumption "
                       "for a laptop)",
                       embodied_kg_range=LAPTOP_MANUFACTURING_KG_RANGE,
                       lifetime_h_range=(LAPTOP_LIFETIME_RANGE_YEARS[0] * HOURS_PER_YEAR,
                                         LAPTOP_LIFETIME_RANGE_YEARS[1] * HOURS_PER_YEAR),
                       utilisation_range=UTILISATION_RANGE,
                       band_source=("manufacturing 150-330 kg (half of O'Connell & Stutz's 300 kg life cycle; the "
                                    "study's 330 kg), lifetime 3-5 y (our assumption), utilisation 0.85-1.0")),
    )
}


def get_device(name: str) -> EmbodiedDevice:
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return EMBODIED_DEVICES[key]
    except KeyError:
        raise ConfigError(f"embodied.device: unknown {name!r}; expected one of "
                          f"{', '.join(EMBODIED_DEVICES)} (or give device_kg_co2e and lifetime_years)") from None

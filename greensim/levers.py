"""Google's "4M" levers (Patterson et al. 2022, "The Carbon Footprint of Machine
Learning Training Will Plateau, Then Shrink", IEEE Computer 55(7)).

Each lever is an improvement *factor* (> 1 means better): energy falls by
model × machine × mechanization, CO2e by that times map.

Ranges, **as quoted by the study's guide** (not read from the paper here):
Model 5–10× (efficient, e.g. sparse, architectures), Machine 2–5×
(ML-optimised processors), Mechanization 1.4–2× (cloud data centres, i.e.
better PUE), Map 5–10× (cleaner grid).  Google's AI blog post presenting the
paper (Patterson, Feb. 2022, "Good News About the Carbon Footprint of Machine
Learning Training") words the Model lever 3–10×
(:data:`FOUR_M_MODEL_RANGE_GOOGLE_BLOG_2022`).  Each figure is cited to its
own source; the study's 5–10× is not "corrected".

What the paper's own summaries say: the arXiv abstract (2204.05149) "reduce ML
training energy by up to 100x and CO2 emissions up to 1000x" (every lever at
the top of its range gives 10·5·2 = 100 and ×10 = 1000); Google Research's
page for the IEEE Computer 2022 paper, "two concrete examples of reducing CO2e
by **650X over four years** and **40X over one year**"
(:data:`PATTERSON_2022_GOOGLE_RESEARCH_CO2E_FACTORS`).  The study's worked
example, ~83× energy and ~747× CO2e over four years
(:data:`PATTERSON_2022_EXAMPLE_ENERGY_FACTOR` / ``..._CO2E_FACTOR``), was not
read from the paper: it is **as quoted by the study**, and it differs from the
650× the Google Research page gives for four years.

Bands: a scenario row's ``four_m`` factors are points; greensim's band for
such a row takes each lever it sets at the two ends of its range above
(:data:`FOUR_M_RANGES`, widened to include the point if the row's value lies
outside).
"""

from __future__ import annotations

from dataclasses import dataclass

from greenbench.errors import ConfigError
from greensim import _check

#: bounds on the products of the levers (a footprint is divided by them; beyond these it over/underflows)
MIN_FACTOR = 1e-300
MAX_FACTOR = 1e300

#: (low, high) improvement factor per lever, Patterson et al. 2022 as quoted by the study's guide (not read
#: from the paper here; see module doc).
FOUR_M_RANGES: dict[str, tuple[float, float]] = {
    "model": (5.0, 10.0),
    "machine": (2.0, 5.0),
    "mechanization": (1.4, 2.0),
    "map": (5.0, 10.0),
}
#: Model lever as worded in Google's AI blog post on the paper (Patterson, February 2022).
FOUR_M_MODEL_RANGE_GOOGLE_BLOG_2022: tuple[float, float] = (3.0, 10.0)
#: The worked example's totals over four years, as quoted by the study's guide (not read from the paper).
PATTERSON_2022_EXAMPLE_ENERGY_FACTOR = 83.0
PATTERSON_2022_EXAMPLE_CO2E_FACTOR = 747.0
#: Google Research's publication page for the IEEE Computer 2022 paper (abstract): "reducing CO2e by 650X over
#: four years and 40X over one year" -- (four-year example, one-year example).
PATTERSON_2022_GOOGLE_RESEARCH_CO2E_FACTORS: tuple[float, float] = (650.0, 40.0)


@dataclass(frozen=True, slots=True)
class FourM:
    """Improvement factors (dimensionless, > 0; 1 = unchanged), Patterson et al. 2022."""

    model: float = 1.0
    machine: float = 1.0
    mechanization: float = 1.0
    map: float = 1.0

    def __post_init__(self) -> None:
        for name in ("model", "machine", "mechanization", "map"):
            object.__setattr__(self, name, _check.positive(f"four_m.{name}", getattr(self, name)))
        # footprints are divided by these products: one that underflows to 0 (or a subnormal whose inverse is
        # inf) or overflows to inf would turn a figure into inf or 0
        for what, value in (("energy", self.energy_factor), ("CO2e", self.co2e_factor)):
            if not MIN_FACTOR <= value <= MAX_FACTOR:
                raise ConfigError(f"four_m: the {what} factor (product of the levers) is {value:.3g}; expected "
                                  f"factors whose product lies in [{MIN_FACTOR:g}, {MAX_FACTOR:g}] (a footprint "
                                  "is divided by it)")

    @property
    def energy_factor(self) -> float:
        return self.model * self.machine * self.mechanization

    @property
    def co2e_factor(self) -> float:
        return self.energy_factor * self.map


def four_m(model: float = 1.0, machine: float = 1.0, mechanization: float = 1.0,
           map: float = 1.0) -> tuple[float, float]:
    """``(energy_factor, co2e_factor)``: energy = model×machine×mechanization,
    co2e = energy×map (Patterson et al. 2022).  Divide a footprint by them."""
    f = FourM(model=model, machine=machine, mechanization=mechanization, map=map)
    return f.energy_factor, f.co2e_factor

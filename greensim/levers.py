"""Google's "4M" levers (Patterson et al. 2022, "The Carbon Footprint of Machine
Learning Training Will Plateau, Then Shrink", IEEE Computer 55(7)).

Each lever is an improvement *factor* (> 1 means better): energy falls by
model × machine × mechanization, CO2e by that times map.

Ranges: Model 5–10× (efficient, e.g. sparse, architectures), Machine 2–5×
(ML-optimised processors), Mechanization 1.4–2× (cloud data centres, i.e.
better PUE), Map 5–10× (cleaner grid).  Model 5–10× is the paper as quoted by
secondary sources and by the study's guide; Google's AI blog post presenting
the paper (Patterson, Feb. 2022, "Good News About the Carbon Footprint of
Machine Learning Training") words it 3–10×
(:data:`FOUR_M_MODEL_RANGE_GOOGLE_BLOG_2022`).  Each figure is cited to its
own source; the study's 5–10× is not "corrected".  With every lever at its maximum the
energy factor is 10·5·2 = 100 and the CO2e factor 1000: the paper's "up to
100× energy and 1000× CO2e".  Its worked example over four years reaches
~83× energy and ~747× CO2e (:data:`PATTERSON_2022_EXAMPLE_ENERGY_FACTOR` /
``..._CO2E_FACTOR``); their ratio, 747/83 ≈ 9.0, is the Map factor implied.
"""

from __future__ import annotations

from dataclasses import dataclass

from greensim import _check

#: (low, high) improvement factor per lever, Patterson et al. 2022 (Section "4Ms"; Model as quoted
#: by secondary sources and the study's guide, see module doc).
FOUR_M_RANGES: dict[str, tuple[float, float]] = {
    "model": (5.0, 10.0),
    "machine": (2.0, 5.0),
    "mechanization": (1.4, 2.0),
    "map": (5.0, 10.0),
}
#: Model lever as worded in Google's AI blog post on the paper (Patterson, February 2022).
FOUR_M_MODEL_RANGE_GOOGLE_BLOG_2022: tuple[float, float] = (3.0, 10.0)
#: Published totals of the worked example (Patterson et al. 2022; the study's guide).
PATTERSON_2022_EXAMPLE_ENERGY_FACTOR = 83.0
PATTERSON_2022_EXAMPLE_CO2E_FACTOR = 747.0


@dataclass(frozen=True, slots=True)
class FourM:
    """Improvement factors (dimensionless, > 0; 1 = unchanged), Patterson et al. 2022."""

    model: float = 1.0
    machine: float = 1.0
    mechanization: float = 1.0
    map: float = 1.0

    def __post_init__(self) -> None:
        for name in ("model", "machine", "mechanization", "map"):
            _check.positive(f"four_m.{name}", getattr(self, name))

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

"""Data-centre overheads: PUE (and, optionally, WUE).

PUE = total facility energy / IT equipment energy (The Green Grid, 2007), so
facility energy = IT energy × PUE.  WUE = site water (L) / IT energy (kWh)
(The Green Grid, 2011).
"""

from __future__ import annotations

from dataclasses import dataclass

from greenbench.datasets import read_csv
from greenbench.errors import ConfigError
from greenbench.units import j_to_kwh
from greensim import _check

#: Industry average PUE, Uptime Institute Global Data Center Survey 2024
#: (Green Algorithms v3.0 ``defaults_PUE.csv``, provider "Unknown").
PUE_INDUSTRY_2024 = 1.56
#: Industry average PUE, Uptime Institute Global Data Center Survey 2023.
PUE_INDUSTRY_2023 = 1.58
#: Google fleet-wide trailing-twelve-month PUE, Google 2023 Environmental Report.
PUE_GOOGLE_FLEET = 1.10
#: Lefdal Mine Datacenter (Norway) PUE range, as quoted by the study's guide.
PUE_LEFDAL_MINE = (1.08, 1.15)
#: Average US data centre PUE used by Patterson et al. 2021, Table 1 (P100 rows).
PUE_US_AVERAGE_PATTERSON_2021 = 1.59
#: Google data centre PUE used by Patterson et al. 2021, Table 1 (TPUv2/v3 rows).
PUE_GOOGLE_PATTERSON_2021 = 1.11
#: On-site water usage effectiveness of US data centres, L/kWh of IT energy:
#: Shehabi et al. 2016, "United States Data Center Energy Usage Report", LBNL-1005775.
WUE_US_AVERAGE_L_PER_KWH = 1.8


@dataclass(frozen=True, slots=True)
class DataCentre:
    """A facility: its PUE (dimensionless, >= 1) and optional WUE (L/kWh of IT energy).

    Defaults: industry-average PUE 1.56 (Uptime Institute 2024 survey); WUE 0
    (water not modelled unless given, e.g. 1.8 L/kWh, Shehabi et al. 2016).
    """

    pue: float = PUE_INDUSTRY_2024
    wue_l_per_kwh: float = 0.0
    name: str = "industry average (Uptime Institute 2024)"

    def __post_init__(self) -> None:
        _check.pue("DataCentre.pue", self.pue)
        _check.non_negative("DataCentre.wue_l_per_kwh", self.wue_l_per_kwh)

    def facility_energy_j(self, it_energy_j: float) -> float:
        return facility_energy_j(it_energy_j, self.pue)

    def water_l(self, it_energy_j: float) -> float:
        return water_l(it_energy_j, self.wue_l_per_kwh)


def facility_energy_j(it_energy_j: float, pue: float) -> float:
    """Total facility energy (J) for ``it_energy_j`` of IT energy: IT × PUE."""
    return _check.non_negative("it_energy_j", it_energy_j) * _check.pue("pue", pue)


def water_l(it_energy_j: float, wue_l_per_kwh: float) -> float:
    """Site water (litres) for ``it_energy_j`` of IT energy at ``wue_l_per_kwh``."""
    return j_to_kwh(_check.non_negative("it_energy_j", it_energy_j)) * _check.non_negative(
        "wue_l_per_kwh", wue_l_per_kwh)


def provider_pue(provider: str) -> float:
    """Default PUE of a cloud provider (gcp, aws, azure, OVHcloud, Oracle, Unknown).

    From Green Algorithms v3.0 ``defaults_PUE.csv`` (CC BY 4.0), which cites
    the Uptime Institute 2024 survey for "Unknown" and Nutanix 2023 for providers.
    """
    rows = {r["provider"].lower(): r for r in read_csv("green_algorithms_v3.0/defaults_PUE.csv",
                                                       skip_units_row=True)}
    if not isinstance(provider, str):
        raise ConfigError(f"provider: expected a provider name such as 'gcp', got {provider!r}")
    row = rows.get(provider.strip().lower())
    if row is None:
        raise ConfigError(f"provider: unknown cloud provider {provider!r}; expected one of "
                          f"{', '.join(sorted(rows))}")
    return float(row["PUE"])

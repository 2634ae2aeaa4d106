"""Yearly carbon intensity of electricity by region (gCO2e/kWh), from shipped tables.

Tables (see ``data/datasets.toml`` and ``data/README.md``):

``owid``
    Our World in Data / Ember, production-based, **year 2023** (2022 for the
    41 countries without a 2023 value; the year is in every record).  Keys:
    ISO 3166-1 alpha-2 (``FR``) or alpha-3 (``FRA``) codes, and ``WORLD``
    (484.4 g/kWh in 2023).  CC BY 4.0.
``electricitymaps``
    Electricity Maps 2024 yearly, consumption-based life-cycle, by zone id
    (``DE``, ``US-CAL-CISO``, ``AU-NSW`` …; ``GLOBAL``/``WORLD`` = 480, 2023).
    ODbL 1.0.
``green_algorithms``
    Green Algorithms v3.0 ``CI_aggregated.csv`` (mixed years 2019–2022), by
    location (``GB``, ``US-CA``, ``WORLD`` = 475, IEA 2019).  CC BY 4.0.
``auto`` (default)
    ``WORLD`` and ISO country codes from ``owid``; any other key (sub-national
    zones) from ``electricitymaps``.  The record says which table answered.

This module reads CSV with the standard library only (no numpy), so that
the pytest plugin stays light.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache

from greenbench.datasets import dataset, read_csv
from greenbench.errors import ConfigError

WORLD = "WORLD"
TABLES = ("auto", "owid", "electricitymaps", "green_algorithms")

_DATASET = {"owid": "owid_ember_2023", "electricitymaps": "electricitymaps_zones_2024",
            "green_algorithms": "green_algorithms_v3"}
_SHORT = {"owid": "OWID/Ember", "electricitymaps": "Electricity Maps", "green_algorithms": "Green Algorithms"}
_BASIS = {"owid": "production-based (generation in the country)",
          "electricitymaps": "consumption-based, life cycle",
          "green_algorithms": "mixed (see the table's comments)"}


@dataclass(frozen=True, slots=True)
class IntensityRecord:
    """One yearly intensity and its provenance."""

    region: str
    intensity_g_per_kwh: float
    year: int | None
    name: str
    table: str
    dataset_id: str
    basis: str

    @property
    def data_version(self) -> str:
        return dataset(self.dataset_id).version

    @property
    def label(self) -> str:
        """E.g. ``"FR 2023 yearly, OWID/Ember"``."""
        year = f" {self.year}" if self.year else ""
        return f"{self.region}{year} yearly, {_SHORT[self.table]}"


def _norm(region: str) -> str:
    if not isinstance(region, str) or not region.strip():
        raise ConfigError(f"region: expected a region code such as 'FR', 'FRA', 'WORLD' or "
                          f"'US-CAL-CISO', got {region!r}")
    key = region.strip().upper()
    return WORLD if key == "GLOBAL" else key


@cache
def _table(table: str) -> dict[str, IntensityRecord]:
    ds = _DATASET[table]
    out: dict[str, IntensityRecord] = {}
    if table == "owid":
        for r in read_csv(dataset(ds).path):
            rec_key = WORLD if r["iso_a3"] == "OWID_WRL" else r["iso_a3"]
            rec = IntensityRecord(rec_key, float(r["carbon_intensity_g_per_kwh"]), int(r["year"]),
                                  r["entity"], table, ds, _BASIS[table])
            out[rec_key] = rec
            if r["iso_a2"]:
                out[r["iso_a2"]] = IntensityRecord(r["iso_a2"], rec.intensity_g_per_kwh, rec.year,
                                                   rec.name, table, ds, rec.basis)
    elif table == "electricitymaps":
        for r in read_csv(dataset(ds).path):
            key = WORLD if r["zone_id"] == "GLOBAL" else r["zone_id"].upper()
            out[key] = IntensityRecord(key, float(r["carbon_intensity_g_per_kwh"]), int(r["year"]),
                                       r["zone_name"], table, ds, _BASIS[table])
    else:
        for r in read_csv("green_algorithms_v3.0/CI_aggregated.csv", skip_units_row=True):
            key = r["location"].upper()
            name = r["countryName"] if r["regionName"] == "Any" else f"{r['countryName']}, {r['regionName']}"
            out[key] = IntensityRecord(key, float(r["carbonIntensity"]), None, name, table, ds,
                                       _BASIS[table])
    return out


def _is_country_code(key: str) -> bool:
    return key == WORLD or (key.isalpha() and len(key) in (2, 3))


def regions(table: str = "auto") -> tuple[str, ...]:
    """Region keys a table answers for (``auto``: the union)."""
    if table == "auto":
        return tuple(sorted(set(_table("owid")) | set(_table("electricitymaps"))))
    _check_table(table)
    return tuple(sorted(_table(table)))


def _check_table(table: str) -> None:
    if table not in TABLES:
        raise ConfigError(f"intensity_table: unknown table {table!r}; expected one of {', '.join(TABLES)}")


def intensity_record(region: str, table: str = "auto") -> IntensityRecord:
    """The yearly intensity of ``region`` with its year, table and dataset version."""
    _check_table(table)
    key = _norm(region)
    if table == "auto":
        owid = _table("owid")
        zones = _table("electricitymaps")
        # countries from OWID; OWID's own aggregates (OWID_KOS...) too, where no zone has the key
        if key in owid and (_is_country_code(key) or key not in zones):
            return owid[key]
        if key in zones:
            return zones[key]
        known = [*owid, *zones]
    else:
        t = _table(table)
        if key in t:
            return t[key]
        known = list(t)
    close = difflib.get_close_matches(key, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(f"region: unknown region {region!r} in the {table} intensity table; expected an "
                      f"ISO 3166-1 code ('FR', 'FRA'), 'WORLD' or an Electricity Maps zone id "
                      f"('US-CAL-CISO'){hint} (list them: greensim regions)")


def intensity_g_per_kwh(region: str, table: str = "auto") -> float:
    """Yearly carbon intensity of ``region``'s electricity, gCO2e/kWh (see module doc)."""
    return intensity_record(region, table).intensity_g_per_kwh

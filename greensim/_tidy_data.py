"""Rebuild ``greensim/data`` from the team's collected tables (maintainers only).

Not imported by greensim at run time.  Run it after changing which subsets
are shipped::

    python -m greensim._tidy_data SOURCE_DIR   # the upstream copies listed in greenbench/data/README.md

It copies the Green Algorithms v3.0 CSVs verbatim and writes tidied subsets
of the OWID/Ember yearly table (one year per country), of the Electricity
Maps 2024 yearly zone table and of a few Electricity Maps 2023 hourly series.
Every change is listed in ``greensim/data/README.md``; values are never
rounded or altered.  ``pycountry`` (an optional tool here, not a dependency)
adds ISO 3166-1 alpha-2 codes next to OWID's alpha-3 codes.
"""

from __future__ import annotations

import csv
import shutil
import sys
from collections import defaultdict
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "greenbench" / "data"

#: the calendar year taken from the OWID/Ember table (countries without it fall back one year)
OWID_YEAR = 2023
OWID_FALLBACK_YEAR = 2022

#: Electricity Maps 2023 hourly zones shipped (the others stay in the team's data folder)
HOURLY_ZONES = ("AU-NSW", "BR-CS", "CA-ON", "DE", "GB", "US-CAL-CISO", "US-TEX-ERCO", "ZA")

GREEN_ALGORITHMS_FILES = ("CI_aggregated.csv", "defaults_PUE.csv", "referenceValues.csv",
                          "TDP_cpu.csv", "TDP_gpu.csv")


def _alpha2(alpha3: str) -> str:
    import pycountry

    if alpha3 == "OWID_KOS":
        return "XK"  # Kosovo: user-assigned code, as used by Electricity Maps and the EU
    country = pycountry.countries.get(alpha_3=alpha3)
    return country.alpha_2 if country is not None else ""


def tidy_owid(src: Path, dst: Path) -> None:
    by_entity: dict[tuple[str, str], dict[int, str]] = defaultdict(dict)
    with src.open(newline="") as fh:
        for row in csv.DictReader(fh):
            by_entity[(row["Entity"], row["Code"])][int(row["Year"])] = row[
                "Carbon intensity of electricity - gCO2/kWh"]
    rows = []
    for (entity, code), years in sorted(by_entity.items(), key=lambda kv: kv[0][1]):
        if not code:
            continue  # aggregates without a code (continents, income groups, Ember regions)
        year = OWID_YEAR if OWID_YEAR in years else OWID_FALLBACK_YEAR
        if year not in years:
            continue
        iso_a2 = "" if code == "OWID_WRL" else _alpha2(code)
        rows.append((code, iso_a2, entity, year, years[year]))
    dst.parent.mkdir(parents=True, exist_ok=True)
    with dst.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(("iso_a3", "iso_a2", "entity", "year", "carbon_intensity_g_per_kwh"))
        w.writerows(rows)


def tidy_em_yearly(src: Path, dst: Path) -> None:
    with src.open(newline="") as fh:
        rows = [
            (r["Zone id"], r["Country"], r["Zone name"], r["Datetime (UTC)"][:4],
             r["Carbon intensity gCO₂eq/kWh (Life cycle)"], r["Carbon intensity gCO₂eq/kWh (direct)"])
            for r in csv.DictReader(fh)
        ]
    dst.parent.mkdir(parents=True, exist_ok=True)
    with dst.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(("zone_id", "country", "zone_name", "year", "carbon_intensity_g_per_kwh",
                    "carbon_intensity_direct_g_per_kwh"))
        w.writerows(sorted(rows))


def tidy_hourly(src_dir: Path, dst_dir: Path) -> None:
    dst_dir.mkdir(parents=True, exist_ok=True)
    for zone in HOURLY_ZONES:
        with (src_dir / f"{zone}_2023_hourly.csv").open(newline="") as fh:
            rows = [(r["datetime_utc"], r["carbon_intensity_g_per_kwh"], r["is_estimated"])
                    for r in csv.DictReader(fh)]
        with (dst_dir / f"{zone}.csv").open("w", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(("datetime_utc", "carbon_intensity_g_per_kwh", "is_estimated"))
            w.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m greensim._tidy_data SOURCE_DIR", file=sys.stderr)
        return 2
    shared = Path(args[0])
    ga = DATA_DIR / "green_algorithms_v3.0"
    ga.mkdir(parents=True, exist_ok=True)
    for name in GREEN_ALGORITHMS_FILES:
        shutil.copyfile(shared / "green_algorithms" / "v3.0" / name, ga / name)
    tidy_owid(shared / "intensity_yearly" / "owid_carbon_intensity_electricity.csv",
              DATA_DIR / "intensity_yearly" / f"owid_ember_{OWID_YEAR}.csv")
    tidy_em_yearly(shared / "intensity_yearly" / "electricitymaps_zones_2024_yearly.csv",
                   DATA_DIR / "intensity_yearly" / "electricitymaps_zones_2024.csv")
    tidy_hourly(shared / "intensity_hourly" / "electricitymaps_2023",
                DATA_DIR / "intensity_hourly" / "electricitymaps_2023")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

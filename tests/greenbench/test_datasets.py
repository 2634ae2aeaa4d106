"""greensim's shipped tables: yearly intensities, hourly series, manifest and licences."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import greensim as gs
from greenbench import datasets as _data
from greenbench.errors import ConfigError


def test_world_and_iso_codes_from_owid_2023() -> None:
    world = gs.intensity_record("WORLD")
    assert world.table == "owid" and world.year == 2023
    assert world.intensity_g_per_kwh == pytest.approx(484.40286)  # OWID World 2023
    assert gs.intensity_g_per_kwh("GLOBAL") == world.intensity_g_per_kwh
    fr2, fr3 = gs.intensity_record("FR"), gs.intensity_record("fra")
    assert fr2.intensity_g_per_kwh == fr3.intensity_g_per_kwh and fr2.name == "France"
    assert gs.intensity_g_per_kwh("SE") < gs.intensity_g_per_kwh("DE") < gs.intensity_g_per_kwh("IN")


def test_fallback_year_is_recorded() -> None:
    rec = gs.intensity_record("ABW")  # Aruba has no 2023 value in the OWID export
    assert rec.year == 2022


def test_subnational_zones_from_electricity_maps() -> None:
    rec = gs.intensity_record("US-CAL-CISO")
    assert rec.table == "electricitymaps" and rec.year == 2024
    assert "Electricity Maps" in rec.data_version or "2024" in rec.data_version
    assert gs.intensity_record("GB", table="electricitymaps").table == "electricitymaps"
    assert gs.intensity_g_per_kwh("WORLD", table="green_algorithms") == 475.0


def test_unknown_region_is_one_line_with_suggestions() -> None:
    with pytest.raises(ConfigError) as err:
        gs.intensity_g_per_kwh("US-CAL-CIS")
    msg = str(err.value)
    assert "\n" not in msg and "unknown region 'US-CAL-CIS'" in msg and "US-CAL-CISO" in msg
    with pytest.raises(ConfigError, match="unknown table"):
        gs.intensity_g_per_kwh("FR", table="ember")
    with pytest.raises(ConfigError, match="region: expected a region code"):
        gs.intensity_g_per_kwh("  ")


def test_every_region_resolves_to_a_finite_non_negative_intensity() -> None:
    for table in ("owid", "electricitymaps", "green_algorithms"):
        keys = gs.regions(table)
        assert len(keys) > 100
        for key in keys:
            value = gs.intensity_g_per_kwh(key, table)
            assert 0 <= value < 2000, (table, key, value)


def test_hourly_series_are_whole_years_matching_the_documented_means() -> None:
    # SOURCES.md: 2023 annual LCA means, Electricity Maps
    documented = {"AU-NSW": 554, "BR-CS": 90, "CA-ON": 73, "DE": 367, "GB": 188, "US-CAL-CISO": 261,
                  "US-TEX-ERCO": 381, "ZA": 702}
    assert set(gs.hourly_regions()) == set(documented)
    for zone, mean in documented.items():
        s = gs.hourly_series(zone)
        assert len(s) == 8760 and s.step_min == 60
        assert s.start_utc.isoformat() == "2023-01-01T00:00:00+00:00"
        assert float(np.mean(s.intensity_g_per_kwh)) == pytest.approx(mean, abs=0.5)
        assert not s.intensity_g_per_kwh.flags.writeable
    gb = gs.hourly_series("GB")
    assert gb.time_of(24).isoformat() == "2023-01-02T00:00:00+00:00"
    with pytest.raises(ConfigError, match="no hourly series for 'FR'"):
        gs.hourly_series("FR")


def test_manifest_lists_every_shipped_table_with_licence_and_files_exist() -> None:
    ds = _data.datasets()
    assert set(ds) == {"owid_ember_2023", "electricitymaps_zones_2024", "electricitymaps_hourly_2023",
                       "green_algorithms_v3"}
    assert {d.licence for d in ds.values()} == {"CC BY 4.0", "ODbL 1.0"}
    for d in ds.values():
        assert _data.data_file(d.path).is_file() or _data.data_file(d.path).is_dir()
        assert d.attribution and d.url.startswith("https://")
    readme = _data.data_file("README.md").read_text(encoding="utf-8")
    for needle in ("ODbL", "CC BY 4.0", "Electricity Maps", "Our World in Data", "Green Algorithms"):
        assert needle in readme


def test_package_data_stays_small() -> None:
    total = 0
    stack = [_data.data_root()]
    while stack:
        node = stack.pop()
        for child in node.iterdir():
            if child.is_dir():
                stack.append(child)
            else:
                total += len(child.read_bytes())
    assert total < 3_000_000


def test_import_greensim_stays_light() -> None:
    code = ("import sys, greensim; heavy = [m for m in ('matplotlib', 'scipy', 'rich', 'bench') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

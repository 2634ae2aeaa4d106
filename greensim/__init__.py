"""greensim — projections of measured energy onto other machines, grids, hours and levers.

What-if models as pure functions over SI floats (J, W, h, gCO2e/kWh), the
shipped data tables they need (with source and licence, ``greensim/data``),
and a scenario runner/CLI (``python -m greensim run FILE.toml``).  Every
figure greensim produces is a model output: *projected*, *estimated*.

Import contract: greensim is the bottom layer.  It imports numpy and the
standard library only (rich and matplotlib lazily, for the CLI); it never
imports ``bench``; it reads saved pytest-benchmark JSON files itself.

Public API (names and units are a contract)::

    green_algorithms(runtime_h, n_cores, core_power_w, core_usage=1.0, memory_gb=0.0,
                     pue=1.56, intensity_g_per_kwh=475.0, memory_power_w_per_gb=0.3725) -> Footprint
    accelerator_footprint(n_chips, hours, chip_power_w, pue, intensity_g_per_kwh) -> Footprint
    ops_energy_j(ops, architecture)          # "von_neumann" | "harvard" | "neuromorphic"
    op_mix_energy_j({"fp32_mac": n, ...})    # Horowitz 2014, 45 nm
    snn_vs_ann(macs, spike_rate, timesteps, e_mac_j=4.6e-12, e_ac_j=0.9e-12) -> (ann_j, snn_j)
    four_m(model=1.0, machine=1.0, mechanization=1.0, map=1.0) -> (energy_factor, co2e_factor)
    facility_energy_j(it_energy_j, pue)
    intensity_g_per_kwh(region)              # yearly, ISO codes / "WORLD" / zone ids
    rolling_average(series, step_min, window_min)
    best_windows(...), temporal_shift(...), geographic_shift(...), shift_jobs(...)
    load_scenario(path), run_scenario(scenario, results=..., benchmark=...)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from greensim.errors import ConfigError, DataError, GreenbenchError, ScenarioError

if TYPE_CHECKING:  # type checkers see every name; at run time they load on first use

    from greensim.architectures import (
        ARCHITECTURES,
        HOROWITZ_45NM,
        STUDY_TABLE1_MJ_PER_MILLION_OPS,
        Architecture,
        Horowitz45nm,
        energy_per_million_ops_j,
        get_architecture,
        op_mix_energy_j,
        ops_energy_j,
    )
    from greensim.datacentre import (
        PUE_GOOGLE_FLEET,
        PUE_INDUSTRY_2023,
        PUE_INDUSTRY_2024,
        PUE_LEFDAL_MINE,
        DataCentre,
        facility_energy_j,
        provider_pue,
        water_l,
    )
    from greensim.footprint import (
        MEMORY_POWER_W_PER_GB,
        WORLD_INTENSITY_G_PER_KWH_IEA_2019,
        Footprint,
        accelerator_footprint,
        green_algorithms,
    )
    from greensim.hourly import HourlySeries, hourly_regions, hourly_series
    from greensim.intensity import IntensityRecord, intensity_g_per_kwh, intensity_record, regions
    from greensim.levers import FOUR_M_RANGES, FourM, four_m
    from greensim.scenario import Scenario, ScenarioResult, load_scenario, run_scenario
    from greensim.shift import (
        BatchShift,
        GeographicShift,
        TemporalShift,
        WindowChoice,
        best_windows,
        geographic_shift,
        rolling_average,
        shift_jobs,
        temporal_shift,
    )
    from greensim.snn import (
        DAMPFHOFER_2023,
        MemoryAwareSnnModel,
        break_even_spike_ops,
        implied_timesteps,
        snn_vs_ann,
        sparsity_sweep,
    )
    from greensim.units import J_PER_KWH, co2e_g, j_to_kwh, kwh_to_j

# Lazy re-exports: ``import greensim`` stays cheap (no numpy) so that
# ``bench``'s pytest plugin can import the error tree before it sets the
# numeric libraries' thread counts (bench/threads.py).
_EXPORTS = {
    "ARCHITECTURES": "architectures",
    "Architecture": "architectures",
    "BatchShift": "shift",
    "DAMPFHOFER_2023": "snn",
    "DataCentre": "datacentre",
    "FOUR_M_RANGES": "levers",
    "Footprint": "footprint",
    "FourM": "levers",
    "GeographicShift": "shift",
    "HOROWITZ_45NM": "architectures",
    "Horowitz45nm": "architectures",
    "HourlySeries": "hourly",
    "IntensityRecord": "intensity",
    "J_PER_KWH": "units",
    "MEMORY_POWER_W_PER_GB": "footprint",
    "MemoryAwareSnnModel": "snn",
    "PUE_GOOGLE_FLEET": "datacentre",
    "PUE_INDUSTRY_2023": "datacentre",
    "PUE_INDUSTRY_2024": "datacentre",
    "PUE_LEFDAL_MINE": "datacentre",
    "STUDY_TABLE1_MJ_PER_MILLION_OPS": "architectures",
    "Scenario": "scenario",
    "ScenarioResult": "scenario",
    "TemporalShift": "shift",
    "WORLD_INTENSITY_G_PER_KWH_IEA_2019": "footprint",
    "WindowChoice": "shift",
    "accelerator_footprint": "footprint",
    "best_windows": "shift",
    "break_even_spike_ops": "snn",
    "co2e_g": "units",
    "energy_per_million_ops_j": "architectures",
    "facility_energy_j": "datacentre",
    "four_m": "levers",
    "geographic_shift": "shift",
    "get_architecture": "architectures",
    "green_algorithms": "footprint",
    "hourly_regions": "hourly",
    "hourly_series": "hourly",
    "implied_timesteps": "snn",
    "intensity_g_per_kwh": "intensity",
    "intensity_record": "intensity",
    "j_to_kwh": "units",
    "kwh_to_j": "units",
    "load_scenario": "scenario",
    "op_mix_energy_j": "architectures",
    "ops_energy_j": "architectures",
    "provider_pue": "datacentre",
    "regions": "intensity",
    "rolling_average": "shift",
    "run_scenario": "scenario",
    "shift_jobs": "shift",
    "snn_vs_ann": "snn",
    "sparsity_sweep": "snn",
    "temporal_shift": "shift",
    "water_l": "datacentre",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib import metadata

        try:
            return metadata.version("greenbench")
        except metadata.PackageNotFoundError:  # a source tree that is not installed
            return "0+unknown"
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'greensim' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"greensim.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "ARCHITECTURES", "DAMPFHOFER_2023", "FOUR_M_RANGES", "HOROWITZ_45NM", "J_PER_KWH",
    "MEMORY_POWER_W_PER_GB", "PUE_GOOGLE_FLEET", "PUE_INDUSTRY_2023", "PUE_INDUSTRY_2024",
    "PUE_LEFDAL_MINE", "STUDY_TABLE1_MJ_PER_MILLION_OPS", "WORLD_INTENSITY_G_PER_KWH_IEA_2019",
    "Architecture", "BatchShift", "ConfigError", "DataCentre", "DataError", "Footprint", "FourM",
    "GeographicShift", "GreenbenchError", "Horowitz45nm", "HourlySeries", "IntensityRecord",
    "MemoryAwareSnnModel", "Scenario", "ScenarioError", "ScenarioResult", "TemporalShift",
    "WindowChoice", "__version__", "accelerator_footprint", "best_windows", "break_even_spike_ops",
    "co2e_g", "energy_per_million_ops_j", "facility_energy_j", "four_m", "geographic_shift",
    "get_architecture", "green_algorithms", "hourly_regions", "hourly_series", "implied_timesteps",
    "intensity_g_per_kwh", "intensity_record", "j_to_kwh", "kwh_to_j", "load_scenario",
    "op_mix_energy_j", "ops_energy_j", "provider_pue", "regions", "rolling_average", "run_scenario",
    "shift_jobs", "snn_vs_ann", "sparsity_sweep", "temporal_shift", "water_l",
]

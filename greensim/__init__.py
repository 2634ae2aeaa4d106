"""greensim — projections of measured energy onto other machines, grids, hours and levers.

What-if models as pure functions over SI floats (J, W, h, gCO2e/kWh), the
shipped data tables they need (with source and licence, ``greensim/data``),
and a scenario runner/CLI (``python -m greensim run FILE.toml``).  Every
figure greensim produces is a model output: *projected*, *estimated*.

Import contract: greensim sits on top of greenbench.  It imports
``greenbench.{errors, units, results, intensity, carbon, datasets}``, numpy and
the standard library (rich and matplotlib lazily, for the CLI); it never
imports ``bench``; it reads saved results only through ``greenbench.results``.

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
    embodied_g(device_kg_co2e, lifetime_years, hours, utilisation=1.0)   # amortised embodied CO2e, g
"""

from __future__ import annotations

from importlib import metadata

from greenbench.errors import ConfigError, DataError, GreenbenchError, ScenarioError
from greenbench.intensity import IntensityRecord, intensity_g_per_kwh, intensity_record, regions
from greenbench.units import J_PER_KWH, co2e_g, j_to_kwh, kwh_to_j
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
from greensim.embodied import EMBODIED_DEVICES, EmbodiedDevice, embodied_g
from greensim.footprint import (
    MEMORY_POWER_W_PER_GB,
    WORLD_INTENSITY_G_PER_KWH_IEA_2019,
    Footprint,
    accelerator_footprint,
    green_algorithms,
)
from greensim.hourly import HourlySeries, hourly_regions, hourly_series
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

try:
    __version__ = metadata.version("greenbench")
except metadata.PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "ARCHITECTURES", "DAMPFHOFER_2023", "EMBODIED_DEVICES", "FOUR_M_RANGES", "HOROWITZ_45NM", "J_PER_KWH",
    "MEMORY_POWER_W_PER_GB", "PUE_GOOGLE_FLEET", "PUE_INDUSTRY_2023", "PUE_INDUSTRY_2024",
    "PUE_LEFDAL_MINE", "STUDY_TABLE1_MJ_PER_MILLION_OPS", "WORLD_INTENSITY_G_PER_KWH_IEA_2019",
    "Architecture", "BatchShift", "ConfigError", "DataCentre", "DataError", "EmbodiedDevice", "Footprint", "FourM",
    "GeographicShift", "GreenbenchError", "Horowitz45nm", "HourlySeries", "IntensityRecord",
    "MemoryAwareSnnModel", "Scenario", "ScenarioError", "ScenarioResult", "TemporalShift",
    "WindowChoice", "__version__", "accelerator_footprint", "best_windows", "break_even_spike_ops",
    "co2e_g", "embodied_g", "energy_per_million_ops_j", "facility_energy_j", "four_m", "geographic_shift",
    "get_architecture", "green_algorithms", "hourly_regions", "hourly_series", "implied_timesteps",
    "intensity_g_per_kwh", "intensity_record", "j_to_kwh", "kwh_to_j", "load_scenario",
    "op_mix_energy_j", "ops_energy_j", "provider_pue", "regions", "rolling_average", "run_scenario",
    "shift_jobs", "snn_vs_ann", "sparsity_sweep", "temporal_shift", "water_l",
]

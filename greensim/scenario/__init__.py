"""What-if scenario files (TOML): take one measured energy, list projections.

Shape (every table optional except at least one ``[[project]]``)::

    title = "KNN on MNIST: what if ..."
    description = "free text"

    [source]                 # where the measured energy comes from
    results = "results.json" # pytest-benchmark JSON, relative to this file (or --results)
    benchmark = "test_knn*"  # name or fullname; shell-style pattern allowed (first match with energy)
    stat = "median"          # which per-call statistic of extra_info.energy.per_call_j
    # or, standalone:
    energy_j = 15260.0       # J per call, typed in
    estimated = true         # was it read off a hardware counter? (default true)
    label = "NCA training on a T4 (study)"

    [baseline]               # "now, here": what the savings are against
    region = "WORLD"         # yearly intensity (greensim regions)
    pue = 1.0                # the measuring machine had no data-centre overhead
    calls = 1                # multiply the per-call energy (e.g. 1e6 inferences)
    intensity_table = "auto"

    [[project]]              # one row of the what-if table
    name = "Google-class DC in Sweden"
    energy_j = 2.0           # overrides the source's per-call energy
    calls = 1000
    region = "SE"
    pue = 1.10
    architecture = "harvard" # + ops = 1e9 (absolute), or scale the measured energy
    op_mix = { fp32_mac = 1e9, sram_8kb_read_64b = 2e8 }   # Horowitz 45 nm op counts
    spike_rate = 0.1         # + timesteps (+ macs for absolute energies; first_layer_macs, snn_model, neurons)
    four_m = { model = 4, machine = 3 }                    # Patterson et al. 2022 factors
    window = { region = "GB", start = 2023-06-01T00:00:00Z, job_h = 4, deadline_h = 24 }
    embodied = { device = "laptop", hours_per_call = 1e-4 }  # replaces the file's [embodied]
    counts_target = "horowitz_45nm"  # re-price a counted source's counts (greensim.counted): a preset,
                                     # a `greenbench calibrate` .json, or a table of the four coefficients
    pue_range = [1.08, 1.15]         # low/high PUE of the facility (needs pue, the point value)
    spike_rate_range = [0.0375, 0.345]  # low/high spike rate of an SNN row (needs spike_rate)

    [embodied]               # optional: amortised manufacturing CO2e, added beside the operational CO2e
    device = "a100_gpu"      # a preset (greensim.embodied.EMBODIED_DEVICES), or:
    # device_kg_co2e = 150.0, lifetime_years = 6, utilisation = 0.85
    hours_per_call = 2.8e-7  # device-hours one call occupies
    devices = 1              # devices busy during a call

Refused as double counts: ``four_m.mechanization`` with ``pue``, ``four_m.map``
with ``region``/``window``, ``four_m.machine`` with ``architecture`` (both are
the hardware), ``four_m.model`` with ``spike_rate`` (both are the model).
Rows that mix intensity bases with the baseline (production- vs
consumption-based) are labelled in their notes and in the result's notes.

Bands: every row whose inputs carry a range gets a low/high band beside its
point value (:class:`Band`): the source's band (the model meter's
``figures_j`` low/high), ``spike_rate_range``, the 4M levers it sets (each
at the ends of :data:`greensim.levers.FOUR_M_RANGES`), ``pue_range`` and the
embodied device's ranges (lifetime, utilisation, embodied kg).  The band is
the model evaluated at the ends of every ranged input at once (all inputs act
monotonically): a worst-case interval, not a confidence interval.

Every error names the file, the table/key and what was expected, as one line
(:class:`greenbench.errors.ScenarioError`).  All results are projections
(model outputs): they are labelled projected/estimated everywhere.
"""

# split by restructure.py (issue #25): one module per section: keys, parse, source, project

from __future__ import annotations

from greensim.scenario.keys import _TOP_KEYS as _TOP_KEYS
from greensim.scenario.keys import BASELINE_NAME as BASELINE_NAME
from greensim.scenario.keys import DEFAULT_DEADLINE_H as DEFAULT_DEADLINE_H
from greensim.scenario.keys import SCHEMA as SCHEMA
from greensim.scenario.keys import SNN_MODELS as SNN_MODELS
from greensim.scenario.keys import STATS as STATS
from greensim.scenario.parse import Baseline as Baseline
from greensim.scenario.parse import Embodied as Embodied
from greensim.scenario.parse import Project as Project
from greensim.scenario.parse import Scenario as Scenario
from greensim.scenario.parse import Source as Source
from greensim.scenario.parse import Window as Window
from greensim.scenario.parse import load_scenario as load_scenario
from greensim.scenario.parse import parse_scenario as parse_scenario
from greensim.scenario.project import HOURLY_BASIS as HOURLY_BASIS
from greensim.scenario.project import ILLUSTRATIVE_ARCHITECTURE as ILLUSTRATIVE_ARCHITECTURE
from greensim.scenario.project import Band as Band
from greensim.scenario.project import Projection as Projection
from greensim.scenario.project import ScenarioResult as ScenarioResult
from greensim.scenario.project import _finite as _finite
from greensim.scenario.project import _ratio as _ratio
from greensim.scenario.project import run_scenario as run_scenario
from greensim.scenario.source import ResolvedSource as ResolvedSource
from greensim.scenario.source import meter_band_factors as meter_band_factors
from greensim.scenario.source import read_benchmark_energy as read_benchmark_energy
from greensim.scenario.source import resolve_source as resolve_source

"""Keys: a section of :mod:`greensim.scenario` (its docstring tells the whole story)."""

from __future__ import annotations

SCHEMA = "greensim.scenario-result/1"
SNN_MODELS = ("simple", "memory")
STATS = ("min", "median", "mean", "max")
DEFAULT_DEADLINE_H = 24.0
BASELINE_NAME = "baseline (as measured, now, here)"

_TOP_KEYS = ("title", "description", "source", "baseline", "embodied", "project")
_SOURCE_KEYS = ("results", "benchmark", "stat", "energy_j", "estimated", "label")
_BASELINE_KEYS = ("region", "pue", "calls", "intensity_table", "name")
_PROJECT_KEYS = ("name", "energy_j", "calls", "region", "intensity_table", "pue", "architecture", "ops",
                 "op_mix", "spike_rate", "timesteps", "macs", "first_layer_macs", "neurons", "snn_model",
                 "four_m", "window", "embodied", "note", "counts_target", "pue_range", "spike_rate_range")
_WINDOW_KEYS = ("region", "start", "job_h", "job_min", "deadline_h")
_FOUR_M_KEYS = ("model", "machine", "mechanization", "map")
_EMBODIED_KEYS = ("device", "device_kg_co2e", "lifetime_years", "utilisation", "hours_per_call", "devices")

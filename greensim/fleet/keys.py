"""Keys: a section of :mod:`greensim.fleet` (its docstring tells the whole story)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SCHEMA = "greensim.fleet-result/1"
SWEEP_SCHEMA = "greensim.fleet-sweep/1"
#: jobs per block: the unit of random generation and of summation (fixed: changing it changes the jobs)
BLOCK_JOBS = 1 << 16
#: default jobs per partition (one task): 16 blocks
DEFAULT_PARTITION_JOBS = 16 * BLOCK_JOBS
DEFAULT_MAX_DURATION_H = 48
DEFAULT_DEADLINE_H = 24.0
#: stated tolerance between runs on different software stacks (same stack: bit-for-bit equal)
SUM_RTOL = 1e-9
#: refuse tables larger than this per worker
TABLE_LIMIT_BYTES = 1 << 30
PROJECTED_NOTE = "projected (estimated): model outputs, not measurements"
DASK_HINT = "pip install 'greenbench[dask]'"
#: Dask settings for workers that run fleets: no statistical profiler (``DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=
#: False`` on a real cluster), and glibc's default heap trimming instead of the ``MALLOC_TRIM_THRESHOLD_=65536``
#: that Dask's nanny sets: with it every 512 KiB numpy temporary of a block is a fresh mmap and its page faults,
#: ≈1.7× the CPU per synthetic job (bench_fleet's "cluster CPU: workers"; unset it on a real cluster)
NO_WORKER_PROFILE = {"distributed.worker.profile.enabled": False,
                     "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
#: job counts are summed as float64 (np.bincount): exact up to 2**53
MAX_JOBS = 1 << 53
#: sanity bound on one job's energy: 1 TWh (the largest published training-run estimates are ~10^7 kWh);
#: with it every per-job product and every total stays finite
MAX_JOB_ENERGY_KWH = 1e9
#: a distribution's "upper end" for the bound above: this many standard deviations (P ≈ 6e-16 per job)
DIST_TAIL_SD = 8.0
#: ``--scheduler``: connecting, the handshake and the scheduler's identity reply must all fit in this
SCHEDULER_TIMEOUT_S = 10.0
#: estimated cost per job and worker thread, for refusing runs beyond a day (bench/bench_fleet.py, 2 shared
#: cores: ≈0.28 µs per job past the fixed table build; an estimate, the host decides the real figure)
JOB_COST_S = 0.28e-6
#: refuse runs whose estimate exceeds this
MAX_RUN_S = 86_400.0
#: per local worker process besides its look-up tables (interpreter, numpy, Dask: measured ≈ 85 MB)
WORKER_BASE_BYTES = 96 << 20

MODES = ("baseline", "temporal", "geographic", "both")
METRICS = ("jobs", "energy_kwh", "baseline_g", "temporal_g", "geographic_g", "both_g",
           "geographic_landed_jobs", "geographic_landed_g", "both_landed_jobs", "both_landed_g")
_N_METRICS = len(METRICS)

_DIST_KEYS: dict[str, tuple[str, ...]] = {
    "constant": ("value",), "uniform": ("low", "high"), "lognormal": ("median", "sigma"),
    "exponential": ("mean",), "normal": ("mean", "sd"), "choice": ("values", "p"),
}
_TOP_KEYS = ("title", "description", "fleet", "sweep")
_SYNTHETIC_KEYS = ("jobs", "seed", "home_weights", "duration_h", "energy_kwh", "power_kw", "submit")
_FLEET_KEYS = ("regions", "pue", "max_duration_h", "deadline_h", "partition_jobs", "source", *_SYNTHETIC_KEYS)
_SUBMIT_KEYS = ("start_h", "end_h", "hour_weights")

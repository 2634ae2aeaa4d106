"""Fleet scale: carbon-aware load shifting over millions of jobs, on one process or a Dask cluster.

A *fleet* is a stream of jobs (energy, whole-hour duration, submit hour, home
region, deadline), synthetic (drawn from distributions, ``[fleet]`` table) or
read from a Parquet/CSV file.  For every job four CO2e figures are computed
against the shipped 2023 hourly series (:mod:`greensim.hourly`):

``baseline``    home region, start at submit (now, here)
``temporal``    home region, best start in [submit, submit + deadline − duration]
``geographic``  best allowed region (PUE × window-mean intensity), start at submit
``both``        best (region, start) pair in that window

Totals are reported per home region and overall; ``*_landed`` figures count
where the shifted load ends up.  Shifting is never worse than not shifting:
``baseline`` is always a candidate.

Engine.  Jobs come in *blocks* of :data:`BLOCK_JOBS`; block ``b``'s jobs are
drawn from ``SeedSequence(seed, spawn_key=(b, attribute))`` (one stream per
attribute, so a sweep over, say, ``deadline_h`` keeps the same jobs: common
random numbers).  A *partition* (one task) is a run of whole blocks.  Per
region, duration and deadline the engine precomputes PUE × window-mean
intensity and its sliding-window minima (O(T log W) once per worker), so each
job costs a handful of vectorised table look-ups: O(1).  Every block returns
its per-region sums; totals are :func:`math.fsum` of the block sums, which is
exactly rounded and order-free.  Hence results are **bit-for-bit identical
whatever the worker count, the partition size or the completion order** on one
software stack; across machines with different numpy/libm builds the drawn
jobs may differ in the last ulp, and totals agree to :data:`SUM_RTOL`.

Memory is bounded: at most ``2 × threads`` partitions are in flight, a
partition holds ``partition_jobs`` jobs at a time, and the per-worker tables
are ``(1 + deadlines) × (regions + 1) × max_duration_h × 8760`` floats
(≈ 80 MB for 5 regions, 48 h, 3 deadlines).

Dask is optional (``pip install 'greenbench[dask]'``): without a client every
partition runs in this process.  Every figure is a projection (model output).
"""

# split by restructure.py (issue #25): one module per section: keys, spec, scenario_files, tables, jobs,
#   job_files, parquet, results, execution, sweeps, rendering, cli

from __future__ import annotations

from greensim.fleet.cli import _available_bytes as _available_bytes
from greensim.fleet.cli import _probe_scheduler as _probe_scheduler
from greensim.fleet.cli import check_run_length as check_run_length
from greensim.fleet.cli import check_scheduler_address as check_scheduler_address
from greensim.fleet.cli import cluster_client as cluster_client
from greensim.fleet.cli import estimated_run_s as estimated_run_s
from greensim.fleet.cli import max_local_workers as max_local_workers
from greensim.fleet.cli import table_bytes as table_bytes
from greensim.fleet.cli import usable_cores as usable_cores
from greensim.fleet.execution import _client_threads as _client_threads
from greensim.fleet.execution import _file_rows as _file_rows
from greensim.fleet.execution import run_fleet as run_fleet
from greensim.fleet.jobs import _block_sums as _block_sums
from greensim.fleet.jobs import _HourSampler as _HourSampler
from greensim.fleet.jobs import _Jobs as _Jobs
from greensim.fleet.jobs import _rng as _rng
from greensim.fleet.jobs import _synthetic_partition as _synthetic_partition
from greensim.fleet.jobs import synthetic_block as synthetic_block
from greensim.fleet.keys import _TOP_KEYS as _TOP_KEYS
from greensim.fleet.keys import BLOCK_JOBS as BLOCK_JOBS
from greensim.fleet.keys import DASK_HINT as DASK_HINT
from greensim.fleet.keys import DEFAULT_DEADLINE_H as DEFAULT_DEADLINE_H
from greensim.fleet.keys import DEFAULT_MAX_DURATION_H as DEFAULT_MAX_DURATION_H
from greensim.fleet.keys import DEFAULT_PARTITION_JOBS as DEFAULT_PARTITION_JOBS
from greensim.fleet.keys import DIST_TAIL_SD as DIST_TAIL_SD
from greensim.fleet.keys import JOB_COST_S as JOB_COST_S
from greensim.fleet.keys import MAX_JOB_ENERGY_KWH as MAX_JOB_ENERGY_KWH
from greensim.fleet.keys import MAX_JOBS as MAX_JOBS
from greensim.fleet.keys import MAX_RUN_S as MAX_RUN_S
from greensim.fleet.keys import METRICS as METRICS
from greensim.fleet.keys import MODES as MODES
from greensim.fleet.keys import NO_WORKER_PROFILE as NO_WORKER_PROFILE
from greensim.fleet.keys import PROJECTED_NOTE as PROJECTED_NOTE
from greensim.fleet.keys import SCHEDULER_TIMEOUT_S as SCHEDULER_TIMEOUT_S
from greensim.fleet.keys import SCHEMA as SCHEMA
from greensim.fleet.keys import SUM_RTOL as SUM_RTOL
from greensim.fleet.keys import SWEEP_SCHEMA as SWEEP_SCHEMA
from greensim.fleet.keys import TABLE_LIMIT_BYTES as TABLE_LIMIT_BYTES
from greensim.fleet.keys import WORKER_BASE_BYTES as WORKER_BASE_BYTES
from greensim.fleet.keys import FloatArray as FloatArray
from greensim.fleet.keys import IntArray as IntArray
from greensim.fleet.parquet import _parquet_partition as _parquet_partition
from greensim.fleet.parquet import _parquet_plan as _parquet_plan
from greensim.fleet.rendering import plot_fleet as plot_fleet
from greensim.fleet.rendering import plot_sweep as plot_sweep
from greensim.fleet.rendering import render_fleet as render_fleet
from greensim.fleet.rendering import render_sweep as render_sweep
from greensim.fleet.rendering import to_json_text as to_json_text
from greensim.fleet.results import FleetResult as FleetResult
from greensim.fleet.scenario_files import FleetScenario as FleetScenario
from greensim.fleet.scenario_files import _num as _num
from greensim.fleet.scenario_files import _short as _short
from greensim.fleet.scenario_files import load_fleet_scenario as load_fleet_scenario
from greensim.fleet.scenario_files import parse_fleet as parse_fleet
from greensim.fleet.scenario_files import parse_fleet_scenario as parse_fleet_scenario
from greensim.fleet.spec import Dist as Dist
from greensim.fleet.spec import FleetSpec as FleetSpec
from greensim.fleet.sweeps import SweepResult as SweepResult
from greensim.fleet.sweeps import run_sweep as run_sweep
from greensim.fleet.tables import _TABLES as _TABLES
from greensim.fleet.tables import _Model as _Model
from greensim.fleet.tables import _slack_steps as _slack_steps
from greensim.fleet.tables import _tables as _tables

"""The counted meter: energy from instruction and memory-traffic counts under callgrind.

``pytest --energy-meter=counted`` on an unchanged command line: the plugin
re-launches the same command under ``setarch -R valgrind --tool=callgrind
--instr-atstart=no --collect-atstart=no --cache-sim=yes`` (:func:`relaunch`)
with a fixed hash seed, no address randomisation, one thread for
BLAS/OpenMP/torch/Numba and fixed rounds (no calibration by wall time), and
exits with that run's status (under pytest-xdist, ``-n N``, only the workers
run under callgrind and the native controller merges their results:
:mod:`greenbench.meters.counted.xdist`).

Inside it, the recorder hands every measured round to
:meth:`CountedMeter.run_round` (issue #20), which makes the counts a property
of the code, not of the process's history:

* instrumentation is switched on at the benchmark's first round and stays on
  until it ends, so the simulated caches hold what the code left there;
* each round first runs **uncollected warm-up calls** (caches, the
  interpreter's specialised bytecode, allocator free lists reach their
  steady state), then collection is toggled on (``CALLGRIND_TOGGLE_COLLECT``)
  for the measured calls only;
* the number of calls per round is chosen **by counts, not time**: a power of
  two that makes a round about :data:`TARGET_INSTRUCTIONS` (4 M) instructions,
  from a one-call count at the benchmark's first round (long rounds average
  out CPython's specialise/deoptimise cycles at polymorphic call sites);
* once per benchmark, **settling calls run uninstrumented** (up to
  :data:`SETTLE_CALLS` / :data:`SETTLE_INSTRUCTIONS`): the adaptive
  interpreter's specialisation settles before anything is counted;
* the simulated **L1 caches are fully associative** (VALGRIND_ARGS): an L1
  miss depends on the lines a call touches, not on the cache sets its heap
  addresses map to (with 8 ways, L1 misses followed the heap layout);
* the harness's own counts (pytest-benchmark's runner, timer reads, the
  client requests), calibrated on a no-op with the same runner, are
  subtracted as pytest-benchmark subtracts its timer overhead;
* the cyclic garbage collector does not run inside a round (its trigger
  depends on how many objects the process allocated since the last collection);
* ``random`` (and numpy's global generator) are seeded before each test module
  is imported and before each test, so module-level random data is the same
  whichever tests are selected (:class:`CountedRunPlugin`);
* a benchmark that starts a child process inside a measured round is refused
  by name (its child's work would not be counted).

Energy is the model of greenbench.meters.counted.energy_model over the counts
(``estimated=True``).  Counts are deterministic: a busy machine changes how
long a run takes, not what it counts; the gate (greenbench.gate) compares them directly.

Imports: stdlib, greenbench.errors/counted_model/meters.base (gate lazily).
"""

# split by restructure.py (issue #25): one module per section: counts, meter, valgrind, records

from __future__ import annotations

from greenbench.meters.counted.counts import CHILD_EVENTS as CHILD_EVENTS
from greenbench.meters.counted.counts import DEFAULT_ROUNDS as DEFAULT_ROUNDS
from greenbench.meters.counted.counts import DETERMINISTIC_ENV as DETERMINISTIC_ENV
from greenbench.meters.counted.counts import DIR_ENV as DIR_ENV
from greenbench.meters.counted.counts import MAX_CALLS as MAX_CALLS
from greenbench.meters.counted.counts import MAX_WARMUP_CALLS as MAX_WARMUP_CALLS
from greenbench.meters.counted.counts import NUMBA_ENV as NUMBA_ENV
from greenbench.meters.counted.counts import ROUNDS_ENV as ROUNDS_ENV
from greenbench.meters.counted.counts import SETTLE_CALLS as SETTLE_CALLS
from greenbench.meters.counted.counts import SETTLE_INSTRUCTIONS as SETTLE_INSTRUCTIONS
from greenbench.meters.counted.counts import TARGET_INSTRUCTIONS as TARGET_INSTRUCTIONS
from greenbench.meters.counted.counts import VALGRIND_ARGS as VALGRIND_ARGS
from greenbench.meters.counted.counts import WARMUP_INSTRUCTIONS as WARMUP_INSTRUCTIONS
from greenbench.meters.counted.counts import counted_rounds as counted_rounds
from greenbench.meters.counted.counts import parse_callgrind as parse_callgrind
from greenbench.meters.counted.counts import per_call as per_call
from greenbench.meters.counted.counts import read_counts as read_counts
from greenbench.meters.counted.counts import settle_calls as settle_calls
from greenbench.meters.counted.counts import under_counted_run as under_counted_run
from greenbench.meters.counted.meter import CountedMeter as CountedMeter
from greenbench.meters.counted.records import explain_change as explain_change
from greenbench.meters.counted.records import record_counts as record_counts
from greenbench.meters.counted.records import with_counts as with_counts
from greenbench.meters.counted.valgrind import NUMBA_WARMUP_ENV as NUMBA_WARMUP_ENV
from greenbench.meters.counted.valgrind import PAD_BLOCK as PAD_BLOCK
from greenbench.meters.counted.valgrind import PAD_ENV as PAD_ENV
from greenbench.meters.counted.valgrind import WARMUP_OPTIONS as WARMUP_OPTIONS
from greenbench.meters.counted.valgrind import ChildProcessRefused as ChildProcessRefused
from greenbench.meters.counted.valgrind import aslr_off_prefix as aslr_off_prefix
from greenbench.meters.counted.valgrind import benchmark_options as benchmark_options
from greenbench.meters.counted.valgrind import counted_cmdline_main as counted_cmdline_main
from greenbench.meters.counted.valgrind import counted_run_plugin as counted_run_plugin
from greenbench.meters.counted.valgrind import pad_env as pad_env
from greenbench.meters.counted.valgrind import refuse_child_processes as refuse_child_processes
from greenbench.meters.counted.valgrind import refuse_xdist as refuse_xdist
from greenbench.meters.counted.valgrind import relaunch as relaunch
from greenbench.meters.counted.valgrind import relaunch_command as relaunch_command
from greenbench.meters.counted.valgrind import relaunch_env as relaunch_env
from greenbench.meters.counted.valgrind import seed_random as seed_random
from greenbench.meters.counted.valgrind import valgrind_messages as valgrind_messages
from greenbench.meters.counted.valgrind import warm_numba_cache as warm_numba_cache

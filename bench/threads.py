"""Thread count of the numeric libraries, set before they are imported.

OpenMP/BLAS read their thread count once, when loaded, so the variables must
be set before numpy/torch/numba are imported (``threadpool_limits()`` only
reaches libraries already loaded, so it is the fallback, not the mechanism).
Measured on these 2-core shared machines: 2 threads barely help at the quick
sizes and fall 10-60x behind under contention; OpenMP threads that
spin-wait made a 0.72 s NCA step take 8.9 s, and ``OMP_WAIT_POLICY=PASSIVE``
halved that damage.  Hence: one thread by default, passive waiting.
"""

from __future__ import annotations

import os
import sys
from typing import Any

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)

_limits: Any = None  # keeps threadpoolctl's limiter alive for the session


def resolve(option: int | None, environ: dict[str, str] | os._Environ[str] = os.environ) -> int:
    """``--workload-threads`` if given, else ``OMP_NUM_THREADS`` if set, else 1."""
    if option is not None:
        return option
    value = environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else 1


def apply(n: int) -> None:
    """Set the thread variables, and limit libraries that are already loaded."""
    global _limits
    for var in THREAD_VARS:
        os.environ[var] = str(n)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if "numpy" in sys.modules:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
            pass
        else:
            _limits = threadpool_limits(limits=n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)

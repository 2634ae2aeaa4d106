"""greenbench's benchmark suite and its measurement machinery.

Sub-packages: ``meters`` (energy sources; stdlib only, never pytest),
``workloads`` (pure algorithm code; never meters nor pytest), ``sections``
(report pieces), and ``plugin`` (the pytest plugin: hooks and fixtures only).
"""

import os as _os

#: ``GREENBENCH_BENCH_TINY=1``: tiny sizes for the counted CI subset (``nox -s bench_counted``, issue #12): under
#: callgrind every instruction costs ~50-100x, so test_classic, test_nca (and test_deep) shrink their quick size
TINY = _os.environ.get("GREENBENCH_BENCH_TINY", "") == "1"

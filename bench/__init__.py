"""greenbench's benchmark suite and its measurement machinery.

Sub-packages: ``meters`` (energy sources; stdlib only, never pytest),
``workloads`` (pure algorithm code; never meters nor pytest), ``sections``
(report pieces), and ``plugin`` (the pytest plugin: hooks and fixtures only).
"""

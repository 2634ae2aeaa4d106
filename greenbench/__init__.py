"""greenbench: energy (J) and carbon (gCO2e) of any pytest-benchmark test, and an energy regression gate.

Installed as a pytest plugin (entry point ``greenbench``): every test using
pytest-benchmark's ``benchmark`` fixture gets energy per round in
pytest-benchmark's own JSON.  Public names: :class:`Measurement` (one energy
window), :mod:`greenbench.meters` (``RaplMeter``, ``NvmlMeter``,
``CodeCarbonMeter``, ``ModelMeter``, ``auto_meter``, ``get_meter``),
:mod:`greenbench.results` (the results schema), :mod:`greenbench.errors`.

Importing greenbench loads no numpy and changes nothing in the process.

PYTEST_DONT_REWRITE: pytest's assertion rewriting skips this package module (it has no assertions).  The fork
server of ``--energy-isolate`` (greenbench.meters.counted.forkserver) is started as a module of this package, so
the package is imported before pytest's rewriting hook exists; without the marker every job's pytest would warn
that it cannot rewrite it.
"""

from __future__ import annotations

from importlib import metadata

from greenbench.errors import ConfigError, DataError, GreenbenchError, MeterError, MeterUnavailable
from greenbench.meters.base import Measurement

try:
    __version__ = metadata.version("greenbench")
except metadata.PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "ConfigError",
    "DataError",
    "GreenbenchError",
    "Measurement",
    "MeterError",
    "MeterUnavailable",
    "__version__",
]

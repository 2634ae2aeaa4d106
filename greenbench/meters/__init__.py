"""Energy meters: one module per source, one auto-selecting factory.

Public: :class:`RaplMeter` (Linux powercap counters), :class:`NvmlMeter`
(NVIDIA GPUs), :class:`CodeCarbonMeter` (CodeCarbon's estimate, for
comparison), :class:`ModelMeter` (CPU-time model, the estimated fallback),
:func:`auto_meter` (best readable source, probed once), :func:`get_meter`
(by name, for the plugin), :func:`probe_report` (why each source is or is
not used) and the :class:`Measurement` record.

Imports: stdlib and :mod:`greenbench.errors` only; ``pynvml`` and
``codecarbon`` lazily, when their meter is built.  Never pytest.
"""

from __future__ import annotations

from greenbench.meters.auto import (
    METER_NAMES,
    CompositeMeter,
    SourceStatus,
    auto_meter,
    clear_cache,
    format_probe_report,
    get_meter,
    probe,
    probe_report,
)
from greenbench.meters.base import Measurement, Meter, MeterBase
from greenbench.meters.codecarbon import CodeCarbonMeter
from greenbench.meters.model import ModelMeter
from greenbench.meters.nvml import NvmlMeter
from greenbench.meters.rapl import RaplMeter

__all__ = [
    "METER_NAMES",
    "CodeCarbonMeter",
    "CompositeMeter",
    "Measurement",
    "Meter",
    "MeterBase",
    "ModelMeter",
    "NvmlMeter",
    "RaplMeter",
    "SourceStatus",
    "auto_meter",
    "clear_cache",
    "format_probe_report",
    "get_meter",
    "probe",
    "probe_report",
]

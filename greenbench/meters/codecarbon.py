"""CodeCarbon's estimate around the same window, to show next to ours.

Each window runs one ``OfflineEmissionsTracker`` (offline: no network,
country given; ``output_methods=[]``: no CSV or lock file written; log level
"error").  Energy is read from the tracker's ``final_emissions_data``
(kWh, converted once by :func:`kwh_to_j`).

Always ``estimated=True``: without readable RAPL (as on these machines)
CodeCarbon estimates CPU power from a TDP table and the *machine's* load
(``tracking_mode="machine"``, its default: other processes included) and
charges RAM at a flat power.  Costly: the first tracker in a process takes
0.5-1.6 s, later ones a few ms per start+stop -- never the automatic choice.

Imports: stdlib and :mod:`greenbench.errors`; ``codecarbon`` lazily.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from greenbench.errors import ConfigError, MeterError, MeterUnavailable
from greenbench.meters.base import Measurement, MeterBase

INSTALL_HINT = "install it with `pip install codecarbon` (or `pip install greenbench[codecarbon]`)"

#: CodeCarbon's default interval between power measurements is 15 s; windows
#: here are short, so sample every second (its scheduler's own floor is ~0.1 s).
DEFAULT_MEASURE_POWER_SECS = 1.0


def kwh_to_j(energy_kwh: float) -> float:
    """The one conversion of CodeCarbon's kWh to joules (1 kWh = 3.6 MJ)."""
    return energy_kwh * 3.6e6


class CodeCarbonMeter(MeterBase):
    """CodeCarbon's estimated energy (J) for a window: ``domains`` cpu / memory / gpu.

    ``country_iso_code``: 3-letter ISO code for its carbon intensity (it only
    changes emissions, not energy).  ``tracking_mode``: "machine" (CodeCarbon's
    default, whole machine) or "process".
    """

    source = "codecarbon"
    estimated = True

    def __init__(
        self,
        country_iso_code: str = "FRA",
        *,
        tracking_mode: str = "machine",
        measure_power_secs: float = DEFAULT_MEASURE_POWER_SECS,
        clock: Callable[[], float] = time.perf_counter,
        cpu_clock: Callable[[], float] = time.process_time,
        reason: str = "asked for explicitly",
        tracker_cls: Any = None,
    ) -> None:
        iso = country_iso_code
        if not (isinstance(iso, str) and len(iso) == 3 and iso.isalpha()):
            raise ConfigError(
                f"CodeCarbonMeter.country_iso_code: expected a 3-letter ISO code like 'FRA', got {iso!r}"
            )
        if tracking_mode not in ("machine", "process"):
            raise ConfigError(
                f"CodeCarbonMeter.tracking_mode: expected 'machine' or 'process', got {tracking_mode!r}"
            )
        if not measure_power_secs > 0:
            raise ConfigError(
                f"CodeCarbonMeter.measure_power_secs: expected > 0 s, got {measure_power_secs!r}"
            )
        if tracker_cls is None:  # tests inject a stand-in
            try:
                from codecarbon import OfflineEmissionsTracker as tracker_cls
            except ImportError:
                raise MeterUnavailable(
                    f"CodeCarbon: the codecarbon package is not installed; {INSTALL_HINT}"
                ) from None
        self._tracker_cls = tracker_cls
        self.country_iso_code = country_iso_code.upper()
        self.tracking_mode = tracking_mode
        self.measure_power_secs = float(measure_power_secs)
        self.update_period_s = self.measure_power_secs
        self.reason = reason
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._tracker: Any = None
        self._notes = (
            f"estimated by CodeCarbon (tracking_mode={tracking_mode}: "
            + ("whole machine, other processes included" if tracking_mode == "machine" else "this process")
            + "; RAM at a flat power)",
        )

    def start(self) -> None:
        self._begin_window()
        # Its init logs at INFO before applying log_level: quieten the logger first.
        logging.getLogger("codecarbon").setLevel(logging.ERROR)
        tracker = self._tracker_cls(
            country_iso_code=self.country_iso_code,
            output_methods=[],
            log_level="error",
            measure_power_secs=self.measure_power_secs,
            tracking_mode=self.tracking_mode,
            allow_multiple_runs=True,
        )
        t0, cpu0 = self._clock(), self._cpu_clock()
        tracker.start()
        self._tracker = tracker
        self._mark_open(t0, cpu0)

    def stop(self) -> Measurement:
        self._end_window()
        tracker, self._tracker = self._tracker, None
        tracker.stop()
        duration_s, cpu_s = self._elapsed(self._clock(), self._cpu_clock())
        # CodeCarbon's start/stop swallow their own exceptions; a missing record is our only sign
        data = getattr(tracker, "final_emissions_data", None)
        if data is None:
            raise MeterError("CodeCarbon: the tracker stopped without emissions data (it failed silently)")
        domains = {
            "cpu": kwh_to_j(float(data.cpu_energy)),
            "memory": kwh_to_j(float(data.ram_energy)),
        }
        if float(data.gpu_energy) > 0:
            domains["gpu"] = kwh_to_j(float(data.gpu_energy))
        return Measurement(
            energy_j=kwh_to_j(float(data.energy_consumed)),
            duration_s=duration_s,
            cpu_time_s=cpu_s,
            source="codecarbon",
            estimated=True,
            domains=domains,
            notes=self._notes,
        )

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "domains": ["cpu", "memory", "gpu"],
            "reason": self.reason,
            "country_iso_code": self.country_iso_code,
            "tracking_mode": self.tracking_mode,
            "scope": "whole machine" if self.tracking_mode == "machine" else "this process",
        }

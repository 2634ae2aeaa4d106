"""CodeCarbon in its own process, for ``--energy-codecarbon`` (greenbench.sidebyside).

Run as ``python -m greenbench._cc_sidecar``: reads one command per line on stdin and answers one
line on stdout, so CodeCarbon (its imports, ~130 MB of memory, its scheduler threads) never lives in
the measured process.  Commands:

``start ISO MODE SECONDS``
    build an ``OfflineEmissionsTracker`` (country ISO, tracking mode, power-sampling period) and
    start it; answers ``ok``.
``stop``
    stop it; answers a JSON object: ``energy_consumed``, ``cpu_energy``, ``ram_energy``,
    ``gpu_energy`` (kWh, CodeCarbon's units) and ``duration`` (s).
``quit``
    exit.

Any failure answers ``error: ...`` (one line) and the sidecar keeps serving.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any


def serve(stdin: Any = sys.stdin, stdout: Any = sys.stdout) -> int:
    tracker: Any = None
    for line in stdin:
        words = line.split()
        if not words:
            continue
        try:
            if words[0] == "quit":
                return 0
            if words[0] == "start" and len(words) == 4:
                logging.getLogger("codecarbon").setLevel(logging.ERROR)
                from codecarbon import OfflineEmissionsTracker

                tracker = OfflineEmissionsTracker(country_iso_code=words[1], tracking_mode=words[2],
                                                  measure_power_secs=float(words[3]), output_methods=[],
                                                  log_level="error", allow_multiple_runs=True)
                tracker.start()
                answer = "ok"
            elif words[0] == "stop" and tracker is not None:
                t, tracker = tracker, None
                t.stop()
                data = getattr(t, "final_emissions_data", None)
                if data is None:
                    raise RuntimeError("the tracker stopped without emissions data (it failed silently)")
                answer = json.dumps({k: float(getattr(data, k)) for k in
                                     ("energy_consumed", "cpu_energy", "ram_energy", "gpu_energy", "duration")})
            else:
                answer = f"error: unexpected command {line.strip()!r}"
        except Exception as exc:  # one line back, never a traceback on the pipe
            answer = f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        stdout.write(answer + "\n")
        stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(serve())

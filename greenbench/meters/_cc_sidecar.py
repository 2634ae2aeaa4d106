"""CodeCarbon in its own process, for ``--energy-codecarbon`` (greenbench.meters.sidebyside).

Run as ``python -m greenbench.meters._cc_sidecar`` (or ``--detach FIFO_IN FIFO_OUT``, see :func:`detach`):
reads one command per line and answers one line, so CodeCarbon (its imports, ~130 MB of memory,
its scheduler threads) never lives in the measured process.  Commands:

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


def detach(fifo_in: str, fifo_out: str) -> int:
    """Serve from a grandchild re-parented away from the caller (double fork, new session).

    A meter that counts its process's live children (the model meter reads ``/proc/<pid>/task/*/children``
    and each child's ``stat`` in every window) then neither pays for reading the sidecar nor charges its
    sampling to the benchmark.  The first line on ``fifo_out`` is ``pid N``; the sidecar ends when the
    caller closes ``fifo_in`` (EOF, also when the caller dies) or sends ``quit``.
    """
    import os

    if os.fork() > 0:
        return 0  # the direct child: exits at once, reaped by the caller
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    with open(fifo_in, encoding="utf-8") as stdin, open(fifo_out, "w", encoding="utf-8") as stdout:
        stdout.write(f"pid {os.getpid()}\n")
        stdout.flush()
        serve(stdin, stdout)
    os._exit(0)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--detach":
        raise SystemExit(detach(sys.argv[2], sys.argv[3]))
    raise SystemExit(serve())

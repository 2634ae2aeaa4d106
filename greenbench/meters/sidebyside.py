"""``--energy-codecarbon``: CodeCarbon's estimate of a whole benchmark, beside ours.

Issue #23: a CodeCarbon tracker built around every round put its own
start/stop and its scheduler threads *inside* our windows (our figure rose by
+70% to +230% with it on) and its per-round figure was mostly CodeCarbon's own
start/stop (6-12 mJ whatever the call).  CodeCarbon samples power on a
scheduler (15 s by default, 1 s here) and was not made for microsecond
windows.  So now:

* :class:`BenchmarkWindow` runs **one** tracker around a whole benchmark --
  started before pytest-benchmark calibrates, stopped after its last round,
  before greenbench summarises -- never inside one of our windows (its start
  and stop, the costly parts, happen outside every round; only its sampling
  thread runs meanwhile, waking once per :data:`MEASURE_POWER_S`).
* Its energy is divided by **every** call the benchmark made in that window
  (calibration, warm-up and rounds: the runner factory is wrapped outside the
  recorder's, so the count costs nothing inside our windows).
* Its per-call figure is shown only when the window lasted at least
  :data:`MIN_PERIODS` of its sampling periods; otherwise ``extra_info["codecarbon"]``
  says why (``hidden``) and the tables show no figure for it.

Always estimated: without readable RAPL CodeCarbon charges a TDP share of the
*machine's* load and a flat RAM power, so it is a second opinion, never the
gate's figure.  The run's ``machine_info["greenbench"]["codecarbon"]`` records
that it was on, and the gate treats a change of this setting as a change of
set-up (greenbench.plugin.session).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from greenbench.errors import GreenbenchError, MeterError, MeterUnavailable
from greenbench.meters.base import Measurement

#: CodeCarbon's power-sampling period used here (its default is 15 s); its scheduler thread wakes this often
MEASURE_POWER_S = 1.0
#: a CodeCarbon figure is shown only for windows lasting at least this many of its sampling periods
MIN_PERIODS = 3

_DEFAULT: Any = object()  # "no timer passed": the runner's own default applies


#: seconds to wait for the sidecar's answer (its first start imports CodeCarbon and detects the hardware)
SIDECAR_TIMEOUT_S = 120.0


class SidecarCodeCarbon:
    """CodeCarbon's tracker in a separate, detached process (:mod:`greenbench.meters._cc_sidecar`), one per session.

    CodeCarbon's imports (~130 MB resident), threads and start/stop stay out of the benchmark's
    process, and the sidecar is not its child (double fork): a meter counting live children (the
    model meter reads each child's ``/proc`` files in every window, which raised a 25 us benchmark's
    median by ~10% with the sidecar as a child) neither reads nor charges it.  Its sampling, ~1 ms of
    CPU per second, is another process's load on the machine, as CodeCarbon itself sees it.  ``tracking_mode="machine"``
    (CodeCarbon's default): it estimates the whole machine, so running beside the benchmark changes
    nothing in what it measures.
    """

    source = "codecarbon"
    estimated = True

    def __init__(self, country_iso_code: str = "FRA", tracking_mode: str = "machine",
                 measure_power_secs: float = MEASURE_POWER_S) -> None:
        self.country_iso_code, self.tracking_mode = country_iso_code, tracking_mode
        self.update_period_s = float(measure_power_secs)
        self._writer: Any = None
        self._out_fd = -1
        self._buffer = b""
        self._folder: str | None = None
        self.pid: int | None = None  # the detached sidecar's pid (not our child)
        self._t0 = 0.0

    def _spawn(self) -> None:
        """Start the detached sidecar and connect to it through two FIFOs in a private folder."""
        import os
        import subprocess
        import sys
        import tempfile
        import time

        try:
            import codecarbon  # noqa: F401 -- fail here, in one line, when it is not installed
        except ImportError:
            from greenbench.meters.codecarbon import INSTALL_HINT

            raise MeterUnavailable(f"CodeCarbon: the codecarbon package is not installed; {INSTALL_HINT}") from None
        folder = tempfile.mkdtemp(prefix="greenbench-codecarbon-")
        fifo_in, fifo_out = os.path.join(folder, "in"), os.path.join(folder, "out")
        os.mkfifo(fifo_in, 0o600)
        os.mkfifo(fifo_out, 0o600)
        self._folder = folder
        launcher = subprocess.Popen([sys.executable, "-m", "greenbench.meters._cc_sidecar", "--detach", fifo_in, fifo_out],  # noqa: E501
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        launcher.wait(timeout=SIDECAR_TIMEOUT_S)  # exits once the sidecar has forked away: reaped here, outside windows
        # O_RDWR on our read end: opening never blocks, and a sidecar that died shows as a timeout, not a hang
        self._out_fd = os.open(fifo_out, os.O_RDWR | os.O_NONBLOCK)
        deadline = time.monotonic() + SIDECAR_TIMEOUT_S
        while True:  # the write end opens once the sidecar has opened its read end
            try:
                fd = os.open(fifo_in, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.close()
                    raise MeterError("CodeCarbon sidecar: it did not start") from None
                time.sleep(0.02)
        os.set_blocking(fd, True)
        self._writer = os.fdopen(fd, "w", encoding="utf-8")
        first = self._readline()
        if not first.startswith("pid "):
            self.close()
            raise MeterError(f"CodeCarbon sidecar: unexpected greeting {first!r}")
        self.pid = int(first.split()[1])
        import atexit

        atexit.register(self.close)

    def _readline(self) -> str:
        import os
        import select
        import time

        deadline = time.monotonic() + SIDECAR_TIMEOUT_S
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._out_fd], [], [], max(0.0, left))
            if not ready:
                return ""
            try:
                chunk = os.read(self._out_fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                return ""
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", "replace").strip()

    def _ask(self, line: str) -> str:
        if self._writer is None:
            self._spawn()
        try:
            self._writer.write(line + "\n")
            self._writer.flush()
        except OSError as exc:
            self.close()
            raise MeterError(f"CodeCarbon sidecar: it went away ({exc})") from None
        answer = self._readline()
        if not answer:
            self.close()
            command = line.split(maxsplit=1)[0]
            raise MeterError(f"CodeCarbon sidecar: no answer to {command!r} within {SIDECAR_TIMEOUT_S:g} s")
        if answer.startswith("error:"):
            raise MeterError(f"CodeCarbon sidecar: {answer[6:].strip()}")
        return answer

    def start(self) -> None:
        import time

        self._ask(f"start {self.country_iso_code} {self.tracking_mode} {self.update_period_s:g}")
        self._t0 = time.perf_counter()

    def stop(self) -> Measurement:
        import json
        import time

        data = json.loads(self._ask("stop"))
        duration = time.perf_counter() - self._t0
        domains = {"cpu": data["cpu_energy"] * 3.6e6, "memory": data["ram_energy"] * 3.6e6}
        if data["gpu_energy"] > 0:
            domains["gpu"] = data["gpu_energy"] * 3.6e6
        return Measurement(energy_j=data["energy_consumed"] * 3.6e6, duration_s=duration, cpu_time_s=0.0,
                           source="codecarbon", estimated=True, domains=domains,
                           notes=("estimated by CodeCarbon in a sidecar process (whole machine; RAM at a flat "
                                  "power)",))

    def describe(self) -> dict[str, Any]:
        return {"source": "codecarbon", "estimated": True, "update_period_s": self.update_period_s,
                "country_iso_code": self.country_iso_code, "tracking_mode": self.tracking_mode,
                "scope": "whole machine" if self.tracking_mode == "machine" else "the sidecar process",
                "process": "sidecar"}

    def close(self) -> None:
        """Tell the sidecar to quit (it also ends on EOF), then remove its FIFOs; killed if it lingers."""
        import os
        import shutil
        import signal
        import time

        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(OSError):
                writer.write("quit\n")
                writer.flush()
            with contextlib.suppress(OSError):
                writer.close()
        if self._out_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._out_fd)
            self._out_fd = -1
        pid, self.pid = self.pid, None
        if pid:
            for _ in range(50):  # up to ~5 s for a tracker's stop
                if not _alive(pid):
                    break
                time.sleep(0.1)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        folder, self._folder = self._folder, None
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
        self._buffer = b""


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting for its reaper does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


_SIDECAR: SidecarCodeCarbon | None = None


def _default_codecarbon() -> Any:
    """The session's CodeCarbon: one sidecar process, reused by every benchmark."""
    global _SIDECAR
    if _SIDECAR is None:
        _SIDECAR = SidecarCodeCarbon()
    return _SIDECAR


def setting(on: bool) -> dict[str, Any]:
    """What ``machine_info["greenbench"]["codecarbon"]`` records about ``--energy-codecarbon``."""
    if not on:
        return {"on": False}
    try:
        from importlib.metadata import version

        cc_version: str | None = version("codecarbon")
    except Exception:  # not installed: the first benchmark's block says so
        cc_version = None
    return {"on": True, "window": "whole benchmark", "measure_power_secs": MEASURE_POWER_S,
            "min_window_s": MEASURE_POWER_S * MIN_PERIODS, "version": cc_version}


class BenchmarkWindow:
    """One CodeCarbon window around one whole benchmark, outside greenbench's own windows.

    ``attach(fixture)`` must run *after* the recorder attached (it wraps the
    recorder's runner factory, so its call counting stays outside our
    windows); ``start()`` then opens the tracker; ``block()`` closes it and
    returns ``extra_info["codecarbon"]``.  A failing tracker never breaks the
    benchmark: the block carries the error and no figure.
    """

    def __init__(self, meter: Any = None, *, min_window_s: float | None = None,
                 meter_factory: Callable[[], Any] = _default_codecarbon) -> None:
        self._meter = meter
        self._factory = meter_factory
        self.calls = 0
        self.errors: list[str] = []
        self._open = False
        self._period_s = MEASURE_POWER_S
        self._min_window_s = min_window_s

    @property
    def meter(self) -> Any:
        if self._meter is None:
            self._meter = self._factory()
        return self._meter

    def attach(self, fixture: Any) -> None:
        """Count every call of the benchmarked function, outside the recorder's metered runner."""
        inner = fixture._make_runner

        def make_counted_runner(function: Any, args: Any, kwargs: Any) -> Callable[..., Any]:
            runner = inner(function, args, kwargs)

            def counted(loops_range: Any, timer: Any = _DEFAULT) -> Any:
                self.calls += len(loops_range) if loops_range else 1
                return runner(loops_range) if timer is _DEFAULT else runner(loops_range, timer)

            return counted

        fixture._make_runner = make_counted_runner

    def start(self) -> None:
        try:
            self.meter.start()
            self._open = True
        except Exception as exc:  # a second opinion must never break the measurement
            self.errors.append(_why(exc))
        self._period_s = float(getattr(self._meter, "update_period_s", None) or MEASURE_POWER_S)

    def block(self) -> dict[str, Any] | None:
        """Close the window; ``extra_info["codecarbon"]`` (None when nothing was opened or counted)."""
        m = None
        if self._open:
            self._open = False
            try:
                m = self.meter.stop()
            except Exception as exc:
                self.errors.append(_why(exc))
        base: dict[str, Any] = {"source": "codecarbon", "estimated": True,
                                "window": "whole benchmark (calibration, warm-up and rounds), "
                                          "outside greenbench's windows",
                                "measure_power_secs": self._period_s}
        if m is None:
            return base | {"hidden": "CodeCarbon failed: " + "; ".join(self.errors[-3:]),
                           "errors": self.errors[-3:]} if self.errors else None
        info: dict[str, Any] = getattr(self.meter, "describe", dict)()
        min_window = self._min_window_s if self._min_window_s is not None else self._period_s * MIN_PERIODS
        block = base | {
            "scope": info.get("scope", "?"),
            "window_s": m.duration_s,
            "energy_j": m.energy_j,
            "calls": self.calls,
            "domains_j": dict(m.domains),
            "min_window_s": min_window,
            "errors": self.errors[-3:],
        }
        if self.calls <= 0:
            block["hidden"] = "no call of the benchmarked function was counted in CodeCarbon's window"
        elif not m.duration_s >= min_window:
            block["hidden"] = (
                f"CodeCarbon's window lasted {m.duration_s:.3g} s, shorter than {MIN_PERIODS} of its "
                f"{self._period_s:g} s power samples ({min_window:g} s): its figure would be its sampling, not "
                "the benchmark; raise --benchmark-max-time (or --benchmark-min-rounds) so the benchmark runs longer")
        else:
            block["per_call_j"] = m.energy_j / self.calls
        return block


def _why(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, GreenbenchError) else f"{type(exc).__name__}: {exc}"
    return text.splitlines()[0] if text else type(exc).__name__


def hidden_reason(b: Any) -> str | None:
    """Why a benchmark shows no CodeCarbon figure (``extra_info["codecarbon"]["hidden"]``), else None."""
    cc = (b.get("extra_info") or {}).get("codecarbon") if isinstance(b, dict) else None
    reason = cc.get("hidden") if isinstance(cc, dict) else None
    return str(reason) if reason else None

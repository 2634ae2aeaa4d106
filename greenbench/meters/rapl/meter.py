"""Meter: a section of :mod:`greenbench.meters.rapl` (its docstring tells the whole story)."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from greenbench.errors import MeterError, MeterUnavailable
from greenbench.meters.base import Measurement, MeterBase
from greenbench.meters.rapl.zones import (
    BOUND_SLACK_S,
    DEFAULT_POWERCAP_ROOT,
    ENABLE_HINT,
    MAX_ZONE_POWER_W,
    POLL_MAX_INTERVAL_S,
    POLL_MIN_INTERVAL_S,
    POLL_SAFETY_FACTOR,
    RAPL_RESOLUTION_J,
    RAPL_UPDATE_PERIOD_S,
    STUCK_CPU_S,
    Opener,
    RaplZone,
    counter_delta_uj,
    discover,
    uj_to_j,
)


def _open_ro(path: str) -> int:
    return os.open(path, os.O_RDONLY)


def _poll_loop(ref: weakref.ReferenceType[RaplMeter], interval_s: float, halt: threading.Event) -> None:
    # Holds only a weak reference, so a dropped meter ends its poller.
    while not halt.wait(interval_s):
        meter = ref()
        if meter is None:
            return
        try:
            meter.poll()
        except MeterError as exc:
            # a thread cannot raise to the caller: stop() re-raises it
            meter.poll_error = exc
        del meter


def _close_all(fds: list[int], halt: threading.Event) -> None:
    halt.set()
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    fds.clear()


class RaplMeter(MeterBase):
    """Package + DRAM energy (J) of the whole machine from powercap counters.

    ``estimated=False``: read off the hardware's energy counters.  The
    figures cover every process on the machine (RAPL has no per-process
    view).  One window at a time per instance.

    ``opener`` opens a counter file read-only and returns a descriptor (tests
    inject one that raises PermissionError); ``clock``/``cpu_clock`` give
    wall and process CPU time (s).  ``background=False`` leaves polling to the
    caller (:meth:`poll`), for deterministic tests.
    """

    source = "rapl"
    estimated = False
    update_period_s = RAPL_UPDATE_PERIOD_S

    def __init__(
        self,
        powercap_root: str | os.PathLike[str] = DEFAULT_POWERCAP_ROOT,
        *,
        opener: Opener | None = None,
        clock: Callable[[], float] = time.perf_counter,
        cpu_clock: Callable[[], float] = time.process_time,
        background: bool = True,
        poll_interval_s: float | None = None,
        max_power_w: float = MAX_ZONE_POWER_W,
        reason: str = "asked for explicitly",
    ) -> None:
        self.layout = discover(powercap_root)
        self.zones = self.layout.zones
        self.reason = reason
        self._clock = clock
        self._cpu_clock = cpu_clock
        shortest_wrap_s = min(z.min_wrap_time_s(max_power_w) for z in self.zones)
        for zone in self.zones:
            if zone.min_wrap_time_s(max_power_w) < POLL_SAFETY_FACTOR * POLL_MIN_INTERVAL_S:
                raise MeterUnavailable(
                    f"RAPL: {os.path.join(zone.path, 'max_energy_range_uj')} is {zone.max_energy_range_uj} µJ: the "
                    f"counter could wrap every {zone.min_wrap_time_s(max_power_w):.2g} s, too fast to poll (real "
                    "RAPL ranges are tens to hundreds of kJ); refusing this zone rather than spinning")
        if poll_interval_s is None:
            poll_interval_s = min(POLL_MAX_INTERVAL_S, shortest_wrap_s / POLL_SAFETY_FACTOR)
        if not poll_interval_s > 0:
            raise MeterError(f"RaplMeter.poll_interval_s must be > 0 s, got {poll_interval_s!r}")
        self.poll_interval_s = float(poll_interval_s)
        self.shortest_wrap_s = shortest_wrap_s
        self._background = background

        open_fd = opener or _open_ro
        self._fds: list[int] = []
        self._halt = threading.Event()
        self._finalizer = weakref.finalize(self, _close_all, self._fds, self._halt)
        for zone in self.zones:
            try:
                self._fds.append(open_fd(zone.energy_path))
            except PermissionError:
                self.close()
                raise MeterUnavailable(
                    f"RAPL: {zone.energy_path} is readable by root only (Linux restricts energy_uj "
                    f"since 2020, CVE-2020-8694); {ENABLE_HINT}"
                ) from None
            except OSError as exc:
                self.close()
                raise MeterUnavailable(
                    f"RAPL: cannot open {zone.energy_path} ({exc.strerror or exc})"
                ) from None
        # One read now, so a counter that cannot be read fails here and not in a benchmark.
        try:
            self._read_all()
        except MeterError as exc:
            self.close()
            raise MeterUnavailable(str(exc)) from None

        self._ranges_uj = [z.max_energy_range_uj for z in self.zones]
        self._lock = threading.Lock()
        self._last_uj = [0] * len(self.zones)
        self._last_t = 0.0
        self._acc_uj = [0] * len(self.zones)
        self._wraps = 0
        self._thread: threading.Thread | None = None
        self.poll_error: MeterError | None = None

    # -- counters ---------------------------------------------------------
    def _read_all(self) -> list[int]:
        out = []
        for fd, zone in zip(self._fds, self.zones, strict=True):
            # pread at offset 0 makes sysfs regenerate the value (seq_file restarts at 0),
            # so one descriptor per zone serves every reading: one syscall, no open/close.
            try:
                raw = os.pread(fd, 32, 0)
            except OSError as exc:
                raise MeterError(f"RAPL: cannot read {zone.energy_path} ({exc.strerror or exc})") from None
            try:
                out.append(int(raw))
            except ValueError:
                raise MeterError(
                    f"RAPL: {zone.energy_path} holds {raw[:32]!r}, expected an integer count of µJ"
                ) from None
        return out

    def _bound_uj(self, zone: RaplZone, elapsed_s: float) -> float:
        """Most energy (µJ) ``zone`` can plausibly count in ``elapsed_s``."""
        return zone.max_power_w * (max(elapsed_s, 0.0) + BOUND_SLACK_S) * 1e6

    def _fold(self, now_uj: list[int], now_t: float) -> None:
        # caller holds self._lock
        elapsed = now_t - self._last_t
        for i, value in enumerate(now_uj):
            zone = self.zones[i]
            if not 0 <= value <= self._ranges_uj[i]:
                raise MeterError(f"RAPL: {zone.energy_path} reads {value} µJ, outside 0..{self._ranges_uj[i]} "
                                 "(max_energy_range_uj): a glitch, not energy; this window is refused")
            delta, wrapped = counter_delta_uj(self._last_uj[i], value, self._ranges_uj[i])
            if wrapped and delta > self._bound_uj(zone, elapsed):
                # a real wrap starts near the top of the range; a step back from lower down is a reset
                raise MeterError(
                    f"RAPL: {zone.energy_path} stepped back from {self._last_uj[i]} to {value} µJ: not a wrap "
                    f"(that would be {uj_to_j(delta):.4g} J in {elapsed:.3g} s, above the zone's "
                    f"{zone.max_power_w:g} W bound) but a counter reset or glitch; this window is refused")
            self._acc_uj[i] += delta
            self._wraps += wrapped
        self._last_uj = now_uj
        self._last_t = now_t

    def poll(self) -> None:
        """Fold the counters into the open window (the poller calls this; cheap no-op when idle)."""
        if not self._window_open:
            return
        with self._lock:
            if self._window_open:
                self._fold(self._read_all(), self._clock())

    def _ensure_poller(self) -> None:
        if self._thread is None and self._background:
            self._thread = threading.Thread(
                target=_poll_loop,
                args=(weakref.ref(self), self.poll_interval_s, self._halt),
                name="greenbench-rapl-poller",
                daemon=True,
            )
            self._thread.start()

    # -- window -------------------------------------------------------------
    def start(self) -> None:
        self._begin_window()
        if self._thread is None:
            self._ensure_poller()
        with self._lock:
            t0 = self._last_t = self._clock()
            cpu0 = self._cpu_clock()
            self._last_uj = self._read_all()
            self._acc_uj = [0] * len(self._last_uj)
            self._wraps = 0
            self.poll_error = None
            self._mark_open(t0, cpu0)

    def stop(self) -> Measurement:
        with self._lock:
            self._end_window()
            if self.poll_error is not None:
                exc, self.poll_error = self.poll_error, None
                raise MeterError(f"RAPL: the background poller failed in this window: {exc}")
            t1 = self._clock()
            self._fold(self._read_all(), t1)
            cpu1 = self._cpu_clock()
            acc_uj = self._acc_uj
            wraps = self._wraps
        duration_s, cpu_s = self._elapsed(t1, cpu1)
        for zone, acc in zip(self.zones, acc_uj, strict=True):
            if acc > self._bound_uj(zone, duration_s):
                raise MeterError(
                    f"RAPL: {zone.energy_path} counted {uj_to_j(acc):.4g} J in {duration_s:.3g} s, above the "
                    f"zone's {zone.max_power_w:g} W bound: impossible energy (a glitch or a missed reset); "
                    "this window is refused")
        if not any(acc_uj) and cpu_s >= STUCK_CPU_S and duration_s >= STUCK_CPU_S:
            raise MeterError(
                f"RAPL: no counter moved ({', '.join(z.energy_path for z in self.zones)}) in a {duration_s:.3g} s "
                f"window while this process used {cpu_s:.3g} s of CPU: a stuck or virtualised counter, not 0 J; "
                "this window is refused (use --energy-meter=model on this machine)")
        notes: tuple[str, ...] = ()
        if wraps:
            notes += (f"RAPL counter wrapped {wraps} time(s); corrected with max_energy_range_uj",)
        if duration_s < RAPL_UPDATE_PERIOD_S:
            notes += ("window shorter than RAPL's ~1 ms update period: energy is quantised",)
        return Measurement(
            energy_j=uj_to_j(sum(acc_uj)),
            duration_s=duration_s,
            cpu_time_s=cpu_s,
            source="rapl",
            estimated=False,
            domains={z.key: uj_to_j(a) for z, a in zip(self.zones, acc_uj, strict=True)},
            notes=notes,
        )

    def counters(self) -> tuple[int, ...]:
        """The zones' raw counters (µJ), read now: the session compares them across a whole benchmark."""
        with self._lock:
            return tuple(self._read_all())

    def moves(self, cpu_budget_s: float = 3 * STUCK_CPU_S) -> bool:
        """Whether a counter moves while this process burns at most ``cpu_budget_s`` of CPU.

        The auto meter's liveness check (issue #21): a RAPL that is readable but stuck or virtualised
        (every counter constant) is not chosen, however short the benchmarks' rounds will be.
        Returns as soon as a counter moves (about one ~1 ms RAPL update on real hardware).
        """
        with self._lock:
            first = self._read_all()
        begin = self._cpu_clock()
        spin = 0
        while self._cpu_clock() - begin < cpu_budget_s:
            for _ in range(5000):
                spin += 1
            with self._lock:
                if self._read_all() != first:
                    return True
        return False

    def close(self) -> None:
        """Stop the poller and close the counter files."""
        self._finalizer()

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "resolution_j": RAPL_RESOLUTION_J,
            "domains": [z.key for z in self.zones],
            "reason": self.reason,
            "powercap_root": self.layout.root,
            "zones": [
                {"key": z.key, "name": z.name, "path": z.path, "max_energy_range_uj": z.max_energy_range_uj,
                 "max_power_w": z.max_power_w}
                for z in self.zones
            ],
            "skipped": list(self.layout.skipped),
            "poll_interval_s": self.poll_interval_s,
            "scope": "whole machine (all processes)",
        }

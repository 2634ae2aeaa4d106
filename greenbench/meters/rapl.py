"""CPU package and DRAM energy from Linux powercap (Intel RAPL, also AMD).

The kernel lays RAPL out under ``/sys/class/powercap`` as flat symlinks
(``intel-rapl:0``, ``intel-rapl:0:2``...) into a nested tree under
``/sys/devices/virtual/powercap/intel-rapl/``.  Each zone directory holds
``name`` (``package-0``, ``dram``, ``core``, ``uncore``, ``psys``),
``energy_uj`` (a wrapping counter, µJ) and ``max_energy_range_uj`` (where it
wraps).  What is summed:

* every ``package-N`` zone once (two zones with the same name -- a
  multi-die or MMIO duplicate of the same counter -- count once);
* every ``dram`` sub-zone of a counted package;
* never ``core``/``uncore``: they are parts of their package, already in it;
* ``psys`` (the whole SoC/platform) only when there is no package zone,
  never on top of packages, which it contains.

Counters stay in µJ (``counter_uj``) and become joules in :func:`uj_to_j`
only.  A background poller folds in wraparounds for windows longer than one
wrap; start()/stop() only read the counters.

Imports: stdlib and :mod:`greenbench.errors` only.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenbench.errors import MeterError, MeterUnavailable
from greenbench.meters.base import Measurement, MeterBase

#: RAPL's energy status registers update about every 1 ms (Intel SDM Vol. 3B,
#: "Platform Specific Power Management Support", RAPL energy status MSRs;
#: measured ~1 ms by Khan et al. 2018, "RAPL in Action", ACM TOMPECS 3(2):9).
RAPL_UPDATE_PERIOD_S = 0.001

#: sysfs reports energy in whole microjoules.
RAPL_RESOLUTION_J = 1e-6

#: A generous upper bound on one zone's power, used only to estimate the
#: shortest possible time between two wraps.  2024 server packages top out
#: near 500 W TDP (AMD EPYC 9965, Intel Xeon 6980P); twice that leaves margin.
MAX_ZONE_POWER_W = 1000.0

#: A window's energy above (the zone's power bound) x (duration + this slack) is refused as
#: impossible: the slack covers a counter that ticks once per update period.
BOUND_SLACK_S = 2 * RAPL_UPDATE_PERIOD_S

#: The zone's power bound is this multiple of its highest ``constraint_*_max_power_uw``
#: (PL2/PL4 bursts run above the long-term limit that powercap reports first).
CONSTRAINT_BOUND_FACTOR = 4.0

#: The poller never polls faster than this: a counter range that wraps sooner
#: (``max_energy_range_uj`` of a few µJ) would make it spin; such a zone is refused.
POLL_MIN_INTERVAL_S = 1e-4

#: A window of at least this much process CPU time (s) with no counter movement
#: is a stuck counter (RAPL ticks every ~1 ms while a core runs), not 0 J.
STUCK_CPU_S = 10 * RAPL_UPDATE_PERIOD_S

#: The poller never sleeps longer than this, even when wraps are minutes apart.
POLL_MAX_INTERVAL_S = 5.0

#: Poll at most every quarter of the shortest wrap time: one missed wake-up
#: (a loaded machine) still leaves the counter short of a second wrap.
POLL_SAFETY_FACTOR = 4.0

DEFAULT_POWERCAP_ROOT = "/sys/class/powercap"

ENABLE_HINT = (
    "grant read access until reboot with `sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj "
    "/sys/class/powercap/intel-rapl:*:*/energy_uj`, or for good with the udev rule "
    "`ACTION==\"add\", SUBSYSTEM==\"powercap\", RUN+=\"/bin/chmod a+r %S%p/energy_uj\"` in "
    "/etc/udev/rules.d/99-powercap.rules (see docs/meters.md)"
)

_ZONE_RE = re.compile(r"^intel-rapl:(\d+)(?::(\d+))?$")

Opener = Callable[[str], int]


def uj_to_j(counter_uj: int) -> float:
    """The one conversion of RAPL counts (µJ) to joules."""
    return counter_uj / 1e6


def counter_delta_uj(before_uj: int, after_uj: int, max_energy_range_uj: int) -> tuple[int, bool]:
    """Energy (µJ) between two readings of a counter that wraps at ``max_energy_range_uj``.

    Returns ``(delta_uj, wrapped)``.  At most one wrap can be detected between
    two readings; the poller keeps readings closer than one wrap apart.
    """
    if after_uj >= before_uj:
        return after_uj - before_uj, False
    return after_uj + (max_energy_range_uj - before_uj), True


@dataclass(frozen=True, slots=True)
class RaplZone:
    """One counted powercap zone.

    ``key`` is its domain name in a :class:`Measurement` (``package-0``,
    ``dram-0``, ``psys``); ``name`` the zone's own ``name`` file; ``path``
    its directory; ``max_energy_range_uj`` where ``energy_uj`` wraps (µJ).
    """

    key: str
    name: str
    path: str
    max_energy_range_uj: int
    #: highest power (W) this zone can plausibly draw: windows above it are refused
    max_power_w: float = MAX_ZONE_POWER_W

    @property
    def energy_path(self) -> str:
        return os.path.join(self.path, "energy_uj")

    def min_wrap_time_s(self, max_power_w: float = MAX_ZONE_POWER_W) -> float:
        """Shortest time (s) for this counter to wrap, at ``max_power_w``."""
        return uj_to_j(self.max_energy_range_uj) / max_power_w


@dataclass(frozen=True, slots=True)
class RaplLayout:
    """What discovery found: counted zones and, for each skipped zone, why."""

    root: str
    zones: tuple[RaplZone, ...]
    skipped: tuple[str, ...]


def _read_text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except PermissionError:
        raise MeterUnavailable(f"RAPL: cannot read {path} (permission denied); {ENABLE_HINT}") from None
    except OSError as exc:
        raise MeterUnavailable(f"RAPL: cannot read {path} ({exc.strerror or exc})") from None


def _read_range_uj(zone_dir: Path) -> int:
    path = zone_dir / "max_energy_range_uj"
    text = _read_text(path)
    try:
        value = int(text)
    except ValueError:
        raise MeterUnavailable(f"RAPL: {path} holds {text!r}, expected a positive integer (µJ)") from None
    if value <= 0:
        raise MeterUnavailable(f"RAPL: {path} holds {value}, expected a positive integer (µJ)")
    return value


def _read_max_power_w(zone_dir: Path) -> float:
    """The zone's power bound (W): CONSTRAINT_BOUND_FACTOR x its highest constraint, else 1 kW."""
    best = 0
    for f in zone_dir.glob("constraint_*_max_power_uw"):
        with contextlib.suppress(OSError, ValueError):
            best = max(best, int(f.read_text().strip()))
    return best / 1e6 * CONSTRAINT_BOUND_FACTOR if best > 0 else MAX_ZONE_POWER_W


def _zone_index(entry: str) -> tuple[int, int]:
    """``intel-rapl:1:2`` -> (1, 2); a top-level ``intel-rapl:1`` -> (1, -1)."""
    m = _ZONE_RE.match(entry)
    if m is None:  # pragma: no cover - callers filter with _ZONE_RE first
        raise ValueError(entry)
    return int(m.group(1)), int(m.group(2) or -1)


def discover(powercap_root: str | os.PathLike[str] = DEFAULT_POWERCAP_ROOT) -> RaplLayout:
    """Find the zones to sum under ``powercap_root`` (flat or nested layout).

    Raises :class:`MeterUnavailable` naming the path when there is no tree,
    no RAPL zone, or no package/psys zone.  Reads only ``name`` and
    ``max_energy_range_uj`` (world-readable); ``energy_uj`` is opened later.
    """
    root = Path(powercap_root)
    if not root.is_dir():
        raise MeterUnavailable(
            f"RAPL: {root} not found (no powercap driver: not Linux, a VM or container without RAPL, "
            "or the module is not loaded -- try `sudo modprobe intel_rapl_msr`)"
        )
    entries = [e for e in os.listdir(root) if _ZONE_RE.match(e)]
    if not entries and (root / "intel-rapl").is_dir():
        # handed the control-type directory (nested layout) rather than the class directory
        root = root / "intel-rapl"
        entries = [e for e in os.listdir(root) if _ZONE_RE.match(e)]
    if not entries:
        raise MeterUnavailable(
            f"RAPL: no intel-rapl:N zone under {root} (RAPL driver not loaded -- try "
            "`sudo modprobe intel_rapl_msr`)"
        )
    entries.sort(key=_zone_index)
    tops = [e for e in entries if _zone_index(e)[1] < 0]
    flat_subs = [e for e in entries if _zone_index(e)[1] >= 0]

    packages: list[RaplZone] = []
    drams: list[RaplZone] = []
    psys: list[RaplZone] = []
    skipped: list[str] = []
    seen_paths: set[str] = set()
    seen_keys: set[str] = set()
    for top in tops:
        top_dir = root / top
        real = os.path.realpath(top_dir)
        if real in seen_paths:
            continue
        seen_paths.add(real)
        name = _read_text(top_dir / "name")
        if name.startswith("package"):
            kind = "package"
        elif name.startswith("psys"):
            kind = "psys"
        else:
            skipped.append(f"{top} ({name}): unknown top-level zone")
            continue
        if name in seen_keys:
            # Same name twice: the same package counter exposed again (multi-die
            # or MMIO duplicate).  Counting it would double the package energy.
            skipped.append(f"{top} ({name}): duplicate of an earlier {name} zone")
            continue
        seen_keys.add(name)
        zone = RaplZone(name, name, real, _read_range_uj(top_dir), _read_max_power_w(top_dir))
        (packages if kind == "package" else psys).append(zone)
        if kind != "package":
            continue
        index = _zone_index(top)[0]
        # flat layout: siblings intel-rapl:N:M; nested layout: children of the package directory
        sub_dirs = [root / s for s in flat_subs if _zone_index(s)[0] == index]
        nested = [s for s in os.listdir(top_dir) if _ZONE_RE.match(s)]
        sub_dirs += [top_dir / s for s in sorted(nested, key=_zone_index)]
        for sub_dir in sub_dirs:
            sub_real = os.path.realpath(sub_dir)
            if sub_real in seen_paths:
                continue
            seen_paths.add(sub_real)
            sub_name = _read_text(sub_dir / "name")
            if sub_name == "dram":
                key = "dram" + name.removeprefix("package")
                drams.append(RaplZone(key, sub_name, sub_real, _read_range_uj(sub_dir), _read_max_power_w(sub_dir)))
            else:
                skipped.append(f"{sub_dir.name} ({sub_name}): part of {name}, already in it")

    if packages:
        skipped += [f"{z.key}: psys contains the packages; never added on top" for z in psys]
        zones = tuple(packages + drams)
    elif psys:
        zones = tuple(psys)
    else:
        found = "; ".join(skipped) or "nothing"
        raise MeterUnavailable(f"RAPL: no package-N or psys zone under {root} (found: {found})")
    return RaplLayout(str(root), zones, tuple(skipped))


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

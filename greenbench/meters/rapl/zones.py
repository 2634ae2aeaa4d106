"""Zones: a section of :mod:`greenbench.meters.rapl` (its docstring tells the whole story)."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from greenbench.errors import MeterUnavailable

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

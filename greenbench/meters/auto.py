"""Pick the best readable energy source, once, and say why.

Order for the CPU side: RAPL (hardware counters, whole machine) when its
``energy_uj`` files are readable, else the CPU-time model (estimated, this
process).  When NVML sees a GPU its meter joins the CPU side in a
:class:`CompositeMeter` (``rapl+nvml`` / ``model+nvml``).  CodeCarbon is
never chosen automatically (milliseconds per window, whole-machine
estimates); ask for it by name.

:func:`auto_meter` never raises for a missing source: each one it could not
use is recorded with the reason (:func:`probe_report`).  A malformed
setting (e.g. ``GREENBENCH_CORE_POWER_W=abc``) still raises ConfigError.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from greenbench.errors import ConfigError, MeterError, MeterUnavailable
from greenbench.meters.base import _SOURCE_NAME, Measurement, Meter, MeterBase
from greenbench.meters.codecarbon import CodeCarbonMeter
from greenbench.meters.model import ModelMeter
from greenbench.meters.nvml import NvmlMeter, nvidia_driver_present
from greenbench.meters.rapl import DEFAULT_POWERCAP_ROOT, RaplMeter

_M = TypeVar("_M", RaplMeter, NvmlMeter)

#: names accepted by :func:`get_meter`
METER_NAMES = ("auto", "rapl", "nvml", "codecarbon", "model", "counted")


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """One energy source as probed: can it be read here, is it used, and why."""

    name: str
    available: bool
    used: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "available": self.available, "used": self.used, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Probe:
    """The outcome of probing: the chosen meter, why, and every source's status."""

    meter: Meter
    reason: str
    sources: tuple[SourceStatus, ...]


class CompositeMeter(MeterBase):
    """A CPU-side meter and a GPU meter over the same window; domains merged.

    ``estimated`` if either part is.  The CPU window encloses the GPU one
    (started first, stopped last), so the composite's duration is the CPU part's.
    """

    def __init__(self, cpu: Meter, gpu: Meter, *, reason: str = "asked for explicitly") -> None:
        self.parts = (cpu, gpu)
        self.source = f"{cpu.source}+{gpu.source}"
        self.estimated = bool(cpu.estimated or gpu.estimated)
        self.update_period_s = max(cpu.update_period_s, gpu.update_period_s)
        self.reason = reason

    def start(self) -> None:
        cpu, gpu = self.parts
        cpu.start()
        try:
            gpu.start()
        except BaseException:
            cpu.stop()  # leave the CPU meter closed so it can start again
            raise

    def stop(self) -> Measurement:
        cpu, gpu = self.parts
        try:
            g = gpu.stop()
        finally:
            c = cpu.stop()
        domains = dict(c.domains)
        for key, value in g.domains.items():
            if key in domains:
                raise MeterError(
                    f"CompositeMeter: domain {key!r} reported by both {cpu.source} and {gpu.source}"
                )
            domains[key] = value
        return Measurement(
            energy_j=c.energy_j + g.energy_j,
            duration_s=c.duration_s,
            cpu_time_s=c.cpu_time_s,
            source=self.source,
            estimated=self.estimated,
            domains=domains,
            notes=c.notes + g.notes,
            figures=getattr(c, "figures", {}),  # the model's side figures cover the CPU side only
        )

    def describe(self) -> dict[str, Any]:
        parts = [p.describe() for p in self.parts]
        return {
            "source": self.source,
            "estimated": self.estimated,
            "update_period_s": self.update_period_s,
            "domains": [d for part in parts for d in part.get("domains", [])],
            "reason": self.reason,
            "parts": parts,
        }


def _try(factory: Callable[[], _M]) -> tuple[_M | None, str]:
    try:
        return factory(), ""
    except MeterUnavailable as exc:
        return None, str(exc)


def probe(powercap_root: str | os.PathLike[str] = DEFAULT_POWERCAP_ROOT, nvml: Any = None,
          check_moving: bool | None = None) -> Probe:
    """Probe every source (uncached; :func:`auto_meter` caches the default probe).

    ``powercap_root`` and ``nvml`` (a pynvml-like module) are for tests.
    Without an injected ``nvml`` the pynvml import (~25 ms) is skipped when
    no NVIDIA driver shows itself.
    """
    rapl, rapl_why = _try(lambda: RaplMeter(powercap_root))
    if check_moving is None:  # the real counters are checked; a test's fake tree is left as it is
        check_moving = os.fspath(powercap_root) == os.fspath(DEFAULT_POWERCAP_ROOT)
    if rapl is not None and check_moving and not rapl.moves():
        rapl.close()
        rapl_why = (f"RAPL: counters under {rapl.layout.root} are readable but none moved while this process "
                    "burned CPU: stuck or virtualised, not 0 J")
        rapl = None
    if nvml is None and not nvidia_driver_present():
        gpu: NvmlMeter | None = None
        nvml_why = "NVML: no NVIDIA driver here (/proc/driver/nvidia and /dev/nvidiactl absent)"
    else:
        gpu, nvml_why = _try(lambda: NvmlMeter(nvml=nvml))

    cpu: RaplMeter | ModelMeter
    if rapl is not None:
        cpu = rapl
        keys = ", ".join(z.key for z in rapl.zones)
        cpu_why = f"rapl: energy counters readable under {rapl.layout.root} ({keys})"
        model_status = SourceStatus("model", True, False, "fallback only; RAPL counters are readable")
    else:
        cpu = ModelMeter()
        cpu_why = f"model (estimated, this process tree only): {rapl_why}"
        model_status = SourceStatus("model", True, True, "no readable hardware counter for the CPU")

    if gpu is not None:
        names = ", ".join(f"gpu{g.index} {g.name} ({g.path})" for g in gpu.gpus)
        why = f"{cpu_why}; nvml: {names}"
        meter: RaplMeter | ModelMeter | CompositeMeter = CompositeMeter(cpu, gpu, reason=why)
        gpu_status = SourceStatus("nvml", True, True, names)
    else:
        why = cpu_why
        meter = cpu
        gpu_status = SourceStatus("nvml", False, False, nvml_why)
    cpu.reason = meter.reason = why
    if gpu is not None:
        gpu.reason = why

    has_cc = importlib.util.find_spec("codecarbon") is not None
    cc_status = SourceStatus(
        "codecarbon", has_cc, False,
        "never chosen automatically (ms per window, whole-machine estimate); ask for get_meter('codecarbon')"
        if has_cc else "the codecarbon package is not installed (`pip install codecarbon`)",
    )
    rapl_status = SourceStatus("rapl", rapl is not None, rapl is not None, cpu_why if rapl else rapl_why)
    return Probe(meter, why, (rapl_status, gpu_status, model_status, cc_status))


@functools.cache
def _default_probe() -> Probe:
    return probe()


def auto_meter() -> Meter:
    """The best meter readable here (probed once per process, then cached).

    One shared instance: one window at a time.  ``auto_meter().describe()["reason"]``
    says what was picked and why; :func:`probe_report` lists every source.
    """
    return _default_probe().meter


def probe_report() -> tuple[SourceStatus, ...]:
    """Every source of the cached probe: available, used, and why (or why not)."""
    return _default_probe().sources


def format_probe_report(sources: tuple[SourceStatus, ...] | None = None) -> str:
    """One line per source, for terminals and logs."""
    rows = probe_report() if sources is None else sources
    return "\n".join(
        f"{s.name:<10} {'used' if s.used else 'available' if s.available else 'unavailable':<11} {s.reason}"
        for s in rows
    )


def clear_cache() -> None:
    """Forget the cached probe (tests; a machine whose permissions just changed)."""
    _default_probe.cache_clear()


_EXPLICIT: dict[str, Callable[[], Meter]] = {
    "rapl": RaplMeter,
    "nvml": NvmlMeter,
    "codecarbon": CodeCarbonMeter,
    "model": ModelMeter,
    "counted": lambda: _counted(),  # noqa: PLW0108 - defined below; issue #12: only under the callgrind run the plugin re-launches
}


def _counted() -> Meter:
    from greenbench.meters.counted import CountedMeter
    from greenbench.meters.counted.xdist import controller_meter

    controller = controller_meter()  # issue #20: a counted -n run's native controller measures nothing itself
    return controller if controller is not None else CountedMeter()


#: --energy-meter MODULE:CLASS (CLASS may be dotted: an attribute of an attribute)
_USER_SPEC = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*")
#: seconds a meter of the user's may take in start() or stop() before it is stopped with an error
USER_METER_TIMEOUT_S = 10.0
#: most power (W) a window of a meter of the user's may claim (1 MW: no single machine draws it)
USER_METER_MAX_POWER_W = 1e6


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {text[:300]}"


class _Timeout(Exception):
    pass


class CheckedMeter:
    """A meter of the user's (``--energy-meter MODULE:CLASS``), held to greenbench's contract.

    Every failure is a :class:`MeterError` of one line naming the meter: ``start()``/``stop()`` that
    raise, that do not return within :data:`USER_METER_TIMEOUT_S` (stopped with SIGALRM in the main
    thread), or a ``stop()`` that returns anything but a :class:`Measurement` or claims more than
    :data:`USER_METER_MAX_POWER_W`.  After a failure the user's window is closed (:meth:`abort`), so
    the next benchmark starts clean.  Everything else (``deterministic``, ``describe()``...) is the
    user's meter's own.
    """

    def __init__(self, inner: Any, spec: str, timeout_s: float = USER_METER_TIMEOUT_S) -> None:
        self.inner = inner
        self.spec = spec
        self.timeout_s = timeout_s
        self.source = inner.source
        self.estimated = inner.estimated
        self.update_period_s = inner.update_period_s

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    _in_call = False
    _deadline = 0.0
    _watchdog: Any = None

    def _alarm(self, signum: int, frame: Any) -> None:
        if self._in_call:  # an alarm that lands after the call returned is ignored
            raise _Timeout

    def _watch(self) -> None:
        """Daemon thread: past the deadline of a call still running, interrupt the main thread (SIGALRM)."""
        poll = min(0.25, self.timeout_s / 4)
        main = threading.main_thread().ident
        while True:
            time.sleep(poll)
            deadline = self._deadline
            if deadline and self._in_call and time.monotonic() > deadline and main is not None:
                self._deadline = 0.0
                signal.pthread_kill(main, signal.SIGALRM)

    def _call(self, what: str) -> Any:
        fn = getattr(self.inner, what)
        bounded = threading.current_thread() is threading.main_thread() and hasattr(signal, "pthread_kill")
        current = signal.getsignal(signal.SIGALRM) if bounded else None
        free = current == self._alarm or current in (signal.SIG_DFL, signal.SIG_IGN, None)
        if bounded and free:
            # no system call per window: the handler stays installed, a watchdog thread enforces the deadline
            if current != self._alarm:
                signal.signal(signal.SIGALRM, self._alarm)
            if self._watchdog is None:
                self._watchdog = threading.Thread(target=self._watch, name="greenbench-meter-watchdog", daemon=True)
                self._watchdog.start()
            self._deadline = time.monotonic() + self.timeout_s
        elif bounded:  # SIGALRM is someone else's (pytest-timeout): borrow it for the call, with a timer
            previous = signal.signal(signal.SIGALRM, self._alarm)
            old_timer = signal.getitimer(signal.ITIMER_REAL)
            signal.setitimer(signal.ITIMER_REAL, self.timeout_s)
        self._in_call = True
        try:
            return fn()
        except _Timeout:
            self.abort()
            raise MeterError(f"--energy-meter {self.spec}: {what}() did not return within {self.timeout_s:g} s; "
                             "stopped (a meter must return from start() and stop() promptly)") from None
        except Exception as exc:
            self.abort()
            raise MeterError(f"--energy-meter {self.spec}: {what}() raised {_short(exc)}") from None
        finally:
            self._in_call = False
            self._deadline = 0.0
            if bounded and not free:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
                if old_timer[0] > 0:  # someone else's alarm keeps running
                    signal.setitimer(signal.ITIMER_REAL, *old_timer)

    def start(self) -> None:
        self._call("start")

    def stop(self) -> Measurement:
        m = self._call("stop")
        if not isinstance(m, Measurement):
            self.abort()
            raise MeterError(f"--energy-meter {self.spec}: stop() returned {type(m).__name__} {repr(m)[:60]}; "
                             "expected a greenbench.meters.Measurement")
        if m.energy_j > USER_METER_MAX_POWER_W * max(m.duration_s, 1.0):
            raise MeterError(f"--energy-meter {self.spec}: stop() returned {m.energy_j:.4g} J for a "
                             f"{m.duration_s:.3g} s window, above {USER_METER_MAX_POWER_W:g} W: not a measurement")
        return m

    def abort(self) -> None:
        """Close the user's window after a failure (its ``abort()``, else MeterBase's flag)."""
        fn = getattr(self.inner, "abort", None)
        try:
            if callable(fn):
                fn()
            elif hasattr(self.inner, "_window_open"):
                self.inner._window_open = False
        except Exception:  # best effort: the failure being reported is the meter's first one
            pass

    def describe(self) -> dict[str, Any]:
        try:
            info = self.inner.describe()
        except Exception as exc:
            raise MeterError(f"--energy-meter {self.spec}: describe() raised {_short(exc)}") from None
        if not isinstance(info, Mapping):
            raise MeterError(f"--energy-meter {self.spec}: describe() returned {type(info).__name__}; "
                             "expected a dict of JSON-safe facts")
        try:
            out = json.loads(json.dumps(dict(info), allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise MeterError(f"--energy-meter {self.spec}: describe() is not JSON-safe ({exc})") from None
        out["source"] = self.source  # the figures' own labels win over what describe() claims
        out["estimated"] = self.estimated
        return dict(out)


def _user_meter(spec: str) -> Meter:
    """``MODULE:ATTR``: a meter class (or factory) of the user's, built with no arguments, then checked."""
    import importlib

    what = f"--energy-meter {spec}"
    if not _USER_SPEC.fullmatch(spec):
        raise ConfigError(f"{what}: expected MODULE:CLASS (e.g. mypkg.meters:MyMeter)")
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, SyntaxError, an error raised while the module runs
        raise ConfigError(f"{what}: cannot import {module_name} ({_short(exc)})") from None
    factory: Any = module
    for part in attr.split("."):
        try:
            factory = getattr(factory, part)
        except Exception:
            raise ConfigError(f"{what}: {module_name} has no {attr}") from None
    if not callable(factory):
        raise ConfigError(f"{what}: {attr} is a {type(factory).__name__}, not a class; expected a meter class "
                          "(see greenbench.meters.MeterBase)")
    try:
        meter = factory()
    except Exception as exc:
        raise ConfigError(f"{what}: {attr}() failed ({_short(exc)}); a meter is built with no arguments") from None
    try:
        ok = isinstance(meter, Meter)
    except Exception:
        ok = False
    if not ok:
        raise ConfigError(f"{what}: {attr}() is not a meter (expected source, estimated, "
                          "update_period_s, start(), stop() and describe(); see greenbench.meters.MeterBase)")
    source, estimated, period = meter.source, meter.estimated, meter.update_period_s
    if not isinstance(source, str) or not _SOURCE_NAME.fullmatch(source):
        raise ConfigError(f"{what}: source is {source!r}; expected a lower-case name such as 'mymeter'")
    if not isinstance(estimated, bool):
        raise ConfigError(f"{what}: estimated is {estimated!r}; expected True or False")
    if isinstance(period, bool) or not isinstance(period, (int, float)) or not math.isfinite(period) or period < 0:
        raise ConfigError(f"{what}: update_period_s is {period!r}; expected a finite number of seconds >= 0")
    checked = CheckedMeter(meter, spec)
    try:
        checked.describe()
    except MeterError as exc:
        raise ConfigError(str(exc)) from None
    return cast(Meter, checked)


def cmdline_relaunch(name: str | None) -> Callable[[Any], int | None] | None:
    """For ``--energy-meter=NAME``: the meter's own ``pytest_cmdline_main`` when it must run the whole command
    somewhere else (the counted meter: under Valgrind, issue #12), else None."""
    if name == "counted":
        from greenbench.meters.counted import counted_cmdline_main

        return counted_cmdline_main
    return None


def get_meter(name: str) -> Meter:
    """The meter named ``name`` (one of :data:`METER_NAMES`), for the plugin's option.

    ``"auto"`` is :func:`auto_meter` and never raises for a missing source; any
    other name builds a fresh meter and raises MeterUnavailable, with the fix,
    if that source cannot be read here.  Unknown names raise ConfigError.
    """
    if not isinstance(name, str):
        raise ConfigError(f"meter name {name!r}: expected one of {', '.join(METER_NAMES)}, or MODULE:CLASS")
    if ":" in name:
        return _user_meter(name.strip())
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in METER_NAMES:
        raise ConfigError(f"meter name {name!r}: expected one of {', '.join(METER_NAMES)}, or MODULE:CLASS")
    if key == "auto":
        return auto_meter()
    try:
        return _EXPLICIT[key]()
    except MeterUnavailable as exc:
        raise MeterUnavailable(
            f"{exc}; or use the 'auto' meter, which falls back to the estimated model"
        ) from None

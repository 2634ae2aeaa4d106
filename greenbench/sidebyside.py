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
set-up (greenbench.session).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from greenbench.errors import GreenbenchError

#: CodeCarbon's power-sampling period used here (its default is 15 s); its scheduler thread wakes this often
MEASURE_POWER_S = 1.0
#: a CodeCarbon figure is shown only for windows lasting at least this many of its sampling periods
MIN_PERIODS = 3

_DEFAULT: Any = object()  # "no timer passed": the runner's own default applies


def _default_codecarbon() -> Any:
    from greenbench.meters.codecarbon import CodeCarbonMeter

    return CodeCarbonMeter(reason="--energy-codecarbon: one tracker around each whole benchmark, beside ours",
                           measure_power_secs=MEASURE_POWER_S)


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

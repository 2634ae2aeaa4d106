"""``--energy-codecarbon``: CodeCarbon's estimate of the same rounds, beside ours.

:class:`TeeMeter` brackets each round with the session's meter *inside* a
CodeCarbon window (CodeCarbon's own start/stop cost, ~5 ms, stays outside
our window, so our figures do not change).  Its per-round figures are kept
beside the energy block as ``extra_info["codecarbon"]`` (read back with
:func:`greenbench.results.codecarbon_j`), always estimated: without readable
RAPL CodeCarbon charges a TDP share of the *machine's* load and a flat RAM
power, so it is a second opinion, never the gate's figure.
"""

from __future__ import annotations

from typing import Any

from greenbench.errors import MeterError
from greenbench.meters.base import Measurement, Meter, MeterBase
from greenbench.recorder import describe_values

#: most CodeCarbon measurements kept per benchmark (the recorder keeps far fewer rounds than this)
SIDE_CAP = 1024


def _default_codecarbon() -> Meter:
    from greenbench.meters.codecarbon import CodeCarbonMeter

    return CodeCarbonMeter(reason="--energy-codecarbon: shown beside the session's meter")


class TeeMeter(MeterBase):
    """The session's meter (its measurement is returned) inside a CodeCarbon window (kept aside)."""

    def __init__(self, primary: Meter, secondary: Meter | None = None) -> None:
        self.primary = primary
        self._secondary = secondary
        #: CodeCarbon's measurement of each round, keyed by the primary measurement it bracketed, so the
        #: recorder may thin its records (bounded recording) without the two lists falling out of step;
        #: bounded too: the oldest entries go first
        self.side: dict[int, tuple[Measurement, Measurement | None]] = {}
        self.errors: list[str] = []
        self.source = primary.source
        self.estimated = primary.estimated
        self.update_period_s = primary.update_period_s
        self.deterministic = bool(getattr(primary, "deterministic", False))
        self._open = False

    @property
    def secondary(self) -> Meter:
        if self._secondary is None:
            self._secondary = _default_codecarbon()
        return self._secondary

    def start(self) -> None:
        try:
            self.secondary.start()
            self._open = True
        except MeterError as exc:  # a second opinion must never break the measurement
            self.errors.append(str(exc))
            self._open = False
        self.primary.start()

    def stop(self) -> Measurement:
        m = self.primary.stop()
        side: Measurement | None = None
        if self._open:
            self._open = False
            try:
                side = self.secondary.stop()
            except MeterError as exc:
                self.errors.append(str(exc))
        self.side[id(m)] = (m, side)  # the measurement is kept alive with it, so its id stays unique
        while len(self.side) > SIDE_CAP:
            del self.side[next(iter(self.side))]
        return m

    def describe(self) -> dict[str, Any]:
        return self.primary.describe()


def codecarbon_block(recorder: Any, n_rounds: int) -> dict[str, Any] | None:
    """``extra_info["codecarbon"]`` for the rounds pytest-benchmark kept (None without CodeCarbon data)."""
    tee = getattr(recorder, "meter", None)
    if not isinstance(tee, TeeMeter) or n_rounds <= 0:
        return None
    per_call = []
    for r in recorder.records[-n_rounds:]:
        pair = tee.side.get(id(r.measurement))
        if pair is not None and pair[0] is r.measurement and pair[1] is not None:
            per_call.append(pair[1].energy_j / r.iterations)
    if not per_call:
        return {"source": "codecarbon", "estimated": True, "errors": tee.errors[-3:]} if tee.errors else None
    info: dict[str, Any] = getattr(tee.secondary, "describe", dict)()
    return {
        "source": "codecarbon",
        "estimated": True,
        "per_call_j": describe_values(per_call),
        "rounds_j": per_call,
        "scope": info.get("scope", "?"),
        "errors": tee.errors[-3:],
    }

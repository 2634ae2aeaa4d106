"""The study's figures and the literature figures the report cites: one file, ``bench/study.toml``."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from greenbench.errors import DataError

STUDY_FILE = Path(__file__).with_name("study.toml")


@cache
def _all() -> dict[str, Any]:
    try:
        return tomllib.loads(STUDY_FILE.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"{STUDY_FILE}: cannot read the study's figures ({exc})") from None


def figure(key: str) -> dict[str, Any]:
    """The table ``key`` (dotted, e.g. ``"deep.cnn"``) of bench/study.toml, as a dict."""
    node: Any = _all()
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise DataError(f"{STUDY_FILE}: no [{key}] table")
        node = node[part]
    return dict(node)


def numbers(key: str, *names: str) -> dict[str, float]:
    """Only the named numeric fields of ``key`` (all numeric fields when none are named)."""
    fig = figure(key)
    keep = names or tuple(k for k, v in fig.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
    return {k: float(fig[k]) for k in keep}


#: pounds to kilograms (exact, international avoirdupois pound)
KG_PER_LB = 0.45359237


def implied_window_s(co2e_kg: float, *, power_w: float | None = None,
                     intensity_g_per_kwh: float | None = None) -> float:
    """Seconds of CodeCarbon window a study CO2 figure implies at its constants (15.43 W, 84.88 g/kWh).

    ``co2e_kg / (intensity / 3.6e6 J per kWh) / power``: the time the tracker must have run for that CO2e
    at a constant power.  For Tables 14-16 it gives the energy's own time; for Tables 12-13 it shows that
    the CO2 figures cannot be reconciled with the printed times (docs/study_errors.md).
    """
    cc = numbers("codecarbon", "cpu_w", "ram_w", "intensity_g_per_kwh")
    watts = cc["cpu_w"] + cc["ram_w"] if power_w is None else power_w
    ci = cc["intensity_g_per_kwh"] if intensity_g_per_kwh is None else intensity_g_per_kwh
    if not (watts > 0 and ci > 0 and co2e_kg >= 0):
        raise DataError(f"implied_window_s: expected co2e_kg >= 0, power and intensity > 0; got {co2e_kg!r}, "
                        f"{watts!r} W, {ci!r} g/kWh")
    energy_j = co2e_kg * 1e3 / ci * 3.6e6
    return energy_j / watts

"""Argument checks shared by the models: one-line errors naming the field."""

from __future__ import annotations

import math

from greenbench.errors import ConfigError


def number(name: str, value: object) -> float:
    """A real, finite number (bool is refused: ``True`` is not a quantity)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    try:
        out = float(value)
    except OverflowError:  # a 10^400 TOML integer
        raise ConfigError(f"{name}: {str(value)[:12]}... ({len(str(value))} digits) is too large; expected a "
                          "finite number") from None
    if not math.isfinite(out):
        raise ConfigError(f"{name}: expected a finite number, got {value!r}")
    return out


def non_negative(name: str, value: object) -> float:
    out = number(name, value)
    if out < 0:
        raise ConfigError(f"{name}: expected a number >= 0, got {value!r}")
    return out


def positive(name: str, value: object) -> float:
    out = number(name, value)
    if out <= 0:
        raise ConfigError(f"{name}: expected a number > 0, got {value!r}")
    return out


def fraction(name: str, value: object) -> float:
    out = number(name, value)
    if not 0.0 <= out <= 1.0:
        raise ConfigError(f"{name}: expected a fraction between 0 and 1, got {value!r}")
    return out


def pue(name: str, value: object) -> float:
    out = number(name, value)
    if out < 1.0:
        raise ConfigError(f"{name}: expected a PUE >= 1 (total facility energy / IT energy), got {value!r}")
    return out

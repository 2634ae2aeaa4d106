"""The sorts' log-log slope with its fit uncertainty, flagged when rounds were contended (issue #23)."""

from __future__ import annotations

import math

import pytest
from fakes import make_entry

from bench.sections import sorts


def test_slope_standard_error_is_zero_on_an_exact_power_law_and_grows_with_scatter() -> None:
    ns = [1e2, 1e3, 1e4, 1e5]
    slope, se = sorts.fit_exponent_se(ns, [3e-9 * n**2 for n in ns])
    assert slope == pytest.approx(2.0) and se == pytest.approx(0.0, abs=1e-9)
    noisy = [3e-9 * n**2 * f for n, f in zip(ns, (1.0, 1.3, 0.8, 1.1), strict=True)]
    slope, se = sorts.fit_exponent_se(ns, noisy)
    assert 0.01 < se < 0.2
    # the textbook formula, computed independently
    xs, ys = [math.log(n) for n in ns], [math.log(y) for y in noisy]
    mx, my = sum(xs) / 4, sum(ys) / 4
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    resid = sum((y - my - b * (x - mx)) ** 2 for x, y in zip(xs, ys, strict=True))
    assert se == pytest.approx(math.sqrt(resid / 2 / sxx))
    assert math.isnan(sorts.fit_exponent_se(ns[:2], noisy[:2])[1])  # two sizes: no error estimate
    assert sorts._fse(sorts.fit_exponent_se(ns[:2], noisy[:2])).endswith("± n/a (2 sizes)")


def test_contended_sizes_are_flagged() -> None:
    class P:
        def __init__(self, n: int, contended: int) -> None:
            self.n = n
            self.bench = make_entry("test_sort", [1.0, 1.0, 1.0], contended_rounds=contended)

    assert sorts._contended_sizes([P(100, 0), P(1000, 3), P(10000, 0)]) == [1000]

"""A pytest plugin that plants a regression into a third-party suite without editing it (issue #20).

    GREENBENCH_PLANT="<test id substring>:<every>" PYTHONPATH=<repo>/bench python -m pytest -p greenbench_plant

Every benchmark whose test id contains the substring has its benchmarked function wrapped; with
``every`` > 0 the wrapper calls the function once more on every ``every``-th call, i.e. exactly
``1/every`` more of that function's own work (``every=50``: +2 %), cache-resident, the same code.
With ``every`` = 0 (or the variable unset while the plugin is loaded) the wrapper only counts calls,
so a baseline with the plugin loaded and ``every=0`` differs from the planted run by the planted work
alone.  The recorder's no-op harness calibration is never wrapped.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

ENV = "GREENBENCH_PLANT"


def _target() -> tuple[str, int] | None:
    raw = os.environ.get(ENV, "")
    if not raw:
        return None
    name, _, every = raw.rpartition(":")
    if not name or not every.isdigit():
        raise pytest.UsageError(f"{ENV}={raw!r}: expected '<test id substring>:<every>' (every: 0 or more)")
    return name, int(every)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    target = _target()
    fixture = getattr(item, "funcargs", {}).get("benchmark")
    if target is not None and fixture is not None and target[0] in item.nodeid:
        every = target[1]
        make_runner = fixture._make_runner

        def planted_runner(function: Any, args: Any, kwargs: Any) -> Any:
            if getattr(function, "__name__", "") == "_noop":  # greenbench's harness calibration
                return make_runner(function, args, kwargs)
            calls = [0]
            period = every or 1 << 62  # the same test on every call, planted or not: only the extra calls differ

            def planted(*a: Any, **k: Any) -> Any:
                calls[0] += 1
                if calls[0] % period == 0:
                    function(*a, **k)
                return function(*a, **k)

            return make_runner(planted, args, kwargs)

        fixture._make_runner = planted_runner
    return (yield)

"""A pytest plugin that plants a regression in one benchmark of a suite whose files stay unchanged.

``GREENBENCH_PLANT="SUBSTRING=FACTOR"``: the benchmark whose node id contains SUBSTRING does FACTOR times
its work per call (``1.7`` = +70%): the benchmarked function is called once, then again whenever an
accumulator of ``FACTOR - 1`` per call reaches 1 (exact for integer factors; within one call per round
otherwise, so use enough iterations per round, e.g. ``--benchmark-min-time=0.0001``).  Used by
``bench/bench_gate_load.py``; load it with ``-p gate_plant`` and this folder on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest


def _plant() -> tuple[str, float] | None:
    spec = os.environ.get("GREENBENCH_PLANT", "")
    if "=" not in spec:
        return None
    sub, _, factor = spec.rpartition("=")
    return sub, float(factor)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    plant = _plant()
    fixture = getattr(item, "funcargs", {}).get("benchmark")
    if plant and fixture is not None and plant[0] in item.nodeid:
        extra = plant[1] - 1.0
        raw = fixture._raw

        def planted_raw(fn: Any, *args: Any, **kwargs: Any) -> Any:
            acc = [0.0]

            def work(*a: Any, **k: Any) -> Any:
                out = fn(*a, **k)
                acc[0] += extra
                while acc[0] >= 1.0 - 1e-9:
                    fn(*a, **k)
                    acc[0] -= 1.0
                return out

            return raw(work, *args, **kwargs)

        fixture._raw = planted_raw
    return (yield)

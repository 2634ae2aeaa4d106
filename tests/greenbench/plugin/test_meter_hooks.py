"""Meters answer for themselves (issue #25): the plugin asks the meter what to add, never which meter it is."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from greenbench.meters.base import MeterBase
from greenbench.meters.counted import CountedMeter, with_counts

PLUGIN = Path(__file__).resolve().parents[3] / "greenbench" / "plugin"

HOOKED = """
import dataclasses

from fakes import OpcodeMeter


class HookedMeter(OpcodeMeter):
    def attach_benchmark(self, fixture):
        fixture.extra_info["attached"] = fixture.name

    def record_extras(self, record, rounds):
        return dataclasses.replace(record, warnings=(*record.warnings, f"extras from {len(rounds)} rounds"))
"""

WORK = """
def test_work(benchmark):
    benchmark(lambda: sum(range(200)))
"""


def test_the_defaults_add_nothing() -> None:
    meter = MeterBase()
    record = object()
    assert meter.record_extras(record, []) is record
    assert meter.attach_benchmark(SimpleNamespace()) is None


def test_the_counted_meter_adds_its_counts() -> None:
    assert CountedMeter.record_extras is not MeterBase.record_extras
    assert CountedMeter.attach_benchmark is not MeterBase.attach_benchmark
    uncounted = [SimpleNamespace(measurement=SimpleNamespace(counts=None), iterations=1)]
    record = SimpleNamespace(counts=None)
    meter = CountedMeter.__new__(CountedMeter)  # no Valgrind needed: the hook only forwards
    assert meter.record_extras(record, uncounted) is with_counts(record, uncounted) is record


def test_the_plugin_names_no_meter() -> None:
    for path in PLUGIN.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""(source|meter)\W*\)?\s*==\s*["']\w+["']""", text), path.name


@pytest.mark.serial  # runs a benchmark in a subprocess (pytest-benchmark disables itself under xdist)
def test_a_meter_of_the_users_adds_to_its_record(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(hooked=HOOKED, test_work=WORK)
    pytester.makeini("[pytest]\n")
    with pytest.MonkeyPatch.context() as mp:
        here = Path(__file__).resolve()  # the checkout first, then tests/ for fakes, then the meter's folder
        mp.setenv("PYTHONPATH", f"{here.parents[3]}:{here.parents[2]}:{pytester.path}")
        result = pytester.runpytest_subprocess("--benchmark-min-rounds=5", "--benchmark-max-time=0.05",
                                               "--benchmark-warmup=off", "-p", "no:cacheprovider",
                                               "--energy-meter=hooked:HookedMeter", "--benchmark-json=out.json")
    result.assert_outcomes(passed=1)
    bench = json.loads((pytester.path / "out.json").read_text())["benchmarks"][0]
    assert bench["extra_info"]["attached"] == "test_work"
    assert any(re.fullmatch(r"extras from \d+ rounds", w) for w in bench["extra_info"]["energy"]["warnings"])

"""The published JSON Schema of greenbench's fields (greenbench/data/schema/energy.schema.json, issue #23).

Our own output must validate against it: blocks built by the recorder, a session's machine_info, the
CodeCarbon side-by-side block, the golden file and a real run's JSON; and the schema must catch what
readers refuse (a string for ``estimated``, a negative energy).
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeMeter, make_entry

from greenbench.carbon import Intensity
from greenbench.meters.base import Measurement
from greenbench.meters.sidebyside import BenchmarkWindow
from greenbench.plugin.recorder import RoundRecord, summarize
from greenbench.plugin.session import EnergySession

jsonschema = pytest.importorskip("jsonschema")
HERE = Path(__file__).parent


def schema() -> dict[str, Any]:
    text = (files("greenbench") / "data" / "schema" / "energy.schema.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(doc)
    return dict(doc)


def validate(doc: Any) -> None:
    jsonschema.Draft202012Validator(schema()).validate(doc)


def energy_only(block: dict[str, Any]) -> dict[str, Any]:
    return {"benchmarks": [{"extra_info": {"energy": block}}]}


def test_the_golden_file_validates() -> None:
    validate(json.loads((HERE / "golden_results.json").read_text()))


def test_blocks_the_recorder_builds_validate() -> None:
    records = [RoundRecord(Measurement(e, 0.01, 0.01, "model", True, {"cpu": e * 0.8, "memory": e * 0.2}), 2, i)
               for i, e in enumerate([1.0, 1.2, 1.1, 1.3], 1)]
    rec = summarize(records, [0.0, 0.1, None, 0.9], {"update_period_s": 0.001}, Intensity(475.0, "world"),
                    speed_probe_s=1e-4, speed_probes_s=[1e-4, 1.1e-4], threads=1, harness_s=1e-4)
    validate(energy_only(rec.to_json()))
    validate({"benchmarks": [make_entry("test_a", [1.0, 2.0], source="rapl", estimated=False)]})


def test_machine_info_and_the_codecarbon_block_validate() -> None:
    for on in (False, True):
        es = EnergySession(meter_factory=lambda: FakeMeter([]), intensity=Intensity(475.0, "world"), codecarbon=on,
                           carbon_region="FR" if on else None)
        validate({"machine_info": {"greenbench": es.machine_info()}, "greenbench": {"schema_version": 2}})

    class Fixture:
        def _make_runner(self, function: Any, args: Any, kwargs: Any) -> Any:
            return lambda loops_range, timer=None: 0.001

    for seconds in (4.0, 0.5):  # shown, and hidden with its reason
        window = BenchmarkWindow(FakeMeter([6.0], seconds=seconds), min_window_s=3.0)
        fixture = Fixture()
        window.attach(fixture)
        window.start()
        fixture._make_runner(None, (), {})(range(10))
        block = window.block()
        assert block is not None and ("per_call_j" in block) is (seconds == 4.0)
        validate({"benchmarks": [{"extra_info": {"codecarbon": block}}]})


@pytest.mark.parametrize(("field", "value"), [("estimated", "yes"), ("total_j", -1.0), ("rounds_j", ["1"]),
                                              ("schema_version", 3)])
def test_the_schema_catches_what_readers_refuse(field: str, value: Any) -> None:
    block = make_entry("test_a")["extra_info"]["energy"]
    block[field] = value
    with pytest.raises(jsonschema.ValidationError):
        validate(energy_only(block))


PLAIN = """
def work(n):
    return sum(i * i for i in range(n))

def test_work(benchmark):
    benchmark(work, 200)
"""


@pytest.mark.serial
def test_a_real_runs_json_validates(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_plain=PLAIN)
    result = pytester.runpytest_subprocess("--benchmark-min-rounds=5", "--benchmark-max-time=0.05",
                                           "--benchmark-warmup=off", "-p", "no:cacheprovider", "-p", "no:dash",
                                           "--energy-meter=model", "--benchmark-json=out.json")
    result.assert_outcomes(passed=1)
    validate(json.loads((pytester.path / "out.json").read_text()))

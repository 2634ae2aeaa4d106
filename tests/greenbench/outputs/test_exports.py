"""Exports (greenbench.outputs.exports), each checked against its consumer's format or reader."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from fakes import make_entry

from greenbench.__main__ import main as cli
from greenbench.outputs import exports


def output() -> dict[str, Any]:
    return {"machine_info": {"system": "Linux", "python_version": "3.11.7", "cpu": {"brand_raw": "Xeon", "count": 2}},
            "commit_info": {"id": "abc123"}, "datetime": "2024-05-01T10:00:00",
            "benchmarks": [make_entry("test_a[x]", [1.0, 2.0, 3.0]),
                           make_entry("test_b", [0.1, 0.1, 0.1], estimated=False, source="rapl"),
                           make_entry("test_plain", energy=False)]}


def test_bencher_metric_format() -> None:
    """BMF: {benchmark: {measure_slug: {value, lower_value?, upper_value?}}} (Bencher Metric Format docs)."""
    bmf = exports.bencher(output())
    assert set(bmf) == {"bench/test_x.py::test_a[x]", "bench/test_x.py::test_b"}
    for measures in bmf.values():
        assert set(measures) == {"energy", "co2e", "latency"}
        for slug, m in measures.items():
            assert re.fullmatch(r"[a-z0-9-]+", slug)
            assert set(m) <= {"value", "lower_value", "upper_value"} and "value" in m
            assert all(isinstance(v, float) and math.isfinite(v) for v in m.values())
            if "lower_value" in m:
                assert m["lower_value"] <= m["value"] <= m["upper_value"]
    a = bmf["bench/test_x.py::test_a[x]"]["energy"]
    assert a == {"value": 2.0, "lower_value": 1.0, "upper_value": 3.0}
    json.dumps(bmf, allow_nan=False)


def test_github_action_benchmark_custom_smaller_is_better() -> None:
    """The action's reader maps each item to {name, value, unit, range, extra}: string/number/string/string?/string?."""
    items = exports.github_action_benchmark(output(), co2e=True)
    assert isinstance(items, list) and len(items) == 4
    for it in items:
        assert set(it) <= {"name", "value", "unit", "range", "extra"}
        assert isinstance(it["name"], str) and isinstance(it["unit"], str)
        assert isinstance(it["value"], float) and math.isfinite(it["value"])
        assert all(isinstance(it[k], str) for k in ("range", "extra") if k in it)
    by = {it["name"]: it for it in items}
    assert by["bench/test_x.py::test_a[x] energy"]["unit"] == "J"
    assert by["bench/test_x.py::test_a[x] energy"]["value"] == 1.0  # the gate's statistic: min over clean rounds
    assert "estimated" in by["bench/test_x.py::test_a[x] energy"]["extra"]
    assert "hardware counter" in by["bench/test_x.py::test_b energy"]["extra"]
    assert (by["bench/test_x.py::test_b energy"]["value"], by["bench/test_x.py::test_b energy"]["unit"]) == \
        (100.0, "mJ")
    assert by["bench/test_x.py::test_b CO2e"]["unit"].endswith("gCO2e")
    assert len({it["name"] for it in items}) == len(items)  # the action keys series by name
    assert len(exports.github_action_benchmark(output())) == 2  # CO2e entries only when asked


def test_codecarbon_csv_has_codecarbon_columns_and_reads_back() -> None:
    emissions_data = pytest.importorskip("codecarbon.output_methods.emissions_data")
    fields = [f.name for f in dataclasses.fields(emissions_data.EmissionsData)]
    assert list(exports.CODECARBON_COLUMNS) == fields
    text = exports.codecarbon_csv(output())
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2
    types = {f.name: f.type for f in dataclasses.fields(emissions_data.EmissionsData)}
    for row in rows:
        kwargs = {k: (float(v) if types[k] in ("float", float) and v != "" else v) for k, v in row.items()}
        data = emissions_data.EmissionsData(**kwargs)  # CodeCarbon's own record accepts every row
        assert data.energy_consumed > 0
    a = rows[0]
    assert float(a["energy_consumed"]) == pytest.approx(2.0 / 3.6e6)  # kWh per call
    assert float(a["emissions"]) == pytest.approx(2.0 / 3.6e6 * 475 / 1000)  # kg
    assert float(a["cpu_energy"]) + float(a["ram_energy"]) == pytest.approx(float(a["energy_consumed"]), rel=1e-12)


def test_codecarbon_csv_reads_with_pandas_like_its_dashboard() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(io.StringIO(exports.codecarbon_csv(output())))
    assert list(df.columns) == list(exports.CODECARBON_COLUMNS)
    assert df["energy_consumed"].sum() == pytest.approx(2.1 / 3.6e6)


@pytest.mark.parametrize("fmt", sorted(set(exports.FORMATS) - {"bencher-measures"}))
def test_cli_writes_each_format(tmp_path: Path, fmt: str) -> None:
    src = tmp_path / "results.json"
    src.write_text(json.dumps(output()))
    out = tmp_path / "out"
    assert cli(["export", fmt, str(src), "--out", str(out)]) == 0
    assert out.read_text().strip()


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["export", "bencher", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1

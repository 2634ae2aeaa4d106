"""The report folder and the results reader (greenbench.outputs.report, greenbench.results, greenbench.io.atomic)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenbench import results as R
from greenbench.errors import DataError
from greenbench.io import atomic
from greenbench.outputs import report


def bench_entry(name: str, energy_j: float, quality: dict[str, float] | None = None, group: str = "g",
                estimated: bool = True) -> dict[str, Any]:
    return {
        "name": name, "fullname": f"bench/test_x.py::{name}", "group": group, "params": None,
        "stats": {"min": 0.001, "median": 0.002, "rounds": 3},
        "extra_info": {
            "energy": {"schema_version": 1, "source": "model" if estimated else "rapl", "estimated": estimated,
                       "per_call_j": {"min": energy_j, "median": energy_j, "mean": energy_j, "rounds": 3},
                       "rounds_j": [energy_j] * 3, "power_w": 10.0, "co2e_g": energy_j / 3.6e6 * 475,
                       "warnings": []},
            **({"quality": quality} if quality else {}),
        },
    }


def output(*benchmarks: dict[str, Any]) -> dict[str, Any]:
    return {"machine_info": {"node": "n", "greenbench": {"meter": {"source": "model", "estimated": True}}},
            "commit_info": {"id": "abc"}, "benchmarks": list(benchmarks), "datetime": "now"}


def test_write_report_makes_a_complete_folder(tmp_path: Path) -> None:
    data = output(
        bench_entry("test_knn", 2.0, {"accuracy": 0.94}),
        bench_entry("test_kmeans", 20.0, {"accuracy": 0.86}),
        bench_entry("test_tiny", 0.001, {"accuracy": 0.95}),
        bench_entry("test_fid", 1.0, {"fid_mnist_cnn": 30.0}),
    )
    md_path = report.write_report(data, tmp_path / "rep")
    md = md_path.read_text()
    assert "test_knn" in md and "2 J*" in md and R.ESTIMATED_LEGEND in md
    assert (tmp_path / "rep" / "energy_per_workload.png").stat().st_size > 1000
    assert (tmp_path / "rep" / "energy_vs_quality.png").stat().st_size > 1000
    assert json.loads((tmp_path / "rep" / "results.json").read_text()) == data
    # no temporary files left behind: only the marker that makes it a greenbench report folder
    assert [p.name for p in (tmp_path / "rep").glob(".*")] == [".greenbench-report"]
    assert not list(tmp_path.glob(".*"))  # nor a staging folder beside it


def test_hardware_figures_carry_no_marker() -> None:
    b = bench_entry("t", 2.0, estimated=False)
    assert R.fmt_energy(b) == "2 J"
    assert "2 J*" not in report.summary_table([b])


def test_pareto_front_exact() -> None:
    pts = [(1.0, 0.90), (2.0, 0.95), (3.0, 0.93), (0.5, 0.80), (4.0, 0.99)]
    assert report.pareto_front(pts, higher_better=True) == [3, 0, 1, 4]
    assert report.pareto_front([(1.0, 30.0), (2.0, 10.0), (3.0, 20.0)], higher_better=False) == [0, 1]


@given(st.lists(st.tuples(st.floats(0.001, 1e3), st.floats(0, 1)), min_size=1, max_size=30))
def test_pareto_front_points_are_not_dominated(pts: list[tuple[float, float]]) -> None:
    front = report.pareto_front(pts, higher_better=True)
    assert front
    for i in front:
        e, q = pts[i]
        assert not any((e2 <= e and q2 > q) or (e2 < e and q2 >= q) for e2, q2 in pts)


def test_quality_direction() -> None:
    assert report.higher_is_better("accuracy")
    assert report.higher_is_better("is_mnist_cnn")
    assert not report.higher_is_better("fid_mnist_cnn")
    assert not report.higher_is_better("texture_loss")


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report.main([str(tmp_path / "none.json")]) == 2
    assert "no such results file" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert report.main([str(bad)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps(output(bench_entry("t", 1.0))))
    assert report.main([str(ok), "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "README.md").exists()


def test_load_rejects_non_benchmark_json(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text("[1, 2]")
    with pytest.raises(DataError, match="benchmarks"):
        R.load(p)


def test_accessors_handle_entries_without_energy() -> None:
    b = {"name": "t", "stats": {"median": 1.0}, "extra_info": {}}
    assert not R.has_energy(b)
    assert R.fmt_energy(b) == "-"
    assert R.source(b) == "-"
    assert R.quality(b) == {}


def test_fmt_si() -> None:
    assert R.fmt_si(0.0123, "J") == "12.3 mJ"
    assert R.fmt_si(1234.0, "J") == "1.23 kJ"
    assert R.fmt_si(float("nan"), "J") == "-"


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    atomic.write_json(target, {"a": 1})

    def broken(p: Path) -> None:
        p.write_text('{"half":')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic.write_with(target, broken)
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]

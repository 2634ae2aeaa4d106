"""What-if scenario files: parsing, one-line errors, projections, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

import greensim as gs
from greenbench.errors import DataError, ScenarioError
from greensim.__main__ import main
from greensim.scenario import load_scenario, read_benchmark_energy, run_scenario

SCENARIOS = Path(str(resources.files("greensim").joinpath("scenarios")))


def _results(tmp_path: Path, entries: list[dict[str, Any]] | None = None) -> Path:
    if entries is None:
        entries = [
            {"name": "test_knn_fit[quick]", "fullname": "bench/test_classic.py::test_knn_fit[quick]",
             "extra_info": {"energy": {"source": "model", "estimated": True,
                                       "per_call_j": {"median": 0.5, "min": 0.4}}}},
            {"name": "test_knn_predict[quick]", "fullname": "bench/test_classic.py::test_knn_predict[quick]",
             "extra_info": {"energy": {"source": "rapl", "estimated": False,
                                       "per_call_j": {"median": 2.0, "min": 1.5, "mean": 2.1, "max": 3.0}}}},
            {"name": "test_no_energy", "fullname": "bench/x.py::test_no_energy", "extra_info": {}},
        ]
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"machine_info": {}, "benchmarks": entries}))
    return path


def _scenario(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


# --------------------------------------------------------------------------- projections


def test_standalone_scenario_projects_each_lever(tmp_path: Path) -> None:
    path = _scenario(tmp_path, """
        [source]
        energy_j = 3.6e6
        [baseline]
        region = "WORLD"
        [[project]]
        name = "dc"
        pue = 1.5
        region = "FR"
        [[project]]
        name = "harvard"
        architecture = "harvard"
        [[project]]
        name = "snn"
        spike_rate = 0.1
        timesteps = 4
        [[project]]
        name = "4m"
        four_m = { model = 2, machine = 2, mechanization = 1.5, map = 3 }
        [[project]]
        name = "ops"
        architecture = "neuromorphic"
        ops = 1e9
        calls = 10
        [[project]]
        name = "window"
        window = { region = "GB", start = "2023-06-01T00:00:00Z", job_h = 1, deadline_h = 24 }
    """)
    res = run_scenario(load_scenario(path))
    world = gs.intensity_g_per_kwh("WORLD")
    rows = {r.name: r for r in res.rows}
    assert res.baseline is not None and res.baseline.co2e_g == pytest.approx(world)
    assert rows["dc"].facility_energy_j == pytest.approx(1.5 * 3.6e6)
    assert rows["dc"].co2e_g == pytest.approx(1.5 * gs.intensity_g_per_kwh("FR"))
    assert rows["dc"].co2e_factor_vs_baseline == pytest.approx(world / (1.5 * gs.intensity_g_per_kwh("FR")))
    assert rows["harvard"].it_energy_j == pytest.approx(0.8 * 3.6e6)
    assert rows["snn"].it_energy_j == pytest.approx(3.6e6 * 0.1 * 4 * 0.9 / 4.6)
    assert rows["4m"].it_energy_j == pytest.approx(3.6e6 / 6)
    assert rows["4m"].co2e_g == pytest.approx(world / 18)
    assert rows["4m"].energy_factor_vs_baseline == pytest.approx(6)
    assert rows["ops"].it_energy_j == pytest.approx(10 * 1e9 * 0.01e-9)
    gb = gs.hourly_series("GB")
    w = rows["window"].window
    assert w is not None and w["now_utc"] == "2023-06-01T00:00:00Z"
    now = gb.index_of(gb.start_utc.replace(month=6))
    assert w["best_g_per_kwh"] == pytest.approx(gb.intensity_g_per_kwh[now:now + 24].min())
    assert rows["window"].intensity_g_per_kwh == w["best_g_per_kwh"] <= w["now_g_per_kwh"]
    assert set(res.data_versions) == {"owid_ember_2023", "electricitymaps_hourly_2023"}


def test_results_source_reads_extra_info_and_carries_the_estimated_flag(tmp_path: Path) -> None:
    results = _results(tmp_path)
    path = _scenario(tmp_path, """
        [source]
        results = "results.json"
        benchmark = "test_knn_predict*"
        [[project]]
        name = "same"
    """)
    res = run_scenario(load_scenario(path))
    assert res.source is not None
    assert res.source.energy_j == 2.0 and res.source.estimated is False and res.source.meter == "rapl"
    assert res.source.benchmark == "test_knn_predict[quick]"
    assert res.rows[0].it_energy_j == 2.0
    # fullname matches exactly too; --results/--benchmark override the file
    other = run_scenario(load_scenario(path), results=results,
                         benchmark="bench/test_classic.py::test_knn_fit[quick]")
    assert other.source is not None and other.source.energy_j == 0.5 and other.source.estimated is True
    assert read_benchmark_energy(results, "test_knn_predict[quick]", "min").energy_j == 1.5


def test_json_marks_every_row_projected_and_keeps_data_versions(tmp_path: Path) -> None:
    path = _scenario(tmp_path, """
        [source]
        energy_j = 10.0
        [[project]]
        name = "zero grid"
        energy_j = 0.0
    """)
    doc = run_scenario(load_scenario(path)).to_json()
    assert doc["projected"] is True and doc["estimated"] is True
    assert doc["source"]["estimated"] is True
    assert all(r["projected"] and r["estimated"] for r in doc["projections"])
    assert doc["projections"][0]["co2e_factor_vs_baseline"] is None  # infinite gain is not valid JSON
    assert "owid_ember_2023" in doc["data_versions"]
    json.dumps(doc, allow_nan=False)


# --------------------------------------------------------------------------- one-line errors

BAD = [
    ('[[project]]\nname = "a"\npu = 1.2\n', r"project\[1\] 'a': unknown key 'pu' \(did you mean 'pue'\?\)"),
    ('[[project]]\nname = "a"\npue = "high"\n', r"project\[1\] 'a'\.pue: expected a number, got 'high'"),
    ('[[project]]\nname = "a"\npue = -1.2\n', r"project\[1\] 'a'\.pue: expected a PUE >= 1"),
    ('[[project]]\nname = "a"\nregion = "XX"\n', r"project\[1\] 'a'\.region: region: unknown region 'XX'"),
    ('[[project]]\nname = "a"\nspike_rate = 0.1\n', r"spike_rate and timesteps go together"),
    ('[[project]]\nname = "a"\nops = 5\n', r"'a'\.ops: given without architecture"),
    ('[[project]]\nname = "a"\narchitecture = "harvard"\nspike_rate = 0.1\ntimesteps = 2\n',
     r"architecture and spike_rate are alternative energy models"),
    ('[[project]]\nname = "a"\npue = 1.1\nfour_m = { mechanization = 2 }\n', r"double-counts pue"),
    ('[[project]]\nname = "a"\nfour_m = { modle = 2 }\n', r"four_m: unknown key 'modle'"),
    ('[[project]]\nname = "a"\nwindow = { region = "FR", job_h = 1 }\n', r"no hourly series for 'FR'"),
    ('[[project]]\nname = "a"\nwindow = { region = "GB" }\n', r"expected exactly one of job_h or job_min"),
    ('[[project]]\nname = "a"\nwindow = { region = "GB", job_h = 5, deadline_h = 2 }\n',
     r"deadline_h: expected a deadline >= the job length"),
    ('[[project]]\nname = "a"\nwindow = { region = "GB", job_h = 1, start = "tomorrow" }\n',
     r"window\.start: expected a UTC date-time"),
    ('[[project]]\nname = "a"\nop_mix = { fp32_mac = -1 }\n', r"op_mix\.fp32_mac: expected a number >= 0"),
    ('[[project]]\npue = 1.2\n', r"project\[1\]\.name: missing"),
    ('[[project]]\nname = "a"\n[[project]]\nname = "a"\n', r"duplicate project name 'a'"),
    ('title = "x"\n', r"no \[\[project\]\] tables"),
    ('project = 3\n', r"expected an array of tables"),
    ('colour = "green"\n[[project]]\nname = "a"\n', r"top level: unknown key 'colour'"),
    ('[source]\nenergy_j = -4\n[[project]]\nname = "a"\n', r"\[source\]\.energy_j: expected a number >= 0"),
    ('[source]\nresults = "r.json"\n[[project]]\nname = "a"\n', r"\[source\]\.benchmark: missing"),
    ('[source]\nenergy_j = 1\nstat = "p99"\n[[project]]\nname = "a"\n', r"\[source\]\.stat: expected one of"),
    ('[baseline]\npue = 0.5\n[[project]]\nname = "a"\n', r"\[baseline\]\.pue: expected a PUE >= 1"),
    ('[[project]]\nname = "a"\nestimated = true\n', r"unknown key 'estimated'"),
    ('[[project]\nname = "a"\n', r"not valid TOML"),
]


@pytest.mark.parametrize("text, pattern", BAD)
def test_bad_scenarios_fail_with_one_line_naming_file_and_key(tmp_path: Path, text: str, pattern: str) -> None:
    path = _scenario(tmp_path, text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: ")
    assert __import__("re").search(pattern, msg), msg


def test_run_time_errors_name_the_problem(tmp_path: Path) -> None:
    _results(tmp_path)
    missing_bench = _scenario(tmp_path, '[source]\nresults = "results.json"\nbenchmark = "test_knn_predcit"\n'
                                        '[[project]]\nname = "a"\n')
    with pytest.raises(DataError, match=r"no benchmark named or matching 'test_knn_predcit'; did you mean"):
        run_scenario(load_scenario(missing_bench))
    no_energy = _scenario(tmp_path, '[source]\nresults = "results.json"\nbenchmark = "test_no_energy"\n'
                                    '[[project]]\nname = "a"\n')
    with pytest.raises(DataError, match=r"has no extra_info\.energy\.per_call_j\.median"):
        run_scenario(load_scenario(no_energy))
    missing_file = _scenario(tmp_path, '[source]\nresults = "nope.json"\nbenchmark = "x"\n[[project]]\nname = "a"\n')
    with pytest.raises(DataError, match=r"nope\.json: no such results file"):
        run_scenario(load_scenario(missing_file))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        run_scenario(load_scenario(missing_file), results=tmp_path / "bad.json")
    no_energy_at_all = _scenario(tmp_path, '[[project]]\nname = "a"\npue = 1.2\n')
    with pytest.raises(ScenarioError, match=r"project\[1\] 'a': no energy to project"):
        run_scenario(load_scenario(no_energy_at_all))
    late = _scenario(tmp_path, '[[project]]\nname = "a"\nenergy_j = 1\n'
                               'window = { region = "GB", job_h = 2, start = 2023-12-31T23:00:00Z }\n')
    with pytest.raises(ScenarioError, match=r"window: window: a 120-min job .* cannot finish"):
        run_scenario(load_scenario(late))
    with pytest.raises(ScenarioError, match=r"no such scenario file"):
        load_scenario(tmp_path / "absent.toml")


# --------------------------------------------------------------------------- shipped examples and CLI


def test_shipped_scenarios_parse_and_run(tmp_path: Path) -> None:
    files = sorted(SCENARIOS.glob("*.toml"))
    assert {f.name for f in files} >= {"knn.toml", "nca_training.toml", "cnn_snn.toml"}
    results = _results(tmp_path)
    for f in files:
        sc = load_scenario(f)
        res = run_scenario(sc, results=results) if sc.source and sc.source.benchmark else run_scenario(sc)
        assert res.rows and all(r.co2e_g >= 0 for r in res.rows)
    nca = run_scenario(load_scenario(SCENARIOS / "nca_training.toml"))
    top = next(r for r in nca.rows if r.name.startswith("4M"))
    assert top.energy_factor_vs_baseline == pytest.approx(100) and top.co2e_factor_vs_baseline == pytest.approx(1000)


def test_cli_run_json_to_file_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = _results(tmp_path)
    out_json, out_png = tmp_path / "out" / "knn.json", tmp_path / "out" / "knn.png"
    rc = main(["run", str(SCENARIOS / "knn.toml"), "--results", str(results), "--json", str(out_json),
               "--plot", str(out_png)])
    assert rc == 0
    table = capsys.readouterr().out
    assert "projected (estimated)" in table and "test_knn_predict[quick]" in table
    doc = json.loads(out_json.read_text())
    assert doc["source"]["benchmark"] == "test_knn_predict[quick]" and doc["source"]["estimated"] is False
    assert doc["baseline"]["it_energy_j"] == pytest.approx(2.0 * 1e6)
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out_json.parent.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_cli_json_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(SCENARIOS / "cnn_snn.toml"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "greensim.scenario-result/1" and doc["baseline"] is None
    names = [p["name"] for p in doc["projections"]]
    assert "SNN, rate 0.1, 4 steps (simple)" in names


def test_cli_errors_are_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _scenario(tmp_path, '[[project]]\nname = "a"\npue = -1\n')
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("greensim: error: ") and "pue" in err
    # one command line serves every scenario: standalone ones ignore --results, with a note
    assert main(["run", str(SCENARIOS / "nca_training.toml"), "--results", str(tmp_path / "none.json")]) == 0
    assert "ignored: this scenario reads no benchmark" in capsys.readouterr().out
    assert main(["run", str(SCENARIOS / "nca_training.toml"), "--benchmark", "x"]) == 2
    assert "do not apply" in capsys.readouterr().err
    assert main(["run", str(SCENARIOS / "knn.toml")]) == 2
    assert "pass --results PATH" in capsys.readouterr().err
    assert main(["run", str(SCENARIOS / "knn.toml"), "--results", str(tmp_path / "none.json")]) == 2
    assert "no such results file" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["run", str(SCENARIOS / "cnn_snn.toml"), "--json", str(blocker / "x.json")]) == 2
    assert "--json" in capsys.readouterr().err


def test_cli_regions_and_snn_sweep(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["regions", "--hourly"]) == 0
    assert "US-CAL-CISO" in capsys.readouterr().out
    assert main(["regions", "--table", "nope"]) == 2
    assert "unknown table" in capsys.readouterr().err
    assert main(["snn-sweep"]) == 0
    out = capsys.readouterr().out
    assert "3.6×" in out and "7.3×" in out and "5.111" in out


def test_python_dash_m_entry_point_runs_standalone_scenario() -> None:
    proc = subprocess.run([sys.executable, "-m", "greensim", "run", str(SCENARIOS / "nca_training.toml")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Sweden" in proc.stdout and "Traceback" not in proc.stderr

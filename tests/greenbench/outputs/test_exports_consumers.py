"""Each export read by its real consumer's own code (issue #23), not by our own reading of its format.

* CodeCarbon CSV: every callback of CodeCarbon's ``carbonboard`` dashboard (``codecarbon[carbonboard]``,
  codecarbon.viz.carbonboard.render_app), called with what Dash would pass it, on our CSV and on a
  CSV written by CodeCarbon's own ``FileOutput``; a callback that works on CodeCarbon's must work on ours.
* github-action-benchmark: the action's own ``src/extract.ts`` (``extractResult``, tool
  ``customSmallerIsBetter``) run under node.  Needs a CommonJS bundle of it: set
  ``GREENBENCH_GAB_EXTRACT`` to its path (``.ci/consumers`` builds it from
  benchmark-action/github-action-benchmark with esbuild); skipped otherwise.
* Bencher: its published BMF JSON Schema (https://bencher.dev/bmf.json), kept unchanged in
  ``data/bencher_bmf.schema.json`` (bencherdev/bencher @ 8d75325c3bc5,
  services/console/public/bmf.json), with ``jsonschema``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fakes import make_entry

from greenbench.outputs import exports

DATA = Path(__file__).parents[1] / "data"
#: carbonboard builds dash_table.DataTable, which Dash 4 deprecates (third-party noise, not ours)
pytestmark = pytest.mark.filterwarnings(r"ignore:\s*The dash_table.DataTable will be removed:DeprecationWarning")


def output(region: str | None = None, label: str = "world average 475 g/kWh") -> dict[str, Any]:
    return {"machine_info": {"system": "Linux", "python_version": "3.11.7", "cpu": {"brand_raw": "Xeon", "count": 2},
                             "greenbench": {"carbon_region": region, "intensity_label": label,
                                            "meter": {"source": "model"}}},
            "commit_info": {"id": "abc123"}, "datetime": "2024-05-01T10:00:00",
            "benchmarks": [make_entry("test_a[x]", [1.0, 2.0, 3.0]),
                           make_entry("test_b", [0.001, 0.0012, 0.0011], estimated=False, source="rapl"),
                           make_entry("test_plain", energy=False)]}


# -- CodeCarbon's carbonboard -------------------------------------------------------------------------------

def carbonboard_failures(csv_path: Path) -> list[str]:
    """Run every carbonboard callback the way Dash would; the ones that raised, with their error."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("dash")
    plotly = pytest.importorskip("plotly")
    carbonboard = pytest.importorskip("codecarbon.viz.carbonboard")
    df = pd.read_csv(csv_path)
    app = carbonboard.render_app(df)
    callbacks = list(app.callback_map.values())
    first = callbacks[0]
    assert [i["id"] for i in first["inputs"]] == ["project_name"]
    produced = first["callback"].__wrapped__(df.project_name.iloc[0])
    # what the browser sends back: the stored outputs serialised as Dash does
    as_sent = json.loads(json.dumps({"hidden_project_data": produced[0], "hidden_project_summary": produced[1]},
                                    cls=plotly.utils.PlotlyJSONEncoder))
    inputs = {**as_sent, "energy_type": "fossil"}  # the dropdown's first choice
    failures = []
    for cb in callbacks[1:]:
        try:
            cb["callback"].__wrapped__(*[inputs[i["id"]] for i in cb["inputs"]])
        except Exception as exc:  # which callbacks fail is the finding
            failures.append(f"{cb['output']}: {type(exc).__name__}: {exc}")
    return failures


def codecarbon_own_csv(tmp_path: Path, iso: str = "FRA", name: str = "France", region: str = "") -> Path:
    """An emissions.csv written by CodeCarbon's own FileOutput (country given, as its offline tracker does)."""
    ed = pytest.importorskip("codecarbon.output_methods.emissions_data")
    file_mod = pytest.importorskip("codecarbon.output_methods.file")
    values: dict[str, Any] = {f.name: 0.0 for f in dataclasses.fields(ed.EmissionsData)}
    values |= {"timestamp": "2024-05-01T10:00:00", "project_name": "theirs", "run_id": "r1", "experiment_id": "e1",
               "duration": 10.0, "emissions": 1e-6, "energy_consumed": 2e-6, "cpu_energy": 1.5e-6, "ram_energy": 5e-7,
               "country_name": name, "country_iso_code": iso, "region": region, "cloud_provider": "",
               "cloud_region": "", "os": "Linux", "python_version": "3.11", "codecarbon_version": "3.3.2",
               "cpu_model": "Xeon", "gpu_model": "", "tracking_mode": "machine", "on_cloud": "N", "pue": 1.0,
               "longitude": None, "latitude": None}
    folder = tmp_path / f"codecarbon-{iso}"
    folder.mkdir()
    out = file_mod.FileOutput("emissions.csv", str(folder))
    out.out(ed.EmissionsData(**values), ed.EmissionsData(**values))
    return folder / "emissions.csv"


def test_carbonboard_runs_every_callback_on_our_csv(tmp_path: Path) -> None:
    for region, label in ((None, "world average 475 g/kWh"), ("FR", "FR 2023 yearly, OWID/Ember"),
                          ("US-CAL-CISO", "US-CAL-CISO 2024 yearly, Electricity Maps")):
        path = tmp_path / f"ours-{region}.csv"
        path.write_text(exports.codecarbon_csv(output(region, label), project_name="my-project"))
        row = next(csv.DictReader(io.StringIO(path.read_text())))
        # the same country in a file CodeCarbon wrote itself (carbonboard 3.3.2 fails on USA's regional map
        # whoever wrote the file: KeyError 'regionCode' on its own data's "_unit" entry)
        reference = carbonboard_failures(codecarbon_own_csv(tmp_path, row["country_iso_code"],
                                                            row["country_name"], row["region"]))
        ours = carbonboard_failures(path)
        # every callback that works on CodeCarbon's own file works on ours
        assert {f.split(":")[0] for f in ours} <= {f.split(":")[0] for f in reference}, ours
        if region != "US-CAL-CISO":
            assert not ours


def test_carbonboard_failed_on_the_old_empty_country(tmp_path: Path) -> None:
    """The check can fail: the CSV of before issue #23 (empty country columns) broke two callbacks."""
    text = exports.codecarbon_csv(output())
    rows = list(csv.DictReader(io.StringIO(text)))
    for r in rows:
        r["country_iso_code"] = r["country_name"] = ""
    path = tmp_path / "old.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=exports.CODECARBON_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    assert len(carbonboard_failures(path)) == 2


def test_codecarbon_columns_hold_what_codecarbon_means() -> None:
    pd = pytest.importorskip("pandas")
    version = pytest.importorskip("packaging.version")
    df = pd.read_csv(io.StringIO(exports.codecarbon_csv(output("FR", "FR 2023 yearly, OWID/Ember"),
                                                         project_name="my-project")))
    assert set(df.project_name) == {"my-project"}
    assert set(df.country_iso_code) == {"FRA"} and set(df.country_name) == {"France"}
    for v in df.codecarbon_version:
        version.Version(str(v))  # a version, not a note
    assert all("greenbench" in str(e) and "meter" in str(e) for e in df.experiment_id)  # our note lives here
    parts = df.cpu_energy + df.gpu_energy + df.ram_energy
    assert (parts - df.energy_consumed).abs().max() <= 1e-15 * df.energy_consumed.max()
    world = pd.read_csv(io.StringIO(exports.codecarbon_csv(output())))
    assert set(world.country_iso_code) == {"WLD"} and set(world.country_name) == {"World"}
    zone = pd.read_csv(io.StringIO(exports.codecarbon_csv(output("US-CAL-CISO", "x"))))
    assert set(zone.country_iso_code) == {"USA"} and set(zone.region) == {"US-CAL-CISO"}


# -- github-action-benchmark's own parser ------------------------------------------------------------------

DRIVER = """
const { extractResult } = require(process.env.GREENBENCH_GAB_EXTRACT);
extractResult({ tool: 'customSmallerIsBetter', outputFilePath: process.argv[2] })
  .then((r) => process.stdout.write(JSON.stringify(r.benches)))
  .catch((e) => { process.stderr.write(String(e && e.message)); process.exit(1); });
"""


def gab_extract(tmp_path: Path, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    bundle = os.environ.get("GREENBENCH_GAB_EXTRACT")
    node = shutil.which("node")
    if not bundle or not Path(bundle).is_file() or node is None:
        pytest.skip("github-action-benchmark's extract.ts bundle not built (GREENBENCH_GAB_EXTRACT, .ci/consumers)")
    data = tmp_path / "gab.json"
    data.write_text(json.dumps(items))
    event = tmp_path / "event.json"  # the action reads the commit from the event payload (no network)
    event.write_text(json.dumps({"head_commit": {"id": "abc123", "message": "m", "timestamp": "2024-05-01T10:00:00Z",
                                                 "url": "https://example.invalid/c", "author": {"name": "a"},
                                                 "committer": {"name": "a"}}}))
    driver = tmp_path / "driver.cjs"
    driver.write_text(DRIVER)
    env = {**os.environ, "GITHUB_EVENT_PATH": str(event), "GITHUB_REPOSITORY": "o/r"}
    proc = subprocess.run([node, str(driver), str(data)], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return list(json.loads(proc.stdout))


def test_github_action_benchmark_parses_our_export(tmp_path: Path) -> None:
    baseline = output()
    current = output()
    current["benchmarks"][0] = make_entry("test_a[x]", [1.0, 2.0, 3.0], contended=[True, True, False],
                                          contended_rounds=2)
    items = exports.github_action_benchmark(current, baseline=baseline, co2e=True)
    benches = gab_extract(tmp_path, items)
    assert [b["name"] for b in benches] == [i["name"] for i in items]
    for b, i in zip(benches, items, strict=True):
        assert b["value"] == i["value"] and b["unit"] == i["unit"] and b.get("extra") == i.get("extra")
    # the action rejects what is not its format: the check can fail
    with pytest.raises(AssertionError):
        gab_extract(tmp_path, [{"name": "x", "value": "not a number", "unit": "J"}])


def test_github_action_benchmark_exports_the_gates_statistic_and_verdict() -> None:
    cur = output()
    cur["benchmarks"][1] = make_entry("test_b", [0.001, 0.0012, 0.0011], estimated=False, source="rapl")
    items = exports.github_action_benchmark(cur)
    by = {i["name"]: i for i in items}
    a = by["bench/test_x.py::test_a[x] energy"]
    assert (a["value"], a["unit"]) == (1.0, "J")  # min over rounds, not the median (2.0)
    b = by["bench/test_x.py::test_b energy"]
    assert (b["value"], b["unit"]) == (1.0, "mJ")  # 0.001 J in a human unit
    assert not any(i["name"].endswith("CO2e") for i in items)  # only when asked
    assert "not run" in a["extra"]
    # units kept per benchmark from a previous export, whatever the magnitude now
    kept = exports.github_action_benchmark(cur, units_from=[{"name": b["name"], "unit": "uJ"}])
    assert {i["name"]: (i["value"], i["unit"]) for i in kept}[b["name"]] == (1000.0, "uJ")
    # with a baseline: the verdict rides in extra; undecided ones flagged or skipped
    base = output()
    gated = {i["name"]: i["extra"] for i in exports.github_action_benchmark(cur, baseline=base)}
    assert "energy gate: ok (+0.0%" in gated[b["name"]]
    cur["benchmarks"][0] = make_entry("test_a[x]", [1.3, 2.6, 3.9])  # +30% but rounds too spread to decide
    flagged = {i["name"]: i["extra"] for i in exports.github_action_benchmark(cur, baseline=base)}
    assert "undecided (inconclusive" in flagged[a["name"]] and "not a regression" in flagged[a["name"]]
    busy = output()
    busy["benchmarks"][0] = make_entry("test_a[x]", [3.0, 3.0, 3.0], contended=[True, True, True], contended_rounds=3)
    skipped = exports.github_action_benchmark(busy, baseline=base, undecided="skip")
    assert "bench/test_x.py::test_a[x] energy" not in {i["name"] for i in skipped}


def test_github_action_benchmark_refuses_to_gate_across_set_ups() -> None:
    base = output()
    base["machine_info"]["greenbench"]["codecarbon"] = {"on": True}
    items = exports.github_action_benchmark(output(), baseline=base)
    assert all("not compared" in i["extra"] and "--energy-codecarbon" in i["extra"] for i in items)


# -- Bencher's BMF schema ----------------------------------------------------------------------------------

def test_bencher_export_validates_against_bencher_bmf_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((DATA / "bencher_bmf.schema.json").read_text())
    assert schema["$id"] == "https://bencher.dev/bmf.json"
    for latency in (True, False):
        bmf = exports.bencher(output(), latency=latency)
        jsonschema.validate(bmf, schema)
        assert all(("latency" in m) is latency for m in bmf.values())
    with pytest.raises(jsonschema.ValidationError):  # the check can fail
        jsonschema.validate({"b": {"energy": {"lower_value": 1.0}}}, schema)


def test_bencher_latency_follows_bencher_pytest_adapter() -> None:
    """lib/bencher_adapter/src/adapters/python/pytest.rs: fullname, mean, mean -/+ stddev, in ns."""
    out = output()
    out["benchmarks"][0]["stats"] |= {"mean": 2e-6, "stddev": 5e-7}
    lat = exports.bencher(out)["bench/test_x.py::test_a[x]"]["latency"]
    assert lat["value"] == pytest.approx(2000.0)
    assert (lat["lower_value"], lat["upper_value"]) == (pytest.approx(1500.0), pytest.approx(2500.0))


def test_bencher_measures_lines() -> None:
    text = exports.bencher_measures("my-project")
    assert 'bencher measure create "my-project" --name "Energy" --slug energy --units' in text
    assert "--slug co2e" in text
    assert not math.isnan(len(text))

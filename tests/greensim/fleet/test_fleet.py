"""Fleet scale (greensim.fleet): the per-job maths, determinism across partitions and workers,
files, sweeps, the CLI, and running without Dask."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from dataclasses import replace
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenbench.errors import ConfigError, ScenarioError
from greenbench.units import J_PER_KWH
from greensim import fleet as fl
from greensim.__main__ import main
from greensim.shift import shift_jobs

FLEET_DIR = Path(str(resources.files("greensim").joinpath("scenarios"))) / "fleet"
EXAMPLE = FLEET_DIR / "fleet_example.toml"
SWEEP = FLEET_DIR / "fleet_sweep.toml"
REGIONS = ("DE", "GB", "CA-ON", "ZA")
PUE = (1.3, 1.2, 1.4, 1.6)


def _spec(jobs: int = 3 * fl.BLOCK_JOBS + 123, **kw: object) -> fl.FleetSpec:
    base = {"jobs": jobs, "seed": 11, "regions": REGIONS, "pue": PUE, "deadlines_h": (0.0, 6.0, 30.0),
            "deadline_p": (0.2, 0.5, 0.3), "max_duration_h": 24,
            "duration_h": fl.Dist("lognormal", (3.0, 1.0)), "partition_jobs": fl.BLOCK_JOBS}
    base.update(kw)
    return fl.FleetSpec(**base)  # type: ignore[arg-type]


def _per_job(spec: fl.FleetSpec, block: int = 0) -> tuple[fl._Jobs, dict[str, np.ndarray]]:
    """Per-job CO2e of every mode, read from the engine's tables."""
    model = fl._Model.of(spec)
    tab = fl._tables(model)
    jobs = fl.synthetic_block(spec, block)
    t, plane = tab.n_steps, tab.max_len * tab.n_steps
    row = (jobs.length - 1) * t + jobs.submit
    e = jobs.energy_kwh
    out = {"baseline": e * tab.a.ravel()[jobs.home * plane + row],
           "temporal": e * tab.tm.ravel()[(jobs.deadline * tab.n_regions + jobs.home) * plane + row],
           "geographic": e * tab.g.ravel()[row], "geographic_r": tab.gi.ravel()[row],
           "both": e * tab.bm.ravel()[jobs.deadline * plane + row],
           "both_r": tab.bmi.ravel()[jobs.deadline * plane + row]}
    return jobs, out


def _deadline_index(spec: fl.FleetSpec, jobs: fl._Jobs) -> np.ndarray:
    slack = np.array([[fl._slack_steps(d, L) for L in range(1, spec.max_duration_h + 1)]
                      for d in spec.deadlines_h])
    return np.minimum(jobs.submit + jobs.length + slack[jobs.deadline, jobs.length - 1], 8760)


# --------------------------------------------------------------------------- per-job maths


def test_both_and_baseline_match_the_batch_solver() -> None:
    spec = _spec()
    jobs, per = _per_job(spec)
    model = fl._Model.of(spec)
    ref = shift_jobs(model.ci, model.pue, energy_j=jobs.energy_kwh * J_PER_KWH, submit_index=jobs.submit,
                     job_steps=jobs.length, deadline_index=_deadline_index(spec, jobs), here=jobs.home)
    np.testing.assert_allclose(per["baseline"], ref.baseline_co2e_g, rtol=1e-12)
    np.testing.assert_allclose(per["both"], ref.co2e_g, rtol=1e-12)
    np.testing.assert_array_equal(per["both_r"], ref.region_index)  # earliest start, then lowest region


def test_temporal_and_geographic_match_the_batch_solver() -> None:
    spec = _spec()
    jobs, per = _per_job(spec)
    model = fl._Model.of(spec)
    deadline = _deadline_index(spec, jobs)
    for r in range(len(REGIONS)):  # temporal: the home region alone
        mine = jobs.home == r
        ref = shift_jobs(model.ci[r:r + 1], model.pue[r:r + 1], energy_j=jobs.energy_kwh[mine] * J_PER_KWH,
                         submit_index=jobs.submit[mine], job_steps=jobs.length[mine],
                         deadline_index=deadline[mine], here=np.zeros(int(mine.sum()), dtype=np.int64))
        np.testing.assert_allclose(per["temporal"][mine], ref.co2e_g, rtol=1e-12)
    # geographic: every region, no slack
    ref = shift_jobs(model.ci, model.pue, energy_j=jobs.energy_kwh * J_PER_KWH, submit_index=jobs.submit,
                     job_steps=jobs.length, deadline_index=jobs.submit + jobs.length, here=jobs.home)
    np.testing.assert_allclose(per["geographic"], ref.co2e_g, rtol=1e-12)
    np.testing.assert_array_equal(per["geographic_r"], ref.region_index)


def test_shifting_is_never_worse_and_zero_slack_is_no_temporal_shift() -> None:
    spec = _spec()
    jobs, per = _per_job(spec)
    assert np.all(per["temporal"] <= per["baseline"])
    assert np.all(per["geographic"] <= per["baseline"])
    assert np.all(per["both"] <= np.minimum(per["temporal"], per["geographic"]) * (1 + 1e-12))
    no_slack = jobs.deadline == 0  # deadline 0 h: finish as soon as possible
    np.testing.assert_array_equal(per["temporal"][no_slack], per["baseline"][no_slack])
    np.testing.assert_array_equal(per["both"][no_slack], per["geographic"][no_slack])


def test_synthetic_jobs_follow_the_spec() -> None:
    spec = _spec(submit_start_h=100, submit_end_h=200, hour_weights=(0,) * 9 + (1,) + (0,) * 14)
    jobs = fl.synthetic_block(spec, 1)
    assert jobs.energy_kwh.shape == (fl.BLOCK_JOBS,)
    assert jobs.length.min() >= 1 and jobs.length.max() <= 24
    assert np.all(jobs.submit >= 100)
    assert np.all((jobs.submit < 200) | (jobs.submit + jobs.length == 8760))
    assert np.all(jobs.submit[jobs.submit + jobs.length < 8760] % 24 == 9)
    assert set(np.unique(jobs.home).tolist()) == set(range(len(REGIONS)))
    tail = fl.synthetic_block(spec, 3)
    assert tail.energy_kwh.shape == (123,)
    with pytest.raises(ConfigError, match="block"):
        fl.synthetic_block(spec, 4)


@settings(max_examples=60, deadline=None)
@given(weights=st.lists(st.sampled_from([0.0, 1e-12, 1e-3, 0.5, 1.0, 3.0, 10.0, 1e6]), min_size=24, max_size=24)
       .filter(lambda w: sum(w) > 0),
       lo=st.integers(0, 8000), span=st.integers(1, 8760), seed=st.integers(0, 2**32 - 1))
def test_hour_sampler_is_searchsorted_bit_for_bit(weights: list[float], lo: int, span: int, seed: int) -> None:
    """The O(1) submit-hour sampler returns exactly np.searchsorted's index, zero and extreme weights too."""
    hi = min(8760, lo + span)
    w = np.asarray(weights)[np.arange(lo, hi) % 24]
    if not w.sum() > 0:
        return
    cdf = np.cumsum(w)
    sampler = fl._HourSampler(cdf)
    u = np.random.default_rng(seed).random(5000)
    v = np.concatenate((u * cdf[-1], cdf[:50], np.nextafter(cdf[:50], 0), [0.0, np.nextafter(cdf[-1], 0)]))
    assert np.array_equal(sampler.index(v), np.searchsorted(cdf, v, side="right"))


def _reference_block(spec: fl.FleetSpec, block: int, n_steps: int = 8760) -> fl._Jobs:
    """synthetic_block as first written (issue 16): a binary search per job for the submit hour."""
    n = min(fl.BLOCK_JOBS, spec.jobs - block * fl.BLOCK_JOBS)
    raw_len = spec.duration_h.sample(fl._rng(spec.seed, block, 0), n)
    length = np.clip(np.ceil(raw_len), 1, spec.max_duration_h).astype(np.int64)
    dist = spec.energy_kwh if spec.energy_kwh is not None else spec.power_kw
    assert dist is not None
    energy = dist.sample(fl._rng(spec.seed, block, 1), n) * (1 if spec.energy_kwh is not None else length)
    lo, hi = spec.submit_start_h, min(n_steps, spec.submit_end_h or n_steps)
    rs = fl._rng(spec.seed, block, 2)
    if spec.hour_weights is None:
        submit = rs.integers(lo, hi, n, dtype=np.int64)
    else:
        cdf = np.cumsum(np.asarray(spec.hour_weights)[np.arange(lo, hi) % 24])
        submit = np.minimum(np.searchsorted(cdf, rs.random(n) * cdf[-1], side="right"), hi - lo - 1) + lo
    np.minimum(submit, n_steps - length, out=submit)
    rh = fl._rng(spec.seed, block, 3)
    home = (rh.choice(len(spec.regions), n, p=spec.home_weights) if spec.home_weights is not None
            else rh.integers(0, len(spec.regions), n, dtype=np.int64)).astype(np.int64)
    deadline = (fl._rng(spec.seed, block, 4).choice(len(spec.deadlines_h), n, p=spec.deadline_p).astype(np.int64)
                if len(spec.deadlines_h) > 1 else np.zeros(n, dtype=np.int64))
    return fl._Jobs(energy, length, submit, home, deadline)


def test_synthetic_jobs_are_the_reference_jobs_bit_for_bit() -> None:
    """Optimising the generation must not change a single job (results of earlier runs stay valid)."""
    example = fl.load_fleet_scenario(EXAMPLE).spec
    for spec in (example, replace(example, submit_start_h=50, submit_end_h=3000), _spec(),
                 _spec(deadline_p=None, home_weights=(0.0, 0.25, 0.7, 0.05))):
        for block in (0, 2):
            got, ref = fl.synthetic_block(spec, block), _reference_block(spec, block)
            for name in ("energy_kwh", "length", "submit", "home", "deadline"):
                assert np.array_equal(getattr(got, name), getattr(ref, name)), name


# --------------------------------------------------------------------------- determinism


def test_totals_do_not_depend_on_partitioning_bit_for_bit() -> None:
    spec = _spec()
    runs = [fl.run_fleet(replace(spec, partition_jobs=p), progress=False)
            for p in (1, fl.BLOCK_JOBS, 2 * fl.BLOCK_JOBS + 5, 10**9)]
    assert [r.partitions for r in runs] == [4, 4, 2, 1]
    for r in runs[1:]:
        assert r.totals == runs[0].totals and r.sums == runs[0].sums
        assert fl.to_json_text(r) == fl.to_json_text(runs[0])
    t = runs[0].totals
    assert t["jobs"] == spec.jobs
    assert t["both_g"] <= min(t["temporal_g"], t["geographic_g"]) <= max(t["temporal_g"], t["geographic_g"]) \
        <= t["baseline_g"]
    landed = sum(runs[0].sums["both_landed_jobs"].values())
    assert landed == spec.jobs
    assert sum(runs[0].sums["both_landed_g"].values()) == pytest.approx(t["both_g"], rel=1e-12)


def test_seed_decides_the_jobs_and_deadlines_keep_the_same_jobs() -> None:
    a = fl.run_fleet(_spec(jobs=50_000), progress=False)
    assert fl.run_fleet(_spec(jobs=50_000), progress=False).totals == a.totals
    assert fl.run_fleet(_spec(jobs=50_000, seed=12), progress=False).totals != a.totals
    # common random numbers: only the deadline changes, so the baseline is the same to the bit
    longer = fl.run_fleet(_spec(jobs=50_000, deadlines_h=(0.0, 12.0, 60.0)), progress=False)
    assert longer.totals["baseline_g"] == a.totals["baseline_g"]
    assert longer.totals["temporal_g"] < a.totals["temporal_g"]


def test_empty_fleet_is_refused_like_jobs_0_in_a_file() -> None:
    with pytest.raises(ConfigError, match=r"jobs: expected a whole number of jobs in \[1, 2\*\*53\]"):
        _spec(jobs=0)


# --------------------------------------------------------------------------- jobs from files


def _write_jobs(spec: fl.FleetSpec, tmp_path: Path) -> dict[str, np.ndarray]:
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("energy_kwh", "duration_h", "submit_h", "region",
                                                         "deadline_h")}
    for b in range(-(-spec.jobs // fl.BLOCK_JOBS)):
        j = fl.synthetic_block(spec, b)
        cols["energy_kwh"].append(j.energy_kwh)
        cols["duration_h"].append(j.length.astype(np.float64))
        cols["submit_h"].append(j.submit)
        cols["region"].append(np.asarray(spec.regions)[j.home])
        cols["deadline_h"].append(np.asarray(spec.deadlines_h)[j.deadline])
    return {k: np.concatenate(v) for k, v in cols.items()}


def _file_spec(spec: fl.FleetSpec, path: Path, partition_jobs: int) -> fl.FleetSpec:
    return fl.FleetSpec(regions=spec.regions, pue=spec.pue, deadlines_h=spec.deadlines_h,
                        max_duration_h=spec.max_duration_h, source=path, partition_jobs=partition_jobs)


def test_jobs_from_parquet_and_csv_give_the_synthetic_totals(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    spec = _spec(jobs=2 * fl.BLOCK_JOBS + 999)
    want = fl.run_fleet(spec, progress=False)
    table = pa.table(_write_jobs(spec, tmp_path))
    pq.write_table(table, tmp_path / "jobs.parquet", row_group_size=10_000)
    pacsv.write_csv(table, tmp_path / "jobs.csv")
    for name, part in (("jobs.parquet", fl.BLOCK_JOBS), ("jobs.parquet", 10**9), ("jobs.csv", fl.BLOCK_JOBS)):
        got = fl.run_fleet(_file_spec(spec, tmp_path / name, part), progress=False)
        assert got.totals["jobs"] == spec.jobs
        for key, value in want.totals.items():
            assert got.totals[key] == pytest.approx(value, rel=1e-12), (name, key)



def _write_dataset(spec: fl.FleetSpec, root: Path, row_group: int) -> list[Path]:
    """The spec's jobs as three Parquet files (one in a subdirectory), row groups of ``row_group`` rows."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table(_write_jobs(spec, root))
    (root / "ds" / "more").mkdir(parents=True)
    n = table.num_rows
    cut = [0, 2 * fl.BLOCK_JOBS, 3 * fl.BLOCK_JOBS, n] if n > 3 * fl.BLOCK_JOBS else [0, n // 3, 2 * n // 3, n]
    paths = [root / "ds" / "a.parquet", root / "ds" / "b.parquet", root / "ds" / "more" / "c.parquet"]
    for path, lo, hi in zip(paths, cut[:-1], cut[1:], strict=True):
        pq.write_table(table.slice(lo, hi - lo), path, row_group_size=row_group)
    (root / "ds" / "README.txt").write_text("not a job file: ignored\n")
    return paths


def test_parquet_dataset_is_read_by_row_groups_with_the_synthetic_totals(tmp_path: Path) -> None:
    """A directory of Parquet files: the plan holds row groups only; whole-block row groups give the
    synthetic fleet's totals bit for bit, any partition size the same totals, and a URL the same."""
    spec = _spec(jobs=4 * fl.BLOCK_JOBS + 999)
    want = fl.run_fleet(spec, progress=False)
    _write_dataset(spec, tmp_path, fl.BLOCK_JOBS)
    ds = _file_spec(spec, tmp_path / "ds", fl.BLOCK_JOBS)
    plan = fl._parquet_plan(ds)
    assert [(Path(p.file).name, p.groups, p.first_row, p.rows) for p in plan] == [
        ("a.parquet", (0,), 0, fl.BLOCK_JOBS), ("a.parquet", (1,), fl.BLOCK_JOBS, fl.BLOCK_JOBS),
        ("b.parquet", (0,), 0, fl.BLOCK_JOBS), ("c.parquet", (0,), 0, fl.BLOCK_JOBS), ("c.parquet", (1,),
                                                                                        fl.BLOCK_JOBS, 999)]
    got = fl.run_fleet(ds, progress=False)
    assert got.totals == want.totals and got.sums == want.sums and got.partitions == 5
    assert fl._file_rows(ds) == spec.jobs
    big = fl.run_fleet(replace(ds, partition_jobs=10**9), progress=False)
    assert big.totals == want.totals and big.partitions == 3
    url = fl.run_fleet(replace(ds, source=(tmp_path / "ds").as_uri()), progress=False)
    assert url.totals == want.totals


def test_parquet_dataset_with_odd_row_groups_does_not_depend_on_partitioning(tmp_path: Path) -> None:
    spec = _spec(jobs=2 * fl.BLOCK_JOBS + 4321)
    want = fl.run_fleet(spec, progress=False)
    _write_dataset(spec, tmp_path, 10_000)
    runs = [fl.run_fleet(_file_spec(spec, tmp_path / "ds", part), progress=False)
            for part in (1, 25_000, fl.BLOCK_JOBS, 10**9)]
    for r in runs[1:]:
        assert r.totals == runs[0].totals and r.sums == runs[0].sums
    for key, value in want.totals.items():
        assert runs[0].totals[key] == pytest.approx(value, rel=1e-12), key


def test_parquet_from_an_fsspec_memory_url(tmp_path: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    spec = _spec(jobs=fl.BLOCK_JOBS + 10)
    paths = _write_dataset(spec, tmp_path, fl.BLOCK_JOBS)
    fs = fsspec.filesystem("memory")
    for path in paths:
        fs.pipe(f"/fleet-test/{path.relative_to(tmp_path / 'ds')}", path.read_bytes())
    try:
        got = fl.run_fleet(_file_spec(spec, "memory://fleet-test/", 10**9), progress=False)  # type: ignore[arg-type]
    finally:
        fs.rm("/fleet-test", recursive=True)
    assert got.totals == fl.run_fleet(_file_spec(spec, tmp_path / "ds", 10**9), progress=False).totals


def test_bad_parquet_datasets_name_the_file(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    spec = _spec(jobs=1000)
    paths = _write_dataset(spec, tmp_path, 300)
    ds = _file_spec(spec, tmp_path / "ds", 10**9)
    with pytest.raises(ConfigError, match=r"absent: \[fleet\].source: no such file"):
        fl.run_fleet(_file_spec(spec, tmp_path / "absent", 100), progress=False)
    with pytest.raises(ConfigError, match=r"memory://nowhere/at-all: \[fleet\].source: no such file or directory"):
        fl.run_fleet(_file_spec(spec, "memory://nowhere/at-all", 100), progress=False)  # type: ignore[arg-type]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match=r"empty: \[fleet\].source: no .parquet files"):
        fl.run_fleet(_file_spec(spec, empty, 100), progress=False)
    plan = fl._parquet_plan(ds)
    (tmp_path / "ds" / "more" / "c.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ConfigError, match=r"more/c.parquet: \[fleet\].source: not a readable Parquet jobs file"):
        fl.run_fleet(ds, progress=False)
    # a file that changes after the plan: the worker's error names it (and the row group)
    model = fl._Model.of(ds)
    last = next(p for p in plan if p.file.endswith("c.parquet"))
    with pytest.raises(ConfigError, match=r"c.parquet: \[fleet\].source: cannot read row group"):
        fl._parquet_partition(model, ds, last)
    paths[2].unlink()
    pq.write_table(pa.table({"energy_kwh": [1.0], "duration_h": [1.0], "region": ["DE"]}), paths[2])
    with pytest.raises(ConfigError, match=r"c.parquet: columns: expected duration_h, submit_h, region"):
        fl.run_fleet(ds, progress=False)
    pq.write_table(pa.table({"energy_kwh": [1.0, 2.0], "duration_h": [1.0, 1.0], "submit_h": [3.0, 4.0],
                             "region": ["DE", "XX"], "deadline_h": [6.0, 6.0]}), paths[2])
    with pytest.raises(ConfigError, match=r"c.parquet: row 2: region 'XX' is not in"):
        fl.run_fleet(ds, progress=False)

def test_bad_job_files_name_the_row(tmp_path: Path) -> None:
    spec = _spec(jobs=10)
    bad = tmp_path / "jobs.csv"
    bad.write_text("energy_kwh,duration_h,submit_h,region,deadline_h\n1,2,3,DE,6\n1,2,3,XX,6\n")
    with pytest.raises(ConfigError, match=r"jobs.csv: row 2: region 'XX' is not in \[fleet\].regions"):
        fl.run_fleet(_file_spec(spec, bad, 100), progress=False)
    bad.write_text("energy_kwh,duration_h,submit_h,region,deadline_h\n1,2,3,DE,7\n")
    with pytest.raises(ConfigError, match=r"row 1: deadline_h 7 is not one of"):
        fl.run_fleet(_file_spec(spec, bad, 100), progress=False)
    bad.write_text("energy_kwh,duration_h,submit_h,region\n1,2,3,DE\n")
    with pytest.raises(ConfigError, match="no deadline_h column"):
        fl.run_fleet(_file_spec(spec, bad, 100), progress=False)
    bad.write_text("energy,duration_h,submit_h,region\n1,2,3,DE\n")
    with pytest.raises(ConfigError, match="expected duration_h, submit_h, region and one of energy_kwh"):
        fl.run_fleet(_file_spec(spec, bad, 100), progress=False)
    with pytest.raises(ConfigError, match="no such file"):
        fl.run_fleet(_file_spec(spec, tmp_path / "absent.parquet", 100), progress=False)


# --------------------------------------------------------------------------- scenario files


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "f.toml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(("body", "pattern"), [
    ("[fleet]\njobz = 3\n", r"f.toml: \[fleet\]: unknown key 'jobz' \(did you mean 'jobs'\?\)"),
    ("title = 'x'\n", r"no \[fleet\] table"),
    ("[fleet]\njobs = -1\n", r"\[fleet\].jobs: expected a number >= 1"),
    ("[fleet]\nregions = ['DE', 'MARS']\n", r"regions: no hourly series for 'MARS'"),
    ("[fleet]\npue = 0.5\n", r"\[fleet\].pue: expected a number >= 1"),
    ("[fleet]\nduration_h = { dist = 'gamma' }\n", r"duration_h.dist: expected one of constant, uniform"),
    ("[fleet]\nduration_h = { dist = 'lognormal', median = 2 }\n", r"duration_h.sigma: missing"),
    ("[fleet]\ndeadline_h = { dist = 'uniform', low = 1, high = 2 }\n", r"deadlines are discrete"),
    ("[fleet]\nenergy_kwh = 1\npower_kw = 2\n", r"expected exactly one"),
    ("[fleet]\nsource = 'jobs.csv'\njobs = 3\n", r"\[fleet\].jobs: only applies to a synthetic fleet"),
    ("[fleet]\nmax_duration_h = 744\nregions = ['DE', 'GB', 'ZA', 'CA-ON']\n"
     "deadline_h = { dist = 'choice', values = [1, 2, 3, 4] }\n", r"look-up tables would take"),
    ("[fleet]\n[sweep]\nsource = ['a.csv']\n", r"\[sweep\].source: not a sweepable"),
    ("[fleet]\n[sweep]\ndeadline_h = []\n", r"\[sweep\].deadline_h: expected a non-empty list"),
    ("[fleet]\n[sweep]\npue = [1.1, 0.9]\n", r"\[fleet\].pue: expected a number >= 1.*\(at \[sweep\] point pue=0.9\)"),
])
def test_bad_fleet_files_fail_with_one_line(tmp_path: Path, body: str, pattern: str) -> None:
    with pytest.raises(ScenarioError, match=pattern) as info:
        fl.load_fleet_scenario(_write(tmp_path, body))
    assert "\n" not in str(info.value)


def test_defaults_and_pue_table(tmp_path: Path) -> None:
    sc = fl.load_fleet_scenario(_write(tmp_path, """
        [fleet]
        regions = ["de", "GB"]
        pue = { DE = 1.5 }
        deadline_h = 12
    """))
    assert sc.spec.regions == ("DE", "GB") and sc.spec.pue == (1.5, 1.0) and sc.spec.deadlines_h == (12.0,)
    assert sc.spec.jobs == 100_000 and sc.spec.title == "f" and not sc.sweep


# --------------------------------------------------------------------------- sweeps, CLI, shipped files


def test_shipped_fleet_scenarios_load() -> None:
    files = sorted(FLEET_DIR.glob("*.toml"))
    assert {f.name for f in files} >= {"fleet_example.toml", "fleet_sweep.toml"}
    for f in files:
        fl.load_fleet_scenario(f)


def test_sweep_every_point_and_the_trade_off(tmp_path: Path) -> None:
    sc = fl.load_fleet_scenario(SWEEP)
    result = fl.run_sweep(sc, progress=False, overrides={"jobs": 20_000})
    assert len(result.points) == len(sc.sweep["deadline_h"]) * len(sc.sweep["regions"])
    by = {(p["deadline_h"], tuple(p["regions"])): r for p, r in zip(result.points, result.results, strict=True)}
    for regions in {tuple(r) for r in sc.sweep["regions"]}:
        temporal = [by[(d, regions)].saving_fraction("temporal") for d in sorted(sc.sweep["deadline_h"])]
        assert temporal[0] == 0.0 and temporal == sorted(temporal)  # more slack never saves less
    doc = result.to_json()
    assert doc["schema"] == fl.SWEEP_SCHEMA and len(doc["points"]) == len(result.points)
    fl.plot_sweep(result, tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_fleet_json_table_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_json, out_png = tmp_path / "o" / "fleet.json", tmp_path / "o" / "fleet.png"
    assert main(["fleet", str(EXAMPLE), "--jobs", "3e4", "--json", str(out_json), "--plot", str(out_png)]) == 0
    captured = capsys.readouterr()
    assert "projected (estimated)" in captured.out and "total" in captured.out
    assert "30,000 jobs in 1 partition(s) on this process" in captured.err
    doc = json.loads(out_json.read_text())
    assert doc["schema"] == fl.SCHEMA and doc["totals"]["jobs"] == 30_000
    assert set(doc["by_region"]) == {"DE", "GB", "CA-ON", "US-CAL-CISO", "ZA"}
    assert "partition_jobs" not in doc["fleet"] and out_png.read_bytes()[:4] == b"\x89PNG"
    assert main(["fleet", str(EXAMPLE), "--jobs", "3e4", "--partition-jobs", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == doc
    assert main(["fleet", str(SWEEP), "--jobs", "2000", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["schema"] == fl.SWEEP_SCHEMA


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fleet", str(tmp_path / "absent.toml")]) == 2
    assert "greensim: error:" in capsys.readouterr().err
    assert main(["fleet", str(EXAMPLE), "--jobs", "1.5"]) == 2
    assert "--jobs: expected a whole number" in capsys.readouterr().err
    assert main(["fleet", str(EXAMPLE), "--workers", "0"]) == 2
    assert "--workers: expected an integer >= 1" in capsys.readouterr().err


def test_without_dask_a_cluster_option_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` raises ImportError
    assert main(["fleet", str(EXAMPLE), "--jobs", "100", "--workers", "2"]) == 2
    assert "--workers needs Dask: pip install 'greenbench[dask]'" in capsys.readouterr().err
    assert main(["fleet", str(EXAMPLE), "--jobs", "100", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "--scheduler needs Dask" in capsys.readouterr().err
    # and the API itself does not need it
    assert fl.run_fleet(_spec(jobs=100), progress=False).totals["jobs"] == 100


def test_importing_the_engine_does_not_import_dask() -> None:
    code = "import sys, greensim.fleet; assert not {'dask', 'distributed'} & set(sys.modules), sys.modules.keys()"
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- on a Dask cluster


@pytest.mark.slow
def test_local_cluster_with_two_workers_gives_the_single_process_totals(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    spec = _spec(jobs=5 * fl.BLOCK_JOBS + 7)
    single = fl.run_fleet(spec, progress=False)
    _write_dataset(spec, tmp_path, 30_000)  # odd row groups: blocks follow the files, not the workers
    ds = _file_spec(spec, tmp_path / "ds", fl.BLOCK_JOBS)
    ds_single = fl.run_fleet(ds, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as client:
        on_cluster = fl.run_fleet(spec, client, progress=False)
        repartitioned = fl.run_fleet(replace(spec, partition_jobs=2 * fl.BLOCK_JOBS), client, progress=False,
                                     max_in_flight=1)
        ds_cluster = fl.run_fleet(ds, client, progress=False)  # each worker reads its own row groups
    assert ds_cluster.totals == ds_single.totals and ds_cluster.sums == ds_single.sums
    assert on_cluster.workers == 2 and on_cluster.partitions == 6
    # same seed: bit-for-bit equal (the stated tolerance across software stacks is fl.SUM_RTOL)
    assert on_cluster.totals == single.totals and on_cluster.sums == single.sums
    assert repartitioned.totals == single.totals
    for key, value in single.totals.items():
        assert on_cluster.totals[key] == pytest.approx(value, rel=fl.SUM_RTOL)


@pytest.mark.slow
def test_cli_workers_starts_and_stops_a_local_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("distributed")
    assert main(["fleet", str(EXAMPLE), "--jobs", "1e5", "--json"]) == 0
    single = capsys.readouterr().out
    assert main(["fleet", str(EXAMPLE), "--jobs", "1e5", "--workers", "2", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.out == single  # the JSON is identical, byte for byte
    assert "on 2 Dask worker thread(s)" in captured.err


def test_fleet_workers_keep_glibc_heap_trimming() -> None:
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers, which makes every numpy temporary of a
    block a fresh mmap (≈1.7× the CPU per job); the fleet's worker settings drop it, and keep the rest."""
    dask = pytest.importorskip("dask")
    nanny = pytest.importorskip("distributed.nanny")
    with dask.config.set(fl.NO_WORKER_PROFILE):
        env = nanny._get_env_variables("distributed.nanny.pre-spawn-environ")
        assert dask.config.get("distributed.worker.profile.enabled") is False
    assert "MALLOC_TRIM_THRESHOLD_" not in env
    assert "OMP_NUM_THREADS" in env  # the rest of Dask's worker environment stays

"""greensim fleet is bounded (issue #21): schedulers that do not answer, worker counts, run length, job files
and distributions that overflow all end in one line naming the option, file, row or field."""

from __future__ import annotations

import http.server
import math
import re
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenbench.errors import ConfigError, ScenarioError
from greensim import fleet as fl
from greensim.__main__ import main

BASE = """title = "t"
[fleet]
regions = ["DE", "GB"]
max_duration_h = 8
"""
SYNTHETIC = BASE + "jobs = 1000\nduration_h = 2\nenergy_kwh = 1\n"
HEADER = "duration_h,submit_h,region,energy_kwh\n"


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def toml(tmp_path: Path, text: str, name: str = "f.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def cli_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["fleet", *argv]) == 2
    err = one_line(capsys.readouterr().err)
    assert err.startswith("greensim: error: ")
    return err


# --------------------------------------------------------------------------- --scheduler


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    yield srv.getsockname()[1]
    srv.close()


class _Http(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_port() -> Iterator[int]:
    """A port serving HTTP (a dashboard, a proxy): it speaks, but not Dask."""
    httpd = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Http)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


pytest.importorskip("distributed")


def test_closed_port_is_refused_at_once() -> None:
    port = _free_port()
    with pytest.raises(ConfigError, match=rf"--scheduler: cannot reach tcp://127.0.0.1:{port} \(") as info:
        fl.cluster_client(scheduler=f"tcp://127.0.0.1:{port}", timeout_s=30).__enter__()
    one_line(str(info.value))


def test_silent_port_fails_within_the_timeout(silent_port: int) -> None:
    with pytest.raises(ConfigError, match=r"did not answer as a Dask scheduler within 0.5 s") as info:
        fl.cluster_client(scheduler=f"127.0.0.1:{silent_port}", timeout_s=0.5).__enter__()
    one_line(str(info.value))


def test_http_port_is_not_taken_for_a_scheduler(http_port: int) -> None:
    with pytest.raises(ConfigError, match=r"--scheduler: tcp://127.0.0.1:\d+ (did not answer as a Dask scheduler|"
                                          r"is not a Dask scheduler)") as info:
        fl.cluster_client(scheduler=f"tcp://127.0.0.1:{http_port}", timeout_s=1.0).__enter__()
    one_line(str(info.value))


def test_a_real_scheduler_passes_the_probe_and_a_worker_does_not() -> None:
    import distributed

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                                  dashboard_address=":0") as lc:
        fl._probe_scheduler(lc.scheduler_address, 60.0)  # no error (a generous bound: the host may be busy)
        worker = next(iter(lc.scheduler.workers))
        with pytest.raises(ConfigError, match="answered, but as 'Worker', not a Dask scheduler"):
            fl._probe_scheduler(worker, 60.0)


def test_default_timeout_is_documented_and_bounded() -> None:
    assert 0 < fl.SCHEDULER_TIMEOUT_S <= 30
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    assert f"{fl.SCHEDULER_TIMEOUT_S:g} s" in readme


@pytest.mark.parametrize("address", ["foo", "tcp://", "", " ", "tcp://127.0.0.1:abc", "tcp://127.0.0.1:99999",
                                     "tcp://127.0.0.1:0", "http://127.0.0.1:80", "tcp://[::1:8786",
                                     "tcp://host/x:8786", "inproc://x:1", "tcp://h:1\x1b[31m", "tcp://:8786"])
def test_malformed_scheduler_addresses(address: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = cli_error(capsys, str(toml(tmp_path, SYNTHETIC)), "--scheduler", address)
    assert "--scheduler: " in err and "expected [tcp://|tls://|ws://|wss://]HOST:PORT" in err
    assert "\x1b" not in err


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "127.0.0.1:8786", "tls://head:8786",
                                     "tcp://[::1]:8786", "ws://head-node.example:8786"])
def test_well_formed_addresses(address: str) -> None:
    assert fl.check_scheduler_address(address).endswith(":8786")


# --------------------------------------------------------------------------- --workers and run length


def test_workers_capped_at_usable_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fl.cli, "usable_cores", lambda: 3)
    monkeypatch.setattr(fl.cli, "_available_bytes", lambda: 1 << 40)
    assert fl.max_local_workers()[0] == 3
    with pytest.raises(ConfigError, match=r"--workers: 4 is more than this machine can hold; expected at most 3 "
                                          r"\(3 usable core\(s\)"):
        fl.cluster_client(workers=4)


def test_workers_capped_by_memory_for_the_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = fl.FleetSpec(jobs=10, max_duration_h=48, deadlines_h=(6.0, 24.0, 72.0), deadline_p=(0.5, 0.3, 0.2))
    per = fl.WORKER_BASE_BYTES + fl.table_bytes(spec)
    monkeypatch.setattr(fl.cli, "usable_cores", lambda: 64)
    monkeypatch.setattr(fl.cli, "_available_bytes", lambda: 5 * per + 1)
    most, why = fl.max_local_workers(spec)
    assert most == 5 and "MiB" in why and "look-up tables" in why
    with pytest.raises(ConfigError, match="expected at most 5"):
        fl.cluster_client(workers=6, spec=spec)


def test_runs_beyond_a_day_are_refused_with_the_estimate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    day_jobs = int(fl.MAX_RUN_S / fl.JOB_COST_S)
    fl.check_run_length(day_jobs, 1)  # a day fits
    with pytest.raises(ConfigError, match=r"jobs would take about 2 days on 1 worker thread"):
        fl.check_run_length(2 * day_jobs, 1)
    fl.check_run_length(2 * day_jobs, 2)
    err = cli_error(capsys, str(toml(tmp_path, SYNTHETIC)), "--jobs", "1e15")
    assert "--jobs: 1e+15 jobs would take about" in err and "days" in err and "µs per job" in err


@pytest.mark.parametrize("flag", ["--jobs", "--partition-jobs"])
@pytest.mark.parametrize("value", ["nan", "inf", "=-inf", "1e30", "0", "=-1", "0.5", "1e16"])
def test_bad_job_counts(flag: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [flag + value] if value.startswith("=") else [flag, value]
    err = cli_error(capsys, str(toml(tmp_path, SYNTHETIC)), *args)
    assert f"{flag}: expected a whole number >= 1 and <= 2**53" in err


def test_jobs_0_and_huge_in_the_file_and_the_api(tmp_path: Path) -> None:
    for jobs in ("0", "1e30", "1e17"):
        with pytest.raises(ScenarioError, match=r"\[fleet\]\.jobs"):
            fl.load_fleet_scenario(toml(tmp_path, BASE + f"jobs = {jobs}\nduration_h = 2\nenergy_kwh = 1\n"))
    with pytest.raises(ConfigError, match="jobs: expected a whole number of jobs"):
        fl.FleetSpec(jobs=0)


# --------------------------------------------------------------------------- job files


def _source(tmp_path: Path, name: str, data: bytes | str) -> Path:
    f = tmp_path / name
    if isinstance(data, bytes):
        f.write_bytes(data)
    else:
        f.write_text(data, encoding="utf-8")
    return toml(tmp_path, BASE + f"source = {str(f)!r}\n", name + ".toml")


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("empty.parquet", b"", "not a readable Parquet jobs file (Parquet file size is 0 bytes)"),
    ("binary.parquet", bytes(range(256)) * 20, "not a readable Parquet jobs file"),
    ("text.parquet", HEADER + "1,2,DE,1\n", "not a readable Parquet jobs file"),
    ("empty.csv", b"", "not a readable CSV jobs file"),
    ("binary.csv", bytes(range(256)) * 20, "not a readable CSV jobs file"),
    ("ragged.csv", HEADER + "1,2,DE\n", "not a readable CSV jobs file"),
    ("latin1.csv", HEADER.encode() + b"1,2,D\xe9,1\n", "column region: expected UTF-8 zone ids near row 1"),
    ("header.csv", HEADER, "no jobs (a header only, or 0 rows); expected at least one job"),
    ("nul.csv", b"\x00" * 64 + b"\n", "no jobs (a header only, or 0 rows)"),
    ("e308.csv", HEADER + "1,2,DE,1\n2,3,GB,1e308\n", "row 2: energy_kwh is 1e+308 kWh; expected at most 1e+09"),
    ("p308.csv", "duration_h,submit_h,region,power_kw\n4,2,DE,1e308\n", "row 1: power_kw × duration_h is inf kWh"),
])
def test_bad_job_files(name: str, data: bytes | str, expected: str, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pyarrow")
    err = cli_error(capsys, str(_source(tmp_path, name, data)))
    assert name in err and expected in err
    assert all(c.isprintable() for c in err)


def test_zero_row_and_huge_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    cols = {"duration_h": pa.float64(), "submit_h": pa.float64(), "region": pa.string(), "energy_kwh": pa.float64()}
    pq.write_table(pa.table({k: pa.array([], t) for k, t in cols.items()}), tmp_path / "zero.parquet")
    err = cli_error(capsys, str(toml(tmp_path, BASE + 'source = "zero.parquet"\n', "z.toml")))
    assert "zero.parquet: [fleet].source: no jobs" in err
    pq.write_table(pa.table({"duration_h": [1.0, 2.0], "submit_h": [3.0, 4.0], "region": ["DE", "GB"],
                             "energy_kwh": [1.0, 1e308]}), tmp_path / "big.parquet")
    err = cli_error(capsys, str(toml(tmp_path, BASE + 'source = "big.parquet"\n', "b.toml")))
    assert "big.parquet: row 2: energy_kwh is 1e+308 kWh" in err


def test_jobs_flag_with_a_source_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = cli_error(capsys, str(_source(tmp_path, "ok.csv", HEADER + "1,2,DE,1\n")), "--jobs", "10")
    assert "--jobs: the jobs come from [fleet].source" in err


# --------------------------------------------------------------------------- distributions and probabilities


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("energy_kwh", '{ dist = "lognormal", median = 5, sigma = 800 }', "overflows a float"),
    ("energy_kwh", '{ dist = "lognormal", median = 5, sigma = 40 }', "expected at most 1e+09 kWh"),
    ("power_kw", '{ dist = "lognormal", median = 5, sigma = 40 }', "× max_duration_h = 8"),
    ("energy_kwh", "1e308", "reaches 1e+308 kWh"),
    ("energy_kwh", '{ dist = "normal", mean = 1, sd = 1e308 }', "overflows a float"),
    ("energy_kwh", '{ dist = "exponential", mean = 1e308 }', "an exponential distribution"),
    ("energy_kwh", '{ dist = "uniform", low = -1.7e308, high = 1.7e308 }', "overflows a float"),
    ("duration_h", '{ dist = "lognormal", median = 2, sigma = 1000 }', "overflows a float"),
])
def test_distributions_that_overflow(field: str, value: str, expected: str, tmp_path: Path) -> None:
    other = "energy_kwh = 1\n" if field == "duration_h" else "duration_h = 2\n"
    with pytest.raises(ScenarioError, match=rf"f\.toml: \[fleet\]\.{field}: .*{re.escape(expected)}") as info:
        fl.load_fleet_scenario(toml(tmp_path, BASE + f"jobs = 10\n{other}{field} = {value}\n"))
    one_line(str(info.value))


def test_a_max_clips_a_wide_distribution_into_bounds(tmp_path: Path) -> None:
    sc = fl.load_fleet_scenario(toml(tmp_path, BASE + 'jobs = 10\nduration_h = 2\n'
                                     'energy_kwh = { dist = "lognormal", median = 5, sigma = 800, max = 100 }\n'))
    r = fl.run_fleet(sc.spec, progress=False)
    assert all(math.isfinite(v) for v in r.totals.values()) and r.totals["energy_kwh"] <= 1000


@pytest.mark.parametrize("p", ["[0.5, 0.3]", "[1, 2]", "[0.5, 0.6]", "[0, 0.999]"])
def test_probabilities_must_sum_to_1(p: str, tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"deadline_h\.p: expected probabilities summing to 1"):
        fl.load_fleet_scenario(toml(tmp_path, SYNTHETIC + f'deadline_h = {{ dist = "choice", values = [6, 24], '
                                    f"p = {p} }}\n"))
    with pytest.raises(ScenarioError, match=r"energy_kwh\.p: expected probabilities summing to 1"):
        fl.load_fleet_scenario(toml(tmp_path, BASE + f'jobs = 5\nduration_h = 2\nenergy_kwh = {{ dist = "choice", '
                                    f"values = [1, 2], p = {p} }}\n"))
    with pytest.raises(ConfigError, match=r"deadline_h\.p: expected probabilities summing to 1"):
        fl.FleetSpec(jobs=5, deadlines_h=(6.0, 24.0), deadline_p=(0.5, 0.3))
    with pytest.raises(ConfigError, match=r"energy_kwh\.p: expected probabilities summing to 1"):
        fl.FleetSpec(jobs=5, energy_kwh=fl.Dist("choice", (), (1.0, 2.0), (0.5, 0.3)))


def test_probabilities_summing_to_1_in_decimal_are_accepted(tmp_path: Path) -> None:
    sc = fl.load_fleet_scenario(toml(tmp_path, SYNTHETIC + 'deadline_h = { dist = "choice", values = '
                                     "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], p = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, "
                                     "0.1, 0.1] }\n"))
    assert sc.spec.deadline_p is not None and math.isclose(sum(sc.spec.deadline_p), 1.0)


_numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 1e-300, 1e300, 1e308]),
                     st.integers(-10, 10))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["constant", "uniform", "lognormal", "exponential", "normal", "choice"]),
       a=_numbers, b=_numbers, high=st.one_of(st.none(), _numbers), power=st.booleans())
def test_any_distribution_is_refused_or_gives_finite_totals(kind: str, a: float, b: float, high: float | None,
                                                            power: bool) -> None:
    """Hostile distributions through the API: a ConfigError naming the field, or finite non-negative totals."""
    n = {"constant": 1, "choice": 0}.get(kind, 2)
    dist = fl.Dist(kind, (a, b)[:n], (a, b) if kind == "choice" else (), None, 0.0,
                   math.inf if high is None else high)
    field = "power_kw" if power else "energy_kwh"
    try:
        spec = fl.FleetSpec(jobs=200, regions=("DE", "GB"), max_duration_h=4,
                            **({"energy_kwh": None, "power_kw": dist} if power else {"energy_kwh": dist}))
    except ConfigError as exc:
        assert str(exc).startswith(f"{field}") and "\n" not in str(exc)
        return
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # nothing overflows on the way either
        r = fl.run_fleet(spec, progress=False)
    assert all(math.isfinite(v) and v >= 0 for v in r.totals.values())

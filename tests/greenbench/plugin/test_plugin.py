"""End-to-end tests of the pytest plugin (pytester, in subprocesses).

Each runs real pytest over a plain pytest-benchmark test file — no greenbench
code in it — and checks what a user sees: energy columns, JSON fields, the
gate's exit status and messages.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.serial]

PLAIN = """
import os

SCALE = float(os.environ.get("WORK_SCALE", "1"))
N = int(20000 * SCALE)


def work():
    total = 0
    for i in range(N):
        total += i * i
    return total


def test_work(benchmark):
    assert benchmark(work) > 0
"""

QUALITY = """
def test_with_quality(benchmark):
    benchmark.extra_info["quality"] = {"accuracy": 0.5}
    benchmark(sum, range(1000))
"""

FAST = ["--benchmark-min-rounds=15", "--benchmark-max-time=0.2", "--benchmark-warmup=off", "-p", "no:cacheprovider"]


def run(pytester: pytest.Pytester, *args: str, scale: float = 1.0) -> pytest.RunResult:
    """pytest in a subprocess over the files in ``pytester.path``, with the workload scaled."""
    pytester.makeini("[pytest]\n")  # do not pick up the project's own ini
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORK_SCALE", str(scale))
        mp.setenv("OMP_NUM_THREADS", "1")
        return pytester.runpytest_subprocess(*FAST, *args, "--energy-meter=model")


def test_plain_benchmark_gets_energy_without_edits(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain=PLAIN, test_quality=QUALITY)
    result = run(pytester, "--benchmark-json=out.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*greenbench energy*", "*energy*power*CO2e*quality*meter*", "*test_work*model*",
                                 "*accuracy=0.5*", "*estimated*"])
    data = json.loads((pytester.path / "out.json").read_text())
    gb = data["machine_info"]["greenbench"]
    assert gb["schema_version"] == 2
    assert gb["meter"]["source"] == "model"
    assert gb["threads"] == 1
    assert data["greenbench"]["schema_version"] == 2
    by_name = {b["name"]: b for b in data["benchmarks"]}
    work = by_name["test_work"]
    energy = work["extra_info"]["energy"]
    assert energy["source"] == "model" and energy["estimated"] is True
    assert energy["per_call_j"]["min"] > 0
    # bounded (#17): a sample of the rounds metered (all of them up to 64 calls), a sketch of <= 32 stored
    assert 3 <= energy["per_call_j"]["rounds"] == energy["rounds_measured"] <= work["stats"]["rounds"]
    assert 0 < len(energy["rounds_j"]) <= min(32, work["stats"]["rounds"])
    assert work["stats"]["energy_j_min"] == energy["per_call_j"]["min"]
    assert energy["co2e_g"] == pytest.approx(energy["per_call_j"]["median"] / 3.6e6 * 475.0)
    assert energy["power_w"] > 0
    assert by_name["test_with_quality"]["extra_info"]["quality"] == {"accuracy": 0.5}


USER_BENCH = """
import os


def test_env_is_untouched(benchmark):
    benchmark.extra_info["omp"] = os.environ.get("OMP_NUM_THREADS", "unset")
    benchmark.extra_info["wait"] = os.environ.get("OMP_WAIT_POLICY", "unset")
    benchmark(sum, range(100))
"""


def test_a_users_own_bench_package_collects_and_keeps_its_environment(pytester: pytest.Pytester) -> None:
    """greenbench installed into another project: its ``bench/`` package is its own, nothing is set."""
    pytester.makeini("[pytest]\n")
    pkg = pytester.mkpydir("bench")
    (pkg / "test_x.py").write_text(USER_BENCH)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("OMP_NUM_THREADS", raising=False)
        mp.delenv("OMP_WAIT_POLICY", raising=False)
        result = pytester.runpytest_subprocess(*FAST, "bench", "--benchmark-json=out.json", "--energy-meter=model")
    result.assert_outcomes(passed=1)
    entry = json.loads((pytester.path / "out.json").read_text())["benchmarks"][0]
    assert entry["fullname"] == "bench/test_x.py::test_env_is_untouched"
    assert entry["extra_info"]["omp"] == "unset" and entry["extra_info"]["wait"] == "unset"
    assert entry["extra_info"]["energy"]["per_call_j"]["min"] > 0
    assert entry["extra_info"]["energy"]["threads"] is None  # recorded as observed: not set


def test_help_lists_only_greenbench_options(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    out = pytester.runpytest_subprocess("--help").stdout.str()
    for option in ("--energy-meter", "--energy-compare-fail", "--energy-report", "--carbon-intensity",
                   "--carbon-region"):
        assert option in out
    for suite_only in ("--workload-size", "--workload-threads", "--device", "--mnist-dir"):
        assert suite_only not in out


def test_carbon_intensity_option_is_used(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_quality=QUALITY)
    run(pytester, "--benchmark-json=out.json", "--carbon-intensity=100").assert_outcomes(passed=1)
    energy = json.loads((pytester.path / "out.json").read_text())["benchmarks"][0]["extra_info"]["energy"]
    assert energy["intensity_g_per_kwh"] == 100
    assert energy["co2e_g"] == pytest.approx(energy["per_call_j"]["median"] / 3.6e6 * 100)


def autosave_baseline(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain=PLAIN)
    run(pytester, "--benchmark-autosave").assert_outcomes(passed=1)


#: the end-to-end gate tests use a deterministic meter (tests/fakes.py: bytecodes run, not time), so their
#: verdicts do not depend on how busy the machine is; how the gate copes with noisy meters is tested on
#: fabricated rounds in test_gate.py and measured by bench/test_gate.py
DETERMINISTIC = "--energy-meter=fakes:OpcodeMeter"


def run_counted(pytester: pytest.Pytester, *args: str, scale: float = 1.0) -> pytest.RunResult:
    """Like :func:`run`, with the deterministic opcode meter."""
    pytester.makeini("[pytest]\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORK_SCALE", str(scale))
        mp.setenv("PYTHONPATH",  # the checkout first, then tests/ for fakes
                  f"{Path(__file__).resolve().parents[3]}:" + str(Path(__file__).resolve().parents[2]))
        return pytester.runpytest_subprocess(*FAST, *args, DETERMINISTIC)


def gate_pair(pytester: pytest.Pytester, scale: float, *args: str) -> pytest.RunResult:
    """A baseline run, then a compare run with the workload scaled by ``scale``."""
    pytester.makepyfile(test_plain=PLAIN)
    run_counted(pytester, "--benchmark-autosave").assert_outcomes(passed=1)
    return run_counted(pytester, "--benchmark-compare", "--energy-compare-fail=10%", *args, scale=scale)


def test_a_a_compare_passes(pytester: pytest.Pytester) -> None:
    result = gate_pair(pytester, 1.0)
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*energy gate passed (min:10%)*"])


def test_planted_regression_fails_the_gate(pytester: pytest.Pytester) -> None:
    result = gate_pair(pytester, 1.4)
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["*test_plain.py::test_work: regression*energy min +*", "*energy gate FAILED*"])


def test_small_change_does_not_fail_a_ten_percent_gate(pytester: pytest.Pytester) -> None:
    result = gate_pair(pytester, 1.03)
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*energy gate passed (min:10%)*"])


def test_compare_against_another_meter_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain=PLAIN)
    run_counted(pytester, "--benchmark-autosave").assert_outcomes(passed=1)
    saved = next(Path(pytester.path, ".benchmarks").rglob("*.json"))
    data = json.loads(saved.read_text())
    data["machine_info"]["greenbench"]["meter"]["source"] = "rapl"
    saved.write_text(json.dumps(data))
    result = run_counted(pytester, "--benchmark-compare", "--energy-compare-fail=10%")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*refusing to compare energy measured by different meters*rapl*opcodes*"])
    ok = run_counted(pytester, "--benchmark-compare", "--energy-compare-fail=10%", "--energy-compare-any-meter")
    assert ok.ret == 0, ok.stdout.str()


def test_an_unknown_or_foreign_meter_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_plain=PLAIN, notameter="class Thing:\n    pass\n")
    for spec, message in (("joulemeter", "*expected one of auto, rapl*or MODULE:CLASS*"),
                          ("nosuchmodule:Meter", "*cannot import nosuchmodule*"),
                          ("notameter:Thing", "*Thing() is not a meter*")):
        result = pytester.runpytest_subprocess(f"--energy-meter={spec}")
        assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stderr.str()
        result.stderr.fnmatch_lines([message])


def test_baseline_without_energy_is_skipped(pytester: pytest.Pytester) -> None:
    autosave_baseline(pytester)
    saved = next(Path(pytester.path, ".benchmarks").rglob("*.json"))
    data = json.loads(saved.read_text())
    for b in data["benchmarks"]:
        b["extra_info"] = {}
    del data["machine_info"]["greenbench"]
    saved.write_text(json.dumps(data))
    result = run(pytester, "--benchmark-compare", "--energy-compare-fail=10%")
    # issue #21: a gate that compared nothing is not a pass
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines(["*baseline has no energy data*"])
    result.stdout.fnmatch_lines(["*nothing could be compared*"])


def test_pytest_benchmark_own_compare_still_works(pytester: pytest.Pytester) -> None:
    autosave_baseline(pytester)
    result = run(pytester, "--benchmark-compare", "--benchmark-compare-fail=min:1000%")
    assert result.ret == 0, result.stdout.str()
    # pytest-benchmark sorts its rows by speed: check each row on its own
    result.stdout.fnmatch_lines(["*test_work (0001*"])
    result.stdout.fnmatch_lines(["*test_work (NOW)*"])


def test_benchmark_disable_does_not_crash(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain=PLAIN)
    result = run(pytester, "--benchmark-disable")
    result.assert_outcomes(passed=1)


def test_xdist_does_not_crash(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain=PLAIN, test_quality=QUALITY)
    result = run(pytester, "-n", "2")
    result.assert_outcomes(passed=2)


def test_unavailable_meter_is_a_clear_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain=PLAIN)
    pytester.makeini("[pytest]\n")
    result = pytester.runpytest_subprocess("--energy-meter=rapl")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ERROR:*rapl*"])
    assert "Traceback" not in result.stderr.str()


def test_bad_gate_expression_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain=PLAIN)
    pytester.makeini("[pytest]\n")
    result = pytester.runpytest_subprocess("--energy-compare-fail=lots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--energy-compare-fail='lots': expected a percentage*"])


def test_energy_report_folder(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain=PLAIN, test_quality=QUALITY)
    result = run(pytester, "--energy-report=rep")
    assert result.ret == 0, result.stdout.str()
    rep = pytester.path / "rep"
    md = (rep / "README.md").read_text()
    assert "test_work" in md and "*" in md and "estimated" in md
    assert (rep / "energy_per_workload.png").stat().st_size > 1000
    assert json.loads((rep / "results.json").read_text())["benchmarks"]


MARKUP_IDS = """
import pytest


@pytest.mark.parametrize("path", ["/tmp", "[bold]x[/bold]"], ids=["/tmp", "[bold]x[/bold]"])
def test_loads(benchmark, path):
    benchmark(len, path)
"""


def test_markup_like_param_ids_are_printed_literally_and_never_crash(pytester: pytest.Pytester) -> None:
    # issue #17: a param id like `[/tmp]` crashed the run after the tests passed (rich.errors.MarkupError)
    pytester.makepyfile(test_ids=MARKUP_IDS)
    run(pytester, "--benchmark-autosave").assert_outcomes(passed=2)
    result = run(pytester, "--benchmark-compare", "--energy-compare-fail=10%", "--energy-compare-fail-inconclusive")
    out = result.stdout.str()
    assert "MarkupError" not in out and "Traceback" not in out and "INTERNALERROR" not in out
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*energy gate*"])
    # whatever the verdicts on this machine, the table names both full ids literally
    assert "test_loads[/tmp]" in out and "test_loads[[bold]x[/bold]]" in out


def test_fail_inconclusive_option_is_registered(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    out = pytester.runpytest_subprocess("--help").stdout.str()
    assert "--energy-compare-fail-inconclusive" in out


PICTURE = """
from greenbench.plugin import session_of


def test_picture(benchmark, request):
    folder = session_of(request.config).artifacts_dir()
    (folder / "pic.txt").write_text("a picture")
    benchmark(sum, range(100))
"""


def test_pictures_made_during_the_run_land_in_the_report_folder(pytester: pytest.Pytester) -> None:
    """Artifacts wait beside the report folder and join it when it is swapped in: a second run replaces it."""
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_pic=PICTURE)
    for _ in range(2):
        result = pytester.runpytest_subprocess(*FAST, "--energy-meter=model", "--energy-report=rep")
        result.assert_outcomes(passed=1)
        assert (pytester.path / "rep" / "artifacts" / "pic.txt").read_text() == "a picture"
        from greenbench.io.atomic import _umask

        assert (pytester.path / "rep" / "artifacts").stat().st_mode & 0o777 == 0o777 & ~_umask()
        assert (pytester.path / "rep" / "README.md").is_file()
        assert (pytester.path / "rep" / "index.html").is_file()
        assert not [p.name for p in pytester.path.iterdir() if p.name.startswith(".rep")]  # nothing left behind

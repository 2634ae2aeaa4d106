"""Hostile input and interruption: never a silent wrong figure, never lost data (issue #13).

One test (or a few) per class of failure the hostile-input pass found:

* the gate switching itself off (no baseline, empty rule, unknown schema, interrupted baseline);
* meters reporting impossible energy (RAPL resets and glitches, stuck counters, NVML alike);
* the report folder and output files (pre-checks, marker, whole-folder swap, umask, symlinks, devices);
* unsafe reading of results files (FIFO, device, size, BOM, nesting, huge integers);
* unit conversions accepting NaN or negative energy.

Unit tests run anywhere; the pytester ones (``slow``/``serial``) run real pytest in subprocesses.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from fakes import FakeGpu, FakeNvml, SteppingClock, build_powercap, make_entry, set_energy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenbench import results as R
from greenbench.errors import ConfigError, DataError, GreenbenchError, MeterError, MeterUnavailable
from greenbench.io import atomic
from greenbench.io import read as safeio
from greenbench.meters import RaplMeter
from greenbench.meters.nvml import NvmlMeter
from greenbench.plugin.session import EnergySession, baseline_problem, make_session
from greenbench.units import co2e_g, j_to_kwh, kwh_to_j

# --------------------------------------------------------------------------- safe reading


def results_doc(**greenbench: object) -> dict[str, object]:
    return {"benchmarks": [make_entry("test_a", [1.0, 1.1, 0.9])], "greenbench": {"schema_version": R.SCHEMA_VERSION,
                                                                       **greenbench}}


def one_line(exc: BaseException) -> str:
    message = str(exc)
    assert "\n" not in message
    return message


def test_fifo_is_refused_at_once_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "results.json"
    os.mkfifo(fifo)
    with pytest.raises(DataError) as info:
        R.load(fifo)  # O_NONBLOCK open + fstat: returns at once though no writer exists
    assert "FIFO" in one_line(info.value) and str(fifo) in str(info.value)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_device_is_refused_not_read_forever() -> None:
    with pytest.raises(DataError, match="device"):
        R.load("/dev/zero")


def test_directory_and_missing_and_empty_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="directory"):
        R.load(tmp_path)
    with pytest.raises(DataError, match="no such"):
        R.load(tmp_path / "nope.json")
    with pytest.raises(DataError, match="empty path"):
        safeio.read_text("", what="results file", max_bytes=10)


def test_size_limit_names_the_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_text(json.dumps(results_doc()))
    with pytest.raises(DataError, match="limit") as info:
        safeio.load_json(big, what="results file", max_bytes=100)
    assert "100" in one_line(info.value)


def test_utf8_bom_is_named(tmp_path: Path) -> None:
    p = tmp_path / "bom.json"
    p.write_bytes(safeio.UTF8_BOM + json.dumps(results_doc()).encode())
    with pytest.raises(DataError, match="byte-order mark"):
        R.load(p)


def test_invalid_utf8_names_the_offset(tmp_path: Path) -> None:
    p = tmp_path / "latin1.json"
    p.write_bytes(b'{"benchmarks": [], "x": "\xe9"}')
    with pytest.raises(DataError, match="0xe9 at offset 25"):
        R.load(p)


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000])
def test_deep_nesting_is_one_line_not_a_recursion_error(tmp_path: Path, text: str) -> None:
    p = tmp_path / "deep.json"
    p.write_text(text)
    with pytest.raises(DataError, match="nested") as info:
        R.load(p)
    one_line(info.value)


def test_brackets_inside_strings_do_not_count() -> None:
    assert safeio.nesting_depth('{"a": "[[[[[[", "b": [1, {"c": "}}}"}]}') == 3
    assert safeio.nesting_depth('x = "[[["  # [[[[\ny = [[1]]\nz = \'\'\'\n[[[[\n\'\'\'\n') == 2


def test_huge_integer_is_one_line(tmp_path: Path) -> None:
    p = tmp_path / "huge.json"
    p.write_text('{"benchmarks": [], "n": ' + "9" * 5000 + "}")
    with pytest.raises(DataError, match="not valid JSON"):
        R.load(p)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
entry_like = st.fixed_dictionaries({}, optional={
    "name": st.text(max_size=8) | st.integers(), "fullname": st.text(max_size=8),
    "extra_info": st.fixed_dictionaries({}, optional={"energy": st.fixed_dictionaries({}, optional={
        "schema_version": st.sampled_from([1, 2, 3, None, "1", True]),
        "per_call_j": st.dictionaries(st.sampled_from(["min", "median", "mean", "max"]), json_values, max_size=4),
        "estimated": json_values, "source": json_values})}),
})
result_docs = st.one_of(
    json_values,
    st.fixed_dictionaries({"benchmarks": st.lists(entry_like | json_values, max_size=4)},
                          optional={"greenbench": st.dictionaries(st.sampled_from(["schema_version", "interrupted"]),
                                                                  json_values)}),
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(doc=result_docs, junk=st.binary(max_size=16), mode=st.sampled_from(["json", "junk", "truncated"]))
def test_random_result_files_load_or_fail_in_one_line(tmp_path: Path, doc: object, junk: bytes, mode: str) -> None:
    from greensim.scenario import read_benchmark_energy

    text = json.dumps(doc)
    data = {"json": text.encode(), "junk": junk, "truncated": text.encode()[: len(text) // 2]}[mode]
    p = tmp_path / "r.json"
    p.write_bytes(data)
    try:
        loaded = R.load(p)
    except DataError as exc:
        one_line(exc)
    else:
        assert isinstance(loaded["benchmarks"], list)
    try:
        src = read_benchmark_energy(p, "*")
    except (DataError, ConfigError) as exc:
        one_line(exc)
    else:  # a figure, when one comes back, is finite and >= 0
        assert src.energy_j >= 0 and src.energy_j == src.energy_j and src.energy_j != float("inf")


# --------------------------------------------------------------------------- the gate never switches itself off


def options(**kw: object) -> SimpleNamespace:
    base: dict[str, object] = {"energy_meter": "model", "carbon_intensity": None, "carbon_region": None,
                               "energy_compare_fail": None, "energy_compare_any_meter": False,
                               "energy_report": None, "benchmark_compare": None}
    base.update(kw)
    return SimpleNamespace(**base)


def test_gate_rule_without_compare_is_refused() -> None:
    with pytest.raises(ConfigError, match="requires --benchmark-compare") as info:
        make_session(options(energy_compare_fail="10%"))
    one_line(info.value)


def test_empty_gate_rule_is_refused() -> None:
    with pytest.raises(ConfigError, match="expected a percentage"):
        make_session(options(energy_compare_fail="", benchmark_compare=True))


def test_rule_with_compare_builds() -> None:
    es = make_session(options(energy_compare_fail="10%", benchmark_compare="0001"))
    assert es.rule is not None


def test_unknown_schema_baseline_is_refused_by_name() -> None:
    doc = results_doc()
    doc["greenbench"] = {"schema_version": 99}
    problem = baseline_problem(doc, "baseline 0001_x.json")
    assert problem is not None and "schema_version 99" in problem and "0001_x.json" in problem


def test_interrupted_baseline_is_refused() -> None:
    problem = baseline_problem(results_doc(interrupted=True), "baseline 0002_x.json")
    assert problem is not None and "interrupted" in problem and "0002_x.json" in problem
    assert baseline_problem(results_doc(), "baseline 0003") is None


def test_gate_with_a_bad_baseline_refuses_instead_of_comparing() -> None:
    es = make_session(options())
    es.check_baseline(results_doc(interrupted=True), "baseline 0001")
    es.run_gate([make_entry("test_a", [1.0, 1.1, 0.9])], {})
    assert es.refusal is not None and "interrupted" in es.refusal and not es.verdicts


def test_interrupted_run_is_marked_in_the_saved_json() -> None:
    es = make_session(options())
    out: dict[str, object] = {"benchmarks": []}
    es.update_json(out)
    assert "interrupted" not in out["greenbench"]  # type: ignore[operator]
    es.interrupted = True
    es.update_json(out)
    assert out["greenbench"] == {"schema_version": R.SCHEMA_VERSION, "interrupted": True}
    assert isinstance(es, EnergySession)


# --------------------------------------------------------------------------- meters never report impossible energy


def test_rapl_step_back_that_is_not_a_wrap_is_refused(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, {"intel-rapl:0": ("package-0", 5_000_000)})
    meter = RaplMeter(cls, background=False, clock=SteppingClock(0.0, 1.0))
    meter.start()
    set_energy(cls, "intel-rapl:0", 4_000_000)  # back by 1 J: as a wrap it would be ~262 kJ in 1 s
    with pytest.raises(MeterError, match="reset or glitch") as info:
        meter.stop()
    assert "energy_uj" in one_line(info.value)


def test_rapl_real_wrap_is_still_folded(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, {"intel-rapl:0": ("package-0", 900_000)}, range_uj=1_000_000)
    meter = RaplMeter(cls, background=False, clock=SteppingClock(0.0, 1.0))
    meter.start()
    set_energy(cls, "intel-rapl:0", 100_000)
    assert meter.stop().energy_j == pytest.approx(0.2)


def test_rapl_negative_reading_is_refused(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, {"intel-rapl:0": ("package-0", 1_000)})
    meter = RaplMeter(cls, background=False, clock=SteppingClock(0.0, 1.0))
    meter.start()
    set_energy(cls, "intel-rapl:0", -5)
    with pytest.raises(MeterError, match="outside"):
        meter.stop()


def test_rapl_energy_above_the_zone_bound_is_refused_naming_the_file(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, {"intel-rapl:0": ("package-0", 0)})
    (cls / "intel-rapl:0" / "constraint_0_max_power_uw").write_text("100000000\n")  # 100 W -> 400 W bound
    meter = RaplMeter(cls, background=False, clock=SteppingClock(0.0, 1.0, 1.0, 2.0))
    assert meter.zones[0].max_power_w == pytest.approx(400.0)
    meter.start()
    set_energy(cls, "intel-rapl:0", 500_000_000)  # 500 J in 1 s
    with pytest.raises(MeterError, match="400 W bound") as info:
        meter.stop()
    assert "intel-rapl:0/energy_uj" in one_line(info.value)
    meter.start()
    set_energy(cls, "intel-rapl:0", 800_000_000)  # 300 J in 1 s: plausible
    assert meter.stop().energy_j == pytest.approx(300.0)


def test_rapl_stuck_counter_is_flagged_not_zero_joules(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, {"intel-rapl:0": ("package-0", 7)})
    meter = RaplMeter(cls, background=False, clock=SteppingClock(0.0, 2.0), cpu_clock=SteppingClock(0.0, 1.5))
    meter.start()
    with pytest.raises(MeterError, match="stuck"):
        meter.stop()
    idle = RaplMeter(cls, background=False, clock=SteppingClock(0.0, 2.0), cpu_clock=SteppingClock(0.0, 0.0))
    idle.start()
    assert idle.stop().energy_j == 0.0  # no CPU burned: 0 J is possible, not flagged


def test_rapl_range_so_small_the_poller_would_spin_is_refused(tmp_path: Path) -> None:
    cls = build_powercap(tmp_path, {"intel-rapl:0": ("package-0", 0)}, range_uj=10)
    with pytest.raises(MeterUnavailable, match="too fast to poll") as info:
        RaplMeter(cls, background=False)
    assert "max_energy_range_uj" in one_line(info.value)


def test_nvml_stuck_counter_is_not_zero_joules_measured() -> None:
    gpu = FakeGpu(energy_mj=1_000)
    meter = NvmlMeter(nvml=FakeNvml([gpu]), clock=SteppingClock(0.0, 2.0), background=False)
    meter.start()
    with pytest.raises(MeterError, match="stuck"):
        meter.stop()


def test_nvml_impossible_energy_is_refused() -> None:
    gpu = FakeGpu(energy_mj=0)
    meter = NvmlMeter(nvml=FakeNvml([gpu]), clock=SteppingClock(0.0, 1.0), background=False)
    meter.start()
    gpu.energy_mj = 50_000_000  # 50 kJ in 1 s
    with pytest.raises(MeterError, match="impossible"):
        meter.stop()


# --------------------------------------------------------------------------- output files


def test_written_files_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        p = atomic.write_text(tmp_path / "out.json", "{}")
        folder = atomic.write_folder(tmp_path / "rep", lambda d: atomic.write_text(d / "a.txt", "a"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == 0o640
    assert stat.S_IMODE((folder / "a.txt").stat().st_mode) == 0o640
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750


def test_symlink_is_written_through_not_replaced(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    atomic.write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_dev_stdout_writes_to_stdout(capfd: pytest.CaptureFixture[str]) -> None:
    atomic.write_text("/dev/stdout", "hello stdout\n")
    assert "hello stdout" in capfd.readouterr().out


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="no /dev/null")
def test_device_node_is_written_into_never_replaced() -> None:
    atomic.write_text("/dev/null", "x")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_empty_path_directory_and_unknown_plot_suffix_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="empty path"):
        atomic.write_text("", "x")
    with pytest.raises(ConfigError, match="directory"):
        atomic.write_text(tmp_path, "x")
    with pytest.raises(ConfigError, match=r"cannot write \.xyz"):
        atomic.figure_format(tmp_path / "plot.xyz")
    assert atomic.figure_format(tmp_path / "plot.PDF") == "pdf"
    assert atomic.figure_format(tmp_path / "plot") == "png"


def test_interrupted_write_leaves_no_temp_file(tmp_path: Path) -> None:
    def writer(p: Path) -> None:
        p.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic.write_with(tmp_path / "out.json", writer)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- the report folder


def test_report_dir_is_never_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for path in (".", str(tmp_path), str(tmp_path.parent)):
        with pytest.raises(ConfigError, match="current folder"):
            atomic.check_report_dir(path)


def test_report_dir_checks(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match="not a folder"):
        atomic.check_report_dir(a_file)
    with pytest.raises(ConfigError, match="not a folder"):
        atomic.check_report_dir(a_file / "sub")
    with pytest.raises(ConfigError, match="empty path"):
        atomic.check_report_dir("")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(ConfigError, match="not a greenbench report folder") as info:
        atomic.check_report_dir(mine)
    assert atomic.REPORT_MARKER in one_line(info.value)
    assert atomic.check_report_dir(tmp_path / "new" / "rep") == tmp_path / "new" / "rep"


def test_unwritable_report_place_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(atomic.os, "access", lambda *a, **k: False)  # root may write anywhere: fake the mode
    with pytest.raises(ConfigError, match="permission denied"):
        atomic.check_report_dir(tmp_path / "rep")


def test_concurrent_reports_never_mix_and_the_losers_say_so(tmp_path: Path) -> None:
    """Issue #21: while one writer holds the folder, the others are refused in one line (never both 'written')."""
    import threading

    rep = tmp_path / "rep"
    staged, go = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def fill(d: Path) -> None:
        for k in range(5):
            atomic.write_text(d / f"file{k}.txt", "first")
        staged.set()
        assert go.wait(timeout=60)  # holds the folder until the others have tried

    first = threading.Thread(target=lambda: atomic.write_folder(rep, fill))
    first.start()
    assert staged.wait(timeout=60)

    def other(i: int) -> None:
        try:
            atomic.write_folder(rep, lambda d: atomic.write_text(d / "file0.txt", str(i)))
        except ConfigError as exc:
            errors.append(exc)

    others = [threading.Thread(target=other, args=(i,)) for i in range(3)]
    for t in others:
        t.start()
    for t in others:
        t.join(timeout=60)
    go.set()
    first.join(timeout=60)
    assert len(errors) == 3 and all("is writing this folder now" in one_line(e) for e in errors)
    assert {(rep / f"file{k}.txt").read_text() for k in range(5)} == {"first"}
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]  # no staging folder, no lock file left


def test_report_folder_is_replaced_whole(tmp_path: Path) -> None:
    rep = tmp_path / "rep"
    atomic.write_folder(rep, lambda d: atomic.write_text(d / "old_only.txt", "1"))
    assert (rep / atomic.REPORT_MARKER).is_file()
    atomic.write_folder(rep, lambda d: atomic.write_text(d / "new.txt", "2"))
    assert sorted(p.name for p in rep.iterdir()) == sorted([atomic.REPORT_MARKER, "new.txt"])
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]  # no staging folder left beside it


def test_report_folder_never_overwrites_foreign_files(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(ConfigError):
        atomic.write_folder(mine, lambda d: atomic.write_text(d / "README.md", "x"))
    assert [p.name for p in mine.iterdir()] == ["thesis.tex"]
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]


def test_interrupted_report_keeps_the_old_folder_and_no_staging(tmp_path: Path) -> None:
    rep = tmp_path / "rep"
    atomic.write_folder(rep, lambda d: atomic.write_text(d / "README.md", "run 1"))

    def half(d: Path) -> None:
        atomic.write_text(d / "README.md", "run 2")
        raise KeyboardInterrupt  # SIGTERM arrives mid-report

    with pytest.raises(KeyboardInterrupt):
        atomic.write_folder(rep, half)
    assert (rep / "README.md").read_text() == "run 1"
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]


def test_staging_left_by_a_killed_writer_is_cleaned(tmp_path: Path) -> None:
    dead_pid = 2**22 + 12345  # above Linux's pid_max default range: never alive
    stale = tmp_path / f".rep.greenbench-{dead_pid}-abc"
    stale.mkdir()
    (stale / "README.md").write_text("half")
    atomic.write_folder(tmp_path / "rep", lambda d: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_interrupted_run_says_so_in_the_report(tmp_path: Path) -> None:
    from greenbench.outputs.report import write_report

    output = {"benchmarks": [make_entry("test_a", [1.0, 1.1, 0.9])], "machine_info": {},
              "greenbench": {"schema_version": R.SCHEMA_VERSION, "interrupted": True}}
    md = write_report(output, tmp_path / "rep").read_text()
    assert "interrupted" in md
    assert json.loads((tmp_path / "rep" / atomic.REPORT_MARKER).read_text())["interrupted"] is True


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize("bad", [float("nan"), -1.0, float("inf"), "3", None, True, 10**400])
def test_conversions_refuse_impossible_energy(bad: object) -> None:
    for fn in (j_to_kwh, kwh_to_j, lambda v: co2e_g(v, 475.0), lambda v: co2e_g(1.0, v)):
        with pytest.raises(ConfigError):
            fn(bad)  # type: ignore[no-untyped-call]
    assert issubclass(ConfigError, ValueError) and issubclass(ConfigError, GreenbenchError)


def test_conversions_still_convert() -> None:
    assert j_to_kwh(3.6e6) == 1.0 and kwh_to_j(1) == 3.6e6 and co2e_g(3.6e6, 475) == 475.0


# --------------------------------------------------------------------------- end to end (real pytest)

PLAIN = """
def work():
    return sum(i * i for i in range(2000))


def test_work(benchmark):
    assert benchmark(work) > 0
"""

STOPS = """
import os
import signal


def test_a_work(benchmark):
    benchmark(sum, range(2000))


def test_b_stop():
    {stop}


def test_c_never_runs(benchmark):
    benchmark(sum, range(2000))
"""

FAST = ["--benchmark-min-rounds=5", "--benchmark-max-time=0.05", "--benchmark-warmup=off", "-p", "no:cacheprovider",
        "--energy-meter=model"]


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makeini("[pytest]\n")
    return pytester.runpytest_subprocess(*FAST, *args)


def saved_runs(pytester: pytest.Pytester) -> list[Path]:
    return sorted((pytester.path / ".benchmarks").rglob("*.json"))


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.parametrize("args, message", [
    (["--energy-compare-fail=10%"], "requires --benchmark-compare"),
    (["--benchmark-compare", "--energy-compare-fail="], "expected a percentage"),
    (["--benchmark-compare", "--energy-compare-fail=10%"], "no baseline loaded"),
    (["--benchmark-compare", "--benchmark-disable", "--energy-compare-fail=10%"], "benchmarks are disabled"),
])
def test_gate_that_cannot_run_is_a_usage_error(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    pytester.makepyfile(test_plain=PLAIN)
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines([f"*{message}*"])


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.parametrize("damage", ["truncate", "empty", "schema"])
def test_unloadable_or_unknown_baseline_is_a_usage_error(pytester: pytest.Pytester, damage: str) -> None:
    pytester.makepyfile(test_plain=PLAIN)
    assert run(pytester, "--benchmark-autosave").ret == 0
    (saved,) = saved_runs(pytester)
    text = saved.read_text()
    if damage == "truncate":
        saved.write_text(text[: len(text) // 2])
    elif damage == "empty":
        saved.write_text("")
    else:
        data = json.loads(text)
        data["greenbench"]["schema_version"] = 99
        saved.write_text(json.dumps(data))
    result = run(pytester, "--benchmark-compare", "--energy-compare-fail=10%")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines(["*schema_version 99*" if damage == "schema" else "*no baseline loaded*"])


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.parametrize("stop", ["raise KeyboardInterrupt", "os.kill(os.getpid(), signal.SIGTERM)"])
def test_interrupted_run_is_marked_and_refused_as_baseline(pytester: pytest.Pytester, stop: str) -> None:
    pytester.makepyfile(test_stops=STOPS.format(stop=stop))
    result = run(pytester, "--benchmark-autosave", "--energy-report=rep")
    assert result.ret == pytest.ExitCode.INTERRUPTED, result.stdout.str() + result.stderr.str()
    (saved,) = saved_runs(pytester)  # the saved file survives, complete JSON, and says it was interrupted
    data = json.loads(saved.read_text())
    assert data["greenbench"]["interrupted"] is True
    assert [b["name"] for b in data["benchmarks"]] == ["test_a_work"]
    assert "interrupted" in (pytester.path / "rep" / "README.md").read_text()
    pytester.makepyfile(test_stops=STOPS.format(stop="pass"))
    again = run(pytester, "--benchmark-compare", "--energy-compare-fail=10%")
    assert again.ret == pytest.ExitCode.USAGE_ERROR, again.stdout.str() + again.stderr.str()
    again.stderr.fnmatch_lines(["*interrupted run*"])


@pytest.mark.slow
@pytest.mark.serial
def test_report_folder_is_checked_before_any_benchmark(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain=PLAIN)
    (pytester.path / "a_file").write_text("x")
    result = run(pytester, "--energy-report=a_file")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--energy-report a_file: exists and is not a folder*"])
    assert "test_work" not in result.stdout.str()
    mine = pytester.path / "mine"
    mine.mkdir()
    (mine / "notes.md").write_text("precious")
    result = run(pytester, "--energy-report=mine")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*not a greenbench report folder*"])
    assert [p.name for p in mine.iterdir()] == ["notes.md"]
    ok = run(pytester, "--energy-report=rep")
    assert ok.ret == 0, ok.stdout.str()
    assert (pytester.path / "rep" / atomic.REPORT_MARKER).is_file()
    again = run(pytester, "--energy-report=rep")  # its own folder is replaced, whole
    assert again.ret == 0, again.stdout.str()
    assert not [p for p in pytester.path.iterdir() if p.name.startswith(".rep.")]


if sys.platform != "linux":  # pragma: no cover - the fakes and FIFO tests assume Linux
    pytestmark = pytest.mark.skip(reason="Linux only")

"""The counted meter (issue #12): callgrind parsing, the energy model, the gate on counts, and end to end."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from fakes import make_entry

from greenbench import gate
from greenbench.errors import ConfigError, DataError, MeterError, MeterUnavailable
from greenbench.meters import counted as C
from greenbench.meters.counted import energy_model as CM

DUMP = """# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 123
cmd:  python -m pytest
part: 3

desc: I1 cache: 32768 B, 64 B, 8-way associative
positions: line
events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
summary: 18446744073709548101 1 2 3 4 5 6 7 8

fl=(1) x.c
fn=(1) f
0 1000 300 200 10 20 5 2 3 1

totals: 1000 300 200 10 20 5 2 3 1
"""

COUNTS = {"instructions": 1000, "data_reads": 300, "data_writes": 200, "l1i_misses": 10, "l1d_read_misses": 20,
          "l1d_write_misses": 5, "ll_instr_misses": 2, "ll_read_misses": 3, "ll_write_misses": 1}


def test_parse_totals_names_every_event() -> None:
    assert C.parse_callgrind(DUMP) == COUNTS


def test_read_counts_takes_the_totals_without_reading_the_whole_dump(tmp_path: Path) -> None:
    dump = tmp_path / "cg.1.1"
    body = "".join(f"fn=({i}) f{i}\n0 1 1 1 0 0 0 0 0 0\n" for i in range(2000))  # well past the tail read
    dump.write_text(DUMP.replace("totals:", body + "totals:"))
    assert C.read_counts(dump) == COUNTS  # the summary line's wrapped value is never used
    broken = tmp_path / "cg.1.2"  # no totals line in the tail: the whole text, and its summary
    broken.write_text(DUMP.replace("totals: 1000 300 200 10 20 5 2 3 1\n", ""))
    with pytest.raises(DataError, match="out of range"):
        C.read_counts(broken)


def test_parse_without_cache_events_keeps_instructions() -> None:
    text = "events: Ir\ntotals: 42\n"
    assert C.parse_callgrind(text) == {"instructions": 42}


@pytest.mark.parametrize("text, match", [
    ("nothing here\n", "no 'events:'"),
    ("events: Ir\ntotals: abc\n", "not a whole number"),
    ("events: Dr\ntotals: 5\n", "no Ir"),
    ("events: Ir\ntotals: 18446744073709548101\n", "out of range"),
])
def test_parse_refuses_bad_dumps(text: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        C.parse_callgrind(text, "cg.1.1")


def test_model_splits_by_class_and_sums() -> None:
    split = CM.energy_split_j(COUNTS)
    assert split["instructions"] == pytest.approx(1000 * 70e-12)
    assert split["l1_accesses"] == pytest.approx(500 * 20e-12)
    assert split["ll_accesses"] == pytest.approx(35 * 800e-12)
    assert split["dram_lines"] == pytest.approx(6 * 15.6e-9)
    assert CM.energy_j(COUNTS) == pytest.approx(sum(split.values()))


def test_coefficients_file_round_trip_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = CM.Coefficients(pj_per_instruction=1.0, source="mine", fit={"rms_rel_error": 0.1})
    p = tmp_path / "c.json"
    p.write_text(json.dumps(c.to_json()))
    loaded = CM.load_coefficients(p)
    assert loaded.pj_per_instruction == 1.0 and loaded.fit["rms_rel_error"] == 0.1
    monkeypatch.setenv(CM.COEFFICIENTS_ENV, str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match="not found"):
        CM.load_coefficients()
    p.write_text(json.dumps({"pj_per_instruction": -1}))
    with pytest.raises(ConfigError, match=">= 0"):
        CM.load_coefficients(p)
    p.write_text(json.dumps({"pj_per_instr": 1}))
    with pytest.raises(ConfigError, match="unknown key"):
        CM.load_coefficients(p)


def test_default_coefficients_when_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CM.COEFFICIENTS_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert CM.load_coefficients() == CM.DEFAULT


class FakeLib:
    """The client-request shim: a dump writes a callgrind file like valgrind does."""

    def __init__(self, out: Path, counts: list[dict[str, int]]) -> None:
        self.out, self.counts, self.n = out, counts, 0
        self.calls: list[str] = []

    def gb_zero_stats(self) -> None:
        self.calls.append("zero")

    def gb_start_instrumentation(self) -> None:
        self.calls.append("start")

    def gb_stop_instrumentation(self) -> None:
        self.calls.append("stop")

    def gb_toggle_collect(self) -> None:
        self.calls.append("toggle")

    def gb_dump_stats_at(self, name: bytes) -> None:
        self.calls.append("dump")
        c = self.counts[self.n]
        self.n += 1
        names = list(CM.EVENTS)
        line = " ".join(str(c.get(CM.EVENTS[e], 0)) for e in names)
        (self.out / f"cg.{os.getpid()}.{self.n}").write_text(f"events: {' '.join(names)}\ntotals: {line}\n")


def test_meter_brackets_with_client_requests(tmp_path: Path) -> None:
    lib = FakeLib(tmp_path, [COUNTS, {**COUNTS, "instructions": 2000}])
    meter = C.CountedMeter(CM.DEFAULT, lib=lib, out_dir=tmp_path)
    with meter.measure() as w:
        pass
    m = w.measurement
    assert m is not None and m.source == "counted" and m.estimated
    assert dict(m.counts) == COUNTS and m.energy_j == pytest.approx(CM.energy_j(COUNTS))
    # a plain window: instrumentation on (cold caches), only the window collected, then off again
    assert lib.calls == ["start", "zero", "toggle", "toggle", "dump", "stop"]
    assert not list(tmp_path.glob("cg.*")), "each dump is read and removed"
    meter.start()
    assert meter.stop().counts["instructions"] == 2000
    with pytest.raises(MeterError):
        meter.stop()
    assert meter.describe()["source"] == "counted"


def test_meter_outside_callgrind_says_how(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(C.DIR_ENV, raising=False)
    with pytest.raises(MeterUnavailable, match="--energy-meter=counted"):
        C.CountedMeter()


def test_relaunch_command_fixes_rounds_and_environment() -> None:
    cmd = C.relaunch_command(["t.py", "-q"], "/tmp/x", valgrind="vg", python="py", rounds=7,
                             prefix=["setarch", "x86_64", "-R"])
    assert cmd[:5] == ["setarch", "x86_64", "-R", "vg", "--tool=callgrind"]  # no address randomisation
    assert "--instr-atstart=no" in cmd and "--collect-atstart=no" in cmd and "--cache-sim=yes" in cmd
    assert "--log-file=/tmp/x/valgrind.%p.log" in cmd
    # pytest-benchmark's commit information comes in from outside (no git child under Valgrind): loaded first
    at = cmd.index("py")
    assert cmd[at:at + 7] == ["py", "-m", "pytest", "-p", "greenbench.meters.counted.commitinfo", "t.py", "-q"]
    assert "--benchmark-min-rounds=7" in cmd and "--benchmark-max-time=0" in cmd
    assert "--benchmark-warmup=off" in cmd
    assert "--benchmark-timer=greenbench.meters.counted.clock.counted_nominal_clock" in cmd
    env = C.relaunch_env("/tmp/x", {"PATH": "/bin"})
    assert env["PYTHONHASHSEED"] == "0" and env["OMP_NUM_THREADS"] == "1" and env[C.DIR_ENV] == "/tmp/x"
    # Numba's cache key holds the CPU name/features; Valgrind's emulated CPU differs from the host's
    assert env["NUMBA_CPU_NAME"] == "generic" and C.NUMBA_ENV.items() <= env.items()


def test_counted_rounds_env_is_checked() -> None:
    assert C.counted_rounds({}) == C.DEFAULT_ROUNDS
    assert C.counted_rounds({C.ROUNDS_ENV: "9"}) == 9
    with pytest.raises(ConfigError):
        C.counted_rounds({C.ROUNDS_ENV: "2"})


def test_explain_names_the_class_that_moved() -> None:
    cur = {**COUNTS, "instructions": 1020}
    text = C.explain_change(COUNTS, cur)
    assert text.startswith("+") and "instructions +2.0%" in text and text.index("instructions") < text.index("DRAM")


def _counted(name: str, rounds: list[float], counts: dict[str, int] | None = None) -> dict[str, Any]:
    return make_entry(name, rounds, source="counted", counts=counts or COUNTS, contended=(True,) * len(rounds))


RULE = gate.GateRule.parse("1%")


def test_gate_counted_aa_passes_even_with_contended_rounds() -> None:
    base = _counted("t", [1.0, 1.000001, 1.000002, 1.0, 1.0])
    v = gate.compare_entries(base, _counted("t", [1.0000005, 1.0, 1.000001, 1.0, 1.0]), RULE)
    assert v.verdict == "ok" and "rounds agree to" in v.reason


def test_gate_counted_two_percent_fails_and_explains() -> None:
    base = _counted("t", [1.0] * 5)
    cur = _counted("t", [1.02] * 5, {**COUNTS, "instructions": 1029})
    v = gate.compare_entries(base, cur, RULE)
    assert v.verdict == "regression" and v.failed and v.change == pytest.approx(0.02)
    assert "instructions +2.9%" in v.reason


def test_gate_counted_nondeterministic_rounds_do_not_pass() -> None:
    base = _counted("t", [1.0, 1.03, 1.05, 1.02, 1.04])
    v = gate.compare_entries(base, _counted("t", [1.0, 1.04, 1.06, 1.01, 1.03]), RULE)
    assert v.verdict == "inconclusive" and not v.decided and v.cause == "nondeterministic rounds"
    assert "the same calls were counted as different work in one process" in v.reason
    assert "without an order" in v.reason and "random input, threads" not in v.reason


@pytest.mark.parametrize("rounds, says", [
    ([1.02, 1.01, 1.0], "falls round after round, so the calls had not reached a steady state"),
    ([1.0, 1.01, 1.02], "grows round after round"),
    ([1.0, 1.02, 1.01], "varies from round to round without an order"),
])
def test_nondeterministic_rounds_say_what_their_order_shows(rounds: list[float], says: str) -> None:
    v = gate.compare_entries(_counted("t", rounds), _counted("t", [1.0, 1.0, 1.0]), RULE)
    assert v.cause == "nondeterministic rounds" and says in v.reason
    assert "rounds in order, relative to the lowest: " + " / ".join(f"{r:.4f}" for r in rounds) in v.reason


def test_counted_record_counts_pick_the_lowest_round() -> None:
    from greenbench.meters.base import Measurement
    from greenbench.plugin.recorder import RoundRecord

    def rr(e: float, n: int, it: int) -> RoundRecord:
        return RoundRecord(Measurement(e, 1.0, 1.0, "counted", True, counts={"instructions": n}), it)

    assert C.record_counts([rr(2.0, 200, 1), rr(2.0, 200, 2)]) == {"instructions": 100}


def test_noise_is_measured_from_rounds() -> None:
    assert gate.round_noise([1.0, 1.0, 1.0]) == 0.0
    assert gate.round_noise([1.0, 1.1, 1.2]) == pytest.approx(0.1)
    assert math.isnan(gate.round_noise([]))


needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None or not os.path.isfile(
    "/usr/include/valgrind/callgrind.h"), reason="needs valgrind and valgrind/callgrind.h")


@pytest.mark.slow
@pytest.mark.serial
@needs_valgrind
def test_end_to_end_counted_gate(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_tiny="""
        import os
        N = int(os.environ.get("N_WORK", "3000"))
        def work(n):
            return sum(i * i for i in range(n))
        def test_a(benchmark):
            benchmark(work, N)
        def test_b(benchmark):
            benchmark(sorted, list(range(500, 0, -1)))
    """)
    pytester.makepyfile(test_spawn="""
        import subprocess, sys
        def test_spawns(benchmark):
            benchmark(subprocess.run, [sys.executable, "-c", ""])
    """)
    r = pytester.runpytest_subprocess("--energy-meter=counted", "-p", "no:cacheprovider")
    out = r.stdout.str() + r.stderr.str()
    assert r.ret == 1, out  # issue #20/#21: a benchmark with a child process is refused by name, the rest counted
    assert "test_spawns starts a child process (subprocess.Popen)" in out
    assert "cache found" not in out and "total_size" not in out  # Valgrind's cache-size notes are hidden
    # baseline and head run the same selection, as a CI job does: what ran before a benchmark in the same
    # process still moves a small benchmark's counts (here ~1% after a test that imported subprocess; issue #20)
    r = pytester.runpytest_subprocess("test_tiny.py", "--energy-meter=counted", "-p", "no:cacheprovider",
                                      "--benchmark-autosave")
    assert r.ret == 0, r.stdout.str() + r.stderr.str()
    saved = json.loads(next((pytester.path / ".benchmarks").rglob("*.json")).read_text())
    assert saved["machine_info"]["greenbench"]["meter"]["source"] == "counted"
    e = {b["name"]: b["extra_info"].get("energy") for b in saved["benchmarks"]}
    assert "test_spawns" not in e
    assert e["test_a"]["estimated"] is True and isinstance(e["test_a"]["counts"]["instructions"], int)
    assert len(e["test_a"]["rounds_j"]) == C.DEFAULT_ROUNDS
    # pytest-benchmark's times are counts at the nominal clock, and the run says so (issue #20)
    from greenbench.meters.counted import clock

    a = next(b for b in saved["benchmarks"] if b["name"] == "test_a")
    assert a["options"]["timer"].endswith("counted_nominal_clock")
    per_call = e["test_a"]["counts"]["instructions"] * clock.NOMINAL_S_PER_INSTRUCTION
    # (the counts are the lowest-energy round's, the time minimum the lowest-instruction round's: warm rounds
    # agree to well under 1 %, as asserted below)
    assert a["stats"]["min"] == pytest.approx(per_call, rel=1e-2)
    assert f"counted meter: {clock.TIME_COLUMNS}" in r.stdout.str()
    # warm rounds agree; pymalloc may map a fresh arena in one round (+2.5% seen, never less): the gate's
    # minimum rests on the two lowest, which must agree (an unexplained failure of the stricter all-rounds check
    # under load is issue #20's open nondeterminism)
    low = sorted(e["test_a"]["rounds_j"])[:2]
    assert low[1] / low[0] - 1 < 5e-3
    # 5 %, not 1 %: a small pure-Python benchmark's counts still move up to ~2 % between processes on a loaded
    # machine (issue #20, open; the A/A spreads on real suites are in docs/counted.md)
    r = pytester.runpytest_subprocess("test_tiny.py", "--energy-meter=counted", "-p", "no:cacheprovider",
                                      "--benchmark-compare", "--energy-compare-fail=5%")
    assert r.ret == 0, r.stdout.str()
    os.environ["N_WORK"] = "3900"  # +30 % work in test_a only
    try:
        r = pytester.runpytest_subprocess("test_tiny.py", "--energy-meter=counted", "-p", "no:cacheprovider",
                                          "--benchmark-compare", "--energy-compare-fail=5%")
    finally:
        del os.environ["N_WORK"]
    out = r.stdout.str()
    assert r.ret == 1, out
    assert "test_tiny.py::test_a: regression" in out and "test_tiny.py::test_b: regression" not in out


# -- issue #20: rounds that repeat (warm-up, calls by counts, harness subtracted, no child processes) ----------

class SimLib:
    """A callgrind that counts what ``work`` reports while collection is on (instrumentation flag tracked)."""

    def __init__(self, out: Path) -> None:
        self.out, self.collecting, self.instrumented, self.acc = out, False, False, dict.fromkeys(CM.EVENTS, 0)
        self.n = 0
        self.log: list[str] = []

    def work(self, events: dict[str, int]) -> None:
        if self.collecting and self.instrumented:
            for e, v in events.items():
                self.acc[e] += v

    def gb_zero_stats(self) -> None:
        self.acc = dict.fromkeys(CM.EVENTS, 0)

    def gb_start_instrumentation(self) -> None:
        self.instrumented = True
        self.log.append("start")

    def gb_stop_instrumentation(self) -> None:
        self.instrumented = False
        self.log.append("stop")

    def gb_toggle_collect(self) -> None:
        self.collecting = not self.collecting

    def gb_dump_stats_at(self, name: bytes) -> None:
        self.n += 1
        names = list(CM.EVENTS)
        line = " ".join(str(self.acc[e]) for e in names)
        (self.out / f"cg.{os.getpid()}.{self.n}").write_text(f"events: {' '.join(names)}\ntotals: {line}\n")
        self.acc = dict.fromkeys(CM.EVENTS, 0)


def _runner(lib: SimLib, per_call_ir: int, harness_ir: int, cold_extra: list[int]) -> Any:
    """pytest-benchmark's runner, simulated: a fixed harness per round plus per-call work; the very first
    call of the process costs ``cold_extra`` more (lazy initialisation, cold caches)."""
    def call(n: int) -> float:
        lib.work({"Ir": harness_ir, "Dr": 10})
        for _ in range(max(n, 1)):
            lib.work({"Ir": per_call_ir + (cold_extra.pop() if cold_extra else 0), "Dr": 3})
        return 1e-6 * max(n, 1)
    return call


def test_run_round_warms_up_picks_calls_by_counts_and_subtracts_the_harness(tmp_path: Path) -> None:
    lib = SimLib(tmp_path)
    meter = C.CountedMeter(CM.DEFAULT, lib=lib, out_dir=tmp_path)
    meter.begin_benchmark("t.py::test_small")
    call = _runner(lib, per_call_ir=1000, harness_ir=700, cold_extra=[50_000])
    # the first round (pytest-benchmark's calibration round, discarded) sizes the rounds: one counted call
    _, first, one = meter.run_round(call, 1, lambda: _runner(lib, 0, 700, []))
    assert one == 1 and first.counts["instructions"] == 1000
    results = []
    for _ in range(3):
        result, m, n = meter.run_round(call, 1, lambda: _runner(lib, 0, 700, []))
        results.append((result, m, n))
    n = results[0][2]
    # calls per round: the power of two that makes a round about TARGET_INSTRUCTIONS, the same every round
    assert n == 1 << (C.TARGET_INSTRUCTIONS // 1000).bit_length() - 1 and {r[2] for r in results} == {n}
    for result, m, _ in results:
        # the cold first call ran uncollected and the harness (700 Ir per round) was subtracted: exact
        assert m.counts["instructions"] == 1000 * n and m.counts["data_reads"] == 3 * n
        assert result == pytest.approx(1e-6)  # duration scaled to the one call pytest-benchmark asked for
    assert lib.instrumented, "instrumentation stays on between the rounds of a benchmark (warm caches)"
    meter.end_benchmark()
    # uninstrumented: the first touches before the sizing call, and the one-time settling calls between the
    # sizing call and the instrumented warm-up
    assert not lib.instrumented and lib.log == ["start", "stop", "start", "stop", "start", "stop"]
    # a sub-microsecond call: many calls per round, per-call counts exact whatever the iterations asked
    meter.begin_benchmark("t.py::test_tiny")
    meter.run_round(_runner(lib, 10, 700, []), 7)
    _, m, n = meter.run_round(_runner(lib, 10, 700, []), 7)
    assert n == C.MAX_CALLS and m.counts["instructions"] == 10 * n


def test_run_round_hands_pytest_benchmark_durations_from_counts(tmp_path: Path) -> None:
    """Issue #20: whatever the runner's clock read, pytest-benchmark gets the round's net instructions at 1 ns each
    per call it asked for (a wall time under Valgrind, and what pytest-benchmark formats from it, followed the
    machine and reached the next benchmark's counts)."""
    lib = SimLib(tmp_path)
    meter = C.CountedMeter(CM.DEFAULT, lib=lib, out_dir=tmp_path)
    meter.begin_benchmark("t.py::test_t")

    def call(n: int) -> Any:
        lib.work({"Ir": 700})  # the harness
        for _ in range(max(n, 1)):
            lib.work({"Ir": 2_000})
        return 123.0 if n else (123.0, "value")  # a wall clock's reading: ignored

    noop = lambda: (lambda n: lib.work({"Ir": 700}) or (0.5 if n else (0.5, None)))  # noqa: E731
    result, _, _ = meter.run_round(call, 1, noop)
    assert result == pytest.approx(2e-6)
    result, m, n = meter.run_round(call, 3, noop)  # pytest-benchmark asked for 3 calls: 3 calls' duration
    assert n > 1 and m.counts["instructions"] == 2_000 * n and result == pytest.approx(3 * 2e-6)
    duration, value = meter.run_round(call, None, noop)[0]  # the single-call path keeps the call's result
    assert value == "value" and duration == pytest.approx(2e-6)


def test_run_round_single_call_path_and_big_calls(tmp_path: Path) -> None:
    lib = SimLib(tmp_path)
    meter = C.CountedMeter(CM.DEFAULT, lib=lib, out_dir=tmp_path)
    meter.begin_benchmark("t.py::test_big")
    calls: list[int] = []

    def big(n: int) -> float:
        calls.append(n)
        lib.work({"Ir": 5 * C.TARGET_INSTRUCTIONS * max(n, 1)})
        return 1.0

    _, m, n = meter.run_round(big, 1)
    assert n == 1 and m.counts["instructions"] == 5 * C.TARGET_INSTRUCTIONS
    settle = C.settle_calls(5 * C.TARGET_INSTRUCTIONS)
    assert settle == C.SETTLE_INSTRUCTIONS // (5 * C.TARGET_INSTRUCTIONS)
    assert calls == [2, 1, settle, 2], \
        "first touches, one counted call to size the rounds, the uninstrumented settling calls, the warm-up"
    calls.clear()
    _, m, n = meter.run_round(big, 1)
    assert n == 1 and m.counts["instructions"] == 5 * C.TARGET_INSTRUCTIONS
    assert calls == [1, 1], "one warm-up call, the measured call"
    calls.clear()
    _, m, n = meter.run_round(big, None)  # pedantic: one call whose result pytest-benchmark keeps
    assert n == 1 and calls == [0] and m.counts["instructions"] == 5 * C.TARGET_INSTRUCTIONS


def test_settling_calls_run_uninstrumented_once_per_benchmark(tmp_path: Path) -> None:
    """Issue #20: the interpreter's specialisation settles in calls run with instrumentation off (bounded by
    SETTLE_CALLS and SETTLE_INSTRUCTIONS); the simulated caches are then filled by an instrumented warm-up."""
    assert C.settle_calls(1) == C.SETTLE_CALLS and C.settle_calls(0) == C.SETTLE_CALLS
    assert C.settle_calls(C.SETTLE_INSTRUCTIONS + 1) == 0
    lib = SimLib(tmp_path)
    meter = C.CountedMeter(CM.DEFAULT, lib=lib, out_dir=tmp_path)
    meter.begin_benchmark("t.py::test_small")
    seen: list[tuple[int, bool]] = []

    def call(n: int) -> float:
        seen.append((n, lib.instrumented))
        lib.work({"Ir": 1000 * max(n, 1)})
        return 1e-6 * max(n, 1)

    meter.run_round(call, 1)
    uninstrumented = [n for n, on in seen if not on]
    # the first touches (code generated on a first call must not run under the cache simulation) and the
    # settling calls
    assert uninstrumented == [2, C.settle_calls(1000)], seen
    assert seen[-1][1] and seen[-1][0] >= 2, "an instrumented warm-up follows the settling calls"
    seen.clear()
    _, m, n = meter.run_round(call, 1)
    assert all(on for _, on in seen) and m.counts["instructions"] == 1000 * n, "later rounds: no settling"


def test_dumps_can_be_kept_for_diagnosis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keep = tmp_path / "kept"
    keep.mkdir()
    monkeypatch.setenv("GREENBENCH_COUNTED_KEEP_DUMPS", str(keep))
    lib = SimLib(tmp_path)
    meter = C.CountedMeter(CM.DEFAULT, lib=lib, out_dir=tmp_path)
    meter.begin_benchmark("t.py::test_k")
    meter.run_round(_runner(lib, 1000, 0, []), 1)
    meter.run_round(_runner(lib, 1000, 0, []), 1)
    kept = sorted(p.name for p in keep.iterdir())
    assert kept == ["00001.t.py::test_k.cg", "00002.t.py::test_k.cg"]
    assert (keep / kept[-1]).read_text().startswith("events:")


def test_cache_geometry_is_fixed_and_l1_fully_associative() -> None:
    """Issue #20: L1 conflict misses followed the heap layout; a one-set (fully associative) L1 removes them."""
    args = dict(a.split("=", 1) for a in C.VALGRIND_ARGS if a.startswith(("--I1=", "--D1=", "--LL=")))
    for level in ("--I1", "--D1"):
        size, ways, line = (int(x) for x in args[level].split(","))
        assert size // (ways * line) == 1, f"{level}: one set"
    assert args["--LL"] == "8388608,16,64"


def test_child_process_in_a_round_is_refused_by_name(tmp_path: Path) -> None:
    import subprocess
    import sys

    lib = SimLib(tmp_path)
    meter = C.CountedMeter(CM.DEFAULT, lib=lib, out_dir=tmp_path)
    meter.begin_benchmark("t.py::test_spawns")

    def spawns(n: int) -> float:
        subprocess.run([sys.executable, "-c", ""], check=False)
        return 0.0

    with pytest.raises(C.ChildProcessRefused, match=r"t.py::test_spawns starts a child process \(subprocess.Popen\)"):
        meter.run_round(spawns, 1)
    assert not meter.in_round
    subprocess.run([sys.executable, "-c", ""], check=True)  # outside a round: allowed
    meter.start()  # the window was closed by the refusal
    meter.stop()


def test_seed_random_repeats_module_level_data() -> None:
    import random

    C.seed_random()
    a = random.random()
    random.random()
    C.seed_random()
    assert random.random() == a


@pytest.mark.parametrize("option, wanted", [
    ({"numprocesses": 2, "dist": "load", "tx": ["popen"] * 2}, True),
    ({"numprocesses": None, "dist": "no", "tx": ["popen"]}, True),
    ({"numprocesses": None, "dist": "loadscope", "tx": []}, True),
    ({"numprocesses": 0, "dist": "no", "tx": []}, False),
    ({"numprocesses": None, "dist": "no", "tx": []}, False),
])
def test_xdist_runs_one_valgrind_per_worker(option: dict[str, Any], wanted: bool) -> None:
    """Issue #20: -n N / --tx / --dist with the counted meter are no longer refused (xdist.py runs them)."""
    import types

    assert C.refuse_xdist(types.SimpleNamespace(**option)) is wanted


def test_valgrind_cache_notes_are_hidden(tmp_path: Path) -> None:
    (tmp_path / "valgrind.12.log").write_text(
        "--12-- warning: L3 cache found, using its data for the LL simulation.\n"
        "--12-- warning: specified LL cache: line_size 64  assoc 1  total_size 402,653,184\n"
        "--12-- warning: simulated LL cache: line_size 64  assoc 2  total_size 536,870,912\n"
        "==12== Process terminating with default action of signal 11 (SIGSEGV)\n")
    assert C.valgrind_messages(tmp_path) == ["==12== Process terminating with default action of signal 11 (SIGSEGV)"]


def test_counted_run_fixes_pytest_benchmark_options(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import pytest_benchmark.fixture as pbf

    from greenbench.meters.counted import clock

    monkeypatch.setattr(pbf, "time", pbf.time)  # restored after the test: install() swaps it
    monkeypatch.setenv(C.DIR_ENV, "/nonexistent")
    monkeypatch.setenv(C.ROUNDS_ENV, "4")
    registered: list[str] = []
    option = types.SimpleNamespace(benchmark_min_rounds=5, benchmark_max_time=1.0, benchmark_min_time=5e-6,
                                   benchmark_calibration_precision=10, benchmark_warmup=True,
                                   benchmark_timer="time.perf_counter")
    config = types.SimpleNamespace(option=option, pluginmanager=types.SimpleNamespace(
        register=lambda plugin, name: registered.append(name)))
    assert C.counted_cmdline_main(config) is None
    assert option.benchmark_min_rounds == 4 and option.benchmark_max_time == 0.0 and option.benchmark_warmup is False
    assert registered == ["greenbench-counted-run"]
    # issue #20: pytest-benchmark's clocks in the counted process do not follow the machine's timing
    assert option.benchmark_timer == clock.TIMER == "greenbench.meters.counted.clock.counted_nominal_clock"
    assert isinstance(pbf.time, clock._FixtureTime)
    before = pbf.time.time()
    assert pbf.time.time() == pytest.approx(before + 1e-9, abs=1e-15)  # one nanosecond per reading
    assert pbf.time.sleep is __import__("time").sleep  # everything else is the real module's


def test_counted_clock_is_a_function_of_readings_and_counts() -> None:
    """Issue #20: pytest-benchmark's timer in a counted run (loadable by name, as --benchmark-timer loads it) and
    the durations the counted meter hands it: counts at a nominal 1 ns per instruction, never the wall clock."""
    import itertools

    from pytest_benchmark.utils import load_timer

    from greenbench.meters.counted import clock

    timer = load_timer(clock.TIMER).target
    assert timer is clock.counted_nominal_clock
    readings = [timer() for _ in range(5)]
    assert [round((b - a) * 1e9) for a, b in itertools.pairwise(readings)] == [1, 1, 1, 1]
    assert clock.counted_duration_s(2_500) == pytest.approx(2.5e-6)
    assert clock.counted_duration_s(0) == clock.NOMINAL_S_PER_INSTRUCTION  # never 0 s (pytest-benchmark divides)
    assert "not a measured time" in clock.TIME_COLUMNS
    # and the counted run says so after pytest-benchmark's table, when there is one
    import types

    lines: list[str] = []
    for benchmarks in ([], ["b"]):
        config = types.SimpleNamespace(_benchmarksession=types.SimpleNamespace(benchmarks=benchmarks))
        clock.say_time_columns(types.SimpleNamespace(config=config, write_line=lines.append))
    assert lines == [f"counted meter: {clock.TIME_COLUMNS}"]


def test_numba_warmup_pass_disables_benchmarks_and_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    monkeypatch.setenv(C.NUMBA_WARMUP_ENV, "1")
    option = types.SimpleNamespace(energy_meter="counted", benchmark_disable=False, benchmark_autosave=True,
                                   energy_compare_fail="1%", energy_report="r", benchmark_json="x.json")
    config = types.SimpleNamespace(option=option)
    assert C.counted_cmdline_main(config) is None  # no re-launch from the warm-up pass
    assert option.energy_meter == "model" and option.benchmark_disable is True
    assert option.benchmark_autosave is False and option.energy_compare_fail is None
    assert option.energy_report is None and option.benchmark_json is None


def test_numba_cache_is_warmed_natively_before_the_counted_run(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util
    import subprocess

    seen: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: seen.append((cmd, kw["env"])))
    monkeypatch.delenv("GREENBENCH_COUNTED_NUMBA_WARMUP_SKIP", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object() if name == "numba" else None)
    assert C.warm_numba_cache(["t.py", "--energy-meter=counted"], "/tmp") is not None
    (cmd, env), = seen
    assert cmd[1:5] == ["-m", "pytest", "t.py", "--energy-meter=counted"]
    assert env[C.NUMBA_WARMUP_ENV] == "1" and env["NUMBA_CPU_NAME"] == "generic"
    assert "Numba's cache filled natively" in capsys.readouterr().out
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert C.warm_numba_cache(["t.py"]) is None and len(seen) == 1  # no Numba: no pass


@pytest.mark.slow
@pytest.mark.serial
@needs_valgrind
def test_steady_state_planted_compute_and_dram_lines(pytester: pytest.Pytester) -> None:
    """Issue #20: warm simulated caches at the start of a measured round.  +10 % compute in cache-resident code
    moves counted energy by about +10 %; a copy of 32 MiB (4x the simulated 8 MiB last level) still pays its
    DRAM lines on every call; the cache-resident loop pays none."""
    pytester.makepyfile(test_steady="""
        BIG = bytearray(32 << 20)
        def loop(n):
            s = 0
            for i in range(n):
                s += i * i % 7
            return s
        def test_loop(benchmark):
            benchmark(loop, 1000)
        def test_loop_plus10(benchmark):
            benchmark(loop, 1100)
        def test_copy(benchmark):
            benchmark(bytes, BIG)
    """)
    r = pytester.runpytest_subprocess("--energy-meter=counted", "-p", "no:cacheprovider", "--benchmark-json=out.json")
    assert r.ret == 0, r.stdout.str()
    saved = json.loads((pytester.path / "out.json").read_text())
    e = {b["name"]: b["extra_info"]["energy"] for b in saved["benchmarks"]}
    # counts, not time: the counted meter is deterministic here (this pymalloc-only kind of loop repeats to the
    # instruction across fresh runs with two busy loops beside them since the aligned arenas, docs/counted.md),
    # so the band is about the model (harness, loop set-up), not the host's load
    ratio = min(e["test_loop_plus10"]["rounds_j"]) / min(e["test_loop"]["rounds_j"])
    assert 1.08 < ratio < 1.12, ratio
    dram = {k: sum(v["counts"][c] for c in ("ll_instr_misses", "ll_read_misses", "ll_write_misses"))
            for k, v in e.items()}
    assert dram["test_loop"] == 0 and dram["test_loop_plus10"] == 0, dram  # warm: no DRAM line in a cached loop
    assert dram["test_copy"] > (32 << 20) // 64, dram  # >= one DRAM line per 64 bytes read, every call


def test_environment_and_arguments_are_padded_to_one_size() -> None:
    """A baseline and a compared run (other arguments, other variable lengths) start from one stack layout."""
    def size(env: dict[str, str], argv: list[str]) -> int:
        return sum(len(a.encode()) + 1 for a in argv) + sum(len(k.encode()) + len(v.encode()) + 2
                                                            for k, v in env.items())

    base_argv = ["valgrind", "python", "-m", "pytest", "bench", "--benchmark-autosave"]
    head_argv = ["valgrind", "python", "-m", "pytest", "bench", "--benchmark-compare", "--energy-compare-fail=1%"]
    a = C.pad_env({"PATH": "/bin", "X": "1"}, base_argv)
    b = C.pad_env({"PATH": "/usr/local/bin:/bin", "X": "12345", "Y": "é"}, head_argv)
    assert size(a, base_argv) == size(b, head_argv) == C.PAD_BLOCK
    assert C.pad_env(a, base_argv) == a  # padding again changes nothing


def test_the_shells_bookkeeping_does_not_reach_the_counted_process() -> None:
    """``_`` (the shell's last command), OLDPWD, SHLVL: how the run was started, not what it runs with."""
    argv = ["valgrind", "python", "-m", "pytest", "bench"]
    by_nohup = C.pad_env({"PATH": "/bin", "_": "/usr/bin/nohup", "SHLVL": "1", "OLDPWD": "/"}, argv)
    by_script = C.pad_env({"PATH": "/bin", "_": "/usr/local/bin/python3", "SHLVL": "3", "OLDPWD": "/home/x"}, argv)
    assert by_nohup == by_script
    assert set(by_nohup) == {"PATH", "PYTHONDONTWRITEBYTECODE", C.PAD_ENV}


def test_a_counted_process_reads_bytecode_caches_but_never_writes_them() -> None:
    """The first counted run after a checkout would otherwise write the caches later runs read (cattrs: all 40
    benchmarks of the first run 0.0-1.45 % away from the four identical runs after it)."""
    env = C.pad_env({"PATH": "/bin", "PYTHONDONTWRITEBYTECODE": ""}, ["valgrind", "python"])
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"


def test_valgrind_messages_hide_uncounted_childs_missing_descriptor(tmp_path: Path) -> None:
    (tmp_path / "valgrind.3.log").write_text(
        "==14== Error: can not open cache simulation output file `/proc/self/fd/200/cg.14'\n"
        "==3== Error: can not open cache simulation output file `/elsewhere/cg.3'\n")
    assert C.valgrind_messages(tmp_path) == ["==3== Error: can not open cache simulation output file `/elsewhere/cg.3'"]


def test_fixed_dir_names_the_directory_by_descriptor(tmp_path: Path) -> None:
    from greenbench.meters.counted import valgrind as V

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("no /proc/self/fd here")
    try:
        os.fstat(V.DIR_FD)
        pytest.skip("descriptor already taken in this process")
    except OSError:
        pass
    (tmp_path / "cg.1.1").write_text("x")
    path, fd = V.fixed_dir(str(tmp_path))
    try:
        assert (path, fd) == (f"/proc/self/fd/{V.DIR_FD}", V.DIR_FD)
        assert os.get_inheritable(fd)
        assert sorted(os.listdir(path)) == ["cg.1.1"]  # the same directory, under a name that never changes
        assert V.fixed_dir(str(tmp_path)) == (str(tmp_path), None)  # taken: the plain path, nothing opened
    finally:
        os.close(V.DIR_FD)
    assert V.fixed_dir(str(tmp_path / "missing")) == (str(tmp_path / "missing"), None)


def test_pid_namespace_only_where_unshare_works(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    from greenbench.meters.counted import valgrind as V

    monkeypatch.setattr(V.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(V.sys, "platform", "linux")
    calls: list[list[str]] = []

    def refused(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[bytes]:
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, b"", b"unshare: unshare failed: Operation not permitted")

    monkeypatch.setattr(V.subprocess, "run", refused)
    monkeypatch.delenv(V.NO_NAMESPACE_ENV, raising=False)
    assert V.pid_namespace_prefix() == []  # a container without CAP_SYS_ADMIN: the run goes on without it
    monkeypatch.setattr(V.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 0, b"", b""))
    assert V.pid_namespace_prefix() == ["/usr/bin/unshare", "--pid", "--fork", "--mount-proc"]
    monkeypatch.setenv(V.NO_NAMESPACE_ENV, "1")
    assert V.pid_namespace_prefix() == []
    assert calls and calls[0][:4] == ["/usr/bin/unshare", "--pid", "--fork", "--mount-proc"]

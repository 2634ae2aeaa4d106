"""Per-function costs of counted rounds (greenbench.meters.counted.profile) and Python-level counts
(greenbench.meters.counted.pyprofile)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from greenbench.errors import ConfigError, DataError
from greenbench.meters.counted import energy_model as CM
from greenbench.meters.counted import profile as P
from greenbench.meters.counted import pyprofile as PP

EVENTS = "Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw"

#: a hand-written dump in callgrind's format: name compression, relative positions, calls with inclusive
#: costs, an inlined file, a call into another object (cob=), self-recursion and a recursion-level name ('2)
DUMP = f"""# callgrind format
version: 1
creator: test
positions: line
events: {EVENTS}

ob=(1) /usr/lib/libfoo.so.1
fl=(1) /build/tmp/src/foo.c
fn=(1) main_loop
10 100 10 5
+2 50 5
cfl=(1)
cfn=(2) helper
calls=3 20
12 300 30 10 1 0 0 1
cob=(2) /lib/x86_64-linux-gnu/libc.so.6
cfl=(3) ./string/memcpy.S
cfn=(3) __memcpy_avx
calls=1 0
* 40 4 4 0 2 0 0 1
fn=(2)
20 290 28 9 1
fi=(4) /build/tmp/src/inl.h
5 10 2 1
fe=(1)
cfn=(2)
calls=1 20
21 77
fn=(5) helper'2
30 6

ob=(2)
fl=(3)
fn=(3)
7 40 4 4 0 2 0 0 1

totals: 506 53 23 1 2 0 0 1 0
"""


def test_parse_self_inclusive_names_and_lines() -> None:
    events, funcs = P.parse_functions(DUMP)
    assert events == EVENTS.split()
    main = funcs[("/usr/lib/libfoo.so.1", "main_loop")]
    assert main.self_cost[:3] == [150, 15, 5] and main.line == 10 and main.file == "/build/tmp/src/foo.c"
    # calls made: helper (300 Ir) and memcpy in libc (40 Ir): inclusive cost of the calls
    assert main.call_cost[0] == 340
    helper = funcs[("/usr/lib/libfoo.so.1", "helper")]
    # own lines + the inlined header's line (cost stays with the function; its line is not the function's)
    assert helper.self_cost[0] == 300 and helper.line == 20
    assert not helper.call_cost or helper.call_cost[0] == 0, "a direct self-recursive call is not added again"
    memcpy = funcs[("/lib/x86_64-linux-gnu/libc.so.6", "__memcpy_avx")]
    assert memcpy.self_cost[0] == 40 and memcpy.line == 7


def test_build_converts_with_the_coefficients_and_sums_to_the_total() -> None:
    prof = P.build([DUMP], iterations=2)
    fns = P.functions(prof)
    # "helper'2" (callgrind's recursion level) is merged into helper; objects by basename; paths shortened
    names = [f.name for f in fns]
    assert names.count("helper") == 1 and "helper'2" not in names
    helper = next(f for f in fns if f.name == "helper")
    assert helper.obj == "libfoo.so.1" and helper.where == "src/foo.c:20"
    # per call: the dump's counts / 2, priced by the same model as the benchmark's total
    expected = CM.energy_j({"instructions": 306, "data_reads": 30, "data_writes": 10, "l1i_misses": 1}) / 2
    assert helper.energy_j == pytest.approx(expected, rel=2e-3)
    total = sum(f.energy_j for f in fns) + sum(prof["other_self_j"])
    assert total == pytest.approx(prof["energy_j"], rel=5e-3)
    assert prof["listed_share"] >= P.COVERAGE and prof["level"] == "native" and prof["estimated"] is True
    main = next(f for f in fns if f.name == "main_loop")
    assert main.incl_j > main.energy_j and main.incl_j <= prof["energy_j"] * 1.001
    # the per-class split sums to the self energy
    assert sum(main.split) == pytest.approx(main.energy_j, rel=1e-2)


def test_build_keeps_the_top_functions_and_sums_the_rest() -> None:
    lines = [f"events: {EVENTS}", "ob=(1) /lib/x.so"]
    for i in range(50):
        lines += [f"fn=({i + 1}) f{i}", f"1 {1000 - 10 * i}"]
    text = "\n".join(lines) + "\n"
    prof = P.build([text], coverage=0.5, most=40)
    fns = P.functions(prof)
    assert [f.name for f in fns][:3] == ["f0", "f1", "f2"]
    assert 0.5 <= prof["listed_share"] < 0.6 and sum(prof["other_self_j"]) > 0
    assert len(P.functions(P.build([text], coverage=1.0, most=7))) == 7


@pytest.mark.parametrize("text, match", [
    ("fn=(1) a\n1 2\n", "cost line before 'events:'"),
    (f"events: {EVENTS}\nfn=(7)\n1 2\n", r"compressed name \(7\) used before"),
    (f"events: {EVENTS}\nfn=(1) a\n1 x\n", "bad cost line"),
    ("nothing here\n", "no 'events:' line"),
])
def test_parse_refuses_bad_dumps(text: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        P.parse_functions(text, "dump")


@pytest.mark.parametrize("profile, match", [
    ([], "expected an object"),
    ({"functions": ["a\t0\tx\t1\t1\t1 2 3 4"]}, "expected 'rows' and 'objects'"),
    ({"rows": 5, "energy_j": 1.0}, r"profile.rows: expected a string"),
    ({"rows": "1,,,0,,a", "objects": ["o"], "energy_j": 1.0}, r"profile.objects: expected a ';'-separated string"),
    ({"rows": "1,,,0,,a", "objects": "o", "energy_j": "x"}, r"profile.energy_j: 'x' is not a number"),
    ({"rows": "1,,,0", "objects": "o", "energy_j": 1.0}, r"rows\[0\]: expected 6 comma-separated"),
    ({"rows": "1,,,0,,a;1,,,3,,b", "objects": "o", "energy_j": 1.0}, r"rows\[1\]: list index"),
    ({"rows": "1,,,0,2:5,a", "objects": "o", "files": "f.c", "energy_j": 1.0}, r"rows\[0\]"),
    ({"rows": "-1,,,0,,a", "objects": "o", "energy_j": 1.0}, r"rows\[0\]: '-1' is not a finite number >= 0"),
    ({"rows": "1,,1/2/3/4/5,0,,a", "objects": "o", "energy_j": 1.0}, "at most 4 permille"),
    ({"objects": ["o"], "functions": ["a\t0\tx"]}, r"functions\[0\]: expected 6 tab-separated"),
    ({"objects": ["o"], "functions": ["a\t5\tx\t1\t1\t1 2 3 4"]}, r"functions\[0\]"),
    ({"objects": ["o"], "functions": ["a\t0\tx\tnan\t1\t1 2 3 4"]}, "not a finite number"),
    ({"objects": ["o"], "functions": ["a\t0\tx\t1\t1\t1 2"]}, "4 permille shares"),
])
def test_stored_profile_is_checked(profile: Any, match: str) -> None:
    with pytest.raises(DataError, match=match):
        P.functions(profile, "profile")


def test_format_2_is_compact_and_reads_back() -> None:
    """Format 2: one string of rows, energies in 10^-5 of the total, names may hold commas, ';' never breaks a row,
    code without a symbol summed per object, and format 1 (one tab-separated string per function) still read."""
    lines = [f"events: {EVENTS}", "ob=(1) /lib/x.so", "fl=(1) /src/a/b/x.c",
             "fn=(1) tmpl<int, long>::run(int, char)", "10 5000 10", "fn=(2) odd;name", "11 3000",
             "fn=(3) 0x000000000401000", "1 1000", "fn=(4) 0x000000000402000", "1 1000"]
    prof = P.build(["\n".join(lines) + "\n"], coverage=1.0)
    assert prof["format"] == P.FORMAT and isinstance(prof["rows"], str) and prof["objects"] == "x.so"
    fns = {f.name: f for f in P.functions(prof)}
    assert set(fns) == {"tmpl<int, long>::run(int, char)", "odd:name", P.NO_SYMBOL}
    assert fns[P.NO_SYMBOL].energy_j == pytest.approx(2 * fns["odd:name"].energy_j / 3, rel=1e-3)
    assert fns["tmpl<int, long>::run(int, char)"].where == "b/x.c:10"
    assert sum(f.energy_j for f in fns.values()) == pytest.approx(prof["energy_j"], rel=1e-4)
    assert "capped" not in prof
    capped = P.build(["\n".join(lines) + "\n"], coverage=1.0, most=1)
    assert capped["capped"] == "2 more functions before 100% (at most 1 kept)" and capped["listed_share"] < 1
    old = {"objects": ["o"], "functions": ["a\t0\tx.c:3\t2e-06\t3e-06\t500 500 0 0"]}
    (fn,) = P.functions(old)
    assert (fn.name, fn.obj, fn.where, fn.energy_j, fn.incl_j) == ("a", "o", "x.c:3", 2e-6, 3e-6)


def test_meter_keeps_each_window_and_the_lowest_round_is_taken(tmp_path: Path) -> None:
    cheap = DUMP.replace("fn=(5) helper'2\n30 6", "fn=(5) helper'2\n30 1")
    meter = SimpleNamespace(coefficients=CM.DEFAULT)
    ms = []
    for i, (text, energy) in enumerate(((DUMP, 2.0), (cheap, 1.0), (DUMP, 3.0))):
        (tmp_path / f"kept.{i}.cg").write_text(text)
        meter.dump_files = [tmp_path / f"kept.{i}.cg"]
        m = SimpleNamespace(energy_j=energy)
        P.keep(meter, m)
        ms.append(m)
        assert meter.dump_files == []
    records = [SimpleNamespace(measurement=m, iterations=1) for m in ms]
    prof = P.take(meter, records)
    assert prof is not None and prof == P.build([cheap])
    assert P.take(meter, records) is None, "taken once: the meter forgets the benchmark's dumps"


def test_keep_is_switched_off_by_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(P.PROFILE_ENV, "0")
    dump = tmp_path / "kept.1.cg"
    dump.write_text(DUMP)
    meter = SimpleNamespace(dump_files=[dump])
    P.keep(meter, SimpleNamespace(energy_j=1.0))
    assert not getattr(meter, "_gb_profiles", None) and not dump.exists()


class FakeCallgrind:
    """The client-request shim: every request a no-op, each dump request writes :data:`DUMP` where callgrind would."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir

    def __getattr__(self, name: str) -> Any:
        return lambda *a: None

    def gb_dump_stats_at(self, name: bytes) -> None:
        (self.out_dir / f"cg.{os.getpid()}.1").write_text(DUMP)


def test_the_counted_meter_keeps_its_dumps(tmp_path: Path) -> None:
    from greenbench.meters import counted as C

    meter = C.CountedMeter(CM.DEFAULT, lib=FakeCallgrind(tmp_path), out_dir=tmp_path)
    meter.start()
    m = meter.stop()
    # the dump stays on disk, not in the process, until the benchmark's profile is taken (issue #20)
    assert meter.dump_files == [] and [p.name for p in tmp_path.iterdir()] == [
        f"kept.{os.getpid()}.1.cg"]
    meter.start()
    m2 = meter.stop()  # a second window: both kept, each beside its measurement
    assert len(list(tmp_path.iterdir())) == 2
    prof = P.take(meter, [SimpleNamespace(measurement=m, iterations=1), SimpleNamespace(measurement=m2, iterations=1)])
    assert prof is not None and {f.name for f in P.functions(prof)} >= {"main_loop", "helper", "__memcpy_avx"}
    assert not list(tmp_path.iterdir()), "taken: the kept dumps are removed"


def test_the_counted_meter_keeps_no_dump_with_the_profile_off(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from greenbench.meters import counted as C

    monkeypatch.setenv(P.PROFILE_ENV, "0")

    meter = C.CountedMeter(CM.DEFAULT, lib=FakeCallgrind(tmp_path), out_dir=tmp_path)
    meter.start()
    assert meter.stop().energy_j > 0 and not list(tmp_path.iterdir())


# -- Python level ---------------------------------------------------------------------------------------

def key(x: int) -> int:
    return -x


def sort_with_key(values: list[int]) -> list[int]:
    return sorted(values, key=key)


def test_python_counts_are_deterministic_and_name_functions() -> None:
    a = PP.count(sort_with_key, ([3, 1, 2] * 10,))
    assert a == PP.count(sort_with_key, ([3, 1, 2] * 10,)), "same code, same counts"
    rows = {r[0]: r for r in PP.rows(a)}
    k = rows[f"{__name__}.key"]
    assert k[2] == 30 and k[4] > 0 and k[1].endswith("test_profile.py:" + str(key.__code__.co_firstlineno))
    assert rows["builtins.sorted"][1:] == ("", 1, 0, 0), "C functions: calls only"
    assert a["level"] == "python" and a["bytecodes"] == sum(r[4] for r in rows.values())


def test_python_counts_restore_existing_hooks() -> None:
    import sys

    seen: list[str] = []

    def tracer(frame: Any, event: str, arg: Any) -> None:
        seen.append(event)

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        PP.count(sort_with_key, ([1],))
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(old)


def test_python_mode_and_flagging(monkeypatch: pytest.MonkeyPatch) -> None:
    assert PP.mode({}) == "flagged" and PP.mode({PP.MODE_ENV: "all"}) == "all" and PP.mode({PP.MODE_ENV: "off"}) == "0"
    with pytest.raises(ConfigError, match=PP.MODE_ENV):
        PP.mode({PP.MODE_ENV: "sometimes"})
    base = {"extra_info": {"energy": {"rounds_j": [1.0, 1.1]}}}
    assert PP.flagged({"rounds_j": [1.2]}, base, 0.1)
    assert not PP.flagged({"rounds_j": [1.05]}, base, 0.1)
    assert not PP.flagged({"rounds_j": [1.2]}, None, 0.1), "no baseline: nothing to flag"
    fixture = SimpleNamespace(fullname="t", _gb_call=(sort_with_key, ([2, 1],), {}))
    monkeypatch.setenv(PP.MODE_ENV, "all")
    got = PP.maybe_count(fixture, {"rounds_j": [1.0]})
    assert got is not None and any(r[0].endswith(".key") for r in PP.rows(got))
    monkeypatch.setenv(PP.MODE_ENV, "flagged")
    assert PP.maybe_count(fixture, {"rounds_j": [1.0]}) is None, "flagged mode, no baseline: not run"


def test_python_rows_are_checked() -> None:
    with pytest.raises(DataError, match=r"functions\[0\]: expected 5"):
        PP.rows({"functions": ["a\tb\tx\t1\t2"]}, "python")


def test_the_traced_call_runs_apart_and_changes_nothing_here() -> None:
    seen: list[int] = []

    def mutating(values: list[int]) -> None:
        values.append(1)
        sort_with_key([3, 2, 1])

    got = PP.count_isolated(mutating, (seen,))
    assert seen == [], "the extra call ran in a child process: the benchmark's argument is untouched"
    assert any(r[0].endswith(".key") and r[2] == 3 for r in PP.rows(got))
    assert PP.count_isolated(sort_with_key, ([2, 1],)) == PP.count(sort_with_key, ([2, 1],))

    def boom() -> None:
        raise ValueError("bad input")

    assert PP.count_isolated(boom)["error"] == "ValueError: bad input"


def _run_doc() -> dict[str, Any]:
    lines = [f"events: {EVENTS}", "ob=(1) /usr/lib/libpython3.11.so", "fl=(1) /src/Python/ceval.c",
             "fn=(1) _PyEval_EvalFrameDefault", "10 5000 10", "fn=(2) list_sort_impl", "11 3000"]
    p1 = P.build(["\n".join(lines) + "\n"], coverage=1.0)
    p2 = P.build(["\n".join([*lines, "fn=(3) tmpl<a, b>::f", "1 900"]) + "\n"], coverage=1.0)
    return {"greenbench": {"schema_version": 1}, "benchmarks": [
        {"fullname": f"t.py::t{i}", "extra_info": {"energy": {"profile": p, "total_j": 1.0}, "other": i}}
        for i, p in enumerate((p1, p2))] + [{"fullname": "t.py::none", "extra_info": {}}]}


def test_a_saved_run_shares_one_name_table_and_reads_back_whole() -> None:
    import copy
    import json

    doc = _run_doc()
    fixtures = [b["extra_info"] for b in doc["benchmarks"]]
    before = copy.deepcopy(doc)
    P.compress_run(doc)
    table = doc["greenbench"][P.RUN_STRINGS].split(";")
    # each name once for the run, the shared ones first; the fixtures' own extra_info untouched
    assert set(table[:4]) == {"_PyEval_EvalFrameDefault", "list_sort_impl", "Python/ceval.c", "libpython3.11.so"}
    assert table[4:] == ["tmpl<a, b>::f"]
    assert fixtures[0] == before["benchmarks"][0]["extra_info"] and "strings" not in fixtures[0]["energy"]["profile"]
    assert doc["benchmarks"][1]["extra_info"]["energy"]["profile"]["strings"] == "run"
    with pytest.raises(DataError, match=r"greenbench\.profile_strings; read the file with greenbench\.results\.load"):
        P.functions(doc["benchmarks"][0]["extra_info"]["energy"]["profile"])
    assert "_PyEval" not in json.dumps(doc["benchmarks"])  # the names live in the table only (the sizes: the bench)
    P.expand_run(doc)
    assert doc == {**before, "greenbench": doc["greenbench"]}
    assert [f.name for f in P.functions(doc["benchmarks"][1]["extra_info"]["energy"]["profile"])][-1] == "tmpl<a, b>::f"
    P.expand_run(doc)  # already whole: nothing to do
    assert doc == {**before, "greenbench": doc["greenbench"]}


def test_a_saved_run_with_a_bad_name_index_is_one_line(tmp_path: Path) -> None:
    import json

    from greenbench import results as R

    doc = _run_doc()
    P.compress_run(doc)
    prof = doc["benchmarks"][1]["extra_info"]["energy"]["profile"]
    prof["rows"] = prof["rows"].rsplit(",", 1)[0] + ",99"
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=r"run.json: t.py::t1: profile.rows\[2\]: '99' is not an index into "
                                        r"greenbench.profile_strings \(5 names\)"):
        R.load(path)
    doc["greenbench"][P.RUN_STRINGS] = 3
    with pytest.raises(DataError, match=r"greenbench\.profile_strings: expected a ';'-separated string"):
        P.expand_run(doc, "f")

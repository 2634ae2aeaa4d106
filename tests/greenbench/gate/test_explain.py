"""Where a counted benchmark's energy moved (greenbench.gate.explain): diffs, the gate's note, reports, the CLI."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from fakes import make_entry

from greenbench import gate
from greenbench.gate import explain as X
from greenbench.meters.counted import profile as P
from greenbench.meters.counted import pyprofile as PP

EVENTS = "Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw"
COUNTS = {"instructions": 1000, "data_reads": 300, "data_writes": 200}


def dump(funcs: dict[str, tuple[int, int, int]]) -> str:
    """A callgrind dump: function -> (instructions, data reads, DRAM read lines), all in libx.so."""
    lines = [f"events: {EVENTS}", "ob=(1) /usr/lib/libx.so", "fl=(1) /src/x.c"]
    for i, (name, (ir, dr, dram)) in enumerate(funcs.items()):
        lines += [f"fn=({i + 1}) {name}", f"{10 * (i + 1)} {ir} {dr} 0 0 0 0 0 {dram}"]
    return "\n".join(lines) + "\n"


BASE = {"quicksort": (500_000, 100_000, 0), "partition": (300_000, 80_000, 0), "memcpy": (100_000, 50_000, 10),
        "harness": (20_000, 4_000, 0)}


def block(funcs: dict[str, tuple[int, int, int]], py: dict[str, Any] | None = None) -> dict[str, Any]:
    prof = P.build([dump(funcs)])
    if py is not None:
        prof["python"] = py
    return {"profile": prof, "rounds_j": [prof["energy_j"]] * 3}


def test_unchanged_lists_nothing() -> None:
    ex = X.explain_blocks(block(BASE), block(BASE))
    assert ex.empty and X.lines(ex) == ["no function moved by more than 0.5% of the benchmark's energy"]


def test_the_changed_function_comes_first_with_the_class_that_moved() -> None:
    worse = {**BASE, "partition": (450_000, 80_000, 0)}
    ex = X.explain_blocks(block(BASE), block(worse))
    assert [c.name for c in ex.native] == ["partition"]
    ch = ex.native[0]
    assert ch.delta > 0 and ch.obj == "libx.so" and ch.where == "src/x.c:20"
    assert ch.moved.startswith("instructions +") and ch.rel == pytest.approx(
        (450_000 * 70 + 80_000 * 20) / (300_000 * 70 + 80_000 * 20) - 1, rel=1e-2)
    # a memory-bound change names the DRAM lines
    ex = X.explain_blocks(block(BASE), block({**BASE, "memcpy": (100_000, 50_000, 200)}))
    assert ex.native[0].name == "memcpy" and ex.native[0].moved.startswith("DRAM lines +")


def test_a_new_function_is_marked_new_and_ranked_by_its_energy() -> None:
    ex = X.explain_blocks(block(BASE), block({**BASE, "key_wrapper": (400_000, 10_000, 0)}))
    assert ex.native[0].name == "key_wrapper" and ex.native[0].status == "new"
    assert "new" in X.lines(ex)[1]


def test_python_level_diff_names_the_new_python_function() -> None:
    def py(rows: list[str], total: int) -> dict[str, Any]:
        return {"functions": rows, "bytecodes": total}

    base = py(["m.sort_words\tm.py:3\t1\t2\t7", "builtins.sorted\t\t1\t0\t0"], 7)
    cur = py(["m.key\tm.py:1\t300\t300\t600", "m.sort_words\tm.py:3\t1\t2\t9", "builtins.sorted\t\t1\t0\t0"], 609)
    ex = X.explain_blocks(block(BASE, base), block(BASE, cur))
    assert [c.name for c in ex.python] == ["m.key", "m.sort_words"] and ex.python[0].status == "new"
    assert "calls 0 -> 300" in ex.python[0].moved
    copied = py(["m.work\tm.py:9\t1\t2\t13", "numpy.ndarray.copy\t\t1\t0\t0"], 13)
    ex = X.explain_blocks(block(BASE, py(["m.work\tm.py:9\t1\t2\t8"], 8)), block(BASE, copied))
    assert [c.name for c in ex.python] == ["m.work", "numpy.ndarray.copy"]
    # only this run has the Python level: one line says what is missing and how to get it, nothing invented
    ex = X.explain_blocks(block(BASE), block(BASE, cur))
    assert not ex.python and ex.notes == [
        "no Python-level diff: the baseline has no Python-level profile; save the baseline with "
        "GREENBENCH_PYPROFILE=all (e.g. `GREENBENCH_PYPROFILE=all pytest --energy-meter=counted "
        "--benchmark-autosave`); the gate's run adds its own for each flagged benchmark"]
    assert X.lines(ex)[-1] == f"({ex.notes[0]})"
    ex = X.explain_blocks(block(BASE, base), block(BASE))
    assert ex.notes[0].startswith("no Python-level diff: this run has no Python-level profile")
    ex = X.explain_blocks(block(BASE, {"level": "python", "error": "TypeError: boom"}), block(BASE, cur))
    assert ex.notes == ["no Python-level diff: the baseline's Python-level pass failed: TypeError: boom"]


def test_no_profile_is_said_not_guessed() -> None:
    ex = X.explain_blocks({"rounds_j": [1.0]}, block(BASE))
    assert ex.empty and "no per-function profile in the baseline" in ex.notes[0]


def _entry(name: str, b: dict[str, Any], scale: float) -> dict[str, Any]:
    e = make_entry(name, [scale] * 5, source="counted", counts={k: round(v * scale) for k, v in COUNTS.items()})
    e["extra_info"]["energy"]["profile"] = b["profile"]
    return e


def test_gate_regression_names_where_and_reports_render_it() -> None:
    worse = {**BASE, "partition": (450_000, 80_000, 0)}
    base, cur = _entry("t_where", block(BASE), 1.0), _entry("t_where", block(worse), 1.2)
    v = gate.compare_entries(base, cur, gate.GateRule.parse("5%"))
    assert v.verdict == "regression"
    assert "where (native): partition (libx.so) +" in v.reason
    ok = gate.compare_entries(_entry("t_same", block(BASE), 1.0), _entry("t_same", block(BASE), 1.0),
                              gate.GateRule.parse("5%"))
    assert ok.verdict == "ok" and "where" not in ok.reason
    assert X.terminal_lines(v)[1].lstrip().startswith("1. partition (libx.so, src/x.c:20)")
    assert X.terminal_lines(ok) == []
    from greenbench.outputs import html as htmlreport
    from greenbench.outputs import summary

    md = summary.render([v, ok], [cur], {"bench/test_x.py::t_where": base}, rule=gate.GateRule.parse("5%"))
    assert "**Where `bench/test_x.py::t_where` moved**" in md and "| 1 | native | `partition` |" in md
    assert "t_same` moved" not in md
    page = htmlreport.verdicts_html([v, ok], [cur]) + X.html_section([v, ok])
    assert '<table class="where">' in page and "<td class=\"name\">partition</td>" in page


def test_html_has_a_self_contained_icicle_of_the_change() -> None:
    worse = {**BASE, "partition": (450_000, 80_000, 0)}
    ex = X.explain_blocks(block(BASE), block({k: v for k, v in worse.items() if k != "harness"}))
    page = X.html_table("bench/t.py::t_where", ex)
    svg = page[page.index("<svg"):page.index("</svg>")]
    # inline SVG only: no script, no style attribute (the report's CSP allows neither), no external reference
    assert "<script" not in svg and "style=" not in svg and "href" not in svg and "http://www.w3.org/2000/svg" in svg
    # the benchmark, its object, its functions; the grown one red, unchanged ones grey, the dropped one named
    assert ">t_where</text>" in svg and ">libx.so</text>" in svg and ">partition</text>" in svg
    part = svg[svg.rindex("<g>", 0, svg.index(">partition</text>")):svg.index(">partition</text>")]
    assert 'fill="hsl(0,' in part and "partition (libx.so" not in part
    assert "<title>partition: " in part and "(+" in part and "estimated" in part
    quick = svg[svg.rindex("<g>", 0, svg.index(">quicksort</text>")):svg.index(">quicksort</text>")]
    assert 'fill="#dddddd"' in quick
    assert "not kept by this run" in page and "harness (libx.so)" in page
    assert len(svg) < 4000
    assert X.icicle_svg("x", X.Explanation()) == ""


def test_gate_one_liner_says_the_python_level_is_missing() -> None:
    py = {"functions": ["m.key\tm.py:1\t300\t300\t600"], "bytecodes": 600}
    note = X.verdict_note("t", block(BASE), block({**BASE, "partition": (450_000, 80_000, 0)}, py))
    assert note.startswith("where (native): partition (libx.so) +")
    assert note.endswith("; no Python-level diff: the baseline has no Python-level profile; " + X.HOW_PYTHON)
    assert "\n" not in note


def test_html_escapes_names() -> None:
    ex = X.Explanation(native=[X.Change("native", "operator<<(x&)", "lib<b>.so", "", 1.0, 2.0, "instructions +1%")])
    page = X.html_table("t<script>", ex)
    assert "<script>" not in page and "operator&lt;&lt;(x&amp;)" in page


def _run(tmp: Path, name: str, funcs: dict[str, tuple[int, int, int]], scale: float) -> Path:
    doc = {"machine_info": {}, "commit_info": {}, "benchmarks": [
        _entry("test_sort", block(funcs), scale), _entry("test_same", block(BASE), 1.0)]}
    path = tmp / name
    path.write_text(json.dumps(doc))
    return path


def test_cli_explains_two_saved_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from greenbench.__main__ import main

    a = _run(tmp_path, "a.json", BASE, 1.0)
    b = _run(tmp_path, "b.json", {**BASE, "quicksort": (900_000, 100_000, 0)}, 1.4)
    assert main(["explain", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "bench/test_x.py::test_sort:" in out and "1. quicksort (libx.so, src/x.c:10)" in out
    assert "bench/test_x.py::test_same:" in out and "no function moved" in out
    assert main(["explain", str(a), str(b), "-k", "test_same"]) == 0
    assert "quicksort" not in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["only-one.json"], "expected two saved runs"),
    (["A", "B", "--top", "0"], "--top '0': expected a whole number"),
    (["A", "B", "--floor", "x"], "--floor 'x': expected a percentage"),
    (["A", "B", "-k"], "-k needs a value"),
    (["A", "B", "--what"], "unknown option '--what'"),
    (["missing.json", "B"], "missing.json"),
    (["A", "B", "-k", "nothing-like-it"], "no benchmark matching -k 'nothing-like-it'"),
])
def test_cli_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                   message: str) -> None:
    a = _run(tmp_path, "a.json", BASE, 1.0)
    args = [str(a) if x in ("A", "B") else x for x in args]
    assert X.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and err.startswith("error:")


needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None or not os.path.isfile(
    "/usr/include/valgrind/callgrind.h"), reason="needs valgrind and valgrind/callgrind.h")


@pytest.mark.slow
@pytest.mark.serial
@needs_valgrind
def test_end_to_end_a_planted_key_function_is_named(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_w="""
        import os
        KEY = os.environ.get("PLANT_KEY") == "1"
        def keyfn(x):
            return x
        def sort_words(words):
            return sorted(words, key=keyfn) if KEY else sorted(words)
        def test_sort(benchmark):
            benchmark(sort_words, [str((i * 7919) % 1000) for i in range(200)])
        def test_same(benchmark):
            benchmark(sum, range(300))
    """)
    args = ("--energy-meter=counted", "-p", "no:cacheprovider", "-p", "no:randomly")
    os.environ[PP.MODE_ENV] = "all"
    try:
        r = pytester.runpytest_subprocess(*args, "--benchmark-autosave")
        assert r.ret == 0, r.stdout.str()
        os.environ["PLANT_KEY"] = "1"
        r = pytester.runpytest_subprocess(*args, "--benchmark-compare", "--energy-compare-fail=5%",
                                          "--energy-summary=summary.md")
    finally:
        os.environ.pop("PLANT_KEY", None)
        os.environ.pop(PP.MODE_ENV, None)
    out = r.stdout.str()
    assert r.ret == 1, out
    lines = out.splitlines()
    i = lines.index("    Python level (counts of one extra traced call):")
    assert lines[i + 1].startswith("      1. test_w.keyfn (test_w.py:"), out
    assert "test_w.py::test_same: regression" not in out
    md = (pytester.path / "summary.md").read_text()
    assert "| python | `test_w.keyfn` |" in md and "test_same` moved" not in md


def test_interpreter_functions_point_to_the_python_level() -> None:
    def interp(funcs: dict[str, tuple[int, int, int]]) -> dict[str, Any]:
        b = block(funcs)
        b["profile"]["objects"] = "libpython3.11.so.1.0"
        return b

    ex = X.explain_blocks(interp(BASE), interp({**BASE, "quicksort": (900_000, 100_000, 0)}))
    assert ex.notes == ["no Python-level diff: the interpreter's own functions moved most (the change is in Python "
                        "code) and neither run has a Python-level profile; " + X.HOW_PYTHON]
    ex = X.explain_blocks(block(BASE), block({**BASE, "quicksort": (900_000, 100_000, 0)}))
    assert not ex.notes

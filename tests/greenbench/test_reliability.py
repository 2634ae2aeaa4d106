"""Issue #21, second reliability pass: results never thrown away, no figure a meter did not measure,
text that stays text; issue #23: outputs that will not be written say so.

Unit and hypothesis tests run anywhere; the pytester ones (``slow``/``serial``) run real pytest in
subprocesses.  No test depends on wall-clock spacing: the hanging meter is stopped by greenbench's
own alarm, whatever the load; stuck counters are decided on the windows' own figures.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from fakes import make_entry
from hypothesis import given, settings
from hypothesis import strategies as st

from greenbench import gate
from greenbench import results as R
from greenbench.errors import ConfigError, DataError, MeterError
from greenbench.io import atomic
from greenbench.io.text import md_code, md_text, plain
from greenbench.meters import Measurement, MeterBase, get_meter
from greenbench.meters.auto import CheckedMeter
from greenbench.meters.base import never_moved
from greenbench.outputs import html as htmlreport
from greenbench.plugin.recorder import RoundRecorder

if sys.platform != "linux":  # pragma: no cover - locks, /proc and signals as on Linux
    pytestmark = pytest.mark.skip(reason="Linux only")


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    return text


# --------------------------------------------------------------------------- one validation of saved energy

def doc_with(**energy: Any) -> dict[str, Any]:
    entry = make_entry("test_a", [1.0, 1.1, 0.9])
    entry["extra_info"]["energy"].update(energy)
    return {"benchmarks": [entry], "greenbench": {"schema_version": R.SCHEMA_VERSION}}


BAD_BLOCKS = [
    ({"estimated": None}, "estimated is None"),
    ({"estimated": "yes"}, "estimated is 'yes'"),
    ({"source": "model", "estimated": False}, "estimated is false for source 'model'"),
    ({"source": "rapl+counted", "estimated": False}, "estimated is false"),
    ({"per_call_j": {"median": -1.0, "min": 0.5}}, "per_call_j.median is negative"),
    ({"per_call_j": {"median": "1.0"}}, "per_call_j.median is str"),
    ({"per_call_j": {"median": True}}, "per_call_j.median is bool"),
    ({"per_call_j": {"median": float("nan")}}, "per_call_j.median is nan"),
    ({"per_call_j": "1 J"}, "per_call_j is str"),
    ({"power_w": -3.0}, "power_w is negative"),
    ({"co2e_g": "lots"}, "co2e_g is str"),
    ({"rounds_j": [1.0, "x"]}, "rounds_j[1] is str"),
    ({"clean_j": {"min": -0.1}}, "clean_j.min is negative"),
]


@pytest.mark.parametrize("change, message", BAD_BLOCKS)
def test_results_file_with_a_bad_energy_field_is_refused_by_name(tmp_path: Path, change: dict[str, Any],
                                                                 message: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc_with(**change)))
    with pytest.raises(DataError) as info:
        R.load(path)
    text = one_line(info.value)
    assert message in text and "extra_info.energy." in text and "test_a" in text


def test_sound_blocks_pass_and_hardware_may_say_false(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc_with(source="rapl", estimated=False)))
    assert R.load(path)["benchmarks"][0]["extra_info"]["energy"]["estimated"] is False
    golden = Path(__file__).with_name("golden_results.json")
    R.load(golden)  # the shipped golden file (schema 1 and 2 entries) is sound


@pytest.mark.parametrize("change, message", BAD_BLOCKS)
def test_gate_skips_a_bad_baseline_entry_naming_the_field(change: dict[str, Any], message: str) -> None:
    good = make_entry("test_a", [1.0, 1.1, 0.9])
    bad = copy.deepcopy(good)
    bad["extra_info"]["energy"].update(change)
    verdict = gate.compare_entries(bad, good, gate.GateRule.parse("10%"))
    assert verdict.verdict == "skipped" and message in verdict.reason and "baseline" in verdict.reason


@pytest.mark.parametrize("change, message", BAD_BLOCKS[:3])
def test_greensim_results_go_through_the_same_validation(tmp_path: Path, change: dict[str, Any],
                                                         message: str) -> None:
    from greensim.scenario import read_benchmark_energy

    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc_with(**change)))
    with pytest.raises(DataError, match=re.escape(message)):
        read_benchmark_energy(path, "test_a")


@pytest.mark.parametrize("command", ["report", "export"])
def test_report_and_export_refuse_a_bad_file_in_one_line(tmp_path: Path, command: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from greenbench.outputs import exports, report

    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc_with(estimated=None)))
    if command == "report":
        rc = report.main([str(path), "--out", str(tmp_path / "rep")])
    else:
        rc = exports.main(["bencher", str(path)])
    err = capsys.readouterr().err
    assert rc == 2 and "estimated is None" in err and err.count("\n") == 1
    assert not (tmp_path / "rep").exists()


@pytest.mark.parametrize("greenbench_info", [["a"], "rapl", 3, {"meter": "rapl"}, {"meter": {"source": 7}}])
def test_baseline_machine_info_that_is_not_a_mapping_is_named(greenbench_info: Any) -> None:
    from greenbench.plugin.session import baseline_problem

    doc = {"benchmarks": [], "machine_info": {"greenbench": greenbench_info}}
    problem = baseline_problem(doc, "baseline 0001.json")
    assert problem is not None and "machine_info.greenbench" in problem and "\n" not in problem


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(["estimated", "source", "per_call_j", "power_w", "co2e_g", "rounds_j",
                                        "clean_j", "total_j", "domains_j"]),
                       st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
                                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c,
                                                                                        max_size=3),
                                    max_leaves=6)))
def test_any_block_is_sound_or_refused_in_one_line_never_shown_wrong(change: dict[str, Any]) -> None:
    entry = make_entry("test_a", [1.0, 1.1, 0.9])
    entry["extra_info"]["energy"].update(change)
    try:
        R.check_output({"benchmarks": [entry]}, "r.json")
    except DataError as exc:
        one_line(exc)
        return
    # accepted: every figure a reader shows is a finite number >= 0, and estimated is a real bool
    e = R.energy(entry)
    assert e is not None and isinstance(e.get("estimated", True), bool)
    for stat in ("median", "min"):
        v = R.energy_j(entry, stat)
        assert math.isnan(v) or (math.isfinite(v) and v >= 0)  # NaN only for a missing statistic (shown as '-')
    if e.get("estimated") is False:
        assert not set(str(e.get("source")).split("+")) & R.ESTIMATED_SOURCES


# --------------------------------------------------------------------------- text is text

def markdown_cells(md: str) -> list[list[str]]:
    """Rendered table cells (text) of a Markdown table, as GitHub-flavoured readers see them."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(md)
    rows: list[list[str]] = []
    for i, tok in enumerate(tokens):
        if tok.type == "tr_open":
            rows.append([])
        if tok.type == "inline" and i > 0 and tokens[i - 1].type in ("td_open", "th_open"):
            rows[-1].append("".join(c.content for c in (tok.children or []) if c.type in ("text", "code_inline")))
    return rows


def html_of(md: str) -> str:
    from markdown_it import MarkdownIt

    return str(MarkdownIt("commonmark", {"html": True}).enable("table").render(md))


HOSTILE_IDS = ["test_x[a|b]", "test_`tick`", "test_``double``|x", "`", "test_<script>alert(1)</script>",
               "test_\x1b]8;;http://evil\x07link\x1b]8;;\x07", "test_\x1b[31mred", "a\nb|c", "*bold* _it_ [l](u)",
               "<img src=x onerror=alert(1)>", "test_&amp;", "\u202etxt"]


@pytest.mark.parametrize("text", HOSTILE_IDS)
def test_code_span_in_a_table_cell_is_the_text_itself(text: str) -> None:
    md = f"| a | b |\n|---|---|\n| {md_code(text)} | {md_text(text)} |\n"
    rows = markdown_cells(md)
    assert len(rows) == 2 and len(rows[1]) == 2, rows  # one row, two cells: no pipe split it
    assert rows[1][0].strip() == plain(text).strip()
    assert rows[1][1] == plain(text)
    rendered = html_of(md)
    assert "<script" not in rendered and "<img" not in rendered and "\x1b" not in rendered


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=30))
def test_any_text_stays_one_cell_with_no_markup(text: str) -> None:
    md = f"| a | b |\n|---|---|\n| {md_code(text)} | {md_text(text)} |\n"
    rows = markdown_cells(md)
    assert len(rows) == 2 and len(rows[1]) == 2
    cleaned = plain(text)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", cleaned)
    assert rows[1][1] == cleaned.strip()  # a table strips a cell's outer spaces
    if cleaned.strip():
        assert rows[1][0].strip() == cleaned.strip()
    rendered = html_of(md)
    assert "<a " not in rendered and "<em>" not in rendered and "<strong>" not in rendered
    assert not re.search(r"<(?!/?(table|thead|tbody|tr|th|td|code|p)\b)[a-zA-Z]", rendered)


def report_doc(name: str) -> dict[str, Any]:
    entry = make_entry(name, [1.0, 1.1, 0.9], extra={"quality": {"acc|<b>": 0.9}})
    entry["name"] = entry["fullname"] = name
    entry["group"] = "g|`x`"
    return {"benchmarks": [entry], "machine_info": {"node": "host|\x1b[2J", "greenbench": {
        "meter": {"source": "model", "estimated": True, "reason": "<script>x</script>|`"}}},
        "commit_info": {"id": "abc`|<i>"}, "datetime": "2026-01-01"}


@pytest.mark.parametrize("name", HOSTILE_IDS)
def test_report_readme_and_html_keep_hostile_text_as_text(tmp_path: Path, name: str) -> None:
    from greenbench.outputs.report import write_report

    readme = write_report(report_doc(name), tmp_path / "rep").read_text()
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", readme)  # no raw control byte reaches a terminal
    rendered = html_of(readme)
    assert "<script" not in rendered and "<b>" not in rendered and "<i>" not in rendered
    assert "<img src=x" not in rendered
    table = [r for r in markdown_cells(readme) if len(r) > 2]
    assert all(len(r) == 8 for r in table), table  # the header's 8 columns in every row
    assert table[1][1].strip() == plain(name).strip()
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "'unsafe-inline'" not in page


def test_html_csp_allows_only_the_page_own_script_by_hash(tmp_path: Path) -> None:
    import base64
    import hashlib

    from greenbench.outputs.report import write_report

    write_report(report_doc("test_a"), tmp_path / "rep")
    page = (tmp_path / "rep" / "index.html").read_text()
    csp = re.search(r'Content-Security-Policy" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert scripts == [htmlreport.JS]
    digest = base64.b64encode(hashlib.sha256(htmlreport.JS.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp and "unsafe-inline" not in csp


def test_summary_and_history_escape_ids(tmp_path: Path) -> None:
    from greenbench.outputs import summary

    name = "test_x[`a`|<b>\x1b]"
    cur = make_entry(name, [1.0, 1.1, 0.9])
    cur["fullname"] = name
    base = copy.deepcopy(cur)
    v = gate.compare_entries(base, cur, gate.GateRule.parse("10%"))
    md = summary.render([v], [cur], {name: base}, rule=gate.GateRule.parse("10%"), meter="model|<i>")
    assert "\x1b" not in md
    rendered = html_of(md)
    assert "<b>" not in rendered and "<i>" not in rendered
    rows = [r for r in markdown_cells(md) if len(r) > 3]
    assert all(len(r) == len(rows[0]) for r in rows)
    assert rows[1][1].strip() == plain(name)


# --------------------------------------------------------------------------- meters of one's own

class GoodMeter(MeterBase):
    source = "mine"
    estimated = True

    def __init__(self) -> None:
        self.n = 0

    def start(self) -> None:
        self._begin_window()
        self._mark_open(0.0, 0.0)

    def stop(self) -> Measurement:
        self._end_window()
        self.n += 1
        return Measurement(1e-3, 1e-3, 1e-3, "mine", True)


class RaisesOnce(GoodMeter):
    def stop(self) -> Measurement:
        if self.n == 0:
            self.n += 1
            raise RuntimeError("sensor unplugged")  # window left open, as a careless meter would
        return super().stop()


def returning(value: Any) -> type[GoodMeter]:
    class Returns(GoodMeter):
        def stop(self) -> Any:
            self._end_window()
            return value

    return Returns


class Hangs(GoodMeter):
    def start(self) -> None:
        threading.Event().wait()  # never returns on its own


class NeedsArgs(GoodMeter):
    def __init__(self, port: int) -> None:
        super().__init__()


class BadDescribe(GoodMeter):
    def describe(self) -> Any:
        return {"x": object()}


NOT_A_CLASS = 42


def install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: str, name: str = "usermeters") -> None:
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)


@pytest.mark.parametrize("spec, message", [
    (":", "expected MODULE:CLASS"),
    ("mod:", "expected MODULE:CLASS"),
    ("test_reliability:NeedsArgs", "built with no arguments"),
    ("test_reliability:NOT_A_CLASS", "not a class"),
    ("test_reliability:Nope", "has no Nope"),
    ("test_reliability:BadDescribe", "describe() is not JSON-safe"),
    ("no_such_module_xyz:M", "cannot import no_such_module_xyz"),
])
def test_user_meter_that_cannot_be_built_is_one_line_naming_it(spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        get_meter(spec)
    text = one_line(info.value)
    assert f"--energy-meter {spec}" in text and message in text


def test_user_meter_in_a_module_with_a_syntax_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    install(monkeypatch, tmp_path, "class M(:\n    pass\n", "broken_meter_mod")
    with pytest.raises(ConfigError) as info:
        get_meter("broken_meter_mod:M")
    assert "SyntaxError" in one_line(info.value) and "broken_meter_mod" in str(info.value)


class FakeFixture:
    """Just enough of pytest-benchmark's fixture for the recorder: a runner factory."""

    def _make_runner(self, function: Any, args: Any, kwargs: Any) -> Any:
        def runner(loops_range: Any, timer: Any = None) -> Any:
            for _ in loops_range:
                function(*args, **kwargs)
            return 0.0

        return runner


def run_rounds(meter: Any, rounds: int = 3) -> RoundRecorder:
    rec = RoundRecorder(meter)
    fixture = FakeFixture()
    rec.attach(fixture)
    runner = fixture._make_runner(lambda: None, (), {})
    for _ in range(rounds):
        runner(range(2))
    return rec


@pytest.mark.parametrize("meter_cls, message", [
    (returning(None), "returned NoneType"),
    (returning(1.5), "returned float"),
    (returning({"energy_j": 1.0}), "returned dict"),
    (RaisesOnce, "stop() raised RuntimeError: sensor unplugged"),
])
def test_user_meter_failures_in_a_benchmark_are_one_line_and_close_the_window(meter_cls: Any,
                                                                              message: str) -> None:
    meter = CheckedMeter(meter_cls(), "mod:Meter")
    rec = run_rounds(meter)
    assert rec.failure is not None and message in rec.failure and "--energy-meter mod:Meter" in rec.failure
    assert rec.records == []  # nothing measured is stored
    meter.start()  # the window was closed: the next benchmark can start one
    assert not isinstance(meter.inner, Hangs)


def test_user_meter_nan_and_huge_energy_are_refused() -> None:
    class NaN(GoodMeter):
        def stop(self) -> Measurement:
            self._end_window()
            return Measurement(float("nan"), 1.0, 0.0, "mine", True)

    class Huge(GoodMeter):
        def stop(self) -> Measurement:
            self._end_window()
            return Measurement(1e308, 1e-3, 0.0, "mine", True)

    nan_rec = run_rounds(CheckedMeter(NaN(), "m:NaN"))
    assert nan_rec.failure is not None and "must be a finite number" in nan_rec.failure
    huge_rec = run_rounds(CheckedMeter(Huge(), "m:Huge"))
    assert huge_rec.failure is not None and "1e+308 J" in huge_rec.failure and "not a measurement" in huge_rec.failure


def test_user_meter_that_never_returns_is_stopped_with_a_clear_error() -> None:
    meter = CheckedMeter(Hangs(), "m:Hangs", timeout_s=0.05)  # SIGALRM stops it whatever the load
    rec = run_rounds(meter, rounds=1)
    assert rec.failure is not None and "start() did not return within 0.05 s" in rec.failure


def test_hanging_meter_is_stopped_even_when_sigalrm_is_someone_elses() -> None:
    import signal

    fired: list[int] = []

    def handler(signum: int, frame: Any) -> None:  # pytest-timeout's, say
        fired.append(signum)

    theirs = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 300.0)
    try:
        rec = run_rounds(CheckedMeter(Hangs(), "m:Hangs", timeout_s=0.05), rounds=1)
        assert rec.failure is not None and "did not return within 0.05 s" in rec.failure
        assert signal.getsignal(signal.SIGALRM) is handler and not fired  # theirs is back, and was not called
        assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 300.0  # their timer still runs
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, theirs)


def test_builtin_meter_failure_is_recorded_and_the_window_closed() -> None:
    class Flaky(GoodMeter):
        def stop(self) -> Measurement:
            raise MeterError("RAPL: cannot read /sys/x/energy_uj (I/O error)")

    meter = Flaky()
    rec = run_rounds(meter)
    assert rec.failure == "RAPL: cannot read /sys/x/energy_uj (I/O error)"
    meter.start()  # aborted: no "a window is already open"


def m(energy: float, cpu: float, dur: float = 1e-4, **domains: float) -> Measurement:
    return Measurement(energy, dur, cpu, "rapl", False, domains=domains)


def test_counter_that_never_moves_over_a_whole_benchmark_is_stuck_however_short_the_rounds() -> None:
    rounds = [m(0.0, 2e-4, **{"package-0": 0.0, "dram-0": 0.0}) for _ in range(64)]  # 12.8 ms of CPU in all
    why = never_moved(rounds)
    assert why is not None and "package-0" in why and "64 metered windows" in why
    assert never_moved(rounds[:10]) is None  # 2 ms of CPU: too little to say
    moving = [*rounds[:63], m(61e-6, 2e-4, **{"package-0": 61e-6, "dram-0": 0.0})]
    assert never_moved(moving) is None
    gpu = [Measurement(0.0, 0.125, 0.0, "nvml", False, domains={"gpu0": 0.0}) for _ in range(8)]
    assert never_moved(gpu) is not None and "gpu0" in never_moved(gpu)  # type: ignore[operator]
    assert never_moved(gpu[:7]) is None  # 0.875 s in all: too short to say


def test_counters_read_across_a_whole_benchmark_decide_stuck_however_short_the_windows() -> None:
    from greenbench.meters.base import counter_snapshot, never_moved_span

    class Counters(GoodMeter):
        source = "rapl"

        def __init__(self, values: tuple[int, ...]) -> None:
            self.values = values

        def counters(self) -> tuple[int, ...]:
            return self.values

    stuck = Counters((5, 7))
    snap = counter_snapshot(CheckedMeter(stuck, "m:R"))  # seen through the user-meter wrapper too
    assert snap == {"rapl": (5, 7)}
    why = never_moved_span(snap, snap, cpu_s=0.02, wall_s=0.05)
    assert why is not None and "whole benchmark" in why
    assert never_moved_span(snap, snap, cpu_s=0.005, wall_s=0.05) is None  # too little CPU to say
    assert never_moved_span(snap, {"rapl": (5, 8)}, cpu_s=1.0, wall_s=1.0) is None  # one zone moved
    gpu = {"nvml": (100,)}
    assert never_moved_span(gpu, gpu, cpu_s=0.0, wall_s=1.5) is not None
    assert never_moved_span(gpu, {"nvml": (101,)}, cpu_s=0.0, wall_s=1.5) is None
    assert counter_snapshot(GoodMeter()) == {}


def test_auto_probe_does_not_pick_a_readable_but_stuck_rapl(tmp_path: Path) -> None:
    from fakes import build_powercap

    from greenbench.meters import probe

    root = build_powercap(tmp_path, {"intel-rapl:0": ("package-0", 1000)})
    cpu = iter(range(1000))
    from greenbench.meters import RaplMeter

    meter = RaplMeter(root, background=False, cpu_clock=lambda: next(cpu) * 0.01)
    assert meter.moves() is False  # the fake's counters never move: stuck, decided on CPU time, not waiting
    p = probe(root, check_moving=True)
    assert p.meter.source == "model" and "none moved" in p.sources[0].reason


# --------------------------------------------------------------------------- output paths and the folder lock

def test_output_file_checks(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        atomic.check_output_file(tmp_path, "--energy-summary")
    with pytest.raises(ConfigError, match=r"GITHUB_STEP_SUMMARY .*folder .* does not exist"):
        atomic.check_output_file(tmp_path / "missing" / "s.md", "GITHUB_STEP_SUMMARY", create_parents=False)
    assert atomic.check_output_file(tmp_path / "new" / "s.md", "--energy-summary")
    assert not (tmp_path / "new").exists()  # checked, nothing created
    assert [p.name for p in tmp_path.iterdir()] == []
    with pytest.raises(ConfigError, match="cannot write in /proc"):
        atomic.check_output_file("/proc/x", "--energy-summary")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="no /proc")
def test_report_dir_in_proc_is_refused_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        atomic.check_report_dir("/proc/x", "--energy-report")
    assert "--energy-report /proc/x" in one_line(info.value)


def test_second_writer_of_a_report_folder_is_refused_and_says_who(tmp_path: Path) -> None:
    import fcntl

    target = tmp_path / "rep"
    lock = tmp_path / ".rep.greenbench-lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)  # another process's lock (flock is per open file)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.pwrite(fd, b"4242", 0)
    try:
        with pytest.raises(ConfigError) as info:
            atomic.write_folder(target, lambda stage: None)
        assert "another greenbench run (pid 4242)" in one_line(info.value)
        assert not target.exists()
    finally:
        os.close(fd)
    atomic.write_folder(target, lambda stage: (stage / "a").write_text("x"))
    assert (target / "a").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]  # the lock file goes with the last holder


def test_results_json_with_bytes_values_is_written(tmp_path: Path) -> None:
    from greenbench.outputs.report import write_report

    doc = report_doc("test_a[b'\\x00']")
    doc["benchmarks"][0]["params"] = {"payload": b"\x00\xff"}
    doc["benchmarks"][0]["extra_info"]["blob"] = {1, 2}
    write_report(doc, tmp_path / "rep")
    saved = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert saved["benchmarks"][0]["params"]["payload"] == "UNSERIALIZABLE[b'\\x00\\xff']"


def test_results_json_with_tuple_keys_and_cycles_is_written(tmp_path: Path) -> None:
    cyclic: dict[str, Any] = {"a": 1}
    cyclic["self"] = cyclic
    atomic.write_json(tmp_path / "r.json", {"x": cyclic, (1, 2): 3})
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved == {"x": {"a": 1, "self": "UNSERIALIZABLE[reference cycle]"}, "UNSERIALIZABLE[(1, 2)]": 3}


def test_machine_info_survives_a_meter_whose_describe_fails_later() -> None:
    from greenbench.carbon import resolve_intensity
    from greenbench.plugin.session import EnergySession

    class Flaky(GoodMeter):
        def describe(self) -> Any:
            raise OSError("device gone")

    es = EnergySession(meter_factory=Flaky, intensity=resolve_intensity(None, None))
    info = es.machine_info()
    assert info["meter"]["source"] == "mine" and "device gone" in info["meter"]["describe_error"]


# --------------------------------------------------------------------------- end to end (real pytest)

FAST = ["--benchmark-min-rounds=5", "--benchmark-max-time=0.05", "--benchmark-warmup=off", "-p", "no:cacheprovider",
        "-p", "no:randomly", "--energy-meter=model"]

TWO = """
def test_a_work(benchmark):
    benchmark(sum, range(2000))


def test_b_work(benchmark):
    benchmark(sum, range(3000))
"""


def run(pytester: pytest.Pytester, *args: str, fast: list[str] | None = None) -> pytest.RunResult:
    pytester.makeini("[pytest]\n")
    return pytester.runpytest_subprocess(*(FAST if fast is None else fast), *args)


def out(result: pytest.RunResult) -> str:
    return result.stdout.str() + result.stderr.str()


def saved_runs(pytester: pytest.Pytester) -> list[Path]:
    return sorted((pytester.path / ".benchmarks").rglob("*.json"))


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.parametrize("sig, call", [
    ("SIGINT", "benchmark.pedantic(work, rounds=5)"),  # inside the first timed round
    ("SIGTERM", "benchmark.pedantic(work, rounds=5)"),
    ("SIGINT", "benchmark.pedantic(work, rounds=5, warmup_rounds=2)"),  # in a warm-up round, none timed yet
    ("SIGTERM", "benchmark(work)"),  # in pytest-benchmark's calibration, before its statistics exist
])
def test_signal_before_the_first_round_keeps_the_completed_benchmarks(pytester: pytest.Pytester,
                                                                      sig: str, call: str) -> None:
    pytester.makepyfile(test_stop=f"""
import os
import signal


def test_a_work(benchmark):
    benchmark(sum, range(2000))


def test_b_interrupted_in_its_first_round(benchmark):
    def work():
        os.kill(os.getpid(), signal.{sig})  # a real signal, delivered inside the first round
        return sum(range(10))
    {call}


def test_c_never_runs(benchmark):
    benchmark(sum, range(2000))
""")
    result = run(pytester, "--benchmark-autosave", "--energy-report=rep")
    text = out(result)
    assert result.ret == pytest.ExitCode.INTERRUPTED, text
    assert "min() arg is an empty sequence" not in text and "INTERNALERROR" not in text
    (saved,) = saved_runs(pytester)
    data = json.loads(saved.read_text())
    assert data["greenbench"]["interrupted"] is True
    assert [b["name"] for b in data["benchmarks"]] == ["test_a_work"]
    if "pedantic" in call:  # pytest-benchmark had registered it with no timings: dropped and named
        assert "1 benchmark(s) stopped before finishing one round, not saved: test_stop.py::" \
               "test_b_interrupted_in_its_first_round" in text
    rep = pytester.path / "rep"
    assert "interrupted" in (rep / "README.md").read_text()
    assert 'id="interrupted"' in (rep / "index.html").read_text()


@pytest.mark.slow
@pytest.mark.serial
def test_bytes_parametrize_value_keeps_the_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bytes="""
import pytest


@pytest.mark.parametrize("payload", [b"\\x00\\xff", b"abc"])
def test_b(benchmark, payload):
    benchmark(len, payload)
""")
    result = run(pytester, "--energy-report=rep", "--benchmark-json=out.json")
    assert result.ret == 0, out(result)
    assert "Traceback" not in out(result)
    saved = json.loads((pytester.path / "rep" / "results.json").read_text())
    assert len(saved["benchmarks"]) == 2


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.parametrize("args, env, message", [
    (["--energy-report=/proc/x"], {}, "--energy-report /proc/x: cannot write in /proc"),
    (["--energy-summary=folder"], {}, "--energy-summary folder: is a directory"),
    (["--energy-summary="], {}, "--energy-summary: empty path"),
    ([], {"GITHUB_STEP_SUMMARY": "missing/dir/summary.md"}, "GITHUB_STEP_SUMMARY missing/dir/summary.md: folder"),
    (["--energy-meter=:"], {}, "--energy-meter :: expected MODULE:CLASS"),
])
def test_bad_output_paths_are_exit_4_before_the_first_benchmark(pytester: pytest.Pytester, args: list[str],
                                                                env: dict[str, str], message: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (pytester.path / "folder").mkdir()
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    pytester.makepyfile(test_ran="""
from pathlib import Path


def test_work(benchmark):
    Path("ran").write_text("yes")
    benchmark(sum, range(100))
""")
    fast = [a for a in FAST if not a.startswith("--energy-meter")] if any("--energy-meter" in a for a in args) \
        else FAST
    result = run(pytester, *args, fast=fast)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, out(result)
    assert message in result.stderr.str(), out(result)
    assert "Traceback" not in out(result)
    assert not (pytester.path / "ran").exists()


FULL_DISK = """
import errno

import greenbench.outputs.report as report


def fail(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", "rep/README.md")


report._fill_report = fail  # the disk fills while the report is written
"""


@pytest.mark.slow
@pytest.mark.serial
def test_full_disk_while_writing_the_report_is_one_line_and_the_rest_is_written(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_two=TWO)
    assert run(pytester, "--benchmark-autosave").ret == 0
    pytester.makeconftest(FULL_DISK)
    result = run(pytester, "--benchmark-compare", "--energy-report=rep", "--energy-summary=summary.md",
                 "--benchmark-autosave")
    text = out(result)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, text
    assert "Traceback" not in text
    result.stdout.fnmatch_lines(["*greenbench: error: --energy-report rep: not written: rep/README.md: "
                                 "No space left on device*"])
    assert (pytester.path / "summary.md").is_file()  # written although the report was not
    assert len(saved_runs(pytester)) == 2  # pytest-benchmark's own save is untouched
    assert not (pytester.path / "rep").exists()
    assert not [p for p in pytester.path.iterdir() if p.name.startswith(".rep.")]  # no staging, no lock left


@pytest.mark.slow
@pytest.mark.serial
def test_concurrent_run_on_the_same_report_folder_is_told(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_two=TWO)
    atomic.lock_folder(pytester.path / "rep")  # this process plays the run that is writing it now
    try:
        result = run(pytester, "--energy-report=rep")
    finally:
        atomic.unlock_folder(pytester.path / "rep")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, out(result)
    assert f"another greenbench run (pid {os.getpid()}) is writing this folder" in result.stderr.str()
    again = run(pytester, "--energy-report=rep")
    assert again.ret == 0, out(again)
    assert "report written to" in again.stdout.str()


@pytest.mark.slow
@pytest.mark.serial
def test_no_artifacts_folder_is_left_in_the_temp_dir(pytester: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    tmp = pytester.path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    pytester.makepyfile(test_pic="""
from greenbench.plugin import session_of


def test_pic(benchmark, request):
    folder = session_of(request.config).artifacts_dir()
    (folder / "pic.png").write_bytes(b"png")
    benchmark(sum, range(100))
""")
    result = run(pytester)
    assert result.ret == 0, out(result)
    assert not [p for p in tmp.iterdir() if p.name.startswith("greenbench-artifacts-")]


BURNS = """
def burn():  # about 1 ms of CPU per call whatever the load (CPU time, not wall time)
    return sum(i * i for i in range(20000))


def test_a_burns(benchmark):
    benchmark.pedantic(burn, rounds=40)


def test_b_burns(benchmark):
    benchmark.pedantic(burn, rounds=40)
"""

USER_METERS = """
from greenbench.meters import Measurement, MeterBase


class FailsOnce(MeterBase):
    source = "flaky"
    failed = False

    def start(self):
        self._begin_window()
        self._mark_open(0.0, 0.0)

    def stop(self):
        if not FailsOnce.failed:
            FailsOnce.failed = True
            raise RuntimeError("sensor unplugged")
        self._end_window()
        return Measurement(1e-6, 1e-4, 1e-4, "flaky", True)


class Zero(FailsOnce):
    source = "zero"

    def stop(self):
        import time
        self._end_window()
        return Measurement(0.0, 1e-4, 2e-3, "zero", True)  # claims 2 ms of CPU per window, 0 J


class StuckRapl(Zero):
    source = "rapl"
    estimated = False

    def stop(self):
        self._end_window()
        return Measurement(0.0, 1e-4, 2e-3, "rapl", False, domains={"package-0": 0.0})


class FrozenRapl(Zero):
    # a RAPL whose every window is too short to tick: only the whole benchmark shows it never moves
    source = "rapl"
    estimated = False

    def counters(self):
        return (123456, 789)

    def stop(self):
        self._end_window()
        return Measurement(0.0, 1e-6, 1e-6, "rapl", False, domains={"package-0": 0.0})


class Float(FailsOnce):
    def stop(self):
        self._end_window()
        return 1.0
"""


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.parametrize("cls, failed, message", [
    ("FailsOnce", 1, "--energy-meter usermeters:FailsOnce: stop() raised RuntimeError: sensor unplugged"),
    ("Float", 2, "--energy-meter usermeters:Float: stop() returned float"),
    ("StuckRapl", 2, "rapl meter: package-0 read 0 J in all"),
    ("Zero", 0, None),
    ("FrozenRapl", 2, "no RAPL counter moved over the whole benchmark"),
])
def test_user_meter_failures_fail_the_benchmark_in_one_line(pytester: pytest.Pytester, cls: str, failed: int,
                                                            message: str | None,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(usermeters=USER_METERS, test_two=TWO if cls != "FrozenRapl" else BURNS)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))
    fast = [a for a in FAST if not a.startswith("--energy-meter")]
    result = run(pytester, f"--energy-meter=usermeters:{cls}", "--benchmark-json=out.json", fast=fast)
    text = out(result)
    assert "INTERNALERROR" not in text and "AttributeError" not in text and "already open" not in text, text
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == failed, text
    assert outcomes.get("passed", 0) == 2 - failed, text
    if message:
        assert message in text
        assert not re.search(r"greenbench/(recorder|session|plugin)\.py", text)  # no traceback from inside
    else:  # a meter reading 0 J while the process worked is warned about, in the saved block
        saved = json.loads((pytester.path / "out.json").read_text())
        warnings = saved["benchmarks"][0]["extra_info"]["energy"]["warnings"]
        assert any("zero meter read 0 J in all" in w for w in warnings)


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.parametrize("args, message", [
    (["--energy-report=rep", "--benchmark-disable"], "--energy-report rep: no report will be written: benchmarks "
                                                     "are disabled"),
    (["--energy-report=rep", "--benchmark-skip"], "--energy-report rep: no report will be written: benchmarks are "
                                                  "skipped"),
    (["--energy-summary=s.md"], "--energy-summary s.md: no summary will be written: it reports a comparison"),
    (["--energy-report=rep", "-n", "2"], "--energy-report rep: no report will be written: benchmarks are disabled "
                                         "here (--benchmark-disable, or pytest-xdist's -n"),
])
def test_outputs_that_will_not_be_written_say_so(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    pytester.makepyfile(test_two=TWO)
    result = run(pytester, *args)
    assert result.ret in (0, pytest.ExitCode.NO_TESTS_COLLECTED), out(result)
    assert message in result.stdout.str(), out(result)
    assert not (pytester.path / "rep").exists() and not (pytester.path / "s.md").exists()


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.parametrize("gated", [True, False])
def test_baseline_whose_machine_info_greenbench_is_not_a_mapping(pytester: pytest.Pytester, gated: bool) -> None:
    pytester.makepyfile(test_two=TWO)
    assert run(pytester, "--benchmark-autosave").ret == 0
    (path,) = saved_runs(pytester)
    data = json.loads(path.read_text())
    data["machine_info"]["greenbench"] = ["not", "a", "mapping"]
    path.write_text(json.dumps(data))
    if gated:  # the gate refuses the baseline before any benchmark runs, naming the field
        result = run(pytester, "--benchmark-compare", "--energy-compare-fail=10%")
        assert result.ret == pytest.ExitCode.USAGE_ERROR, out(result)
        assert "machine_info.greenbench is list" in result.stderr.str()
    else:  # compare only: the gate refuses to compare, and the report is still written
        result = run(pytester, "--benchmark-compare", "--energy-report=rep")
        assert result.ret == 0, out(result)
        assert "machine_info.greenbench is list" in result.stdout.str()
        assert (pytester.path / "rep" / "README.md").is_file()
    assert "Traceback" not in out(result)

"""--energy-codecarbon (greenbench.meters.sidebyside), the terminal's names and warnings, the plots' grouping."""

from __future__ import annotations

import math
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fakes import FakeFixture, FakeMeter, make_entry
from rich.console import Console

from greenbench import results as R
from greenbench.errors import MeterError
from greenbench.meters.base import Measurement
from greenbench.meters.contention import LoadProbe
from greenbench.meters.sidebyside import MEASURE_POWER_S, BenchmarkWindow, hidden_reason, setting
from greenbench.outputs import report
from greenbench.outputs.terminal import energy_table, warning_lines
from greenbench.plugin.recorder import RoundRecorder
from greenbench.plugin.session import codecarbon_on, setup_change


class FailingMeter(FakeMeter):
    def start(self) -> None:
        raise MeterError("tracker broke")


class LoggedMeter(FakeMeter):
    """A FakeMeter that writes each start/stop into a shared log."""

    def __init__(self, name: str, log: list[str], joules: list[float], seconds: float = 0.01) -> None:
        super().__init__(joules, seconds)
        self.name, self.log = name, log

    def start(self) -> None:
        self.log.append(f"{self.name}.start")
        super().start()

    def stop(self) -> Measurement:
        self.log.append(f"{self.name}.stop")
        return super().stop()


def run_benchmark(codecarbon: Any, rounds: int = 5, iterations: int = 3) -> tuple[list[str], RoundRecorder, Any]:
    """A pytest-benchmark-like run: calibration calls, then ``rounds`` rounds; CodeCarbon around it if given."""
    log: list[str] = []
    fixture = FakeFixture()
    ours = LoggedMeter("ours", log, [1.0] * 100)
    recorder = RoundRecorder(ours, probe=LoadProbe(track_rounds=False))
    recorder.attach(fixture)
    window = None
    if codecarbon is not None:
        window = BenchmarkWindow(codecarbon(log), min_window_s=3.0)
        window.attach(fixture)
        window.start()
    runner = fixture._make_runner(lambda: None, (), {})
    runner(range(1))  # calibration
    for _ in range(rounds):
        runner(range(iterations))
    block = window.block() if window is not None else None
    return log, recorder, block


def test_codecarbon_opens_and_closes_outside_every_one_of_our_windows() -> None:
    log, _recorder, block = run_benchmark(lambda log: LoggedMeter("cc", log, [6.0], seconds=4.0))
    assert log[0] == "cc.start" and log[-1] == "cc.stop"
    assert log.count("cc.start") == log.count("cc.stop") == 1
    inner = log[1:-1]
    assert inner == ["ours.start", "ours.stop"] * (len(inner) // 2)  # never inside one of our windows
    assert block is not None
    assert block["calls"] == 1 + 5 * 3  # every call in its window: calibration and rounds
    assert block["per_call_j"] == pytest.approx(6.0 / 16)
    assert block["window_s"] == 4.0 and "hidden" not in block


def test_our_records_are_the_same_with_and_without_codecarbon() -> None:
    _, off, _ = run_benchmark(None)
    _, on, _ = run_benchmark(lambda log: LoggedMeter("cc", log, [6.0], seconds=4.0))
    assert [(r.measurement.energy_j, r.iterations, r.index) for r in on.records] == \
        [(r.measurement.energy_j, r.iterations, r.index) for r in off.records]


def test_a_window_shorter_than_its_sampling_shows_no_figure_and_says_why() -> None:
    _, _, block = run_benchmark(lambda log: LoggedMeter("cc", log, [6.0], seconds=1.2))
    assert block is not None and "per_call_j" not in block
    assert "1.2 s" in block["hidden"] and "--benchmark-max-time" in block["hidden"]
    entry = make_entry("test_a", extra={"codecarbon": block})
    assert math.isnan(R.codecarbon_j(entry))
    assert hidden_reason(entry) == block["hidden"]


def test_a_failing_tracker_never_breaks_the_measurement() -> None:
    _log, recorder, block = run_benchmark(lambda log: FailingMeter([]))
    assert len(recorder.records) == 6
    assert block is not None and "tracker broke" in block["hidden"]
    assert "per_call_j" not in block  # no figure rather than a wrong one


def test_the_sidecar_serves_codecarbon_from_another_process() -> None:
    """CodeCarbon runs in its own process: its imports and threads never live in the measured one."""
    pytest.importorskip("codecarbon")
    from greenbench.meters.sidebyside import SidecarCodeCarbon

    side = SidecarCodeCarbon(measure_power_secs=0.5)
    try:
        side.start()
        pid = side.pid
        assert pid is not None and pid != os.getpid()
        ppid = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
        assert ppid != os.getpid()  # detached: not a child a meter would read in every window
        m = side.stop()
        assert m.source == "codecarbon" and m.estimated and m.energy_j >= 0 and m.duration_s > 0
        assert set(m.domains) >= {"cpu", "memory"}
        with pytest.raises(MeterError, match="unexpected command"):
            side.stop()  # no tracker running: one line back, the sidecar keeps serving
        side.start()
        assert side.pid == pid  # one sidecar per session, reused
        side.stop()
    finally:
        side.close()
    from greenbench.meters.sidebyside import _alive

    assert side.pid is None and not _alive(pid)


def test_sidecar_protocol_answers_one_line_per_command() -> None:
    import io

    from greenbench.meters._cc_sidecar import serve

    out = io.StringIO()
    serve(io.StringIO("stop\nbogus 1 2\n\nquit\nstop\n"), out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and all(line.startswith("error: unexpected command") for line in lines)


def test_setting_is_recorded_and_a_change_is_a_setup_change() -> None:
    assert setting(False) == {"on": False}
    on = setting(True)
    assert on["on"] is True and on["measure_power_secs"] == MEASURE_POWER_S
    mi_on = {"greenbench": {"codecarbon": on}}
    mi_off = {"greenbench": {"codecarbon": {"on": False}}}
    assert codecarbon_on(mi_on) is True and codecarbon_on(mi_off) is False and codecarbon_on({}) is None
    assert setup_change(mi_on, True) is None and setup_change(mi_off, False) is None
    assert "on in the baseline and is off" in str(setup_change(mi_on, False))
    assert "off in the baseline and is on" in str(setup_change(mi_off, True))
    # an older baseline that did not record the setting: its CodeCarbon figures tell
    old = [make_entry("test_a", extra={"codecarbon": {"per_call_j": {"median": 0.005}}})]
    assert setup_change({"greenbench": {}}, False, old) is not None
    assert setup_change({"greenbench": {}}, False, [make_entry("test_a")]) is None


def test_gate_refuses_a_change_of_the_codecarbon_setting() -> None:
    from greenbench.carbon import Intensity
    from greenbench.gate import GateRule
    from greenbench.plugin.session import EnergySession

    es = EnergySession(meter_factory=lambda: FakeMeter([]), intensity=Intensity(475.0, "world"),
                       rule=GateRule.parse("10%"), codecarbon=True)
    es.baseline_machine_info = {"greenbench": {"meter": {"source": "model"}, "codecarbon": {"on": False}}}
    cur = make_entry("test_a", [2.0] * 5)
    es.run_gate([cur], {cur["fullname"]: make_entry("test_a", [1.0] * 5)})
    assert es.refusal is not None and "--energy-codecarbon" in es.refusal
    assert not es.verdicts  # never a regression: no verdict at all
    es.any_meter, es.refusal = True, None
    es.run_gate([cur], {cur["fullname"]: make_entry("test_a", [1.0] * 5)})
    assert es.refusal is None and es.verdicts


def render(table: Any, width: int = 80) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(table)
    return console.export_text()


def test_table_prints_whole_test_ids_literally() -> None:
    long = "test_" + "x" * 70 + "[param-with-a-long-id]"
    entries = [make_entry("test_kind[fast]"), make_entry(long)]
    es = SimpleNamespace(verdicts=[])
    text = render(energy_table(es, entries))  # type: ignore[arg-type]
    assert "test_kind[fast]" in text
    assert "…" not in text
    assert "".join(line.strip("│┃ ") for line in text.splitlines()).count("param-with-a-long-") == 1


def test_codecarbon_column_in_the_table() -> None:
    e = make_entry("test_a", extra={"codecarbon": {"per_call_j": 0.005, "estimated": True}})
    assert "5 mJ*" in render(energy_table(SimpleNamespace(verdicts=[]), [e]), 140)  # type: ignore[arg-type]


def test_a_100_column_log_drops_columns_before_folding_ids() -> None:
    """A CI log (non-TTY, 100 columns): whole test ids on at most 2 lines, the columns left out named."""
    from greenbench.gate import Verdict

    names = [f"test_knn_predict[mnist-{k}-neighbours-metric=euclidean-weights=distance-algo=brute]" for k in range(3)]
    entries = [make_entry(n, fullname=f"bench/test_classic.py::{n}", extra={"quality": {"accuracy": 0.9123}})
               for n in names]
    es = SimpleNamespace(verdicts=[Verdict(e["fullname"], "ok", 0.01, 0.5, 1.0, 1.01, (5, 5), "")
                                   for e in entries])
    text = render(energy_table(es, entries, width=100), 100)  # type: ignore[arg-type]
    assert "left out to fit 100 columns:" in text and "power" in text.split("left out")[1]
    body = [line.strip("│┃ ") for line in text.splitlines() if line.startswith("│")]
    assert len(body) <= 2 * len(names)  # each id folded onto at most 2 lines
    joined = "".join(line.split("│")[0].strip() for line in body)
    assert all(n in joined for n in names)  # and whole
    assert max(len(line) for line in text.splitlines()) <= 100
    wide = render(energy_table(es, entries, width=250), 250)  # type: ignore[arg-type]
    assert "left out" not in wide and "power" in wide


def test_near_identical_warnings_become_one_line() -> None:
    warned = [(f"test_{i}", f"{i} of 15 rounds ran while other processes kept >= 0.5 cores busy") for i in range(67)]
    warned.append(("test_spread", "energy spread is high"))
    lines = warning_lines(warned)
    assert len(lines) == 2
    assert lines[0].startswith("67 benchmarks warned alike")


def test_group_colours_are_distinct() -> None:
    for n in (4, 13, 25):
        colours = report.group_colours(n)
        assert len(set(colours)) == n


def test_pareto_never_mixes_training_and_inference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    import matplotlib.axes

    original = matplotlib.axes.Axes.set_title

    def spy(self: Any, label: str, *a: Any, **kw: Any) -> Any:
        seen.append(label)
        return original(self, label, *a, **kw)

    monkeypatch.setattr(matplotlib.axes.Axes, "set_title", spy)
    q = lambda a: {"quality": {"accuracy": a}}  # noqa: E731
    entries = [make_entry("test_mlp_train", [10.0], group="deep-train", extra=q(0.9)),
               make_entry("test_cnn_train", [40.0], group="deep-train", extra=q(0.95)),
               make_entry("test_mlp_infer", [0.1], group="deep-inference", extra=q(0.9)),
               make_entry("test_cnn_infer", [0.4], group="deep-inference", extra=q(0.95)),
               make_entry("test_flat_a", [1.0], group="x", extra={"quality": {"iou": 1.0}}),
               make_entry("test_flat_b", [2.0], group="x", extra={"quality": {"iou": 1.0}})]
    assert report.plot_pareto(entries, tmp_path / "p.png") is not None
    assert "accuracy (training)" in seen and "accuracy (inference)" in seen
    assert not any(t.startswith("iou") for t in seen)  # equal quality everywhere: no information, no panel


SHORT_AND_LONG = """
import time

def test_short(benchmark):
    benchmark(sum, range(100))

def test_long(benchmark):
    benchmark.pedantic(time.sleep, args=(0.8,), rounds=4, iterations=1)
"""


@pytest.mark.serial
def test_end_to_end_with_codecarbon(pytester: pytest.Pytester) -> None:
    """A real run: CodeCarbon's figure where its window covered 3 of its samples, a reason elsewhere."""
    pytest.importorskip("codecarbon")
    import json

    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_cc=SHORT_AND_LONG)
    result = pytester.runpytest_subprocess("--benchmark-max-time=0.05", "--benchmark-min-rounds=3",
                                           "-p", "no:cacheprovider", "-p", "no:dash", "--energy-meter=model",
                                           "--energy-codecarbon", "--benchmark-json=out.json")
    result.assert_outcomes(passed=2)
    data = json.loads((pytester.path / "out.json").read_text())
    assert data["machine_info"]["greenbench"]["codecarbon"]["on"] is True
    by = {b["name"]: b["extra_info"]["codecarbon"] for b in data["benchmarks"]}
    assert "per_call_j" not in by["test_short"] and "shorter than 3" in by["test_short"]["hidden"]
    assert by["test_long"]["per_call_j"] > 0 and by["test_long"]["calls"] >= 4
    result.stdout.fnmatch_lines(["*no CodeCarbon figure*"])


def test_table_prints_user_text_literally_never_as_markup() -> None:
    # issue #21 "text we write is text": quality keys and gate reasons come from users' suites; rich markup in
    # them ("[bold]", "[/]") is shown as written, never interpreted (an unmatched "[/]" used to raise)
    e = make_entry("test_q[/]", extra={"quality": {"acc[bold]": 0.5}})
    skipped = SimpleNamespace(name=e["fullname"], verdict="skipped", reason="renamed from test_q[/x]", change=0.0)
    text = render(energy_table(SimpleNamespace(verdicts=[skipped]), [e]), 250)  # type: ignore[arg-type]
    assert "acc[bold]=0.5" in text and "renamed from test_q[/x]" in text and "test_q[/]" in text

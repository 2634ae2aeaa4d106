"""--energy-codecarbon (greenbench.sidebyside), the terminal's names and warnings, the plots' grouping."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fakes import FakeMeter, make_entry
from rich.console import Console

from greenbench import report
from greenbench import results as R
from greenbench.errors import MeterError
from greenbench.recorder import RoundRecord
from greenbench.sidebyside import TeeMeter, codecarbon_block
from greenbench.terminal import energy_table, warning_lines


class FailingMeter(FakeMeter):
    def start(self) -> None:
        raise MeterError("tracker broke")


def test_tee_returns_ours_and_keeps_codecarbon_per_call() -> None:
    tee = TeeMeter(FakeMeter([1.0, 2.0, 3.0]), FakeMeter([10.0, 20.0, 30.0]))
    records = []
    for iterations in (1, 2, 2):
        tee.start()
        records.append(RoundRecord(tee.stop(), iterations))
    assert [r.measurement.energy_j for r in records] == [1.0, 2.0, 3.0]
    block = codecarbon_block(SimpleNamespace(meter=tee, records=records), 2)  # the last 2 rounds were kept
    assert block is not None
    assert block["rounds_j"] == [10.0, 15.0]
    entry = {"extra_info": {"codecarbon": block}}
    assert R.codecarbon_j(entry) == pytest.approx(12.5)


def test_a_failing_tracker_never_breaks_the_measurement() -> None:
    tee = TeeMeter(FakeMeter([1.0]), FailingMeter([]))
    tee.start()
    m = tee.stop()
    assert m.energy_j == 1.0
    block = codecarbon_block(SimpleNamespace(meter=tee, records=[SimpleNamespace(measurement=m, iterations=1)]), 1)
    assert block is not None and "tracker broke" in block["errors"][0]
    assert "per_call_j" not in block  # no figure rather than a wrong one


def test_thinned_records_keep_their_own_codecarbon_figure() -> None:
    """The recorder may drop rounds (bounded recording): each kept round keeps its own side figure."""
    tee = TeeMeter(FakeMeter([1.0, 2.0, 3.0, 4.0]), FakeMeter([10.0, 20.0, 30.0, 40.0]))
    kept = []
    for i in range(4):
        tee.start()
        m = tee.stop()
        if i % 2:  # the recorder kept rounds 1 and 3 only
            kept.append(SimpleNamespace(measurement=m, iterations=2))
    block = codecarbon_block(SimpleNamespace(meter=tee, records=kept), 2)
    assert block is not None and block["rounds_j"] == [10.0, 20.0]


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
    e = make_entry("test_a", extra={"codecarbon": {"per_call_j": {"median": 0.005}, "estimated": True}})
    assert "5 mJ*" in render(energy_table(SimpleNamespace(verdicts=[]), [e]), 140)  # type: ignore[arg-type]


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

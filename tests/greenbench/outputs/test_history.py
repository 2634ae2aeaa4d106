"""Energy history across stored runs (greenbench.outputs.history)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakes import make_entry

from greenbench.__main__ import main as cli
from greenbench.gate import GateRule
from greenbench.outputs import history


def run(n: int, energies: dict[str, float], commit: str, meter: str = "model") -> dict[str, Any]:
    return {"machine_info": {"greenbench": {"meter": {"source": meter, "estimated": True}}},
            "commit_info": {"id": commit, "time": f"2024-05-0{n}T10:00:00"},
            "datetime": f"2024-05-0{n}T10:00:00",
            "benchmarks": [make_entry(name, [e * (1 + i / 100) for i in range(10)]) for name, e in energies.items()]}


def store(tmp_path: Path, runs: list[dict[str, Any]]) -> Path:
    d = tmp_path / ".benchmarks" / "Linux-CPython-3.11-64bit"
    d.mkdir(parents=True)
    for i, r in enumerate(runs, 1):
        (d / f"{i:04d}_{r['commit_info']['id']}_20240501_uncommited-changes.json").write_text(json.dumps(r))
    return tmp_path / ".benchmarks"


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    return store(tmp_path, [
        run(1, {"test_steady": 1.0, "test_jump": 1.0}, "aaaaaaa1"),
        run(2, {"test_steady": 1.01, "test_jump": 1.02}, "bbbbbbb2"),
        run(3, {"test_steady": 0.99, "test_jump": 1.6}, "ccccccc3"),  # the planted regression
        run(4, {"test_steady": 1.0, "test_jump": 1.61}, "ddddddd4"),
    ])


def test_planted_regression_is_marked_once(storage: Path) -> None:
    runs = [history.load_run(p) for p in history.find_runs(storage)]
    series = {s.name.split("::")[-1]: s for s in history.build(runs, GateRule.parse("10%"))}
    jump = series["test_jump"]
    assert [p.run.commit for p in jump.regressions] == ["ccccccc3"]
    assert jump.regressions[0].change == pytest.approx(1.6 / 1.02 - 1, rel=0.01)
    assert series["test_steady"].regressions == []
    assert [p.run.number for p in jump.points] == [1, 2, 3, 4]


def test_writes_png_markdown_and_html(storage: Path, tmp_path: Path) -> None:
    written = history.write_history(storage, tmp_path / "hist")
    assert set(written) == {"png", "md", "html"}
    md = written["md"].read_text()
    assert "ccccccc3" in md and "2024-05-03" in md
    row = next(line for line in md.splitlines() if "test_jump" in line)
    assert "▼ +" in row and "0003 ccccccc (+5" in row
    assert "data:image/png;base64," in written["html"].read_text()
    assert written["png"].stat().st_size > 10_000


def test_a_meter_change_is_not_compared(tmp_path: Path) -> None:
    storage = store(tmp_path, [run(1, {"test_a": 1.0}, "a1"), run(2, {"test_a": 2.0}, "b2", meter="rapl")])
    runs = [history.load_run(p) for p in history.find_runs(storage)]
    (s,) = history.build(runs, GateRule.parse("10%"))
    assert s.points[1].verdict == "skipped" and "set-up changed (meter model → rapl)" in s.points[1].note
    assert len(history._segments(s.points)) == 2  # two set-ups: never joined by one line


def test_codecarbon_setting_and_machine_changes_are_set_up_changes(tmp_path: Path) -> None:
    on = run(2, {"test_a": 2.5}, "b2")
    on["machine_info"]["greenbench"]["codecarbon"] = {"on": True}
    on["machine_info"]["node"] = "ci-1"
    other = run(3, {"test_a": 2.5}, "c3")
    other["machine_info"]["greenbench"]["codecarbon"] = {"on": True}
    other["machine_info"]["node"] = "elsewhere"
    storage = store(tmp_path, [run(1, {"test_a": 1.0}, "a1"), on, other])
    runs = [history.load_run(p) for p in history.find_runs(storage)]
    (s,) = history.build(runs, GateRule.parse("10%"))
    assert [p.verdict for p in s.points] == ["", "skipped", "skipped"]  # a 2.5x step is never a regression
    assert "--energy-codecarbon off → on" in s.points[1].note
    assert "machine" in s.points[2].note and "elsewhere" in s.points[2].note
    assert len(history._segments(s.points)) == 3
    md = history.markdown([s], runs, GateRule.parse("10%"), None)
    assert md.count("set-up changed") >= 2 and "∥" in md


def test_inconclusive_steps_are_marked(tmp_path: Path) -> None:
    # +30% with rounds spread 1x-3x: the gate cannot decide
    base, wide = run(1, {"test_a": 1.0}, "a1"), run(2, {"test_a": 1.0}, "b2")
    base["benchmarks"] = [make_entry("test_a", [1.0, 2.0, 3.0])]
    wide["benchmarks"] = [make_entry("test_a", [1.3, 2.6, 3.9])]
    storage = store(tmp_path, [base, wide])
    runs = [history.load_run(p) for p in history.find_runs(storage)]
    (s,) = history.build(runs, GateRule.parse("10%"))
    assert s.points[1].verdict == "inconclusive"
    assert "◆" in history.markdown([s], runs, GateRule.parse("10%"), None)


def test_plot_uses_si_axes_bands_and_hover_areas(storage: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.axes
    from matplotlib.ticker import EngFormatter

    formatters: list[Any] = []
    fills: list[int] = []
    original_fill = matplotlib.axes.Axes.fill_between

    def fill(self: Any, *a: Any, **kw: Any) -> Any:
        fills.append(1)
        return original_fill(self, *a, **kw)

    monkeypatch.setattr(matplotlib.axes.Axes, "fill_between", fill)
    original_draw = history.atomic.save_figure

    def capture(fig: Any, path: Any, *a: Any, **kw: Any) -> Any:
        formatters.extend(ax.yaxis.get_major_formatter() for ax in fig.axes if ax.axison)
        return original_draw(fig, path, *a, **kw)

    monkeypatch.setattr(history.atomic, "save_figure", capture)
    monkeypatch.setattr(history, "commit_message", lambda commit, cwd: f"message of {commit}")
    written = history.write_history(storage, tmp_path / "hist")
    assert formatters and all(isinstance(f, EngFormatter) for f in formatters)
    assert fills  # a band per run's spread
    page = written["html"].read_text()
    assert page.count("<area ") == 8  # one per point: 2 benchmarks x 4 runs
    assert "message of ccccccc3" in page and 'usemap="#points"' in page


def test_cli(storage: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["history", "--storage", str(storage), "--out", str(tmp_path / "h")]) == 0
    assert (tmp_path / "h" / "history.png").exists()
    assert cli(["history", "--storage", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("error: ")

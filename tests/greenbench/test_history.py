"""Energy history across stored runs (greenbench.history)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakes import make_entry

from greenbench import history
from greenbench.__main__ import main as cli
from greenbench.gate import GateRule


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
    assert s.points[1].verdict == "skipped" and "meter changed" in s.points[1].note


def test_cli(storage: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["history", "--storage", str(storage), "--out", str(tmp_path / "h")]) == 0
    assert (tmp_path / "h" / "history.png").exists()
    assert cli(["history", "--storage", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("error: ")

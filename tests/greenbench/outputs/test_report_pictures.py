"""Report plots people read right (issue #23): SI ticks, no "None" legend, ids folded at boundaries."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from fakes import make_entry

from greenbench.outputs import report


@pytest.mark.parametrize("text", ["knn_predict[mnist-k=5-metric=euclidean-weights=uniform]",
                                  "bench/test_sorts.py::test_sort[python-quicksort-100000]",
                                  "x" * 60 + "[a-b]"])
def test_wrap_id_breaks_only_at_boundaries(text: str) -> None:
    wrapped = report.wrap_id(text, 20, max_lines=10)
    assert wrapped.replace("\n", "") == text  # nothing lost, nothing cut
    for line, nxt in zip(wrapped.splitlines(), wrapped.splitlines()[1:], strict=False):
        assert line.endswith(("::", "/", "-", ",")) or nxt.startswith("[")


def test_wrap_id_marks_what_it_leaves_out() -> None:
    assert report.wrap_id("a-" * 40, 10, max_lines=2).endswith("…")


def test_threads_never_none() -> None:
    assert report.threads_text(None) == "library default (OMP_NUM_THREADS not set)"
    assert report.threads_text(4) == "4"


def spy_axes(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    import matplotlib.pyplot as plt

    figures: list[Any] = []
    original = report.atomic.save_figure

    def capture(fig: Any, path: Any, *a: Any, **kw: Any) -> Any:
        fig.canvas.draw()
        figures.append(fig)
        return original(fig, path, *a, **kw)

    monkeypatch.setattr(report.atomic, "save_figure", capture)
    monkeypatch.setattr(plt, "close", lambda fig=None: None)
    return figures


def test_energy_plot_has_si_ticks_and_no_none_legend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = spy_axes(monkeypatch)
    entries = [make_entry("test_a", [0.0021]), make_entry("test_b", [0.0025])]  # no group
    assert report.plot_energy(entries, tmp_path / "e.png") is not None
    ax = figures[0].axes[0]
    assert ax.get_legend() is None
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert ticks and all(t.endswith("J") for t in ticks) and any("mJ" in t for t in ticks)


def test_pareto_x_ticks_read_as_si_and_do_not_run_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = spy_axes(monkeypatch)
    q = lambda a: {"quality": {"accuracy": a}}  # noqa: E731
    entries = [make_entry("test_a", [0.0020], extra=q(0.9)), make_entry("test_b", [0.0025], extra=q(0.95)),
               make_entry("test_c", [0.0030], extra=q(0.97))]
    assert report.plot_pareto(entries, tmp_path / "p.png") is not None
    ax = figures[0].axes[0]
    ticks = [t for t in ax.get_xticklabels() if t.get_text()]
    assert 2 <= len(ticks) <= 6 and all("mJ" in t.get_text() for t in ticks)
    renderer = figures[0].canvas.get_renderer()
    boxes = sorted((t.get_window_extent(renderer) for t in ticks), key=lambda b: b.x0)
    assert all(a.x1 <= b.x0 for a, b in itertools.pairwise(boxes))  # no two labels overlap

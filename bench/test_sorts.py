"""Sort benchmarks: C (cffi) vs pure Python, next to the sorts people really use.

The study (Green AI guide, Table 3) sorted 1,000,000 items under RAPL: heap
sort C 0.74 s / 11.36 J vs Python 6.5 s / 66.26 J; selection sort C
1,091.76 s / 16,547 J vs about 7,384 s / 70,000 J in Python (estimated).
Here: both algorithms in C (``native``) and as pure-Python twins
(``native.pysorts``), plus ``sorted()``, ``list.sort``, numpy's default sort
and numpy's ``kind="heapsort"`` for the O(n log n) family.

What is timed: one in-place sort of a fresh copy of the same random input
(uniform int64 in [0, 2**31), fixed seed per n); the copy is made in
``setup``, outside the timed call, so no round sees sorted input.  ``sorted()``
returns a new list, as it does for its users.  Every benchmark first sorts one
copy untimed, checks it against ``numpy.sort`` and uses its duration to pick
the round count.

Sizes (``--workload-size``):

* quick — heap sort 10^3…10^6 in C and the baselines, 10^3…10^5 in pure
  Python; selection sort 10^3…5·10^3.  About a minute on 2 shared cores.
* full — heap sort to 10^6 for everything (pure Python ~5–9 s a call),
  selection sort to 2·10^4; the O(n²) fit extrapolates to 10^6 in the report.

At the end of the module the C vs Python time (and energy) ratios measured
in this run are printed next to the study's and Pereira et al.'s.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import native
from bench.sections import sorts as section
from greenbench import results
from greenbench.outputs.terminal import write_section
from native import pysorts

SEED = 2017  # the year of Pereira et al.'s first ranking; any fixed seed will do
INPUT_HIGH = 2**31  # values uniform in [0, INPUT_HIGH): C rand()-sized, one-digit Python ints
INPUT_DESCRIPTION = "uniform int64 in [0, 2**31)"


@dataclass(frozen=True)
class Impl:
    label: str
    language: str
    container: str  # "ndarray" or "list"
    run: Callable[[Any], Any]  # sorts its argument (in place) or returns a sorted copy
    note: str


def _c_heap(a: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    native.heap_sort_inplace(a)
    return a


def _c_selection(a: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    native.selection_sort_inplace(a)
    return a


def _py_heap(a: list[int]) -> list[int]:
    pysorts.heap_sort_inplace(a)
    return a


def _py_selection(a: list[int]) -> list[int]:
    pysorts.selection_sort_inplace(a)
    return a


def _list_sort(a: list[int]) -> list[int]:
    a.sort()
    return a


def _numpy_default(a: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    a.sort()
    return a


def _numpy_heapsort(a: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    a.sort(kind="heapsort")
    return a


IMPLS: dict[str, Impl] = {
    "c-heap": Impl("C heap sort (cffi)", "C", "ndarray", _c_heap, "native.heap_sort_inplace"),
    "python-heap": Impl("Python heap sort", "Python", "list", _py_heap, "native.pysorts.heap_sort_inplace"),
    "c-selection": Impl("C selection sort (cffi)", "C", "ndarray", _c_selection,
                        "native.selection_sort_inplace"),
    "python-selection": Impl("Python selection sort", "Python", "list", _py_selection,
                             "native.pysorts.selection_sort_inplace"),
    "sorted": Impl("sorted()", "Python (C timsort)", "list", sorted, "builtin sorted(list) -> new list"),
    "list.sort": Impl("list.sort()", "Python (C timsort)", "list", _list_sort, "list.sort() in place"),
    "numpy": Impl("numpy sort (default kind)", "numpy", "ndarray", _numpy_default, "ndarray.sort() in place"),
    "numpy-heapsort": Impl("numpy sort kind='heapsort'", "numpy", "ndarray", _numpy_heapsort,
                           "ndarray.sort(kind='heapsort') in place; numpy 2.x may not run a heap sort"),
}

HEAP_FAMILY = ("c-heap", "python-heap", "sorted", "list.sort", "numpy", "numpy-heapsort")
SELECTION_FAMILY = ("c-selection", "python-selection")

HEAP_SIZES = (10**3, 10**4, 10**5, 10**6)
SELECTION_SIZES = (10**3, 2 * 10**3, 5 * 10**3, 10**4, 2 * 10**4)

#: largest n per implementation and workload size (pure Python heap sort at
#: 10^6 takes 5–9 s a call here; selection sort is O(n²))
MAX_N: dict[str, dict[str, int]] = {
    "quick": {"python-heap": 10**5, "c-selection": 5 * 10**3, "python-selection": 5 * 10**3},
    "full": {"c-selection": 2 * 10**4, "python-selection": 2 * 10**4},
}


@dataclass(frozen=True)
class Rounds:
    target_s: float  # aim for about this much timed work per benchmark
    least: int
    most: int


ROUNDS = {"quick": Rounds(target_s=0.25, least=3, most=40), "full": Rounds(target_s=1.5, least=5, most=200)}


def cases(workload_size: str, algorithm: str) -> list[tuple[str, int]]:
    family, sizes = (HEAP_FAMILY, HEAP_SIZES) if algorithm == "heap" else (SELECTION_FAMILY, SELECTION_SIZES)
    caps = MAX_N[workload_size]
    return [(impl, n) for impl in family for n in sizes if n <= caps.get(impl, 10**6)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Collect only the (implementation, n) pairs of the chosen workload size."""
    size = str(metafunc.config.getoption("workload_size", default="quick"))
    for name, algorithm in (("heap_case", "heap"), ("selection_case", "selection")):
        if name in metafunc.fixturenames:
            found = cases(size, algorithm)
            metafunc.parametrize(name, found, ids=[f"{impl}-{n}" for impl, n in found])


@cache
def source_array(n: int) -> npt.NDArray[np.int64]:
    """The input for size n (same for every implementation), read-only."""
    a = np.random.default_rng([SEED, n]).integers(0, INPUT_HIGH, n, dtype=np.int64)
    a.flags.writeable = False
    return a


@cache
def sorted_reference(n: int) -> npt.NDArray[np.int64]:
    return np.sort(source_array(n))


def rounds_for(once_s: float, workload_size: str) -> int:
    r = ROUNDS[workload_size]
    wanted = math.ceil(r.target_s / max(once_s, 1e-9))
    return max(r.least, min(r.most, wanted))


@dataclass
class Entry:
    impl: str
    n: int
    time_min_s: float
    extra_info: dict[str, Any]  # the fixture's own dict: the plugin adds "energy" after the call


class RatioBoard:
    """What this module measured, for the side-by-side ratios printed at its end."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, int], Entry] = {}

    def add(self, entry: Entry) -> None:
        self.entries[(entry.impl, entry.n)] = entry

    def energy_min_j(self, entry: Entry) -> float:
        return results.energy_j({"extra_info": entry.extra_info}, "min")

    def cpu_s(self, entry: Entry) -> float:
        """Mean CPU time per call, from the plugin's energy block (NaN without one)."""
        block = results.energy({"extra_info": entry.extra_info}) or {}
        value = block.get("cpu_time_s")
        return float(value) if isinstance(value, (int, float)) else math.nan

    def lines(self) -> list[str]:
        out = []
        for c_impl, py_impl, study in (
            ("c-heap", "python-heap", section.STUDY_HEAP),
            ("c-selection", "python-selection", section.STUDY_SELECTION),
        ):
            common = sorted(n for (impl, n) in self.entries
                            if impl == c_impl and (py_impl, n) in self.entries)
            for n in common:
                c, py = self.entries[(c_impl, n)], self.entries[(py_impl, n)]
                t_ratio = py.time_min_s / c.time_min_s if c.time_min_s > 0 else math.nan
                e_c, e_py = self.energy_min_j(c), self.energy_min_j(py)
                e_ratio = e_py / e_c if e_c > 0 else math.nan
                est = results.is_estimated({"extra_info": c.extra_info}) or results.is_estimated(
                    {"extra_info": py.extra_info}
                )
                e_text = results.mark(f"{e_ratio:.1f}×", est) if math.isfinite(e_ratio) else "-"
                cpu_c, cpu_py = self.cpu_s(c), self.cpu_s(py)
                cpu_ratio = cpu_py / cpu_c if cpu_c > 0 else math.nan
                out.append(
                    f"{c_impl.split('-')[1]:9s} n={n:>9,}  Python/C time {t_ratio:6.1f}×  "
                    f"CPU time {cpu_ratio:6.1f}×  energy {e_text:>8s}"
                    f"   | study at 10^6: time {study.time_ratio:.2f}×, energy {study.energy_ratio:.2f}×"
                    f"{'*' if study.python_estimated else ''}"
                    f" | Pereira et al. 2017 (energy): {section.PEREIRA_PYTHON_ENERGY:.2f}×"
                )
        return out


@pytest.fixture(scope="module")
def ratio_board(request: pytest.FixtureRequest) -> Iterator[RatioBoard]:
    board = RatioBoard()
    yield board
    lines = board.lines()
    if lines:
        legend = results.ESTIMATED_LEGEND.strip("`* ")
        lines.append(f"* {legend}; the study's Python selection sort figures are estimated too")
    write_section(request.config, "C vs Python sorts, measured side by side in this run (min over rounds)", lines)


def _run(
    benchmark: Any, impl_key: str, n: int, *, algorithm: str, workload_size: str, board: RatioBoard
) -> None:
    impl = IMPLS[impl_key]
    src = source_array(n)
    make: Callable[[], Any] = src.copy if impl.container == "ndarray" else src.tolist

    probe = make()
    t0 = time.perf_counter()
    out = impl.run(probe)
    once_s = time.perf_counter() - t0
    assert np.array_equal(np.asarray(out), sorted_reference(n)), f"{impl_key} did not sort n={n}"

    benchmark.extra_info["sort"] = {
        "algorithm": algorithm,
        "impl": impl_key,
        "label": impl.label,
        "language": impl.language,
        "n": n,
        "dtype": "int64",
        "input": INPUT_DESCRIPTION,
        "seed": SEED,
        "container": impl.container,
        "timed": impl.note + "; fresh copy made in setup, untimed",
        "workload_size": workload_size,
    }
    benchmark.extra_info["numpy_version"] = np.__version__
    benchmark.extra_info["python_version"] = platform.python_version()
    if impl.language == "C":
        benchmark.extra_info["native_build"] = native.build_info()

    benchmark.pedantic(
        impl.run, setup=lambda: ((make(),), {}), rounds=rounds_for(once_s, workload_size),
        iterations=1, warmup_rounds=0,
    )
    stats = getattr(getattr(benchmark, "stats", None), "stats", None)
    if stats is not None:
        board.add(Entry(impl_key, n, float(stats.min), benchmark.extra_info))


@pytest.mark.benchmark(group="sorts-heap")
def test_heap_sort(
    benchmark: Any, heap_case: tuple[str, int], workload_size: str, ratio_board: RatioBoard
) -> None:
    """O(n log n): C and pure-Python heap sort, timsort (sorted, list.sort), numpy."""
    impl, n = heap_case
    _run(benchmark, impl, n, algorithm="heap", workload_size=workload_size, board=ratio_board)


@pytest.mark.benchmark(group="sorts-selection")
def test_selection_sort(
    benchmark: Any, selection_case: tuple[str, int], workload_size: str, ratio_board: RatioBoard
) -> None:
    """O(n²): C and pure-Python selection sort (the report extrapolates to 10^6)."""
    impl, n = selection_case
    _run(benchmark, impl, n, algorithm="selection", workload_size=workload_size, board=ratio_board)

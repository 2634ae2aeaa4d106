"""C sorts (native) and their pure-Python twins: order, purity, boundary checks.

Order under test (native/__init__.py): numpy.sort's order, NaNs last, and
-0.0 before +0.0.  ``reference`` builds that order independently of the code
under test: numpy's stable lexsort on (value, zero sign).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import native
from native import pysorts

I64 = np.iinfo(np.int64)

int_elements = st.one_of(st.integers(I64.min, I64.max), st.sampled_from([I64.min, I64.max, 0, -1, 1]))
float_elements = st.one_of(
    st.floats(width=64, allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, 5e-324, -1.7976931348623157e308]),
)


def int_arrays(max_size: int) -> st.SearchStrategy[npt.NDArray[np.int64]]:
    return hnp.arrays(np.int64, st.integers(0, max_size), elements=int_elements)


def float_arrays(max_size: int) -> st.SearchStrategy[npt.NDArray[np.float64]]:
    return hnp.arrays(np.float64, st.integers(0, max_size), elements=float_elements)


def reference(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``a`` in the documented order: by value (NaN last), ties of zeros by sign (-0.0 first)."""
    if a.dtype.kind != "f":
        return np.sort(a, kind="stable")
    return a[np.lexsort((~np.signbit(a), a))]


def assert_sorted_like_reference(result: Any, a: npt.NDArray[Any]) -> None:
    got = np.asarray(result, dtype=a.dtype)
    assert got.shape == a.shape
    # the required baseline: equal to numpy.sort (which treats -0.0 == 0.0, NaN == NaN here)
    assert np.array_equal(got, np.sort(a), equal_nan=True)
    ref = reference(a)
    assert np.array_equal(got, ref, equal_nan=True)
    if a.dtype.kind == "f":
        finite = ~np.isnan(ref)
        assert np.array_equal(np.signbit(got[finite]), np.signbit(ref[finite])), "-0.0 must precede +0.0"
        # NaNs keep their bits (sign, payload); only their relative order is free
        nan_bits = np.sort(got[~finite].view(np.uint64))
        assert np.array_equal(nan_bits, np.sort(a[np.isnan(a)].view(np.uint64)))


C_SORTS: list[Callable[[Any], Any]] = [native.heap_sort, native.selection_sort]
PY_SORTS: list[Callable[[Any], Any]] = [pysorts.heap_sort, pysorts.selection_sort]
ALL_SORTS = C_SORTS + PY_SORTS
ids = ["c-heap", "c-selection", "py-heap", "py-selection"]


# ---------------------------------------------------------------- C sorts

@pytest.mark.parametrize("sort", C_SORTS, ids=ids[:2])
@settings(deadline=None, max_examples=150)
@given(a=int_arrays(300))
def test_c_sorts_int64_match_numpy(sort: Callable[[Any], Any], a: npt.NDArray[np.int64]) -> None:
    before = a.copy()
    result = sort(a)
    assert result.dtype == np.int64
    assert_sorted_like_reference(result, a)
    assert np.array_equal(a, before)  # input untouched


@pytest.mark.parametrize("sort", C_SORTS, ids=ids[:2])
@settings(deadline=None, max_examples=150)
@given(a=float_arrays(300))
def test_c_sorts_float64_match_numpy(sort: Callable[[Any], Any], a: npt.NDArray[np.float64]) -> None:
    before = a.tobytes()
    result = sort(a)
    assert result.dtype == np.float64
    assert_sorted_like_reference(result, a)
    assert a.tobytes() == before  # bit for bit, NaN payloads and zero signs included


@pytest.mark.parametrize("kind", ["heap", "selection"])
@settings(deadline=None, max_examples=60)
@given(a=st.one_of(int_arrays(200), float_arrays(200)))
def test_c_inplace_sorts_the_array_itself(kind: str, a: npt.NDArray[Any]) -> None:
    expected = reference(a)
    work = a.copy()
    (native.heap_sort_inplace if kind == "heap" else native.selection_sort_inplace)(work)
    assert_sorted_like_reference(work, a)
    assert np.array_equal(work, expected, equal_nan=True)


def test_c_sorts_a_large_random_array() -> None:
    rng = np.random.default_rng(7)
    a = rng.integers(-(10**6), 10**6, 50_000)
    assert np.array_equal(native.heap_sort(a), np.sort(a))
    f = rng.standard_normal(3_000)
    f[::97] = np.nan
    f[::89] = -0.0
    assert_sorted_like_reference(native.selection_sort(f), f)


def test_c_sorts_strided_and_byteswapped_inputs_untouched() -> None:
    base = np.arange(20, 0, -1, dtype=np.int64)
    view = base[::2]
    assert np.array_equal(native.heap_sort(view), np.sort(view))
    assert np.array_equal(base, np.arange(20, 0, -1))
    swapped = np.array([3.0, -1.0, 2.0], dtype=">f8")
    assert np.array_equal(native.selection_sort(swapped), [-1.0, 2.0, 3.0])
    assert swapped.dtype == np.dtype(">f8")


# ---------------------------------------------------------------- Python twins

@pytest.mark.parametrize("sort", PY_SORTS, ids=ids[2:])
@settings(deadline=None, max_examples=80)
@given(a=st.one_of(int_arrays(60), float_arrays(60)))
def test_python_twins_match_numpy(sort: Callable[[Any], Any], a: npt.NDArray[Any]) -> None:
    before = a.tobytes()
    result = sort(a)
    assert isinstance(result, list)
    assert_sorted_like_reference(result, a)
    assert a.tobytes() == before


@pytest.mark.parametrize("sort", PY_SORTS, ids=ids[2:])
@settings(deadline=None, max_examples=60)
@given(items=st.lists(st.one_of(st.integers(I64.min, I64.max), float_elements), max_size=60))
def test_python_twins_take_sequences_and_agree_with_c(sort: Callable[[Any], Any], items: list[Any]) -> None:
    before = list(items)
    a = np.asarray(items)
    result = sort(items)
    assert_sorted_like_reference(result, a)
    c_twin = native.heap_sort if sort is pysorts.heap_sort else native.selection_sort
    assert np.array_equal(c_twin(items), np.asarray(result, dtype=a.dtype), equal_nan=True)
    assert all(x is y for x, y in zip(items, before, strict=True))


def test_python_inplace_twins_on_plain_lists() -> None:
    items = [3, -1, 2, 2, -(2**63), 2**63 - 1]
    pysorts.heap_sort_inplace(items)
    assert items == sorted([3, -1, 2, 2, -(2**63), 2**63 - 1])
    floats = [0.0, float("nan"), -0.0, 1.5, float("-inf"), 0.0, -0.0]
    pysorts.selection_sort_inplace(floats)
    assert [repr(x) for x in floats] == ["-inf", "-0.0", "-0.0", "0.0", "0.0", "1.5", "nan"]


# ---------------------------------------------------------------- boundary

@pytest.mark.parametrize("sort", ALL_SORTS, ids=ids)
def test_sequences_are_converted(sort: Callable[[Any], Any]) -> None:
    assert list(sort([3, 1, 2])) == [1, 2, 3]
    assert np.asarray(sort((2.5, 1, -0.0))).tolist() == [-0.0, 1.0, 2.5]
    assert len(sort([])) == 0
    assert list(sort([42])) == [42]


BAD_TYPES = [
    np.array([True, False]),
    np.array([1, "a"], dtype=object),
    ["a", "b"],
    "abc",
    np.array([1, 2], dtype=np.int32),
    np.array([1.0], dtype=np.float32),
    np.array([2**63], dtype=np.uint64),
    [2**70],
    [None, 1],
]
BAD_SHAPES = [np.zeros((2, 2)), np.int64(3), 5.0, [[1, 2], [3]]]


@pytest.mark.parametrize("sort", ALL_SORTS, ids=ids)
@pytest.mark.parametrize("bad", BAD_TYPES, ids=lambda v: type(v).__name__ + str(getattr(v, "dtype", "")))
def test_wrong_dtypes_are_rejected(sort: Callable[[Any], Any], bad: Any) -> None:
    with pytest.raises(TypeError, match=r"^values: expected .*(int64|float64)"):
        sort(bad)


@pytest.mark.parametrize("sort", ALL_SORTS, ids=ids)
@pytest.mark.parametrize("bad", BAD_SHAPES, ids=["2d", "np-scalar", "float", "ragged"])
def test_wrong_shapes_are_rejected(sort: Callable[[Any], Any], bad: Any) -> None:
    with pytest.raises(ValueError, match=r"^values: expected (a 1-D|.*1-D)"):
        sort(bad)


@pytest.mark.parametrize("fn", [native.heap_sort_inplace, native.selection_sort_inplace])
def test_inplace_rejects_what_it_cannot_sort_in_place(fn: Callable[[Any], None]) -> None:
    with pytest.raises(TypeError, match=r"^array: expected a numpy array"):
        fn([3, 1])
    with pytest.raises(TypeError, match=r"^array: expected native-endian int64 or float64"):
        fn(np.array([1, 2], dtype=np.int32))
    with pytest.raises(ValueError, match=r"^array: expected a contiguous, writeable"):
        fn(np.arange(6, dtype=np.int64)[::2])
    frozen = np.arange(3, dtype=np.int64)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match=r"^array: expected a contiguous, writeable"):
        fn(frozen)
    with pytest.raises(ValueError, match=r"^array: expected a 1-D array"):
        fn(np.zeros((2, 2)))

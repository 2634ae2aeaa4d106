"""Pure-Python twins of the C sorts (the study's interpreted side).

Line for line the same algorithms as ``native/sorts.c``: the in-place
functions take a plain ``list`` and use only ``<`` in their loops; floats get
the same two O(n) passes (NaNs to the end first, then -0.0 before +0.0).
``heap_sort`` / ``selection_sort`` validate like the C entry points and
return a new sorted ``list``; the input is never modified.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from native._boundary import as_sortable

__all__ = ["heap_sort", "heap_sort_inplace", "selection_sort", "selection_sort_inplace"]


def _sift_down(a: list[Any], root: int, end: int) -> None:
    v = a[root]
    while True:
        child = 2 * root + 1
        if child >= end:
            break
        if child + 1 < end and a[child] < a[child + 1]:
            child += 1
        if not v < a[child]:
            break
        a[root] = a[child]
        root = child
    a[root] = v


def _heap_sort_plain(a: list[Any], n: int) -> None:
    if n < 2:
        return
    for i in range(n // 2 - 1, -1, -1):
        _sift_down(a, i, n)
    for end in range(n - 1, 0, -1):
        a[0], a[end] = a[end], a[0]
        _sift_down(a, 0, end)


def _selection_sort_plain(a: list[Any], n: int) -> None:
    for i in range(n - 1):
        m = i
        for j in range(i + 1, n):
            if a[j] < a[m]:
                m = j
        if m != i:
            a[i], a[m] = a[m], a[i]


def _nans_to_end(a: list[Any]) -> int:
    w = 0
    for i, x in enumerate(a):
        if not (isinstance(x, float) and math.isnan(x)):
            a[w], a[i] = x, a[w]
            w += 1
    return w


def _order_signed_zeros(a: list[Any], m: int) -> None:
    lo, hi = 0, m
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < 0.0:
            lo = mid + 1
        else:
            hi = mid
    end, negative = lo, 0
    while end < m and a[end] == 0.0:
        negative += math.copysign(1.0, a[end]) < 0
        end += 1
    for i in range(lo, end):
        a[i] = -0.0 if i - lo < negative else 0.0


def _has_floats(a: list[Any]) -> bool:
    return any(isinstance(x, float) for x in a)


def _sort_in_native_order(items: list[Any], plain_sort: Callable[[list[Any], int], None]) -> None:
    """Run ``plain_sort`` (plain ``<``) on the non-NaN prefix, then fix NaN and signed-zero order."""
    if _has_floats(items):
        m = _nans_to_end(items)
        plain_sort(items, m)
        _order_signed_zeros(items, m)
    else:
        plain_sort(items, len(items))


def heap_sort_inplace(items: list[Any]) -> None:
    """Heap sort a list of ints or floats in place (order as in ``native``)."""
    _sort_in_native_order(items, _heap_sort_plain)


def selection_sort_inplace(items: list[Any]) -> None:
    """Selection sort a list of ints or floats in place (order as in ``native``)."""
    _sort_in_native_order(items, _selection_sort_plain)


def heap_sort(values: Any) -> list[Any]:
    """Sorted copy (a list) of int64/float64 ``values``, by pure-Python heap sort."""
    items: list[Any] = as_sortable(values).tolist()
    heap_sort_inplace(items)
    return items


def selection_sort(values: Any) -> list[Any]:
    """Sorted copy (a list) of int64/float64 ``values``, by pure-Python selection sort."""
    items: list[Any] = as_sortable(values).tolist()
    selection_sort_inplace(items)
    return items

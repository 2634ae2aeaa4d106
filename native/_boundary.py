"""Validation at the Python boundary of the sorts (shared by C and Python twins).

Accepted: a 1-D numpy array of int64 or float64 (any byte order, any
strides), or a Python sequence that numpy turns into one of those.  Anything
else (bool, object, str, other widths, 0-D or 2-D) raises a one-line
TypeError/ValueError naming the argument and what was expected; nothing is
cast silently.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

EXPECTED = "a 1-D sequence or numpy array of int64 or float64 numbers"


def as_sortable(values: Any, name: str = "values") -> npt.NDArray[Any]:
    """A fresh, C-contiguous, native-endian int64/float64 1-D copy of ``values``."""
    if isinstance(values, (str, bytes, bytearray)):
        raise TypeError(f"{name}: expected {EXPECTED}, got {type(values).__name__}")
    if not isinstance(values, np.ndarray):
        try:
            values = np.asarray(values)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"{name}: expected {EXPECTED} ({exc})") from None
    dtype = values.dtype
    if dtype.kind == "i" and dtype.itemsize == 8:
        target: type[np.generic] = np.int64
    elif dtype.kind == "f" and dtype.itemsize == 8:
        target = np.float64
    else:
        raise TypeError(f"{name}: expected int64 or float64 values, got dtype {dtype}")
    if values.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got {values.ndim}-D with shape {values.shape}")
    return np.array(values, dtype=target, order="C", copy=True)


def check_inplace(values: Any, name: str = "values") -> npt.NDArray[Any]:
    """``values`` itself when it can be sorted in place by the C code."""
    if not isinstance(values, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array to sort in place, got {type(values).__name__}")
    if values.dtype not in (np.dtype(np.int64), np.dtype(np.float64)):
        raise TypeError(f"{name}: expected native-endian int64 or float64 values, got dtype {values.dtype}")
    if values.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got {values.ndim}-D with shape {values.shape}")
    if not values.flags.c_contiguous or not values.flags.writeable:
        raise ValueError(f"{name}: expected a contiguous, writeable array (use numpy.ascontiguousarray)")
    return values

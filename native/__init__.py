"""C sorts through cffi (API mode), with their pure-Python twins.

Public API
----------
``heap_sort(values)``, ``selection_sort(values)``
    Sorted copy (``numpy.ndarray``, same dtype) of a 1-D int64/float64 array
    or a Python sequence numpy turns into one; the input is never modified.
``heap_sort_inplace(array)``, ``selection_sort_inplace(array)``
    Sort a contiguous, writeable 1-D int64/float64 ``numpy.ndarray`` in place
    (what the benchmarks time: no copy inside the measured call).
``build_info()``
    Compiler, its version and flags the extension was built with.
``available()``
    Whether the extension is built; ``NativeUnavailable`` otherwise says how.
:mod:`native.pysorts`
    The same two algorithms in pure Python.

Order (same as ``numpy.sort``, with signed zeros pinned down)::

    -inf < ... < -0.0 < +0.0 < ... < +inf < NaN (all NaNs last)

May import: numpy, cffi's built module, :mod:`greenbench.errors`; nothing of
``bench``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import numpy.typing as npt

from greenbench.errors import GreenbenchError
from native._boundary import as_sortable, check_inplace

__all__ = [
    "NativeUnavailable",
    "available",
    "build_info",
    "heap_sort",
    "heap_sort_inplace",
    "selection_sort",
    "selection_sort_inplace",
]

BUILD_HINT = (
    "native extension not built: install a C compiler (Debian/Ubuntu: apt-get install "
    "build-essential python3-dev) and build it in place: python native/_ffi_build.py"
)


class NativeUnavailable(ImportError, GreenbenchError):
    """The compiled ``native._sorts`` module is missing (message says how to build it)."""


try:
    from native._sorts import ffi as _ffi
    from native._sorts import lib as _lib
except ImportError as _exc:  # pragma: no cover - exercised on machines without the build
    _ffi = _lib = None
    _IMPORT_ERROR: str | None = f"{BUILD_HINT} ({_exc})"
else:
    _IMPORT_ERROR = None


def available() -> bool:
    """True when the C extension was built and imports."""
    return _lib is not None


def _require() -> Any:
    if _lib is None:
        raise NativeUnavailable(_IMPORT_ERROR or BUILD_HINT)
    return _lib


def build_info() -> dict[str, Any]:
    """How the extension was built: compiler, version, flags (recorded at build time).

    ``compiled_with`` is the compiler's own ``__VERSION__`` and ``optimized``
    whether ``__OPTIMIZE__`` was defined, both read from the built module.
    """
    lib = _require()
    info: dict[str, Any] = json.loads(_ffi.string(lib.gb_build_info()).decode("ascii"))
    info["compiled_with"] = _ffi.string(lib.gb_compiler_version()).decode("ascii", "replace")
    info["optimized"] = bool(lib.gb_optimized())
    return info


def _call(kind: str, array: npt.NDArray[Any]) -> None:
    """Run the C sort ``kind`` on ``array`` in place.

    ``array`` and the cffi buffer both stay referenced for the whole call (a
    cast of ``from_buffer`` on a temporary once crashed a prototype).
    """
    lib = _require()
    n = int(array.shape[0])
    if n < 2:
        return
    if array.dtype == np.int64:
        buf = _ffi.from_buffer("int64_t[]", array, require_writable=True)
        fn = lib.gb_heap_sort_i64 if kind == "heap" else lib.gb_selection_sort_i64
    else:
        buf = _ffi.from_buffer("double[]", array, require_writable=True)
        fn = lib.gb_heap_sort_f64 if kind == "heap" else lib.gb_selection_sort_f64
    fn(buf, n)
    del buf  # released only after the call returned


def heap_sort(values: Any) -> npt.NDArray[Any]:
    """Sorted copy of int64/float64 ``values`` by C heap sort (O(n log n))."""
    _require()
    out = as_sortable(values)
    _call("heap", out)
    return out


def selection_sort(values: Any) -> npt.NDArray[Any]:
    """Sorted copy of int64/float64 ``values`` by C selection sort (O(n²))."""
    _require()
    out = as_sortable(values)
    _call("selection", out)
    return out


def heap_sort_inplace(array: npt.NDArray[Any]) -> None:
    """Sort a contiguous writeable 1-D int64/float64 array in place by C heap sort."""
    _call("heap", check_inplace(array, "array"))


def selection_sort_inplace(array: npt.NDArray[Any]) -> None:
    """Sort a contiguous writeable 1-D int64/float64 array in place by C selection sort."""
    _call("selection", check_inplace(array, "array"))

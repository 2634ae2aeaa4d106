"""Python-level attribution of a counted benchmark: deterministic counts per Python function (issue #24).

Callgrind sees the interpreter's C functions (``_PyEval_EvalFrameDefault``,
``list_sort_impl``...), not the Python functions they run.  This module runs
the benchmark's function **once more, natively, after the measured rounds**
(under the counted run's Valgrind but with instrumentation off, so it changes
no counted figure) with the interpreter's own hooks:

* ``sys.settrace`` with ``frame.f_trace_opcodes``: per Python function
  (``module.qualname``, ``file:line``), the calls (generator resumptions
  included), lines and bytecodes executed in its own code (self);
* ``sys.setprofile``: calls of C functions and methods (``builtins.sorted``,
  ``numpy.ndarray.copy``).

The counts are deterministic for deterministic code (no clocks, no sampling).
They are *counts*, not energy: the Python level says which Python functions
ran more, the native level (greenbench.meters.counted.profile) says where the joules went.
(``sys.monitoring`` on 3.12+ would be cheaper; the trace hooks work on every
supported version and this pass runs once per benchmark, so they are used.)

The extra call runs in a forked child process (where the OS can fork), so it
leaves nothing behind -- no heap state that would move the next benchmark's
counts, no mutated arguments -- and its counts come back through a pipe.

When it runs (``GREENBENCH_PYPROFILE``): ``flagged`` (default) -- only for
benchmarks whose counted energy per call moved beyond the gate's threshold
(``--energy-compare-fail``, else 10%) against the compared baseline; ``all``
-- every counted benchmark (save baselines this way to get Python-level
diffs: a diff needs the counts in both runs); ``0`` -- never.

Imports: stdlib only (greenbench.errors lazily).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from types import CodeType, FrameType
from typing import Any

MODE_ENV = "GREENBENCH_PYPROFILE"
MODES = ("flagged", "all", "0")
#: Python functions kept: those making this share of the bytecodes, at most MAX_FUNCTIONS
COVERAGE = 0.99
MAX_FUNCTIONS = 24
#: C functions kept: the most-called, at most MAX_C_FUNCTIONS
MAX_C_FUNCTIONS = 12
#: default threshold for ``flagged`` without --energy-compare-fail
DEFAULT_THRESHOLD = 0.10
COLUMNS = "function\tfile:line (empty for C functions)\tcalls\tlines\tbytecodes"
SOURCE = "sys.settrace (opcodes, lines) + sys.setprofile (C calls): one extra uninstrumented call after the rounds"


def mode(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    raw = env.get(MODE_ENV, "flagged").strip().lower() or "flagged"
    if raw in ("0", "off", "no", "none", "false"):
        return "0"
    if raw not in MODES:
        from greenbench.errors import ConfigError

        raise ConfigError(f"{MODE_ENV}={raw!r}: expected one of flagged, all, 0")
    return raw


def _c_name(fn: Any) -> str:
    """``module.qualname`` of a C function or method object."""
    qual = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    owner = getattr(fn, "__self__", None)
    mod = getattr(fn, "__module__", None)
    if not mod and owner is not None and not isinstance(owner, type(sys)):
        mod = getattr(type(owner), "__module__", None)
    if not mod and isinstance(owner, type(sys)):
        mod = owner.__name__
    return f"{mod}.{qual}" if mod and not str(qual).startswith(f"{mod}.") else str(qual)


def short_file(path: str) -> str:
    """A source path as stored: relative to the working directory when inside it, from ``site-packages/`` on."""
    marker = "site-packages/"
    if marker in path:
        return path.split(marker, 1)[1]
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return rel if not rel.startswith("..") else path


def count(function: Callable[..., Any], args: Any = (), kwargs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Call ``function(*args, **kwargs)`` once under the trace hooks; per-function counts of that call."""
    per_code: dict[CodeType, list[Any]] = {}  # code -> [calls, lines, bytecodes, module]
    c_calls: dict[Any, int] = {}

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        row = per_code[frame.f_code]
        if event == "opcode":
            row[2] += 1
        elif event == "line":
            row[1] += 1
        return local

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:
        if event != "call":
            return None
        code = frame.f_code
        row = per_code.get(code)
        if row is None:
            row = per_code[code] = [0, 0, 0, frame.f_globals.get("__name__", "?")]
        row[0] += 1
        frame.f_trace_opcodes = True
        return local

    def on_profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "c_call":
            key = arg
            c_calls[key] = c_calls.get(key, 0) + 1

    old_trace, old_profile = sys.gettrace(), sys.getprofile()
    sys.settrace(on_call)
    sys.setprofile(on_profile)
    try:
        function(*tuple(args or ()), **dict(kwargs or {}))
    finally:
        sys.setprofile(old_profile)
        sys.settrace(old_trace)
    py: dict[tuple[str, str], list[int]] = {}
    for code, (calls, lines, ops, module) in per_code.items():
        name = f"{module}.{getattr(code, 'co_qualname', code.co_name)}"
        where = f"{short_file(code.co_filename)}:{code.co_firstlineno}"
        row = py.setdefault((name, where), [0, 0, 0])
        row[0] += calls
        row[1] += lines
        row[2] += ops
    c: dict[str, int] = {}
    for fn, n in c_calls.items():
        if fn is sys.setprofile or fn is sys.settrace:
            continue
        name = _c_name(fn)
        c[name] = c.get(name, 0) + n
    return summarize(py, c)


def summarize(py: Mapping[tuple[str, str], list[int]], c: Mapping[str, int], *, coverage: float = COVERAGE,
              most: int = MAX_FUNCTIONS, most_c: int = MAX_C_FUNCTIONS) -> dict[str, Any]:
    """The stored form: top Python functions by bytecodes (``coverage`` of them), top C functions by calls."""
    total = sum(r[2] for r in py.values())
    rows: list[str] = []
    acc = 0
    other = [0, 0, 0]
    for (name, where), (calls, lines, ops) in sorted(py.items(), key=lambda kv: (-kv[1][2], -kv[1][0], kv[0])):
        if (total and acc >= coverage * total) or len(rows) >= most:
            other = [other[0] + calls, other[1] + lines, other[2] + ops]
            continue
        acc += ops
        rows.append(f"{name}\t{where}\t{calls}\t{lines}\t{ops}")
    c_rows = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))
    for name, n in c_rows[:most_c]:
        rows.append(f"{name}\t\t{n}\t0\t0")
    other_c = sum(n for _, n in c_rows[most_c:])
    return {"level": "python", "source": SOURCE, "per": "call", "bytecodes": total, "columns": COLUMNS,
            "functions": rows, "other": other, "other_c_calls": other_c}


# -- hooks: capture the benchmarked function; run the pass after the rounds ------------------------------

def capture(fixture: Any) -> None:
    """Remember the function pytest-benchmark measures (``fixture._make_runner`` is called with it)."""
    make = getattr(fixture, "_make_runner", None)
    if make is None:
        return

    def make_runner(function: Any, args: Any, kwargs: Any) -> Any:
        fixture._gb_call = (function, args, kwargs)
        return make(function, args, kwargs)

    fixture._make_runner = make_runner


def _threshold(config: Any) -> float:
    expr = None
    if config is not None:
        try:
            expr = config.getoption("energy_compare_fail", None)
        except (ValueError, AttributeError):
            expr = None
    if expr:
        from greenbench.gate import GateRule

        return GateRule.parse(str(expr)).threshold
    return DEFAULT_THRESHOLD


def baseline_entry(config: Any, fullname: str) -> Mapping[str, Any] | None:
    """This benchmark's entry in the newest compared pytest-benchmark file, if any."""
    bs = getattr(config, "_benchmarksession", None)
    mapping = getattr(bs, "compared_mapping", None) or {}
    if not mapping:
        return None
    entry = list(mapping.values())[-1].get(fullname)
    return entry if isinstance(entry, Mapping) else None


def _min_j(block: Any) -> float | None:
    if not isinstance(block, Mapping):
        return None
    values = [v for v in block.get("rounds_j") or [] if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return min(values) if values else None


def flagged(block: Mapping[str, Any], baseline: Mapping[str, Any] | None, threshold: float) -> bool:
    """Whether the counted energy per call moved beyond ``threshold`` against the baseline entry."""
    info = baseline.get("extra_info") if isinstance(baseline, Mapping) else None
    b = _min_j(info.get("energy") if isinstance(info, Mapping) else None)
    c = _min_j(block)
    return bool(b and c is not None and b > 0 and abs(c / b - 1.0) > threshold)


def maybe_count(fixture: Any, block: Mapping[str, Any], config: Any = None) -> dict[str, Any] | None:
    """The Python-level counts of this benchmark when asked for (``all``) or flagged; else None."""
    call = getattr(fixture, "_gb_call", None)
    m = mode()
    if call is None or m == "0":
        return None
    if m == "flagged" and not flagged(block, baseline_entry(config, str(getattr(fixture, "fullname", ""))),
                                      _threshold(config)):
        return None
    function, args, kwargs = call
    return count_isolated(function, args, kwargs)


def count_isolated(function: Callable[..., Any], args: Any = (), kwargs: Mapping[str, Any] | None = None,
                   ) -> dict[str, Any]:
    """:func:`count` in a forked child where the OS can fork: the extra call then changes nothing in this
    process (no heap or interpreter state left behind for the next benchmark's counts, no mutation of the
    benchmark's arguments).  Elsewhere (no ``os.fork``) it runs in-process.  Errors become an ``error`` field."""
    import json

    def failed(what: str) -> dict[str, Any]:
        return {"level": "python", "source": SOURCE, "error": what[:200]}

    if not hasattr(os, "fork"):
        try:
            return count(function, args, kwargs)
        except Exception as exc:  # the benchmark's own error: already reported by its rounds
            return failed(f"{type(exc).__name__}: {exc}")
    sys.stdout.flush()
    sys.stderr.flush()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child (coverage does not follow it)
        code = 0
        try:
            os.close(r)
            try:
                out = count(function, args, kwargs)
            except BaseException as exc:
                out = failed(f"{type(exc).__name__}: {exc}")
            with os.fdopen(w, "w", encoding="utf-8") as fh:
                json.dump(out, fh)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, encoding="utf-8") as fh:
        data = fh.read()
    _, status = os.waitpid(pid, 0)
    try:
        out = json.loads(data)
    except ValueError:
        return failed(f"the traced call's process ended without a result (wait status {status})")
    return out if isinstance(out, dict) else failed("the traced call returned no counts")


def rows(py: Any, where: str = "python profile") -> list[tuple[str, str, int, int, int]]:
    """The stored rows ``(function, file:line, calls, lines, bytecodes)``; a one-line DataError when malformed."""
    from greenbench.errors import DataError

    if not isinstance(py, Mapping) or not isinstance(py.get("functions"), list):
        raise DataError(f"{where}: expected an object with a 'functions' list")
    out = []
    for i, r in enumerate(py["functions"]):
        parts = r.split("\t") if isinstance(r, str) else []
        if len(parts) != 5 or not all(p.isdigit() for p in parts[2:]):
            raise DataError(f"{where}.functions[{i}]: expected 5 tab-separated fields ({COLUMNS!r})")
        out.append((parts[0], parts[1], int(parts[2]), int(parts[3]), int(parts[4])))
    return out

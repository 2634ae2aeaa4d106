"""Callgrind client requests from Python: a tiny cffi module built on first use.

The client requests of ``valgrind/callgrind.h`` are inline-assembly macros, so
they need a compiled shim.  It is built with cffi (``set_source`` +
``compile``) into a per-user cache directory keyed by the Python version
(``$XDG_CACHE_HOME/greenbench/callgrind-cp311-<hash>/``), only when the counted
meter is asked for: ``pip install greenbench`` needs neither Valgrind nor its
headers.  Outside Valgrind every request is a no-op (a few instructions).

Headers: Debian/Ubuntu ``apt-get install valgrind`` (ships
``/usr/include/valgrind/callgrind.h``), Fedora/RHEL ``dnf install
valgrind-devel``, Arch ``pacman -S valgrind``, conda ``conda install -c
conda-forge valgrind``; elsewhere set ``GREENBENCH_VALGRIND_INCLUDE`` to the
directory holding ``valgrind/callgrind.h``.

Imports: stdlib and :mod:`greenbench.errors` (cffi lazily).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from greenbench.errors import MeterUnavailable

INCLUDE_ENV = "GREENBENCH_VALGRIND_INCLUDE"
HEADER_HINT = ("install Valgrind's headers (Debian/Ubuntu: apt-get install valgrind; Fedora: dnf install "
               f"valgrind-devel; conda: conda install -c conda-forge valgrind) or set {INCLUDE_ENV}")

CDEF = """
void gb_start_instrumentation(void);
void gb_stop_instrumentation(void);
void gb_zero_stats(void);
void gb_dump_stats_at(const char *name);
void gb_toggle_collect(void);
unsigned gb_running_on_valgrind(void);
"""

SOURCE = """
#include <valgrind/callgrind.h>
void gb_start_instrumentation(void) { CALLGRIND_START_INSTRUMENTATION; }
void gb_stop_instrumentation(void) { CALLGRIND_STOP_INSTRUMENTATION; }
void gb_zero_stats(void) { CALLGRIND_ZERO_STATS; }
void gb_dump_stats_at(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
void gb_toggle_collect(void) { CALLGRIND_TOGGLE_COLLECT; }
unsigned gb_running_on_valgrind(void) { return RUNNING_ON_VALGRIND; }
"""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "greenbench"


def include_dirs() -> list[str]:
    """Directories searched for ``valgrind/callgrind.h`` (the env override first)."""
    dirs = [os.environ[INCLUDE_ENV]] if os.environ.get(INCLUDE_ENV) else []
    prefix_inc = os.path.join(sys.prefix, "include")  # conda environments
    dirs += [prefix_inc, "/usr/include", "/usr/local/include", "/opt/homebrew/include"]
    return [d for d in dirs if os.path.isfile(os.path.join(d, "valgrind", "callgrind.h"))]


def _module_name() -> str:
    tag = hashlib.sha256((CDEF + SOURCE).encode()).hexdigest()[:10]
    return f"_greenbench_callgrind_{(sys.implementation.cache_tag or 'py').replace('-', '_')}_{tag}"


def valgrind_path() -> str:
    """The ``valgrind`` executable, or MeterUnavailable with the fix."""
    path = shutil.which("valgrind")
    if path is None:
        raise MeterUnavailable("counted meter: valgrind not found on PATH; install it "
                               "(Debian/Ubuntu: apt-get install valgrind; Fedora: dnf install valgrind valgrind-devel)")
    return path


def load() -> Any:
    """The compiled shim's ``lib`` (built into the cache directory on first use)."""
    name = _module_name()
    out = cache_dir() / name
    found = list(out.glob(f"{name}*.so")) if out.is_dir() else []
    if not found:
        found = [_build(name, out)]
    spec = importlib.util.spec_from_file_location(name, found[0])
    if spec is None or spec.loader is None:  # pragma: no cover - importlib failure
        raise MeterUnavailable(f"counted meter: cannot load {found[0]}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lib


def _build(name: str, out: Path) -> Path:
    incs = include_dirs()
    if not incs:
        raise MeterUnavailable(f"counted meter: valgrind/callgrind.h not found; {HEADER_HINT}")
    try:
        import cffi
    except ImportError:  # pragma: no cover - cffi is a dependency
        raise MeterUnavailable("counted meter: needs cffi (pip install cffi)") from None
    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    ffi.set_source(name, SOURCE, include_dirs=incs)
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        built = Path(ffi.compile(tmpdir=str(tmp), verbose=False))
    except Exception as exc:  # cffi raises VerificationError / distutils errors
        shutil.rmtree(tmp, ignore_errors=True)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MeterUnavailable(f"counted meter: cannot compile the callgrind shim ({first}); "
                               "needs a C compiler and Python headers (apt-get install build-essential "
                               f"python3-dev) and {HEADER_HINT}") from None
    out.mkdir(parents=True, exist_ok=True)
    target = out / built.name
    os.replace(built, target)  # atomic: a concurrent build loses nothing
    shutil.rmtree(tmp, ignore_errors=True)
    return target

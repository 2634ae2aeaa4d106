"""cffi build script (API mode) for :mod:`native._sorts`.

``native`` belongs to the benchmark suite and is not installed with
greenbench (an installed top-level ``native`` package would shadow a user's
own).  ``python native/_ffi_build.py`` builds the extension in place, next to
``native/sorts.c``; the nox sessions run it, and say what to install when the
C compiler is missing.

Compiler flags: ``-O2`` unless the environment variable ``GREENBENCH_CFLAGS``
says otherwise (split like a shell would; an empty value adds no flags, so
Python's own ``sysconfig`` CFLAGS decide, often ``-O3``).  ``-O2`` is the
level Linux distributions build their C packages with (Debian's
``dpkg-buildflags`` and Fedora's ``%optflags`` default), so the C side is C as
usually shipped, not tuned for the benchmark; ``-O3`` made the selection sort
several times faster here, which moves every C-vs-Python ratio.  Our flags come
after Python's on the compiler command line, so our ``-O`` level wins.  The
compiler, its version and all flags are baked into the built module as JSON
(``native.build_info()``) so results can record what they ran.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sysconfig
from collections.abc import Mapping
from pathlib import Path

from cffi import FFI

DEFAULT_CFLAGS = ("-O2",)
CFLAGS_ENV = "GREENBENCH_CFLAGS"
MODULE_NAME = "native._sorts"

_HERE = Path(__file__).resolve().parent

CDEF = """
void gb_heap_sort_i64(int64_t *a, size_t n);
void gb_heap_sort_f64(double *a, size_t n);
void gb_selection_sort_i64(int64_t *a, size_t n);
void gb_selection_sort_f64(double *a, size_t n);
const char *gb_compiler_version(void);
int gb_optimized(void);
const char *gb_build_info(void);
"""


def cflags_from_env(environ: Mapping[str, str]) -> tuple[list[str], str]:
    """Extra compiler flags and where they came from (``default`` or the env var)."""
    raw = environ.get(CFLAGS_ENV)
    if raw is None:
        return list(DEFAULT_CFLAGS), "default"
    try:
        flags = shlex.split(raw)
    except ValueError as exc:
        raise ValueError(
            f"{CFLAGS_ENV}={raw!r}: expected compiler flags as a shell would split them ({exc})"
        ) from None
    return flags, CFLAGS_ENV


def compiler_command(environ: Mapping[str, str]) -> str:
    """The C compiler setuptools will call (``CC`` overrides Python's own)."""
    return environ.get("CC") or str(sysconfig.get_config_var("CC") or "cc")


def compiler_version(command: str) -> str:
    """First line of ``<compiler> --version``, or why it could not be read."""
    argv = shlex.split(command)
    if not argv:
        return "unknown (empty compiler command)"
    try:
        done = subprocess.run([argv[0], "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown ({argv[0]}: {exc.__class__.__name__})"
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0] if first else "unknown"


def build_info(environ: Mapping[str, str]) -> dict[str, object]:
    """What the build will use, recorded into the module (JSON-safe)."""
    flags, origin = cflags_from_env(environ)
    command = compiler_command(environ)
    base = " ".join(filter(None, [str(sysconfig.get_config_var("CFLAGS") or ""), environ.get("CFLAGS", "")]))
    return {
        "compiler": command,
        "compiler_version": compiler_version(command),
        "cflags": flags,
        "cflags_source": origin,
        "base_cflags": shlex.split(base),
        "cffi_mode": "API (out-of-line)",
    }


def c_string_literal(text: str) -> str:
    """A C string literal holding ``text`` (ASCII only; others become '?')."""
    ascii_text = text.encode("ascii", "replace").decode("ascii")
    escaped = ascii_text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def make_ffibuilder(environ: Mapping[str, str] | None = None) -> FFI:
    env = os.environ if environ is None else environ
    info = build_info(env)
    flags = info["cflags"]
    assert isinstance(flags, list)
    builder = FFI()
    builder.cdef(CDEF)
    # Paths relative to the working directory: setuptools wants relative sources,
    # and pip runs this from the project root.
    src_dir = os.path.relpath(_HERE)
    builder.set_source(
        MODULE_NAME,
        '#include "sorts.h"\n'
        f"static const char gb_build_info_json[] = {c_string_literal(json.dumps(info))};\n"
        "const char *gb_build_info(void) { return gb_build_info_json; }\n",
        sources=[os.path.join(src_dir, "sorts.c")],
        include_dirs=[src_dir],
        depends=[os.path.join(src_dir, "sorts.h")],
        extra_compile_args=[str(f) for f in flags],
    )
    return builder


ffibuilder = make_ffibuilder()

NO_COMPILER = (
    "native extension not built (C compiler missing or failed): install a C compiler and the Python headers "
    "(Debian/Ubuntu: apt-get install build-essential python3-dev; Fedora: dnf install gcc python3-devel; "
    "macOS: xcode-select --install), then run python native/_ffi_build.py"
)

if __name__ == "__main__":
    import sys

    # Build in place next to this file's package.
    os.chdir(_HERE.parent)
    try:
        ffibuilder.compile(verbose=False)
    except Exception as exc:  # distutils/setuptools compile errors have no common base
        print(f"error: {NO_COMPILER} ({type(exc).__name__}: {exc})", file=sys.stderr)
        raise SystemExit(2) from None
    print("built native._sorts in place")

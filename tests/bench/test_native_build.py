"""The cffi build script's helpers and what the built module says about its build."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import native
from native import _ffi_build


def test_default_flags_are_o2() -> None:
    assert _ffi_build.cflags_from_env({}) == (["-O2"], "default")


def test_flags_come_from_the_environment_split_like_a_shell() -> None:
    flags, origin = _ffi_build.cflags_from_env({"GREENBENCH_CFLAGS": "-O3 -march=native '-DX=a b'"})
    assert flags == ["-O3", "-march=native", "-DX=a b"]
    assert origin == "GREENBENCH_CFLAGS"
    assert _ffi_build.cflags_from_env({"GREENBENCH_CFLAGS": ""}) == ([], "GREENBENCH_CFLAGS")


def test_unbalanced_quotes_name_the_variable() -> None:
    with pytest.raises(ValueError, match=r"^GREENBENCH_CFLAGS='-O2 \"': expected compiler flags"):
        _ffi_build.cflags_from_env({"GREENBENCH_CFLAGS": '-O2 "'})


def test_cc_overrides_the_compiler() -> None:
    assert _ffi_build.compiler_command({"CC": "clang-17"}) == "clang-17"
    assert _ffi_build.compiler_version("/nonexistent/cc").startswith("unknown (/nonexistent/cc:")


def test_c_string_literal_round_trips_json() -> None:
    text = json.dumps({"cflags": ['-DNAME="x\\y"'], "note": "line\nbreak"})
    literal = _ffi_build.c_string_literal(text)
    assert literal.startswith('"') and literal.endswith('"')
    # a C literal with only these escapes reads back like a Python one
    assert json.loads(eval(literal)) == json.loads(text)


def test_built_module_reports_its_build() -> None:
    info = native.build_info()
    assert isinstance(info["cflags"], list) and all(isinstance(f, str) for f in info["cflags"])
    assert info["compiler"] and info["compiler_version"]
    assert info["compiled_with"]  # the compiler's own __VERSION__
    levels = [f for f in info["cflags"] if f.startswith("-O")]
    if levels:  # our flags come last on the command line, so they decide
        assert info["optimized"] is (levels[-1] != "-O0")
    json.dumps(info)  # JSON-safe for benchmark extra_info


def test_missing_extension_message_says_what_to_install() -> None:
    code = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def fake(name, *a, **k):\n"
        "    if name == 'native._sorts': raise ImportError('No module named native._sorts')\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = fake\n"
        "import native\n"
        "assert not native.available()\n"
        "try:\n"
        "    native.heap_sort([2, 1])\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.startswith("NativeUnavailable native extension not built: install a C compiler")
    assert "build-essential python3-dev" in done.stdout
    assert "python native/_ffi_build.py" in done.stdout

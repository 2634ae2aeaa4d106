"""The counted run's aligned pymalloc arenas (greenbench.meters.counted.arenas)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from greenbench.errors import ConfigError, MeterUnavailable
from greenbench.meters.counted import arenas as A

needs_cc = pytest.mark.skipif(not sys.platform.startswith("linux") or not (shutil.which("cc") or shutil.which("gcc")),
                              reason="needs Linux and a C compiler")


def test_switch_is_checked() -> None:
    assert A.enabled({}) and A.enabled({A.ENV: "1"})
    assert not A.enabled({A.ENV: "0"}) and not A.enabled({A.ENV: "off"})
    with pytest.raises(ConfigError, match=A.ENV):
        A.enabled({A.ENV: "maybe"})


def test_preload_env_puts_the_library_first_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    lib = tmp_path / "lib.so"
    monkeypatch.setattr(A, "library", lambda directory=None: lib)
    monkeypatch.setattr(sys, "platform", "linux")
    env = A.preload_env({"PATH": "/bin", "LD_PRELOAD": f"/x/a.so:{lib}"})
    assert env["LD_PRELOAD"] == f"{lib} /x/a.so" and env["PATH"] == "/bin"
    assert A.preload_env(env)["LD_PRELOAD"] == env["LD_PRELOAD"]  # idempotent
    assert "LD_PRELOAD" not in A.preload_env({A.ENV: "0"})


def test_a_missing_compiler_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CC", "no-such-compiler-here")
    monkeypatch.setattr(A.sysconfig, "get_config_var", lambda name: None)
    monkeypatch.setattr(A.shutil, "which", lambda name: None)
    with pytest.raises(MeterUnavailable, match=r"no C compiler.*GREENBENCH_COUNTED_ALIGNED_ARENAS=0"):
        A.library(tmp_path)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_a_failed_compile_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(A, "compiler", lambda: [sys.executable, "-c", "import sys; sys.exit('cc: broken')"])
    with pytest.raises(MeterUnavailable, match=r"cannot compile its aligned-arena library \(cc: broken\)"):
        A.library(tmp_path)
    assert not list(tmp_path.iterdir())


CHILD = r"""
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])  # the preloaded copy: dlopen returns the same object
installed = ctypes.c_int.in_dll(lib, "gb_aligned_arenas_installed").value

class Allocator(ctypes.Structure):
    _fields_ = [("ctx", ctypes.c_void_p),
                ("alloc", ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)),
                ("free", ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t))]

a = Allocator()
ctypes.pythonapi.PyObject_GetArenaAllocator(ctypes.byref(a))
size = 1 << 20
addrs = [a.alloc(a.ctx, size) for _ in range(8)]
print(installed, all(p and p % size == 0 for p in addrs))
for p in addrs:
    a.free(a.ctx, p, size)
"""


@needs_cc
def test_arenas_are_aligned_in_a_preloaded_python(tmp_path: Path) -> None:
    lib = A.library(tmp_path)
    assert lib.name == A.library_name() and A.library(tmp_path) == lib  # built once, then found
    env = dict(os.environ, LD_PRELOAD=str(lib))
    out = subprocess.run([sys.executable, "-c", CHILD, str(lib)], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["1", "True"]
    # a process without CPython loads it and carries on
    assert subprocess.run(["true"], env=env, check=False).returncode == 0

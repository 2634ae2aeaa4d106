"""Aligned pymalloc arenas for the counted run: a preloaded library, built on first use.

CPython's small-object allocator (pymalloc) asks the system for 1 MiB
arenas with ``mmap``, at whatever address the kernel (under Valgrind: its
address-space manager) hands out.  Every ``free`` of a small object then
asks whether the block is pymalloc's (``address_in_range`` ->
``arena_map_is_used``), and that test takes a short or a long branch
depending on whether the block lies below or above a 1 MiB boundary inside
its arena.  Where the pool an object's size class is using sits therefore
decides how many instructions each ``free`` costs, with exactly the same
memory reads and writes.  Measured (``bench/counted_aa.py``'s
``s += i * i`` loop, 5,000 iterations, fresh counted processes): 3,178,064
or 3,222,860 instructions per call, the whole difference in
``_PyObject_Free`` (544,825 vs 589,621, about 3 instructions per free).
Which of the two a process lands in follows its heap history, so it moved
between fresh runs and with what ran before.

The library (``libgreenbench-arenas-<hash>.so``) has one constructor: it
installs an arena allocator (``PyObject_SetArenaAllocator``, a public C API
since CPython 3.4) that maps each arena at an address aligned to its size.
Every arena then covers exactly one 1 MiB slot, every ``free`` takes the
same branch, and the count no longer depends on where the heap happened to
be.  The constructor runs before the interpreter starts (``LD_PRELOAD``), so
no arena is ever unaligned; in a process without CPython (``setarch``,
``unshare``, Valgrind's launcher) it finds no such function and does nothing.

It is compiled with the C compiler the counted meter already needs for its
client-request shim (``$CC``, else ``cc``) into the same per-user cache.
``GREENBENCH_COUNTED_ALIGNED_ARENAS=0`` leaves pymalloc's arenas as they are.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path

from greenbench.errors import MeterUnavailable
from greenbench.meters.counted.callgrind import cache_dir

#: set to 0 to keep pymalloc's own arena placement in the counted run
ENV = "GREENBENCH_COUNTED_ALIGNED_ARENAS"

SOURCE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

/* PyObjectArenaAllocator, as in CPython's Include/cpython/objimpl.h */
typedef struct {
    void *ctx;
    void *(*alloc)(void *ctx, size_t size);
    void (*free)(void *ctx, void *ptr, size_t size);
} gb_arena_allocator;

/* an arena of `size` bytes at an address that is a multiple of `size` rounded up to a power of two */
static void *gb_arena_alloc(void *ctx, size_t size) {
    (void)ctx;
    size_t align = 4096;
    while (align < size) align <<= 1;
    size_t len = size + align;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
    size_t head = a - (uintptr_t)p, tail = len - head - size;
    if (head) munmap(p, head);
    if (tail) munmap((char *)a + size, tail);
    return (void *)a;
}

static void gb_arena_free(void *ctx, void *ptr, size_t size) {
    (void)ctx;
    munmap(ptr, size);
}

static gb_arena_allocator gb_allocator = {NULL, gb_arena_alloc, gb_arena_free};

int gb_aligned_arenas_installed = 0;

__attribute__((constructor)) static void gb_aligned_arenas(void) {
    void (*set)(gb_arena_allocator *) =
        (void (*)(gb_arena_allocator *))dlsym(RTLD_DEFAULT, "PyObject_SetArenaAllocator");
    if (set) {
        set(&gb_allocator);
        gb_aligned_arenas_installed = 1;
    }
}
"""


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    raw = env.get(ENV, "1").strip().lower()
    if raw in ("1", "yes", "true", "on", ""):
        return True
    if raw in ("0", "no", "false", "off"):
        return False
    from greenbench.errors import ConfigError

    raise ConfigError(f"{ENV}={env.get(ENV)!r}: expected 1 (aligned pymalloc arenas, the default) or 0 (off)")


def library_name() -> str:
    tag = hashlib.sha256(SOURCE.encode()).hexdigest()[:10]
    return f"libgreenbench-arenas-{tag}.so"


def compiler() -> list[str]:
    """The C compiler command: ``$CC``, else Python's configured one, else ``cc``."""
    import shlex

    for cand in (os.environ.get("CC"), sysconfig.get_config_var("CC"), "cc", "gcc"):
        if cand:
            argv = shlex.split(cand)
            if argv and shutil.which(argv[0]):
                return argv
    raise MeterUnavailable("counted meter: no C compiler found for its aligned-arena library (set CC, or "
                           f"apt-get install build-essential; {ENV}=0 runs without it)")


def library(directory: Path | None = None) -> Path:
    """The preload library's path, compiled into the cache directory on first use."""
    out = (directory or cache_dir()) / library_name()
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    src = out.with_name(f"{out.stem}.{os.getpid()}.c")
    tmp = out.with_name(f"{out.stem}.{os.getpid()}.tmp.so")
    try:
        src.write_text(SOURCE, encoding="utf-8")
        cmd = [*compiler(), "-O2", "-shared", "-fPIC", "-o", str(tmp), str(src), "-ldl"]
        p = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            first = (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[0]
            raise MeterUnavailable(f"counted meter: cannot compile its aligned-arena library ({first}); "
                                   f"{ENV}=0 runs without it")
        os.replace(tmp, out)  # atomic: a concurrent build loses nothing
    except (OSError, subprocess.SubprocessError) as exc:
        raise MeterUnavailable(f"counted meter: cannot build its aligned-arena library in {out.parent} "
                               f"({exc}); {ENV}=0 runs without it") from None
    finally:
        for f in (src, tmp):
            f.unlink(missing_ok=True)
    return out


def preload_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the aligned-arena library first in ``LD_PRELOAD`` (Linux, CPython, unless switched off)."""
    out = dict(env)
    if not sys.platform.startswith("linux") or sys.implementation.name != "cpython" or not enabled(env):
        return out
    lib = str(library())
    if any(c in lib for c in " :\t\n"):  # LD_PRELOAD separates its entries with spaces and colons
        raise MeterUnavailable(f"counted meter: its aligned-arena library's path {lib!r} cannot go into "
                               "LD_PRELOAD (a space or colon in it); set XDG_CACHE_HOME to a plain directory "
                               f"or {ENV}=0")
    rest = [p for p in out.get("LD_PRELOAD", "").replace(":", " ").split() if p and p != lib]
    out["LD_PRELOAD"] = " ".join([lib, *rest])
    return out

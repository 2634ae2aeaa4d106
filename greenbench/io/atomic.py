"""The one writer of files and folders: a reader sees the old one or the new one, never half of one.

Files (:func:`write_with` and the helpers on it) are written to a hidden
temporary file beside the target, then renamed over it; the file follows the
umask (``0o666 & ~umask``, like ``open()``), and the temporary file is removed
on any error or interruption.  The target is checked first:

* an empty path is refused (``--json ''``), as is a directory;
* a symlink is written *through*: the file it points to is replaced, the
  link stays;
* ``/dev/stdout``, ``/dev/stderr`` and ``/dev/fd/N`` write to that open
  descriptor; any other device node or FIFO is written into, never replaced;
* a figure's suffix must be one matplotlib can write (:func:`figure_format`).

Folders (:func:`write_folder`, the report folder) are built complete in a
hidden sibling, then swapped in with one rename (``renameat2(RENAME_EXCHANGE)``
on Linux), so a kill or a concurrent run never leaves files of two runs mixed.
A folder is only ever replaced if it is empty or carries greenbench's marker
file :data:`REPORT_MARKER`: files greenbench did not write are never touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from greenbench.errors import ConfigError

#: marker file in every folder greenbench writes; only such folders (or empty ones) are replaced
REPORT_MARKER = ".greenbench-report"

_FD_PATH = re.compile(r"^/(?:dev/fd|proc/self/fd)/(\d+)$")
_STD = {"/dev/stdout": 1, "/dev/stderr": 2}


def _umask() -> int:
    """The process umask; read from /proc on Linux (setting it to read it races with other threads)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii",
                                                        errors="replace") as fh:
        for line in fh:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_path(path: str | Path | None, what: str = "output") -> Path:
    """A file target that can be written: refuses an empty path and a directory (one line)."""
    if path is None or str(path) == "":
        raise ConfigError(f"{what}: empty path; expected a file name")
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{what} {target}: is a directory; expected a file path")
    return target


def _open_fd(target: Path) -> int | None:
    """The descriptor a ``/dev/stdout``-style path names, else None."""
    text = str(target)
    if text in _STD:
        return _STD[text]
    m = _FD_PATH.match(text)
    return int(m.group(1)) if m else None


def _write_fd(fd: int, data: bytes) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_with(path: str | Path, writer: Callable[[Path], None], what: str = "output") -> Path:
    """Call ``writer(tmp_path)``, then put the file at ``path`` (see the module doc for the rules)."""
    target = check_path(path, what)
    fd = _open_fd(target)
    special = fd is not None or (target.exists() and not target.is_file() and not target.is_dir())
    if special:
        # a device node, FIFO or open descriptor: write into it (never replace it)
        with tempfile.TemporaryDirectory(prefix=".greenbench-") as tmpdir:
            scratch = Path(tmpdir) / (target.name or "out")
            writer(scratch)
            data = scratch.read_bytes()
        if fd is not None:
            _write_fd(fd, data)
        else:
            with open(target, "wb") as fh:
                fh.write(data)
        return target
    if target.is_symlink():
        target = Path(os.path.realpath(target))  # write through the link; the link itself stays
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=target.suffix or ".tmp")
    os.close(tmp_fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a written file follows the umask
        writer(Path(tmp))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_text(path: str | Path, text: str, what: str = "output") -> Path:
    def writer(p: Path) -> None:
        p.write_text(text, encoding="utf-8")

    return write_with(path, writer, what)


def json_safe(value: Any) -> str:
    """A JSON stand-in for a value JSON cannot hold (a ``bytes`` parametrize value, a set, an object).

    pytest-benchmark's own convention (``UNSERIALIZABLE[...]``), so results.json agrees with the file
    pytest-benchmark saves for the same run.
    """
    return f"UNSERIALIZABLE[{value!r}]"


def jsonable(value: Any, _seen: frozenset[int] = frozenset()) -> Any:
    """``value`` with what JSON cannot hold replaced: non-string keys as strings, other objects and
    reference cycles as :func:`json_safe` stand-ins (a user's ``extra_info`` may hold anything)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if id(value) in _seen:
        return "UNSERIALIZABLE[reference cycle]"
    seen = _seen | {id(value)}
    if isinstance(value, dict):
        return {k if isinstance(k, (str, int, float, bool)) or k is None else json_safe(k): jsonable(v, seen)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, seen) for v in value]
    return json_safe(value)


def write_json(path: str | Path, data: Any, what: str = "output") -> Path:
    try:
        text = json.dumps(data, indent=2, sort_keys=False, allow_nan=True, default=json_safe)
    except (TypeError, ValueError, RecursionError):  # tuple keys, a reference cycle: write what can be written
        text = json.dumps(jsonable(data), indent=2, sort_keys=False, allow_nan=True, default=json_safe)
    return write_text(path, text + "\n", what)


def _probe_dir(folder: Path, what: str, shown: str | Path) -> None:
    """Create and remove a file in ``folder``: the only honest test that it can be written (root, /proc, ro)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".greenbench-probe-")
    except OSError as exc:
        raise ConfigError(f"{what} {shown}: cannot write in {folder} ({exc.strerror or exc})") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def check_output_file(path: str | Path | None, what: str, *, create_parents: bool = True) -> Path:
    """Refuse, before any work, a file target that cannot be written (one line naming ``what``).

    An empty path, a folder, a parent that is a file, or a place this process cannot write in
    (tested by creating a file there).  ``create_parents=False`` (``$GITHUB_STEP_SUMMARY``, appended
    to): the folder must exist already.  Device nodes and ``/dev/fd/N`` are written into, not checked.
    """
    target = check_path(path, what)
    if _open_fd(target) is not None or (target.exists() and not target.is_file()):
        return target
    parent = target.absolute().parent
    if not parent.exists():
        if not create_parents:
            raise ConfigError(f"{what} {path}: folder {parent} does not exist")
        parent = _nearest_existing(parent)
    if not parent.is_dir():
        raise ConfigError(f"{what} {path}: {parent} is not a folder")
    if target.exists() and not os.access(target, os.W_OK):
        raise ConfigError(f"{what} {path}: not writable (permission denied)")
    _probe_dir(parent, what, target)
    return target


def figure_format(path: str | Path, what: str = "--plot") -> str:
    """The matplotlib format for ``path``'s suffix (none: png); an unwritable suffix is a ConfigError."""
    target = check_path(path, what)
    fmt = target.suffix.lstrip(".").lower() or "png"
    from matplotlib.backend_bases import FigureCanvasBase

    supported = FigureCanvasBase.get_supported_filetypes()
    if fmt not in supported:
        raise ConfigError(f"{what} {target}: matplotlib cannot write .{fmt} files; expected one of "
                          f"{', '.join('.' + k for k in sorted(supported))}")
    return fmt


def save_figure(fig: Any, path: str | Path, what: str = "figure", **kwargs: Any) -> Path:
    """``fig.savefig`` atomically (format from ``path``'s suffix, checked first)."""
    fmt = figure_format(path, what)
    return write_with(path, lambda p: fig.savefig(p, format=fmt, **kwargs), what)


# --------------------------------------------------------------------------- folders


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def check_report_dir(path: str | Path | None, what: str = "--energy-report") -> Path:
    """Refuse a report folder that cannot be written or holds files greenbench did not write.

    Returns the folder to write (a symlink resolved).  Called before any benchmark runs.
    """
    if path is None or str(path) == "":
        raise ConfigError(f"{what}: empty path; expected a folder name")
    target = Path(path)
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    absolute = Path(os.path.abspath(target))
    cwd = Path(os.getcwd())
    if absolute == cwd or absolute in cwd.parents:
        raise ConfigError(f"{what} {path}: is the current folder (or holds it); expected a folder inside it")
    if target.exists():
        if not target.is_dir():
            raise ConfigError(f"{what} {path}: exists and is not a folder; expected a new or report folder")
        try:
            entries = os.listdir(target)
        except OSError as exc:
            raise ConfigError(f"{what} {path}: cannot list it ({exc.strerror or exc})") from None
        if entries and REPORT_MARKER not in entries:
            raise ConfigError(f"{what} {path}: not empty and not a greenbench report folder (no {REPORT_MARKER} "
                              "file); refusing to replace files greenbench did not write: give a new or "
                              "empty folder")
    parent = _nearest_existing(target.absolute().parent)
    if not parent.is_dir():
        raise ConfigError(f"{what} {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {path}: cannot write in {parent} (permission denied)")
    _probe_dir(parent, what, path)  # as root, os.access says yes to /proc and read-only mounts
    return target


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _clean_stale(parent: Path, name: str) -> None:
    """Remove staging folders left by killed writers (SIGKILL cannot be caught)."""
    pattern = re.compile(rf"^\.{re.escape(name)}\.greenbench-(\d+)-")
    with contextlib.suppress(OSError):
        for entry in os.listdir(parent):
            m = pattern.match(entry)
            if m and not _pid_alive(int(m.group(1))):
                shutil.rmtree(parent / entry, ignore_errors=True)


#: report folders this process holds the lock of (absolute path -> lock file descriptor)
_HELD: dict[str, tuple[int, Path, int]] = {}
_HELD_LOCK = threading.Lock()


def _lock_path(target: Path) -> Path:
    absolute = Path(os.path.abspath(target))
    return _nearest_existing(absolute.parent) / f".{absolute.name}.greenbench-lock"


def lock_folder(path: str | Path, what: str = "--energy-report") -> None:
    """Hold the report folder ``path`` for this process until :func:`unlock_folder` (or exit).

    A lock file beside the folder, locked with ``flock``: a second run writing the same folder at once
    is refused in one line naming the process that holds it (issue #21: the run that loses says so,
    instead of both printing "report written").  Re-entrant within the thread that holds it; another
    thread of the same process is refused too.
    """
    key = os.path.abspath(path)
    with _HELD_LOCK:
        if key in _HELD:
            if _HELD[key][2] == threading.get_ident():
                return  # the run's own lock (taken before its first benchmark)
            raise ConfigError(f"{what} {path}: another writer in this process (thread {_HELD[key][2]}) is writing "
                              "this folder now; wait for it to finish or give another folder")
        _lock_new(key, path, what)


def _lock_new(key: str, path: str | Path, what: str) -> None:
    import fcntl

    lock = _lock_path(Path(path))
    for _ in range(5):
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666 & ~_umask())
        except OSError as exc:
            raise ConfigError(f"{what} {path}: cannot create its lock file {lock} ({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise ConfigError(f"{what} {path}: another greenbench run (pid {holder}) is writing this folder "
                              "now; wait for it to finish or give another folder") from None
        try:  # the holder before us may have removed the file between our open and our lock
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except OSError:
            same = False
        if not same:
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        _HELD[key] = (fd, lock, threading.get_ident())
        return
    raise ConfigError(f"{what} {path}: its lock file {lock} keeps being replaced; try again")


def unlock_folder(path: str | Path) -> None:
    """Release :func:`lock_folder`'s lock and remove the lock file (no-op when not held)."""
    with _HELD_LOCK:
        held = _HELD.pop(os.path.abspath(path), None)
    if held is None:
        return
    fd, lock, _ = held
    with contextlib.suppress(OSError):
        os.unlink(lock)  # removed while still locked: a waiter re-checks the inode
    with contextlib.suppress(OSError):
        os.close(fd)


def write_folder(path: str | Path, fill: Callable[[Path], None], *, marker: dict[str, Any] | None = None,
                 what: str = "--energy-report") -> Path:
    """Build a folder with ``fill(staging_dir)``, then swap it in whole for ``path``; return ``path``.

    The folder gets :data:`REPORT_MARKER` (JSON ``marker``).  An existing folder is replaced only if
    :func:`check_report_dir` accepts it; staging is removed on any error or interruption.
    """
    with _HELD_LOCK:
        held = _HELD.get(os.path.abspath(path), (0, Path(), -1))[2] == threading.get_ident()
    lock_folder(path, what)  # a concurrent writer of the same folder is refused, never silently overwritten
    try:
        return _write_folder(path, fill, marker, what)
    finally:
        if not held:
            unlock_folder(path)


def _write_folder(path: str | Path, fill: Callable[[Path], None], marker: dict[str, Any] | None,
                  what: str) -> Path:
    target = check_report_dir(path, what)
    parent = Path(os.path.abspath(target)).parent
    parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(parent, target.name)
    stage = Path(tempfile.mkdtemp(dir=parent, prefix=f".{target.name}.greenbench-{os.getpid()}-"))
    try:
        os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes 0700; the folder follows the umask
        fill(stage)
        write_json(stage / REPORT_MARKER, {"greenbench_report": 1, **(marker or {})})
        for _ in range(3):  # a concurrent writer may create the target between our steps
            if target.exists():
                check_report_dir(target, what)
                if _exchange(stage, target):
                    shutil.rmtree(stage, ignore_errors=True)  # the old folder, now at the staging name
                    return target
                old = Path(tempfile.mkdtemp(dir=parent, prefix=f".{target.name}.greenbench-{os.getpid()}-old"))
                os.rename(target, old / "old")
                os.rename(stage, target)
                shutil.rmtree(old, ignore_errors=True)
                return target
            try:
                os.rename(stage, target)
            except OSError:
                continue
            return target
        raise ConfigError(f"{what} {path}: another process keeps replacing it; try again")
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


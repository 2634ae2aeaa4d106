"""The one safe reader of user-supplied files (results JSON, scenario TOML).

:func:`read_text` opens without blocking and refuses anything but a regular
file (a FIFO, ``/dev/zero`` or a directory fail at once instead of hanging or
filling memory), reads at most ``max_bytes`` (a larger file is refused with
its size), names a UTF-8 byte-order mark as such, and decodes strict UTF-8.
:func:`load_json` / :func:`load_toml` add a nesting-depth limit checked
before parsing (no RecursionError) and turn every parser error -- including
Python's 4300-digit integer limit -- into one line.  Every error is
``error(message)`` with the path in front, so callers pick their class
(:class:`~greenbench.errors.DataError`, :class:`~greenbench.errors.ScenarioError`).

Imports: stdlib and :mod:`greenbench.errors` only.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from greenbench.errors import DataError, GreenbenchError

#: results files keep every round with --benchmark-save-data; 256 MiB is far above a real one
MAX_RESULTS_BYTES = 256 * 2**20
#: a 50,000-row scenario is ~5 MiB
MAX_SCENARIO_BYTES = 64 * 2**20
#: deepest array/table nesting accepted (greenbench's own files nest < 10 deep)
MAX_DEPTH = 64

UTF8_BOM = b"\xef\xbb\xbf"

ErrorFactory = Callable[[str], GreenbenchError]

# strings and comments are skipped whole, so brackets inside them do not count
_TOKEN = re.compile(r'"""(?:[^\\]|\\[\s\S])*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*'
                    r"|[\[\]{}]")


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(path: str | Path, *, what: str, max_bytes: int, error: ErrorFactory = DataError) -> bytes:
    """The bytes of regular file ``path`` (at most ``max_bytes``), or ``error`` naming the problem."""
    if not isinstance(path, (str, os.PathLike)):
        raise error(f"{what}: expected a file path, got {type(path).__name__} {path!r}")
    p = Path(path)
    if str(path) == "":
        raise error(f"{what}: empty path; expected a file name")
    try:
        # O_NONBLOCK: opening a FIFO with no writer must not hang; fstat then refuses it
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise error(f"{p}: no such {what}") from None
    except IsADirectoryError:
        raise error(f"{p}: is a directory; expected a {what}") from None
    except OSError as exc:
        raise error(f"{p}: cannot open the {what} ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{p}: is {_kind(st.st_mode)}; expected a {what} (a regular file)")
        if st.st_size > max_bytes:
            raise error(f"{p}: {st.st_size:,} bytes, over the {max_bytes:,}-byte limit for a {what}")
        chunks: list[bytes] = []
        total = 0
        while True:
            try:
                chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            except OSError as exc:
                raise error(f"{p}: cannot read the {what} ({exc.strerror or exc})") from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:  # grew while being read
                raise error(f"{p}: over the {max_bytes:,}-byte limit for a {what}")
    finally:
        os.close(fd)
    return b"".join(chunks)


def read_text(path: str | Path, *, what: str, max_bytes: int, error: ErrorFactory = DataError) -> str:
    """:func:`read_bytes` decoded as UTF-8 (a BOM or invalid byte is named, with its offset)."""
    data = read_bytes(path, what=what, max_bytes=max_bytes, error=error)
    if data.startswith(UTF8_BOM):
        raise error(f"{path}: starts with a UTF-8 byte-order mark (BOM, bytes EF BB BF); save the {what} as "
                    "UTF-8 without a BOM")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 (invalid byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                    f"expected a UTF-8 {what}") from None


def nesting_depth(text: str) -> int:
    """Deepest ``[``/``{`` nesting outside strings and comments (JSON and TOML)."""
    depth = deepest = 0
    for m in _TOKEN.finditer(text):
        tok = m.group()
        if tok in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif tok in ("]", "}"):
            depth = max(depth - 1, 0)
    return deepest


def check_depth(text: str, path: str | Path, *, what: str, max_depth: int = MAX_DEPTH,
                error: ErrorFactory = DataError) -> None:
    depth = nesting_depth(text)
    if depth > max_depth:
        raise error(f"{path}: arrays/tables nested {depth} deep, over the limit of {max_depth} for a {what}")


def load_json(path: str | Path, *, what: str, max_bytes: int = MAX_RESULTS_BYTES, max_depth: int = MAX_DEPTH,
              error: ErrorFactory = DataError) -> Any:
    """Parse a JSON file through :func:`read_text` and :func:`check_depth`."""
    text = read_text(path, what=what, max_bytes=max_bytes, error=error)
    check_depth(text, path, what=what, max_depth=max_depth, error=error)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, and int() beyond 4300 digits
        raise error(f"{path}: not valid JSON ({exc}); expected a {what}") from None


def load_toml(path: str | Path, *, what: str, max_bytes: int = MAX_SCENARIO_BYTES, max_depth: int = MAX_DEPTH,
              error: ErrorFactory = DataError) -> dict[str, Any]:
    """Parse a TOML file through :func:`read_text` and :func:`check_depth`."""
    text = read_text(path, what=what, max_bytes=max_bytes, error=error)
    check_depth(text, path, what=what, max_depth=max_depth, error=error)
    try:
        return tomllib.loads(text)
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, and int() beyond 4300 digits
        raise error(f"{path}: not valid TOML ({exc}); expected a {what}") from None

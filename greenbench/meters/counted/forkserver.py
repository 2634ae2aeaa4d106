"""The process that starts the jobs of an ``--energy-isolate`` run (issue #20).

Run as ``[unshare --pid] [setarch -R] valgrind ... python -m greenbench.meters.counted.forkserver ARGS``, where
ARGS are the job arguments every benchmark of the run shares (:func:`greenbench.meters.counted.isolate.job_args`
without the node id).  It starts Python and imports pytest, the plugins pytest would load for ARGS (through
pytest's own assertion-rewriting import hook, as pytest imports them) and greenbench's counted-run modules once,
under Valgrind with instrumentation off.  Then, for each node id the controller sends, it forks: the child is
the job, ``pytest ARGS NODEID`` in a copy of that same process, with its own directory as ``/proc/self/fd/200``.

Why a fork gives the same counts every time: before each fork the server runs the same few lines (a full
garbage collection, the same ``ns_last_pid`` write so that the child gets the same process id in the server's
PID namespace), so every job starts from one state, whatever ran on this server before and whichever node id
it is given; the request is read by the child, never by the server.  Two warm-up forks at the start bring the
server's own allocations to that fixed state.  It saves each job the interpreter's start and the imports under
Valgrind (cattrs, this VM: about 5 s of a job's 8 s).

Protocol (the controller's side: :class:`greenbench.meters.counted.isolate.Server`): standard input is a
socket; a request is 8 ASCII digits (its length) and the node id in UTF-8, an empty node id asks for a warm-up
fork.  For every request the server writes the child's wait status (4 bytes, little-endian) to standard
output.  The socket's end of file stops the server.
"""

from __future__ import annotations

import gc
import os
import socket
import sys
from collections.abc import Sequence

#: a request's length prefix: this many ASCII digits
HEADER_DIGITS = 8
#: what a warm-up request carries
WARM = b""
#: the process id every child gets, in the server's own PID namespace (the server is its process 1)
CHILD_PID = 100
#: the job's directory inside the server's (``/proc/self/fd/200/job``); the controller makes it before the request
JOB_DIR_NAME = "job"
#: the job's standard output and error, in its directory
OUTPUT_NAME = "output.txt"


def encode_request(nodeid: str) -> bytes:
    data = nodeid.encode("utf-8")
    if len(data) >= 10 ** HEADER_DIGITS:
        raise ValueError(f"node id of {len(data)} bytes is too long for a job request")
    return b"%0*d" % (HEADER_DIGITS, len(data)) + data


def _read_exact(fd: int, n: int) -> bytes:
    parts = []
    while n > 0:
        chunk = os.read(fd, n)
        if not chunk:
            raise EOFError
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def read_request(fd: int) -> str:
    """One request's node id (``""`` for a warm-up fork)."""
    n = int(_read_exact(fd, HEADER_DIGITS))
    return _read_exact(fd, n).decode("utf-8") if n else ""


def preload(args: Sequence[str]) -> str:
    """Import what every job of ``args`` imports before its own test modules; a one-line account of it.

    The plugins are imported as pytest imports them (its assertion-rewriting hook installed, the plugins'
    distributions marked for rewriting), so a job's pytest finds them imported by that hook and neither
    rewrites nor warns about them.  Anything that fails here only makes jobs slower: they import it themselves.
    """
    import copy

    import pytest  # noqa: F401
    from _pytest.config import get_config

    done = ["pytest"]
    try:
        config = get_config(list(args))
        ns = config._parser.parse_known_args(list(args), namespace=copy.copy(config.option))
        config.known_args_namespace = ns
        config._consider_importhook()
        config.pluginmanager.consider_preparse(list(args), exclude_only=False)  # -p NAME, -p no:NAME
        if not (os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") or getattr(ns, "disable_plugin_autoload", False)):
            config.pluginmanager.load_setuptools_entrypoints("pytest11")
            done.append("entry-point plugins")
        config._ensure_unconfigure()
    except Exception as exc:
        done.append(f"plugins not preloaded ({type(exc).__name__}: {exc})")
    try:
        import greenbench.gate.compare
        import greenbench.meters.counted.meter
        import greenbench.plugin.session  # noqa: F401
        done.append("greenbench")
    except Exception as exc:
        done.append(f"greenbench not preloaded ({type(exc).__name__}: {exc})")
    return ", ".join(done)


def _set_next_pid() -> None:
    """The next child gets :data:`CHILD_PID` (only as process 1 of a PID namespace of our own)."""
    if os.getpid() != 1:
        return
    try:
        fd = os.open("/proc/sys/kernel/ns_last_pid", os.O_WRONLY)
    except OSError:
        return
    try:
        os.write(fd, b"99")
    except OSError:
        pass
    finally:
        os.close(fd)


def _child(args: Sequence[str]) -> None:
    """The job: never returns (``SystemExit`` with pytest's exit code)."""
    nodeid = read_request(0)
    if not nodeid:
        os._exit(0)
    from greenbench.meters.counted.counts import DIR_ENV

    base = os.environ.get(DIR_ENV, "")
    job = os.path.join(base, JOB_DIR_NAME)
    if base.startswith("/proc/self/fd/"):
        fd = os.open(job, os.O_RDONLY | os.O_DIRECTORY)
        os.dup2(fd, int(base.rsplit("/", 1)[1]))
        os.close(fd)
        out_path = os.path.join(base, OUTPUT_NAME)
    else:
        os.environ[DIR_ENV] = job
        out_path = os.path.join(job, OUTPUT_NAME)
    out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    os.close(null)
    gc.unfreeze()
    import runpy

    sys.argv = ["pytest", *args, nodeid]
    runpy.run_module("pytest", run_name="__main__", alter_sys=True)  # as ``python -m pytest ARGS NODEID``
    raise SystemExit(0)  # pytest's __main__ exits itself; not reached


def serve(args: Sequence[str]) -> int:
    print(f"greenbench fork server: preloaded {preload(args)}", file=sys.stderr, flush=True)
    sock = socket.socket(fileno=0)
    gc.collect()
    gc.freeze()  # the preloaded objects: never traversed again in the server, unfrozen in each job
    while True:
        if not sock.recv(1, socket.MSG_PEEK):
            return 0
        gc.collect()
        _set_next_pid()
        pid = os.fork()
        if pid == 0:
            _child(args)
        _, status = os.waitpid(pid, 0)
        os.write(1, status.to_bytes(4, "little", signed=True))


if __name__ == "__main__":
    raise SystemExit(serve(sys.argv[1:]))

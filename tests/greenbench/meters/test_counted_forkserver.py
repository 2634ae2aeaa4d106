"""The fork server behind --energy-isolate (issue #20), run natively: requests, statuses, the job's directory and
output, and the state every job starts from (the same whatever the server ran before)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenbench.meters.counted import forkserver as F
from greenbench.meters.counted.counts import DIR_ENV

ROOT = Path(__file__).resolve().parents[3]


@given(st.text(max_size=300))
def test_a_request_reads_back_as_it_was_sent(nodeid: str) -> None:
    r, w = os.pipe()
    try:
        os.write(w, F.encode_request(nodeid) + F.encode_request("next"))
        assert F.read_request(r) == nodeid
        assert F.read_request(r) == "next"
    finally:
        os.close(r)
        os.close(w)


def test_a_short_request_is_an_error_not_a_hang() -> None:
    r, w = os.pipe()
    os.write(w, b"00000010abc")
    os.close(w)
    with pytest.raises(EOFError):
        F.read_request(r)
    os.close(r)


def test_no_pid_is_forced_outside_a_namespace_of_its_own() -> None:
    assert os.getpid() != 1
    F._set_next_pid()  # the host's ns_last_pid is left alone (no error, no write as process 1 only)


SUITE = """
import gc, json, os, sys
def _state(name):
    state = {"blocks": sys.getallocatedblocks(), "gc": gc.get_count(), "pid": os.getpid()}
    with open(os.path.join(os.environ["STATE_DIR"], name), "a") as f:
        f.write(json.dumps(state) + "\\n")
def test_a():
    _state("a")
def test_b():
    x = [{str(i): [i] * 10} for i in range(5000)]  # leaves its process's heap in another state
    _state("b")
def test_fails():
    assert False, "its own assertion"
def test_crashes():
    os._exit(3)
"""


class Server:
    def __init__(self, tmp: Path, prefix: list[str] | None = None) -> None:
        self.slot = tmp / "slot"
        self.slot.mkdir()
        # the tests write their state outside the working directory: a file created there changes the listing
        # that imports see (importlib's directory cache) in every later process, forked or fresh
        (tmp / "state").mkdir()
        env = {**os.environ, DIR_ENV: str(self.slot), "STATE_DIR": str(tmp / "state"), "PYTHONPATH": str(ROOT),
               "PYTHONHASHSEED": "0"}
        self.ctl, theirs = socket.socketpair()
        self.proc = subprocess.Popen([*(prefix or []), sys.executable, "-m", "greenbench.meters.counted.forkserver",
                                      "-p", "no:cacheprovider", "-p", "no:randomly", "-q"],
                                     cwd=tmp, env=env, stdin=theirs, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        theirs.close()

    def run(self, nodeid: str) -> tuple[int, str]:
        job = self.slot / F.JOB_DIR_NAME
        shutil.rmtree(job, ignore_errors=True)
        if nodeid:
            job.mkdir()
        self.ctl.sendall(F.encode_request(nodeid))
        assert self.proc.stdout is not None
        status = int.from_bytes(self.proc.stdout.read(4), "little", signed=True)
        out = (job / F.OUTPUT_NAME).read_text() if nodeid else ""
        return os.waitstatus_to_exitcode(status), out

    def close(self) -> tuple[int, str]:
        self.ctl.close()
        _, err = self.proc.communicate(timeout=120)
        return self.proc.returncode, err.decode()


def test_jobs_report_their_exit_status_and_output(tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE)
    s = Server(tmp_path)
    try:
        assert s.run("") == (0, "")  # a warm-up fork
        rc, out = s.run("test_suite.py::test_a")
        assert rc == 0 and "1 passed" in out
        # pytest entered as ``python -m pytest`` enters it, the plugins imported through its rewriting hook:
        # no warning a plain run would not give
        assert "cannot be rewritten" not in out and "console_main" not in out, out
        rc, out = s.run("test_suite.py::test_fails")
        assert rc == 1 and "its own assertion" in out
        rc, out = s.run("test_suite.py::test_crashes")
        assert rc == 3
    finally:
        rc, err = s.close()
    assert rc == 0
    assert "preloaded pytest, entry-point plugins, greenbench" in err, err
    assert "not preloaded" not in err and "already imported" not in err


def test_every_job_starts_from_the_same_state(tmp_path: Path) -> None:
    """test_a run first, after a test that grew its own heap, and again: the same allocated blocks and
    garbage-collector counts when it runs (the server's state before each fork does not move)."""
    (tmp_path / "test_suite.py").write_text(SUITE)
    from greenbench.meters.counted.valgrind import aslr_off_prefix, pid_namespace_prefix

    (tmp_path / ".benchmarks").mkdir()  # as the controller leaves it: pytest-benchmark's storage made natively
    prefix = [*pid_namespace_prefix(), *aslr_off_prefix()]  # as the counted run starts it (addresses fixed)
    s = Server(tmp_path, prefix)
    try:
        for _ in range(2):
            s.run("")
        for nodeid in ("test_suite.py::test_a", "test_suite.py::test_b", "test_suite.py::test_a",
                       "test_suite.py::test_fails", "test_suite.py::test_a"):
            assert s.run(nodeid)[0] in (0, 1)
    finally:
        s.close()
    states = [json.loads(line) for line in (tmp_path / "state" / "a").read_text().splitlines()]
    assert len(states) == 3
    assert states[1:] == states[:1] * 2, states
    if pid_namespace_prefix():  # its own PID namespace: every job is the same process id
        assert {st["pid"] for st in states} == {F.CHILD_PID}

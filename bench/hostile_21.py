"""Hostile pass over issue #21's classes (and #23's silent no-ops), runnable against any checkout.

``python bench/hostile_21.py [--src DIR] [--only CLASS] [--json OUT]``

Each case runs in a fresh folder, in a subprocess, with ``DIR`` (default: this checkout) first on
``PYTHONPATH``, so the same cases can be run against an older commit (``git archive COMMIT | tar -x -C
/tmp/before``; ``--src /tmp/before``) to count what failed before and what fails now.  A case passes
when its expectation holds: the documented exit status, one line naming the path/field/meter, no
traceback or INTERNALERROR, and the data that could be saved was saved.  Prints one line per case and
the counts per class.  Timing plays no part: the meters are deterministic fakes or the model meter,
and a hanging meter is stopped by greenbench's own alarm (or by this script's timeout, which then
counts as a failure).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FAST = ["-p", "no:cacheprovider", "-p", "no:randomly", "--benchmark-min-rounds=5", "--benchmark-max-time=0.05",
        "--benchmark-warmup=off"]
MODEL = ["--energy-meter=model"]
TWO = """
def test_a_work(benchmark):
    benchmark(sum, range(2000))


def test_b_work(benchmark):
    benchmark(sum, range(3000))
"""


@dataclass
class Result:
    rc: int
    out: str
    folder: Path


@dataclass
class Case:
    cls: str
    name: str
    files: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    check: Callable[[Result], str | None] = lambda r: None
    #: a Python snippet instead of pytest (run with ``python -c``); prints FAIL: ... when wrong
    script: str | None = None
    setup: Callable[[Path], None] | None = None
    before: list[str] | None = None  # pytest args of a first run (e.g. save a baseline)
    timeout: float = 120.0


def clean(out: str) -> str | None:
    for bad in ("Traceback (most recent call last)", "INTERNALERROR", "min() arg is an empty sequence"):
        if bad in out:
            return f"output has {bad!r}"
    return None


def expect(rc: int | tuple[int, ...], *needles: str, absent: tuple[str, ...] = (),
           files: tuple[str, ...] = (), no_files: tuple[str, ...] = (),
           extra: Callable[[Result], str | None] | None = None) -> Callable[[Result], str | None]:
    codes = (rc,) if isinstance(rc, int) else rc

    def check(r: Result) -> str | None:
        if r.rc not in codes:
            return f"exit {r.rc}, expected {codes}"
        bad = clean(r.out)
        if bad:
            return bad
        for n in needles:
            if n not in r.out:
                return f"missing {n!r}"
        for n in absent:
            if n in r.out:
                return f"unexpected {n!r}"
        for f in files:
            if not (r.folder / f).exists():
                return f"{f} not written"
        for f in no_files:
            if list(r.folder.glob(f)):
                return f"{f} left behind"
        return extra(r) if extra else None

    return check


def run_case(case: Case, src: Path) -> str | None:
    with tempfile.TemporaryDirectory(prefix="hostile21-") as tmp:
        folder = Path(tmp)
        (folder / "tmp").mkdir()
        for name, text in case.files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(textwrap.dedent(text))
        if case.setup:
            case.setup(folder)
        env = dict(os.environ)
        env.update({"PYTHONPATH": f"{src}{os.pathsep}{folder}", "TMPDIR": str(folder / "tmp"),
                    "PYTHONDONTWRITEBYTECODE": "1"})
        env.pop("GITHUB_STEP_SUMMARY", None)
        env.update({k: v.replace("{folder}", str(folder)) for k, v in case.env.items()})
        (folder / "pytest.ini").write_text("[pytest]\n")
        if case.before:
            subprocess.run([sys.executable, "-m", "pytest", *FAST, *case.before], cwd=folder, env=env,
                           capture_output=True, timeout=case.timeout, check=False)
        if case.script is not None:
            cmd = [sys.executable, "-c", textwrap.dedent(case.script)]
        else:
            cmd = [sys.executable, "-m", "pytest", *FAST, *[a.replace("{folder}", str(folder)) for a in case.args]]
        try:
            p = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=case.timeout,
                               check=False)
        except subprocess.TimeoutExpired:
            return f"still running after {case.timeout:g} s"
        result = Result(p.returncode, p.stdout + p.stderr, folder)
        if case.script is not None:
            if p.returncode != 0 or "FAIL" in result.out:
                line = next((ln for ln in result.out.splitlines() if "FAIL" in ln), result.out.strip()[-300:])
                return line[:300] or f"exit {p.returncode}"
            return None
        return case.check(result)


# --------------------------------------------------------------------------- class 1: results kept at the end

def saved(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((folder / ".benchmarks").rglob("*.json"))]


def interrupted_saved(names: list[str]) -> Callable[[Result], str | None]:
    def check(r: Result) -> str | None:
        runs = saved(r.folder)
        if len(runs) != 1:
            return f"{len(runs)} saved runs, expected 1"
        got = [b["name"] for b in runs[0]["benchmarks"]]
        if got != names:
            return f"saved {got}, expected {names}"
        if not (runs[0].get("greenbench") or {}).get("interrupted"):
            return "not marked interrupted"
        rep = r.folder / "rep"
        if not (rep / "README.md").is_file() or "interrupted" not in (rep / "README.md").read_text():
            return "report README missing or not marked interrupted"
        if "interrupted" not in (rep / "index.html").read_text().lower():
            return "index.html not marked interrupted"
        return None

    return check


def stop_file(sig: str, call: str) -> str:
    return f"""
    import os
    import signal


    def test_a_work(benchmark):
        benchmark(sum, range(2000))


    def test_b_stopped(benchmark):
        def work():
            os.kill(os.getpid(), signal.{sig})
            return 1
        {call}


    def test_c_never(benchmark):
        benchmark(sum, range(10))
    """


FULL_DISK = """
import errno

import greenbench.io.atomic as atomic

_real = atomic.write_with


def full(path, writer, what="output"):
    if "{target}" in str(path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))
    return _real(path, writer, what)


atomic.write_with = full
"""


def bad_baseline(change: str) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        subprocess.run([sys.executable, "-m", "pytest", *FAST, *MODEL, "--benchmark-autosave", "-q"], cwd=folder,
                       env={**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{folder}"}, capture_output=True,
                       check=False, timeout=120)
        (path,) = (folder / ".benchmarks").rglob("*.json")
        data = json.loads(path.read_text())
        exec(change, {"data": data})  # the case's own damage
        path.write_text(json.dumps(data))

    return setup


def lock_held(folder: Path) -> None:
    # another process (this one's child, kept alive) holds the report folder while the run starts
    code = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); os.pwrite(fd, str(os.getpid()).encode(), 0); "
            "open(sys.argv[2], 'w').close(); time.sleep(120)")
    ready = folder / "locked"
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder / ".rep.greenbench-lock"), str(ready)])
    HOLDERS.append(proc)
    while not ready.exists():
        if proc.poll() is not None:
            break


HOLDERS: list[subprocess.Popen[bytes]] = []
SRC = ROOT


def concurrent_check(r: Result) -> str | None:
    text = r.out
    if "report written to" in text and r.rc == 0:
        return "both runs say 'report written' (the second overwrote or will be overwritten)"
    if "another greenbench run" not in text:
        return f"the losing run does not say so (exit {r.rc})"
    return clean(text)


def results_cases() -> list[Case]:
    c = "results kept"
    cases = [
        Case(c, f"signal {sig} in {where}", {"test_stop.py": stop_file(sig, call)},
             [*MODEL, "--benchmark-autosave", "--energy-report=rep"],
             check=expect(2, extra=interrupted_saved(["test_a_work"])))
        for sig, where, call in [("SIGINT", "first pedantic round", "benchmark.pedantic(work, rounds=5)"),
                                 ("SIGTERM", "first pedantic round", "benchmark.pedantic(work, rounds=5)"),
                                 ("SIGINT", "warm-up round", "benchmark.pedantic(work, rounds=3, warmup_rounds=1)"),
                                 ("SIGTERM", "calibration", "benchmark(work)"),
                                 ("SIGINT", "calibration", "benchmark(work)")]
    ]
    cases += [
        Case(c, "bytes parametrize value + report", {"test_b.py": """
            import pytest


            @pytest.mark.parametrize("p", [b"\\x00\\xff", b"x"])
            def test_b(benchmark, p):
                benchmark(len, p)
            """}, [*MODEL, "--energy-report=rep", "--benchmark-json=out.json"],
             check=expect(0, files=("rep/results.json", "rep/index.html", "out.json"))),
        Case(c, "set in extra_info + report", {"test_b.py": """
            def test_b(benchmark):
                benchmark.extra_info["tags"] = {"a", "b"}
                benchmark(len, "x")
            """}, [*MODEL, "--energy-report=rep"], check=expect((0,), files=("rep/results.json",))),
        Case(c, "--energy-report /proc/x", {"test_two.py": TWO}, [*MODEL, "--energy-report=/proc/x"],
             check=expect(4, "/proc/x", absent=("test_a_work PASSED",))),
        Case(c, "--energy-report under a file", {"test_two.py": TWO, "afile": "x"},
             [*MODEL, "--energy-report=afile/rep"], check=expect(4, "afile")),
        Case(c, "--energy-summary is a folder", {"test_two.py": TWO, "sdir/keep": "x"},
             [*MODEL, "--energy-summary=sdir"], check=expect(4, "--energy-summary sdir")),
        Case(c, "--energy-summary under a file", {"test_two.py": TWO, "afile": "x"},
             [*MODEL, "--energy-summary=afile/s.md"], check=expect(4, "--energy-summary afile/s.md")),
        Case(c, "--energy-summary in /proc", {"test_two.py": TWO}, [*MODEL, "--energy-summary=/proc/s.md"],
             check=expect(4, "/proc/s.md")),
        Case(c, "GITHUB_STEP_SUMMARY in a missing folder", {"test_two.py": TWO}, MODEL,
             {"GITHUB_STEP_SUMMARY": "{folder}/nope/step.md"}, check=expect(4, "GITHUB_STEP_SUMMARY")),
        Case(c, "GITHUB_STEP_SUMMARY is a folder", {"test_two.py": TWO, "stepdir/keep": "x"}, MODEL,
             {"GITHUB_STEP_SUMMARY": "{folder}/stepdir"}, check=expect(4, "GITHUB_STEP_SUMMARY")),
        Case(c, "full disk writing the report", {"test_two.py": TWO, "conftest.py": FULL_DISK.replace(
            "{target}", "README.md")}, [*MODEL, "--benchmark-compare", "--energy-report=rep",
                                        "--energy-summary=s.md"], before=[*MODEL, "--benchmark-autosave"],
             check=expect(1, "No space left on device", files=("s.md",), no_files=(".rep.*",))),
        Case(c, "full disk writing the summary", {"test_two.py": TWO, "conftest.py": FULL_DISK.replace(
            "{target}", "s.md")}, [*MODEL, "--benchmark-compare", "--energy-report=rep", "--energy-summary=s.md"],
             before=[*MODEL, "--benchmark-autosave"],
             check=expect(1, "No space left on device", files=("rep/README.md",))),
        Case(c, "concurrent run on the same report folder", {"test_two.py": TWO}, [*MODEL, "--energy-report=rep"],
             setup=lock_held, check=concurrent_check),
        Case(c, "tuple key in extra_info + report", {"test_b.py": """
            def test_b(benchmark):
                benchmark.extra_info["by_pair"] = {(1, 2): 3}
                benchmark(len, "x")
            """}, [*MODEL, "--energy-report=rep"], check=expect(0, files=("rep/results.json",))),
        Case(c, "reference cycle in extra_info + report", {"test_b.py": """
            def test_b(benchmark):
                loop = {}
                loop["self"] = loop
                benchmark.extra_info["loop"] = loop
                benchmark(len, "x")
            """}, [*MODEL, "--energy-report=rep"], check=expect(0, files=("rep/results.json",))),
        Case(c, "no artifacts folder left in tmp", {"test_pic.py": """
            from greenbench.plugin import session_of


            def test_pic(benchmark, request):
                (session_of(request.config).artifacts_dir() / "p.png").write_bytes(b"x")
                benchmark(sum, range(10))
            """}, MODEL, check=expect(0, no_files=("tmp/greenbench-artifacts-*",))),
    ]
    for label, change in [("machine_info.greenbench a list", "data['machine_info']['greenbench'] = ['x']"),
                          ("machine_info.greenbench a string", "data['machine_info']['greenbench'] = 'rapl'"),
                          ("machine_info.greenbench.meter a string",
                           "data['machine_info']['greenbench']['meter'] = 'rapl'"),
                          ("machine_info a list", "data['machine_info'] = [1]")]:
        cases.append(Case(c, f"baseline {label} (gate)", {"test_two.py": TWO},
                          [*MODEL, "--benchmark-compare", "--energy-compare-fail=10%"], setup=bad_baseline(change),
                          check=expect(4, "machine_info")))
        cases.append(Case(c, f"baseline {label} (compare only, report)", {"test_two.py": TWO},
                          [*MODEL, "--benchmark-compare", "--energy-report=rep"], setup=bad_baseline(change),
                          check=expect((0, 1), "machine_info", files=("rep/README.md",))))
    return cases


# --------------------------------------------------------------------------- class 2: no figure not measured

USER = """
import math
import threading

from greenbench.meters import Measurement, MeterBase


class Base(MeterBase):
    source = "mine"

    def start(self):
        self._begin_window()
        self._mark_open(0.0, 0.0)

    def stop(self):
        self._end_window()
        return Measurement(1e-6, 1e-4, 1e-4, "mine", True)


class Raises(Base):
    def stop(self):
        raise RuntimeError("sensor gone")


class RaisesOnce(Base):
    done = False

    def stop(self):
        if not RaisesOnce.done:
            RaisesOnce.done = True
            raise RuntimeError("hiccup")
        return super().stop()


class StartRaises(Base):
    def start(self):
        raise OSError("no device")


def _returning(value):
    class R(Base):
        def stop(self):
            self._end_window()
            return value
    return R


ReturnsNone = _returning(None)
ReturnsFloat = _returning(1.5)
ReturnsDict = _returning({"energy_j": 1.0})


class ReturnsNaN(Base):
    def stop(self):
        self._end_window()
        return Measurement(math.nan, 1e-4, 0.0, "mine", True)


class ReturnsHuge(Base):
    def stop(self):
        self._end_window()
        return Measurement(1e308, 1e-4, 0.0, "mine", True)


class NeedsArgs(Base):
    def __init__(self, port):
        pass


class HangsStart(Base):
    def start(self):
        threading.Event().wait()


class HangsStop(Base):
    def stop(self):
        threading.Event().wait()


class Zero(Base):
    def stop(self):
        self._end_window()
        return Measurement(0.0, 1e-4, 2e-3, "mine", True)


class StuckRapl(Base):
    source = "rapl"
    estimated = False

    def stop(self):
        self._end_window()
        return Measurement(0.0, 1e-4, 2e-3, "rapl", False, domains={"package-0": 0.0})


class BadDescribe(Base):
    def describe(self):
        return {"x": object()}


class DescribeFailsLater(Base):
    calls = 0

    def describe(self):
        DescribeFailsLater.calls += 1
        if DescribeFailsLater.calls > 1:
            raise OSError("device gone")
        return super().describe()


class FrozenRapl(Base):
    # every window too short to tick; the counters never move over the whole benchmark
    source = "rapl"
    estimated = False

    def counters(self):
        return (123456, 789)

    def stop(self):
        self._end_window()
        return Measurement(0.0, 1e-6, 1e-6, "rapl", False, domains={"package-0": 0.0})


class BadSource(Base):
    source = "My Meter!"


NOT_A_CLASS = 3
"""


def user(cls_name: str, check: Callable[[Result], str | None], *, timeout: float = 120.0,
         env: dict[str, str] | None = None) -> Case:
    return Case("no unmeasured figure", f"--energy-meter usermeters:{cls_name}",
                {"usermeters.py": USER, "test_two.py": TWO}, [f"--energy-meter=usermeters:{cls_name}"],
                env=env or {}, check=check, timeout=timeout)


def one_line_fail(meter: str, *needles: str, failed: int = 2) -> Callable[[Result], str | None]:
    def extra(r: Result) -> str | None:
        if f"{failed} failed" not in r.out and not (failed == 0 and " failed" not in r.out):
            return f"expected {failed} failed benchmark(s)"
        if "already open" in r.out:
            return "the next benchmark found the window open"
        if "greenbench/plugin/recorder.py" in r.out or "greenbench/plugin/session.py" in r.out:
            return "a traceback from inside greenbench"
        return None

    return expect(1, meter, *needles, extra=extra)


def results_file(change: str) -> str:
    """A snippet writing r.json (a greenbench entry damaged by ``change``) and running the readers."""
    return f"""
    import copy, json, subprocess, sys
    sys.path.insert(0, {str(ROOT / 'tests')!r})
    from fakes import make_entry
    e = make_entry("test_a", [1.0, 1.1, 0.9])
    energy = e["extra_info"]["energy"]
    {change}
    doc = {{"benchmarks": [e], "greenbench": {{"schema_version": 2}}, "machine_info": {{}}}}
    json.dump(doc, open("r.json", "w"))
    fails = []
    for cmd in (["greenbench", "report", "r.json", "--out", "rep"], ["greenbench", "export", "bencher", "r.json"],
                ["greenbench", "export", "codecarbon", "r.json"]):
        p = subprocess.run([sys.executable, "-m", *cmd], capture_output=True, text=True)
        if p.returncode == 0 or "Traceback" in p.stderr or p.stderr.count("\\n") != 1:
            fails.append(f"{{cmd[1]}}: exit {{p.returncode}} {{(p.stdout + p.stderr)[-150:]!r}}")
    p = subprocess.run([sys.executable, "-m", "greensim", "run", {str(ROOT / 'greensim' / 'scenarios' / 'knn.toml')!r},
                        "--results", "r.json", "--benchmark", "test_a"], capture_output=True, text=True)
    if p.returncode == 0 or "Traceback" in p.stderr:
        fails.append(f"greensim run: exit {{p.returncode}} {{(p.stdout + p.stderr)[-200:]!r}}")
    from greenbench import gate
    good = make_entry("test_a", [1.0, 1.1, 0.9])
    v = gate.compare_entries(e, good, gate.GateRule.parse("10%"))
    if v.verdict != "skipped":
        fails.append(f"gate: {{v.verdict}} on the damaged baseline entry")
    print("FAIL: " + "; ".join(fails) if fails else "ok")
    """


def meter_cases() -> list[Case]:
    c = "no unmeasured figure"
    cases = [
        user("Raises", one_line_fail("usermeters:Raises", "sensor gone")),
        user("RaisesOnce", one_line_fail("usermeters:RaisesOnce", "hiccup", failed=1)),
        user("StartRaises", one_line_fail("usermeters:StartRaises", "no device")),
        user("ReturnsNone", one_line_fail("usermeters:ReturnsNone", "NoneType")),
        user("ReturnsFloat", one_line_fail("usermeters:ReturnsFloat", "float")),
        user("ReturnsDict", one_line_fail("usermeters:ReturnsDict", "dict")),
        user("ReturnsNaN", one_line_fail("usermeters:ReturnsNaN", "finite")),
        user("ReturnsHuge", one_line_fail("usermeters:ReturnsHuge", "1e+308")),
        user("HangsStart", one_line_fail("usermeters:HangsStart", "did not return within"), timeout=90),
        user("HangsStop", one_line_fail("usermeters:HangsStop", "did not return within"), timeout=90),
        user("StuckRapl", one_line_fail("rapl meter", "read 0 J in all")),
        Case(c, "RAPL frozen over a whole benchmark of sub-ms windows", {"usermeters.py": USER, "test_burn.py": """
            def burn():
                return sum(i * i for i in range(20000))


            def test_a(benchmark):
                benchmark.pedantic(burn, rounds=40)
            """}, ["--energy-meter=usermeters:FrozenRapl", "--benchmark-json=out.json"],
             check=one_line_fail("rapl meter", "whole benchmark", failed=1)),
        user("NeedsArgs", expect(4, "usermeters:NeedsArgs", "no arguments")),
        user("NOT_A_CLASS", expect(4, "usermeters:NOT_A_CLASS", "not a class")),
        user("BadDescribe", expect(4, "usermeters:BadDescribe", "describe()")),
        user("BadSource", expect(4, "usermeters:BadSource", "source")),
        user("Missing", expect(4, "usermeters:Missing")),
        Case(c, "describe() failing after the start", {"usermeters.py": USER, "test_two.py": TWO},
             ["--energy-meter=usermeters:DescribeFailsLater", "--benchmark-autosave"],
             check=expect(1, "device gone", extra=lambda r: None if saved(r.folder) else "nothing saved")),
        Case(c, "--energy-meter :", {"test_two.py": TWO}, ["--energy-meter=:"], check=expect(4, "MODULE:CLASS")),
        Case(c, "--energy-meter nomod:", {"test_two.py": TWO}, ["--energy-meter=nomod:"],
             check=expect(4, "MODULE:CLASS")),
        Case(c, "meter module with a syntax error", {"badmod.py": "class M(:\n    pass\n", "test_two.py": TWO},
             ["--energy-meter=badmod:M"], check=expect(4, "badmod", "SyntaxError")),
        Case(c, "meter module raising on import", {"badmod.py": "raise RuntimeError('boom')\n", "test_two.py": TWO},
             ["--energy-meter=badmod:M"], check=expect(4, "badmod", "boom")),
    ]

    def zero_warned(r: Result) -> str | None:
        data = json.loads((r.folder / "out.json").read_text())
        warnings = data["benchmarks"][0]["extra_info"]["energy"].get("warnings", [])
        return None if any("read 0 J" in w for w in warnings) else "no warning for a meter reading 0 J"

    cases.append(Case(c, "meter reading 0 J while the process worked", {"usermeters.py": USER, "test_two.py": TWO},
                      ["--energy-meter=usermeters:Zero", "--benchmark-json=out.json"],
                      check=expect(0, extra=zero_warned)))
    cases.append(Case(c, "auto: readable but stuck RAPL not chosen", script=f"""
        import sys
        sys.path.insert(0, {str(ROOT / 'tests')!r})
        from pathlib import Path
        from fakes import build_powercap
        from greenbench.meters import probe
        import inspect
        root = build_powercap(Path.cwd(), {{"intel-rapl:0": ("package-0", 1000)}})
        kw = {{"check_moving": True}} if "check_moving" in inspect.signature(probe).parameters else {{}}
        p = probe(root, **kw)
        print("ok" if p.meter.source == "model" else f"FAIL: auto picked {{p.meter.source}} with frozen counters")
        """))
    for label, change in [
        ("estimated null", "energy['estimated'] = None"),
        ("estimated a string", "energy['estimated'] = 'no'"),
        ("estimated false on the model", "energy['source'] = 'model'; energy['estimated'] = False"),
        ("estimated false on counted", "energy['source'] = 'counted'; energy['estimated'] = False"),
        ("negative median", "energy['per_call_j']['median'] = -1.0; energy['per_call_j']['min'] = -2.0"),
        ("string median", "energy['per_call_j']['median'] = '1.0'"),
        ("bool median", "energy['per_call_j']['median'] = True"),
        ("per_call_j a string", "energy['per_call_j'] = '1 J'"),
        ("negative power", "energy['power_w'] = -5.0"),
        ("string co2e", "energy['co2e_g'] = 'a lot'"),
        ("negative round", "energy['rounds_j'] = [1.0, -1.0, 1.0]"),
        ("string clean min", "energy['clean_j']['min'] = 'x'"),
    ]:
        cases.append(Case(c, f"results file: {label}", script=results_file(change)))
    return cases


# --------------------------------------------------------------------------- class 3: text is text

TEXT_IDS = ["a|b", "`tick`", "``x``|y", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
            "\x1b]8;;http://evil\x07link\x1b]8;;\x07", "\x1b[2J\x1b[31mred", "*b* _i_ [l](http://x)", "a$\\frac$b",
            "\u202eevil", "&lt;b&gt;", "line\nbreak|x"]


def text_case(where: str, text: str) -> Case:
    return Case("text is text", f"{where}: {text!r}", script=f"""
        import re, sys
        sys.path.insert(0, {str(ROOT / 'tests')!r})
        from pathlib import Path
        from markdown_it import MarkdownIt
        from fakes import make_entry
        name = {text!r}
        md_render = MarkdownIt("commonmark", {{"html": True}}).enable("table")

        def cells(md):
            toks = md_render.parse(md)
            rows = []
            for i, t in enumerate(toks):
                if t.type == "tr_open":
                    rows.append(0)
                if t.type in ("td_open", "th_open"):
                    rows[-1] += 1
            return rows

        def bad(md, label):
            out = []
            if re.search(r"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f]", md):
                out.append(label + ": raw control byte")
            html = md_render.render(md)
            for tag in ("<script", "<img src=x", "<a href", "<em>"):  # our own **bold** is not the id's
                if tag in html:
                    out.append(f"{{label}}: renders {{tag}}")
            rows = cells(md)
            if rows and len(set(r for r in rows)) > 1 and "{where}" != "history":
                out.append(f"{{label}}: table rows with {{sorted(set(rows))}} cells")
            return out

        e = make_entry(name, [1.0, 1.1, 0.9], extra={{"quality": {{name: 0.5}}}}, fullname=name, group=name)
        doc = {{"benchmarks": [e], "machine_info": {{"node": name, "greenbench": {{"meter": {{"source": "model",
               "estimated": True, "reason": name}}}}}}, "commit_info": {{"id": name}}, "datetime": "2026"}}
        fails = []
        if "{where}" == "report":
            from greenbench.outputs.report import write_report
            readme = write_report(doc, Path("rep")).read_text()
            fails += bad(readme, "README.md")
            page = Path("rep/index.html").read_text()
            if "'unsafe-inline'" in page:
                fails.append("index.html CSP allows 'unsafe-inline'")
            if "<script" in page.replace("<script>", "", 1).split("</script>", 1)[-1] or name in page and "<" in name:
                fails.append("index.html carries the id unescaped")
        elif "{where}" == "summary":
            from greenbench import gate
            from greenbench.outputs import summary
            import copy
            v = gate.compare_entries(copy.deepcopy(e), e, gate.GateRule.parse("10%"))
            md = summary.render([v], [e], {{name: copy.deepcopy(e)}}, rule=gate.GateRule.parse("10%"), meter=name)
            fails += bad(md, "summary")
        else:
            import json, subprocess
            store = Path(".benchmarks/m")
            store.mkdir(parents=True)
            for i in (1, 2):
                d = dict(doc)
                d["commit_info"] = {{"id": name + str(i)}}
                (store / f"000{{i}}_x.json").write_text(json.dumps(d))
            from greenbench.outputs.history import write_history
            out = write_history(".benchmarks", "hist")
            md = Path("hist/history.md").read_text()
            fails += bad(md, "history.md")
        print("FAIL: " + "; ".join(fails) if fails else "ok")
        """)


def text_cases() -> list[Case]:
    return [text_case(where, t) for where in ("report", "summary", "history") for t in TEXT_IDS]


# --------------------------------------------------------------------------- class 4 (#23): say so

def say_cases() -> list[Case]:
    c = "says when nothing is written"
    return [
        Case(c, "--energy-report with --benchmark-disable", {"test_two.py": TWO},
             [*MODEL, "--energy-report=rep", "--benchmark-disable"], check=expect(0, "no report will be written")),
        Case(c, "--energy-report with --benchmark-skip", {"test_two.py": TWO},
             [*MODEL, "--energy-report=rep", "--benchmark-skip"], check=expect((0, 5), "no report will be written")),
        Case(c, "--energy-report with xdist -n 2", {"test_two.py": TWO},
             [*MODEL, "--energy-report=rep", "-n", "2"], check=expect(0, "no report will be written")),
        Case(c, "--energy-summary without a compare", {"test_two.py": TWO},
             [*MODEL, "--energy-summary=s.md"], check=expect(0, "no summary will be written")),
        Case(c, "--energy-summary with --benchmark-disable", {"test_two.py": TWO},
             [*MODEL, "--energy-summary=s.md", "--benchmark-disable"], check=expect(0, "no summary will be written")),
    ]


CLASSES = {"results": results_cases, "meters": meter_cases, "text": text_cases, "say": say_cases}


def main(argv: list[str] | None = None) -> int:
    global SRC
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=ROOT, help="checkout whose greenbench/greensim to test")
    parser.add_argument("--only", choices=sorted(CLASSES), action="append")
    parser.add_argument("--json", type=Path, help="write per-case results here")
    parser.add_argument("--match", action="append", help="only cases whose name holds this text")
    args = parser.parse_args(argv)
    SRC = args.src.resolve()
    results: list[dict[str, Any]] = []
    counts: dict[str, list[int]] = {}
    for key in args.only or list(CLASSES):
        for case in CLASSES[key]():
            if args.match and not any(m in case.name for m in args.match):
                continue
            try:
                why = run_case(case, SRC)
            except Exception as exc:  # the setup itself failed on this checkout: counts as failing
                why = f"setup: {type(exc).__name__}: {exc}"
            finally:
                for proc in HOLDERS:
                    proc.kill()
                    proc.wait()
                HOLDERS.clear()
            tally = counts.setdefault(case.cls, [0, 0])
            tally[0] += 1
            tally[1] += why is not None
            print(f"{'FAIL' if why else 'ok  '} [{case.cls}] {case.name}" + (f": {why}" if why else ""), flush=True)
            results.append({"class": case.cls, "case": case.name, "failure": why})
    print()
    for cls, (n, failed) in counts.items():
        print(f"{cls}: {n} cases, {failed} failing")
    if args.json:
        args.json.write_text(json.dumps({"src": str(SRC), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

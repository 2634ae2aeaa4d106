"""Sessions that CI and people run.  ``nox -l`` lists them.

``bench`` is the main job (quick benchmark suite + report folder); ``tests``
runs the test suite.  Both install everything they need themselves: the CPU
build of PyTorch first (an unpinned ``torch`` would pull a multi-GB CUDA
build), then the project with its extras (this also compiles ``native/``).
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["tests", "bench"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"
#: PyTorch build installed before the project (override: GREENBENCH_TORCH="torch==2.5.1")
TORCH = os.environ.get("GREENBENCH_TORCH", "torch==2.13.0")
REPORT = Path("report")
#: one thread for the numeric libraries unless told otherwise (see bench/threads.py, bench/conftest.py)
THREAD_ENV = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "OMP_WAIT_POLICY": "PASSIVE"}


def install(session: nox.Session, extras: str = "all,test") -> None:
    session.install("--upgrade", "pip")
    session.install(TORCH)
    session.install("-e", f".[{extras}]")
    # the suite's C sorts are not installed with greenbench: build them in place
    session.run("python", "native/_ffi_build.py")


def run_bench(session: nox.Session, size: str) -> None:
    report = Path(session.posargs[0]) if session.posargs else REPORT
    session.run(
        "pytest", "bench", f"--workload-size={size}", "-p", "no:cacheprovider",
        f"--energy-report={report}",  # also writes report/results.json
        "--benchmark-sort=name", "--benchmark-columns=min,median,rounds",
        env=THREAD_ENV,
    )
    check_html(session, report)
    run_scenarios(session, report / "results.json")


def check_html(session: nox.Session, report: Path) -> None:
    """Load report/index.html in headless Chromium (no script errors) and save report/index.png."""
    import shutil

    if shutil.which("chromium") is None and os.environ.get("GREENBENCH_REQUIRE_BROWSER") != "1":
        session.log("chromium not installed: skipping the browser check of report/index.html")
        return
    session.run("python", "-m", "greenbench.outputs.browser", str(report / "index.html"),
                "--screenshot", str(report / "index.png"))


def run_scenarios(session: nox.Session, results: Path) -> None:
    """Every shipped what-if file (and fleet file, scenarios/fleet/); their tables, JSON and plots go to
    <report>/greensim/."""
    out = results.parent / "greensim"
    for path in sorted(Path("greensim/scenarios").glob("*.toml")):
        args = ["python", "-m", "greensim", "run", str(path),
                "--json", str(out / f"{path.stem}.json"), "--plot", str(out / f"{path.stem}.png")]
        if results.exists():
            args += ["--results", str(results)]
        elif "results" in path.read_text():
            session.log(f"skipping {path}: it reads {results}, which the bench session writes")
            continue
        session.run(*args)
    for path in sorted(Path("greensim/scenarios/fleet").glob("*.toml")):  # fleet scale: `greensim fleet`
        session.run("python", "-m", "greensim", "fleet", str(path),
                    "--json", str(out / f"{path.stem}.json"), "--plot", str(out / f"{path.stem}.png"))


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit, property and integration tests (never times anything)."""
    install(session)
    if session.posargs:
        session.run("pytest", *session.posargs, env=THREAD_ENV)
        return
    # tests that time real work run alone: under xdist the other worker would contend with them
    session.run("pytest", "-n", "2", "-m", "not serial", env=THREAD_ENV)
    session.run("pytest", "-m", "serial", env=THREAD_ENV)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """The main job: quick benchmark suite with energy, then the report folder (report/)."""
    install(session)
    run_bench(session, "quick")


@nox.session(python=PYTHON, default=False)
def bench_full(session: nox.Session) -> None:
    """All benchmarks at the full size (close to the study; hours on 2 cores)."""
    install(session)
    run_bench(session, "full")


@nox.session(python=PYTHON, default=False)
def bench_counted(session: nox.Session) -> None:
    """Issue #12: a representative quick subset counted under callgrind (needs valgrind), then the counted
    A/A + planted-regression check of the gate with two busy loops (bench/counted_aa.py)."""
    install(session)
    # tiny sizes (bench.TINY): one of each kind -- a sort, classic ML, a torch model, the Numba NCA kernel
    env = {**THREAD_ENV, "GREENBENCH_BENCH_TINY": "1", "GREENBENCH_COUNTED_ROUNDS": "3"}
    # Numba's cache=True kernels, compiled natively for the generic CPU the counted run asks for
    # (greenbench.meters.counted.NUMBA_ENV): under Valgrind they then load from the cache, not compile
    session.run("python", "-c", "from bench.workloads.nca import kernel; kernel.warm_up()",
                env={**env, "NUMBA_CPU_NAME": "generic", "NUMBA_NUM_THREADS": "1"})
    session.run(
        "pytest", "bench/test_sorts.py::test_heap_sort[python-heap-1000]", "bench/test_classic.py::test_knn_predict",
        "bench/test_deep.py::test_classifier_infer[mlp]", "bench/test_nca.py::test_nca_infer[32-numba]",
        "--workload-size=quick", "-p", "no:cacheprovider", "--energy-meter=counted",
        "--benchmark-columns=min,rounds", env=env,
    )
    # 1 % and a planted +2 %, with two busy loops: the small loop's two per-process states (1.4 % apart, a
    # pymalloc branch that followed its arenas' addresses) are gone with the aligned arenas (docs/counted.md)
    session.run("python", "bench/counted_aa.py", "--busy", "2", "--compares", "3", "--threshold", "1%",
                "--regression", "0.02", "--rounds", "3", "--n", "5000")


@nox.session(python=PYTHON, default=False)
def ci_recipes(session: nox.Session) -> None:
    """Issue #20: docs/ci's GitHub Actions and GitLab recipes (counted gate, baseline and head in one job) run
    end to end on a tiny git project: an A/A change passes, a +5 % change fails naming its benchmark only
    (needs valgrind; bench/ci_recipes.py)."""
    session.install("--upgrade", "pip")
    session.install("pyyaml>=6")
    session.run("python", "bench/ci_recipes.py", *session.posargs)


@nox.session(python=PYTHON, default=False)
def scenarios(session: nox.Session) -> None:
    """greensim's example what-if scenarios (against report/results.json when present)."""
    install(session, extras="test")
    run_scenarios(session, REPORT / "results.json")


@nox.session(python=PYTHON, default=False)
def dist(session: nox.Session) -> None:
    """Build the sdist and the wheel (python -m build), check them (twine check), install the wheel alone."""
    import tempfile

    session.install("build", "twine")
    out = Path(tempfile.mkdtemp(prefix="greenbench-dist-"))
    session.run("python", "-m", "build", "--outdir", str(out))
    files = sorted(str(p) for p in out.iterdir())
    session.run("twine", "check", "--strict", *files)
    wheel = next(f for f in files if f.endswith(".whl"))
    session.install(wheel)
    # the installed package carries its data (JSON Schema, intensity tables) and the console scripts work
    session.run("python", "-c", "from importlib.resources import files; "
                "assert (files('greenbench') / 'data/schema/energy.schema.json').is_file()")
    session.run("greenbench", "--help", silent=True)


@nox.session(python=PYTHON, default=False)
def lint(session: nox.Session) -> None:
    """ruff over the whole tree."""
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session(python=PYTHON, default=False)
def typecheck(session: nox.Session) -> None:
    """mypy over greenbench, greensim, bench and native."""
    install(session)
    session.install("mypy")
    session.run("mypy")

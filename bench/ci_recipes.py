"""Run docs/ci's GitHub Actions and GitLab recipes end to end on a tiny project (issue #20; `nox -s ci_recipes`).

    python bench/ci_recipes.py [--recipe github|gitlab|both] [--scenario aa|regression|both] [--keep DIR]

A tiny git project (a package with one function and a pytest-benchmark file) gets a base commit and a head
commit: ``aa`` changes only its README (the gate must pass, exit 0), ``regression`` makes the benchmarked
function do 5 % more work (the gate must fail, exit 1, naming that benchmark only).  The recipe's own shell
steps are read from the YAML and run in order in that project, with the CI's variables set to the two
commits; steps that only talk to the CI service (``uses:`` actions, the MR note without a token) do not run.
Two substitutions, both printed: Valgrind's install step is skipped when ``valgrind`` is already on PATH, and
``greenbench`` in the install line means this checkout (not PyPI).  Exits 0 when every expectation holds.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
GITHUB = REPO / "docs" / "ci" / "github-actions.yml"
GITLAB = REPO / "docs" / "ci" / "gitlab-ci.yml"

PACKAGE = '''
def work(n, extra=0):
    """A small pure-Python loop; ``extra`` adds that many iterations of the same work."""
    s = 0
    for i in range(n + extra):
        s += i * i % 7
    return s
'''
BENCH = '''
from tinyproj import work


def test_work(benchmark):
    benchmark(work, 400)


def test_sort(benchmark):
    data = [(i * 7919) % 10007 for i in range(300)]
    benchmark(sorted, data)
'''
PYPROJECT = '''
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "tinyproj"
version = "0"

[tool.setuptools]
packages = ["tinyproj"]
'''


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_project(root: Path, scenario: str) -> tuple[str, str]:
    """The tiny project; (base sha, head sha)."""
    (root / "tinyproj").mkdir(parents=True)
    (root / "tinyproj" / "__init__.py").write_text(PACKAGE)
    (root / "bench").mkdir()
    (root / "bench" / "test_tiny.py").write_text(BENCH)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "README.md").write_text("tiny\n")
    (root / ".gitignore").write_text(".benchmarks/\nreport/\nenergy-summary.md\n*.egg-info/\n__pycache__/\n")
    git(root, "init", "-q")
    for k, v in (("user.email", "ci@example.invalid"), ("user.name", "ci")):
        git(root, "config", k, v)
    git(root, "add", ".")
    git(root, "commit", "-qm", "base")
    base = git(root, "rev-parse", "HEAD")
    if scenario == "regression":  # 5 % more iterations of the same loop
        (root / "bench" / "test_tiny.py").write_text(BENCH.replace("benchmark(work, 400)", "benchmark(work, 400, 20)"))
    else:
        (root / "README.md").write_text("tiny, with a longer README\n")
    git(root, "commit", "-qam", "head")
    return base, git(root, "rev-parse", "HEAD")


def adapt(line: str) -> str | None:
    """The recipe's command as run here (None: skipped), with the two documented substitutions."""
    if "apt-get" in line and "valgrind" in line and shutil.which("valgrind"):
        return None
    if re.search(r"pip install .*\bgreenbench\b", line):
        return re.sub(r"\bgreenbench\b(?!\S)", str(REPO), line)
    return line


def github_script(doc: dict[str, Any], base: str, head: str) -> tuple[str, dict[str, str]]:
    job = doc["jobs"]["energy-gate"]
    lines: list[str] = []
    for step in job["steps"]:
        run = step.get("run")
        if not run:
            continue
        run = run.replace("${{ github.event.pull_request.base.sha }}", base)
        run = run.replace("${{ github.event.pull_request.head.sha }}", head)
        assert "${{" not in run, f"unhandled expression in {run!r}"
        adapted = adapt(run)
        if adapted is None:
            print(f"  skipped (valgrind is on PATH): {step.get('name', run)}")
            continue
        lines.append(f"( set -e\n{adapted}\n)")
    return "set -e\n" + "\n".join(lines) + "\n", {k: str(v) for k, v in (job.get("env") or {}).items()}


def gitlab_script(doc: dict[str, Any], base: str, head: str) -> tuple[str, dict[str, str]]:
    job = doc["energy-gate"]
    lines = []
    for item in job["script"]:
        adapted = adapt(item)
        if adapted is None:
            print(f"  skipped (valgrind is on PATH): {item}")
            continue
        lines.append(adapted)
    env = {k: str(v) for k, v in (job.get("variables") or {}).items()}
    env.update(CI_MERGE_REQUEST_DIFF_BASE_SHA=base, CI_COMMIT_SHA=head)
    return "set -e\n" + "\n".join(lines) + "\n", env


def run_recipe(recipe: str, scenario: str, work: Path) -> list[str]:
    """Run one recipe on one scenario; the expectations that failed (empty: all held)."""
    root = work / f"{recipe}-{scenario}"
    base, head = make_project(root, scenario)
    doc = yaml.safe_load((GITHUB if recipe == "github" else GITLAB).read_text())
    script, env_vars = (github_script if recipe == "github" else gitlab_script)(doc, base, head)
    summary = root / "step-summary.md"
    env = dict(os.environ, **env_vars, GITHUB_STEP_SUMMARY=str(summary))
    env.pop("GREENBENCH_COUNTED_DIR", None)
    print(f"== {recipe} / {scenario} in {root}", flush=True)
    p = subprocess.run(["bash", "-c", script], cwd=root, env=env, capture_output=True, text=True, check=False)
    out = p.stdout + p.stderr
    (root / "recipe.log").write_text(out)
    problems = []
    want = 0 if scenario == "aa" else 1
    if p.returncode != want:
        problems.append(f"{recipe}/{scenario}: exit {p.returncode}, expected {want}\n{out[-4000:]}")
    text = (root / "energy-summary.md").read_text() if (root / "energy-summary.md").is_file() else ""
    if not text:
        problems.append(f"{recipe}/{scenario}: no energy-summary.md written")
    if scenario == "regression" and "test_work" not in out:
        problems.append(f"{recipe}/{scenario}: the regression of test_work is not named")
    if scenario == "regression" and re.search(r"test_sort\S*: regression", out):
        problems.append(f"{recipe}/{scenario}: test_sort flagged although unchanged")
    if "counted" not in out:
        problems.append(f"{recipe}/{scenario}: the run did not use the counted meter")
    print(f"   exit {p.returncode} (expected {want}); " + ("ok" if not problems else "FAILED"), flush=True)
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", choices=("github", "gitlab", "both"), default="both")
    ap.add_argument("--scenario", choices=("aa", "regression", "both"), default="both")
    ap.add_argument("--keep", type=Path, default=None, help="keep the tiny projects here (default: removed)")
    ns = ap.parse_args(argv)
    # the recipe's install step pip-installs into the running environment: only a throwaway one (nox's)
    if sys.prefix == sys.base_prefix or Path(sys.prefix).resolve() == (REPO / ".venv").resolve():
        print("ci_recipes: run it in a throwaway virtual environment (nox -s ci_recipes): the recipes' install "
              "step installs the tiny project and greenbench into the running one", file=sys.stderr)
        return 2
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    recipes = ("github", "gitlab") if ns.recipe == "both" else (ns.recipe,)
    scenarios = ("aa", "regression") if ns.scenario == "both" else (ns.scenario,)
    work = ns.keep or Path(tempfile.mkdtemp(prefix="greenbench-ci-recipes-"))
    problems: list[str] = []
    try:
        for recipe in recipes:
            for scenario in scenarios:
                problems += run_recipe(recipe, scenario, work)
    finally:
        if ns.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

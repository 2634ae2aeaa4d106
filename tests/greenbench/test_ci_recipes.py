"""docs/ci's recipes (issue #20): valid against their published schemas, gating with the counted meter.

The schemas are those check-jsonschema ships vendored (``--builtin-schema vendor.github-workflows`` and
``vendor.gitlab-ci``); the test skips when check-jsonschema is not installed (the ``test`` extra has it).
Running the recipes end to end is ``nox -s ci_recipes`` (bench/ci_recipes.py), too slow for the test suite.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ci"
RECIPES = {"github-actions.yml": "vendor.github-workflows", "gitlab-ci.yml": "vendor.gitlab-ci"}

needs_checker = pytest.mark.skipif(importlib.util.find_spec("check_jsonschema") is None,
                                   reason="needs check-jsonschema (pip install greenbench[test])")


@needs_checker
@pytest.mark.parametrize("name, schema", sorted(RECIPES.items()))
def test_recipe_is_valid_against_its_published_schema(name: str, schema: str) -> None:
    p = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(DOCS / name)],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stdout + p.stderr


@needs_checker
def test_the_schema_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    steps: 3\n")
    p = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                        str(bad)], capture_output=True, text=True, check=False)
    assert p.returncode != 0


def _commands(name: str) -> list[str]:
    doc: dict[str, Any] = yaml.safe_load((DOCS / name).read_text())
    if name.startswith("github"):
        return [s["run"] for s in doc["jobs"]["energy-gate"]["steps"] if "run" in s]
    return [str(line) for line in doc["energy-gate"]["script"]]


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_gates_with_the_counted_meter_baseline_and_head_in_one_job(name: str) -> None:
    cmds = _commands(name)
    text = "\n".join(cmds)
    install = [c for c in cmds if "valgrind" in c and "install" in c]
    baseline = [i for i, c in enumerate(cmds) if "--benchmark-autosave" in c]
    gate = [i for i, c in enumerate(cmds) if "--energy-compare-fail" in c]
    assert install and cmds.index(install[0]) < min(baseline), "Valgrind is installed before the first counted run"
    assert baseline and gate and max(baseline) < min(gate), "baseline first, then head, in the same job"
    assert all("--energy-meter=counted" in cmds[i] for i in baseline + gate)
    assert "--energy-meter=model" not in text
    assert "git checkout" in cmds[max(baseline)] or any("git checkout" in c for c in cmds[max(baseline):min(gate)])

"""pytest-benchmark's commit information handed into the counted run (greenbench.meters.counted.commitinfo)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from pytest_benchmark import plugin, utils

from greenbench.meters.counted import commitinfo as CI


def test_native_env_is_pytest_benchmarks_own_answer(tmp_path: Path) -> None:
    env = CI.native_env(["--benchmark-project-name", "proj"], tmp_path)  # not a checkout: "unversioned"
    saved = json.loads(env[CI.ENV])
    assert saved["project"] == tmp_path.name and saved["info"]["id"] == "unversioned"
    assert saved["info"]["project"] == "proj"
    assert CI.native_env(["--benchmark-project-name=p2"], tmp_path)[CI.ENV].count('"p2"') == 1


def test_install_answers_without_a_child_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for mod, name in ((utils, "get_commit_info"), (utils, "get_project_name"), (plugin, "get_commit_info")):
        monkeypatch.setattr(mod, name, getattr(mod, name))  # restored after the test
    info = {"id": "abc", "time": "t", "author_time": "a", "dirty": False, "project": "x", "branch": "main"}

    def no_child(*args: object, **kwargs: object) -> None:
        raise AssertionError("a child process was started")

    monkeypatch.setattr(subprocess, "Popen", no_child)
    assert not CI.install({})
    assert CI.install({CI.ENV: json.dumps({"project": "x", "info": info})})
    assert utils.get_commit_info() == info and plugin.get_commit_info("other")["project"] == "other"
    assert utils.get_project_name() == "x" and utils.get_tag().startswith("abc_")

"""The suite's thread policy (bench/threads.py)."""

from __future__ import annotations

import os

import pytest

from bench import threads


def test_thread_resolution() -> None:
    assert threads.resolve(3, {}) == 3
    assert threads.resolve(None, {"OMP_NUM_THREADS": "4"}) == 4
    assert threads.resolve(None, {"OMP_NUM_THREADS": "lots"}) == 1
    assert threads.resolve(None, {}) == 1


def test_apply_sets_every_thread_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in threads.THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    threads.apply(1)

    assert all(os.environ[v] == "1" for v in threads.THREAD_VARS)
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"

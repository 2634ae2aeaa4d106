"""Hooks greenbench adds to pytest (registered by :mod:`greenbench.plugin`)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec
def pytest_greenbench_report_sections(config: pytest.Config) -> list[Any]:  # type: ignore[empty-body]
    """Return report sections for ``--energy-report`` (each a list of section objects).

    A section is any object (a module is fine) with ``TITLE: str`` and
    ``render(benchmarks: list[dict], out_dir: pathlib.Path) -> str`` returning
    a Markdown body ("" when the run holds none of its benchmarks).  A suite's
    ``conftest.py`` implements this hook to add its own sections; every
    implementation's list is rendered, in hook order.
    """

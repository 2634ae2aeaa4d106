"""Report sections of greenbench's own suite, one module per benchmark family.

Contract (greenbench.plugin.hookspecs): each module defines ``TITLE: str`` and
``render(benchmarks: list[dict], out_dir: pathlib.Path) -> str`` returning a
Markdown body (no top-level heading).  ``benchmarks`` are the entries of the
run's pytest-benchmark JSON; read them only through :mod:`greenbench.results`.
A section may write PNGs into ``out_dir`` and link them relatively; it
returns "" when the run holds none of its benchmarks.  Every energy figure
not read off a counter carries :data:`greenbench.results.ESTIMATED_MARK`.
"""

from __future__ import annotations

import importlib
from typing import Any

#: modules rendered, in this order, by the report (bench/conftest.py hands them over)
FAMILIES = ("meters", "gate", "classic", "deep", "nca", "sorts", "greensim")


def load_sections() -> list[Any]:
    """The section modules; one that fails to import becomes a section that reports the failure."""
    out: list[Any] = []
    for family in FAMILIES:
        try:
            out.append(importlib.import_module(f"bench.sections.{family}"))
        except Exception as exc:  # a broken section must not hide the rest of the report
            out.append(_Broken(family, exc))
    return out


class _Broken:
    def __init__(self, family: str, exc: Exception) -> None:
        self.TITLE = family
        self.exc = exc

    def render(self, benchmarks: list[Any], out_dir: Any) -> str:
        raise self.exc

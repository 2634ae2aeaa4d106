"""The study's figures and the literature figures the report cites: one file, ``bench/study.toml``."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from greenbench.errors import DataError

STUDY_FILE = Path(__file__).with_name("study.toml")


@cache
def _all() -> dict[str, Any]:
    try:
        return tomllib.loads(STUDY_FILE.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"{STUDY_FILE}: cannot read the study's figures ({exc})") from None


def figure(key: str) -> dict[str, Any]:
    """The table ``key`` (dotted, e.g. ``"deep.cnn"``) of bench/study.toml, as a dict."""
    node: Any = _all()
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise DataError(f"{STUDY_FILE}: no [{key}] table")
        node = node[part]
    return dict(node)


def numbers(key: str, *names: str) -> dict[str, float]:
    """Only the named numeric fields of ``key`` (all numeric fields when none are named)."""
    fig = figure(key)
    keep = names or tuple(k for k, v in fig.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
    return {k: float(fig[k]) for k in keep}

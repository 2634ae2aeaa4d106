"""Baselines: a section of :mod:`greenbench.gate` (its docstring tells the whole story)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from greenbench.gate.rules import MAX_BASELINES


def history_for(older_runs: Sequence[Mapping[str, Any]], fullname: str) -> list[Mapping[str, Any] | None]:
    """This benchmark's entries in older stored runs (newest first)."""
    out: list[Mapping[str, Any] | None] = []
    for doc in older_runs:
        benches = doc.get("benchmarks") if isinstance(doc, Mapping) else None
        found = None
        for b in benches if isinstance(benches, list) else []:
            if isinstance(b, Mapping) and b.get("fullname") == fullname:
                found = b
                break
        out.append(found)
    return out


def older_runs(storage: Any, compared_paths: Sequence[Any], most: int = MAX_BASELINES - 1) -> list[Mapping[str, Any]]:
    """Stored runs saved before the compared baseline, newest first, from pytest-benchmark's storage.

    Only files that sort before the newest compared one (pytest-benchmark names
    them ``NNNN_...``), so this run's own autosave is never its own baseline.
    Unreadable files are left out (pytest-benchmark warns about them).
    """
    return [doc for _, doc in older_runs_named(storage, compared_paths, most)]


def older_runs_named(storage: Any, compared_paths: Sequence[Any],
                     most: int = MAX_BASELINES - 1) -> list[tuple[str, Mapping[str, Any]]]:
    """:func:`older_runs` with each run's file name (``0002_abc``), so verdicts can name the runs they use."""
    if storage is None or not compared_paths:
        return []
    newest = str(compared_paths[-1]).replace("\\", "/").rsplit("/", 1)[-1]
    try:
        paths = [p for p in storage.query() if p.name < newest][-most:]
        loaded = list(storage.load(*[str(p) for p in paths])) if paths else []
    except Exception:  # more history is a bonus; its absence only leaves verdicts undecided
        return []
    return [(run_name(path), d) for path, d in reversed(loaded) if isinstance(d, Mapping)]


def run_name(path: Any) -> str:
    """``.../0002_abc.json`` -> ``0002_abc``."""
    name = str(path).replace("\\", "/").rsplit("/", 1)[-1]
    return name[:-5] if name.endswith(".json") else name


def meter_of(machine_info: Mapping[str, Any] | None) -> str | None:
    gb = (machine_info or {}).get("greenbench") or {}
    meter = gb.get("meter") or {}
    src = meter.get("source")
    return str(src) if src else None

"""Machines: a section of :mod:`greenbench.gate` (its docstring tells the whole story)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def machine_of(machine_info: Any) -> dict[str, str]:
    """The machine a run was measured on: pytest-benchmark's ``node`` and CPU model (what is known of them)."""
    info = machine_info if isinstance(machine_info, Mapping) else {}
    cpu = info.get("cpu")
    cpu = cpu if isinstance(cpu, Mapping) else {}
    out = {"node": info.get("node"), "cpu": cpu.get("brand_raw") or cpu.get("brand") or info.get("processor")}
    return {k: str(v) for k, v in out.items() if isinstance(v, str) and v.strip()}


def other_machine(baseline_info: Any, current_info: Any) -> str | None:
    """How the baseline's machine differs from this one (``node 'a' vs 'b'``), or None when it does not/unknown."""
    b, c = machine_of(baseline_info), machine_of(current_info)
    diffs = [f"{k} {b[k]!r} vs {c[k]!r} here" for k in ("node", "cpu") if k in b and k in c and b[k] != c[k]]
    return "; ".join(diffs) or None


def _energy(entry: Any) -> Any:
    info = entry.get("extra_info") if isinstance(entry, Mapping) else None
    e = info.get("energy") if isinstance(info, Mapping) else None
    if e is None or (isinstance(e, Mapping) and not e.get("rounds_j") and not e.get("clean_j")):
        return None
    return e

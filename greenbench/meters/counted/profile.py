"""Where the counted energy went: per-function costs of a counted benchmark (issue #24).

The counted meter (greenbench.meters.counted) dumps callgrind's statistics at
the end of every measured round; besides the ``totals:`` line the gate reads,
each dump holds the costs of every function that ran in the round.  This
module parses that file format itself (callgrind's documented "callgrind
format": name compression ``(id) name``, relative positions, ``calls=`` lines
followed by the call's inclusive cost), keeps, per function:

* **self** cost: the events executed in the function's own code, per event
  class (instructions, L1 accesses, last-level-cache accesses, DRAM lines),
  converted to joules with the *same* coefficients as the benchmark's total
  (greenbench.meters.counted.energy_model), so the self energies sum to the total;
* **inclusive** energy: self plus the inclusive cost of every call it made
  (direct self-recursion excluded; capped at the total);

and stores, per call of the benchmark, only the functions that together make
:data:`COVERAGE` (99%) of its counted energy, at most :data:`MAX_FUNCTIONS`,
with the rest summed as ``other``: ``extra_info["energy"]["profile"]``.

Functions are named as a developer finds them: ``symbol`` + shared object
(basename) + ``file:line`` (the first line of the function that had a cost)
where callgrind knows it from debug info.  This is the **native** level:
Python code runs inside the interpreter's C functions, so Python functions
appear as ``_PyEval_EvalFrameDefault`` & co. here; greenbench.meters.counted.pyprofile adds
the Python level.

The meter keeps each window's dump text (:func:`keep`); after the benchmark the
plugin calls :func:`after_benchmark`, which picks the lowest-energy kept round
(the one whose counts are stored), parses it and adds the profile.

Switch off with ``GREENBENCH_COUNTED_PROFILE=0``.

Imports: stdlib, greenbench.meters.counted.energy_model / errors (the rest lazily).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from greenbench.errors import DataError
from greenbench.meters.counted import energy_model as CM

#: the functions kept make at least this share of the benchmark's counted energy (self costs)
COVERAGE = 0.99
#: ... but at most this many (storage bound on real suites; the rest is summed as ``other``)
MAX_FUNCTIONS = 32
#: environment switch: "0" keeps no profile in counted runs
PROFILE_ENV = "GREENBENCH_COUNTED_PROFILE"
#: significant digits stored per energy figure
DIGITS = 3
#: class order of the stored per-class self energies
CLASS_ORDER = tuple(CM.CLASSES)
#: what each stored function row holds
COLUMNS = "function\tobject index\tfile:line\tself J\tinclusive J\tself per class, permille (" + \
    " ".join(CLASS_ORDER) + ")"
COLUMNS_N = 6
#: longest function name stored (C++ template names run to hundreds of characters)
MAX_NAME = 100


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get(PROFILE_ENV, "1").strip().lower() not in ("0", "no", "off", "false")


# -- parsing callgrind's output format ------------------------------------------------------------

@dataclass
class FnCost:
    """Costs of one function in one dump (event name -> count, callgrind's event names)."""

    name: str
    obj: str
    file: str
    line: int = 0
    self_cost: list[int] = field(default_factory=list)
    call_cost: list[int] = field(default_factory=list)  # inclusive cost of the calls it made


def _is_cost_line(line: str) -> bool:
    c = line[0]
    return c.isdigit() or c in "+-*"


def parse_functions(text: str, where: str = "callgrind output") -> tuple[list[str], dict[tuple[str, str], FnCost]]:
    """Events and per-function costs of a callgrind output file, keyed by (object, function)."""
    events: list[str] | None = None
    npos = 1
    names: dict[str, dict[str, str]] = {"ob": {}, "fl": {}, "fn": {}}
    kind_of = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl", "cfl": "fl",
               "fn": "fn", "cfn": "fn"}
    ob = fl = fn_name = ""
    cob = cfn = ""
    own_file = True  # cost lines are in the function's own file (not inlined code from another: fi=/fe=)
    cur: FnCost | None = None
    funcs: dict[tuple[str, str], FnCost] = {}
    in_call = False
    last_pos = [0, 0]

    def resolve(kind: str, value: str) -> str:
        table = names[kind_of[kind]]
        value = value.strip()
        if value.startswith("("):
            end = value.find(")")
            if end < 0:
                raise DataError(f"{where}: bad compressed name {value!r}")
            key, rest = value[1:end], value[end + 1:].strip()
            if rest:
                table[key] = rest
                return rest
            if key not in table:
                raise DataError(f"{where}: compressed name ({key}) used before it was defined")
            return table[key]
        return value

    for raw in text.splitlines():
        if not raw or raw[0] == "#":
            continue
        if _is_cost_line(raw):
            if events is None:
                raise DataError(f"{where}: cost line before 'events:'")
            parts = raw.split()
            # positions: absolute, +N / -N relative to the previous one, '*' the same
            for i in range(min(npos, len(parts))):
                p = parts[i]
                if p == "*":
                    continue
                base = last_pos[i] if i < len(last_pos) else 0
                try:
                    v = int(p, 0) if p[0] not in "+-" else base + int(p[1:], 0) * (1 if p[0] == "+" else -1)
                except ValueError:
                    raise DataError(f"{where}: bad position {p!r}") from None
                if i < len(last_pos):
                    last_pos[i] = v
            try:
                values = [int(x) for x in parts[npos:]]
            except ValueError:
                raise DataError(f"{where}: bad cost line {raw[:60]!r}") from None
            if cur is None:
                cur = funcs.setdefault((ob, fn_name or "???"), FnCost(fn_name or "???", ob, fl))
            if in_call:
                in_call = False
                callee, cob = (cob, cfn), ob  # a call's cob= applies to that call only
                if callee == (cur.obj, cur.name):
                    continue  # direct self-recursion: already inside this function's inclusive cost
                target = cur.call_cost
            else:
                target = cur.self_cost
                line_no = last_pos[npos - 1] if npos >= 1 else 0
                if line_no > 0 and own_file and (cur.line == 0 or line_no < cur.line) and fl == cur.file:
                    cur.line = line_no
            if len(target) < len(values):
                target.extend([0] * (len(values) - len(target)))
            for i, v in enumerate(values):
                target[i] += v
            continue
        key, sep, value = raw.partition("=")
        if sep:
            if key == "fn":
                fn_name = resolve("fn", value)
                cur = funcs.get((ob, fn_name))
                if cur is None:
                    cur = funcs[(ob, fn_name)] = FnCost(fn_name, ob, fl)
                cob, cfn, own_file = ob, "", True
            elif key == "ob":
                ob = resolve("ob", value)
            elif key == "fl":
                fl = resolve("fl", value)
                own_file = True
            elif key in ("fi", "fe"):  # inlined code: costs stay with the current function
                own_file = resolve(key, value) == (cur.file if cur is not None else fl)
            elif key == "cob":
                cob = resolve("cob", value)
            elif key in ("cfi", "cfl"):
                resolve(key, value)
            elif key == "cfn":
                cfn = resolve("cfn", value)
            elif key == "calls":
                in_call = True
            # jump=, jcnd= and others: ignored
            continue
        key, sep, value = raw.partition(":")
        if sep and key == "events":
            events = value.split()
        elif sep and key == "positions":
            npos = max(len(value.split()), 1)
            last_pos = [0] * npos
    if events is None:
        raise DataError(f"{where}: no 'events:' line; is it a callgrind output file?")
    return events, funcs


# -- energy per function ---------------------------------------------------------------------------

def _class_counts(events: Sequence[str], cost: Sequence[int]) -> list[float]:
    counts = {CM.EVENTS[e]: float(cost[i]) for i, e in enumerate(events) if e in CM.EVENTS and i < len(cost)}
    cls = CM.class_counts(counts)
    return [cls[c] for c in CLASS_ORDER]


def _round(x: float) -> float:
    return float(f"{x:.{DIGITS}g}") if x else 0.0


_CLONE = re.compile(r"( \[clone [^\]]*\])+$")
_RECURSION = re.compile(r"'[0-9]+$")


def short_name(name: str) -> str:
    """A function name as stored: callgrind's recursion-level suffix (``'2``) and C++ clone tags dropped,
    at most :data:`MAX_NAME` characters."""
    name = _CLONE.sub("", _RECURSION.sub("", name))
    return name if len(name) <= MAX_NAME else name[:MAX_NAME - 1] + "\u2026"


def _short_obj(obj: str) -> str:
    return os.path.basename(obj) if obj else "?"


def short_path(path: str, parts: int = 2) -> str:
    """The last ``parts`` components of a source path (build directories differ between machines)."""
    if not path or path == "???":
        return ""
    bits = [b for b in path.replace("\\", "/").split("/") if b not in ("", ".", "..")]
    return "/".join(bits[-parts:])


def _where(fc: FnCost) -> str:
    f = short_path(fc.file)
    return f"{f}:{fc.line}" if f and fc.line else f


def build(texts: Sequence[str], iterations: int = 1, coefficients: CM.Coefficients = CM.DEFAULT, *,
          coverage: float = COVERAGE, most: int = MAX_FUNCTIONS, where: str = "callgrind output") -> dict[str, Any]:
    """The stored profile of one round (its dump files), per call: top functions making ``coverage`` of the energy.

    Each function is one tab-separated string (pytest-benchmark writes its JSON indented, so a nested list
    per function would cost more in spaces than in figures): name, index into ``objects``, file:line,
    self energy (J), inclusive energy (J), and the self energy's split over the event classes in permille.
    """
    per = coefficients.j_per_class()
    j = [per[c] for c in CLASS_ORDER]
    n = max(int(iterations), 1)
    rows: dict[tuple[str, str], list[Any]] = {}  # (object, name) -> [name, object, where, self per class, call_j]
    for text in texts:
        events, funcs = parse_functions(text, where)
        for fc in funcs.values():
            s = [v * j[i] / n for i, v in enumerate(_class_counts(events, fc.self_cost))]
            c = sum(v * j[i] / n for i, v in enumerate(_class_counts(events, fc.call_cost)))
            name, obj = short_name(fc.name), _short_obj(fc.obj)
            row = rows.get((obj, name))
            if row is None:
                rows[(obj, name)] = [name, obj, _where(fc), s, c]
            else:  # recursion levels and several dumps of one function: summed
                row[2] = row[2] or _where(fc)
                row[3] = [a + b for a, b in zip(row[3], s, strict=True)]
                row[4] += c
    total = sum(sum(r[3]) for r in rows.values())
    ordered = sorted(rows.values(), key=lambda r: (-sum(r[3]), r[0], r[1]))
    listed: list[str] = []
    objects: list[str] = []
    acc = 0.0
    other = [0.0] * len(CLASS_ORDER)
    for r in ordered:
        e = sum(r[3])
        if e <= 0:
            continue
        if (total > 0 and acc >= coverage * total) or len(listed) >= most:
            other = [a + b for a, b in zip(other, r[3], strict=True)]
            continue
        acc += e
        if r[1] not in objects:
            objects.append(r[1])
        split = " ".join(str(round(1000 * v / e)) for v in r[3])
        incl = min(e + r[4], total)
        listed.append(f"{r[0]}\t{objects.index(r[1])}\t{r[2]}\t{_round(e):.{DIGITS}g}\t"
                      f"{_round(incl):.{DIGITS}g}\t{split}")
    return {
        "level": "native",
        "source": "callgrind, the lowest-energy measured round",
        "per": "call",
        "estimated": True,
        "energy_j": _round(total),
        "listed_share": round(acc / total, 4) if total > 0 else 0.0,
        "columns": COLUMNS,
        "objects": objects,
        "functions": listed,
        "other_self_j": [_round(v) for v in other],
    }


# -- checked reading of a stored profile ---------------------------------------------------------------

@dataclass(frozen=True)
class Fn:
    """One stored native function."""

    name: str
    obj: str
    where: str
    energy_j: float  # self
    incl_j: float
    split: tuple[float, ...]  # self energy per class (J), CLASS_ORDER

    @property
    def key(self) -> tuple[str, str]:
        return (self.obj, self.name)


def _num(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise DataError(f"{text!r} is not a number") from None
    if not math.isfinite(v) or v < 0:
        raise DataError(f"{text!r} is not a finite number >= 0")
    return v


def functions(profile: Any, where: str = "profile") -> list[Fn]:
    """The functions of a stored native profile; a one-line DataError naming the bad field."""
    if not isinstance(profile, Mapping):
        raise DataError(f"{where}: expected an object, got {type(profile).__name__}")
    rows, objects = profile.get("functions"), profile.get("objects")
    if not isinstance(rows, list) or not isinstance(objects, list) or not all(isinstance(o, str) for o in objects):
        raise DataError(f"{where}: expected 'functions' and 'objects' lists")
    out = []
    for i, r in enumerate(rows):
        parts = r.split("\t") if isinstance(r, str) else []
        if len(parts) != COLUMNS_N:
            raise DataError(f"{where}.functions[{i}]: expected {COLUMNS_N} tab-separated fields ({COLUMNS!r})")
        try:
            idx = int(parts[1])
            obj = objects[idx]
            e, incl = _num(parts[3]), _num(parts[4])
            shares = [_num(x) for x in parts[5].split()]
            if len(shares) != len(CLASS_ORDER):
                raise DataError(f"expected {len(CLASS_ORDER)} permille shares")
        except (ValueError, IndexError) as exc:
            raise DataError(f"{where}.functions[{i}]: {exc}") from None
        tot = sum(shares) or 1.0
        out.append(Fn(parts[0], obj, parts[2], e, incl, tuple(e * s / tot for s in shares)))
    return out


# -- the meter's side: keep each window's dump text --------------------------------------------------

def keep(meter: Any, measurement: Any) -> None:
    """Called by the counted meter after each window: remember the window's dump text beside its measurement."""
    texts = getattr(meter, "dump_texts", None)
    if not texts or not enabled():
        return
    kept = getattr(meter, "_gb_profiles", None)
    if kept is None:
        kept = meter._gb_profiles = []
    kept.append((measurement, list(texts)))
    meter.dump_texts = []


def take(meter: Any, records: Sequence[Any]) -> dict[str, Any] | None:
    """The profile of the lowest-energy record among ``records`` (RoundRecords); clears the meter's memory."""
    kept = getattr(meter, "_gb_profiles", None) or []
    if hasattr(meter, "_gb_profiles"):
        meter._gb_profiles = []
    texts_of = {id(m): t for m, t in kept}
    best = None
    for r in records:
        texts = texts_of.get(id(r.measurement))
        if texts is None:
            continue
        e = r.measurement.energy_j / max(r.iterations, 1)
        if best is None or e < best[0]:
            best = (e, texts, r.iterations)
    if best is None:
        return None
    coefficients = getattr(meter, "coefficients", CM.DEFAULT)
    return build(best[1], best[2], coefficients)


def after_benchmark(es: Any, fixture: Any, recorder: Any, config: Any = None) -> None:
    """After a benchmark of a counted run: add its native profile (and, when asked or flagged, its Python-level
    counts) to ``extra_info["energy"]``.  Never fails the test: a problem becomes a warning in the block."""
    block = (getattr(fixture, "extra_info", None) or {}).get("energy")
    meter = getattr(es, "_meter", None)
    if not isinstance(block, dict) or meter is None or getattr(meter, "source", "") != "counted":
        return
    try:
        stats = getattr(getattr(fixture, "stats", None), "stats", None)
        n = len(getattr(stats, "data", None) or [])
        records = list(recorder.records)[-n:] if n else []
        prof = take(meter, records) if enabled() else None
    except (DataError, OSError, ValueError) as exc:
        block.setdefault("warnings", []).append(f"profile not kept: {exc}")
        return
    if prof is None:
        return
    from greenbench.meters.counted import pyprofile

    py = pyprofile.maybe_count(fixture, block, config)
    if py is not None:
        prof["python"] = py
    block["profile"] = prof

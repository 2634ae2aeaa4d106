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
:data:`COVERAGE` (99%) of its counted energy (:data:`MAX_FUNCTIONS` is only a
safety bound; ``capped`` says when it bites), with the rest summed as
``other``: ``extra_info["energy"]["profile"]``, compactly (format 2, see
:func:`build`); a saved file keeps the names once for the run
(:func:`compress_run` / :func:`expand_run`).

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
from pathlib import Path
from typing import Any

from greenbench.errors import DataError
from greenbench.meters.counted import energy_model as CM

#: the functions kept make at least this share of the benchmark's counted energy (self costs)
COVERAGE = 0.99
#: ... but at most this many (a safety bound: the rest is summed as ``other`` and ``capped`` says how many)
MAX_FUNCTIONS = 400
#: environment switch: "0" keeps no profile in counted runs
PROFILE_ENV = "GREENBENCH_COUNTED_PROFILE"
#: significant digits stored per energy figure
DIGITS = 3
#: class order of the stored per-class self energies
CLASS_ORDER = tuple(CM.CLASSES)
#: format 1 (before format 2): one tab-separated string per function in ``functions`` (still read)
COLUMNS = "function\tobject index\tfile:line\tself J\tinclusive J\tself per class, permille (" + \
    " ".join(CLASS_ORDER) + ")"
COLUMNS_N = 6
#: format 2: energies in whole 10^-5 of the benchmark's ``energy_j``
UNIT = 1e-5
ROW_SEP = ";"
FORMAT = 2
ROWS_FORMAT = ("format 2: 'rows' ';'-separated, each 'self,inclusive,split,object,file:line,function' -- self and "
               "inclusive energy per call in 10^-5 of energy_j (inclusive empty: the same as self), the self "
               "energy's split over (" + " ".join(CLASS_ORDER) + ") in percent ('/'-separated, zeros empty, "
               "trailing ones dropped), object an index into 'objects', file an index into 'files' (both "
               "';'-separated strings; empty: unknown), the function name last (it may hold commas)")
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


_COST_START = frozenset("0123456789+-*")


def _is_cost_line(line: str) -> bool:
    return line[0] in _COST_START


def _int(text: str) -> int:
    """A position: decimal, or hex (``0x..``) as callgrind writes instruction addresses."""
    return int(text) if text.isdigit() else int(text, 0)


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

    cost_start = _COST_START
    for raw in text.splitlines():
        if not raw or raw[0] == "#":
            continue
        if raw[0] in cost_start:
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
                    c = p[0]
                    v = base + _int(p[1:]) if c == "+" else base - _int(p[1:]) if c == "-" else _int(p)
                except ValueError:
                    raise DataError(f"{where}: bad position {p!r}") from None
                if i < len(last_pos):
                    last_pos[i] = v
            try:
                values = list(map(int, parts[npos:]))
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


_ADDRESS = re.compile(r"0x[0-9a-fA-F]+$")
#: the name of the row that sums an object's code without symbols (callgrind names it by address)
NO_SYMBOL = "(code without a symbol)"
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


def _fmt_units(x: float) -> str:
    return str(round(x))


def _safe_name(name: str) -> str:
    """A name as it goes into the ``;``-separated rows (no C/C++ symbol holds ``;``, but never trust a name)."""
    return name.replace(ROW_SEP, ":").replace("\n", " ")


def build(texts: Sequence[str], iterations: int = 1, coefficients: CM.Coefficients = CM.DEFAULT, *,
          coverage: float = COVERAGE, most: int = MAX_FUNCTIONS, where: str = "callgrind output") -> dict[str, Any]:
    """The stored profile of one round (its dump files), per call: top functions making ``coverage`` of the energy.

    Compact (format 2; see :data:`ROWS_FORMAT`): one string of ``;``-separated rows, one per function, energies
    as whole numbers of :data:`UNIT` (10^-6) of the benchmark's energy, the class split in permille with zeros
    left empty, shared objects and source files as indexes into per-benchmark tables.  pytest-benchmark writes its
    JSON indented, so one string per benchmark costs no indentation per function.
    """
    per = coefficients.j_per_class()
    j = [per[c] for c in CLASS_ORDER]
    n = max(int(iterations), 1)
    rows: dict[tuple[str, str], list[Any]] = {}  # (object, name) -> [name, object, file, line, self per class, call_j]
    for text in texts:
        events, funcs = parse_functions(text, where)
        for fc in funcs.values():
            s = [v * j[i] / n for i, v in enumerate(_class_counts(events, fc.self_cost))]
            c = sum(v * j[i] / n for i, v in enumerate(_class_counts(events, fc.call_cost))) if fc.call_cost else 0.0
            name, obj = short_name(fc.name), _safe_name(_short_obj(fc.obj))
            if _ADDRESS.match(name):  # code without a symbol: one row per object
                name = NO_SYMBOL
            row = rows.get((obj, name))
            f = _safe_name(short_path(fc.file))
            line = fc.line if f else 0
            if row is None:
                rows[(obj, name)] = [name, obj, f, line, s, c]
            else:  # recursion levels and several dumps of one function: summed
                if not row[2]:
                    row[2], row[3] = f, line
                row[4] = [a + b for a, b in zip(row[4], s, strict=True)]
                row[5] += c
    total = sum(sum(r[4]) for r in rows.values())
    ordered = sorted(rows.values(), key=lambda r: (-sum(r[4]), r[0], r[1]))
    listed: list[str] = []
    objects: dict[str, int] = {}
    files: dict[str, int] = {}
    acc = 0.0
    other = [0.0] * len(CLASS_ORDER)
    missed = 0
    scale = 1.0 / (UNIT * total) if total > 0 else 0.0
    for r in ordered:
        e = sum(r[4])
        if e <= 0:
            continue
        if total > 0 and acc >= coverage * total:
            other = [a + b for a, b in zip(other, r[4], strict=True)]
            continue
        if len(listed) >= most:
            other = [a + b for a, b in zip(other, r[4], strict=True)]
            missed += 1
            continue
        acc += e
        oi = objects.setdefault(r[1], len(objects))
        fi = files.setdefault(r[2], len(files)) if r[2] else -1
        split = "/".join(str(k) if k else "" for k in (round(100 * v / e) for v in r[4])).rstrip("/")
        self_u, incl_u = _fmt_units(e * scale), _fmt_units(min(e + r[5], total) * scale)
        place = (f"{fi}:{r[3]}" if r[3] > 0 else str(fi)) if fi >= 0 else ""
        listed.append(f"{self_u},{incl_u if incl_u != self_u else ''},{split},{oi},{place},{_safe_name(r[0])}")
    prof: dict[str, Any] = {
        "level": "native",
        "source": "callgrind, the lowest-energy measured round",
        "per": "call",
        "estimated": True,
        "energy_j": _round4(total),
        "listed_share": round(acc / total, 4) if total > 0 else 0.0,
        "format": FORMAT,
        "objects": ROW_SEP.join(objects),
        "files": ROW_SEP.join(files),
        "rows": ROW_SEP.join(listed),
        "other_self_j": [_round(v) for v in other],
    }
    if missed:
        prof["capped"] = f"{missed} more functions before {coverage:.0%} (at most {most} kept)"
    return prof


def _round4(x: float) -> float:
    return float(f"{x:.6g}") if x else 0.0


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
    """The functions of a stored native profile (format 2 ``rows``, or format 1 ``functions``); a one-line
    DataError naming the bad field."""
    if not isinstance(profile, Mapping):
        raise DataError(f"{where}: expected an object, got {type(profile).__name__}")
    if profile.get("strings") == "run":
        raise DataError(f"{where}: its names are in the saved run's greenbench.{RUN_STRINGS}; read the file with "
                        "greenbench.results.load (or profile.expand_run)")
    if "rows" in profile:
        return _functions_v2(profile, where)
    rows, objects = profile.get("functions"), profile.get("objects")
    if not isinstance(rows, list) or not isinstance(objects, list) or not all(isinstance(o, str) for o in objects):
        raise DataError(f"{where}: expected 'rows' and 'objects' (or format 1's 'functions' and 'objects' lists)")
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


def _functions_v2(profile: Mapping[str, Any], where: str) -> list[Fn]:
    rows = profile.get("rows")
    if not isinstance(rows, str):
        raise DataError(f"{where}.rows: expected a string ({ROWS_FORMAT})")
    tables = []
    for key in ("objects", "files"):
        table = profile.get(key, "")
        if not isinstance(table, str):
            raise DataError(f"{where}.{key}: expected a ';'-separated string")
        tables.append(table.split(ROW_SEP) if table else [])
    objects, files = tables
    try:
        total = _num(str(profile.get("energy_j")))
    except DataError as exc:
        raise DataError(f"{where}.energy_j: {exc}") from None
    unit = total * UNIT
    n = len(CLASS_ORDER)
    out = []
    for i, r in enumerate(rows.split(ROW_SEP) if rows else []):
        parts = r.split(",", 5)
        if len(parts) != 6:
            raise DataError(f"{where}.rows[{i}]: expected 6 comma-separated fields ({ROWS_FORMAT})")
        try:
            e = _num(parts[0]) * unit
            incl = _num(parts[1]) * unit if parts[1] else e
            shares = [_num(x) if x else 0.0 for x in parts[2].split("/")] if parts[2] else []
            if len(shares) > n:
                raise DataError(f"expected at most {n} permille shares")
            shares += [0.0] * (n - len(shares))
            obj = objects[int(parts[3])]
            place = ""
            if parts[4]:
                fi, _, line = parts[4].partition(":")
                place = files[int(fi)] + (f":{int(line)}" if line and int(line) > 0 else "")
        except (ValueError, IndexError) as exc:
            raise DataError(f"{where}.rows[{i}]: {exc}") from None
        tot = sum(shares) or 1.0
        out.append(Fn(parts[5], obj, place, e, incl, tuple(e * s / tot for s in shares)))
    return out


# -- one string table per saved run --------------------------------------------------------------------------

#: where a saved run keeps the names its profiles share: ``output["greenbench"][RUN_STRINGS]``, one ';'-separated string
RUN_STRINGS = "profile_strings"


def _profiles(doc: Mapping[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(benchmark name, energy block, profile) of every benchmark of a run that has a native profile."""
    out = []
    for entry in doc.get("benchmarks") or []:
        extra = entry.get("extra_info") if isinstance(entry, Mapping) else None
        block = extra.get("energy") if isinstance(extra, Mapping) else None
        prof = block.get("profile") if isinstance(block, dict) else None
        if isinstance(block, dict) and isinstance(prof, dict) and isinstance(prof.get("rows"), str):
            out.append((str(entry.get("fullname") or entry.get("name")), block, prof))
    return out


def compress_run(doc: dict[str, Any]) -> None:
    """Before a run is saved: the function, object and file names of every profile go into one table for the run
    (``doc["greenbench"]["profile_strings"]``), most used first, and each profile refers to them by index
    (``"strings": "run"``).  The interpreter's and libc's functions recur in every benchmark, so this halves a
    profile's size.  The benchmark entries' ``extra_info`` are copied, not changed: the fixtures' own stay whole."""
    profs = [(e, p) for e, p in ((e, _prof_of(e)) for e in doc.get("benchmarks") or []) if p is not None]
    if not profs:
        return
    uses: dict[str, int] = {}
    parsed = []
    for _, prof in profs:
        rows = [r.split(",", 5) for r in prof["rows"].split(ROW_SEP)] if prof["rows"] else []
        objects = prof.get("objects", "").split(ROW_SEP) if prof.get("objects") else []
        files = prof.get("files", "").split(ROW_SEP) if prof.get("files") else []
        for name in [*(r[5] for r in rows if len(r) == 6), *objects, *files]:
            uses[name] = uses.get(name, 0) + 1
        parsed.append((rows, objects, files))
    table = sorted(uses, key=lambda k: (-uses[k], k))
    index = {k: str(i) for i, k in enumerate(table)}
    for (entry, prof), (rows, objects, files) in zip(profs, parsed, strict=True):
        short = {**prof, "strings": "run",
                 "rows": ROW_SEP.join(",".join([*r[:5], index[r[5]]]) if len(r) == 6 else ",".join(r) for r in rows),
                 "objects": ROW_SEP.join(index[o] for o in objects), "files": ROW_SEP.join(index[f] for f in files)}
        extra = dict(entry["extra_info"])
        extra["energy"] = {**extra["energy"], "profile": short}
        entry["extra_info"] = extra
    gb = doc.setdefault("greenbench", {})
    gb[RUN_STRINGS] = ROW_SEP.join(table)


def _prof_of(entry: Any) -> dict[str, Any] | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("extra_info"), dict):
        return None
    block = entry["extra_info"].get("energy")
    prof = block.get("profile") if isinstance(block, dict) else None
    ok = isinstance(prof, dict) and isinstance(prof.get("rows"), str) and prof.get("strings") != "run"
    return prof if ok else None


def expand_run(doc: Any, where: str = "results file") -> None:
    """After a saved run is read: its profiles' name indexes resolved from the run's table (in place), so each
    profile stands alone again.  A bad index is a one-line DataError naming the benchmark and field."""
    if not isinstance(doc, Mapping):
        return
    gb = doc.get("greenbench")
    raw = gb.get(RUN_STRINGS) if isinstance(gb, Mapping) else None
    if raw is None:
        return
    if not isinstance(raw, str):
        raise DataError(f"{where}: greenbench.{RUN_STRINGS}: expected a ';'-separated string")
    table = raw.split(ROW_SEP)

    def name(i: str, field: str) -> str:
        try:
            return table[int(i)]
        except (ValueError, IndexError):
            raise DataError(f"{where}: {field}: {i!r} is not an index into greenbench.{RUN_STRINGS} "
                            f"({len(table)} names)") from None

    for fullname, block, prof in _profiles(doc):
        if prof.get("strings") != "run":
            continue
        bench = f"{fullname}: profile"
        rows = []
        for k, r in enumerate(prof["rows"].split(ROW_SEP) if prof["rows"] else []):
            parts = r.split(",", 5)
            if len(parts) != 6:
                raise DataError(f"{where}: {bench}.rows[{k}]: expected 6 comma-separated fields ({ROWS_FORMAT})")
            rows.append(",".join([*parts[:5], name(parts[5], f"{bench}.rows[{k}]")]))
        tables = {}
        for key in ("objects", "files"):
            value = prof.get(key, "")
            if not isinstance(value, str):
                raise DataError(f"{where}: {bench}.{key}: expected a ';'-separated string")
            tables[key] = ROW_SEP.join(name(i, f"{bench}.{key}") for i in value.split(ROW_SEP)) if value else ""
        full = {k: v for k, v in prof.items() if k != "strings"}
        full.update(rows=ROW_SEP.join(rows), **tables)
        block["profile"] = full


# -- the meter's side: keep each window's dump text --------------------------------------------------

def keep(meter: Any, measurement: Any) -> None:
    """Called by the counted meter after each window: remember the window's dump files (``meter.dump_files``)
    beside its measurement; they are read only in :func:`take`, after the benchmark's rounds."""
    files = list(getattr(meter, "dump_files", None) or ())
    if not files:
        return
    meter.dump_files = []
    if not enabled():
        _forget(files)
        return
    kept = getattr(meter, "_gb_profiles", None)
    if kept is None:
        kept = meter._gb_profiles = []
    kept.append((measurement, files))


def _forget(files: Sequence[Path]) -> None:
    for f in files:
        f.unlink(missing_ok=True)


def take(meter: Any, records: Sequence[Any]) -> dict[str, Any] | None:
    """The profile of the lowest-energy record among ``records`` (RoundRecords); clears the meter's memory
    and removes the dump files it kept."""
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
        for _, items in kept:
            _forget(items)
        return None
    chosen = [f.read_text(encoding="utf-8", errors="replace") for f in best[1]]
    for _, items in kept:
        _forget(items)
    coefficients = getattr(meter, "coefficients", CM.DEFAULT)
    return build(chosen, best[2], coefficients)


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

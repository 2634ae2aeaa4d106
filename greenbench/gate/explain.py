"""Where a counted benchmark's energy moved: the diff of two stored profiles (issue #24).

Two levels, never mixed, each saying where its figures come from:

* **native** (greenbench.meters.counted.profile): callgrind's self energy per function (the
  same coefficients as the benchmark's total), J per call.  A function is
  listed when its self energy moved by more than :data:`FLOOR` (0.5%) of the
  benchmark's baseline energy; functions are ranked by the size of the move,
  with the event class that moved most (``instructions +52%``).  A function
  that one run did not keep (outside its top 99%) is taken at that run's
  smallest kept function, so the move is a lower bound, and marked ``new`` /
  ``gone``.
* **Python** (greenbench.meters.counted.pyprofile): bytecodes executed in each Python
  function's own code and calls of C functions, from one extra traced call
  per run (counts, not energy).  Listed when the bytecodes moved by more than
  :data:`FLOOR` of the baseline's, or a C function's calls changed.

Used by the gate (:func:`verdict_note`, one line in a regression's reason),
the Markdown summary and index.html (:func:`markdown`, :func:`html_table`) and
``greenbench explain RUN_A RUN_B [-k BENCHMARK]`` (:func:`main`).

Imports: stdlib, greenbench.meters.counted.profile / pyprofile / errors (results lazily).
"""

from __future__ import annotations

import html
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from greenbench.errors import DataError
from greenbench.meters.counted import energy_model as CM
from greenbench.meters.counted import profile as P
from greenbench.meters.counted import pyprofile as PP

#: a function is listed when it moved by more than this share of the benchmark's baseline (energy or bytecodes)
FLOOR = 0.005
#: functions listed per level
TOP = 5
#: regressed benchmarks given a table in the summary / HTML
MAX_TABLES = 10


@dataclass(frozen=True)
class Change:
    level: str  # "native" | "python"
    name: str
    obj: str  # shared object (native), "" for Python functions, "C" for C functions seen from Python
    where: str  # file:line when known
    base: float  # J per call (native self energy) or bytecodes / calls (python)
    cur: float
    moved: str  # the event class that moved (native) or what was counted (python)
    status: str = ""  # "new" | "gone" | ""
    unit: str = "J"

    @property
    def delta(self) -> float:
        return self.cur - self.base

    @property
    def rel(self) -> float:
        return self.cur / self.base - 1.0 if self.base > 0 else math.inf

    def label(self) -> str:
        if self.level == "native":
            place = f"{self.obj}" + (f", {self.where}" if self.where else "")
        else:
            place = self.where or "C function"
        return f"{self.name} ({place})"


@dataclass
class Explanation:
    native: list[Change] = field(default_factory=list)
    python: list[Change] = field(default_factory=list)
    base_j: float = math.nan
    cur_j: float = math.nan
    notes: list[str] = field(default_factory=list)
    #: every kept native function of either run, for the HTML chart: (object, name, baseline J, current J)
    chart: list[tuple[str, str, float, float]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.native or self.python)


def _profile_of(block: Any) -> Mapping[str, Any] | None:
    if not isinstance(block, Mapping):
        return None
    prof = block.get("profile")
    return prof if isinstance(prof, Mapping) else None


def _fmt_j(x: float) -> str:
    from greenbench.units import fmt_si

    return fmt_si(x, "J")


def native_changes(base: Mapping[str, Any], cur: Mapping[str, Any], floor: float = FLOOR,
                   top: int = TOP) -> tuple[list[Change], float, float]:
    """Functions whose self energy moved by more than ``floor`` of the baseline's energy, largest move first."""
    b_fns = {f.key: f for f in P.functions(base, "baseline profile")}
    c_fns = {f.key: f for f in P.functions(cur, "current profile")}
    b_total = float(base.get("energy_j") or sum(f.energy_j for f in b_fns.values()))
    c_total = float(cur.get("energy_j") or sum(f.energy_j for f in c_fns.values()))
    b_floor = min((f.energy_j for f in b_fns.values()), default=0.0)
    c_floor = min((f.energy_j for f in c_fns.values()), default=0.0)
    labels = [CM.CLASS_LABELS[c] for c in P.CLASS_ORDER]
    out = []
    for key in set(b_fns) | set(c_fns):
        b, c = b_fns.get(key), c_fns.get(key)
        status = "new" if b is None else "gone" if c is None else ""
        # a function a run did not keep had less energy than that run's smallest kept one: a lower bound
        b_e = b.energy_j if b else b_floor
        c_e = c.energy_j if c else c_floor
        if abs(c_e - b_e) <= floor * b_total:
            continue
        b_split = b.split if b else tuple(0.0 for _ in labels)
        c_split = c.split if c else tuple(0.0 for _ in labels)
        deltas = [cs - bs for bs, cs in zip(b_split, c_split, strict=True)]
        i = max(range(len(deltas)), key=lambda k: abs(deltas[k]))
        if status:
            moved = f"{labels[i]} ({status})"
        elif b_split[i] > 0:
            moved = f"{labels[i]} {c_split[i] / b_split[i] - 1:+.0%}"
        else:
            moved = f"{labels[i]} 0 -> {_fmt_j(c_split[i])}"
        ref = c or b
        assert ref is not None
        out.append(Change("native", ref.name, ref.obj, ref.where, b_e, c_e, moved, status))
    out.sort(key=lambda ch: (-abs(ch.delta), ch.name))
    return out[:top], b_total, c_total


def chart_rows(base: Mapping[str, Any], cur: Mapping[str, Any]) -> list[tuple[str, str, float, float]]:
    """Every function either run kept: (object, name, baseline J, current J); 0 where a run did not keep it."""
    b_fns = {f.key: f.energy_j for f in P.functions(base, "baseline profile")}
    c_fns = {f.key: f.energy_j for f in P.functions(cur, "current profile")}
    return [(k[0], k[1], b_fns.get(k, 0.0), c_fns.get(k, 0.0)) for k in sorted(set(b_fns) | set(c_fns))]


def python_changes(base: Mapping[str, Any], cur: Mapping[str, Any], floor: float = FLOOR,
                   top: int = TOP) -> list[Change]:
    """Python functions whose bytecodes moved (more than ``floor`` of the baseline's), then C functions whose
    calls changed; largest move first."""
    b_rows = {(r[0], r[1] == ""): r for r in PP.rows(base, "baseline python profile")}
    c_rows = {(r[0], r[1] == ""): r for r in PP.rows(cur, "current python profile")}
    b_total = int(base.get("bytecodes") or 0)
    py: list[Change] = []
    cf: list[Change] = []
    for key in set(b_rows) | set(c_rows):
        b, c = b_rows.get(key), c_rows.get(key)
        status = "new" if b is None else "gone" if c is None else ""
        ref = c or b
        assert ref is not None
        if key[1]:  # a C function: its calls
            b_n, c_n = (b[2] if b else 0), (c[2] if c else 0)
            if b_n != c_n:
                cf.append(Change("python", ref[0], "C", "", b_n, c_n, "calls", status, "calls"))
            continue
        b_ops, c_ops = (b[4] if b else 0), (c[4] if c else 0)
        if abs(c_ops - b_ops) > floor * b_total:
            calls = f"calls {b[2] if b else 0} -> {c[2] if c else 0}"
            py.append(Change("python", ref[0], "", ref[1], b_ops, c_ops, calls, status, "bytecodes"))
    py.sort(key=lambda ch: (-abs(ch.delta), ch.name))
    cf.sort(key=lambda ch: (-abs(ch.delta), ch.name))
    return (py + cf)[:top]


def explain_blocks(base_block: Any, cur_block: Any, floor: float = FLOOR, top: int = TOP) -> Explanation:
    """The explanation for one benchmark from its two energy blocks (``extra_info["energy"]``)."""
    ex = Explanation()
    bp, cp = _profile_of(base_block), _profile_of(cur_block)
    if bp is None or cp is None:
        which = "either run" if bp is None and cp is None else "the baseline" if bp is None else "this run"
        ex.notes.append(f"no per-function profile in {which} (counted runs keep one; "
                        f"{P.PROFILE_ENV}=0 switches it off)")
        return ex
    ex.native, ex.base_j, ex.cur_j = native_changes(bp, cp, floor, top)
    ex.chart = chart_rows(bp, cp)
    bpy, cpy = bp.get("python"), cp.get("python")
    if isinstance(bpy, Mapping) and isinstance(cpy, Mapping) and _has_python(bpy) and _has_python(cpy):
        ex.python = python_changes(bpy, cpy, floor, top)
    else:
        note = python_missing(bpy, cpy, bool(ex.native) and interpreter(ex.native[0].obj))
        if note:
            ex.notes.append(note)
    return ex


def _has_python(py: Any) -> bool:
    return isinstance(py, Mapping) and "functions" in py


#: how to get a Python-level diff, named in every note that says it is missing
HOW_PYTHON = (f"save the baseline with {PP.MODE_ENV}=all (e.g. `{PP.MODE_ENV}=all pytest --energy-meter=counted "
              "--benchmark-autosave`); the gate's run adds its own for each flagged benchmark")


def python_missing(bpy: Any, cpy: Any, interpreter_moved: bool = False) -> str:
    """One line saying which run lacks the Python level and how to get it (empty when nothing to say): a
    Python-level diff needs the counts in both runs."""
    failed = [f"{which}'s Python-level pass failed: {py['error']}" for which, py in (("the baseline", bpy),
              ("this run", cpy)) if isinstance(py, Mapping) and py.get("error")]
    if failed:
        return "no Python-level diff: " + "; ".join(failed)
    if _has_python(cpy) and not _has_python(bpy):
        return f"no Python-level diff: the baseline has no Python-level profile; {HOW_PYTHON}"
    if _has_python(bpy) and not _has_python(cpy):
        return (f"no Python-level diff: this run has no Python-level profile ({PP.MODE_ENV}=0, or the benchmark "
                f"was not flagged); run it with {PP.MODE_ENV}=all")
    if interpreter_moved:
        return ("no Python-level diff: the interpreter's own functions moved most (the change is in Python code) "
                f"and neither run has a Python-level profile; {HOW_PYTHON}")
    return ""


def interpreter(obj: str) -> bool:
    """Whether a shared object is CPython itself (``libpython3.11.so.1.0``, a static ``python3.11``)."""
    return obj.startswith("libpython") or obj.startswith("python")


# -- rendering ---------------------------------------------------------------------------------------------

def _pct(ch: Change) -> str:
    return "new" if ch.status == "new" else "gone" if ch.status == "gone" else f"{ch.rel:+.0%}"


def _amount(ch: Change, x: float) -> str:
    return _fmt_j(x) if ch.unit == "J" else f"{x:,.0f}"


def lines(ex: Explanation, floor: float = FLOOR) -> list[str]:
    """Plain-text lines (terminal, ``greenbench explain``)."""
    out: list[str] = []
    if ex.native:
        out.append("native level (callgrind, self energy per call, estimated):")
        for i, ch in enumerate(ex.native, 1):
            out.append(f"  {i}. {ch.label()}: {_amount(ch, ch.base)} -> {_amount(ch, ch.cur)} "
                       f"({'+' if ch.delta >= 0 else '-'}{_fmt_j(abs(ch.delta))}, {_pct(ch)}); {ch.moved}")
    if ex.python:
        out.append("Python level (counts of one extra traced call):")
        for i, ch in enumerate(ex.python, 1):
            out.append(f"  {i}. {ch.label()}: {ch.unit} {_amount(ch, ch.base)} -> {_amount(ch, ch.cur)} "
                       f"({_pct(ch)})" + (f"; {ch.moved}" if ch.moved != ch.unit else ""))
    if not out:
        out.append(f"no function moved by more than {floor:.1%} of the benchmark's energy")
    return out + [f"({n})" for n in ex.notes]


def short(ex: Explanation, most: int = 2) -> str:
    """One line for the gate's verdict: ``where: npy_quicksort (_multiarray_umath…so) +0.6 µJ (+50%, instructions
    +52%); Python: mod.key (calls 0 -> 300)``."""
    parts = []
    for ch in ex.native[:most]:
        parts.append(f"{ch.name} ({ch.obj}) {'+' if ch.delta >= 0 else '-'}{_fmt_j(abs(ch.delta))} "
                     f"({_pct(ch)}, {ch.moved})")
    py = [f"{ch.name} ({ch.unit} {_amount(ch, ch.base)} -> {_amount(ch, ch.cur)})" for ch in ex.python[:most]]
    text = "; ".join(parts)
    if py:
        text += ("; " if text else "") + "Python: " + ", ".join(py)
    return f"where (native{', Python' if py else ''}): {text}" if text else ""


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")


def markdown(name: str, ex: Explanation) -> list[str]:
    """A small Markdown table for one regressed benchmark."""
    if ex.empty:
        return []
    md = [f"**Where `{_md(name)}` moved** (native: callgrind self energy per call, estimated; "
          "Python: counts of one traced call)", "",
          "| # | level | function | where | baseline → current | change | what moved |",
          "|---:|---|---|---|---:|---:|---|"]
    for i, ch in enumerate([*ex.native, *ex.python], 1):
        place = ch.obj + (f" {ch.where}" if ch.where and ch.level == "native" else "") if ch.level == "native" \
            else (ch.where or "C function")
        unit = f"{ch.unit} " if ch.unit != "J" else ""
        md.append(f"| {i} | {ch.level} | `{_md(ch.name)}` | {_md(place)} | "
                  f"{unit}{_amount(ch, ch.base)} → {_amount(ch, ch.cur)} | {_pct(ch)} | {_md(ch.moved)} |")
    md += [f"_{_md(n)}_" for n in ex.notes]
    return [*md, ""]


def html_table(name: str, ex: Explanation) -> str:
    """The same as a small HTML table (escaped)."""
    if ex.empty:
        return ""
    e = html.escape
    rows = []
    for i, ch in enumerate([*ex.native, *ex.python], 1):
        place = (ch.obj + (f" {ch.where}" if ch.where else "")) if ch.level == "native" else (ch.where or "C function")
        rows.append(f'<tr><td class="num">{i}</td><td>{e(ch.level)}</td><td class="name">{e(ch.name)}</td>'
                    f"<td>{e(place)}</td><td class=\"num\">{e(ch.unit + ' ' if ch.unit != 'J' else '')}"
                    f"{e(_amount(ch, ch.base))} → {e(_amount(ch, ch.cur))}</td>"
                    f'<td class="num">{e(_pct(ch))}</td><td>{e(ch.moved)}</td></tr>')
    notes = "".join(f"<p><i>{e(n)}</i></p>" for n in ex.notes)
    return (f'<h3 class="where">Where <code>{e(name)}</code> moved</h3>'
            "<p>native: callgrind self energy per call (estimated); Python: counts of one traced call.</p>"
            '<table class="where"><thead><tr><th>#</th><th>level</th><th>function</th><th>where</th>'
            "<th>baseline → current</th><th>change</th><th>what moved</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>" + notes + icicle_svg(name, ex))


#: the chart's width (px), row height, smallest function drawn on its own (share of the current energy)
CHART_W, CHART_ROW, CHART_MIN = 960, 20, 0.005


def _color(delta: float, base_total: float, floor: float = FLOOR) -> str:
    """Red for more energy, blue for less, by the move's share of the baseline's energy (grey under ``floor``)."""
    share = delta / base_total if base_total > 0 else 0.0
    if abs(share) <= floor:
        return "#dddddd"
    k = min(abs(share) / 0.05, 1.0)  # full colour at a 5 % move of the benchmark
    light = round(88 - 40 * k)
    return f"hsl({0 if share > 0 else 215},75%,{light}%)"


def icicle_svg(name: str, ex: Explanation, floor: float = FLOOR) -> str:
    """A differential icicle chart of the native level as inline SVG (no script, no external file): top row the
    benchmark, then its shared objects, then their functions; widths are the *current* run's self energy, colours
    the move against the baseline (red more, blue less, grey within ``floor``), every box's tooltip gives baseline
    -> current.  The stored profile is flat (self energy per function, no call stacks), so the levels are object
    and function, not callers.  Functions under :data:`CHART_MIN` of the energy are drawn as one ``other`` box per
    object; functions the current run did not keep (zero width) are named under the chart."""
    if not ex.chart:
        return ""
    e = html.escape
    b_total = sum(r[2] for r in ex.chart)
    c_total = sum(r[3] for r in ex.chart)
    if c_total <= 0:
        return ""
    by_obj: dict[str, list[tuple[str, float, float]]] = {}
    gone = []
    for obj, fn, b, c in ex.chart:
        if c <= 0:
            if b > floor * b_total:
                gone.append(f"{fn} ({obj}) {_fmt_j(b)}")
            continue
        by_obj.setdefault(obj, []).append((fn, b, c))
    scale = CHART_W / c_total
    boxes: list[str] = []

    def box(x: float, row: int, w: float, label: str, b: float, c: float) -> None:  # noqa: PLR0917
        change = f"{c / b - 1:+.1%}" if b > 0 else "new"
        tip = f"{label}: {_fmt_j(b)} -> {_fmt_j(c)} per call ({change}; estimated)"
        y = row * CHART_ROW
        boxes.append(f'<g><title>{e(tip)}</title><rect x="{x:.1f}" y="{y}" width="{max(w - 0.5, 0.5):.1f}" '
                     f'height="{CHART_ROW - 1}" fill="{_color(c - b, b_total, floor)}"/>')
        chars = int(w / 6.5)
        if chars >= 4:
            text = label if len(label) <= chars else label[:chars - 1] + "\u2026"
            boxes.append(f'<text x="{x + 3:.1f}" y="{y + 14}" font-size="11" font-family="monospace">{e(text)}</text>')
        boxes.append("</g>")

    box(0, 0, CHART_W, name.rsplit("::", 1)[-1], b_total, c_total)
    x = 0.0
    for obj in sorted(by_obj, key=lambda o: -sum(r[2] for r in by_obj[o])):
        rows = sorted(by_obj[obj], key=lambda r: -r[2])
        ob, oc = sum(r[1] for r in rows), sum(r[2] for r in rows)
        box(x, 1, oc * scale, obj, ob, oc)
        fx = x
        small_b = small_c = 0.0
        for fn, b, c in rows:
            if c < CHART_MIN * c_total:
                small_b, small_c = small_b + b, small_c + c
                continue
            box(fx, 2, c * scale, fn, b, c)
            fx += c * scale
        if small_c > 0:
            box(fx, 2, small_c * scale, f"other functions of {obj}", small_b, small_c)
        x += oc * scale
    legend = ("width: this run's self energy per call (estimated); colour: its move against the baseline "
              f"(red more, blue less, grey within {floor:.1%} of the benchmark); hover a box for the figures")
    extra = f"<p>not kept by this run (energy baseline): {e(', '.join(gone[:8]))}</p>" if gone else ""
    return (f'<figure class="icicle"><svg xmlns="http://www.w3.org/2000/svg" width="{CHART_W}" '
            f'height="{3 * CHART_ROW}" viewBox="0 0 {CHART_W} {3 * CHART_ROW}" role="img" '
            f'aria-label="{e("energy diff of " + name)}">' + "".join(boxes)
            + f"</svg><figcaption>{e(legend)}</figcaption></figure>{extra}")


# -- the gate's and the reports' entry points ----------------------------------------------------------------

#: explanations computed by the gate in this process, by benchmark name (the reports render them)
_SEEN: dict[str, Explanation] = {}


def verdict_note(name: str, base_block: Any, cur_block: Any) -> str:
    """Called by the gate for a regression: the one-line ``where: ...`` (empty when there is no profile).
    Never raises: a malformed profile gives a note saying so."""
    try:
        ex = explain_blocks(base_block, cur_block)
    except DataError as exc:
        return f"where: profile unusable ({exc})"
    if _profile_of(base_block) is None or _profile_of(cur_block) is None:
        return ""
    _SEEN[name] = ex
    text = short(ex) or f"where: no function moved by more than {FLOOR:.1%} of the energy"
    missing = [n for n in ex.notes if n.startswith("no Python-level diff")]
    return f"{text}; {missing[0]}" if missing else text


def seen(verdicts: Sequence[Any], most: int = MAX_TABLES) -> list[tuple[str, Explanation]]:
    """Explanations of the regressed verdicts the gate explained in this process, in verdict order (at most
    ``most``: a pull-request comment has a size cap)."""
    return [(v.name, _SEEN[v.name]) for v in verdicts
            if getattr(v, "verdict", "") == "regression" and v.name in _SEEN and not _SEEN[v.name].empty][:most]


def markdown_section(verdicts: Sequence[Any]) -> list[str]:
    """Markdown tables for the summary: one per regressed benchmark with a profile."""
    out: list[str] = []
    for name, ex in seen(verdicts):
        out += markdown(name, ex)
    return out


def html_section(verdicts: Sequence[Any]) -> str:
    return "\n".join(html_table(name, ex) for name, ex in seen(verdicts))


# -- greenbench explain RUN_A RUN_B [-k BENCHMARK] ------------------------------------------------------------

USAGE = "usage: greenbench explain RUN_A.json RUN_B.json [-k SUBSTRING] [--top N] [--floor PCT]"


def _resolve(arg: str) -> str:
    """A results file, or a pytest-benchmark storage id (``0003``) looked up under ``.benchmarks/``."""
    from pathlib import Path

    p = Path(arg)
    if p.is_file() or not arg.isdigit():
        return arg
    found = sorted(Path(".benchmarks").glob(f"*/{arg}_*.json"))
    if len(found) == 1:
        return str(found[0])
    raise DataError(f"{arg}: no such file, and {'no' if not found else 'more than one'} saved run "
                    f"'{arg}_*.json' under .benchmarks/")


def explain_runs(a: Mapping[str, Any], b: Mapping[str, Any], select: str | None = None, *,
                 floor: float = FLOOR, top: int = TOP) -> list[tuple[str, float, float, Explanation]]:
    """Per benchmark in both runs (``select``: a substring of the test id): name, energy A, energy B, explanation."""
    a_by = {str(x.get("fullname")): x for x in a.get("benchmarks", []) if isinstance(x, Mapping)}
    out = []
    for entry in b.get("benchmarks", []):
        if not isinstance(entry, Mapping):
            continue
        name = str(entry.get("fullname"))
        if select and select not in name:
            continue
        base = a_by.get(name)
        if base is None:
            continue
        be = (base.get("extra_info") or {}).get("energy")
        ce = (entry.get("extra_info") or {}).get("energy")
        ex = explain_blocks(be, ce, floor, top)
        bj = PP._min_j(be) or math.nan
        cj = PP._min_j(ce) or math.nan
        out.append((name, bj, cj, ex))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print(USAGE + "\n\n" + (__doc__ or ""))
        return 0
    select: str | None = None
    top, floor = TOP, FLOOR
    files: list[str] = []
    it = iter(args)
    for arg in it:
        if arg in ("-k", "--top", "--floor"):
            value = next(it, None)
            if value is None:
                print(f"error: {arg} needs a value; {USAGE}", file=sys.stderr)
                return 2
            if arg == "-k":
                select = value
            elif arg == "--top":
                if not value.isdigit() or not 1 <= int(value) <= 100:
                    print(f"error: --top {value!r}: expected a whole number from 1 to 100", file=sys.stderr)
                    return 2
                top = int(value)
            else:
                try:
                    floor = float(value.rstrip("%")) / 100
                except ValueError:
                    floor = -1.0
                if not 0 <= floor < 1:
                    print(f"error: --floor {value!r}: expected a percentage from 0 to 100, e.g. 0.5%",
                          file=sys.stderr)
                    return 2
        elif arg.startswith("-"):
            print(f"error: unknown option {arg!r}; {USAGE}", file=sys.stderr)
            return 2
        else:
            files.append(arg)
    if len(files) != 2:
        print(f"error: expected two saved runs; {USAGE}", file=sys.stderr)
        return 2
    from greenbench import results as R
    from greenbench.errors import GreenbenchError

    try:
        run_a, run_b = (R.load(_resolve(f)) for f in files)
        found = explain_runs(run_a, run_b, select, floor=floor, top=top)
    except GreenbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not found:
        what = f" matching -k {select!r}" if select else ""
        print(f"error: no benchmark{what} in both {files[0]} and {files[1]}", file=sys.stderr)
        return 2
    for name, bj, cj, ex in found:
        change = f"{cj / bj - 1:+.2%}" if bj > 0 and math.isfinite(cj) else "-"
        print(f"{name}: {_fmt_j(bj)} -> {_fmt_j(cj)} per call (min over rounds, estimated), {change}")
        for line in lines(ex, floor):
            print(f"  {line}")
    return 0


def terminal_lines(verdict: Any) -> list[str]:
    """The per-function lines printed under a regressed verdict in the terminal (empty when not explained)."""
    ex = _SEEN.get(getattr(verdict, "name", ""))
    if ex is None or ex.empty or getattr(verdict, "verdict", "") not in ("regression", "inconclusive"):
        return []
    return lines(ex)

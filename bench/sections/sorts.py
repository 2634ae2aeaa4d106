"""Report section: C vs Python sorts (bench/test_sorts.py) next to the study's Table 3.

Shows, per implementation and n, the time and energy of one sort (minimum
over rounds, the least disturbed by other tenants of a shared machine) and
its ratio to the C sort of the same algorithm; the fitted log-log exponents;
an extrapolation to n = 10^6 where 10^6 was not measured (labelled as such);
the Python ÷ C ratios beside the study's and Pereira et al.'s; and what
numpy's ``kind="heapsort"`` turned out to be.  Entries are read only through
:mod:`greenbench.results`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import study
from greenbench import results as r

TITLE = "Sorting: C (cffi) vs pure Python, with the sorts people use"

PLOT_FILE = "sorts-scaling.png"
STAT = "min"  # min over rounds, for time and energy alike
TARGET_N = 10**6  # the study's size


@dataclass(frozen=True)
class StudyRow:
    """One row of the study's Table 3 (Green AI guide; RAPL, Intel i7-10510U laptop), n = 10^6."""

    c_time_s: float
    c_energy_j: float
    python_time_s: float
    python_energy_j: float
    python_estimated: bool  # the study estimated, not measured, the Python side

    @classmethod
    def of(cls, key: str) -> StudyRow:
        f = study.figure(key)
        return cls(c_time_s=float(f["c_time_s"]), c_energy_j=float(f["c_energy_j"]),
                   python_time_s=float(f["python_time_s"]), python_energy_j=float(f["python_energy_j"]),
                   python_estimated=bool(f["python_estimated"]))

    @property
    def time_ratio(self) -> float:
        return self.python_time_s / self.c_time_s

    @property
    def energy_ratio(self) -> float:
        return self.python_energy_j / self.c_energy_j


#: heap sort, 1,000,000 items — guide, Table 3 (both sides measured with RAPL)
STUDY_HEAP = StudyRow.of("sorts.heap")
#: selection sort, 1,000,000 items — guide, Table 3 (Python side "about", estimated)
STUDY_SELECTION = StudyRow.of("sorts.selection")
#: Python's energy normalised to C = 1.00 over the Computer Language Benchmarks
#: Game — Pereira et al. 2017 (SLE '17, "Energy efficiency across programming
#: languages", Table 4), repeated in Pereira et al. 2021 (Sci. Comput. Program.)
PEREIRA_PYTHON_ENERGY = study.numbers("literature.pereira_python_energy")["python_over_c"]

C_OF = {"heap": "c-heap", "selection": "c-selection"}
PY_OF = {"heap": "python-heap", "selection": "python-selection"}
STUDY_OF = {"heap": STUDY_HEAP, "selection": STUDY_SELECTION}
ORDER = ("c-heap", "python-heap", "sorted", "list.sort", "numpy", "numpy-heapsort", "c-selection",
         "python-selection")
ALGORITHM_TITLE = {"heap": "heap sort and the O(n log n) baselines", "selection": "selection sort"}


@dataclass(frozen=True)
class Point:
    n: int
    time_s: float
    energy_j: float
    cpu_s: float  # mean CPU time per call from the energy block (NaN when none)
    estimated: bool
    bench: r.Bench


Series = dict[str, list[Point]]  # impl -> points sorted by n


def _collect(benchmarks: Sequence[r.Bench]) -> tuple[dict[str, Series], dict[str, str]]:
    by_algo: dict[str, Series] = {}
    labels: dict[str, str] = {}
    for b in benchmarks:
        info = r.extra(b, "sort")
        if not isinstance(info, dict):
            continue
        algo, impl, n = info.get("algorithm"), info.get("impl"), info.get("n")
        if not (isinstance(algo, str) and isinstance(impl, str) and isinstance(n, int)):
            continue
        labels[impl] = str(info.get("label", impl))
        by_algo.setdefault(algo, {}).setdefault(impl, []).append(
            Point(n, r.time_s(b, STAT), r.energy_j(b, STAT), _cpu_s(b), r.is_estimated(b), b)
        )
    for series in by_algo.values():
        for pts in series.values():
            pts.sort(key=lambda p: p.n)
    return by_algo, labels


def _cpu_s(b: r.Bench) -> float:
    block = r.energy(b) or {}
    value = block.get("cpu_time_s")
    return float(value) if isinstance(value, (int, float)) else math.nan


def _ok(x: float) -> bool:
    return x is not None and math.isfinite(x) and x > 0


def fit_exponent(ns: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of log y on log n (NaN with fewer than two usable points)."""
    pairs = [(math.log(n), math.log(y)) for n, y in zip(ns, ys, strict=True) if _ok(n) and _ok(y)]
    if len(pairs) < 2 or len({x for x, _ in pairs}) < 2:
        return math.nan
    mx = sum(x for x, _ in pairs) / len(pairs)
    my = sum(y for _, y in pairs) / len(pairs)
    sxx = sum((x - mx) ** 2 for x, _ in pairs)
    return sum((x - mx) * (y - my) for x, y in pairs) / sxx


def fit_exponent_se(ns: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """The log-log slope and its standard error (NaN error with fewer than three usable points).

    Ordinary least squares: se = sqrt(residual variance / sum((x - mean x)^2)), residual variance
    over n - 2 degrees of freedom.
    """
    pairs = [(math.log(n), math.log(y)) for n, y in zip(ns, ys, strict=True) if _ok(n) and _ok(y)]
    slope = fit_exponent(ns, ys)
    if not math.isfinite(slope) or len(pairs) < 3:
        return slope, math.nan
    mx = sum(x for x, _ in pairs) / len(pairs)
    my = sum(y for _, y in pairs) / len(pairs)
    sxx = sum((x - mx) ** 2 for x, _ in pairs)
    ssr = sum((y - (my + slope * (x - mx))) ** 2 for x, y in pairs)
    return slope, math.sqrt(ssr / (len(pairs) - 2) / sxx)


def _fse(fit: tuple[float, float]) -> str:
    """``1.98 ± 0.03`` (``± n/a`` with two sizes: no degree of freedom left for the error)."""
    slope, se = fit
    if not math.isfinite(slope):
        return "-"
    return f"{slope:.2f} ± {se:.2f}" if math.isfinite(se) else f"{slope:.2f} ± n/a (2 sizes)"


def _contended_sizes(pts: Sequence[Any]) -> list[int]:
    """Sizes whose rounds ran while other processes kept cores busy (their time and energy are inflated)."""
    out = []
    for p in pts:
        block = r.energy(p.bench) or {}
        k = block.get("contended_rounds")
        if isinstance(k, int) and k > 0:
            out.append(p.n)
    return out


def complexity(algo: str, n: float) -> float:
    """The textbook cost model: n² comparisons for selection sort, n log2 n for heap sort."""
    return n * n if algo == "selection" else n * math.log2(n)


def extrapolate(algo: str, ns: Sequence[int], ys: Sequence[float], target: int = TARGET_N,
                use_last: int = 2) -> float:
    """y(target) from y = c·model(n), c the geometric mean over the ``use_last`` largest sizes."""
    pts = [(n, y) for n, y in zip(ns, ys, strict=True) if _ok(y)][-use_last:]
    if not pts:
        return math.nan
    log_c = sum(math.log(y / complexity(algo, n)) for n, y in pts) / len(pts)
    return math.exp(log_c) * complexity(algo, target)


def _ratio(num: float, den: float) -> float:
    return num / den if _ok(num) and _ok(den) else math.nan


def _fx(value: float, estimated: bool = False) -> str:
    return r.mark(f"{value:.3g}×", estimated) if math.isfinite(value) else "-"


def _fj(value: float, estimated: bool) -> str:
    return r.mark(r.fmt_si(value, "J"), estimated) if _ok(value) else "-"


def _fe(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "-"


def _main_table(by_algo: dict[str, Series], labels: dict[str, str]) -> list[str]:
    lines = [
        f"| algorithm | implementation | n | time ({STAT}) | CPU time (mean) | energy ({STAT}) | time ÷ C | "
        "CPU time ÷ C | energy ÷ C |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for algo in ("heap", "selection"):
        series = by_algo.get(algo, {})
        c_pts = {p.n: p for p in series.get(C_OF[algo], [])}
        for impl in sorted(series, key=lambda k: ORDER.index(k) if k in ORDER else len(ORDER)):
            for p in series[impl]:
                c = c_pts.get(p.n)
                t_x = _ratio(p.time_s, c.time_s) if c else math.nan
                cpu_x = _ratio(p.cpu_s, c.cpu_s) if c else math.nan
                e_x = _ratio(p.energy_j, c.energy_j) if c else math.nan
                est = p.estimated or (c.estimated if c else True)
                lines.append(
                    f"| {algo} | {labels.get(impl, impl)} | {p.n:,} | {r.fmt_si(p.time_s, 's')} | "
                    f"{r.fmt_si(p.cpu_s, 's')} | {_fj(p.energy_j, p.estimated)} | {_fx(t_x)} | "
                    f"{_fx(cpu_x)} | {_fx(e_x, est)} |"
                )
    return lines


def _fit_table(by_algo: dict[str, Series], labels: dict[str, str]) -> list[str]:
    lines = [
        "| algorithm | implementation | sizes | time exponent (± s.e.) | energy exponent (± s.e.) | "
        "contended | time at 10^6 | energy at 10^6 |",
        "|---|---|---|---:|---:|---|---:|---:|",
    ]
    for algo in ("heap", "selection"):
        series = by_algo.get(algo, {})
        for impl in sorted(series, key=lambda k: ORDER.index(k) if k in ORDER else len(ORDER)):
            pts = series[impl]
            ns = [p.n for p in pts]
            t_exp = fit_exponent_se(ns, [p.time_s for p in pts])
            e_exp = fit_exponent_se(ns, [p.energy_j for p in pts])
            busy = _contended_sizes(pts)
            busy_text = ("⚠ n = " + ", ".join(f"{n:,}" for n in busy) + ": rounds contended, slope unreliable"
                         if busy else "no")
            est = any(p.estimated for p in pts)
            at = {p.n: p for p in pts}.get(TARGET_N)
            if at is not None:
                t_text = f"{r.fmt_si(at.time_s, 's')} (measured)"
                e_text = f"{_fj(at.energy_j, at.estimated)} (measured)"
            else:
                t_x = extrapolate(algo, ns, [p.time_s for p in pts])
                e_x = extrapolate(algo, ns, [p.energy_j for p in pts])
                t_text = f"{r.fmt_si(t_x, 's')} (extrapolated)" if _ok(t_x) else "-"
                e_text = f"{_fj(e_x, est)} (extrapolated)" if _ok(e_x) else "-"
            sizes = (f"{ns[0]:,}–{ns[-1]:,} ({len(ns)})" if len(ns) > 1 else f"{ns[0]:,} (1)") if ns else "-"
            lines.append(
                f"| {algo} | {labels.get(impl, impl)} | {sizes} | {_fse(t_exp)} | {_fse(e_exp)} | "
                f"{busy_text} | {t_text} | {e_text} |"
            )
    return lines


@dataclass(frozen=True)
class Pair:
    """C and Python figures for one algorithm at one n, measured or extrapolated."""

    c: tuple[float, float, float]  # time s, CPU time s, energy J
    py: tuple[float, float, float]
    estimated: bool
    how: str


def _pair_at(algo: str, series: Series, n: int | None) -> Pair:
    """C vs Python at n (measured), or at 10^6 (measured where there, else extrapolated)."""
    c_pts, py_pts = series.get(C_OF[algo], []), series.get(PY_OF[algo], [])
    est = any(p.estimated for p in c_pts + py_pts)
    if n is not None:
        c = next(p for p in c_pts if p.n == n)
        py = next(p for p in py_pts if p.n == n)
        return Pair((c.time_s, c.cpu_s, c.energy_j), (py.time_s, py.cpu_s, py.energy_j),
                    c.estimated or py.estimated, "measured")
    vals: list[tuple[float, float, float]] = []
    how = "measured"
    for pts in (c_pts, py_pts):
        at = {p.n: p for p in pts}.get(TARGET_N)
        if at is not None:
            vals.append((at.time_s, at.cpu_s, at.energy_j))
        else:
            how = "extrapolated"
            ns = [p.n for p in pts]
            vals.append((extrapolate(algo, ns, [p.time_s for p in pts]),
                         extrapolate(algo, ns, [p.cpu_s for p in pts]),
                         extrapolate(algo, ns, [p.energy_j for p in pts])))
    return Pair(vals[0], vals[1], est, how)


def _comparison_table(by_algo: dict[str, Series]) -> list[str]:
    lines = [
        "| algorithm | where | n | C time | Python time | time Python ÷ C | CPU time Python ÷ C | C energy | "
        "Python energy | energy Python ÷ C |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for algo in ("heap", "selection"):
        series = by_algo.get(algo, {})
        c_ns = {p.n for p in series.get(C_OF[algo], [])}
        py_ns = {p.n for p in series.get(PY_OF[algo], [])}
        common = sorted(c_ns & py_ns)
        if common:
            largest = common[-1]
            rows: list[tuple[str, int | None]] = [(f"this run, largest common n ({largest:,})", largest)]
            if common[-1] != TARGET_N:
                rows.append(("this run", None))
            for where, n in rows:
                pair = _pair_at(algo, series, n)
                (ct, cc, ce), (pt, pc, pe), est = pair.c, pair.py, pair.estimated
                where_text = where if n is not None else f"this run, **{pair.how}**"
                lines.append(
                    f"| {algo} | {where_text} | {(n or TARGET_N):,} | {r.fmt_si(ct, 's')} | "
                    f"{r.fmt_si(pt, 's')} | "
                    f"{_fx(_ratio(pt, ct))} | {_fx(_ratio(pc, cc))} | {_fj(ce, est)} | {_fj(pe, est)} | "
                    f"{_fx(_ratio(pe, ce), est)} |"
                )
        study = STUDY_OF[algo]
        pe_est = study.python_estimated
        lines.append(
            f"| {algo} | study (guide, Table 3; RAPL) | {TARGET_N:,} | {r.fmt_si(study.c_time_s, 's')} | "
            f"{r.mark(r.fmt_si(study.python_time_s, 's'), pe_est)} | {_fx(study.time_ratio, pe_est)} | - | "
            f"{r.fmt_si(study.c_energy_j, 'J')} | {_fj(study.python_energy_j, pe_est)} | "
            f"{_fx(study.energy_ratio, pe_est)} |"
        )
    lines.append(
        f"| 10 CLBG programs | Pereira et al. 2017, Table 4 (RAPL) | - | - | - | - | - | 1.00 (normalised) | "
        f"{PEREIRA_PYTHON_ENERGY:.2f} (normalised) | {PEREIRA_PYTHON_ENERGY:.2f}× |"
    )
    return lines


def _span(values: Sequence[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:.2g}×" if f"{lo:.2g}" == f"{hi:.2g}" else f"{lo:.2g}–{hi:.2g}×"


def _numpy_heapsort_finding(by_algo: dict[str, Series]) -> list[str]:
    series = by_algo.get("heap", {})
    default = {p.n: p for p in series.get("numpy", [])}
    heap_kind = {p.n: p for p in series.get("numpy-heapsort", [])}
    c_heap = {p.n: p for p in series.get("c-heap", [])}
    ns = sorted(set(default) & set(heap_kind))
    if not ns:
        return []
    # CPU time when the run has it: wall time on a shared machine waits for other tenants
    pts = [heap_kind[n] for n in ns] + [default[n] for n in ns] + [c_heap[n] for n in ns if n in c_heap]
    use_cpu = all(_ok(p.cpu_s) for p in pts)
    what = "CPU time" if use_cpu else f"time ({STAT})"

    def cost(p: Point) -> float:
        return p.cpu_s if use_cpu else p.time_s

    same = [_ratio(cost(heap_kind[n]), cost(default[n])) for n in ns]
    vs_c = [_ratio(cost(heap_kind[n]), cost(c_heap[n])) for n in ns if n in c_heap]
    finite = [x for x in same if math.isfinite(x)]
    version = r.extra(series["numpy"][0].bench, "numpy_version", "?")
    lines = [
        f"numpy {version}: `kind='heapsort'` took "
        + ", ".join(f"{x:.2f}×" for x in same)
        + f" the default sort's {what} at n = {', '.join(f'{n:,}' for n in ns)}"
        + (f", and {_span(vs_c)} our C heap sort's." if vs_c else ".")
    ]
    if finite and all(0.8 <= x <= 1.25 for x in finite):
        lines.append(
            "Within noise of the default: this numpy does not run a heap sort for `kind='heapsort'` "
            "(numpy's sort code was consolidated to use heapsort only inside its introsort fallback — "
            "numpy PRs #29642 and #31428), so it is not shown as a heap sort here."
        )
    else:
        lines.append(
            "It differs from the default sort in this run; check for noise (spread, contended rounds) "
            "before concluding that this numpy runs a real heap sort for it."
        )
    return lines


def _build_line(by_algo: dict[str, Series]) -> str:
    for algo in ("heap", "selection"):
        for p in by_algo.get(algo, {}).get(C_OF[algo], []):
            build = r.extra(p.bench, "native_build")
            if isinstance(build, dict):
                flags = " ".join(str(f) for f in build.get("cflags", [])) or "(none: Python's own)"
                return (f"C built by {build.get('compiler_version', build.get('compiler', '?'))} with "
                        f"`{flags}` after Python's `{' '.join(map(str, build.get('base_cflags', [])))}` "
                        "(the last -O wins), cffi API mode.")
    return ""


def _plot(by_algo: dict[str, Series], labels: dict[str, str], out_dir: Path) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.4))
    axes = fig.subplots(1, 2)
    any_energy = False
    panels = ((axes[0], "time_s", "time per sort"), (axes[1], "energy_j", "energy per sort"))
    for ax, field, unit in panels:
        for algo in ("heap", "selection"):
            for impl, pts in by_algo.get(algo, {}).items():
                xs = [p.n for p in pts if _ok(getattr(p, field))]
                ys = [getattr(p, field) for p in pts if _ok(getattr(p, field))]
                if not xs:
                    continue
                any_energy = any_energy or field == "energy_j"
                k = fit_exponent_se(xs, ys)
                style = "-" if algo == "heap" else "--"
                busy = bool(_contended_sizes([p for p in pts if _ok(getattr(p, field))]))
                (line,) = ax.plot(xs, ys, style, marker="o", ms=3,
                                  label=f"{labels.get(impl, impl)} (slope {_fse(k).replace(' (2 sizes)', '')}"
                                        + (", contended" if busy else "") + ")")
                if xs[-1] < TARGET_N and impl in (C_OF[algo], PY_OF[algo]):
                    y_far = extrapolate(algo, xs, ys)
                    if _ok(y_far):
                        ax.plot([xs[-1], TARGET_N], [ys[-1], y_far], ":", color=line.get_color())
                        ax.plot([TARGET_N], [y_far], marker="o", mfc="none", color=line.get_color())
        ax.set_xscale("log")
        ax.set_yscale("log")
        from matplotlib.ticker import EngFormatter  # SI ticks: 1 k, 1 M items; 100 µs, 10 mJ

        ax.xaxis.set_major_formatter(EngFormatter())
        ax.yaxis.set_major_formatter(EngFormatter(unit="s" if field == "time_s" else "J"))
        ax.set_xlabel("n (items)")
        ax.set_ylabel(unit + (" — estimated" if field == "energy_j" else ""))
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    axes[0].set_title(f"time ({STAT} over rounds); dotted: extrapolated to 10^6")
    if any_energy:
        axes[1].set_title("energy (estimated unless read off a counter)")
        axes[1].legend(fontsize=7)
    else:
        axes[1].set_title("no energy recorded in this run")
    out_dir.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out_dir / PLOT_FILE, dpi=100)
    return PLOT_FILE


def render(benchmarks: list[dict], out_dir: Path) -> str:
    by_algo, labels = _collect(benchmarks)
    if not by_algo:
        return ""
    parts = [
        "One in-place sort of a fresh copy of the same random int64 input (copy made outside the timed "
        f"call); time and energy are the {STAT} over rounds. Ratios are to the C sort of the same "
        "algorithm at the same n.",
    ]
    build = _build_line(by_algo)
    if build:
        parts.append(build)
    parts += ["", *_main_table(by_algo, labels), "", "### Scaling", ""]
    parts.append(
        "Exponents: least-squares slope of log(time or energy) on log(n), ± its standard error from the "
        "fit's residuals (none with only two sizes); a size whose rounds were contended by other processes "
        "is flagged, since its inflated figures bend the slope. Values at 10^6 not measured in "
        "this run are **extrapolations**: c·n² (selection sort) or c·n·log2 n (heap sort), c fitted to "
        "the two largest measured sizes."
    )
    parts += ["", *_fit_table(by_algo, labels), ""]
    if _plot(by_algo, labels, out_dir):
        parts += [f"![time and energy against n, log-log]({PLOT_FILE})", ""]
    parts += ["### Python ÷ C, here and in the literature", "", *_comparison_table(by_algo), ""]
    sources = {r.source(p.bench) for series in by_algo.values() for pts in series.values() for p in pts}
    if sources == {"model"}:
        parts.append(
            "Energy here comes from the CPU-time model (estimated, `*`): the process's CPU time × a "
            "per-core power plus a small resident-memory term, so for these single-threaded sorts the energy "
            "ratio mostly restates the CPU-time ratio. The study's heap sort figures were read off RAPL."
        )
    elif sources:
        parts.append(f"Energy sources in this run: {', '.join(sorted(sources))}.")
    finding = _numpy_heapsort_finding(by_algo)
    if finding:
        parts += ["", "### numpy `kind='heapsort'`", "", *finding]
    parts += ["", r.ESTIMATED_LEGEND]
    return "\n".join(parts)

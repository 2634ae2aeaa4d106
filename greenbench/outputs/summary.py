"""The gate's Markdown summary: for a CI job summary and a pull-request comment.

After ``pytest --benchmark-compare`` the plugin renders, per benchmark, the
baseline → current energy per call (the gate's statistic, ``*`` when
estimated), the raw and the host-speed-normalised change, the verdict, the
change of recorded quality figures, and the gate's decision with how many
benchmarks it really decided.  Regressions come first, then inconclusive
changes, improvements and the rest; only the top :data:`TOP_ROWS` rows are
shown open, the others are folded in ``<details>`` so the text stays short
enough for a PR comment (GitHub caps comments at 65,536 characters).

Written to ``$GITHUB_STEP_SUMMARY`` (appended, as GitHub expects) when that
variable is set, and to ``--energy-summary PATH`` on request.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenbench import results as R
from greenbench.io import atomic
from greenbench.units import fmt_si

#: rows shown open before the rest is folded into <details>
TOP_ROWS = 10
#: rows listed at all (a PR comment must stay under GitHub's 65,536 characters)
MAX_ROWS = 300
#: verdict order in the summary: what needs attention first
ORDER = {"regression": 0, "inconclusive": 1, "improved": 2, "ok": 3, "skipped": 4, "refused": 5}
ICON = {"regression": "🔴", "inconclusive": "🟡", "improved": "🟢", "ok": "⚪", "skipped": "➖", "refused": "⛔"}
#: verdicts the gate really decided (the others could not be judged)
DECIDED = frozenset({"regression", "improved", "ok"})


@dataclass(frozen=True, slots=True)
class Row:
    """One benchmark's line of the summary (figures per call, in J)."""

    name: str
    verdict: str
    baseline_j: float
    current_j: float
    raw_change: float
    change: float  # normalised for host speed when probes were recorded (the gate's figure)
    confidence: float
    estimated: bool
    quality: str
    codecarbon: str
    reason: str
    cause: str = ""


def _raw_change(v: Any) -> float:
    raw = getattr(v, "raw_change", None)
    if isinstance(raw, (int, float)) and math.isfinite(raw):
        return float(raw)
    b, c = float(getattr(v, "baseline_j", math.nan)), float(getattr(v, "current_j", math.nan))
    return c / b - 1.0 if b > 0 and math.isfinite(c) else math.nan


def quality_change(baseline: R.Bench | None, current: R.Bench) -> str:
    """``accuracy 0.91 → 0.93`` for each quality figure recorded in both runs (or only now)."""
    now = R.quality(current)
    before = R.quality(baseline) if baseline else {}
    parts = []
    for metric, q in now.items():
        if metric in before and before[metric] != q:
            parts.append(f"{metric} {before[metric]:.4g} → {q:.4g}")
        else:
            parts.append(f"{metric} {q:.4g}")
    return ", ".join(parts)


def rows(verdicts: Sequence[Any], current: Sequence[R.Bench],
         baseline: Mapping[str, R.Bench] | None = None) -> list[Row]:
    """The summary's rows, most urgent first (regressions by size of the increase)."""
    by_name = {str(b.get("fullname")): b for b in current}
    out = []
    for v in verdicts:
        cur = by_name.get(v.name, {})
        base = (baseline or {}).get(v.name)
        est = R.is_estimated(cur) or (bool(base) and R.is_estimated(base or {}))
        out.append(Row(
            name=v.name, verdict=v.verdict, baseline_j=float(v.baseline_j), current_j=float(v.current_j),
            raw_change=_raw_change(v), change=float(v.change), confidence=float(v.confidence),
            estimated=est, quality=quality_change(base, cur) if cur else "",
            codecarbon=fmt_si(R.codecarbon_j(cur), "J") + R.ESTIMATED_MARK if cur and R.codecarbon_j(cur) > 0 else "",
            reason=str(v.reason or ""), cause=str(getattr(v, "cause", "") or ""),
        ))

    def key(r: Row) -> tuple[int, float, str]:
        size = r.change if math.isfinite(r.change) else -math.inf
        return ORDER.get(r.verdict, 9), -size if r.verdict != "improved" else size, r.name

    return sorted(out, key=key)


def is_decided(v: Any) -> bool:
    """The verdict's own ``decided`` when it has one, else regression/improved/ok."""
    decided = getattr(v, "decided", None)
    return bool(decided) if isinstance(decided, bool) else v.verdict in DECIDED


def counts(verdicts: Sequence[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in verdicts:
        out[v.verdict] = out.get(v.verdict, 0) + 1
    return out


def _pct(x: float) -> str:
    return f"{x:+.1%}" if math.isfinite(x) else "-"


def _cell(text: str) -> str:
    from greenbench.io.text import md_text

    return md_text(text)  # issue #21: pipes, backticks, <, > and control bytes from test ids stay text


def _table(rs: Sequence[Row], codecarbon: bool) -> list[str]:
    head = "| | benchmark | baseline → current (J / call) | raw change | normalised change | verdict | quality |"
    sep = "|---|---|---:|---:|---:|---|---|"
    if codecarbon:
        head += " CodeCarbon (J / call) |"
        sep += "---:|"
    lines = [head, sep]
    for r in rs:
        if r.verdict in ("skipped", "refused"):
            energy = "-"
            verdict = f"{r.verdict} ({_cell(r.reason)})" if r.reason else r.verdict
        else:
            energy = (f"{R.mark(fmt_si(r.baseline_j, 'J'), r.estimated)} → "
                      f"{R.mark(fmt_si(r.current_j, 'J'), r.estimated)}")
            verdict = f"**{r.verdict}**" if r.verdict == "regression" else r.verdict
            if r.verdict == "regression":  # issue #23: say what the certainty is about
                verdict += (f" ({_cell(r.cause)})" if r.cause
                            else f" ({r.confidence:.0%} of bootstrap resamples beyond the threshold)")
            elif r.verdict == "inconclusive":  # undecided: a certainty beside it would read as a contradiction
                verdict += f" ({_cell(r.cause or r.reason or 'not decided')})"
            elif r.verdict == "ok" and r.cause:  # an "ok" without the evidence to decide it (issue #21)
                verdict = f"ok, not decided ({_cell(r.cause)})"
        from greenbench.io.text import md_code

        line = (f"| {ICON.get(r.verdict, '')} | {md_code(r.name)} | {energy} | {_pct(r.raw_change)} | "
                f"{_pct(r.change)} | {verdict} | {_cell(r.quality) or '-'} |")
        if codecarbon:
            line += f" {r.codecarbon or '-'} |"
        lines.append(line)
    return drop_empty_columns(lines)


_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def drop_empty_columns(lines: Sequence[str], keep: Sequence[int] = (0, 1)) -> list[str]:
    """A Markdown table without the columns whose every body cell is empty or "-" (``keep``: always kept)."""
    if len(lines) < 3:
        return list(lines)
    rows = [_CELL_SPLIT.split(line)[1:-1] for line in lines]
    width = len(rows[0])
    if any(len(r) != width for r in rows):
        return list(lines)
    empty = [i for i in range(width) if i not in keep and all(r[i].strip() in ("", "-") for r in rows[2:])]
    if not empty:
        return list(lines)
    return ["|" + "|".join(c for i, c in enumerate(r) if i not in empty) + "|" for r in rows]


def decision_line(verdicts: Sequence[Any], rule: Any, refusal: str | None, *, fail_inconclusive: bool = False,
                  notes: Sequence[str] = (), baseline_size: int | None = None) -> str:
    """The headline: the gate's decision and how many benchmarks were really decided."""
    if refusal:
        return f"### ⛔ energy gate refused to compare\n\n{_cell(refusal)}"
    c = counts(verdicts)
    decided = sum(is_decided(v) for v in verdicts)
    n = len(verdicts)
    regressed = c.get("regression", 0)
    from greenbench import gate

    closing = getattr(gate, "summary", None)  # the gate's own closing line, as the terminal prints it
    line, failed = (closing(verdicts, rule, fail_inconclusive, notes=notes, baseline_size=baseline_size)
                    if callable(closing) else ("", bool(regressed and rule is not None)))
    nothing = gate.nothing_compared(verdicts, baseline_size)
    if rule is None:
        head = "### energy compare (informative: no --energy-compare-fail given)"
    elif nothing:
        head = f"### 🔴 energy gate FAILED ({rule}): nothing could be compared"
    elif regressed:
        head = f"### 🔴 energy gate FAILED ({rule}): {regressed} benchmark(s) regressed"
    elif failed:
        head = (f"### 🔴 energy gate FAILED ({rule}, --energy-compare-fail-inconclusive): "
                f"{n - decided} of {n} not decided")
    elif decided < n:
        head = f"### 🟡 energy gate: no regression found ({rule}), {n - decided} of {n} not decided"
    else:
        head = f"### 🟢 energy gate passed ({rule})"
    if line:
        from greenbench.io.text import md_code

        head += f"\n\n{md_code(line, table=False)}"
    parts = [f"{c[k]} {k}" for k in ORDER if c.get(k)]
    undecided_rule = ("inconclusive and skipped ones were not judged; --energy-compare-fail-inconclusive makes "
                      "them fail the gate" if fail_inconclusive and rule is not None
                      else "inconclusive and skipped ones were not judged and never fail the gate")
    return f"{head}\n\n{decided} of {n} benchmarks decided ({', '.join(parts) or 'none'}); {undecided_rule}."


def render(verdicts: Sequence[Any], current: Sequence[R.Bench], baseline: Mapping[str, R.Bench] | None = None,
           *, rule: Any = None, refusal: str | None = None, meter: str | None = None, top: int = TOP_ROWS,
           fail_inconclusive: bool = False, gate_notes: Sequence[str] = (), baseline_size: int | None = None,
           provenance: Sequence[str] = ()) -> str:
    """The Markdown summary (a PR comment or a job summary); ``provenance``: its first lines."""
    md = ["## greenbench energy", "", *[f"{line}  " for line in provenance], *([""] if provenance else []),
          decision_line(verdicts, rule, refusal, fail_inconclusive=fail_inconclusive, notes=gate_notes,
                        baseline_size=baseline_size), ""]
    rs = rows(verdicts, current, baseline)
    if rs:
        codecarbon = any(r.codecarbon for r in rs)
        listed = rs[:MAX_ROWS]
        urgent = [r for r in listed if r.verdict in ("regression", "inconclusive")]
        shown = listed[:max(top, min(len(urgent), top))]
        rest = listed[len(shown):]
        md += _table(shown, codecarbon)
        if rest:
            md += ["", f"<details><summary>{len(rest)} more benchmark(s)</summary>", ""]
            md += _table(rest, codecarbon)
            md += ["", "</details>"]
        if len(rs) > MAX_ROWS:
            md += ["", f"_{len(rs) - MAX_ROWS} more not listed (see the run's JSON)._"]
        md.append("")
    from greenbench.gate.explain import markdown_section  # issue #24: where each regression's energy moved

    md += markdown_section(verdicts)
    stat = getattr(rule, "field", "min")
    notes = [f"Energy per call: the gate's statistic (`{stat}` {rounds_used(current, baseline)})."
             " Raw change: current ÷ baseline; normalised: divided by the host-speed probe ratio (the gate's figure)."]
    if any(r.estimated for r in rs):
        notes.append(R.ESTIMATED_LEGEND.replace("`*`", "`*` =") + ".")
    if meter:
        notes.append(f"Meter: {_cell(meter)}.")
    md += [" ".join(notes), ""]
    return "\n".join(md)


def render_session(es: Any, baseline: Mapping[str, R.Bench] | None = None) -> str:
    """The summary of a finished :class:`greenbench.plugin.session.EnergySession`."""
    output = es.output or {}
    meter = ((output.get("machine_info") or {}).get("greenbench") or {}).get("meter") or {}
    label = f"{meter.get('source', '?')} ({'estimated' if meter.get('estimated', True) else 'hardware counter'})"
    return render(es.verdicts, output.get("benchmarks", []), baseline, rule=es.rule, refusal=es.refusal,
                  meter=label if meter else None, fail_inconclusive=bool(getattr(es, "fail_inconclusive", False)),
                  gate_notes=getattr(es, "gate_notes", ()), baseline_size=getattr(es, "gate_baseline_size", None),
                  provenance=provenance(output))


def _short(commit: Any) -> str:
    return str(commit)[:12] if commit else "?"


def compared(output: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a run compared, as text: baseline, current, machine, meter, report link (issue #23).

    Keys: ``baseline`` (run, commit, date), ``current`` (commit, branch, date), ``machine``, ``meter``
    (with the CodeCarbon side-by-side setting) and ``report`` (a URL: ``$GREENBENCH_REPORT_URL`` when the
    workflow gives one, else the GitHub Actions run page that holds its artefacts); missing ones left out.
    """
    env = os.environ if environ is None else environ
    def part(doc: Any, key: str) -> Mapping[str, Any]:
        value = doc.get(key) if isinstance(doc, Mapping) else None
        return value if isinstance(value, Mapping) else {}

    gb_file, mi, ci = part(output, "greenbench"), part(output, "machine_info"), part(output, "commit_info")
    gb = part(mi, "greenbench")
    out: dict[str, str] = {}
    base = part(gb_file, "baseline")
    if base:
        bits = [f"run {base['run']}" if base.get("run") else "", f"commit {_short(base.get('commit'))}",
                f"branch {base['branch']}" if base.get("branch") else "", str(base.get("date") or "")]
        if base.get("machine") and base.get("machine") != mi.get("node"):
            bits.append(f"machine {base['machine']}")
        out["baseline"] = ", ".join(b for b in bits if b)
    cur = [f"commit {_short(ci.get('id'))}" + (" (dirty)" if ci.get("dirty") else ""),
           f"branch {ci['branch']}" if ci.get("branch") else "", str(output.get("datetime") or "")]
    out["current"] = ", ".join(b for b in cur if b)
    cpu = part(mi, "cpu").get("brand_raw")
    out["machine"] = ", ".join(str(x) for x in (mi.get("node"), cpu or mi.get("processor"), mi.get("system")) if x) \
        or "?"
    meter = part(gb, "meter")
    if meter:
        cc = part(gb, "codecarbon")
        out["meter"] = (f"{meter.get('source', '?')} ("
                        + ("estimated" if meter.get("estimated", True) else "hardware counter") + ")"
                        + ("; CodeCarbon side by side on" if cc.get("on") else ""))
    url = env.get("GREENBENCH_REPORT_URL")
    if not url and env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        url = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    if url and url.startswith(("https://", "http://")):
        out["report"] = url
    return out


def provenance(output: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> list[str]:
    """The summary's first lines: baseline, current, machine, meter and the HTML report's link."""
    from greenbench.io.text import md_text

    c = compared(output, environ)
    lines = [f"**baseline:** {md_text(c.get('baseline', 'none recorded'))}",
             f"**current:** {md_text(c['current'])}",
             f"**machine:** {md_text(c['machine'])}"]
    if "meter" in c:
        lines.append(f"**meter:** {md_text(c['meter'])}")
    if "report" in c:
        label = "HTML report" if "GREENBENCH_REPORT_URL" in (environ if environ is not None else os.environ) \
            else "this run's artefacts (HTML report)"
        lines.append(f"**report:** [{label}](<{c['report'].replace('>', '%3E')}>)")
    return lines


def rounds_used(current: Sequence[R.Bench], baseline: Mapping[str, R.Bench] | None = None) -> str:
    """How the statistic's rounds were chosen, truthfully: over clean rounds only when some run had enough."""
    from greenbench import gate

    flags = []
    for b in [*current, *(baseline or {}).values()]:
        block = R.energy(b) if isinstance(b, Mapping) else None
        if block:
            try:
                flags.append(gate.run_of(block).clean)
            except gate.Corrupt:
                continue
    if flags and all(flags):
        return "over clean rounds"
    if flags and not any(flags):
        return "over all rounds: no run had enough clean rounds (the machine was busy)"
    return "over clean rounds where a run had at least 3, else over all its rounds"


def write(text: str, path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> list[Path]:
    """Write the summary to ``path`` (atomically) and append it to ``$GITHUB_STEP_SUMMARY`` when set."""
    env = os.environ if environ is None else environ
    written: list[Path] = []
    if path:
        written.append(atomic.write_text(path, text))
    step = env.get("GITHUB_STEP_SUMMARY")
    if step:
        # GitHub hands each step its own file and reads what the step appended
        with open(step, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")
        written.append(Path(step))
    return written


def write_session(es: Any, path: str | Path | None, baseline: Mapping[str, R.Bench] | None = None) -> list[Path]:
    """After a compare: render the session's summary and write it where asked (see :func:`write`)."""
    if not (es.verdicts or es.refusal):
        return []
    return write(render_session(es, baseline), path)

"""The energy table printed after a run, the gate's verdicts and warnings."""

from __future__ import annotations

import contextlib
import io
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from greenbench import results as R
from greenbench.gate import GateRule
from greenbench.meters.sidebyside import hidden_reason
from greenbench.plugin.session import EnergySession

VERDICT_STYLE = {"regression": "bold red", "inconclusive": "yellow", "improved": "green", "ok": "", "skipped": "dim"}


def quality_text(b: R.Bench) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in R.quality(b).items()) or "-"


#: columns left out first, in this order, when the table does not fit the terminal (issue #23; the JSON,
#: the report and index.html keep them all)
DROP_ORDER = ("power", "meter", "CO2e", "quality", "time", "CodeCarbon")
#: most lines a test id may be folded onto before columns are dropped
MAX_ID_LINES = 2


def _cell_width(cell: Any) -> int:
    text = cell if isinstance(cell, Text) else Text(str(cell))
    return max((len(line) for line in text.plain.splitlines()), default=0)


def energy_table(es: EnergySession, benchmarks: list[dict[str, Any]], width: int | None = None) -> Table:
    """The energy table; with ``width`` (the console's), optional columns are left out (:data:`DROP_ORDER`)
    before a test id would fold onto more than :data:`MAX_ID_LINES` lines, and the caption names them."""
    verdicts = {v.name: v for v in es.verdicts}
    codecarbon = any(R.codecarbon_j(b) > 0 for b in benchmarks)
    columns: list[tuple[str, str]] = [("benchmark", "left"), ("time", "right"), ("energy", "right"),
                                      ("power", "right"), ("CO2e", "right"), ("quality", "left"), ("meter", "left")]
    if codecarbon:
        columns.append(("CodeCarbon", "right"))
    if verdicts:
        columns += [("Δ energy", "right"), ("verdict", "left")]
    rows: list[list[Any]] = []
    for b in benchmarks:
        if not R.has_energy(b):
            continue
        est = R.is_estimated(b)
        row: list[Any] = [
            Text(str(b.get("name"))),
            R.fmt_si(R.time_s(b), "s"),
            R.mark(R.fmt_si(R.energy_j(b), "J"), est),
            R.mark(R.fmt_si(R.power_w(b), "W"), est),
            R.mark(R.fmt_si(R.co2e_g(b), "g"), est),
            Text(quality_text(b)),  # user-chosen keys: text, never markup
            Text(str(R.source(b))),
        ]
        if codecarbon:
            row.append(R.mark(R.fmt_si(R.codecarbon_j(b), "J"), True))
        if verdicts:
            v = verdicts.get(str(b.get("fullname")))
            if v is None or v.verdict == "skipped":
                row += ["-", Text(v.reason if v else "not compared", style="dim")]
            else:
                style = VERDICT_STYLE.get(v.verdict, "")
                row += [f"{v.change:+.1%}", Text(v.verdict, style=style)]
        rows.append(row)
    keep = list(range(len(columns)))
    dropped: list[str] = []
    if width:
        natural = [max([len(name), *(_cell_width(r[i]) for r in rows)]) for i, (name, _) in enumerate(columns)]
        id_need = max(len("benchmark"), -(-natural[0] // MAX_ID_LINES))

        def fits() -> bool:
            return id_need + sum(natural[i] for i in keep[1:]) + 3 * len(keep) + 1 <= width

        for name in DROP_ORDER:
            if fits():
                break
            index = next((i for i, (n, _) in enumerate(columns) if n == name), None)
            if index is not None and index in keep:
                keep.remove(index)
                dropped.append(name)
    table = Table(title="greenbench: energy per call (median over rounds)", title_justify="left",
                  caption=(f"left out to fit {width} columns: {', '.join(dropped)} (all in the JSON and the "
                           "report)") if dropped else None, caption_justify="left")
    for i in keep:
        name, justify = columns[i]
        # test ids are shown whole and literally (never markup, never cut): they are what users grep for
        table.add_column(name, justify=justify, overflow="fold", no_wrap=False,  # type: ignore[arg-type]
                         min_width=len(name) if i else None)
    for row in rows:
        table.add_row(*[row[i] for i in keep])
    return table


def summary(es: EnergySession, config: Any, tr: Any) -> None:
    output = es.output
    if not output:
        return
    benchmarks = [b for b in output["benchmarks"] if R.has_energy(b)]
    if not benchmarks:
        return
    buf = io.StringIO()
    console = Console(file=buf, width=max(100, getattr(tr._tw, "fullwidth", 120)), force_terminal=tr.hasmarkup,
                      color_system="standard" if tr.hasmarkup else None, highlight=False, soft_wrap=True)
    console.print(energy_table(es, benchmarks, width=console.width), soft_wrap=False)
    first = benchmarks[0]
    intensity = R.energy(first) or {}
    label = f"CO2e at {intensity.get('intensity_label', '?')}."
    console.print(Text(f"{label}  {R.ESTIMATED_LEGEND}" if any(R.is_estimated(b) for b in benchmarks) else label))
    warned = [(b["name"], w) for b in benchmarks for w in (R.energy(b) or {}).get("warnings", [])]
    # --energy-codecarbon (issue #23): say why a benchmark shows no CodeCarbon figure
    warned += [(b["name"], f"no CodeCarbon figure: {why}") for b in benchmarks if (why := hidden_reason(b))]
    for line in warning_lines(warned):
        console.print(Text.assemble(("warning", "yellow"), " ", line))
    if es.refusal:
        console.print(Text(str(es.refusal), style="bold red"))  # names ids and paths: text, never markup
    elif es.verdicts:
        # gate #17/#13: verdict lines carry full test ids printed literally (Text, never markup: `[/tmp]`);
        # "passed" only when every compared benchmark was decided (greenbench.gate.summary)
        from greenbench.gate import summary as gate_summary

        rule = es.rule
        shown = rule or GateRule.parse("10%")
        for v in es.verdicts:
            if v.verdict != "ok" or v.cause:  # an "ok" the gate could not decide says why
                console.print(Text(v.line(shown), style=VERDICT_STYLE.get(v.verdict, "")))
                from greenbench.gate.explain import terminal_lines  # issue #24: where the energy moved

                for line in terminal_lines(v):
                    console.print(Text(f"    {line}"))
        text, failed = gate_summary(es.verdicts, rule, getattr(es, "fail_inconclusive", False),
                                    notes=getattr(es, "gate_notes", ()),
                                    baseline_size=getattr(es, "gate_baseline_size", None))
        style = "bold red" if failed else "green" if text.startswith("energy gate passed") else "yellow"
        console.print(Text(text, style=style if rule is not None else ""))
    if es.report_error:
        console.print(Text(f"report: {es.report_error}", style="bold red"))
    if es.report_path:
        console.print(Text(f"report written to {es.report_path}"))
    tr.write_sep("-", "greenbench energy")
    tr.write(buf.getvalue())


def warning_lines(warned: list[tuple[str, str]], most: int = 20) -> list[str]:
    """Warnings to print: near-identical ones (same text once the numbers are taken out) become one line."""
    import re

    kinds: dict[str, list[tuple[str, str]]] = {}
    for name, w in warned:
        kinds.setdefault(re.sub(r"[0-9][0-9.,]*", "N", w), []).append((name, w))
    lines: list[str] = []
    for items in kinds.values():
        if len(items) >= 3:
            others = ", ".join(n for n, _ in items[1:4]) + (f" and {len(items) - 4} more" if len(items) > 4 else "")
            lines.append(f"{len(items)} benchmarks warned alike, e.g. {items[0][0]}: {items[0][1]} (also {others})")
        else:
            lines.extend(f"{n}: {w}" for n, w in items)
    if len(lines) > most:
        lines = [*lines[:most], f"... {len(lines) - most} more warnings in the JSON (extra_info.energy.warnings)"]
    return lines


def write_section(config: Any, title: str, lines: list[str]) -> None:
    """Print ``lines`` under a section heading, even from a fixture's teardown.

    Benchmarks that measure ratios side by side print them this way: module
    teardown runs under output capture, so capture is lifted for the write.
    """
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if not lines or reporter is None:
        return
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        reporter.ensure_newline()
        reporter.section(title, sep="-")
        for line in lines:
            reporter.write_line(line)

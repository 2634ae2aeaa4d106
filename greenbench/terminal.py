"""The energy table printed after a run, the gate's verdicts and warnings."""

from __future__ import annotations

import contextlib
import io
from typing import Any

from rich.console import Console
from rich.table import Table

from greenbench import results as R
from greenbench.gate import GateRule
from greenbench.session import EnergySession

VERDICT_STYLE = {"regression": "bold red", "inconclusive": "yellow", "improved": "green", "ok": "", "skipped": "dim"}


def quality_text(b: R.Bench) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in R.quality(b).items()) or "-"


def energy_table(es: EnergySession, benchmarks: list[dict[str, Any]]) -> Table:
    verdicts = {v.name: v for v in es.verdicts}
    table = Table(title="greenbench: energy per call (median over rounds)", title_justify="left")
    for col, justify in (("benchmark", "left"), ("time", "right"), ("energy", "right"), ("power", "right"),
                         ("CO2e", "right"), ("quality", "left"), ("meter", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    if verdicts:
        table.add_column("Δ energy", justify="right")
        table.add_column("verdict")
    for b in benchmarks:
        if not R.has_energy(b):
            continue
        est = R.is_estimated(b)
        row = [
            str(b.get("name")),
            R.fmt_si(R.time_s(b), "s"),
            R.mark(R.fmt_si(R.energy_j(b), "J"), est),
            R.mark(R.fmt_si(R.power_w(b), "W"), est),
            R.mark(R.fmt_si(R.co2e_g(b), "g"), est),
            quality_text(b),
            R.source(b),
        ]
        if verdicts:
            v = verdicts.get(str(b.get("fullname")))
            if v is None or v.verdict == "skipped":
                row += ["-", f"[dim]{v.reason if v else 'not compared'}[/]"]
            else:
                style = VERDICT_STYLE.get(v.verdict, "")
                row += [f"{v.change:+.1%}", f"[{style}]{v.verdict}[/]" if style else v.verdict]
        table.add_row(*row)
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
    console.print(energy_table(es, benchmarks), soft_wrap=False)
    first = benchmarks[0]
    intensity = R.energy(first) or {}
    console.print(f"CO2e at {intensity.get('intensity_label', '?')}.  {R.ESTIMATED_LEGEND}"
                  if any(R.is_estimated(b) for b in benchmarks) else f"CO2e at {intensity.get('intensity_label')}.")
    warned = [(b["name"], w) for b in benchmarks for w in (R.energy(b) or {}).get("warnings", [])]
    for name, w in warned[:20]:
        console.print(f"[yellow]warning[/] {name}: {w}")
    if len(warned) > 20:
        console.print(f"[yellow]... {len(warned) - 20} more warnings in the JSON (extra_info.energy.warnings)[/]")
    if es.refusal:
        console.print(f"[bold red]{es.refusal}[/]")
    elif es.verdicts:
        rule = es.rule
        shown = rule or GateRule.parse("10%")
        failed = [v for v in es.verdicts if v.failed]
        for v in es.verdicts:
            if v.verdict != "ok":
                console.print(f"[{VERDICT_STYLE[v.verdict]}]{v.line(shown)}[/]")
        if rule is None:
            console.print("energy compare: informative only (add --energy-compare-fail=10% to gate on it)")
        elif failed:
            console.print(f"[bold red]energy gate FAILED ({rule}): {len(failed)} benchmark(s) regressed[/]")
        else:
            console.print(f"[green]energy gate passed ({rule})[/]")
    if es.report_error:
        console.print(f"[bold red]report: {es.report_error}[/]")
    if es.report_path:
        console.print(f"report written to {es.report_path}")
    tr.write_sep("-", "greenbench energy")
    tr.write(buf.getvalue())


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

"""Export a run's energy into formats that dashboards teams already run read.

``greenbench export FORMAT RESULTS.json [--out FILE]`` with FORMAT:

``bencher``
    Bencher Metric Format (BMF) JSON for ``bencher run --adapter json``:
    ``{benchmark_name: {measure_slug: {"value": v, "lower_value": lo, "upper_value": hi}}}``.
    Measures: ``energy`` (J per call, median; bounds = min/max over rounds),
    ``co2e`` (gCO2e per call) -- create both first, ``greenbench export
    bencher-measures`` prints the ``bencher measure create`` lines -- and
    Bencher's built-in ``latency`` as its pytest adapter writes it (mean +-
    stddev, ns; ``--no-latency`` leaves it out).  Checked against Bencher's
    published BMF JSON Schema (https://bencher.dev/bmf.json).
``github-action-benchmark``
    github-action-benchmark's ``customSmallerIsBetter`` input: a JSON list of
    ``{"name", "unit", "value", "range"?, "extra"?}`` (``range`` and ``extra``
    are strings), one ``<name> energy`` entry per benchmark holding the energy
    gate's statistic (min over clean rounds by default) in a human unit
    (``mJ``, ``uJ``; kept per benchmark with ``--units-from`` a previous
    export); ``--baseline`` runs the gate and puts its verdict in ``extra``
    (``--undecided skip`` drops undecided benchmarks); ``--co2e`` adds
    ``<name> CO2e`` entries.  Checked by the action's own ``src/extract.ts``.
``codecarbon``
    rows of CodeCarbon's ``emissions.csv`` (its column set, the fields of
    ``codecarbon.output_methods.emissions_data.EmissionsData``, in order),
    one per benchmark, for CodeCarbon's ``carbonboard`` dashboard or any reader
    of that CSV.  Units as CodeCarbon's: energy in kWh, emissions in kg, power
    in W, per call of the benchmarked function; ``cpu + gpu + ram`` energy is
    ``energy_consumed``; country from ``--carbon-region`` (``--country``
    overrides; World for the default intensity); ``--project-name``.

Every figure is per call of the benchmarked function and, when it was not
read off a hardware counter, flagged estimated (in ``extra`` / the name of
the meter); the exports never hide that.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import platform
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from greenbench import gate
from greenbench import results as R
from greenbench.errors import GreenbenchError
from greenbench.io import atomic
from greenbench.units import j_to_kwh

#: CodeCarbon's emissions.csv columns (codecarbon 3.x EmissionsData fields, in order)
CODECARBON_COLUMNS = (
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions", "emissions_rate",
    "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed",
    "water_consumed", "country_name", "country_iso_code", "region", "cloud_provider", "cloud_region", "os",
    "python_version", "codecarbon_version", "cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude",
    "latitude", "ram_total_size", "tracking_mode", "cpu_utilization_percent", "gpu_utilization_percent",
    "ram_utilization_percent", "ram_used_gb", "on_cloud", "pue", "wue",
)


def _entries(output: Mapping[str, Any]) -> list[R.Bench]:
    return [b for b in output.get("benchmarks", []) if R.has_energy(b)]


def _name(b: R.Bench) -> str:
    return str(b.get("fullname") or b.get("name"))


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


#: github-action-benchmark units: SI prefixes of the joule (and of the gram for CO2e), largest first
_PREFIXES = (("", 1.0), ("m", 1e-3), ("u", 1e-6), ("n", 1e-9), ("p", 1e-12))


def human_unit(value: float, base: str) -> tuple[str, float]:
    """The unit (``mJ``, ``uJ``, ...) that shows ``value`` (in ``base`` units) as 1-999, and its scale."""
    for prefix, scale in _PREFIXES:
        if abs(value) >= scale:
            return prefix + base, scale
    return _PREFIXES[-1][0] + base, _PREFIXES[-1][1]


def _scale_of(unit: str, base: str) -> float | None:
    for prefix, scale in _PREFIXES:
        if unit == prefix + base:
            return scale
    return None


def bencher(output: Mapping[str, Any], *, latency: bool = True) -> dict[str, dict[str, dict[str, float]]]:
    """Bencher Metric Format: ``{name: {slug: {value, lower_value?, upper_value?}}}``.

    ``energy`` (J per call: median, bounds min/max over rounds) and ``co2e`` (g per call) are not
    Bencher's built-in measures: create them first (:func:`bencher_measures`).  ``latency`` follows
    Bencher's own pytest adapter (``bencher run --adapter python_pytest``, lib/bencher_adapter
    python/pytest.rs): keyed by ``fullname``, mean +- stddev in ns, so a project that also feeds
    pytest-benchmark's JSON to Bencher gets one latency series per benchmark; ``latency=False`` leaves it out.
    """
    out: dict[str, dict[str, dict[str, float]]] = {}
    for b in _entries(output):
        measures: dict[str, dict[str, float]] = {}
        e = R.energy_j(b)
        if _finite(e):
            m = {"value": e}
            lo, hi = R.energy_j(b, "min"), R.energy_j(b, "max")
            if _finite(lo) and _finite(hi) and lo <= e <= hi:
                m |= {"lower_value": lo, "upper_value": hi}
            measures["energy"] = m
        if _finite(R.co2e_g(b)):
            measures["co2e"] = {"value": R.co2e_g(b)}
        mean, sd = R.time_s(b, "mean"), R.time_s(b, "stddev")
        if latency and _finite(mean):
            lat = {"value": mean * 1e9}
            if _finite(sd):
                lat |= {"lower_value": (mean - sd) * 1e9, "upper_value": (mean + sd) * 1e9}
            measures["latency"] = lat
        if measures:
            out[_name(b)] = measures
    return out


#: the measures greenbench's BMF uses that Bencher does not have built in: (slug, name, units)
BENCHER_MEASURES = (("energy", "Energy", "joules per call (J)"), ("co2e", "CO2e", "grams CO2e per call (g)"))


def bencher_measures(project: str = "$BENCHER_PROJECT") -> str:
    """Shell lines creating greenbench's measures in a Bencher project (once, before the first ``bencher run``).

    Without them Bencher creates measures named after their slug with placeholder units.
    """
    lines = ["# create greenbench's measures once per Bencher project (bencher CLI, `bencher measure create`)"]
    for slug, name, units in BENCHER_MEASURES:
        lines.append(f'bencher measure create "{project}" --name "{name}" --slug {slug} --units "{units}"')
    return "\n".join(lines) + "\n"


def _gate_verdicts(output: Mapping[str, Any], baseline: Mapping[str, Any] | None,
                   rule: gate.GateRule) -> tuple[dict[str, gate.Verdict], str | None]:
    """The energy gate's verdict per benchmark against ``baseline`` (a saved run), or why it refused."""
    if baseline is None:
        return {}, None
    from greenbench.plugin.session import setup_change

    base_mi, cur_mi = baseline.get("machine_info") or {}, output.get("machine_info") or {}
    base_meter, cur_meter = gate.meter_of(base_mi), gate.meter_of(cur_mi)
    if base_meter and cur_meter and base_meter != cur_meter:
        return {}, f"baseline measured by {base_meter}, this run by {cur_meter}"
    from greenbench.plugin.session import codecarbon_on

    setup = setup_change(base_mi, bool(codecarbon_on(cur_mi)), baseline.get("benchmarks") or [])
    if setup:
        return {}, setup
    by_name = {str(e.get("fullname")): e for e in baseline.get("benchmarks") or [] if isinstance(e, Mapping)}
    return {_name(b): gate.compare_entries(by_name.get(_name(b)), b, rule) for b in _entries(output)}, None


def github_action_benchmark(output: Mapping[str, Any], *, co2e: bool = False,
                            baseline: Mapping[str, Any] | None = None, rule: gate.GateRule | None = None,
                            undecided: str = "flag",
                            units_from: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """github-action-benchmark ``customSmallerIsBetter``: ``[{name, unit, value, range?, extra}]``.

    ``value`` is the energy gate's statistic (``rule.field``, the minimum by default) over the clean
    rounds -- the figure the gate decides on, not the median the action would otherwise alert on --
    in a human unit (``mJ``, ``uJ``) per benchmark: the one it had in ``units_from`` (a previous
    export: the action does not convert J prefixes between runs), else the one showing it as 1-999.
    With ``baseline`` (a saved run) each entry's ``extra`` carries the gate's verdict; ``undecided``
    ``"skip"`` leaves out benchmarks the gate could not decide (so the action does not alert on what
    the gate called noise), ``"flag"`` keeps them with the reason.  ``co2e``: add ``<name> CO2e`` entries.
    """
    rule = rule or gate.GateRule.parse("10%")
    if undecided not in ("flag", "skip"):
        raise GreenbenchError(f"--undecided: expected 'flag' or 'skip', got {undecided!r}")
    fixed = {str(i.get("name")): str(i.get("unit")) for i in units_from if isinstance(i, Mapping)}
    verdicts, refused = _gate_verdicts(output, baseline, rule)
    out: list[dict[str, Any]] = []
    for b in _entries(output):
        name = _name(b)
        try:
            run = gate.run_of(R.energy(b))
        except gate.Corrupt as exc:
            raise GreenbenchError(f"{name}: energy block unusable ({exc})") from None
        value = run.stats[rule.field]
        if not _finite(value):
            continue
        rounds = (f"{rule.field} over {run.n} clean rounds" if run.clean
                  else f"{rule.field} over all {run.n} rounds (fewer than {gate.MIN_ROUNDS} were clean)")
        lines = [f"statistic: {rounds}",
                 f"meter: {R.source(b)}" + (" (estimated)" if R.is_estimated(b) else " (hardware counter)")]
        v = verdicts.get(name)
        if refused:
            lines.append(f"energy gate: not compared ({refused})")
        elif v is not None:
            if not v.decided:
                if undecided == "skip":
                    continue
                why = v.cause or v.reason
                lines.append(f"energy gate: undecided ({v.verdict}: {why}); not a regression")
            else:
                lines.append(f"energy gate: {v.verdict} ({v.change:+.1%}, {rule})")
        elif baseline is None:
            lines.append("energy gate: not run (export without --baseline)")
        energy_name = f"{name} energy"
        unit = fixed.get(energy_name, "")
        scale = _scale_of(unit, "J")
        if scale is None:
            unit, scale = human_unit(value, "J")
        item: dict[str, Any] = {"name": energy_name, "unit": unit, "value": float(f"{value / scale:.6g}")}
        sd = R.energy_j(b, "stddev")
        if _finite(sd):
            item["range"] = f"± {sd / scale:.4g}"
        item["extra"] = "\n".join(lines)
        out.append(item)
        if co2e:
            c = gate_co2e_g(value, b)
            if _finite(c):
                label = (R.energy(b) or {}).get("intensity_label", "")
                cname = f"{name} CO2e"
                cunit = fixed.get(cname, "")
                cscale = _scale_of(cunit, "gCO2e")
                if cscale is None:
                    cunit, cscale = human_unit(c, "gCO2e")
                out.append({"name": cname, "unit": cunit, "value": float(f"{c / cscale:.6g}"),
                            "extra": "\n".join([*lines, f"intensity: {label}"])})
    return out


def gate_co2e_g(energy_j: float, b: R.Bench) -> float:
    """gCO2e of ``energy_j`` at the benchmark's recorded intensity."""
    from greenbench.units import co2e_g

    g_per_kwh: Any = (R.energy(b) or {}).get("intensity_g_per_kwh")
    return co2e_g(energy_j, float(g_per_kwh)) if _finite(g_per_kwh) else math.nan


#: version of CodeCarbon whose ``emissions.csv`` columns (``EmissionsData``) the export writes
CODECARBON_COLUMNS_VERSION = "3.3.2"


def _country(output: Mapping[str, Any], override: str | None = None) -> tuple[str, str, str]:
    """(ISO 3166-1 alpha-3 code, country name, region) for CodeCarbon's columns.

    From ``override`` (``--country``), else the run's ``--carbon-region`` (machine_info), else the
    intensity label's region; the default world-average intensity gives ``WLD``/``World``.
    """
    from greenbench.datasets import dataset, read_csv

    rows = read_csv(dataset("owid_ember_2023").path)
    by_code = {r["iso_a3"].upper(): r for r in rows} | {r["iso_a2"].upper(): r for r in rows if r["iso_a2"]}
    gb = (output.get("machine_info") or {}).get("greenbench") or {}
    code = override or gb.get("carbon_region")
    if not code:
        label = str(gb.get("intensity_label") or "")
        first = label.split(" ", 1)[0].upper()
        code = first if first in by_code or "-" in first else None
    if not code or str(code).upper() in ("WORLD", "GLOBAL"):
        if override and str(override).upper() not in ("WORLD", "GLOBAL"):
            raise GreenbenchError(f"--country: unknown country code {override!r}; expected ISO 3166 like FR or FRA")
        return "WLD", "World", ""
    key = str(code).upper()
    country = key.split("-", 1)[0]
    row = by_code.get(country)
    if row is None or row["iso_a3"].startswith("OWID"):
        if override:
            raise GreenbenchError(f"--country: unknown country code {override!r}; expected ISO 3166 like FR or FRA")
        return "WLD", "World", key
    return row["iso_a3"], row["entity"], key if "-" in key else ""


def codecarbon_rows(output: Mapping[str, Any], project_name: str = "greenbench",
                    country: str | None = None) -> list[dict[str, Any]]:
    """One CodeCarbon ``emissions.csv`` row per benchmark (per call of the function).

    ``energy_consumed`` is the median energy per call and ``cpu_energy + gpu_energy + ram_energy``
    equals it (the meter's domains split it in their proportions); ``emissions`` follows from it and
    the run's intensity.  ``codecarbon_version`` is the CodeCarbon version whose columns these are;
    greenbench's note (meter, estimated) goes in ``experiment_id`` beside the test id.
    """
    mi = output.get("machine_info") or {}
    run_id = str((output.get("commit_info") or {}).get("id") or "unknown")
    cpu = (mi.get("cpu") or {}).get("brand_raw") or mi.get("processor") or ""
    iso, cname, region = _country(output, country)
    rows = []
    for b in _entries(output):
        e_j = R.energy_j(b)
        rec = R.energy(b) or {}
        domains = {str(k): float(v) for k, v in (rec.get("domains_j") or {}).items() if _finite(v) and v >= 0}
        duration = R.time_s(b)
        kg = R.co2e_g(b) / 1000.0
        parts = {"cpu": 0.0, "ram": 0.0, "gpu": 0.0}
        for k, v in domains.items():
            parts["ram" if k.startswith(("dram", "memory")) else "gpu" if k.startswith("gpu") else "cpu"] += v
        total = sum(parts.values())
        # the domains are totals over the rounds / calls (a mean); split the median in their proportions
        split = {k: e_j * v / total for k, v in parts.items()} if total > 0 else {"cpu": e_j, "ram": 0.0, "gpu": 0.0}
        split["cpu"] = e_j - split["ram"] - split["gpu"]  # the sum is exact, not off by rounding

        def power(j: float, duration: float = duration) -> float:
            return j / duration if duration > 0 else 0.0

        note = f"greenbench {R.source(b)} meter" + (", estimated" if R.is_estimated(b) else ", hardware counter")
        rows.append({
            "timestamp": output.get("datetime", ""),
            "project_name": project_name,
            "run_id": run_id,
            "experiment_id": f"{_name(b)} ({note})",
            "duration": duration,
            "emissions": kg,
            "emissions_rate": kg / duration if duration > 0 else 0.0,
            "cpu_power": power(split["cpu"]), "gpu_power": power(split["gpu"]), "ram_power": power(split["ram"]),
            "cpu_energy": j_to_kwh(split["cpu"]), "gpu_energy": j_to_kwh(split["gpu"]),
            "ram_energy": j_to_kwh(split["ram"]),
            "energy_consumed": j_to_kwh(split["cpu"]) + j_to_kwh(split["gpu"]) + j_to_kwh(split["ram"]),
            "water_consumed": 0.0,
            "country_name": cname, "country_iso_code": iso, "region": region,
            "cloud_provider": "", "cloud_region": "",
            "os": f"{mi.get('system', platform.system())}",
            "python_version": mi.get("python_version", platform.python_version()),
            "codecarbon_version": CODECARBON_COLUMNS_VERSION,
            "cpu_count": float((mi.get("cpu") or {}).get("count") or 0),
            "cpu_model": cpu,
            "gpu_count": 0.0, "gpu_model": "",
            "longitude": math.nan, "latitude": math.nan,
            "ram_total_size": 0.0,
            "tracking_mode": "process" if R.source(b).startswith("model") else "machine",
            "cpu_utilization_percent": 0.0, "gpu_utilization_percent": 0.0, "ram_utilization_percent": 0.0,
            "ram_used_gb": 0.0, "on_cloud": "N", "pue": 1.0, "wue": 0.0,
        })
    return rows


def codecarbon_csv(output: Mapping[str, Any], project_name: str = "greenbench", country: str | None = None) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CODECARBON_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in codecarbon_rows(output, project_name, country):
        writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
    return buf.getvalue()


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


FORMATS = ("bencher", "bencher-measures", "github-action-benchmark", "codecarbon")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``greenbench export``'s arguments (also used by ``greenbench --help``'s subparser)."""
    parser.add_argument("format", choices=FORMATS, help="output format")
    parser.add_argument("results", nargs="?", default=None,
                        help="a pytest-benchmark JSON file with greenbench energy (not for bencher-measures)")
    parser.add_argument("--out", default=None, help="output file (default: stdout)")
    parser.add_argument("--project-name", default="greenbench", help="codecarbon: the project_name column")
    parser.add_argument("--country", default=None, metavar="ISO",
                        help="codecarbon: country of the figures (default: the run's --carbon-region, else World)")
    parser.add_argument("--no-latency", action="store_true",
                        help="bencher: leave latency out (e.g. when pytest-benchmark's JSON feeds Bencher too)")
    parser.add_argument("--project", default="$BENCHER_PROJECT", help="bencher-measures: the Bencher project slug")
    parser.add_argument("--baseline", default=None, metavar="JSON",
                        help="github-action-benchmark: a saved run to gate against; each entry's extra "
                             "carries the energy gate's verdict")
    parser.add_argument("--rule", default="10%", help="github-action-benchmark: the gate rule (default 10%%)")
    parser.add_argument("--undecided", choices=("flag", "skip"), default="flag",
                        help="github-action-benchmark with --baseline: keep benchmarks the gate could not "
                             "decide, flagged in extra (default), or leave them out")
    parser.add_argument("--co2e", action="store_true", help="github-action-benchmark: add a CO2e entry per benchmark")
    parser.add_argument("--units-from", default=None, metavar="JSON",
                        help="github-action-benchmark: a previous export whose units to keep per benchmark")


def render(args: argparse.Namespace) -> str:
    if args.format == "bencher-measures":
        return bencher_measures(args.project)
    if args.results is None:
        raise GreenbenchError(f"greenbench export {args.format}: RESULTS (a pytest-benchmark JSON file) is required")
    output = R.load(args.results)
    if not _entries(output):
        raise GreenbenchError(f"{args.results}: no benchmark with greenbench energy to export")
    if args.format == "bencher":
        return _json(bencher(output, latency=not args.no_latency))
    if args.format == "codecarbon":
        return codecarbon_csv(output, args.project_name, args.country)
    baseline = R.load(args.baseline) if args.baseline else None
    units: list[Any] = []
    if args.units_from:
        from greenbench.io.read import load_json

        units = load_json(args.units_from, what="--units-from")
        if not isinstance(units, list):
            raise GreenbenchError(f"--units-from {args.units_from}: expected a github-action-benchmark JSON list")
    return _json(github_action_benchmark(output, co2e=args.co2e, baseline=baseline,
                                         rule=gate.GateRule.parse(args.rule), undecided=args.undecided,
                                         units_from=units))


def run(args: argparse.Namespace) -> int:
    try:
        text = render(args)
    except GreenbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        print(f"{args.format} export written to {atomic.write_text(Path(args.out), text)}")
    else:
        sys.stdout.write(text)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="greenbench export", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())

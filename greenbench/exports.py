"""Export a run's energy into formats that dashboards teams already run read.

``greenbench export FORMAT RESULTS.json [--out FILE]`` with FORMAT:

``bencher``
    Bencher Metric Format (BMF) JSON for ``bencher run --adapter json``:
    ``{benchmark_name: {measure_slug: {"value": v, "lower_value": lo, "upper_value": hi}}}``.
    Measures: ``energy`` (J per call, median; bounds = min/max over rounds),
    ``co2e`` (gCO2e per call) and Bencher's built-in ``latency`` (ns per call).
``github-action-benchmark``
    github-action-benchmark's ``customSmallerIsBetter`` input: a JSON list of
    ``{"name", "unit", "value", "range"?, "extra"?}`` (``range`` and ``extra``
    are strings), two entries per benchmark: ``<name> energy`` (J) and
    ``<name> CO2e`` (gCO2e).
``codecarbon``
    rows of CodeCarbon's ``emissions.csv`` (its column set, the fields of
    ``codecarbon.output_methods.emissions_data.EmissionsData``, in order),
    one per benchmark, for the CodeCarbon dashboard or any reader of that CSV.
    Units as CodeCarbon's: energy in kWh, emissions in kg, power in W, per
    call of the benchmarked function.

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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from greenbench import atomic
from greenbench import results as R
from greenbench.errors import GreenbenchError
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


def _finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def bencher(output: Mapping[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """Bencher Metric Format: ``{name: {slug: {value, lower_value?, upper_value?}}}``."""
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
        t = R.time_s(b)
        if _finite(t):
            lat = {"value": t * 1e9}
            lo_t, hi_t = R.time_s(b, "min"), R.time_s(b, "max")
            if _finite(lo_t) and _finite(hi_t) and lo_t <= t <= hi_t:
                lat |= {"lower_value": lo_t * 1e9, "upper_value": hi_t * 1e9}
            measures["latency"] = lat
        if measures:
            out[_name(b)] = measures
    return out


def github_action_benchmark(output: Mapping[str, Any]) -> list[dict[str, Any]]:
    """github-action-benchmark ``customSmallerIsBetter``: ``[{name, unit, value, range?, extra?}]``."""
    out: list[dict[str, Any]] = []
    for b in _entries(output):
        est = R.is_estimated(b)
        extra = f"meter: {R.source(b)}" + (" (estimated)" if est else " (hardware counter)")
        e = R.energy_j(b)
        if _finite(e):
            item: dict[str, Any] = {"name": f"{_name(b)} energy", "unit": "J", "value": e, "extra": extra}
            sd = R.energy_j(b, "stddev")
            if _finite(sd):
                item["range"] = f"± {sd:.6g}"
            out.append(item)
        c = R.co2e_g(b)
        if _finite(c):
            label = (R.energy(b) or {}).get("intensity_label", "")
            out.append({"name": f"{_name(b)} CO2e", "unit": "gCO2e", "value": c,
                        "extra": extra + (f"; intensity: {label}" if label else "")})
    return out


def codecarbon_rows(output: Mapping[str, Any], project_name: str = "greenbench") -> list[dict[str, Any]]:
    """One CodeCarbon ``emissions.csv`` row per benchmark (per call of the function)."""
    mi = output.get("machine_info") or {}
    run_id = str((output.get("commit_info") or {}).get("id") or "unknown")
    cpu = (mi.get("cpu") or {}).get("brand_raw") or mi.get("processor") or ""
    rows = []
    for b in _entries(output):
        e_j = R.energy_j(b)
        rec = R.energy(b) or {}
        domains = rec.get("domains_j") or {}
        duration = R.time_s(b)
        kg = R.co2e_g(b) / 1000.0
        cpu_j = sum(float(v) for k, v in domains.items() if not str(k).startswith(("dram", "memory", "gpu")))
        ram_j = sum(float(v) for k, v in domains.items() if str(k).startswith(("dram", "memory")))
        gpu_j = sum(float(v) for k, v in domains.items() if str(k).startswith("gpu"))
        if not domains:
            cpu_j = e_j

        def power(j: float, duration: float = duration) -> float:
            return j / duration if duration > 0 else 0.0

        rows.append({
            "timestamp": output.get("datetime", ""),
            "project_name": project_name,
            "run_id": run_id,
            "experiment_id": _name(b),
            "duration": duration,
            "emissions": kg,
            "emissions_rate": kg / duration if duration > 0 else 0.0,
            "cpu_power": power(cpu_j), "gpu_power": power(gpu_j), "ram_power": power(ram_j),
            "cpu_energy": j_to_kwh(cpu_j), "gpu_energy": j_to_kwh(gpu_j), "ram_energy": j_to_kwh(ram_j),
            "energy_consumed": j_to_kwh(e_j),
            "water_consumed": 0.0,
            "country_name": "", "country_iso_code": "", "region": "",
            "cloud_provider": "", "cloud_region": "",
            "os": f"{mi.get('system', platform.system())}",
            "python_version": mi.get("python_version", platform.python_version()),
            "codecarbon_version": f"greenbench ({R.source(b)}{', estimated' if R.is_estimated(b) else ''})",
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


def codecarbon_csv(output: Mapping[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CODECARBON_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in codecarbon_rows(output):
        writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
    return buf.getvalue()


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


FORMATS: dict[str, tuple[Callable[[Mapping[str, Any]], str], str]] = {
    "bencher": (lambda o: _json(bencher(o)), "bencher.json"),
    "github-action-benchmark": (lambda o: _json(github_action_benchmark(o)), "github-action-benchmark.json"),
    "codecarbon": (codecarbon_csv, "emissions.csv"),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="greenbench export", description=__doc__.splitlines()[0])
    parser.add_argument("format", choices=sorted(FORMATS), help="output format")
    parser.add_argument("results", help="a pytest-benchmark JSON file with greenbench energy")
    parser.add_argument("--out", default=None, help="output file (default: stdout)")
    args = parser.parse_args(argv)
    render, _ = FORMATS[args.format]
    try:
        output = R.load(args.results)
        if not _entries(output):
            raise GreenbenchError(f"{args.results}: no benchmark with greenbench energy to export")
        text = render(output)
    except GreenbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        print(f"{args.format} export written to {atomic.write_text(Path(args.out), text)}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

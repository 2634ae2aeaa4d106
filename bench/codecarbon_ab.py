"""Does ``--energy-codecarbon`` change greenbench's own figure?  An off/on A/B in ABBA order (issue #23).

Writes a small suite of plain pytest-benchmark benchmarks -- a ~25 us and a
~0.3 ms call (sub-millisecond) and a ~5 ms call (longer) -- and runs it in
pytest subprocesses with the CodeCarbon side-by-side off and on
(``--pairs`` times, in ABBA order: off on, on off, ... so that a drift of
the machine's load over the runs does not read as an effect).  For each benchmark it prints, side by side:

* greenbench's energy per call (median over rounds, the figure shown) and the
  gate's statistic (minimum over rounds) in every run;
* the **off runs' own spread** (max/min - 1 over the off runs);
* the **on/off ratio** (median of the on runs / median of the off runs: one
  run disturbed by the machine's other load does not decide) and whether it
  lies within the off runs' spread (``1 +- spread``);
* CodeCarbon's per-call figure, or why it was not shown;
* a load-independent bound: the CPU time CodeCarbon's own threads use per
  second of tracking (``process_time`` of this process around an idle tracked
  sleep), i.e. the most its sampling can add to a CPU-time-based figure.

Passes (exit 0) when every on/off ratio lies within the off runs' spread
widened by 2 percentage points, for both statistics.  Timing-based: on a loaded
machine the spread is wide -- the printout says how wide it was.

    python bench/codecarbon_ab.py [--pairs 2] [--max-time 3.5] [--meter model] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

SUITE = textwrap.dedent('''
    import time


    def spin(seconds):
        end = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < end:
            n += 1
        return n


    def work(n):
        s = 0
        for i in range(n):
            s += i * i
        return s


    def test_call_25us(benchmark):
        benchmark(work, 500)


    def test_call_300us(benchmark):
        benchmark(work, 6000)


    def test_call_5ms(benchmark):
        benchmark(work, 100000)
''')

#: tolerance beyond the off runs' own spread (rounding, two runs only)
SLACK = 0.02


def run_once(folder: Path, codecarbon: bool, max_time: float, meter: str, tag: str) -> dict[str, Any]:
    out = folder / f"{tag}.json"
    args = [sys.executable, "-m", "pytest", str(folder / "test_ab.py"), "-q", "-p", "no:cacheprovider",
            "-p", "no:xdist", "-p", "no:dash", "-o", "addopts=", "--noconftest",
            f"--benchmark-max-time={max_time}", f"--energy-meter={meter}", f"--benchmark-json={out}"]
    if codecarbon:
        args.append("--energy-codecarbon")
    proc = subprocess.run(args, capture_output=True, text=True, cwd=folder, check=False)
    if proc.returncode != 0:
        sys.exit(f"error: pytest run {tag} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return dict(json.loads(out.read_text()))


def figures(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for b in doc["benchmarks"]:
        e = b["extra_info"]["energy"]["per_call_j"]
        cc = b["extra_info"].get("codecarbon") or {}
        out[b["name"]] = {"median": e["median"], "min": e["min"], "time_s": b["stats"]["median"],
                          "cc": cc.get("per_call_j"), "cc_hidden": cc.get("hidden"), "cc_window_s": cc.get("window_s"),
                          "on": doc["machine_info"]["greenbench"].get("codecarbon", {}).get("on")}
    return out


def tracker_cpu_share(seconds: float = 6.0) -> float | None:
    """CPU seconds per second that a running CodeCarbon tracker's threads use (None without codecarbon)."""
    import logging
    import time

    try:
        from greenbench.meters.codecarbon import CodeCarbonMeter
        from greenbench.meters.sidebyside import MEASURE_POWER_S
    except ImportError:
        return None
    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    try:
        meter = CodeCarbonMeter(measure_power_secs=MEASURE_POWER_S)
        meter.start()  # the first tracker pays CodeCarbon's hardware detection: not counted
        meter.stop()
        meter.start()
        c0 = time.process_time()
        time.sleep(seconds)
        c1 = time.process_time()
        meter.stop()
    except Exception:  # a missing codecarbon: no bound printed
        return None
    return (c1 - c0) / seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--pairs", type=int, default=2, help="off/on pairs (default 2: off, on, on, off)")
    p.add_argument("--max-time", type=float, default=3.5, help="--benchmark-max-time per benchmark (s)")
    p.add_argument("--meter", default="model", help="greenbench meter (default model)")
    p.add_argument("--out", default=None, help="also write the figures to DIR/codecarbon_ab.json")
    a = p.parse_args(argv)
    if a.pairs < 1:
        p.error("--pairs: expected >= 1")
    runs: list[tuple[bool, dict[str, dict[str, Any]]]] = []
    with tempfile.TemporaryDirectory(prefix="greenbench-ab-") as tmp:
        folder = Path(tmp)
        (folder / "test_ab.py").write_text(SUITE)
        for i in range(a.pairs):
            # ABBA order (off on, on off, ...): a drift of the machine's load over the runs cancels out
            for on in ((False, True) if i % 2 == 0 else (True, False)):
                tag = f"{'on' if on else 'off'}{i + 1}"
                print(f"run {tag} ...", flush=True)
                doc = figures(run_once(folder, on, a.max_time, a.meter, tag))
                runs.append((on, doc))
    names = list(runs[0][1])
    ok = True
    report: dict[str, Any] = {"pairs": a.pairs, "max_time_s": a.max_time, "meter": a.meter, "benchmarks": {}}
    for stat in ("median", "min"):
        print(f"\ngreenbench energy per call ({stat} over rounds), J; runs in order "
              + " ".join("on" if on else "off" for on, _ in runs))
        print(f"{'benchmark':<18} {'runs':<60} {'off spread':>10} {'on/off':>8}  within")
        for name in names:
            seq = [d[name][stat] for _, d in runs]
            off = [d[name][stat] for on, d in runs if not on]
            on_ = [d[name][stat] for on, d in runs if on]
            spread = max(off) / min(off) - 1 if min(off) > 0 else math.inf
            ratio = statistics.median(on_) / statistics.median(off)
            within = abs(ratio - 1) <= spread + SLACK
            ok &= within
            print(f"{name:<18} {' '.join(f'{v:.4g}' for v in seq):<60} {spread:>10.1%} {ratio:>8.3f}  "
                  f"{'yes' if within else 'NO'}")
            report["benchmarks"].setdefault(name, {})[stat] = {"runs": seq, "off_spread": spread, "on_off": ratio,
                                                               "within": within}
    print("\nCodeCarbon per call in the on runs (estimated; whole-benchmark window):")
    for name in names:
        shown = []
        for on, d in runs:
            if on:
                f = d[name]
                shown.append(f"{f['cc']:.4g} J" if f["cc"] is not None else f"hidden ({f['cc_hidden']})")
        t = statistics.fmean(d[name]["time_s"] for _, d in runs)
        print(f"{name:<18} time {t * 1e6:9.1f} us  " + " | ".join(shown))
        report["benchmarks"][name]["codecarbon"] = shown
    share = tracker_cpu_share()
    if share is not None:
        print(f"\nCodeCarbon's tracker used {share * 1e3:.2f} ms of CPU per second of tracking (measured in this "
              f"process; under --energy-codecarbon it runs in a detached sidecar): {share:.2%} of a core")
        report["codecarbon_thread_cpu_share"] = share
    print("\n" + ("PASS" if ok else "FAIL") + f": on/off ratio within the off runs' own spread (+{SLACK:.0%})")
    if a.out:
        Path(a.out).mkdir(parents=True, exist_ok=True)
        (Path(a.out) / "codecarbon_ab.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""The no-counter estimate, side by side: old model, new marginal and allocated, CodeCarbon (process mode).

Each workload runs once inside four nested windows read over the same wall
time: CodeCarbon's ``OfflineEmissionsTracker`` with ``tracking_mode="process"``
(outermost, as it samples every second), the old model (this process's CPU
time × 12 W + memory: ``ModelMeter(idle_fraction=0, count_children=False)``)
and the new model (process tree, TDP of this CPU, idle split), whose one
Measurement gives both the marginal (``energy_j``) and the allocated figure
(``figures["allocated_j"]``), each with its band.  Printed as a table with
ratios to the new marginal figure; stored in ``extra_info["model_vs"]``.

Workloads (about 2-3 s each, so CodeCarbon's 1 s sampling sees several points):
a pure-Python loop (one core); the same work split over 4 child processes
(the case the old model could not see); a numpy matrix product; and a mostly
sleeping window (idle: the allocated figure is then almost all idle share).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from greenbench.meters import CodeCarbonMeter, ModelMeter
from greenbench.meters.model import CpuInfo, read_cpu_info

#: seconds of Python-loop work per workload (quick / full)
WORK_S = {"quick": 2.0, "full": 6.0}
CHILD = "import time, sys\nend = time.process_time() + float(sys.argv[1])\nwhile time.process_time() < end: pass"


def python_loop(seconds: float) -> None:
    end = time.process_time() + seconds
    x = 0
    while time.process_time() < end:
        x += 1


def children(seconds: float, n: int = 4) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(seconds / n)]) for _ in range(n)]
    for p in procs:
        p.wait()


def matmul(seconds: float) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((256, 256))
    end = time.process_time() + seconds
    while time.process_time() < end:
        a = np.tanh(a @ a.T / 256.0)


def mostly_idle(seconds: float) -> None:
    python_loop(seconds * 0.1)
    time.sleep(seconds * 0.9)


WORKLOADS: dict[str, Callable[[float], None]] = {
    "python loop (1 core)": python_loop,
    "4 child processes": children,
    "numpy matmul": matmul,
    "mostly idle (10% busy)": mostly_idle,
}


def old_model() -> ModelMeter:
    """The model before #14: this process's CPU time × 12 W/core + resident memory."""
    cpu = read_cpu_info()
    flat = CpuInfo(cpu.model_name, cpu.physical_cores, cpu.physical_cores, cpu.source)  # no SMT discount
    return ModelMeter(core_power_w=12.0, idle_fraction=0.0, smt_factor=0.0, count_children=False, cpu=flat)


def side_by_side(work: Callable[[float], None], seconds: float) -> dict[str, Any]:
    cc = CodeCarbonMeter(tracking_mode="process")
    old, new = old_model(), ModelMeter()
    cc.start()
    old.start()
    new.start()
    work(seconds)
    m_new = new.stop()
    m_old = old.stop()
    m_cc = cc.stop()
    f = m_new.figures
    return {
        "duration_s": m_new.duration_s, "tree_cpu_s": m_new.cpu_time_s, "self_cpu_s": m_old.cpu_time_s,
        "old_j": m_old.energy_j, "marginal_j": m_new.energy_j, "allocated_j": f["allocated_j"],
        "marginal_band_j": [f["marginal_low_j"], f["marginal_high_j"]],
        "allocated_band_j": [f["allocated_low_j"], f["allocated_high_j"]],
        "codecarbon_process_j": m_cc.energy_j,
    }


@pytest.mark.benchmark(group="meters")
def test_model_side_by_side(benchmark: Any, workload_size: str, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("codecarbon")
    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    seconds = WORK_S[workload_size]
    warm = CodeCarbonMeter(tracking_mode="process")
    warm.start()  # pay CodeCarbon's one-off hardware detection outside the measured windows
    warm.stop()
    rows = {name: side_by_side(work, seconds) for name, work in WORKLOADS.items()}
    info = ModelMeter().describe()
    benchmark.extra_info["model_vs"] = rows
    benchmark.extra_info["model_assumptions"] = info
    benchmark.pedantic(python_loop, args=(0.05,), rounds=5, iterations=1)

    with capsys.disabled():
        print(f"\n\nno-counter estimates, same windows (CPU: {info['cpu_model']}, {info['core_power_w']:g} W/core "
              f"from {info['tdp_row']!r}, idle {info['idle_fraction']:.3f} x TDP, "
              f"{info['cores_allocated']:g} cores allocated; all estimated*)")
        print(f"  {'workload':<24} {'wall s':>6} {'cpu s self/tree':>15} {'old J':>8} {'marginal J [band]':>24} "
              f"{'allocated J [band]':>24} {'CodeCarbon process J':>20}   ratios to marginal: old / alloc / CC")
        for name, r in rows.items():
            mb, ab = r["marginal_band_j"], r["allocated_band_j"]
            base = r["marginal_j"]
            print(f"  {name:<24} {r['duration_s']:6.2f} {r['self_cpu_s']:6.2f}/{r['tree_cpu_s']:<8.2f} "
                  f"{r['old_j']:8.2f} {base:8.2f} [{mb[0]:6.2f}-{mb[1]:6.2f}] "
                  f"{r['allocated_j']:8.2f} [{ab[0]:6.2f}-{ab[1]:6.2f}] {r['codecarbon_process_j']:20.2f}   "
                  f"{r['old_j'] / base:.2f} / {r['allocated_j'] / base:.2f} / {r['codecarbon_process_j'] / base:.2f}")
        print(f"  band basis: {info['band_basis']}")

    for r in rows.values():
        assert r["marginal_band_j"][0] <= r["marginal_j"] <= r["marginal_band_j"][1]
        assert r["marginal_j"] <= r["allocated_j"]
    # the old model could not see the children; the new one does
    kids = rows["4 child processes"]
    assert kids["tree_cpu_s"] > 5 * max(kids["self_cpu_s"], 0.01)

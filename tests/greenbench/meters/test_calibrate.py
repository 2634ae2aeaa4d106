"""``greenbench calibrate`` (issue #12): the least-squares fit against a (fabricated) RAPL counter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import build_powercap, set_energy

from greenbench.errors import DataError
from greenbench.meters.counted import calibrate as CAL
from greenbench.meters.counted import energy_model as CM
from greenbench.meters.rapl import RaplMeter

#: joules per event the fabricated machine spends (instructions, L1, LL, DRAM line)
TRUE = CM.Coefficients(pj_per_instruction=30.0, pj_per_l1_access=5.0, pj_per_ll_access=300.0,
                       nj_per_dram_line_64b=8.0)

KERNEL_COUNTS = {
    "compute": {"instructions": 10_000_000, "data_reads": 2_000_000, "data_writes": 1_000_000},
    "l1": {"instructions": 3_000_000, "data_reads": 1_200_000, "data_writes": 300_000, "l1d_read_misses": 1000},
    "llc": {"instructions": 1_000_000, "data_reads": 500_000, "l1d_read_misses": 60_000, "ll_read_misses": 2_000},
    "dram": {"instructions": 8_000_000, "data_reads": 4_000_000, "l1d_read_misses": 500_000,
             "ll_read_misses": 500_000},
    "copy": {"instructions": 3_500_000, "data_reads": 1_000_000, "data_writes": 1_000_000,
             "l1d_read_misses": 500_000, "l1d_write_misses": 500_000, "ll_read_misses": 500_000,
             "ll_write_misses": 500_000},
}


def fake_kernels(cls: Path, noise: dict[str, float] | None = None) -> dict[str, CAL.Kernel]:
    state = {"uj": 0.0}

    def kernel(name: str) -> CAL.Kernel:
        joules = CM.energy_j(KERNEL_COUNTS[name], TRUE) * (1 + (noise or {}).get(name, 0.0))

        def run() -> None:  # the package counter moves by what the fabricated machine spends
            state["uj"] += joules * 1e6
            set_energy(cls, "intel-rapl:0", round(state["uj"]))

        return run

    return {k: kernel(k) for k in KERNEL_COUNTS}


@pytest.fixture
def rapl(tmp_path: Path) -> tuple[Path, RaplMeter]:
    cls = build_powercap(tmp_path, {"intel-rapl:0": ("package-0", 0)})
    return cls, RaplMeter(cls, background=False)


def test_fit_recovers_the_machine_coefficients(rapl: tuple[Path, RaplMeter]) -> None:
    cls, meter = rapl
    c = CAL.calibrate(meter, kernels=fake_kernels(cls), counts=KERNEL_COUNTS, min_window_s=0.0, windows=2)
    assert c.pj_per_instruction == pytest.approx(30.0, rel=0.02)
    assert c.pj_per_ll_access == pytest.approx(300.0, rel=0.05)
    assert c.nj_per_dram_line_64b == pytest.approx(8.0, rel=0.02)
    assert c.fit["rms_rel_error"] < 0.01 and set(c.fit["kernels"]) == set(KERNEL_COUNTS)
    assert "rapl" in c.source


def test_fit_error_is_reported_when_the_model_cannot_match(rapl: tuple[Path, RaplMeter]) -> None:
    cls, meter = rapl
    ks = fake_kernels(cls, noise={"compute": 0.2, "l1": -0.2})
    c = CAL.calibrate(meter, kernels=ks, counts=KERNEL_COUNTS, min_window_s=0.0, windows=1)
    assert c.fit["max_rel_error"] > 0.02
    text = CAL.report(c)
    assert "fit error over 5 kernels" in text and "compute" in text


def test_too_few_kernels_is_one_line_error() -> None:
    with pytest.raises(DataError, match="needs at least 4"):
        CAL.fit({"a": {"instructions": 1}}, {"a": 1.0})


def test_cli_writes_a_file_the_counted_meter_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    cls = build_powercap(tmp_path, {"intel-rapl:0": ("package-0", 0)})
    monkeypatch.setattr(CAL, "_kernels", lambda: fake_kernels(cls))
    counts = tmp_path / "counts.json"
    counts.write_text(json.dumps(KERNEL_COUNTS))
    out = tmp_path / "cfg" / "coeffs.json"
    rc = CAL.main(["--powercap-root", str(cls), "--counts", str(counts), "--out", str(out),
                   "--min-window-s", "0", "--windows", "1"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "pJ per instruction" in printed and "fit error" in printed
    loaded = CM.load_coefficients(out)
    assert loaded.pj_per_instruction == pytest.approx(30.0, rel=0.05) and loaded.fit["rms_rel_error"] < 0.05


def test_cli_bad_powercap_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert CAL.main(["--powercap-root", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_dispatcher_knows_calibrate() -> None:
    from greenbench.__main__ import COMMANDS

    assert COMMANDS["calibrate"] == "greenbench.meters.counted.calibrate"

"""The deep-learning report section on fabricated pytest-benchmark entries."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from fakes import make_entry

from bench.sections import deep


def _entry(name: str, group: str, model: str, *, energy_j: float | None = None, estimated: bool = True,
           median_s: float = 1.0, source: str | None = None, **extra: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"model": model, **extra}
    meter = {"source": source} if source is not None else {}
    return make_entry(name, [energy_j or 0.0], group=group, time_s=median_s, params={}, extra=info,
                      energy=energy_j is not None, estimated=estimated, **meter)


def _run(with_energy: bool = True) -> list[dict[str, Any]]:
    e = (lambda j: j) if with_energy else (lambda j: None)
    return [
        # mlp: never reaches 0.85 on the measured seed (seed 1 does)
        _entry("test_classifier_train[mlp]", "deep-train", "mlp", energy_j=e(20.0), n_train=4000, epochs=2,
               quality={"accuracy": 0.80}, accuracy_by_seed=[0.80, 0.86, 0.83],
               accuracy_by_epoch=[[0.70, 0.80], [0.75, 0.86], [0.72, 0.83]], cpu_fraction_by_epoch=[0.5, 1.0],
               cpu_capability="AVX2", torch_version="2.5.1"),
        # gru: 0.85 after epoch 1, which took 40 % of the CPU time -> 36 J
        _entry("test_classifier_train[gru]", "deep-train", "gru", energy_j=e(90.0), n_train=4000, epochs=2,
               quality={"accuracy": 0.90}, accuracy_by_seed=[0.90, 0.88, 0.92],
               accuracy_by_epoch=[[0.86, 0.90], [0.84, 0.88], [0.87, 0.92]], cpu_fraction_by_epoch=[0.4, 1.0],
               cpu_capability="AVX2", torch_version="2.5.1"),
        # transformer: reached at epoch 2 -> all 40 J
        _entry("test_classifier_train[transformer]", "deep-train", "transformer", energy_j=e(40.0),
               n_train=4000, epochs=2, quality={"accuracy": 0.87}, accuracy_by_seed=[0.87, 0.80, 0.84],
               accuracy_by_epoch=[[0.60, 0.87], [0.55, 0.80], [0.58, 0.84]], cpu_fraction_by_epoch=[0.5, 1.0],
               cpu_capability="AVX2", torch_version="2.5.1"),
        _entry("test_classifier_infer[mlp]", "deep-infer", "mlp", energy_j=e(0.25), n_predictions=500,
               quality={"accuracy": 0.80}),
        _entry("test_gan_train[dcgan]", "gan-train", "dcgan", energy_j=e(200.0), steps=200, batch_size=16,
               quality={"fid_mnist_cnn": 52.9, "is_mnist_cnn": 2.9},
               baseline={"fid_mnist_cnn_untrained": 208.7, "is_mnist_cnn_untrained": 1.0,
                         "fid_mnist_cnn_real": 0.95, "is_mnist_cnn_real": 8.2},
               artifacts=["deep/dcgan_samples.png"]),
        _entry("test_gan_train[gan1d]", "gan-train", "gan1d", energy_j=e(30.0), steps=2000, batch_size=128,
               quality={"w1_distance": 0.2}, samples={"mean": 3.95, "std": 1.22},
               baseline={"w1_distance_untrained": 4.0, "w1_distance_real": 0.04}),
        _entry("test_other", "classic-mnist", "knn", energy_j=e(1.0)),
    ]


def test_study_energy_is_converted_from_kwh() -> None:
    assert deep.study_energy_j("mlp") == pytest.approx(594.0)
    assert deep.study_energy_j("gru") == pytest.approx(4611.6)
    assert deep.study_energy_j("cnn") == pytest.approx(1598.4)
    assert deep.study_energy_j("transformer") != deep.study_energy_j("transformer")  # NaN: it did not run


def test_epochs_and_energy_to_target() -> None:
    assert deep.epochs_to_target([0.5, 0.85, 0.9], 0.85) == 2
    assert deep.epochs_to_target([0.5, 0.8], 0.85) is None
    gru = _run()[1]
    assert deep.energy_to_target(gru) == (pytest.approx(36.0), 1)
    assert deep.energy_to_target(_run()[0]) == (pytest.approx(float("nan"), nan_ok=True), None)
    no_energy = _run(with_energy=False)[1]
    joules, epoch = deep.energy_to_target(no_energy)
    assert epoch == 1 and math.isnan(joules)


def test_accuracy_spread() -> None:
    mean, lo, hi, n = deep.accuracy_spread(_run()[1])
    assert (mean, lo, hi, n) == (pytest.approx(0.90), 0.88, 0.92, 3)
    single = _entry("test_classifier_train[cnn]", "deep-train", "cnn", energy_j=1.0, quality={"accuracy": 0.95})
    assert deep.accuracy_spread(single) == (0.95, 0.95, 0.95, 1)


def test_empty_when_no_deep_benchmarks(tmp_path: Path) -> None:
    assert deep.render([], tmp_path) == ""
    assert deep.render([_entry("test_knn", "classic-mnist", "knn", energy_j=1.0)], tmp_path) == ""


def test_tables_with_estimated_energy(tmp_path: Path) -> None:
    md = deep.render(_run(), tmp_path)
    lines = md.splitlines()
    mlp = next(line for line in lines if line.startswith("| MLP") and "4000 × 2" in line)
    assert "| 0.830 (0.800–0.860, 3 seeds) | 0.800 | 20 J* |" in mlp
    assert "| not reached | 1/3 |" in mlp
    gru = next(line for line in lines if line.startswith("| GRU") and "4000 × 2" in line)
    assert "| 36 J* (epoch 1) | 3/3 |" in gru
    # the study's totals (60,000 × 5 in Keras) are not beside ours: a separate table, per digit-epoch
    assert "594 J" not in mlp and "0.9798" not in mlp
    per = [line for line in lines if "digit-epoch" not in line and line.startswith("| MLP") and "mJ" in line]
    # ours 20 J / (4,000 × 2) = 2.5 mJ (marginal only in this fake); the study's 594 J / (60,000 × 5) = 1.98 mJ
    assert per and "| 2.5 mJ* | marginal only" in per[0] and "| 1.98 mJ* | 0.792× | 0.9798 (0.800) |" in per[0]
    assert "did not run in the study" in md
    # inference has its own table: energy per 1,000 predictions, not beside training energy
    infer_at = lines.index(next(line for line in lines if line.startswith("| model | accuracy on the 1,000")))
    train_at = lines.index(next(line for line in lines if line.startswith("| model | ours: digits")))
    assert infer_at > train_at
    mlp_infer = lines[infer_at + 2]
    assert mlp_infer.startswith("| MLP") and "| 0.800 | 500 mJ* |" in mlp_infer  # 0.25 J / 500 -> 0.5 J / 1,000
    assert "500 mJ*" not in mlp
    # ranking by energy to 0.85: gru 36 J (epoch 1), transformer 40 J (epoch 2); mlp not reached, last
    ranking = [line for line in lines if line.startswith(("| 1 |", "| 2 |", "| - |"))]
    assert [line.split("|")[2].strip().split()[0] for line in ranking] == ["GRU", "Transformer", "MLP"]
    assert "| 36 J* | 1 |" in ranking[0] and "| 40 J* | 2 |" in ranking[1] and "not reached" in ranking[2]
    assert "Energy to reach 0.85 test accuracy" in md
    assert "energy per accuracy point" not in md.lower()
    assert "one CPU instruction set and torch build" in md and "this run: AVX2, torch 2.5.1" in md
    dc = next(line for line in lines if line.startswith("| DCGAN"))
    assert "FID 52.9, IS 2.90" in dc and "FID 208.7, IS 1.00" in dc and "200 J*" in dc
    assert "W1 0.200 (samples mean 3.95, std 1.22)" in md
    assert "FID (MNIST-CNN features)" in md
    assert "samples written to `deep/dcgan_samples.png`" in md  # picture not in the report folder
    assert md.rstrip().endswith("estimated (not read off a hardware energy counter).")
    assert "knn" not in md


def test_pictures_are_embedded_when_present(tmp_path: Path) -> None:
    pic = tmp_path / "artifacts" / "deep" / "dcgan_samples.png"
    pic.parent.mkdir(parents=True)
    pic.write_bytes(b"\x89PNG")
    assert "![DCGAN (TF tutorial): generated samples](artifacts/deep/dcgan_samples.png)" in deep.render(
        _run(), tmp_path)


def test_counter_energy_is_not_marked(tmp_path: Path) -> None:
    run = [_entry("test_classifier_train[cnn]", "deep-train", "cnn", energy_j=50.0, estimated=False,
                  source="rapl", n_train=4000, epochs=2, quality={"accuracy": 0.95})]
    cnn = [line for line in deep.render(run, tmp_path).splitlines() if line.startswith("| CNN")]
    assert "| 0.950 (1 seed) | 0.950 | 50 J |" in cnn[0]
    # per digit-epoch: ours 50 J / 8,000 = 6.25 mJ (a counter reading, unmarked); the study's
    # 1,598.4 J / 300,000 = 5.33 mJ stays a CodeCarbon estimate
    assert "| 6.25 mJ | rapl reading (no band) | 5.33 mJ* |" in cnn[1]


def test_without_energy_shows_dashes(tmp_path: Path) -> None:
    md = deep.render(_run(with_energy=False), tmp_path)
    mlp = next(line for line in md.splitlines() if line.startswith("| MLP") and "4000 × 2" in line)
    assert "| 0.800 | - |" in mlp
    assert "| - (epoch 1) |" in next(line for line in md.splitlines() if line.startswith("| GRU"))
    assert "needs the energy plugin" in md


def test_study_table_uses_the_allocated_figure_and_its_band(tmp_path: Path) -> None:
    # issue #22 item 8: beside the study's CodeCarbon totals (flat 12.5 W, idle included), ours on the allocated
    # basis per digit-epoch: 40 J allocated [20-80] over 4,000 × 2 = 5 mJ [2.5-10]; the study's CNN 5.33 mJ
    b = _entry("test_classifier_train[cnn]", "deep-train", "cnn", energy_j=10.0, n_train=4000, epochs=2,
               quality={"accuracy": 0.95})
    b["extra_info"]["energy"]["figures_j"] = {"allocated_j": 40.0, "allocated_low_j": 20.0, "allocated_high_j": 80.0,
                                              "marginal_low_j": 5.0, "marginal_high_j": 15.0}
    assert deep.ours_j_per_sample_epoch(b) == (pytest.approx(5e-3), pytest.approx(2.5e-3), pytest.approx(1e-2),
                                               "allocated (model meter)")
    assert deep.study_j_per_sample_epoch("cnn") == pytest.approx(1598.4 / 300_000)
    row = [line for line in deep.render([b], tmp_path).splitlines() if line.startswith("| CNN")][1]
    assert "| 5 mJ* [2.5 mJ–10 mJ] | allocated (model meter) | 5.33 mJ* | 1.07× |" in row

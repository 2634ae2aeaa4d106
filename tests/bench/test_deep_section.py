"""The deep-learning report section on fabricated pytest-benchmark entries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fakes import make_entry

from bench.sections import deep


def _entry(name: str, group: str, model: str, *, energy_j: float | None = None, estimated: bool = True,
           median_s: float = 1.0, **extra: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"model": model, **extra}
    return make_entry(name, [energy_j or 0.0], group=group, time_s=median_s, params={}, extra=info,
                      energy=energy_j is not None, estimated=estimated)


def _run(with_energy: bool = True) -> list[dict[str, Any]]:
    e = (lambda j: j) if with_energy else (lambda j: None)
    return [
        _entry("test_classifier_train[mlp]", "deep-train", "mlp", energy_j=e(20.0), n_train=4000, epochs=2,
               quality={"accuracy": 0.80}),
        _entry("test_classifier_train[gru]", "deep-train", "gru", energy_j=e(90.0), n_train=4000, epochs=2,
               quality={"accuracy": 0.90}),
        _entry("test_classifier_train[transformer]", "deep-train", "transformer", energy_j=e(40.0),
               n_train=4000, epochs=2, quality={"accuracy": 0.50}),
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


def test_j_per_point() -> None:
    assert deep.j_per_point(90.0, 0.9) == pytest.approx(1.0)
    assert deep.j_per_point(float("nan"), 0.9) != deep.j_per_point(float("nan"), 0.9)


def test_empty_when_no_deep_benchmarks(tmp_path: Path) -> None:
    assert deep.render([], tmp_path) == ""
    assert deep.render([_entry("test_knn", "classic-mnist", "knn", energy_j=1.0)], tmp_path) == ""


def test_tables_with_estimated_energy(tmp_path: Path) -> None:
    md = deep.render(_run(), tmp_path)
    lines = md.splitlines()
    mlp = next(line for line in lines if line.startswith("| MLP") and "4000 × 2" in line)
    assert "| 0.800 | 20 J* |" in mlp
    assert "500 mJ*" in mlp  # 0.25 J per 500 predictions -> 0.5 J per 1,000
    assert "594 J* (0.000165 kWh)" in mlp and "0.9798" in mlp
    assert "did not run" in next(line for line in lines if line.startswith("| Transformer"))
    # ranking by J per accuracy point: mlp 20/80 = 0.25, transformer 40/50 = 0.8, gru 90/90 = 1
    ranking = [line for line in lines if line.startswith("| 1 |") or line.startswith("| 2 |")
               or line.startswith("| 3 |")]
    assert [line.split("|")[2].strip().split()[0] for line in ranking] == ["MLP", "Transformer", "GRU"]
    assert "250 mJ*" in ranking[0] and "6.06 J* (1)" in ranking[0]
    assert "46.7 J* (3)" in ranking[2]
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
                  n_train=4000, epochs=2, quality={"accuracy": 0.95})]
    cnn = next(line for line in deep.render(run, tmp_path).splitlines() if line.startswith("| CNN"))
    assert "| 50 J |" in cnn
    assert "1.6 kJ*" in cnn  # the study's figure stays a CodeCarbon estimate


def test_without_energy_shows_dashes(tmp_path: Path) -> None:
    md = deep.render(_run(with_energy=False), tmp_path)
    mlp = next(line for line in md.splitlines() if line.startswith("| MLP") and "4000 × 2" in line)
    assert "| 0.800 | - |" in mlp
    assert "needs the energy plugin" in md

"""NCA training, texture losses, targets and checkpoints (including bad inputs)."""

from __future__ import annotations

import json
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skimage")

from bench.workloads.nca import images  # noqa: E402
from bench.workloads.nca import model as M  # noqa: E402
from bench.workloads.nca.loss import GramLoss, SlicedWassersteinLoss, make_loss  # noqa: E402
from bench.workloads.nca.train import TrainConfig, TrainResult, lr_at, train  # noqa: E402
from greenbench.errors import ConfigError, DataError  # noqa: E402

pytestmark = pytest.mark.torch

#: a tiny run (32², batch 2, 60 steps, lr 5e-4): measured here, seeds 0–2 end at
#: 0.11–0.16 of the starting texture loss; require at least a 40 % drop
TINY = TrainConfig(target_size_px=64, grid=32, batch=2, pool_size=16, rollout_min=8, rollout_max=16,
                   steps=60, warmup_steps=10, lr=5e-4, eval_steps=32, eval_batch=2, seed=0)
TINY_MAX_LOSS_RATIO = 0.6


@pytest.fixture(scope="module")
def tiny_run() -> TrainResult:
    return train(TINY)


@pytest.mark.slow
def test_tiny_training_lowers_the_texture_loss(tiny_run: TrainResult) -> None:
    assert len(tiny_run.loss_history) == TINY.steps
    assert all(np.isfinite(tiny_run.loss_history))
    assert tiny_run.texture_loss < TINY_MAX_LOSS_RATIO * tiny_run.texture_loss_init
    assert tiny_run.forward_macs() == M.macs_per_cell()["total"] * 32 * 32 * 2 * sum(tiny_run.rollout_steps)


@pytest.mark.slow
def test_training_is_reproducible_for_a_seed() -> None:
    short = replace(TINY, steps=5)
    a, b = train(short), train(short)
    assert a.loss_history == b.loss_history
    np.testing.assert_array_equal(a.model.weights().w1, b.model.weights().w1)


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    w = M.random_weights(5)
    path = images.save_checkpoint(tmp_path / "ckpt" / "rule.npz", w, {"texture_loss": 0.01, "steps": 3})
    w2, meta = images.load_checkpoint(path)
    for name in ("w1", "b1", "w2"):
        np.testing.assert_array_equal(getattr(w, name), getattr(w2, name))
    assert meta["texture_loss"] == 0.01
    assert meta["format"] == images.CHECKPOINT_FORMAT
    assert path.stat().st_size < 64_000  # a small file: ~6k float32 weights


def test_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.npz: no such NCA checkpoint"):
        images.load_checkpoint(tmp_path / "nope.npz")


def test_corrupt_checkpoint(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(DataError, match=r"bad\.npz: corrupt NCA checkpoint"):
        images.load_checkpoint(bad)


def test_truncated_checkpoint(tmp_path: Path) -> None:
    good = images.save_checkpoint(tmp_path / "good.npz", M.random_weights(0), {})
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataError, match=r"cut\.npz: corrupt NCA checkpoint"):
        images.load_checkpoint(cut)


def test_checkpoint_missing_fields_and_wrong_shapes(tmp_path: Path) -> None:
    w = M.random_weights(0)
    p = tmp_path / "partial.npz"
    np.savez(p, w1=w.w1, b1=w.b1)
    with pytest.raises(DataError, match=r"partial\.npz: NCA checkpoint lacks meta_json, w2"):
        images.load_checkpoint(p)
    p = tmp_path / "shape.npz"
    meta = json.dumps({"format": images.CHECKPOINT_FORMAT})
    np.savez(p, w1=w.w1[:, :10], b1=w.b1, w2=w.w2, meta_json=np.array(meta))
    with pytest.raises(DataError, match=r"shape\.npz: NCAWeights\.w1: expected .*\(48, 96\), got \(48, 10\)"):
        images.load_checkpoint(p)
    p = tmp_path / "format.npz"
    np.savez(p, w1=w.w1, b1=w.b1, w2=w.w2, meta_json=np.array(json.dumps({"format": "other"})))
    with pytest.raises(DataError, match=r"format\.npz: field meta_json\.format is 'other'"):
        images.load_checkpoint(p)
    p = tmp_path / "json.npz"
    np.savez(p, w1=w.w1, b1=w.b1, w2=w.w2, meta_json=np.array("{not json"))
    with pytest.raises(DataError, match=r"json\.npz: field meta_json is not valid JSON"):
        images.load_checkpoint(p)
    assert zipfile.is_zipfile(p)


def test_builtin_target_shape_and_range() -> None:
    t = images.load_target("brick", 32)
    assert t.shape == (32, 32, 3)
    assert t.dtype == np.float32
    assert 0.0 <= t.min() < t.max() <= 1.0


def test_user_image_target(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.random((40, 60, 3)).astype(np.float32)
    path = images.save_png(tmp_path / "mine.png", rgb)
    t = images.load_target(path, 16)
    assert t.shape == (16, 16, 3)


def test_missing_and_unreadable_target_images(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing\.png: no such texture image; expected one of"):
        images.load_target(tmp_path / "missing.png", 32)
    junk = tmp_path / "junk.png"
    junk.write_text("not an image")
    with pytest.raises(DataError, match=r"junk\.png: not a readable image"):
        images.load_target(junk, 32)
    tiny = images.save_png(tmp_path / "tiny.png", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(DataError, match=r"tiny\.png: image is 4×4 pixels; expected at least 8×8"):
        images.load_target(tiny, 32)
    with pytest.raises(ConfigError, match="target size"):
        images.load_target("brick", 4)


def test_losses_are_zero_ish_for_the_target_and_large_for_noise() -> None:
    target = images.load_target("brick", 64)
    img = torch.from_numpy(np.moveaxis(target, -1, 0).copy())[None]
    noise = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    for loss in (SlicedWassersteinLoss(target), GramLoss(target)):
        gen = torch.Generator().manual_seed(1)
        same = float(loss(img, gen))
        other = float(loss(noise, gen))
        assert other > 20 * same, type(loss).__name__


def test_sliced_wasserstein_has_gradients_and_takes_a_batch() -> None:
    loss = make_loss("sliced_wasserstein", images.load_target("gravel", 32), levels=3)
    x = torch.rand(3, 3, 16, 16, requires_grad=True)
    value = loss(x, torch.Generator().manual_seed(0))
    value.backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_loss_bad_inputs() -> None:
    with pytest.raises(ConfigError, match="unknown name 'vgg'"):
        make_loss("vgg", images.load_target("brick", 32))
    with pytest.raises(ConfigError, match=r"expected an \(H, W, 3\) array, got \(32, 32\)"):
        SlicedWassersteinLoss(np.zeros((32, 32), np.float32))
    with pytest.raises(ConfigError, match="4 levels need at least 24×24"):
        SlicedWassersteinLoss(np.zeros((16, 16, 3), np.float32), levels=4)


def test_train_config_validation() -> None:
    with pytest.raises(ConfigError, match=r"TrainConfig\.steps: expected a positive integer, got 0"):
        TrainConfig(steps=0)
    with pytest.raises(ConfigError, match=r"TrainConfig\.rollout_max: expected >= rollout_min"):
        TrainConfig(rollout_min=10, rollout_max=5)
    with pytest.raises(ConfigError, match=r"TrainConfig\.grid: 4 loss levels need a grid of at least 24"):
        TrainConfig(grid=16)
    with pytest.raises(ConfigError, match=r"TrainConfig\.lr"):
        TrainConfig(lr=float("nan"))


def test_learning_rate_schedule() -> None:
    cfg = TrainConfig(steps=100, warmup_steps=10, lr=1e-3, decay_at=(0.5,))
    assert lr_at(cfg, 0) == pytest.approx(1e-4)
    assert lr_at(cfg, 9) == pytest.approx(1e-3)
    assert lr_at(cfg, 49) == pytest.approx(1e-3)
    assert lr_at(cfg, 50) == pytest.approx(3e-4)


def test_pictures(tmp_path: Path) -> None:
    frames = [np.full((8, 8, 3), v, np.float32) for v in (0.0, 0.5, 1.0)]
    s = images.strip(frames, gap=2)
    assert s.shape == (8, 3 * 8 + 2 * 2, 3)
    png = images.save_png(tmp_path / "s.png", s, scale=2)
    gif = images.save_gif(tmp_path / "s.gif", frames)
    assert png.stat().st_size > 0 and gif.stat().st_size > 0

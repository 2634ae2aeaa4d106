"""Deep workloads at tiny sizes: shapes, determinism for a seed, Keras init, errors, progress."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")

import torch

from bench.workloads import gans, nets
from bench.workloads import torch_utils as tu
from greenbench.errors import ConfigError, DataError


@pytest.fixture(autouse=True)
def _one_thread() -> Any:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.int64)


def _state(model: torch.nn.Module) -> list[np.ndarray]:
    return [v.detach().cpu().numpy().copy() for v in model.state_dict().values()]


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(_state(a), _state(b), strict=True))


# --------------------------------------------------------------------------- classifiers


@pytest.mark.parametrize(("arch", "params"), [
    ("mlp", 784 * 128 + 128 + 9 * (128 * 128 + 128) + 128 * 10 + 10),
    # Keras summary of the study's CNN: 320 + 18,496 + 36,928 + 73,856 + 1,290
    ("cnn", 320 + 18_496 + 36_928 + 73_856 + 1_290),
    # GRU (reset_after, two bias vectors as in Keras): 3·(h·(in+h) + 2h) per layer, then Dense
    ("gru", 3 * (128 * (28 + 128) + 2 * 128) + 3 * (128 * 256 + 2 * 128) + 1_290),
    ("transformer", None),
])
def test_classifier_shapes_and_parameter_counts(arch: str, params: int | None) -> None:
    with tu.seeded(0):
        model = nets.build(arch)
    assert model(torch.zeros(3, 28, 28)).shape == (3, 10)
    if params is not None:
        assert tu.count_params(model) == params


def test_glorot_init_matches_keras() -> None:
    with tu.seeded(0):
        model = nets.build("mlp")
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            bound = (6 / (m.in_features + m.out_features)) ** 0.5
            top = float(m.weight.detach().abs().max())
            assert 0.9 * bound < top <= bound  # uniform over the whole Glorot range
            assert not m.bias.any()
    with tu.seeded(0):
        net = nets.build("gru")
    assert isinstance(net, nets.GRUNet)
    params = dict(net.gru.named_parameters())
    block = params["weight_hh_l0"].detach()[:128]
    np.testing.assert_allclose((block @ block.T).numpy(), np.eye(128), atol=1e-5)  # orthogonal recurrences
    assert not params["bias_ih_l0"].detach().any()


def test_cnn_features_are_the_dense128_layer() -> None:
    with tu.seeded(0):
        cnn = nets.build("cnn")
    assert isinstance(cnn, nets.CNN)
    x = torch.rand(2, 28, 28)
    f = cnn.features(x)
    assert f.shape == (2, nets.CNN.FEATURE_DIM) and bool((f >= 0).all())  # post-ReLU
    torch.testing.assert_close(cnn.head(f), cnn(x))


@pytest.mark.parametrize("arch", nets.ARCHITECTURES)
def test_training_is_deterministic_for_a_seed(arch: str) -> None:
    x, y = _images(40)
    a = nets.train_classifier(arch, x, y, epochs=1, batch_size=16, seed=3)
    b = nets.train_classifier(arch, x, y, epochs=1, batch_size=16, seed=3)
    c = nets.train_classifier(arch, x, y, epochs=1, batch_size=16, seed=4)
    assert _same(a, b)
    assert not _same(a, c)
    assert not a.training
    pred = nets.predict(a, x[:7], batch_size=3)
    assert pred.shape == (7,) and pred.dtype == np.int64
    assert set(pred.tolist()) <= set(range(10))


@pytest.mark.parametrize("arch", ["mlp", "transformer"])
def test_epoch_snapshots_do_not_change_training(arch: str) -> None:
    x, y = _images(40)
    seen: list[int] = []
    states: list[dict[str, torch.Tensor]] = []

    def on_epoch(epoch: int, model: torch.nn.Module) -> None:
        seen.append(epoch)
        states.append(nets.snapshot(model))

    plain = nets.train_classifier(arch, x, y, epochs=2, batch_size=16, seed=3)
    logged = nets.train_classifier(arch, x, y, epochs=2, batch_size=16, seed=3, on_epoch=on_epoch)
    assert seen == [1, 2] and _same(plain, logged)
    torch.manual_seed(5)
    expected = torch.rand(2)
    torch.manual_seed(5)
    last = nets.from_snapshot(arch, states[-1])
    torch.testing.assert_close(torch.rand(2), expected)  # rebuilding leaves the caller's RNG alone
    assert not last.training and _same(last, logged)
    np.testing.assert_array_equal(nets.predict(last, x), nets.predict(logged, x))
    assert not _same(nets.from_snapshot(arch, states[0]), logged)


def test_read_only_inputs_are_accepted() -> None:
    x, y = _images(16)
    x.setflags(write=False)
    y.setflags(write=False)
    model = nets.train_classifier("mlp", x, y, epochs=1, batch_size=8)  # filterwarnings=error guards this
    assert nets.predict(model, x).shape == (16,)
    gans.train_image_gan("mlp_gan", x, steps=1, batch_size=4)


def test_training_leaves_the_callers_random_state_alone() -> None:
    x, y = _images(16)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    nets.train_classifier("mlp", x, y, epochs=1, batch_size=8, seed=0)
    torch.testing.assert_close(torch.rand(3), expected)


def test_training_reports_progress_to_the_last_step() -> None:
    x, y = _images(20)
    calls: list[tuple[int, int, str]] = []
    nets.train_classifier("mlp", x, y, epochs=2, batch_size=8, progress=lambda d, t, n: calls.append((d, t, n)))
    assert calls[0] == (1, 6, "epoch 1/2")
    assert calls[-1] == (6, 6, "epoch 2/2")
    assert [c[0] for c in calls] == list(range(1, 7))


def test_accuracy_is_the_fraction_predicted_right() -> None:
    x, y = _images(30)
    model = nets.train_classifier("mlp", x, y, epochs=1, batch_size=16)
    pred = nets.predict(model, x)
    assert nets.accuracy(model, x, pred) == 1.0
    assert nets.accuracy(model, x, (pred + 1) % 10) == 0.0


def test_cnn_learns_real_digits() -> None:
    from bench import data

    split = data.mnist(n_train=1000, n_test=300, seed=0)
    model = nets.train_classifier("cnn", split.x_train, split.y_train, epochs=1, seed=0)
    assert nets.accuracy(model, split.x_test, split.y_test) > 0.6  # chance is 0.1


def test_classifier_errors_name_the_field() -> None:
    x, y = _images(8)
    with pytest.raises(ConfigError, match="arch: got 'resnet'"):
        nets.train_classifier("resnet", x, y, epochs=1)
    with pytest.raises(DataError, match="x_train: got float64 array of shape"):
        nets.train_classifier("mlp", x.astype(float), y, epochs=1)
    with pytest.raises(DataError, match="x_train labels"):
        nets.train_classifier("mlp", x, y[:3], epochs=1)
    with pytest.raises(DataError, match=r"digits 0\.\.9"):
        nets.train_classifier("mlp", x, y + 10, epochs=1)
    with pytest.raises(ConfigError, match="epochs: got 0; expected a positive integer"):
        nets.train_classifier("mlp", x, y, epochs=0)
    with pytest.raises(ConfigError, match="lr: got"):
        nets.train_classifier("mlp", x, y, epochs=1, lr=float("nan"))
    with pytest.raises(ConfigError, match="seed: got -1"):
        nets.train_classifier("mlp", x, y, epochs=1, seed=-1)
    with pytest.raises(ConfigError, match="device: got 'tpu'"):
        nets.train_classifier("mlp", x, y, epochs=1, device="tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_asking_for_cuda_without_a_gpu_says_what_to_do() -> None:
    with pytest.raises(ConfigError, match="--device cpu"):
        tu.resolve_device("cuda")


# --------------------------------------------------------------------------- GANs


def test_gan1d_is_deterministic_and_samples_1d() -> None:
    a = gans.train_gan1d(steps=5, batch_size=16, seed=1)
    b = gans.train_gan1d(steps=5, batch_size=16, seed=1)
    assert _same(a, b)
    s = gans.sample_gan1d(a, 50, seed=2)
    assert s.shape == (50,) and s.dtype == np.float64
    np.testing.assert_array_equal(s, gans.sample_gan1d(b, 50, seed=2))
    assert not _same(gans.initial_gan1d(seed=1), a)  # training moved it
    assert _same(gans.initial_gan1d(seed=1), gans.initial_gan1d(seed=1))


def test_gan1d_learns_the_target_mean() -> None:
    g = gans.train_gan1d(steps=400, batch_size=64, seed=0)
    w1 = gans.wasserstein1(gans.sample_gan1d(g, 2000, seed=1), gans.gan1d_reference(2000, seed=2))
    w1_untrained = gans.wasserstein1(gans.sample_gan1d(gans.initial_gan1d(seed=0), 2000, seed=1),
                                     gans.gan1d_reference(2000, seed=2))
    assert w1 < 0.5 * w1_untrained


@pytest.mark.parametrize("arch", gans.IMAGE_GANS)
def test_image_gan_shapes_and_determinism(arch: str) -> None:
    x, _ = _images(24)
    g = gans.build_generator(arch)
    d = gans.build_discriminator(arch)
    z = torch.randn(4, gans.NOISE_DIM)
    with torch.no_grad():
        out = g(z)
    assert out.shape == (4, 28, 28) and float(out.abs().max()) <= 1.0
    with torch.no_grad():
        assert d(out).shape == (4, 1)
    a = gans.train_image_gan(arch, x, steps=2, batch_size=4, seed=5)
    b = gans.train_image_gan(arch, x, steps=2, batch_size=4, seed=5)
    assert _same(a, b)
    assert not _same(a, gans.initial_generator(arch, seed=5))
    imgs = gans.generate_images(a, 6, seed=1, batch_size=4)
    assert imgs.shape == (6, 28, 28) and imgs.dtype == np.uint8
    np.testing.assert_array_equal(imgs, gans.generate_images(b, 6, seed=1))


def _params_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize("arch", ["gan1d", *gans.IMAGE_GANS])
def test_untrained_baseline_is_the_generator_training_starts_from(arch: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    adam = torch.optim.Adam

    def frozen_adam(params: Any, **kwargs: Any) -> torch.optim.Optimizer:
        return adam(params, **{**kwargs, "lr": 0.0})  # a step that moves nothing

    monkeypatch.setattr(torch.optim, "Adam", frozen_adam)
    if arch == "gan1d":
        assert _params_equal(gans.train_gan1d(steps=1, batch_size=8, seed=7), gans.initial_gan1d(seed=7))
    else:
        x, _ = _images(8)
        trained = gans.train_image_gan(arch, x, steps=1, batch_size=4, seed=7)
        assert _params_equal(trained, gans.initial_generator(arch, seed=7))


def test_dcgan_layout_follows_the_tf_tutorial() -> None:
    g = gans.build_generator("dcgan")
    convs = [m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(c.out_channels, c.stride) for c in convs] == [(128, (1, 1)), (64, (2, 2)), (1, (2, 2))]
    assert all(c.bias is None for c in convs)
    d = gans.build_discriminator("dcgan")
    assert [m.p for m in d.modules() if isinstance(m, torch.nn.Dropout)] == [0.3, 0.3]


def test_image_gan_errors_name_the_field() -> None:
    x, _ = _images(4)
    with pytest.raises(ConfigError, match="arch: got 'biggan'"):
        gans.train_image_gan("biggan", x, steps=1, batch_size=2)
    with pytest.raises(ConfigError, match="batch_size: got 1"):
        gans.train_image_gan("mlp_gan", x, steps=1, batch_size=1)
    with pytest.raises(ConfigError, match="steps: got 0"):
        gans.train_image_gan("dcgan", x, steps=0, batch_size=2)
    with pytest.raises(DataError, match="x_train"):
        gans.train_image_gan("dcgan", x[:, :14], steps=1, batch_size=2)


def test_judge_scores_real_digits_against_themselves() -> None:
    x, y = _images(300)
    cnn = nets.train_classifier("cnn", x, y, epochs=1, batch_size=64)
    judge = gans.MnistJudge.build(cnn, x)
    assert judge.features(x[:5]).shape == (5, nets.CNN.FEATURE_DIM)
    probs = judge.probs(x[:5])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert judge.fid(x) == pytest.approx(0.0, abs=1e-6)
    assert judge.fid(x[::-1].copy()) == pytest.approx(0.0, abs=1e-6)  # the same set in another order
    assert judge.fid(x // 8) > judge.fid(x[:150]) + 1e-3  # darker images sit further than a half of the set
    # the judge scores its own classifier's probabilities (the formula is pinned in test_deep_metrics.py)
    assert judge.inception_score(x) == pytest.approx(gans.inception_score(judge.probs(x)))
    with pytest.raises(ConfigError, match=r"expected a trained nets\.CNN"):
        gans.MnistJudge.build(nets.build("mlp"), x)


def test_cached_judge_trains_once() -> None:
    x, y = _images(40)
    made: list[int] = []

    def make() -> torch.nn.Module:
        made.append(1)
        return nets.train_classifier("cnn", x, y, epochs=1, batch_size=20)

    a = gans.cached_judge("test-once", make, x)
    b = gans.cached_judge("test-once", make, x)
    assert a is b and made == [1]


# --------------------------------------------------------------------------- progress


def test_line_progress_writes_steps_and_ends_the_line() -> None:
    out = io.StringIO()
    p = tu.LineProgress("cnn train", out, interval_s=0.0)
    for i in range(1, 6):
        p(i, 5, "epoch 1/1")
    text = out.getvalue()
    assert "cnn train: 1/5 steps (epoch 1/1) ETA" in text
    assert text.endswith("cnn train: 5/5 steps (epoch 1/1)\x1b[K\n")


def test_terminal_progress_is_quiet_off_a_tty_and_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("CI", raising=False)
    assert tu.terminal_progress("x", io.StringIO()) is None
    assert isinstance(tu.terminal_progress("x", Tty()), tu.LineProgress)
    monkeypatch.setenv("CI", "true")
    assert tu.terminal_progress("x", Tty()) is None

"""Texture NCA model: perception filters, parameter and MAC counts, torch step."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bench.workloads.nca import model as M  # noqa: E402
from greenbench.errors import ConfigError  # noqa: E402

pytestmark = pytest.mark.torch


def test_perception_filters_are_identity_sobel_and_laplacian() -> None:
    f = M.perception_filters()
    assert f.shape == (4, 3, 3)
    assert f.dtype == np.float32
    np.testing.assert_array_equal(f[0], [[0, 0, 0], [0, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(f[1], [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_array_equal(f[2], f[1].T)
    np.testing.assert_array_equal(f[3], [[1, 2, 1], [2, -12, 2], [1, 2, 1]])
    # a Laplacian sums to zero; Sobel filters are antisymmetric
    assert f[3].sum() == 0
    np.testing.assert_array_equal(f[1], -f[1][:, ::-1])


def _perceive_numpy(x: np.ndarray) -> np.ndarray:
    """Reference perception: explicit circular cross-correlation, channel-major output."""
    c, h, w = x.shape
    f = M.perception_filters()
    out = np.zeros((c * 4, h, w), dtype=np.float64)
    for ch in range(c):
        for k in range(4):
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    shifted = np.roll(x[ch], shift=(-dy, -dx), axis=(0, 1))  # shifted[y, x] = x[y+dy, x+dx]
                    out[4 * ch + k] += f[k, dy + 1, dx + 1] * shifted
    return out


def test_perception_matches_explicit_circular_cross_correlation() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, M.CHANNELS, 7, 5)).astype(np.float32)
    model = M.TextureNCA()
    got = model.perceive(torch.from_numpy(x)).detach().numpy()[0]
    np.testing.assert_allclose(got, _perceive_numpy(x[0]), atol=1e-5)


def test_sobel_x_responds_to_a_horizontal_ramp() -> None:
    x = np.zeros((1, M.CHANNELS, 6, 6), dtype=np.float32)
    x[0, 0] = np.arange(6, dtype=np.float32)[None, :]  # value grows with column index x
    p = M.TextureNCA().perceive(torch.from_numpy(x)).detach().numpy()[0]
    assert p[1, 2, 2] == pytest.approx(8.0)  # Sobel x: (1 + 2 + 1) * 2 per unit step
    assert p[2, 2, 2] == pytest.approx(0.0)  # Sobel y sees nothing
    assert p[3, 2, 2] == pytest.approx(0.0)  # linear ramp: Laplacian zero inside


def test_parameter_count_is_about_6k_and_matches_the_module() -> None:
    model = M.TextureNCA()
    n = sum(p.numel() for p in model.parameters())
    assert n == M.param_count() == 48 * 96 + 96 + 96 * 12 == 5856


def test_macs_per_cell() -> None:
    macs = M.macs_per_cell()
    assert macs["mlp"] == 48 * 96 + 96 * 12
    assert macs["perception"] == 12 * (6 + 6 + 9)
    assert macs["total"] == macs["perception"] + macs["mlp"] + macs["update"]


def test_fresh_model_leaves_the_state_unchanged() -> None:
    """The last layer starts at zero (Niklasson et al. 2021), so Δ = 0."""
    rng = np.random.default_rng(0)
    x = torch.from_numpy(M.seed_state(rng, 2, 8, 8, noise=0.5))
    with torch.no_grad():
        y = M.TextureNCA(seed=1)(x)
    assert torch.equal(x, y)


def test_mask_selects_updated_cells() -> None:
    w = M.random_weights(4)
    model = M.model_from_weights(w)
    rng = np.random.default_rng(1)
    x = torch.from_numpy(M.seed_state(rng, 1, 8, 8, noise=0.5))
    mask = torch.from_numpy(M.draw_masks(rng, 1, 8, 8))[0][None, None]
    with torch.no_grad():
        y = model(x, mask)
    changed = (y != x).any(dim=1)[0].numpy()
    assert np.array_equal(changed, mask[0, 0].numpy() == 1)


def test_draw_masks_fire_rate_and_reproducibility() -> None:
    a = M.draw_masks(np.random.default_rng(5), 10, 32, 32)
    b = M.draw_masks(np.random.default_rng(5), 10, 32, 32)
    assert np.array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, 1.0}
    assert 0.45 < a.mean() < 0.55


def test_weights_round_trip_between_torch_and_arrays() -> None:
    w = M.random_weights(2)
    w_back = M.model_from_weights(w).weights()
    for name in ("w1", "b1", "w2"):
        np.testing.assert_array_equal(getattr(w, name), getattr(w_back, name))


def test_weights_with_wrong_shape_are_rejected() -> None:
    w = M.random_weights(0)
    with pytest.raises(ConfigError, match=r"NCAWeights.w1: expected .*\(48, 96\)"):
        M.NCAWeights(w.w1[:10], w.b1, w.w2)
    bad = w.w2.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ConfigError, match=r"NCAWeights\.w2: contains NaN"):
        M.NCAWeights(w.w1, w.b1, bad)


def test_bad_fire_rate_is_rejected() -> None:
    with pytest.raises(ConfigError, match="fire_rate"):
        M.TextureNCA(fire_rate=0.0)


def test_to_rgb_layout_and_range() -> None:
    x = np.zeros((2, M.CHANNELS, 4, 5), dtype=np.float32)
    x[:, 0] = 0.7  # red channel: 1.2 -> clipped to 1
    img = M.to_rgb(x)
    assert img.shape == (2, 4, 5, 3)
    assert img[..., 0].max() == 1.0
    assert img[..., 1].max() == pytest.approx(0.5)

"""The GAN quality metrics: Fréchet distance, Inception-Score analogue, Wasserstein-1, image grids."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("torch")

from bench.workloads import gans
from greenbench.errors import DataError


def _features(n: int = 400, d: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d)


def test_frechet_of_a_set_to_itself_is_zero() -> None:
    mu, sigma = gans.gaussian_stats(_features())
    assert gans.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)


def test_frechet_grows_with_added_noise() -> None:
    f = _features()
    ref = gans.gaussian_stats(f)
    rng = np.random.default_rng(1)
    noise = rng.normal(size=f.shape)
    distances = [gans.frechet_distance(*gans.gaussian_stats(f + s * noise), *ref) for s in (0.0, 0.3, 1.0, 3.0)]
    assert distances[0] == pytest.approx(0.0, abs=1e-9)
    assert all(a < b for a, b in itertools.pairwise(distances)), distances


def test_frechet_closed_forms() -> None:
    # 1-D: (m1-m2)² + s1² + s2² - 2 s1 s2 = (m1-m2)² + (s1-s2)²
    assert gans.frechet_distance(np.array([0.0]), np.array([[1.0]]), np.array([1.0]), np.array([[4.0]])) == (
        pytest.approx(1.0 + 1.0))
    # commuting (diagonal) covariances: Σ (μ diff)² + Σ (√a - √b)²
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([0.0, -1.0, 2.0])
    expected = 4.0 + (1 - 2) ** 2 + 0 + (3 - 1) ** 2
    assert gans.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected)


def test_frechet_matches_the_sqrtm_formula_on_non_commuting_covariances() -> None:
    import scipy.linalg

    rng = np.random.default_rng(3)
    m1, m2 = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = m1 @ m1.T + 0.1 * np.eye(5), m2 @ m2.T + 0.1 * np.eye(5)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)
    assert gans.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), d=st.integers(1, 6))
def test_frechet_is_symmetric_and_non_negative(seed: int, d: int) -> None:
    rng = np.random.default_rng(seed)
    m1, m2 = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    s1, s2 = m1 @ m1.T, m2 @ m2.T
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    ab, ba = gans.frechet_distance(mu1, s1, mu2, s2), gans.frechet_distance(mu2, s2, mu1, s1)
    assert ab >= 0.0
    assert ab == pytest.approx(ba, rel=1e-7, abs=1e-9)


def test_frechet_rejects_mismatched_shapes() -> None:
    with pytest.raises(DataError, match=r"frechet_distance: .*expected"):
        gans.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_gaussian_stats_shape_and_errors() -> None:
    mu, sigma = gans.gaussian_stats(_features(n=50, d=4))
    assert mu.shape == (4,) and sigma.shape == (4, 4)
    np.testing.assert_allclose(sigma, sigma.T)
    with pytest.raises(DataError, match="features: got shape"):
        gans.gaussian_stats(np.zeros((1, 4)))
    with pytest.raises(DataError, match="features: got NaN"):
        gans.gaussian_stats(np.full((3, 2), np.nan))


def test_inception_score_of_uniform_predictions_is_one() -> None:
    assert gans.inception_score(np.full((100, 10), 0.1)) == pytest.approx(1.0)


def test_inception_score_of_identical_confident_predictions_is_one() -> None:
    p = np.zeros((50, 10))
    p[:, 3] = 1.0
    assert gans.inception_score(p) == pytest.approx(1.0)


def test_inception_score_of_confident_balanced_predictions_is_the_class_count() -> None:
    p = np.eye(10)[np.arange(200) % 10]
    assert gans.inception_score(p) == pytest.approx(10.0)
    # 2 equally used classes, each predicted with certainty -> exp(ln 2) = 2
    assert gans.inception_score(np.eye(10)[np.arange(100) % 2]) == pytest.approx(2.0)


def test_inception_score_rejects_non_probabilities() -> None:
    with pytest.raises(DataError, match="probs"):
        gans.inception_score(np.full((4, 10), 0.2))
    with pytest.raises(DataError, match="probs"):
        gans.inception_score(np.zeros(10))


def test_wasserstein1_on_known_distributions() -> None:
    assert gans.wasserstein1([0.0, 1.0, 3.0], [5.0, 6.0, 8.0]) == pytest.approx(5.0)  # a shift by 5
    x = gans.gan1d_reference(5000, seed=1)
    assert gans.wasserstein1(x, x) == pytest.approx(0.0)
    assert gans.wasserstein1(x + 0.7, x) == pytest.approx(0.7)
    # point mass at 4 vs N(4, σ²): E|X - 4| = σ √(2/π)
    assert gans.wasserstein1(np.full(10, 4.0), x) == pytest.approx(gans.NORMAL_STD * math.sqrt(2 / math.pi),
                                                                   rel=0.03)
    with pytest.raises(DataError, match="wasserstein1"):
        gans.wasserstein1([], [1.0])


def test_gan1d_reference_is_the_target_normal_and_seeded() -> None:
    x = gans.gan1d_reference(20_000, seed=4)
    assert x.mean() == pytest.approx(gans.NORMAL_MEAN, abs=0.03)
    assert x.std() == pytest.approx(gans.NORMAL_STD, abs=0.03)
    np.testing.assert_array_equal(x, gans.gan1d_reference(20_000, seed=4))


def test_image_grid_places_images() -> None:
    imgs = np.arange(5 * 2 * 3, dtype=np.uint8).reshape(5, 2, 3) + 1
    grid = gans.image_grid(imgs, columns=2, pad=1)
    assert grid.shape == (3 * 3 + 1, 2 * 4 + 1)
    np.testing.assert_array_equal(grid[1:3, 1:4], imgs[0])
    np.testing.assert_array_equal(grid[1:3, 5:8], imgs[1])
    np.testing.assert_array_equal(grid[7:9, 1:4], imgs[4])
    assert grid[7:9, 5:8].sum() == 0  # the missing sixth image stays blank
    with pytest.raises(DataError, match="images"):
        gans.image_grid(np.zeros((2, 2)))

"""Numba NCA step agrees with the torch step, step for step, to float32 rounding."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("numba")

from bench.workloads.nca import kernel as K  # noqa: E402
from bench.workloads.nca import model as M  # noqa: E402
from greenbench.errors import ConfigError  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.numba]

#: agreement required by issue 7 over 100 steps (float32 rounding, not a tolerance for bugs)
MAX_ABS_DIFF = 1e-5


def _torch_run(weights: M.NCAWeights, x0: np.ndarray, masks: np.ndarray) -> list[np.ndarray]:
    model = M.model_from_weights(weights)
    x = torch.from_numpy(x0)
    out = []
    with torch.no_grad():
        for m in masks:
            x = model(x, torch.from_numpy(m)[None, None])
            out.append(x.numpy().copy())
    return out


@pytest.mark.parametrize("skip", [False, True], ids=["all-cells", "skip-cells"])
def test_numba_matches_torch_for_100_steps(skip: bool) -> None:
    rng = np.random.default_rng(11)
    h, w = 20, 13  # not square: catches a swapped x/y
    weights = M.random_weights(7)
    x0 = M.seed_state(rng, 1, h, w, noise=0.1)  # random rules grow the state; stays O(1) for 100 steps
    masks = M.draw_masks(rng, 100, h, w)
    ref = _torch_run(weights, x0, masks)
    state = K.nchw_to_hwc(x0)
    worst = 0.0
    for t in range(100):
        state = K.run(state, masks[t : t + 1], weights, skip=skip)
        worst = max(worst, float(np.abs(K.hwc_to_nchw(state) - ref[t]).max()))
    assert worst <= MAX_ABS_DIFF
    # the dynamics are not trivial: the state moved well beyond rounding
    assert float(np.abs(ref[-1] - x0).max()) > 0.05


def test_skip_and_all_agree_and_non_firing_cells_are_copied() -> None:
    rng = np.random.default_rng(2)
    weights = M.random_weights(3)
    x0 = K.nchw_to_hwc(M.seed_state(rng, 1, 16, 16, noise=0.5))
    masks = M.draw_masks(rng, 1, 16, 16)
    a = K.run(x0, masks, weights, skip=False)
    b = K.run(x0, masks, weights, skip=True)
    np.testing.assert_allclose(a, b, atol=1e-6)
    off = masks[0] == 0
    assert np.array_equal(b[off], x0[off])
    assert not np.array_equal(b[~off], x0[~off])


def test_run_leaves_its_input_untouched() -> None:
    rng = np.random.default_rng(0)
    x0 = K.nchw_to_hwc(M.seed_state(rng, 1, 8, 8, noise=0.5))
    before = x0.copy()
    K.run(x0, M.draw_masks(rng, 3, 8, 8), M.random_weights(0))
    assert np.array_equal(x0, before)


def test_layout_helpers_round_trip() -> None:
    x = np.arange(2 * 3 * 12, dtype=np.float32).reshape(1, 12, 2, 3)
    hwc = K.nchw_to_hwc(x)
    assert hwc.shape == (2, 3, 12)
    assert hwc[1, 2, 5] == x[0, 5, 1, 2]
    assert np.array_equal(K.hwc_to_nchw(hwc), x)


def test_bad_shapes_give_clear_errors() -> None:
    w = M.random_weights(0)
    masks = np.ones((1, 8, 8), dtype=np.float32)
    with pytest.raises(ConfigError, match=r"state: expected a float32 array \(H, W, 12\), got \(8, 8, 3\)"):
        K.run(np.zeros((8, 8, 3), np.float32), masks, w)
    with pytest.raises(ConfigError, match=r"masks: expected \(steps, 8, 8\), got \(1, 8, 9\)"):
        K.run(np.zeros((8, 8, 12), np.float32), np.ones((1, 8, 9), np.float32), w)
    with pytest.raises(ConfigError, match="at least 3×3"):
        K.run(np.zeros((2, 8, 12), np.float32), np.ones((1, 2, 8), np.float32), w)


def test_numba_matches_torch_with_the_shipped_trained_rule() -> None:
    """The trained rule (bounded dynamics) from noise: 100 steps, both kernels."""
    from pathlib import Path

    from bench.workloads.nca import images

    path = Path(K.__file__).with_name("brick_64.npz")
    weights, _ = images.load_checkpoint(path)
    rng = np.random.default_rng(4)
    x0 = M.seed_state(rng, 1, 24, 24)
    masks = M.draw_masks(rng, 100, 24, 24)
    ref = _torch_run(weights, x0, masks)
    for skip in (False, True):
        state, worst = K.nchw_to_hwc(x0), 0.0
        for t in range(100):
            state = K.run(state, masks[t : t + 1], weights, skip=skip)
            worst = max(worst, float(np.abs(K.hwc_to_nchw(state) - ref[t]).max()))
        assert worst <= MAX_ABS_DIFF
    assert float(np.abs(ref[-1] - x0).max()) > 0.1


@pytest.mark.parametrize(("h", "w"), [(70, 23), (5, 801), (3, 3), (4, 4)],
                         ids=["odd-width", "wide-rows", "smallest", "even"])
def test_dense_kernel_pairs_of_cells_match_torch(h: int, w: int) -> None:
    """The micro-kernel takes cells two at a time: an odd row's last cell is paired with a zero row that is
    computed and dropped; neighbours wrap at the edges."""
    rng = np.random.default_rng(5)
    weights = M.random_weights(9, scale_w2=0.5)
    x0 = M.seed_state(rng, 1, h, w, noise=0.5)
    masks = M.draw_masks(rng, 3, h, w)
    ref = _torch_run(weights, x0, masks)[-1]
    got = K.hwc_to_nchw(K.run(K.nchw_to_hwc(x0), masks, weights))
    assert float(np.abs(got - ref).max()) <= MAX_ABS_DIFF
    assert float(np.abs(ref - x0).max()) > 0.01

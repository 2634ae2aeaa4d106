"""The texture NCA in PyTorch, its weights as plain arrays, and shared masks.

Architecture from Niklasson, Mordvintsev, Randazzo & Levin, "Self-Organising
Textures", Distill 2021 (doi:10.23915/distill.00027.003), section "Model" and
its PyTorch notebook: 12 state channels, perception by the fixed depthwise
filters identity, Sobel x, Sobel y (= Sobel xᵀ) and the 9-point Laplacian
``[[1,2,1],[2,-12,2],[1,2,1]]`` with circular padding, a 1×1-conv MLP
48→96 (ReLU)→12 (second layer without bias, zero-initialised) and a
stochastic update ``x + Δ·mask`` with each cell firing with probability 0.5.

Layouts: torch works in NCHW; the perception vector of a cell is ordered
channel-major, ``p[4*c + f]`` for channel ``c`` and filter ``f`` (identity,
Sobel x, Sobel y, Laplacian), as PyTorch's grouped convolution orders it.
:class:`NCAWeights` holds the MLP as plain float32 arrays ``w1 (48, 96)``,
``b1 (96,)``, ``w2 (96, 12)`` for the Numba kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from greenbench.errors import ConfigError

#: state channels: RGB + 9 hidden (Niklasson et al. 2021, "Model")
CHANNELS = 12
#: perception filters per channel: identity, Sobel x, Sobel y, Laplacian
N_FILTERS = 4
#: hidden units of the per-cell MLP (Niklasson et al. 2021)
HIDDEN = 96
#: probability that a cell updates in a step (Niklasson et al. 2021)
FIRE_RATE = 0.5
PERCEPTION = CHANNELS * N_FILTERS

_IDENTITY = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float32)
_SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
_LAPLACIAN = np.array([[1, 2, 1], [2, -12, 2], [1, 2, 1]], dtype=np.float32)


def perception_filters() -> np.ndarray:
    """The four 3×3 filters (identity, Sobel x, Sobel y, Laplacian), shape (4, 3, 3).

    They are applied as cross-correlation (like ``torch.conv2d``): row index is
    y (downwards), column index is x (rightwards).
    """
    return np.stack([_IDENTITY, _SOBEL_X, _SOBEL_X.T, _LAPLACIAN]).astype(np.float32)


def param_count(channels: int = CHANNELS, hidden: int = HIDDEN) -> int:
    """Trainable parameters: ``w1`` + ``b1`` + ``w2`` (no bias on the last layer)."""
    return channels * N_FILTERS * hidden + hidden + hidden * channels


def macs_per_cell(channels: int = CHANNELS, hidden: int = HIDDEN) -> dict[str, int]:
    """Multiply-accumulates per cell and step, by part (every cell computed).

    Perception counts the non-zero taps of Sobel x (6), Sobel y (6) and the
    Laplacian (9) per channel; the identity is a copy.  The residual update
    ``x + Δ·mask`` counts one MAC per channel.
    """
    nonzero = int(np.count_nonzero(perception_filters()[1:]))
    perception = channels * nonzero
    mlp = channels * N_FILTERS * hidden + hidden * channels
    update = channels
    return {"perception": perception, "mlp": mlp, "update": update,
            "total": perception + mlp + update}


@dataclass(frozen=True)
class NCAWeights:
    """The MLP of the NCA as plain float32 arrays (the Numba kernel's input)."""

    w1: np.ndarray  # (48, 96): perception -> hidden
    b1: np.ndarray  # (96,)
    w2: np.ndarray  # (96, 12): hidden -> update

    def __post_init__(self) -> None:
        expected = {"w1": (PERCEPTION, HIDDEN), "b1": (HIDDEN,), "w2": (HIDDEN, CHANNELS)}
        for name, shape in expected.items():
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray) or arr.shape != shape:
                got = getattr(arr, "shape", type(arr).__name__)
                raise ConfigError(f"NCAWeights.{name}: expected a float32 array of shape {shape}, got {got}")
            if arr.dtype != np.float32 or not arr.flags.c_contiguous:
                object.__setattr__(self, name, np.ascontiguousarray(arr, dtype=np.float32))
            if not np.all(np.isfinite(getattr(self, name))):
                raise ConfigError(f"NCAWeights.{name}: contains NaN or infinity")


class TextureNCA(nn.Module):
    """Texture NCA of Niklasson et al. (2021) in NCHW layout."""

    filters: torch.Tensor

    def __init__(self, seed: int = 0, channels: int = CHANNELS, hidden: int = HIDDEN,
                 fire_rate: float = FIRE_RATE) -> None:
        super().__init__()
        if not 0.0 < fire_rate <= 1.0:
            raise ConfigError(f"TextureNCA.fire_rate: expected a probability in (0, 1], got {fire_rate}")
        self.channels = channels
        self.fire_rate = fire_rate
        gen = torch.Generator().manual_seed(seed)
        self.w1 = nn.Conv2d(channels * N_FILTERS, hidden, 1)
        self.w2 = nn.Conv2d(hidden, channels, 1, bias=False)
        with torch.no_grad():
            # PyTorch's default Conv2d init (Kaiming-uniform, a=√5), drawn from our generator
            bound = 1.0 / float(np.sqrt(channels * N_FILTERS))
            self.w1.weight.uniform_(-bound, bound, generator=gen)
            assert self.w1.bias is not None
            self.w1.bias.uniform_(-bound, bound, generator=gen)
            self.w2.weight.zero_()
        filt = torch.from_numpy(perception_filters())
        self.register_buffer("filters", filt.repeat(channels, 1, 1)[:, None], persistent=False)

    def perceive(self, x: torch.Tensor) -> torch.Tensor:
        """Depthwise perception with circular padding: (B, C, H, W) -> (B, 4C, H, W)."""
        padded = F.pad(x, (1, 1, 1, 1), mode="circular")
        return F.conv2d(padded, self.filters, groups=self.channels)

    def delta(self, x: torch.Tensor) -> torch.Tensor:
        """The MLP's proposed update Δ for every cell, (B, C, H, W)."""
        return self.w2(torch.relu(self.w1(self.perceive(x))))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """One step.  ``mask`` (B or 1, 1, H, W) of 0/1; drawn with ``generator`` if None."""
        if mask is None:
            b, _, h, w = x.shape
            mask = (torch.rand(b, 1, h, w, generator=generator, device=x.device) < self.fire_rate)
            mask = mask.to(x.dtype)
        return x + self.delta(x) * mask

    def weights(self) -> NCAWeights:
        """The MLP as plain arrays for :mod:`bench.workloads.nca.kernel`."""
        w1 = self.w1.weight.detach().cpu().numpy()[:, :, 0, 0].T
        assert self.w1.bias is not None
        b1 = self.w1.bias.detach().cpu().numpy()
        w2 = self.w2.weight.detach().cpu().numpy()[:, :, 0, 0].T
        return NCAWeights(np.ascontiguousarray(w1), b1.copy(), np.ascontiguousarray(w2))

    def load_weights(self, weights: NCAWeights) -> None:
        with torch.no_grad():
            self.w1.weight.copy_(torch.from_numpy(weights.w1.T.copy())[:, :, None, None])
            assert self.w1.bias is not None
            self.w1.bias.copy_(torch.from_numpy(weights.b1))
            self.w2.weight.copy_(torch.from_numpy(weights.w2.T.copy())[:, :, None, None])


def random_weights(seed: int, scale_w2: float = 0.02) -> NCAWeights:
    """Seeded weights with a *non-zero* last layer, for speed and agreement checks.

    A freshly initialised NCA has ``w2 = 0`` and never changes its state,
    which would make backend comparisons trivial; speed does not depend on
    the values.
    """
    model = TextureNCA(seed=seed)
    rng = np.random.default_rng(seed)
    w = model.weights()
    w2 = (rng.standard_normal(w.w2.shape) * scale_w2 / np.sqrt(HIDDEN)).astype(np.float32)
    return NCAWeights(w.w1, w.b1, w2)


def model_from_weights(weights: NCAWeights) -> TextureNCA:
    model = TextureNCA()
    model.load_weights(weights)
    return model


def draw_masks(rng: np.random.Generator, steps: int, height: int, width: int,
               fire_rate: float = FIRE_RATE) -> np.ndarray:
    """Update masks for ``steps`` steps, (steps, H, W) float32 of 0/1.

    Drawn once by a numpy Generator outside both backends, so the torch and
    Numba steps can be compared step for step.
    """
    return (rng.random((steps, height, width), dtype=np.float32) < fire_rate).astype(np.float32)


def seed_state(rng: np.random.Generator, batch: int, height: int, width: int,
               noise: float = 0.1) -> np.ndarray:
    """Starting states (B, C, H, W): uniform noise in ±``noise`` (0 gives the reference's zeros)."""
    shape = (batch, CHANNELS, height, width)
    if noise == 0.0:
        return np.zeros(shape, dtype=np.float32)
    return ((rng.random(shape, dtype=np.float32) * 2 - 1) * noise).astype(np.float32)


def to_rgb(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """RGB image(s) of NCHW state(s): channels 0–2 + 0.5, clipped to [0, 1], as (..., H, W, 3)."""
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    rgb = np.moveaxis(arr[..., :3, :, :], -3, -1) + 0.5
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)

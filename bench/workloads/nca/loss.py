"""Texture losses that need no downloaded weights.

The Distill article compares VGG-16 features of the NCA's RGB channels with
those of the target (Niklasson et al. 2021, "Texture loss"; the sliced
Wasserstein form is Heitz, Vanhoey, Chambon & Belcour, "A Sliced Wasserstein
Loss for Neural Texture Synthesis", CVPR 2021).  Pretrained VGG weights
cannot be downloaded here, so the features are the image's own 3×3 patches
at several scales (an average-pooling pyramid, as in multi-scale patch-based
texture synthesis), with no learned weights at all:

- :class:`SlicedWassersteinLoss` (the default): at each pyramid level, the
  patch vectors of the generated image and of the target are projected on
  fresh random unit directions, sorted, and compared (squared difference of
  the sorted projections = 1-D Wasserstein-2 per direction, Heitz et al.
  2021, eq. 4).  Matching every 1-D projection matches the whole patch
  *distribution*, including its non-Gaussian parts (thin bright mortar
  lines between flat bricks).
- :class:`GramLoss` (the baseline kept for the docs' before/after): mean and
  uncentred second moments (Gram matrix) of the same patch features, as in
  Gatys, Ecker & Bethge, "Texture Synthesis Using Convolutional Neural
  Networks", NeurIPS 2015.  On raw patches it only pins down the power
  spectrum, i.e. a Gaussian texture: blurry where the target has edges.

Images are torch tensors (B, 3, H, W) with values about [0, 1].  The
generated image is periodic (the NCA lives on a torus) and is padded
circularly; the target photo is not, so its patches are taken "valid".
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from greenbench.errors import ConfigError

PATCH = 3


def _check_target(target: np.ndarray, levels: int) -> torch.Tensor:
    if not isinstance(target, np.ndarray) or target.ndim != 3 or target.shape[2] != 3:
        got = getattr(target, "shape", type(target).__name__)
        raise ConfigError(f"texture loss target: expected an (H, W, 3) array, got {got}")
    min_side = PATCH * 2 ** (levels - 1)
    if min(target.shape[:2]) < min_side:
        raise ConfigError(f"texture loss target: {levels} levels need at least {min_side}×{min_side} "
                          f"pixels, got {target.shape[0]}×{target.shape[1]}")
    if levels < 1:
        raise ConfigError(f"texture loss levels: expected >= 1, got {levels}")
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(target, -1, 0), dtype=np.float32))[None]


def _pyramid(img: torch.Tensor, levels: int) -> list[torch.Tensor]:
    out = [img]
    for _ in range(levels - 1):
        out.append(F.avg_pool2d(out[-1], 2))
    return out


def patches(img: torch.Tensor, periodic: bool) -> torch.Tensor:
    """3×3 patch vectors of (B, 3, H, W) -> (B, N, 27); circular padding if ``periodic``."""
    if periodic:
        img = F.pad(img, (1, 1, 1, 1), mode="circular")
    return F.unfold(img, PATCH).transpose(1, 2)


class SlicedWassersteinLoss:
    """Multi-scale sliced Wasserstein distance between 3×3 patch distributions."""

    def __init__(self, target: np.ndarray, levels: int = 4, projections: int = 32) -> None:
        self.levels = levels
        self.projections = projections
        t = _check_target(target, levels)
        self.target_feats = [patches(level, periodic=False)[0] for level in _pyramid(t, levels)]

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean over batch and levels; fresh directions from ``generator`` on each call."""
        total = images.new_zeros(())
        dim = self.target_feats[0].shape[1]
        for gen_level, tgt in zip(_pyramid(images, self.levels), self.target_feats, strict=True):
            feats = patches(gen_level, periodic=True)  # (B, N, D)
            dirs = torch.randn(dim, self.projections, generator=generator)
            dirs = dirs / dirs.norm(dim=0, keepdim=True)
            proj_g = torch.sort(feats @ dirs, dim=1).values  # (B, N, K)
            proj_t = torch.sort(tgt @ dirs, dim=0).values  # (Nt, K)
            n_gen, n_tgt = proj_g.shape[1], proj_t.shape[0]
            # target quantiles at the generated sample's ranks (mid-rank rule)
            ranks = ((torch.arange(n_gen, dtype=torch.float64) + 0.5) * n_tgt / n_gen).long()
            total = total + ((proj_g - proj_t[ranks][None]) ** 2).mean()
        return total / self.levels


class GramLoss:
    """Mean + Gram-matrix statistics of the same multi-scale 3×3 patch features (baseline)."""

    def __init__(self, target: np.ndarray, levels: int = 4) -> None:
        self.levels = levels
        t = _check_target(target, levels)
        self.target_stats = [self._stats(patches(level, periodic=False)) for level in _pyramid(t, levels)]

    @staticmethod
    def _stats(feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = feats.shape[1]
        return feats.mean(dim=1), feats.transpose(1, 2) @ feats / n

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        total = images.new_zeros(())
        for gen_level, (mean_t, gram_t) in zip(_pyramid(images, self.levels), self.target_stats, strict=True):
            mean_g, gram_g = self._stats(patches(gen_level, periodic=True))
            total = total + ((mean_g - mean_t) ** 2).mean() + ((gram_g - gram_t) ** 2).mean()
        return total / self.levels


LOSSES = {"sliced_wasserstein": SlicedWassersteinLoss, "gram": GramLoss}


def make_loss(name: str, target: np.ndarray, levels: int = 4) -> SlicedWassersteinLoss | GramLoss:
    if name not in LOSSES:
        raise ConfigError(f"texture loss: unknown name {name!r}; expected one of {sorted(LOSSES)}")
    return LOSSES[name](target, levels=levels)

"""Seeded training of the texture NCA (PyTorch) and its evaluation.

The loop follows the Distill article's texture notebook (Niklasson et al.
2021): a pool of states; each step draws a batch from the pool, replaces one
element with a fresh seed every ``reseed_every`` steps, runs a rollout of a
random number of steps, and takes an Adam step on texture loss + overflow
penalty with each parameter's gradient normalised to unit norm; the rolled-out
states go back into the pool.  Added here for stability on short runs (a
prototype at 64² diverged without them): a linear learning-rate warm-up and a
step decay.

Everything random comes from ``TrainConfig.seed`` (a numpy Generator for the
pool and rollout lengths, a torch Generator for masks, directions and the
initial weights), so a run repeats exactly for a seed and a thread count.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from greenbench.errors import ConfigError

from .images import load_target
from .loss import make_loss
from .model import TextureNCA, macs_per_cell, param_count, seed_state


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; sizes in cells/pixels, counts in steps."""

    texture: str = "brick"  # built-in name or image path
    target_size_px: int = 128  # the target photo is resized to this
    grid: int = 64  # training grid side (the rule runs at any size afterwards)
    batch: int = 4
    pool_size: int = 256
    rollout_min: int = 32
    rollout_max: int = 64
    steps: int = 1000
    lr: float = 2e-3
    warmup_steps: int = 50
    decay_at: tuple[float, ...] = (0.5, 0.8)  # fractions of ``steps`` where lr is multiplied by 0.3
    overflow_weight: float = 10.0
    reseed_every: int = 8
    seed_noise: float = 0.1
    loss: str = "sliced_wasserstein"
    loss_levels: int = 4
    eval_steps: int = 128
    eval_batch: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("target_size_px", "grid", "batch", "pool_size", "rollout_min", "steps", "eval_steps",
                     "eval_batch", "reseed_every", "loss_levels"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"TrainConfig.{name}: expected a positive integer, got {value!r}")
        if self.rollout_max < self.rollout_min:
            raise ConfigError(f"TrainConfig.rollout_max: expected >= rollout_min ({self.rollout_min}), "
                              f"got {self.rollout_max}")
        if self.pool_size < self.batch:
            raise ConfigError(f"TrainConfig.pool_size: expected >= batch ({self.batch}), got {self.pool_size}")
        if self.grid < 2 ** (self.loss_levels - 1) * 3:
            raise ConfigError(f"TrainConfig.grid: {self.loss_levels} loss levels need a grid of at least "
                              f"{2 ** (self.loss_levels - 1) * 3}, got {self.grid}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"TrainConfig.lr: expected a positive finite number, got {self.lr}")

    def macs_per_step(self) -> int:
        """Forward MACs of one training step (all rollout cells, mean rollout length)."""
        mean_rollout = (self.rollout_min + self.rollout_max) / 2
        return int(macs_per_cell()["total"] * self.grid**2 * self.batch * mean_rollout)


@dataclass
class TrainResult:
    model: TextureNCA
    config: TrainConfig
    loss_history: list[float] = field(default_factory=list)
    texture_loss_init: float = math.nan
    texture_loss: float = math.nan
    lr_history: list[float] = field(default_factory=list)
    rollout_steps: list[int] = field(default_factory=list)

    def forward_macs(self) -> int:
        """Forward MACs of all rollouts run so far (every cell of every batch element)."""
        return macs_per_cell()["total"] * self.config.grid**2 * self.config.batch * sum(self.rollout_steps)

    def meta(self) -> dict[str, object]:
        """Checkpoint metadata."""
        return {"config": asdict(self.config), "texture_loss": self.texture_loss,
                "texture_loss_init": self.texture_loss_init, "steps": len(self.loss_history),
                "params": param_count()}


def lr_at(config: TrainConfig, step: int) -> float:
    """Learning rate at ``step``: linear warm-up, then ×0.3 at each ``decay_at`` fraction."""
    warm = min(1.0, (step + 1) / max(1, config.warmup_steps))
    decays = sum(1 for frac in config.decay_at if step >= frac * config.steps)
    return config.lr * warm * 0.3**decays


def overflow_penalty(x: torch.Tensor) -> torch.Tensor:
    """Mean amount by which states leave [-1, 1] (Niklasson et al. 2021 notebook use the sum)."""
    return (x - x.clamp(-1.0, 1.0)).abs().mean()


def rgb(x: torch.Tensor) -> torch.Tensor:
    """RGB channels of NCHW states as images about [0, 1] (channels 0–2 + 0.5, unclipped)."""
    return x[:, :3] + 0.5


@torch.no_grad()
def evaluate(model: TextureNCA, config: TrainConfig, grid: int | None = None) -> tuple[float, torch.Tensor]:
    """Texture loss after ``eval_steps`` steps from fresh seeds, with fixed directions.

    Deterministic for a seed: seeds, masks and projection directions come
    from generators seeded by ``config.seed + 1``.  Returns (loss, final states).
    """
    side = grid or config.grid
    rng = np.random.default_rng(config.seed + 1)
    gen = torch.Generator().manual_seed(config.seed + 1)
    x = torch.from_numpy(seed_state(rng, config.eval_batch, side, side, config.seed_noise))
    for _ in range(config.eval_steps):
        x = model(x, generator=gen)
    loss_fn = make_loss("sliced_wasserstein", load_target(config.texture, config.target_size_px),
                        levels=config.loss_levels)
    eval_gen = torch.Generator().manual_seed(config.seed + 2)
    value = float(np.mean([float(loss_fn(rgb(x), eval_gen)) for _ in range(4)]))
    return value, x


def train(config: TrainConfig, on_step: Callable[[int, TextureNCA, float], None] | None = None) -> TrainResult:
    """Train an NCA from scratch; returns the model, its loss history and eval losses.

    ``on_step(step, model, texture_loss)`` is called after each step (e.g. to
    write checkpoints during a long run).  The quality figure (``texture_loss``) is always the sliced Wasserstein
    loss measured by :func:`evaluate`, whatever loss was trained, so runs with
    different training losses are compared on one scale.
    """
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    target = load_target(config.texture, config.target_size_px)
    loss_fn = make_loss(config.loss, target, levels=config.loss_levels)
    model = TextureNCA(seed=config.seed)
    result = TrainResult(model=model, config=config)
    result.texture_loss_init, _ = evaluate(model, config)

    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    pool = torch.from_numpy(seed_state(rng, config.pool_size, config.grid, config.grid, config.seed_noise))
    for step in range(config.steps):
        lr = lr_at(config, step)
        for group in opt.param_groups:
            group["lr"] = lr
        idx = rng.choice(config.pool_size, config.batch, replace=False)
        x = pool[idx]
        if step % config.reseed_every == 0:
            x[:1] = torch.from_numpy(seed_state(rng, 1, config.grid, config.grid, config.seed_noise))
        n_steps = int(rng.integers(config.rollout_min, config.rollout_max + 1))
        for _ in range(n_steps):
            x = model(x, generator=gen)
        texture = loss_fn(rgb(x), gen)
        loss = texture + config.overflow_weight * overflow_penalty(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                if p.grad is not None:
                    p.grad /= p.grad.norm() + 1e-8
        opt.step()
        pool[idx] = x.detach()
        result.loss_history.append(float(texture.detach()))
        result.lr_history.append(lr)
        result.rollout_steps.append(n_steps)
        if not math.isfinite(float(loss.detach())):
            raise FloatingPointError(f"NCA training diverged at step {step}: loss {float(loss.detach())}")
        if on_step is not None:
            on_step(step, model, result.loss_history[-1])
    result.texture_loss, _ = evaluate(model, config)
    return result

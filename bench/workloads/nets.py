"""The study's MNIST classifiers in PyTorch: MLP, GRU, CNN, plus a row-token transformer.

Architectures (the study: "Green AI" guide, Tables 14–16, Keras, 5 epochs):

* ``mlp``  — Flatten, 10 × Dense(128, ReLU), Dense(10).
* ``gru``  — 2 stacked GRU(128) reading the image row by row (28 steps of 28
  pixels), last hidden state, Dense(10).
* ``cnn``  — Conv(32, 3×3)-MaxPool-Conv(64, 3×3)-MaxPool-Conv(64, 3×3)-Flatten-
  Dense(128)-Dense(10), ReLU everywhere; its Dense(128) output is the feature
  space of the suite's Fréchet distance (see :mod:`bench.workloads.gans`).
* ``transformer`` — image rows as 28 tokens (as the GRU reads them): Linear(28→64)
  plus a learned position embedding, 2 pre-norm encoder layers (4 heads,
  feed-forward 128, dropout 0.1), mean over tokens, LayerNorm, Dense(10).
  The study could not run its transformer at all; this one is ours.

Keras defaults are matched where they change results: Glorot-uniform weights
and zero biases for Dense/Conv (Keras ``glorot_uniform``/``zeros``; PyTorch's
default init gave the MLP 0.85 accuracy against 0.92 here), orthogonal
recurrent kernels for the GRU, Adam with lr 1e-3 and eps 1e-7, batch 32,
reshuffled every epoch.  Losses are cross-entropy on logits.

Pure functions: inputs are uint8 images (n, 28, 28) and int labels; training is
seeded and, on CPU with a fixed thread count, repeats exactly.  No timing, no
energy, no pytest here.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from bench.workloads.torch_utils import (
    ProgressFn,
    check_images,
    check_positive,
    images_to_tensor,
    resolve_device,
    seeded,
    synchronize,
)
from greenbench.errors import ConfigError

__all__ = [
    "ARCHITECTURES",
    "CNN",
    "MLP",
    "GRUNet",
    "RowTransformer",
    "accuracy",
    "build",
    "glorot_init_",
    "logits",
    "predict",
    "train_classifier",
]

ARCHITECTURES = ("mlp", "gru", "cnn", "transformer")
N_CLASSES = 10
IMAGE_SIDE = 28

#: Keras ``Adam`` defaults (keras.io/api/optimizers/adam: learning_rate=0.001, epsilon=1e-07)
KERAS_ADAM_LR = 1e-3
KERAS_ADAM_EPS = 1e-7
#: Keras ``Model.fit`` default batch size
KERAS_BATCH_SIZE = 32


def glorot_init_(module: nn.Module) -> nn.Module:
    """Keras initialisation in place: Glorot-uniform kernels, zero biases, orthogonal GRU recurrences."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.GRU):
            for name, p in m.named_parameters():
                if name.startswith("weight_ih"):
                    nn.init.xavier_uniform_(p)
                elif name.startswith("weight_hh"):
                    # Keras: orthogonal recurrent kernel per layer; per gate block here
                    for block in p.data.chunk(3, dim=0):
                        nn.init.orthogonal_(block)
                elif name.startswith("bias"):
                    nn.init.zeros_(p)
    return module


class MLP(nn.Module):
    """Flatten, ``depth`` × Dense(``width``, ReLU), Dense(10) (study: depth 10, width 128)."""

    def __init__(self, depth: int = 10, width: int = 128) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        fan_in = IMAGE_SIDE * IMAGE_SIDE
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), nn.ReLU()]
            fan_in = width
        layers.append(nn.Linear(fan_in, N_CLASSES))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class GRUNet(nn.Module):
    """2 stacked GRU(128) over image rows, then Dense(10) on the last step."""

    def __init__(self, hidden: int = 128, layers: int = 2) -> None:
        super().__init__()
        self.gru = nn.GRU(IMAGE_SIDE, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x)  # (batch, rows, hidden)
        return self.head(out[:, -1])


class CNN(nn.Module):
    """Conv32-pool-Conv64-pool-Conv64-Dense128-Dense10; :meth:`features` is the Dense128 output."""

    FEATURE_DIM = 128

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),  # 28 -> 26 -> 13
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),  # 13 -> 11 -> 5
            nn.Conv2d(64, 64, 3), nn.ReLU(),  # 5 -> 3
            nn.Flatten(),
            nn.Linear(64 * 3 * 3, self.FEATURE_DIM), nn.ReLU(),
        )
        self.head = nn.Linear(self.FEATURE_DIM, N_CLASSES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.unsqueeze(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class RowTransformer(nn.Module):
    """Transformer encoder over the 28 image rows as tokens; mean-pooled to Dense(10)."""

    def __init__(self, d_model: int = 64, heads: int = 4, layers: int = 2, ff: int = 128,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.embed = nn.Linear(IMAGE_SIDE, d_model)
        self.position = nn.Parameter(torch.zeros(1, IMAGE_SIDE, d_model))
        layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout, batch_first=True, norm_first=True)
        # nested tensors only pay off with padding masks; disabling also avoids a UserWarning
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(self.embed(x) + self.position)
        return self.head(self.norm(h.mean(dim=1)))


def build(arch: str) -> nn.Module:
    """A freshly initialised classifier (uses torch's global RNG: call under :func:`seeded`)."""
    if arch == "mlp":
        model: nn.Module = MLP()
    elif arch == "gru":
        model = GRUNet()
    elif arch == "cnn":
        model = CNN()
    elif arch == "transformer":
        model = RowTransformer()
        glorot_init_(model.embed)
        glorot_init_(model.head)
        nn.init.normal_(model.position, std=0.02)
        return model
    else:
        raise ConfigError(f"arch: got {arch!r}; expected one of {', '.join(ARCHITECTURES)}")
    return glorot_init_(model)


def train_classifier(arch: str, x_train: np.ndarray, y_train: np.ndarray, *, epochs: int,
                     batch_size: int = KERAS_BATCH_SIZE, lr: float = KERAS_ADAM_LR, seed: int = 0,
                     device: str | torch.device = "cpu", progress: ProgressFn | None = None,
                     on_epoch: Callable[[int, nn.Module], None] | None = None) -> nn.Module:
    """Train ``arch`` on uint8 images with Adam and cross-entropy; return the model in eval mode.

    ``on_epoch(epoch, model)`` is called after each epoch (1-based) with the model still in
    training mode; it must not change the model (copy ``state_dict()`` to keep a snapshot).
    """
    check_images(x_train, "x_train", y_train)
    epochs = check_positive(epochs, "epochs")
    batch_size = check_positive(batch_size, "batch_size")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ConfigError(f"lr: got {lr!r}; expected a positive finite learning rate")
    dev = resolve_device(device)
    n = len(x_train)
    steps_per_epoch = math.ceil(n / batch_size)
    with seeded(seed, dev):
        model = build(arch).to(dev)
        x = images_to_tensor(x_train, dev)
        y = torch.tensor(np.asarray(y_train), dtype=torch.long, device=dev)  # a copy (may be read-only)
        opt = torch.optim.Adam(model.parameters(), lr=lr, eps=KERAS_ADAM_EPS)
        loss_fn = nn.CrossEntropyLoss()
        order_rng = torch.Generator().manual_seed(seed)
        model.train()
        for epoch in range(epochs):
            order = torch.randperm(n, generator=order_rng).to(dev)
            for step in range(steps_per_epoch):
                idx = order[step * batch_size:(step + 1) * batch_size]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x[idx]), y[idx])
                loss.backward()
                opt.step()
                if progress is not None:
                    progress(epoch * steps_per_epoch + step + 1, epochs * steps_per_epoch,
                             f"epoch {epoch + 1}/{epochs}")
            if on_epoch is not None:
                synchronize(dev)
                on_epoch(epoch + 1, model)
    model.eval()
    synchronize(dev)
    return model


@torch.no_grad()
def logits(model: nn.Module, x: np.ndarray, *, batch_size: int = 100,
           device: str | torch.device = "cpu") -> torch.Tensor:
    """Class logits (n, 10) for uint8 images, computed in eval mode in batches, left on ``device``."""
    check_images(x, "x")
    batch_size = check_positive(batch_size, "batch_size")
    dev = resolve_device(device)
    was_training = model.training
    model.eval()
    xt = images_to_tensor(x, dev)
    out = torch.cat([model(xt[i:i + batch_size]) for i in range(0, len(xt), batch_size)])
    model.train(was_training)
    synchronize(dev)
    return out


def predict(model: nn.Module, x: np.ndarray, *, batch_size: int = 100,
            device: str | torch.device = "cpu") -> np.ndarray:
    """Predicted digit (int64, shape (n,)) for each uint8 image."""
    return logits(model, x, batch_size=batch_size, device=device).argmax(dim=1).cpu().numpy()


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of ``model``'s parameters and buffers (for :func:`from_snapshot`)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def from_snapshot(arch: str, state: dict[str, torch.Tensor], device: str | torch.device = "cpu") -> nn.Module:
    """A ``arch`` classifier in eval mode holding the weights of a :func:`snapshot`."""
    with seeded(0):  # build() draws initial weights: leave the caller's RNG alone
        model = build(arch)
    model.load_state_dict(state)
    return model.to(resolve_device(device)).eval()


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray, *, batch_size: int = 100,
             device: str | torch.device = "cpu") -> float:
    """Fraction of images whose predicted digit equals the label."""
    check_images(x, "x", y)
    return float(np.mean(predict(model, x, batch_size=batch_size, device=device) == y))

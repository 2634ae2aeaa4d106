"""Small PyTorch helpers shared by the deep-learning workloads.

* :func:`resolve_device` turns ``"cpu"`` / ``"cuda"`` / ``"cuda:1"`` into a
  :class:`torch.device`, with a one-line :class:`ConfigError` otherwise.
* :func:`seeded` runs a block under a fixed seed without disturbing the
  caller's random state (``torch.random.fork_rng``), so a workload is a pure
  function of its arguments: same seed, same thread count, same result on CPU.
* :func:`synchronize` waits for queued CUDA kernels (a no-op on CPU), so a
  workload's end is the end of its work.
* :class:`LineProgress` reports epochs/steps and an ETA as one line on a
  terminal's stderr; :func:`terminal_progress` returns ``None`` (quiet) when
  stderr is not a TTY or ``CI`` is set.  The ETA is display only: nothing here
  measures time or energy for a result.

Imports nothing of ``greenbench.meters`` nor pytest.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import TextIO

import numpy as np
import torch

from greenbench.errors import ConfigError, DataError

__all__ = [
    "LineProgress",
    "ProgressFn",
    "check_images",
    "check_positive",
    "check_seed",
    "count_params",
    "images_to_tensor",
    "resolve_device",
    "seeded",
    "synchronize",
    "terminal_progress",
]

#: progress callback: ``fn(done_steps, total_steps, note)``
ProgressFn = Callable[[int, int, str], None]


def resolve_device(device: str | torch.device) -> torch.device:
    """``"cpu"``, ``"cuda"`` or ``"cuda:N"`` as a :class:`torch.device` that exists here."""
    if isinstance(device, torch.device):
        dev = device
    else:
        try:
            dev = torch.device(str(device))
        except RuntimeError:
            raise ConfigError(f"device: got {device!r}; expected 'cpu', 'cuda' or 'cuda:N'") from None
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"device: got {str(device)!r}; expected 'cpu', 'cuda' or 'cuda:N'")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"device: got {str(device)!r} but torch sees no CUDA GPU here; use --device cpu (or auto)"
        )
    return dev


def synchronize(device: torch.device) -> None:
    """Wait for every queued kernel on ``device`` (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """Run the block with torch's global RNGs seeded; restore the caller's state after."""
    check_seed(seed)
    devices = [device] if device is not None and device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed: got {seed!r}; expected a non-negative integer")


def check_positive(value: int, field: str) -> int:
    """Return ``value`` if it is a positive integer, else a one-line ConfigError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{field}: got {value!r}; expected a positive integer")
    return int(value)


def check_images(x: np.ndarray, field: str, y: np.ndarray | None = None) -> None:
    """MNIST-format images: uint8 of shape (n, 28, 28), n > 0; labels int 0..9 of shape (n,)."""
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
        shape = getattr(x, "shape", None)
        dtype = getattr(x, "dtype", type(x).__name__)
        raise DataError(f"{field}: got {dtype} array of shape {shape}; expected uint8 images (n, 28, 28)")
    if len(x) == 0:
        raise DataError(f"{field}: got 0 images; expected at least 1")
    if y is not None:
        if not isinstance(y, np.ndarray) or y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
            raise DataError(
                f"{field} labels: got shape {getattr(y, 'shape', None)}; expected {len(x)} integer labels"
            )
        if y.min() < 0 or y.max() > 9:
            raise DataError(f"{field} labels: got values {y.min()}..{y.max()}; expected digits 0..9")


def images_to_tensor(x: np.ndarray, device: torch.device, *, signed: bool = False) -> torch.Tensor:
    """uint8 (n, 28, 28) -> float32 in [0, 1] (or [-1, 1] with ``signed``) on ``device``."""
    # a copy: sharing a read-only array (bench.data caches them so) would warn, and we scale anyway
    t = torch.tensor(np.asarray(x), dtype=torch.float32, device=device) / 255.0
    return t * 2.0 - 1.0 if signed else t


def count_params(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class LineProgress:
    """``label: 120/625 steps (epoch 1/5) ETA 7s`` rewritten in place on a terminal.

    Called as a :data:`ProgressFn`; prints at most every ``interval_s`` and
    always on the last step, then ends the line.
    """

    def __init__(self, label: str, stream: TextIO | None = None, interval_s: float = 0.5) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.interval_s = interval_s
        self._start: float | None = None
        self._last = -float("inf")

    def __call__(self, done: int, total: int, note: str = "") -> None:
        now = time.monotonic()
        if self._start is None:
            self._start = now
        if done < total and now - self._last < self.interval_s:
            return
        self._last = now
        elapsed = now - self._start
        eta = f" ETA {elapsed / done * (total - done):.0f}s" if 0 < done < total else ""
        extra = f" ({note})" if note else ""
        end = "\n" if done >= total else ""
        self.stream.write(f"\r{self.label}: {done}/{total} steps{extra}{eta}\x1b[K{end}")
        self.stream.flush()


def terminal_progress(label: str, stream: TextIO | None = None) -> ProgressFn | None:
    """A :class:`LineProgress` on a terminal; ``None`` (quiet) off a TTY or when ``CI`` is set."""
    out = stream if stream is not None else sys.stderr
    if os.environ.get("CI") or not getattr(out, "isatty", lambda: False)():
        return None
    return LineProgress(label, out)

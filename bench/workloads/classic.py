"""Classic machine-learning workloads of the study (Green AI guide, Tables 12–13).

* KNN (k=3) on MNIST — training (:func:`knn_fit`) and inference
  (:func:`knn_predict`) are separate calls so their energy is measured apart.
* MiniBatchKMeans on MNIST with clusters mapped to their majority training
  label (:func:`kmeans_classify`), over the study's cluster counts
  :data:`KMEANS_CLUSTER_COUNTS`.
* Rebuilding the study's three-discs image by a Fourier round trip
  (:func:`fourier_reconstruct`) versus KMeans with 2 clusters on the pixel
  values (:func:`kmeans_reconstruct`), judged by :func:`image_quality`.

Pure functions: no timing, no energy, no pytest here, and no thread settings
(the caller's ``OMP_NUM_THREADS`` decides).  Everything random takes a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.neighbors import KNeighborsClassifier

from greenbench.errors import ConfigError

__all__ = [
    "KMEANS_CLUSTER_COUNTS",
    "KNN_K",
    "PSNR_CAP_DB",
    "ImageQuality",
    "KMeansResult",
    "accuracy",
    "features",
    "fourier_reconstruct",
    "image_quality",
    "kmeans_classify",
    "kmeans_reconstruct",
    "knn_fit",
    "knn_predict",
    "majority_label_map",
]

#: the study's KNN neighbour count (Green AI guide, Table 12)
KNN_K = 3
#: cluster counts the study tried for MiniBatchKMeans on MNIST (Green AI guide, §KNN vs KMeans)
KMEANS_CLUSTER_COUNTS = (10, 16, 36, 64, 144, 256)
#: PSNR of an exact reconstruction is infinite; we floor the MSE at float64's
#: resolution (machine epsilon squared, relative to the peak), giving this cap
PSNR_CAP_DB = float(-20 * np.log10(np.finfo(np.float64).eps))


def features(images: np.ndarray) -> np.ndarray:
    """Flatten (n, h, w) images into float32 (n, h*w) rows scaled to 0..1 by the data's range.

    uint8 MNIST is divided by 255; float images (digits, 0..16) by their
    maximum possible value 16 when they fit it, else by their own maximum.
    """
    if images.ndim < 2:
        raise ConfigError(f"features: images of shape {images.shape}; expected (n, h, w) or (n, d)")
    flat = images.reshape(len(images), -1)
    if images.dtype == np.uint8:
        peak = 255.0
    else:
        top = float(flat.max()) if flat.size else 1.0
        peak = 16.0 if 0.0 <= top <= 16.0 and float(flat.min()) >= 0.0 else max(abs(top), 1.0)
    return (flat.astype(np.float32) / np.float32(peak)).astype(np.float32)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of equal labels."""
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ConfigError(
            f"accuracy: labels {y_true.shape} vs predictions {y_pred.shape}; expected equal, non-empty shapes"
        )
    return float(np.mean(y_true == y_pred))


# --------------------------------------------------------------------------- KNN


def knn_fit(x_train: np.ndarray, y_train: np.ndarray, k: int = KNN_K) -> KNeighborsClassifier:
    """Fit scikit-learn's KNN classifier (defaults as in the study, ``n_neighbors=k``)."""
    if k < 1 or k > len(x_train):
        raise ConfigError(f"knn k={k}: expected 1 <= k <= n_train={len(x_train)}")
    return KNeighborsClassifier(n_neighbors=k).fit(x_train, y_train)


def knn_predict(model: KNeighborsClassifier, x_test: np.ndarray, y_test: np.ndarray) -> float:
    """Predict ``x_test`` with a fitted KNN and return the accuracy on ``y_test``."""
    return accuracy(y_test, model.predict(x_test))


# --------------------------------------------------------------------------- KMeans on MNIST


@dataclass(frozen=True)
class KMeansResult:
    """Outcome of :func:`kmeans_classify`."""

    accuracy: float
    n_clusters: int
    empty_clusters: int  # clusters that received no training point
    inertia: float
    n_iter: int


def majority_label_map(cluster_ids: np.ndarray, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """Label of each cluster: the most frequent training label among its members.

    Ties go to the smallest label; a cluster without members gets the most
    frequent label overall (a guess no better than chance, counted as such).
    """
    n_labels = int(labels.max()) + 1
    counts = np.zeros((n_clusters, n_labels), dtype=np.int64)
    np.add.at(counts, (cluster_ids, labels), 1)
    mapping = counts.argmax(axis=1)
    empty = counts.sum(axis=1) == 0
    mapping[empty] = int(np.bincount(labels).argmax())
    return mapping.astype(np.int64)


def kmeans_classify(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    n_clusters: int,
    seed: int = 0,
) -> KMeansResult:
    """MiniBatchKMeans on the training rows, clusters named by majority label, test accuracy.

    Unsupervised training then one labelling pass: the study's way of scoring
    a clustering as a classifier (Green AI guide, Table 12).
    """
    if n_clusters < 2 or n_clusters > len(x_train):
        raise ConfigError(
            f"kmeans n_clusters={n_clusters}: expected 2 <= n_clusters <= n_train={len(x_train)}"
        )
    model = MiniBatchKMeans(n_clusters=n_clusters, random_state=seed, n_init="auto").fit(x_train)
    train_ids = model.labels_.astype(np.int64)
    mapping = majority_label_map(train_ids, y_train, n_clusters)
    predicted = mapping[model.predict(x_test)]
    used = np.bincount(train_ids, minlength=n_clusters)
    return KMeansResult(
        accuracy=accuracy(y_test, predicted),
        n_clusters=n_clusters,
        empty_clusters=int(np.sum(used == 0)),
        inertia=float(model.inertia_),
        n_iter=int(model.n_iter_),
    )


# --------------------------------------------------------------------------- three discs


def fourier_reconstruct(image: np.ndarray) -> np.ndarray:
    """The study's "simple model": ``fft2`` then ``ifft2``, real part kept."""
    return np.real(np.fft.ifft2(np.fft.fft2(image)))


def kmeans_reconstruct(image: np.ndarray, *, n_clusters: int = 2, seed: int = 0) -> np.ndarray:
    """The study's "ML model": KMeans on pixel values, each pixel replaced by its centre."""
    pixels = image.reshape(-1, 1)
    model = KMeans(n_clusters=n_clusters, random_state=seed, n_init="auto").fit(pixels)
    return model.cluster_centers_[model.labels_, 0].reshape(image.shape)


@dataclass(frozen=True)
class ImageQuality:
    """How close a reconstruction is to a 0/1 reference image."""

    iou: float  # intersection over union of the foregrounds (pixel > 0.5)
    psnr_db: float  # peak 1.0; capped at PSNR_CAP_DB (float64 resolution)
    max_abs_err: float


def image_quality(reconstruction: np.ndarray, reference: np.ndarray) -> ImageQuality:
    """IoU of the thresholded foregrounds, PSNR (peak 1) and worst pixel error."""
    if reconstruction.shape != reference.shape:
        raise ConfigError(
            f"image_quality: reconstruction {reconstruction.shape} vs reference {reference.shape}; "
            "expected equal shapes"
        )
    fg_rec, fg_ref = reconstruction > 0.5, reference > 0.5
    union = int(np.sum(fg_rec | fg_ref))
    iou = 1.0 if union == 0 else int(np.sum(fg_rec & fg_ref)) / union
    err = reconstruction.astype(np.float64) - reference.astype(np.float64)
    mse = float(np.mean(err**2))
    floor = float(np.finfo(np.float64).eps) ** 2
    psnr = min(PSNR_CAP_DB, -10 * math.log10(max(mse, floor)))
    return ImageQuality(iou=float(iou), psnr_db=float(psnr), max_abs_err=float(np.max(np.abs(err))))

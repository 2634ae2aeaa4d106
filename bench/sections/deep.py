"""Report section: deep learning (bench/test_deep.py) next to the study's Tables 14–16.

Four tables: classifier training (accuracy over seeds, mean and min–max,
training energy and time, energy to reach ``TARGET_ACCURACY``) beside the
study's Keras/CodeCarbon figures; classifier inference (energy per 1,000
predictions) on its own, since a training run and an inference pass are
different units of work; the energy-to-target ranking; and the GANs' quality
(W1 / FID and IS in MNIST-CNN features) beside their untrained-generator
baseline and the real-data floor, with the sample pictures embedded.  Entries
are read only through :mod:`greenbench.results`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from bench import study
from greenbench import results as r
from greenbench.errors import DataError
from greenbench.units import J_PER_KWH

TITLE = "Deep learning: MLP, GRU, CNN, transformer and three GANs on MNIST"

GROUP_TRAIN = "deep-train"
GROUP_INFER = "deep-infer"
GROUP_GAN_TRAIN = "gan-train"
GROUP_GAN_INFER = "gan-infer"
GROUPS = (GROUP_TRAIN, GROUP_INFER, GROUP_GAN_TRAIN, GROUP_GAN_INFER)

#: test accuracy the energy-to-target column asks for: reached by every model at the full size and by
#: most at the quick size (2 epochs on 4,000 digits), so it separates them without being trivial
TARGET_ACCURACY = 0.85

#: The study's figures: "Green AI" guide, Tables 14–16 (Keras on MNIST, 5 epochs, CodeCarbon on
#: an Intel i7-10510U laptop with CPU power taken as 12.5 W and RAM as 2.93 W: estimates).
#: total energy in kWh, test accuracy, wall time in s.
STUDY = {m: study.numbers(f"deep.{m}", "energy_kwh", "accuracy", "time_s") for m in ("mlp", "gru", "cnn")}
#: the study's figures came from CodeCarbon's model, not a counter
STUDY_ESTIMATED = bool(study.figure("deep.mlp")["estimated"])

NAMES = {
    "mlp": "MLP (10 × Dense 128)",
    "gru": "GRU (2 × 128, rows as steps)",
    "cnn": "CNN (Conv32-pool-Conv64-pool-Conv64-Dense128)",
    "transformer": "Transformer encoder (rows as tokens)",
    "gan1d": "1-D GAN on N(4, 1.25²)",
    "mlp_gan": "MNIST MLP GAN",
    "dcgan": "DCGAN (TF tutorial)",
}
ORDER = ("mlp", "gru", "cnn", "transformer", "gan1d", "mlp_gan", "dcgan")


def study_energy_j(model: str) -> float:
    """The study's total energy for ``model`` converted from kWh to J; NaN if it has none."""
    s = STUDY.get(model)
    return s["energy_kwh"] * J_PER_KWH if s else math.nan


#: The study's training size (its annexes: Keras' mnist.load_data(), 60,000 training digits, 5 epochs).
STUDY_TRAIN_DIGITS, STUDY_EPOCHS = 60_000, 5


def study_j_per_sample_epoch(model: str) -> float:
    """The study's CodeCarbon total per training digit and epoch (J); NaN if it has none.

    CodeCarbon's figure is a constant 12.5 W CPU + 2.93 W RAM over the wall time, idle included: it is a
    whole-machine ("allocated") figure, so it compares with our allocated figure, not our marginal one.
    """
    return study_energy_j(model) / (STUDY_TRAIN_DIGITS * STUDY_EPOCHS)


def ours_j_per_sample_epoch(b: r.Bench) -> tuple[float, float, float, str]:
    """(point, low, high, basis) of our training energy per digit and epoch, on the allocated basis.

    The model meter's ``figures_j`` give the allocated figure and its band (idle share of the allocated
    cores included, what a whole-machine estimate such as CodeCarbon's counts); a counter (RAPL) reading is
    whole-machine already and has no band.  NaNs when the entry has no energy or no size.
    """
    n, epochs = r.extra(b, "n_train"), r.extra(b, "epochs")
    try:
        energy = r.energy(b) or {}
    except DataError:  # an energy block the reader refuses: no figures, the plain energy below decides
        energy = {}
    if not isinstance(n, int) or not isinstance(epochs, int) or n <= 0 or epochs <= 0:
        return math.nan, math.nan, math.nan, "-"
    per = float(n * epochs)
    figures = energy.get("figures_j")
    if isinstance(figures, dict) and all(isinstance(figures.get(k), (int, float))
                                         for k in ("allocated_j", "allocated_low_j", "allocated_high_j")):
        return (figures["allocated_j"] / per, figures["allocated_low_j"] / per, figures["allocated_high_j"] / per,
                "allocated (model meter)")
    e = r.energy_j(b)
    if not math.isfinite(e):
        return math.nan, math.nan, math.nan, "-"
    source = str(energy.get("source", "meter"))
    if source.startswith("model"):
        return e / per, e / per, e / per, "marginal only (no allocated figure recorded: undercounts vs the study)"
    return e / per, e / per, e / per, f"{source} reading (no band)"


def _study_table(train: dict[str, r.Bench]) -> list[str]:
    """Like with like: J per training digit and epoch, ours allocated with its band, the study's CodeCarbon."""
    lines = [
        "| model | ours: digits × epochs | ours: J per digit-epoch [band] | basis | "
        "study: J per digit-epoch (60,000 × 5) | study ÷ ours | study: accuracy (ours, measured seed) |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    for m in _ordered(set(train)):
        tb = train[m]
        if m not in STUDY:
            if m == "transformer":
                lines.append(f"| {NAMES.get(m, m)} | - | - | - | did not run in the study | - | - |")
            continue
        point, lo, hi, basis = ours_j_per_sample_epoch(tb)
        theirs = study_j_per_sample_epoch(m)
        est = r.is_estimated(tb)
        ours = (f"{_fmt_j(point, est)} [{r.fmt_si(lo, 'J')}–{r.fmt_si(hi, 'J')}]" if math.isfinite(point) and lo != hi
                else _fmt_j(point, est))
        ratio = f"{theirs / point:.3g}×" if math.isfinite(point) and point > 0 else "-"
        size = f"{r.extra(tb, 'n_train', '?')} × {r.extra(tb, 'epochs', '?')}"
        lines.append(f"| {NAMES.get(m, m)} | {size} | {ours} | {basis} | {_fmt_j(theirs, STUDY_ESTIMATED)} | "
                     f"{ratio} | {STUDY[m]['accuracy']:.4f} ({_fmt_q(r.quality(tb).get('accuracy'))}) |")
    return lines


def _by_model(benchmarks: Sequence[r.Bench], group: str) -> dict[str, r.Bench]:
    out: dict[str, r.Bench] = {}
    for b in r.select(benchmarks, group=group):
        model = r.extra(b, "model")
        if isinstance(model, str):
            out[model] = b
    return out


def _ordered(models: set[str]) -> list[str]:
    return sorted(models, key=lambda m: (ORDER.index(m) if m in ORDER else len(ORDER), m))


def _energy(b: r.Bench | None) -> str:
    if b is None or not math.isfinite(r.energy_j(b)):
        return "-"
    return r.fmt_energy(b)


def _time(b: r.Bench | None) -> str:
    return r.fmt_si(r.time_s(b), "s") if b is not None else "-"


def per_thousand_j(b: r.Bench | None) -> float:
    """Median energy per 1,000 predictions/samples of an inference entry; NaN without energy."""
    if b is None:
        return math.nan
    n = r.extra(b, "n_predictions")
    e = r.energy_j(b)
    if not isinstance(n, (int, float)) or n <= 0 or not math.isfinite(e):
        return math.nan
    return e / n * 1000.0


def _fmt_j(value: float, estimated: bool) -> str:
    return r.mark(r.fmt_si(value, "J"), estimated) if math.isfinite(value) else "-"


def _fmt_q(value: float | None, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if value is not None and math.isfinite(value) else "-"


def accuracy_spread(b: r.Bench) -> tuple[float, float, float, int]:
    """(mean, min, max, number of seeds) of the final test accuracy over the entry's seeds.

    Falls back to the single ``quality["accuracy"]`` (one seed) for entries without
    ``accuracy_by_seed``; NaNs and 0 seeds when there is no accuracy at all.
    """
    by_seed = r.extra(b, "accuracy_by_seed")
    if not isinstance(by_seed, list) or not by_seed:
        acc = r.quality(b).get("accuracy")
        by_seed = [acc] if isinstance(acc, (int, float)) else []
    vals = [float(a) for a in by_seed if isinstance(a, (int, float)) and math.isfinite(a)]
    if not vals:
        return math.nan, math.nan, math.nan, 0
    return sum(vals) / len(vals), min(vals), max(vals), len(vals)


def epochs_to_target(accuracy_by_epoch: Sequence[float], target: float = TARGET_ACCURACY) -> int | None:
    """The first epoch (1-based) whose test accuracy is >= ``target``; None if none is."""
    for i, acc in enumerate(accuracy_by_epoch, 1):
        if isinstance(acc, (int, float)) and acc >= target:
            return i
    return None


def energy_to_target(b: r.Bench, target: float = TARGET_ACCURACY) -> tuple[float, int | None]:
    """(J, epoch) to first reach ``target`` test accuracy in the measured seed's training run.

    The measured training energy apportioned by the cumulative CPU-time fraction at the end of
    that epoch (``cpu_fraction_by_epoch``): an estimate even on a counter.  (NaN, None) when the
    target is not reached, and (NaN, epoch) when it is but energy or the fractions are missing.
    """
    curves = r.extra(b, "accuracy_by_epoch")
    measured = curves[0] if isinstance(curves, list) and curves and isinstance(curves[0], list) else []
    epoch = epochs_to_target(measured, target)
    fractions = r.extra(b, "cpu_fraction_by_epoch")
    energy = r.energy_j(b)
    if (epoch is None or not isinstance(fractions, list) or len(fractions) < epoch
            or not isinstance(fractions[epoch - 1], (int, float)) or not math.isfinite(energy)):
        return math.nan, epoch
    return energy * float(fractions[epoch - 1]), epoch


def _seeds_reaching(b: r.Bench, target: float = TARGET_ACCURACY) -> str:
    curves = r.extra(b, "accuracy_by_epoch")
    if not isinstance(curves, list) or not curves:
        return "-"
    hit = sum(1 for c in curves if isinstance(c, list) and epochs_to_target(c, target) is not None)
    return f"{hit}/{len(curves)}"


def _fmt_spread(b: r.Bench | None) -> str:
    if b is None:
        return "-"
    mean, lo, hi, n = accuracy_spread(b)
    if n == 0:
        return "-"
    if n == 1:
        return f"{mean:.3f} (1 seed)"
    return f"{mean:.3f} ({lo:.3f}–{hi:.3f}, {n} seeds)"


def _fmt_to_target(b: r.Bench) -> str:
    joules, epoch = energy_to_target(b)
    if epoch is None:
        return "not reached" if r.extra(b, "accuracy_by_epoch") else "-"
    return f"{_fmt_j(joules, True)} (epoch {epoch})" if math.isfinite(joules) else f"- (epoch {epoch})"


def _training_table(train: dict[str, r.Bench]) -> list[str]:
    lines = [
        "| model | ours: digits × epochs | accuracy: mean (min–max, seeds) | measured seed | training energy | "
        f"training time | energy to {TARGET_ACCURACY:.2f} | seeds reaching {TARGET_ACCURACY:.2f} |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in _ordered(set(train)):
        tb = train[m]
        acc = r.quality(tb).get("accuracy")
        size = f"{r.extra(tb, 'n_train', '?')} × {r.extra(tb, 'epochs', '?')}"
        lines.append(f"| {NAMES.get(m, m)} | {size} | {_fmt_spread(tb)} | {_fmt_q(acc)} | {_energy(tb)} | "
                     f"{_time(tb)} | {_fmt_to_target(tb)} | {_seeds_reaching(tb)} |")
    return lines


def _inference_table(infer: dict[str, r.Bench]) -> list[str]:
    lines = [
        "| model | accuracy on the 1,000 predictions | energy / 1,000 predictions | time / 1,000 predictions |",
        "|---|---:|---:|---:|",
    ]
    for m in _ordered(set(infer)):
        ib = infer[m]
        n = r.extra(ib, "n_predictions")
        t = r.time_s(ib) / n * 1000.0 if isinstance(n, (int, float)) and n > 0 else math.nan
        lines.append(f"| {NAMES.get(m, m)} | {_fmt_q(r.quality(ib).get('accuracy'))} | "
                     f"{_fmt_j(per_thousand_j(ib), r.is_estimated(ib))} | "
                     f"{r.fmt_si(t, 's') if math.isfinite(t) else '-'} |")
    return lines


def _isa(*groups: dict[str, r.Bench]) -> str:
    pairs = sorted({(str(r.extra(b, "cpu_capability")), str(r.extra(b, "torch_version", "?")))
                    for g in groups for b in g.values() if r.extra(b, "cpu_capability")})
    return ", ".join(f"{isa}, torch {ver}" for isa, ver in pairs)


def _ranking(train: dict[str, r.Bench]) -> list[str]:
    if not any(math.isfinite(r.energy_j(b)) for b in train.values()):
        return ["_No training energy in this run: the ranking needs the energy plugin._"]
    rows = [(energy_to_target(b), m) for m, b in train.items()]
    reached = sorted(((j, e, m) for (j, e), m in rows if math.isfinite(j)), key=lambda row: row[0])
    missed = sorted((m for (j, e), m in rows if e is None), key=_ordered(set(train)).index)
    lines = [
        f"| rank | model | energy to {TARGET_ACCURACY:.2f} test accuracy | epochs | "
        "accuracy: mean (min–max, seeds) |",
        "|---:|---|---:|---:|---:|",
    ]
    for i, (joules, epoch, m) in enumerate(reached, 1):
        lines.append(f"| {i} | {NAMES.get(m, m)} | {_fmt_j(joules, True)} | {epoch} | {_fmt_spread(train[m])} |")
    for m in missed:
        lines.append(f"| - | {NAMES.get(m, m)} | not reached | - | {_fmt_spread(train[m])} |")
    return lines


def _gan_quality(b: r.Bench) -> tuple[str, str, str]:
    """(quality, untrained baseline, real-data floor) as text."""
    q = r.quality(b)
    base = r.extra(b, "baseline", {}) or {}
    if "w1_distance" in q:
        samples = r.extra(b, "samples", {}) or {}
        mean_std = (f" (samples mean {samples['mean']:.2f}, std {samples['std']:.2f})"
                    if "mean" in samples and "std" in samples else "")
        return (f"W1 {q['w1_distance']:.3f}{mean_std}", f"W1 {_fmt_q(base.get('w1_distance_untrained'))}",
                f"W1 {_fmt_q(base.get('w1_distance_real'))}")
    if "fid_mnist_cnn" in q:
        def fid_is(fid: float | None, is_: float | None) -> str:
            return f"FID {_fmt_q(fid, 1)}, IS {_fmt_q(is_, 2)}"
        return (fid_is(q.get("fid_mnist_cnn"), q.get("is_mnist_cnn")),
                fid_is(base.get("fid_mnist_cnn_untrained"), base.get("is_mnist_cnn_untrained")),
                fid_is(base.get("fid_mnist_cnn_real"), base.get("is_mnist_cnn_real")))
    return "-", "-", "-"


def _gan_table(train: dict[str, r.Bench], infer: dict[str, r.Bench], out_dir: Path) -> list[str]:
    lines = [
        "| GAN | steps × batch | quality | untrained generator | real data | training energy | "
        "training time | energy / 1,000 samples |",
        "|---|---|---|---|---|---:|---:|---:|",
    ]
    pictures: list[str] = []
    for m in _ordered(set(train) | set(infer)):
        tb, ib = train.get(m), infer.get(m)
        quality, untrained, real = _gan_quality(tb) if tb else ("-", "-", "-")
        steps = f"{r.extra(tb, 'steps', '?')} × {r.extra(tb, 'batch_size', '?')}" if tb else "-"
        inf = _fmt_j(per_thousand_j(ib), r.is_estimated(ib)) if ib else "-"
        lines.append(f"| {NAMES.get(m, m)} | {steps} | {quality} | {untrained} | {real} | {_energy(tb)} | "
                     f"{_time(tb)} | {inf} |")
        for rel in (r.extra(tb, "artifacts", []) or []) if tb else []:
            if (out_dir / "artifacts" / rel).is_file():
                pictures.append(f"![{NAMES.get(m, m)}: generated samples](artifacts/{rel})")
            else:
                pictures.append(f"- {NAMES.get(m, m)}: samples written to `{rel}` under the artifacts folder")
    return lines + [line for p in pictures for line in ("", p)] + _coverage_lines(train)


#: the most common class holding more than this share of the samples, or fewer than this many classes in
#: the grid, is called mode collapse (an MNIST generator covering the data: 10 classes at ~10% each)
COLLAPSE_TOP_SHARE = 0.3
COLLAPSE_GRID_CLASSES = 8


def collapse_text(name: str, cov: dict) -> str:
    """One sentence on what the judge sees among a GAN's samples, calling a mode collapse one."""
    keys = ("grid_classes", "grid_n", "classes", "n", "top_class", "top_class_share")
    if not all(isinstance(cov.get(k), (int, float)) and not isinstance(cov.get(k), bool) for k in keys):
        return ""
    grid, n_grid, classes, n, top, share = (cov[k] for k in keys)
    collapsed = share > COLLAPSE_TOP_SHARE or grid < COLLAPSE_GRID_CLASSES
    return (f"- {name}: the judge (the suite's MNIST CNN) sees **{grid} of 10 digit classes** in the {n_grid}-digit "
            f"grid and {classes} of 10 in all {n} samples; the most common, '{top}', is {share:.0%} of them"
            + (" — **mode collapse**: the generator covers only part of MNIST, which FID/IS alone do not show."
               if collapsed else " — no sign of mode collapse (real digits: 10 classes at ~10% each)."))


def _coverage_lines(train: dict[str, r.Bench]) -> list[str]:
    lines = [collapse_text(NAMES.get(m, m), cov) for m in _ordered(set(train))
             if isinstance(cov := r.extra(train[m], "class_coverage"), dict)]
    lines = [line for line in lines if line]
    return ["", "Mode coverage (measured, issue #23):", "", *lines] if lines else []


def render(benchmarks: list[dict], out_dir: Path) -> str:
    train, infer = _by_model(benchmarks, GROUP_TRAIN), _by_model(benchmarks, GROUP_INFER)
    gan_train, gan_infer = _by_model(benchmarks, GROUP_GAN_TRAIN), _by_model(benchmarks, GROUP_GAN_INFER)
    if not (train or infer or gan_train or gan_infer):
        return ""
    md: list[str] = []
    if train or infer:
        md += [
            "### Classifiers on MNIST",
            "",
            "Ours: PyTorch, Keras initialisation and Adam defaults, batch 32, on this run's split, "
            "trained over several seeds: the timed and metered round is the measured seed (seed 0); the "
            "other seeds train outside it with the same epochs, only for the accuracy spread. "
            "The training energy below is the marginal figure (what the gate compares); the study's "
            "figures are in their own table further down, on a comparable basis. "
            f"'Energy to {TARGET_ACCURACY:.2f}' is the measured seed's training energy up to the end of the "
            "first epoch whose test accuracy reaches the target, apportioned by the process CPU time spent "
            "up to that epoch (so always estimated, `*`); 'not reached' when no epoch of the measured seed "
            "got there. Training and inference are different units of work and are never ranked together.",
            "",
            "#### Training",
            "",
            *(_training_table(train) if train else ["_No training entries in this run._"]),
            "",
            "#### Training energy per digit and epoch, beside the study (like with like)",
            "",
            "The study (Keras, Keras' 60,000 training digits × 5 epochs; its annexes) measured with CodeCarbon "
            "at a flat 12.5 W CPU + 2.93 W RAM over the wall time, idle included: a whole-machine figure, "
            "so ours is shown on the **allocated** basis (the idle share of the allocated cores included) "
            "with the model's band, and both are divided by digits × epochs. Still not like for like in "
            "framework (PyTorch vs Keras), batch, machine and the number of digits (fixed per-epoch costs "
            "weigh more on fewer digits): read the ratio as an order of magnitude.",
            "",
            *(_study_table(train) if set(train) & set(STUDY) else ["_No MLP/GRU/CNN training entries in this run._"]),
            "",
            "#### Inference (1,000 test digits per call, the trained measured-seed model)",
            "",
            *(_inference_table(infer) if infer else ["_No inference entries in this run._"]),
            "",
            f"### Energy to reach {TARGET_ACCURACY:.2f} test accuracy in training, lowest first",
            "",
            *_ranking(train),
            "",
            "Results repeat bit for bit for a seed only on one CPU instruction set and torch build (the "
            "entries record `cpu_capability` and `torch_version`"
            + (f"; this run: {_isa(train, infer)}" if _isa(train, infer) else "")
            + "); elsewhere accuracies agree only to rounding.",
            "",
        ]
    if gan_train or gan_infer:
        md += [
            "### GANs",
            "",
            "Quality: the 1-D GAN by the Wasserstein-1 distance of 1,000 samples to a seeded "
            "10,000-point reference sample of N(4, 1.25²) (lower is better); the image GANs by "
            "**FID (MNIST-CNN features)** — the Fréchet distance in the penultimate layer of the "
            "suite's own MNIST CNN, not Inception-v3, so not comparable to published FIDs — and "
            "the Inception-Score analogue with the same CNN as classifier (1 to 10, higher is better), "
            "over 1,000 generated digits against the 1,000 real test digits. "
            "'Untrained generator' is the same network before its first step; 'real data' scores "
            "real training digits, the floor at this sample size.",
            "",
            *_gan_table(gan_train, gan_infer, out_dir),
            "",
        ]
    entries = [b for g in (train, infer, gan_train, gan_infer) for b in g.values()]
    contended = [b for b in entries if (r.energy(b) or {}).get("contended_rounds")]
    if contended:
        md.append(f"{len(contended)} of {len(entries)} entries had rounds measured while other processes kept "
                  "the machine busy: their times and energies are inflated (see the measurement warnings).\n")
    md.append(f"{r.ESTIMATED_LEGEND}.")
    return "\n".join(md)

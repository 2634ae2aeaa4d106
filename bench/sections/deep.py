"""Report section: deep learning (bench/test_deep.py) next to the study's Tables 14–16.

Three tables: the classifiers (accuracy, training energy and time, inference
energy per 1,000 predictions) beside the study's Keras/CodeCarbon figures; the
energy-per-accuracy-point ranking, ours and the study's; and the GANs' quality
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
from greenbench.units import J_PER_KWH

TITLE = "Deep learning: MLP, GRU, CNN, transformer and three GANs on MNIST"

GROUP_TRAIN = "deep-train"
GROUP_INFER = "deep-infer"
GROUP_GAN_TRAIN = "gan-train"
GROUP_GAN_INFER = "gan-infer"
GROUPS = (GROUP_TRAIN, GROUP_INFER, GROUP_GAN_TRAIN, GROUP_GAN_INFER)



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


def j_per_point(energy_j: float, accuracy: float) -> float:
    """Training energy per accuracy point: J / (100 × accuracy); NaN when either is missing."""
    if not (math.isfinite(energy_j) and math.isfinite(accuracy)) or accuracy <= 0:
        return math.nan
    return energy_j / (100.0 * accuracy)


def _classifier_table(train: dict[str, r.Bench], infer: dict[str, r.Bench]) -> list[str]:
    lines = [
        "| model | ours: digits × epochs | accuracy | training energy | training time | "
        "inference energy / 1,000 | study: accuracy | study: energy | study: time |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in _ordered(set(train) | set(infer)):
        tb, ib = train.get(m), infer.get(m)
        acc = r.quality(tb).get("accuracy") if tb else None
        size = f"{r.extra(tb, 'n_train', '?')} × {r.extra(tb, 'epochs', '?')}" if tb else "-"
        inf = _fmt_j(per_thousand_j(ib), r.is_estimated(ib)) if ib else "-"
        s = STUDY.get(m)
        if s:
            study = (f"{s['accuracy']:.4f} | {_fmt_j(study_energy_j(m), STUDY_ESTIMATED)} "
                     f"({s['energy_kwh']:.6f} kWh) | {s['time_s']:.0f} s")
        else:
            study = "did not run | - | -" if m == "transformer" else "- | - | -"
        lines.append(f"| {NAMES.get(m, m)} | {size} | {_fmt_q(acc)} | {_energy(tb)} | {_time(tb)} | {inf} | {study} |")
    return lines


def _ranking(train: dict[str, r.Bench]) -> list[str]:
    ours = []
    for m, b in train.items():
        acc = r.quality(b).get("accuracy", math.nan)
        ours.append((j_per_point(r.energy_j(b), acc), m, r.is_estimated(b)))
    ranked = sorted((row for row in ours if math.isfinite(row[0])), key=lambda row: row[0])
    study_ranked = sorted(STUDY, key=lambda m: j_per_point(study_energy_j(m), STUDY[m]["accuracy"]))
    if not ranked:
        return ["_No training energy in this run: the ranking needs the energy plugin._"]
    lines = [
        "| rank | model | ours: training J per accuracy point | study: J per accuracy point (rank) |",
        "|---:|---|---:|---:|",
    ]
    for i, (jpp, m, est) in enumerate(ranked, 1):
        if m in STUDY:
            sj = j_per_point(study_energy_j(m), STUDY[m]["accuracy"])
            study = f"{_fmt_j(sj, STUDY_ESTIMATED)} ({study_ranked.index(m) + 1})"
        else:
            study = "-"
        lines.append(f"| {i} | {NAMES.get(m, m)} | {_fmt_j(jpp, est)} | {study} |")
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
    return lines + [line for p in pictures for line in ("", p)]


def render(benchmarks: list[dict], out_dir: Path) -> str:
    train, infer = _by_model(benchmarks, GROUP_TRAIN), _by_model(benchmarks, GROUP_INFER)
    gan_train, gan_infer = _by_model(benchmarks, GROUP_GAN_TRAIN), _by_model(benchmarks, GROUP_GAN_INFER)
    if not (train or infer or gan_train or gan_infer):
        return ""
    md: list[str] = []
    if train or infer:
        md += [
            "### Classifiers on MNIST, next to the study",
            "",
            "Ours: PyTorch, Keras initialisation and Adam defaults, batch 32, on this run's split; the "
            "inference column is the median energy to predict 1,000 test digits. The study: Keras, "
            "5 epochs on MNIST (it does not state its split; Keras' MNIST has 60,000 training digits), "
            "energy from CodeCarbon on an Intel i7-10510U laptop (kWh × 3.6e6 = J), so estimated as "
            "well. Sizes differ (see the digits × epochs column): compare the ratios between models, "
            "not the absolute joules.",
            "",
            *_classifier_table(train, infer),
            "",
            "### Energy per accuracy point (training energy ÷ (100 × test accuracy)), lowest first",
            "",
            *_ranking(train),
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

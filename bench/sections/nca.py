"""Report section: texture NCA (bench/test_nca.py), training and inference energy.

Shows the training run (energy, texture loss before/after), then apart from it the
study's 15,260 J (a T4's 70 W TDP × 218 s, not a measurement), inference
energy per 1,000 steps for each backend and grid size, the speed ratios
measured side by side in one test, the greensim-ready MAC counts, and the
pictures the benchmarks wrote.  Entries are read only through
:mod:`greenbench.results`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from greenbench import results as r

TITLE = "Texture NCA: training and inference (Numba vs torch eager vs torch.compile)"

GROUP_TRAIN = "nca-train"
GROUP_INFER = "nca-infer"
GROUP_SPEED = "nca-speed"
BACKEND_ORDER = ("numba", "numba-skip", "torch-eager", "torch-compile")
BACKEND_LABEL = {
    "numba": "Numba, every cell",
    "numba-skip": "Numba, firing cells only",
    "torch-eager": "torch eager",
    "torch-compile": "torch.compile",
}


def _num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else math.nan


def _fmt(value: float, fmt: str = ".3g", suffix: str = "") -> str:
    return f"{format(value, fmt)}{suffix}" if math.isfinite(value) else "-"


def _energy_scaled(b: r.Bench, factor: float) -> str:
    e = r.energy_j(b) * factor
    return r.mark(r.fmt_si(e, "J"), r.is_estimated(b)) if math.isfinite(e) else "-"


def _image(out_dir: Path, rel: str, alt: str) -> str:
    """Markdown image link if the artifact exists under ``out_dir/artifacts``, else ''."""
    return f"![{alt}](artifacts/{rel})" if (out_dir / "artifacts" / rel).is_file() else ""


def _train_part(train: Sequence[r.Bench], out_dir: Path) -> list[str]:
    lines = [
        "### Training (PyTorch)\n",
        "| run | grid × batch × steps | time | energy | texture loss (start → end) | "
        "forward MACs | Numba vs torch, max abs diff over 100 steps |",
        "|---|---|---|---|---|---|---|",
    ]
    study: Mapping[str, Any] = {}
    for b in train:
        q = r.quality(b)
        energy = r.fmt_energy(b) if math.isfinite(r.energy_j(b)) else "-"
        shape = f"{r.extra(b, 'grid', '?')}² × {r.extra(b, 'batch', '?')} × {r.extra(b, 'train_steps', '?')}"
        lines.append(
            f"| {b.get('name')} | {shape} | {r.fmt_si(r.time_s(b), 's')} | {energy} | "
            f"{_fmt(q.get('texture_loss_init', math.nan), '.2e')} → {_fmt(q.get('texture_loss', math.nan), '.2e')} | "
            f"{r.fmt_si(_num(r.extra(b, 'forward_macs_total')), 'MAC')} | "
            f"{_fmt(_num(r.extra(b, 'agreement_max_abs_diff_100_steps')), '.1e')} |"
        )
        study = r.extra(b, "study", {}) or study
    if study and train:
        b = train[0]
        ours = r.energy_j(b)
        study_j = _num(study.get("train_energy_j"))
        lines += [
            "",
            f"The study's NCA training, in a table of its own: **{r.fmt_si(study_j, 'J')}** "
            f"({study.get('basis', '')}): a GPU board's power limit times the wall time, an upper bound for a "
            "run whose steps and grid the report does not state. Ours: "
            f"**{r.fmt_energy(b) if math.isfinite(ours) else '-'}** for `{b.get('name')}` "
            f"({r.extra(b, 'train_steps', '?')} steps at {r.extra(b, 'grid', '?')}² on this CPU, "
            f"{'estimated by the CPU-time model' if r.is_estimated(b) else 'hardware counter'}). Hardware "
            "(T4 GPU vs CPU), basis (power limit × time vs CPU-time model) and work (unknown vs stated steps) "
            "all differ, so no ratio is drawn between them.",
        ]
    for b in train:
        arts = [str(a) for a in (r.extra(b, "artifacts", []) or []) if str(a).endswith(".png")]
        pics = [_image(out_dir, a, a.rsplit("/", 1)[-1].split("_")[0]) for prefix in ("nca/target", "nca/texture",
                "nca/growth") for a in arts if a.startswith(prefix)]
        if any(pics):
            lines += ["", f"Rule trained in this run (`{b.get('name')}`): target, texture at 128² after 256 "
                      "steps, growth from noise (steps 0, 4, 8, 16, 32, 64, 128, 256):", "", *[p for p in pics if p]]
    return lines


def _infer_part(infer: Sequence[r.Bench]) -> list[str]:
    lines = [
        "### Inference energy per 1,000 steps\n",
        "| grid | backend | steps/s | energy / 1,000 steps | energy / cell-step | MACs / step | compile |",
        "|---|---|---|---|---|---|---|",
    ]

    def key(b: r.Bench) -> tuple[int, int]:
        backend = str(r.extra(b, "backend", ""))
        order = BACKEND_ORDER.index(backend) if backend in BACKEND_ORDER else 99
        return int(_num(r.extra(b, "grid", 0)) or 0), order

    for b in sorted(infer, key=key):
        steps = _num(r.extra(b, "steps_per_round"))
        cells = _num(r.extra(b, "cells"))
        t = r.time_s(b)
        sps = steps / t if t > 0 else math.nan
        backend = str(r.extra(b, "backend", "?"))
        compile_s = _num(r.extra(b, "compile_s"))
        if not math.isfinite(compile_s):
            compile_s = _num(r.extra(b, "numba_compile_s"))
        per_cell = r.energy_j(b) / (steps * cells) if steps > 0 and cells > 0 else math.nan
        lines.append(
            f"| {r.extra(b, 'grid', '?')}² | {BACKEND_LABEL.get(backend, backend)} | {_fmt(sps, '.0f')} | "
            f"{_energy_scaled(b, 1000 / steps if steps > 0 else math.nan)} | "
            f"{r.mark(r.fmt_si(per_cell, 'J'), r.is_estimated(b)) if math.isfinite(per_cell) else '-'} | "
            f"{r.fmt_si(_num(r.extra(b, 'macs_per_step')), 'MAC')} | {_fmt(compile_s, '.1f', ' s')} |"
        )
    lines.append("\nCompile times are outside the timed rounds (Numba: loaded from its cache when warm).")
    return lines


def _speed_part(speed: Sequence[r.Bench]) -> list[str]:
    lines = [
        "### Speed, measured side by side (interleaved in one test)\n",
        "| grid | Numba ÷ eager | Numba ÷ compile | Numba-skip ÷ eager | Numba-skip ÷ compile | "
        "compile ÷ eager | threads (torch/Numba) | max abs diff vs eager |",
        "|---|---|---|---|---|---|---|---|",
    ]
    compile_error = None
    for b in sorted(speed, key=lambda b: _num(r.extra(b, "grid", 0))):
        ratios = r.extra(b, "ratios", {}) or {}
        th = r.extra(b, "threads", {}) or {}
        agree = r.extra(b, "agreement_max_abs_diff", {}) or {}
        worst = max((_num(v) for v in agree.values()), default=math.nan)
        lines.append(
            f"| {r.extra(b, 'grid', '?')}² | **{_fmt(_num(ratios.get('numba/torch-eager')), '.2f', '×')}** | "
            f"**{_fmt(_num(ratios.get('numba/torch-compile')), '.2f', '×')}** | "
            f"{_fmt(_num(ratios.get('numba-skip/torch-eager')), '.2f', '×')} | "
            f"{_fmt(_num(ratios.get('numba-skip/torch-compile')), '.2f', '×')} | "
            f"{_fmt(_num(ratios.get('torch-compile/torch-eager')), '.2f', '×')} | "
            f"{th.get('torch', '?')}/{th.get('numba', '?')} | {_fmt(worst, '.1e')} |"
        )
        compile_error = compile_error or r.extra(b, "torch_compile_error")
    lines.append(
        "\nHeadline (bold): Numba computing **every** cell, the same work as torch's dense convolutions. "
        "Skipping cells whose update mask does not fire (about half at fire rate 0.5) is a fairness "
        "choice torch cannot make; it is shown beside, not used for the headline. Ratios are medians of "
        "interleaved repeats, so machine load hits every backend alike."
    )
    if compile_error:
        plain = str(compile_error).replace("`", "'")
        lines.append(f"\n`torch.compile` was unavailable here: {plain}")
    return lines


def _facts_part(benchmarks: Sequence[r.Bench]) -> list[str]:
    b = benchmarks[0]
    parts = r.extra(b, "macs_per_step_per_cell_parts", {}) or {}
    return [
        "### Figures for greensim projections\n",
        f"- parameters: {r.extra(b, 'params', '?')}; MACs per cell and step: "
        f"{r.extra(b, 'macs_per_step_per_cell', '?')} (perception {parts.get('perception', '?')}, "
        f"MLP {parts.get('mlp', '?')}, update {parts.get('update', '?')}); per grid step: MACs per cell × "
        "cells (`macs_per_step` in each entry's extra_info).",
        "- training MACs: `forward_macs_total` (every rollout cell) and `train_macs_total_estimate` "
        "(3 × forward, backward ≈ 2 × forward; Kaplan et al. 2020, sec. 2.1).",
    ]


def render(benchmarks: list[dict], out_dir: Path) -> str:
    train = r.select(benchmarks, name="test_nca_train", group=GROUP_TRAIN)
    infer = r.select(benchmarks, name="test_nca_infer", group=GROUP_INFER)
    speed = r.select(benchmarks, name="test_nca_speed", group=GROUP_SPEED)
    if not (train or infer or speed):
        return ""
    lines = [
        "The texture NCA of \"Self-Organising Textures\" (Niklasson et al., Distill 2021): 12 channels, "
        "fixed identity/Sobel/Laplacian perception, MLP 48→96→12 (5,856 parameters), fire rate 0.5. "
        "Trained in PyTorch with a multi-scale sliced-Wasserstein patch loss (no pretrained weights); "
        "inference by a Numba kernel, torch eager and `torch.compile`. " + r.ESTIMATED_LEGEND + ".",
        "",
    ]
    if train:
        lines += [*_train_part(train, out_dir), ""]
    if infer:
        lines += [*_infer_part(infer), ""]
    if speed:
        lines += [*_speed_part(speed), ""]
    shipped = [_image(out_dir, f"nca/{n}_shipped.png", alt) for n, alt in
               (("target", "target"), ("texture", "texture of the shipped rule"), ("growth", "growth from noise"))]
    if any(shipped):
        lines += ["### The shipped rule (trained once with the full settings)\n",
                  "Target, texture at 128² after 256 steps, and growth from noise "
                  "(steps 0, 4, 8, 16, 32, 64, 128, 256):", "", *[p for p in shipped if p], ""]
    lines += _facts_part(train or infer or speed)
    return "\n".join(lines)

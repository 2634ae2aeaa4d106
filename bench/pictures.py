"""Picture artefacts of the benchmarks: a titled figure with the reference beside the result.

One helper for every picture the suite writes (GAN sample grids, NCA textures,
discs reconstructions), so they all look alike: a title naming the model or
method and its key quality figure, and each panel with its own title.  Panels
are drawn at about ``px_per_inch`` image pixels per inch with nearest-neighbour
interpolation (pixels stay crisp), on matplotlib's Agg canvas without pyplot
(no global figure registry, nothing left open), and written atomically with
:func:`greenbench.io.atomic.save_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from greenbench.io.atomic import save_figure

#: figure layout, in inches
_MARGIN_IN = 0.15
_GAP_IN = 0.3
_PANEL_TITLE_IN = 0.3
_TITLE_LINE_IN = 0.3
#: the figure is shrunk (keeping proportions) if it would be wider than this
_MAX_WIDTH_IN = 14.0
#: smallest panel height, so a title still fits over a tiny image
_MIN_PANEL_IN = 2.4


def save_panels(path: str | Path, panels: Sequence[tuple[np.ndarray, str]], *, title: str,
                cmap: str | None = "gray", vmin: float | None = None, vmax: float | None = None,
                px_per_inch: float = 80.0, dpi: int = 100) -> Path:
    """Images side by side, each under its own title, under ``title``; returns ``path``.

    ``panels`` are (image, panel title) pairs: 2-D greyscale (drawn with ``cmap``,
    ``vmin``, ``vmax``) or (h, w, 3) RGB in [0, 1] or uint8.  All panels share one
    height; widths follow each image's aspect ratio.  ``title`` may hold line breaks.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not panels:
        raise ValueError("save_panels: expected at least one (image, title) panel")
    arrays = [np.asarray(img) for img, _ in panels]
    fig = Figure(dpi=dpi)
    renderer = FigureCanvasAgg(fig).get_renderer()

    def text_width_in(text: str, **style: Any) -> float:
        t = fig.text(0, 0, text, **style)
        width = t.get_window_extent(renderer).width / dpi
        t.remove()
        return width

    title_style: dict[str, Any] = {"fontsize": 11, "fontweight": "bold"}
    # panels share one height: enough for the pixels, the smallest panel and each panel's title
    aspects = [a.shape[1] / a.shape[0] for a in arrays]
    panel_h = max(max(a.shape[0] for a in arrays) / px_per_inch, _MIN_PANEL_IN,
                  *((text_width_in(t, fontsize=9) + 0.1) / asp for (_, t), asp in zip(panels, aspects, strict=True)))
    gaps = _GAP_IN * (len(arrays) - 1)
    panel_h *= min(1.0, (_MAX_WIDTH_IN - 2 * _MARGIN_IN - gaps) / (panel_h * sum(aspects)))
    widths = [panel_h * asp for asp in aspects]
    row = sum(widths) + gaps
    width = max(row, text_width_in(title, **title_style)) + 2 * _MARGIN_IN
    title_h = _TITLE_LINE_IN * (title.count("\n") + 1) + 0.1
    height = _MARGIN_IN + panel_h + _PANEL_TITLE_IN + title_h
    fig.set_size_inches(width, height)
    fig.suptitle(title, y=1.0 - 0.08 / height, va="top", **title_style)
    x = (width - row) / 2
    for arr, (_, panel_title), w in zip(arrays, panels, widths, strict=True):
        ax = fig.add_axes((x / width, _MARGIN_IN / height, w / width, panel_h / height))
        ax.imshow(arr, cmap=cmap if arr.ndim == 2 else None, vmin=vmin, vmax=vmax, interpolation="nearest",
                  aspect="auto")
        ax.set_title(panel_title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        x += w + _GAP_IN
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        save_figure(fig, p, what="picture", dpi=dpi)
    finally:
        fig.clear()
    return p


def save_side_by_side(path: str | Path, left: np.ndarray, left_title: str, right: np.ndarray, right_title: str,
                      *, title: str, **kwargs: Any) -> Path:
    """The result (``left``) beside its reference (``right``); options as :func:`save_panels`."""
    return save_panels(path, [(left, left_title), (right, right_title)], title=title, **kwargs)

"""Texture neural cellular automaton (NCA): PyTorch training, Numba inference.

The model is the texture NCA of "Self-Organising Textures" (Niklasson,
Mordvintsev, Randazzo, Levin, Distill 2021, doi:10.23915/distill.00027.003):
12 channels (RGB + 9 hidden), fixed depthwise 3×3 perception filters
(identity, Sobel x, Sobel y, Laplacian) with circular padding, a per-cell MLP
48→96 (ReLU)→12 whose last layer starts at zero, and a stochastic residual
update with fire rate 0.5.

Modules (pure functions and plain classes; no timing, no energy, no pytest):

- :mod:`.model`   the torch model, perception filters, MAC and parameter counts,
                  update masks drawn by one numpy Generator for both backends
- :mod:`.kernel`  the Numba inference step on plain arrays (all cells / skip
                  cells whose mask does not fire)
- :mod:`.loss`    texture losses that need no downloaded weights
- :mod:`.images`  target textures, checkpoints, PNG helpers
- :mod:`.train`   the seeded training loop and its evaluation

Imports: numpy, torch, numba, scikit-image, Pillow and :mod:`greenbench.errors`
only (never meters, never pytest).
"""

from __future__ import annotations

"""Spiking (SNN) versus conventional (ANN) networks: when does sparsity pay?

Simple model (Horowitz 2014 energies, 45 nm, fp32; as used e.g. by Rathi &
Roy 2020 and Dampfhofer et al. 2023 for their first estimate)::

    ANN = MACs × E_MAC                                 E_MAC = 4.6 pJ (3.7 mult + 0.9 add)
    SNN = spike_rate × timesteps × MACs × E_AC         E_AC  = 0.9 pJ (add only)

so the SNN wins while ``spike_rate × timesteps < E_MAC / E_AC ≈ 5.11``
(:func:`break_even_spike_ops`).

Memory-aware variant (:class:`MemoryAwareSnnModel`), a simplification in the
spirit of Lemaire et al. 2022 ("An analytical estimation of spiking neural
networks energy efficiency", ICONIP 2022), who add memory traffic to the
operation counts.  With no data reuse (every operand from SRAM)::

    ANN = MACs × (E_MAC + 2·E_rd) + N × E_wr                       weight + input read; output write
    SNN = S × (E_AC + 2·E_rd + E_wr) + N × T × (E_AC + E_rd + E_wr)
          S = spike_rate × T × MACs synaptic events: weight + potential read, potential write;
          each of the N neurons updates (leak/threshold) its potential every timestep

The membrane-potential traffic shrinks the SNN's edge: with N = 0 and
E_rd = E_wr = 5 pJ the break-even falls from 5.11 to about 0.92.

First layer: an SNN's first layer receives the (non-spike, real-valued)
input, so its synaptic operations are multiply-accumulates, not accumulates.
Give ``first_layer_macs`` (part of ``macs``): those MACs are charged densely,
once per inference, at the ANN's cost (E_MAC, plus the two operand reads in
the memory-aware variant) — the input is constant over the timesteps, so its
weighted sum is computed once — as in Rathi & Roy's DIET-SNN energy estimate
(direct input encoding).  Only the other ``macs − first_layer_macs`` are
scaled by ``spike_rate × timesteps``.

One SRAM energy: :data:`E_SRAM_32B_J` (5 pJ per 32-bit access) is half of
Horowitz's 8 KB SRAM 64-bit read (10 pJ), the entry an ``op_mix`` uses; Han
et al. 2015, Table 1 give the same 5 pJ.  A scenario compares memory-aware
SNN rows only with op-mix rows that use that SRAM entry.

Figures quoted by the study (guide Table 17) and attributed to Dampfhofer et
al. 2023 ("Are SNNs really more energy-efficient than ANNs? An in-depth
hardware-aware study", IEEE TETCI): SNN 3.6× better than the ANN at spike
density 0.1 and 7.3× at 0.05 (:data:`DAMPFHOFER_2023`).  We could not find
these two figures in the paper; its conclusion is that integrate-and-fire
SNNs compete with efficient ANNs only at 0.15–1.38 spikes per synapse per
inference.  They are kept *as quoted by the study*.  :func:`sparsity_sweep` shows them
against both models; :func:`implied_timesteps` gives the T at which the simple
model would reproduce each published ratio.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from greenbench.errors import ConfigError
from greensim import _check
from greensim.architectures import HOROWITZ_45NM, PJ

#: fp32 multiply-accumulate, J: Horowitz 2014 (ISSCC), 45 nm: 3.7 pJ mult + 0.9 pJ add.
E_MAC_J = HOROWITZ_45NM.fp32_mac_pj * PJ
#: fp32 accumulate (add), J: Horowitz 2014 (ISSCC), 45 nm.
E_AC_J = HOROWITZ_45NM.fp32_add_pj * PJ
#: 32-bit SRAM access, J: half a 64-bit read of Horowitz 2014's 8 KB SRAM (10 pJ) = 5 pJ, the
#: figure of Han et al. 2015 (NeurIPS, "Learning both weights and connections"), Table 1 (45 nm).
#: One SRAM energy for the memory-aware SNN and for op-mix rows (``sram_8kb_read_64b``).
E_SRAM_32B_J = HOROWITZ_45NM.sram_8kb_read_64b_pj / 2 * PJ
#: the op-mix entry whose energy :data:`E_SRAM_32B_J` is derived from
SRAM_OP_MIX_ENTRY = "sram_8kb_read_64b"

#: (spike density, ANN/SNN energy ratio) as quoted by the study (guide Table 17), which attributes
#: them to Dampfhofer et al. 2023; not found in that paper (see module doc).
DAMPFHOFER_2023: tuple[tuple[float, float], ...] = ((0.1, 3.6), (0.05, 7.3))
#: Dampfhofer et al. 2023 (IEEE TETCI), abstract: IF-SNNs compete with efficient ANNs only between
#: these spike counts per synapse per inference.
DAMPFHOFER_2023_COMPETITIVE_SPIKES_PER_SYNAPSE = (0.15, 1.38)


def _first_layer(macs: float, first_layer_macs: float) -> float:
    f = _check.non_negative("first_layer_macs", first_layer_macs)
    if f > macs:
        raise ConfigError(f"first_layer_macs: expected at most macs ({macs:g}), got {first_layer_macs!r}")
    return f


def snn_vs_ann(macs: float, spike_rate: float, timesteps: float, e_mac_j: float = E_MAC_J,
               e_ac_j: float = E_AC_J, *, memory: MemoryAwareSnnModel | None = None,
               neurons: float = 0.0, first_layer_macs: float = 0.0) -> tuple[float, float]:
    """``(ann_energy_j, snn_energy_j)`` of one inference.

    Simple model unless ``memory`` is given, then the memory-aware variant
    (``e_mac_j``/``e_ac_j`` are then taken from ``memory``).  ``first_layer_macs``
    (part of ``macs``) are charged as dense MACs once per inference: the first
    layer receives non-spike input.
    """
    m = _check.non_negative("macs", macs)
    r = _check.fraction("spike_rate", spike_rate)
    t = _check.positive("timesteps", timesteps)
    f = _first_layer(m, first_layer_macs)
    if memory is not None:
        return memory.energies_j(m, r, t, neurons, first_layer_macs=f)
    e_mac = _check.positive("e_mac_j", e_mac_j)
    e_ac = _check.positive("e_ac_j", e_ac_j)
    return m * e_mac, f * e_mac + r * t * (m - f) * e_ac


def break_even_spike_ops(e_mac_j: float = E_MAC_J, e_ac_j: float = E_AC_J) -> float:
    """``spike_rate × timesteps`` at which the simple model's SNN costs as much as the ANN."""
    return _check.positive("e_mac_j", e_mac_j) / _check.positive("e_ac_j", e_ac_j)


def implied_timesteps(ratio: float, spike_rate: float, e_mac_j: float = E_MAC_J,
                      e_ac_j: float = E_AC_J) -> float:
    """Timesteps at which the simple model gives ANN/SNN = ``ratio`` at ``spike_rate``."""
    return break_even_spike_ops(e_mac_j, e_ac_j) / (_check.positive("ratio", ratio)
                                                    * _check.positive("spike_rate", spike_rate))


@dataclass(frozen=True, slots=True)
class MemoryAwareSnnModel:
    """Memory-aware SNN/ANN energy model (see module doc), energies in J.

    Defaults: E_MAC 4.6 pJ, E_AC 0.9 pJ (Horowitz 2014, 45 nm fp32); SRAM
    read/write of a 32-bit word 5 pJ (Han et al. 2015, Table 1).
    """

    e_mac_j: float = E_MAC_J
    e_ac_j: float = E_AC_J
    e_read_j: float = E_SRAM_32B_J
    e_write_j: float = E_SRAM_32B_J

    def __post_init__(self) -> None:
        for name in ("e_mac_j", "e_ac_j"):
            _check.positive(f"MemoryAwareSnnModel.{name}", getattr(self, name))
        for name in ("e_read_j", "e_write_j"):
            _check.non_negative(f"MemoryAwareSnnModel.{name}", getattr(self, name))

    def energies_j(self, macs: float, spike_rate: float, timesteps: float,
                   neurons: float = 0.0, *, first_layer_macs: float = 0.0) -> tuple[float, float]:
        m = _check.non_negative("macs", macs)
        r = _check.fraction("spike_rate", spike_rate)
        t = _check.positive("timesteps", timesteps)
        n = _check.non_negative("neurons", neurons)
        f = _first_layer(m, first_layer_macs)
        dense_mac_j = self.e_mac_j + 2 * self.e_read_j
        ann = m * dense_mac_j + n * self.e_write_j
        events = r * t * (m - f)
        snn = (f * dense_mac_j + events * (self.e_ac_j + 2 * self.e_read_j + self.e_write_j)
               + n * t * (self.e_ac_j + self.e_read_j + self.e_write_j))
        return ann, snn

    def break_even_spike_ops(self) -> float:
        """``spike_rate × timesteps`` at break-even when neuron updates are ignored (N = 0)."""
        return (self.e_mac_j + 2 * self.e_read_j) / (self.e_ac_j + 2 * self.e_read_j + self.e_write_j)


@dataclass(frozen=True, slots=True)
class SweepRow:
    """ANN/SNN energy ratios (> 1: the SNN wins) at one spike rate."""

    spike_rate: float
    timesteps: float
    simple_ratio: float
    memory_ratio: float
    published_ratio: float | None


def sparsity_sweep(spike_rates: Iterable[float] = (0.5, 0.2, 0.1, 0.05, 0.02, 0.01),
                   timesteps: float = 1.0,
                   memory: MemoryAwareSnnModel | None = None) -> list[SweepRow]:
    """ANN/SNN ratios of both models over ``spike_rates``, with Dampfhofer et al.'s
    published ratios beside the rates they reported."""
    mem = memory if memory is not None else MemoryAwareSnnModel()
    published = dict(DAMPFHOFER_2023)
    rows = []
    for rate in spike_rates:
        ann, snn = snn_vs_ann(1.0, rate, timesteps)
        ann_m, snn_m = mem.energies_j(1.0, rate, timesteps)
        rows.append(SweepRow(spike_rate=float(rate), timesteps=float(timesteps),
                             simple_ratio=ann / snn if snn > 0 else float("inf"),
                             memory_ratio=ann_m / snn_m if snn_m > 0 else float("inf"),
                             published_ratio=published.get(float(rate))))
    return rows

"""Per-operation energy of computer architectures, and Horowitz's 45 nm table.

Two levels of detail:

* :data:`ARCHITECTURES` — one energy per "operation" for Von Neumann (~1 nJ),
  Harvard (~0.8 nJ) and neuromorphic (~0.01 nJ) machines: **the study's
  figures** (its guide, Table 1).  The guide cites Horowitz 2014, Hennessy &
  Patterson 2011 and Roy et al. 2019 for the table, but the 1 nJ per
  operation is not Horowitz's figure: Horowitz 2014 gives about **70 pJ per
  instruction** for a 45 nm core (the figure greenbench's counted meter uses,
  :mod:`greenbench.meters.counted.energy_model`).  These are order-of-magnitude figures for a
  whole instruction (fetch, decode, operands, execute), not for an ALU
  operation, and are **not comparable with a per-MAC figure** such as
  Horowitz's 4.6 pJ fp32 MAC: a table should never set them side by side.
* :class:`Horowitz45nm` — Horowitz, "Computing's energy problem (and what we
  can do about it)", ISSCC 2014, energy table for a 45 nm process at 0.9 V:
  integer/floating-point add and multiply, SRAM and DRAM accesses, in pJ.
  Use it for op-mix projections (:func:`op_mix_energy_j`).

The study's Table 1 also prints "1000 / 800 / 10 mJ per million operations".
That is a units slip: 1e6 × 1 nJ = 1e-3 J = 1 mJ, so the row is in µJ
(:data:`STUDY_TABLE1_MJ_PER_MILLION_OPS` keeps the printed figures; the
tests check that they are 1000× :func:`energy_per_million_ops_j`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from greenbench.errors import ConfigError
from greenbench.meters.counted.energy_model import DEFAULT as COUNTED_DEFAULT
from greensim import _check

PJ = 1e-12
NJ = 1e-9
#: Horowitz 2014's ~70 pJ per instruction (45 nm), cited once in greenbench.meters.counted.energy_model; beside the
#: study's "~1 nJ per operation" for Von Neumann.
HOROWITZ_2014_PJ_PER_INSTRUCTION = COUNTED_DEFAULT.pj_per_instruction


@dataclass(frozen=True, slots=True)
class Architecture:
    """An architecture's energy per operation (J) and where the figure comes from."""

    name: str
    energy_per_op_j: float
    source: str

    def __post_init__(self) -> None:
        _check.positive(f"Architecture({self.name}).energy_per_op_j", self.energy_per_op_j)


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a for a in (
        Architecture("von_neumann", 1.0 * NJ,
                     "~1 nJ per instruction: the study's guide, Table 1 (not Horowitz 2014, who gives ~70 pJ "
                     "per instruction at 45 nm)"),
        Architecture("harvard", 0.8 * NJ,
                     "~0.8 nJ per instruction: the study's guide, Table 1 (attributed there to Hennessy & "
                     "Patterson 2011, where it could not be found)"),
        Architecture("neuromorphic", 0.01 * NJ,
                     "~0.01 nJ per operation: the study's guide, Table 1 (attributed there to Roy, Jaiswal & "
                     "Panda 2019, Nature 575)"),
    )
}

#: What the study's Table 1 prints, "mJ per million operations" — really µJ (see module doc).
STUDY_TABLE1_MJ_PER_MILLION_OPS: dict[str, float] = {"von_neumann": 1000.0, "harvard": 800.0,
                                                     "neuromorphic": 10.0}


def get_architecture(name: str) -> Architecture:
    if not isinstance(name, str):
        raise ConfigError(f"architecture: expected a name such as 'von_neumann', got {name!r}")
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return ARCHITECTURES[key]
    except KeyError:
        raise ConfigError(f"architecture: unknown {name!r}; expected one of "
                          f"{', '.join(ARCHITECTURES)}") from None


def ops_energy_j(ops: float, architecture: str) -> float:
    """Energy (J) of ``ops`` operations on ``architecture``
    ("von_neumann" | "harvard" | "neuromorphic")."""
    return _check.non_negative("ops", ops) * get_architecture(architecture).energy_per_op_j


def energy_per_million_ops_j(architecture: str) -> float:
    """Energy (J) of one million operations: 1e-3 J (1 mJ) for Von Neumann."""
    return ops_energy_j(1e6, architecture)


@dataclass(frozen=True, slots=True)
class Horowitz45nm:
    """Energy per operation, pJ, 45 nm at 0.9 V: Horowitz 2014, ISSCC, "Computing's
    energy problem (and what we can do about it)", energy table (slide/Fig. 1.1.9).

    Memory reads are of 64-bit words; DRAM is given as the range 1.3–2.6 nJ.
    """

    int8_add_pj: float = 0.03
    int16_add_pj: float = 0.05
    int32_add_pj: float = 0.1
    fp16_add_pj: float = 0.4
    fp32_add_pj: float = 0.9
    int8_mult_pj: float = 0.2
    int32_mult_pj: float = 3.1
    fp16_mult_pj: float = 1.1
    fp32_mult_pj: float = 3.7
    sram_8kb_read_64b_pj: float = 10.0
    sram_32kb_read_64b_pj: float = 20.0
    sram_1mb_read_64b_pj: float = 100.0
    dram_read_64b_low_pj: float = 1300.0
    dram_read_64b_high_pj: float = 2600.0

    def __post_init__(self) -> None:
        for f in fields(self):
            _check.positive(f"Horowitz45nm.{f.name}", getattr(self, f.name))

    @property
    def fp32_mac_pj(self) -> float:
        """A fp32 multiply-accumulate: 3.7 + 0.9 = 4.6 pJ."""
        return self.fp32_mult_pj + self.fp32_add_pj

    @property
    def int32_mac_pj(self) -> float:
        return self.int32_mult_pj + self.int32_add_pj

    def op_names(self) -> tuple[str, ...]:
        names = [f.name.removesuffix("_pj") for f in fields(self)]
        return (*names, "fp32_mac", "int32_mac")

    def energy_j(self, op: str) -> float:
        """Energy (J) of one ``op`` (a field name without ``_pj``, or fp32_mac/int32_mac)."""
        if op == "fp32_mac":
            return self.fp32_mac_pj * PJ
        if op == "int32_mac":
            return self.int32_mac_pj * PJ
        try:
            return float(getattr(self, f"{op}_pj")) * PJ
        except AttributeError:
            raise ConfigError(f"op_mix: unknown operation {op!r}; expected one of "
                              f"{', '.join(self.op_names())}") from None


HOROWITZ_45NM = Horowitz45nm()


def op_mix_energy_j(counts: Mapping[str, float], table: Horowitz45nm = HOROWITZ_45NM) -> float:
    """Energy (J) of an operation mix, e.g. ``{"fp32_mac": 1e9, "dram_read_64b_low": 1e6}``."""
    total = 0.0
    if not isinstance(counts, Mapping):
        raise ConfigError(f"op_mix: expected a mapping of operation -> count, got {counts!r}")
    for op, n in counts.items():
        total += _check.non_negative(f"op_mix.{op}", n) * table.energy_j(op)
    return total

"""Energy model over callgrind's counts: joules from instructions and memory traffic.

The counted meter (greenbench.meters.counted) reads, per window, the events
callgrind's cache simulator counts (``--cache-sim=yes``)::

    Ir   instructions executed            -> "instructions"
    Dr   data reads (L1 data accesses)    -> "data_reads"
    Dw   data writes (L1 data accesses)   -> "data_writes"
    I1mr L1 instruction-cache misses      -> "l1i_misses"
    D1mr L1 data-cache read misses        -> "l1d_read_misses"
    D1mw L1 data-cache write misses       -> "l1d_write_misses"
    ILmr last-level-cache instruction misses -> "ll_instr_misses"
    DLmr last-level-cache data read misses   -> "ll_read_misses"
    DLmw last-level-cache data write misses  -> "ll_write_misses"

and charges four event classes (all linear, no idle or static power)::

    energy_j = pj_per_instruction       * instructions
             + pj_per_l1_access         * (data_reads + data_writes)
             + pj_per_ll_access         * (l1i_misses + l1d_read_misses + l1d_write_misses)
             + nj_per_dram_line_64b     * (ll_instr_misses + ll_read_misses + ll_write_misses)

An L1 miss is one access to the last-level cache (callgrind simulates two
levels, L1 and the machine's last level), and a last-level miss is one 64-byte
line from DRAM (write misses allocate: a line read; write-backs are not
simulated and not charged).

**Default coefficients: 45 nm.**  Horowitz 2014 ("Computing's energy problem
(and what we can do about it)", ISSCC 2014, energy table, 45 nm at 0.9 V, and
the instruction-energy breakdown of the same talk) is the one widely cited
table that gives instruction, SRAM and DRAM energy at a single node; the x86
measurements that check the same orders of magnitude on real processors
(Molka et al. 2010, "Characterizing the energy consumption of data transfers
and arithmetic operations on x86-64 processors", IGCC 2010, on a 45 nm AMD
Opteron 2435; Kestor et al. 2013, "Quantifying the energy cost of data
movement in scientific applications", IISWC 2013, on a 32 nm Xeon E5-2670)
find the same ordering and a DRAM line costing tens of times an L1 access.  So
every default is Horowitz's 45 nm figure; newer processors spend less per
event, and the absolute joules are an estimate of a 45 nm-class core.  Use
``greenbench calibrate`` on a machine with RAPL to fit the four
coefficients to a real counter; the counted meter then reads that file.

Imports: stdlib and :mod:`greenbench.errors` only.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from greenbench.errors import ConfigError

#: callgrind event name -> the name greenbench stores it under
EVENTS: dict[str, str] = {
    "Ir": "instructions",
    "Dr": "data_reads",
    "Dw": "data_writes",
    "I1mr": "l1i_misses",
    "D1mr": "l1d_read_misses",
    "D1mw": "l1d_write_misses",
    "ILmr": "ll_instr_misses",
    "DLmr": "ll_read_misses",
    "DLmw": "ll_write_misses",
}
COUNT_NAMES = tuple(EVENTS.values())

#: event classes the model charges, and the counts each sums
CLASSES: dict[str, tuple[str, ...]] = {
    "instructions": ("instructions",),
    "l1_accesses": ("data_reads", "data_writes"),
    "ll_accesses": ("l1i_misses", "l1d_read_misses", "l1d_write_misses"),
    "dram_lines": ("ll_instr_misses", "ll_read_misses", "ll_write_misses"),
}
#: how the explanation names each class
CLASS_LABELS = {"instructions": "instructions", "l1_accesses": "L1 accesses",
                "ll_accesses": "last-level-cache accesses", "dram_lines": "DRAM lines"}

#: where ``greenbench calibrate`` writes, and the counted meter looks, by default
COEFFICIENTS_ENV = "GREENBENCH_COEFFICIENTS"


def default_coefficients_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "greenbench" / "counted_coefficients.json"


@dataclass(frozen=True, slots=True)
class Coefficients:
    """Energy per counted event.  Defaults: Horowitz 2014, ISSCC, 45 nm, 0.9 V.

    * ``pj_per_instruction = 70``: Horowitz 2014, instruction-energy breakdown
      of a 45 nm in-order core ("70 pJ" for an add: instruction fetch, decode,
      register file, control, of which the 32-bit add itself is 0.1 pJ).
    * ``pj_per_l1_access = 20``: Horowitz 2014 energy table, 64-bit read of a
      32 KB SRAM (an L1-sized array), 45 nm.
    * ``pj_per_ll_access = 800``: Horowitz 2014 energy table, 64-bit read of a
      1 MB SRAM, 100 pJ, times the 8 words of a 64-byte line (45 nm).
    * ``nj_per_dram_line_64b = 15.6``: Horowitz 2014 energy table, DRAM
      1.3-2.6 nJ per 64-bit word, midpoint 1.95 nJ, times 8 words (45 nm-era DDR3).
      Pricing a 64-byte line as 8 independent 64-bit accesses is an upper-end
      choice: a burst transfer of one line shares the row activation and
      command overhead across its 8 words, so a line costs less than 8 x a
      lone word (how much less is not given by Horowitz's table).
    """

    pj_per_instruction: float = 70.0
    pj_per_l1_access: float = 20.0
    pj_per_ll_access: float = 800.0
    nj_per_dram_line_64b: float = 15.6
    source: str = "Horowitz 2014 (ISSCC), 45 nm, 0.9 V; defaults"
    #: filled by ``greenbench calibrate``: fit error and what the fit used
    fit: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("pj_per_instruction", "pj_per_l1_access", "pj_per_ll_access", "nj_per_dram_line_64b"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value < 0:
                raise ConfigError(f"counted coefficients: {name} must be a finite number >= 0, got {value!r}")

    def j_per_class(self) -> dict[str, float]:
        """Joules per event of each class."""
        return {"instructions": self.pj_per_instruction * 1e-12, "l1_accesses": self.pj_per_l1_access * 1e-12,
                "ll_accesses": self.pj_per_ll_access * 1e-12, "dram_lines": self.nj_per_dram_line_64b * 1e-9}

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["fit"] = dict(self.fit)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "coefficients") -> Coefficients:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(names))}")
        return cls(**dict(data))


DEFAULT = Coefficients()


def class_counts(counts: Mapping[str, float]) -> dict[str, float]:
    """The four charged event classes from stored counts (missing counts are 0)."""
    return {c: float(sum(counts.get(n, 0) for n in names)) for c, names in CLASSES.items()}


def energy_split_j(counts: Mapping[str, float], coeffs: Coefficients = DEFAULT) -> dict[str, float]:
    """Joules of each event class for ``counts``; they sum to :func:`energy_j`."""
    per = coeffs.j_per_class()
    return {c: n * per[c] for c, n in class_counts(counts).items()}


def energy_j(counts: Mapping[str, float], coeffs: Coefficients = DEFAULT) -> float:
    return sum(energy_split_j(counts, coeffs).values())


def load_coefficients(path: str | os.PathLike[str] | None = None) -> Coefficients:
    """Coefficients from ``path``, else ``$GREENBENCH_COEFFICIENTS``, else the calibrate default file,
    else Horowitz's 45 nm defaults.  A named file that is missing or malformed is a ConfigError."""
    explicit = path or os.environ.get(COEFFICIENTS_ENV)
    p = Path(explicit) if explicit else default_coefficients_path()
    if not p.is_file():
        if explicit:
            raise ConfigError(f"counted coefficients: {p} not found (from {COEFFICIENTS_ENV} or the option); "
                              "write one with `greenbench calibrate` or unset it for the 45 nm defaults")
        return DEFAULT
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"counted coefficients: {p} is not valid JSON ({exc})") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"counted coefficients: {p} must hold a JSON object")
    coeffs = Coefficients.from_json(data, str(p))
    return coeffs if "file" in coeffs.fit else Coefficients(**{**asdict(coeffs), "fit": {**coeffs.fit, "file": str(p)}})

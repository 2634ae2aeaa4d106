"""Job files: a section of :mod:`greensim.fleet` (its docstring tells the whole story)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from greenbench.errors import ConfigError
from greensim.fleet.jobs import _Jobs
from greensim.fleet.keys import DASK_HINT, MAX_JOB_ENERGY_KWH, FloatArray
from greensim.fleet.spec import FleetSpec

_FILE_COLUMNS = ("duration_h", "submit_h", "region")


def _file_batches(spec: FleetSpec, rows: int) -> Iterator[Mapping[str, Any]]:
    """Column dicts of ``rows`` rows each (the last may be shorter), streamed from the source file."""
    assert spec.source is not None
    path = Path(spec.source)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ConfigError(f"{path}: [fleet].source: no such file (expected Parquet or CSV jobs)")
    try:
        import pyarrow as pa
    except ImportError:
        pa = None
    if suffix == ".parquet":
        if pa is None:
            raise ConfigError(f"{path}: reading Parquet needs pyarrow: {DASK_HINT}")
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
            yield {name: batch.column(name).to_numpy(zero_copy_only=False) for name in batch.schema.names}
    elif suffix == ".csv":
        if pa is not None:
            import pyarrow.csv as pacsv

            reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 24))
            buf: list[Any] = []
            count = 0
            for batch in reader:
                buf.append(batch)
                count += batch.num_rows
                while count >= rows:
                    table = pa.Table.from_batches(buf)
                    head, rest = table.slice(0, rows), table.slice(rows)
                    yield {n: head.column(n).to_numpy() for n in head.column_names}
                    buf, count = rest.to_batches(), rest.num_rows
            if count:
                table = pa.Table.from_batches(buf)
                yield {n: table.column(n).to_numpy() for n in table.column_names}
        else:
            import csv

            with path.open(newline="", encoding="utf-8") as fh:
                reader_rows = csv.DictReader(fh)
                while True:
                    chunk = list(itertools.islice(reader_rows, rows))
                    if not chunk:
                        break
                    yield {k: np.asarray([row[k] for row in chunk]) for k in chunk[0]}
    else:
        raise ConfigError(f"{path}: [fleet].source: expected a .parquet or .csv file")


def _guarded_batches(spec: FleetSpec, rows: int) -> Iterator[Mapping[str, Any]]:
    """:func:`_file_batches`, with a file that is not Parquet/CSV (empty, binary, ragged rows, bad UTF-8) or
    holds no jobs (header only, 0 rows) refused in one line naming it, as ``jobs = 0`` is."""
    assert spec.source is not None
    path = Path(spec.source)
    rows_seen = 0
    kind = "Parquet" if path.suffix.lower() == ".parquet" else "CSV"
    try:
        for cols in _file_batches(spec, rows):
            n = min((len(v) for v in cols.values()), default=0)
            if n:
                rows_seen += n
                yield cols
    except ConfigError:
        raise
    except (OSError, ValueError, UnicodeError, TypeError, KeyError, IndexError, MemoryError) as exc:
        # pyarrow.ArrowInvalid is a ValueError, ArrowIOError an OSError
        first = "".join(c if c.isprintable() and c.isascii() else "?" for c in
                        (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160])
        raise ConfigError(f"{path}: [fleet].source: not a readable {kind} jobs file ({first})") from None
    if rows_seen == 0:
        raise ConfigError(f"{path}: [fleet].source: no jobs (a header only, or 0 rows); expected at least one "
                          "job, as [fleet].jobs >= 1")


def _file_jobs(spec: FleetSpec, cols: Mapping[str, Any], first_row: int, n_steps: int) -> _Jobs:
    path = spec.source
    missing = [c for c in _FILE_COLUMNS if c not in cols]
    if missing or ("energy_kwh" in cols) == ("power_kw" in cols):
        raise ConfigError(f"{path}: columns: expected {', '.join(_FILE_COLUMNS)} and one of energy_kwh or "
                          f"power_kw (optional deadline_h), got {', '.join(cols)}")

    def num(name: str) -> FloatArray:
        try:
            x = np.asarray(cols[name], dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(f"{path}: column {name}: expected numbers near row {first_row + 2}") from None
        if not np.all(np.isfinite(x)) or np.any(x < 0):
            bad = int(np.flatnonzero(~np.isfinite(x) | (x < 0))[0])
            raise ConfigError(f"{path}: row {first_row + bad + 1}: {name} must be finite and >= 0, got {x[bad]}")
        return x

    dur = num("duration_h")
    if np.any(dur > spec.max_duration_h):
        bad = int(np.flatnonzero(dur > spec.max_duration_h)[0])
        raise ConfigError(f"{path}: row {first_row + bad + 1}: duration_h {dur[bad]:g} exceeds "
                          f"[fleet].max_duration_h = {spec.max_duration_h}; raise it")
    length = np.clip(np.ceil(dur), 1, spec.max_duration_h).astype(np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        energy = num("energy_kwh") if "energy_kwh" in cols else num("power_kw") * dur
        too_big = ~(energy <= MAX_JOB_ENERGY_KWH)
    if np.any(too_big):
        bad = int(np.flatnonzero(too_big)[0])
        field_name = "energy_kwh" if "energy_kwh" in cols else "power_kw × duration_h"
        raise ConfigError(f"{path}: row {first_row + bad + 1}: {field_name} is {energy[bad]:.3g} kWh; expected at "
                          f"most {MAX_JOB_ENERGY_KWH:g} kWh per job (a sanity bound: 1 TWh)")
    submit = num("submit_h")
    if np.any(submit != np.floor(submit)) or np.any(submit >= n_steps):
        bad = int(np.flatnonzero((submit != np.floor(submit)) | (submit >= n_steps))[0])
        raise ConfigError(f"{path}: row {first_row + bad + 1}: submit_h must be a whole hour in [0, {n_steps}), "
                          f"got {submit[bad]}")
    s = np.minimum(submit.astype(np.int64), n_steps - length)
    try:
        names = np.asarray(cols["region"]).astype(str)
    except UnicodeError:
        raise ConfigError(f"{path}: column region: expected UTF-8 zone ids near row {first_row + 1}") from None
    order = np.argsort(np.asarray(spec.regions))
    sorted_regions = np.asarray(spec.regions)[order]
    pos = np.clip(np.searchsorted(sorted_regions, names), 0, len(spec.regions) - 1)
    ok = sorted_regions[pos] == names
    if not np.all(ok):
        bad = int(np.flatnonzero(~ok)[0])
        raise ConfigError(f"{path}: row {first_row + bad + 1}: region {str(names[bad])!r} is not in [fleet].regions "
                          f"({', '.join(spec.regions)})")
    home = order[pos].astype(np.int64)
    if "deadline_h" in cols:
        dl = num("deadline_h")
        allowed = np.asarray(spec.deadlines_h)
        match = dl[:, None] == allowed[None, :]
        if not np.all(match.any(axis=1)):
            bad = int(np.flatnonzero(~match.any(axis=1))[0])
            raise ConfigError(f"{path}: row {first_row + bad + 1}: deadline_h {dl[bad]:g} is not one of "
                              f"[fleet].deadline_h {list(spec.deadlines_h)}")
        deadline = match.argmax(axis=1).astype(np.int64)
    elif len(spec.deadlines_h) == 1:
        deadline = np.zeros(dur.size, dtype=np.int64)
    else:
        raise ConfigError(f"{path}: columns: no deadline_h column, and [fleet].deadline_h lists several; "
                          "expected the column or one deadline")
    return _Jobs(energy, length, s, home, deadline)

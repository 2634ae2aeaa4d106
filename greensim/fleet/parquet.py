"""Parquet: a section of :mod:`greensim.fleet` (its docstring tells the whole story)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from greenbench.errors import ConfigError
from greensim.fleet.job_files import _FILE_COLUMNS, _file_jobs
from greensim.fleet.jobs import _jobs_partition
from greensim.fleet.keys import _N_METRICS, BLOCK_JOBS, DASK_HINT, FloatArray
from greensim.fleet.spec import FleetSpec
from greensim.fleet.tables import _Model

#: the columns a job file may have (anything else in a Parquet file is not read)
_PARQUET_COLUMNS = (*_FILE_COLUMNS, "energy_kwh", "power_kw", "deadline_h")


def _is_url(source: Path | str | None) -> bool:
    return isinstance(source, str) and "://" in source


def _is_dataset(spec: FleetSpec) -> bool:
    """Parquet jobs that the workers read themselves: a ``.parquet`` file, a directory of them (searched
    recursively), or an fsspec URL of either (``s3://bucket/jobs/``, ``gs://...``, ``file:///...``)."""
    src = spec.source
    return src is not None and (_is_url(src) or Path(src).is_dir() or Path(src).suffix.lower() == ".parquet")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


def _parquet_file(name: str) -> Any:
    """A ``pyarrow.parquet.ParquetFile`` (a context manager) for a local path or an fsspec URL."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(f"{name}: reading Parquet needs pyarrow: {DASK_HINT}") from None
    if _is_url(name):
        try:
            import fsspec
        except ImportError:
            raise ConfigError(f"{name}: [fleet].source: a URL needs fsspec: {DASK_HINT}") from None
        fs, path = fsspec.core.url_to_fs(name)
        return pq.ParquetFile(path, filesystem=fs)
    return pq.ParquetFile(name)


def _parquet_files(spec: FleetSpec) -> list[str]:
    """The dataset's files, sorted (the order fixes the row numbers in messages, not the totals)."""
    src = spec.source
    assert src is not None
    if _is_url(src):
        try:
            import fsspec
        except ImportError:
            raise ConfigError(f"{src}: [fleet].source: a URL needs fsspec: {DASK_HINT}") from None
        try:
            fs, root = fsspec.core.url_to_fs(src)
            if fs.isdir(root):
                files = [fs.unstrip_protocol(f) for f in sorted(fs.find(root)) if f.lower().endswith(".parquet")]
            elif fs.isfile(root):
                files = [str(src)]
            else:
                raise ConfigError(f"{src}: [fleet].source: no such file or directory (expected Parquet jobs)")
        except ConfigError:
            raise
        except Exception as exc:  # fsspec back-ends raise their own types (credentials, network, ...)
            raise ConfigError(f"{src}: [fleet].source: cannot list ({_first_line(exc)})") from None
    else:
        p = Path(src)
        if p.is_dir():
            files = sorted(str(f) for f in p.rglob("*") if f.suffix.lower() == ".parquet" and f.is_file())
        elif p.is_file():
            files = [str(p)]
        else:
            raise ConfigError(f"{p}: [fleet].source: no such file (expected Parquet or CSV jobs)")
    if not files:
        raise ConfigError(f"{src}: [fleet].source: no .parquet files in this directory; expected Parquet jobs")
    return files


@dataclass(frozen=True, slots=True)
class _RowGroups:
    """One task of a Parquet dataset: consecutive row groups of one file, read by the worker that runs it."""

    file: str
    groups: tuple[int, ...]
    first_row: int  # 0-based row, within the file, of the first group's first row
    rows: int


def _parquet_plan(spec: FleetSpec) -> list[_RowGroups]:
    """Tasks over the dataset from the files' footers alone (no job is read here): runs of whole row
    groups of about ``partition_jobs`` rows.  Each row group is split into blocks of
    :data:`BLOCK_JOBS` rows on its own, so the blocks (and the totals, bit for bit) depend on the
    files only, not on ``partition_jobs`` or the worker count.  A missing or unreadable file, or one
    without the job columns, is refused here, naming it, before any task runs."""
    per_task = spec.blocks_per_partition * BLOCK_JOBS
    plan: list[_RowGroups] = []
    for name in _parquet_files(spec):
        try:
            with _parquet_file(name) as pf:
                meta = pf.metadata
                columns = set(pf.schema_arrow.names)
                sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        except ConfigError:
            raise
        except Exception as exc:  # pyarrow.ArrowInvalid (a ValueError), OSError, fsspec errors...
            raise ConfigError(f"{name}: [fleet].source: not a readable Parquet jobs file "
                              f"({_first_line(exc)})") from None
        if any(c not in columns for c in _FILE_COLUMNS) or ("energy_kwh" in columns) == ("power_kw" in columns):
            raise ConfigError(f"{name}: columns: expected {', '.join(_FILE_COLUMNS)} and one of energy_kwh or "
                              f"power_kw (optional deadline_h), got {', '.join(sorted(columns))}")
        group: list[int] = []
        rows = offset = first = 0
        for i, n in enumerate(sizes):
            if n and group and rows + n > per_task:
                plan.append(_RowGroups(name, tuple(group), first, rows))
                group, rows = [], 0
            if n:
                if not group:
                    first = offset
                group.append(i)
                rows += n
            offset += n
        if group:
            plan.append(_RowGroups(name, tuple(group), first, rows))
    if not plan:
        raise ConfigError(f"{spec.source}: [fleet].source: no jobs (0 rows); expected at least one job, as "
                          "[fleet].jobs >= 1")
    return plan


def _parquet_partition(model: _Model, spec: FleetSpec, part: _RowGroups) -> FloatArray:
    """One task, on the worker: read ``part``'s row groups (only the job columns) and return their
    (blocks, metrics, regions) sums; errors name the file and the row."""
    named = replace(spec, source=part.file)
    out = []
    first = part.first_row
    group = part.groups[0]
    try:
        with _parquet_file(part.file) as pf:
            wanted = [c for c in pf.schema_arrow.names if c in _PARQUET_COLUMNS]
            for group in part.groups:
                table = pf.read_row_group(group, columns=wanted)
                cols = {c: _column_numpy(table.column(c)) for c in table.column_names}
                jobs = _file_jobs(named, cols, first, model.ci.shape[1])
                first += table.num_rows
                del table, cols
                out.append(_jobs_partition(model, jobs))
    except ConfigError:
        raise
    except Exception as exc:  # a file changed or lost since the plan, a corrupt page, a network error
        raise ConfigError(f"{part.file}: [fleet].source: cannot read row group {group} "
                          f"({_first_line(exc)})") from None
    return np.concatenate(out) if out else np.zeros((0, _N_METRICS, len(spec.regions)))


def _column_numpy(col: Any) -> Any:
    """A pyarrow column as numpy; strings through their dictionary (a few zone ids, not a Python object
    per row)."""
    import pyarrow as pa

    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_dictionary(col.type):
        enc = col.dictionary_encode() if not pa.types.is_dictionary(col.type) else col
        chunks = enc.chunks if hasattr(enc, "chunks") else [enc]
        parts = [np.asarray(c.dictionary.to_pylist(), dtype=str)[c.indices.to_numpy(zero_copy_only=False)]
                 if len(c) else np.zeros(0, dtype=str) for c in chunks]
        if any(c.null_count for c in chunks):
            raise ValueError("column region: a missing (null) zone id")
        return np.concatenate(parts) if parts else np.zeros(0, dtype=str)
    return col.to_numpy()

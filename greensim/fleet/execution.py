"""Execution: a section of :mod:`greensim.fleet` (its docstring tells the whole story)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from greenbench.errors import ConfigError
from greensim.fleet.job_files import _file_jobs, _guarded_batches
from greensim.fleet.jobs import _jobs_partition, _synthetic_partition
from greensim.fleet.keys import BLOCK_JOBS, DASK_HINT, DEFAULT_PARTITION_JOBS, FloatArray
from greensim.fleet.parquet import _is_dataset, _parquet_partition, _parquet_plan
from greensim.fleet.results import FleetResult, _result
from greensim.fleet.spec import FleetSpec
from greensim.fleet.tables import _Model


def _dask_or_fail(option: str) -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigError(f"{option} needs Dask: {DASK_HINT}") from None
    return distributed


def _client_threads(client: Any) -> int:
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:
        return 2


_Task = tuple[Any, Callable[..., FloatArray], tuple[Any, ...], int]  # key, function, args, jobs


def _execute(tasks: Iterable[_Task], client: Any, on_done: Callable[[Any, FloatArray], None],
             progress: Callable[[int], None], max_in_flight: int | None = None) -> None:
    """Run tasks here (client None) or on the cluster with a bounded number in flight."""
    if client is None:
        for key, fn, args, jobs in tasks:
            on_done(key, fn(*args))
            progress(jobs)
        return
    distributed = _dask_or_fail("client")
    limit = max_in_flight or 2 * _client_threads(client)
    it = iter(tasks)
    meta: dict[Any, tuple[Any, int]] = {}
    done = distributed.as_completed()

    def submit_next() -> bool:
        try:
            key, fn, args, jobs = next(it)
        except StopIteration:
            return False
        fut = client.submit(fn, *args, pure=False)
        meta[fut.key] = (key, jobs)
        done.add(fut)
        return True

    for _ in range(limit):
        if not submit_next():
            break
    for fut in done:
        key, jobs = meta.pop(fut.key)
        on_done(key, fut.result())
        fut.release()
        progress(jobs)
        submit_next()


class _Progress:
    """A rich progress bar on stderr when it is a terminal (or when asked); silent otherwise."""

    def __init__(self, total: int | None, enabled: bool | None, label: str) -> None:
        self.bar: Any = None
        if enabled is None:
            enabled = sys.stderr.isatty() and (total is None or total > DEFAULT_PARTITION_JOBS)
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), TimeRemainingColumn(),
                                console=Console(file=sys.stderr), transient=False)
            self.task = self.bar.add_task(label, total=total)

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, jobs: int) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, jobs)


def _model_handle(model: _Model, client: Any) -> Any:
    return model if client is None else client.scatter(model, broadcast=True, hash=False)


def _synthetic_tasks(key: Any, spec: FleetSpec, handle: Any) -> Iterator[_Task]:
    n_blocks = -(-spec.jobs // BLOCK_JOBS)
    per = spec.blocks_per_partition
    for part, first in enumerate(range(0, n_blocks, per)):
        count = min(per, n_blocks - first)
        jobs = min(spec.jobs, (first + count) * BLOCK_JOBS) - first * BLOCK_JOBS
        yield (key, part), _synthetic_partition, (handle, spec, first, count), jobs


def _file_tasks(key: Any, spec: FleetSpec, handle: Any, n_steps: int) -> Iterator[_Task]:
    if _is_dataset(spec):  # Parquet: the client holds the plan; each worker reads its own row groups
        for part, groups in enumerate(_parquet_plan(spec)):
            yield (key, part), _parquet_partition, (handle, spec, groups), groups.rows
        return
    rows = spec.blocks_per_partition * BLOCK_JOBS
    first = 0
    for part, cols in enumerate(_guarded_batches(spec, rows)):
        jobs = _file_jobs(spec, cols, first, n_steps)
        n = int(jobs.energy_kwh.shape[0])
        first += n
        yield (key, part), _jobs_partition, (handle, jobs), n


def _file_rows(spec: FleetSpec) -> int | None:
    assert spec.source is not None
    if _is_dataset(spec):
        try:
            return sum(groups.rows for groups in _parquet_plan(spec))
        except Exception:  # the run itself reports it, naming the file
            return None
    return None


def _run_many(specs: Sequence[FleetSpec], client: Any, progress: bool | None,
              max_in_flight: int | None) -> list[FleetResult]:
    models = [_Model.of(s) for s in specs]
    handles = [_model_handle(m, client) for m in models]
    totals = [s.jobs if s.source is None else _file_rows(s) for s in specs]
    total = None if any(t is None for t in totals) else sum(t or 0 for t in totals)

    def tasks() -> Iterator[_Task]:
        for i, (spec, handle, model) in enumerate(zip(specs, handles, models, strict=True)):
            if spec.source is None:
                yield from _synthetic_tasks(i, spec, handle)
            else:
                yield from _file_tasks(i, spec, handle, model.ci.shape[1])

    parts: list[dict[int, FloatArray]] = [{} for _ in specs]

    def on_done(key: Any, value: FloatArray) -> None:
        point, part = key
        parts[point][part] = value

    start = time.perf_counter()
    label = "fleet" if len(specs) == 1 else f"sweep ({len(specs)} points)"
    with _Progress(total, progress, label) as bar:
        _execute(tasks(), client, on_done, bar, max_in_flight)
    elapsed = time.perf_counter() - start
    workers = _client_threads(client) if client is not None else 0
    return [_result(spec, [p[k] for k in sorted(p)], len(p), elapsed, workers)
            for spec, p in zip(specs, parts, strict=True)]


def run_fleet(spec: FleetSpec, client: Any = None, *, progress: bool | None = None,
              max_in_flight: int | None = None) -> FleetResult:
    """Baseline and shifted CO2e of a fleet.  ``client``: a ``distributed.Client`` (None: this process)."""
    return _run_many([spec], client, progress, max_in_flight)[0]

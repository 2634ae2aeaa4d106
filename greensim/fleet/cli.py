"""Cli: a section of :mod:`greensim.fleet` (its docstring tells the whole story)."""

from __future__ import annotations

import math
import os
from typing import Any

from greenbench.errors import ConfigError
from greensim.fleet.execution import _dask_or_fail
from greensim.fleet.keys import JOB_COST_S, MAX_RUN_S, NO_WORKER_PROFILE, SCHEDULER_TIMEOUT_S, WORKER_BASE_BYTES
from greensim.fleet.spec import FleetSpec


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _available_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def table_bytes(spec: FleetSpec) -> int:
    """Bytes of one worker's look-up tables for ``spec`` (see the module docstring)."""
    return 8 * (1 + len(spec.deadlines_h)) * (len(spec.regions) + 1) * spec.max_duration_h * 8760


def max_local_workers(spec: FleetSpec | None = None) -> tuple[int, str]:
    """How many local worker processes this machine can hold, and why: one single-threaded process per
    usable core (more only time-share the cores), and each needs its own tables plus
    :data:`WORKER_BASE_BYTES` of the memory available now."""
    cores = usable_cores()
    limit, why = cores, f"{cores} usable core(s): more single-threaded worker processes only time-share them"
    avail = _available_bytes()
    if avail is not None:
        per = WORKER_BASE_BYTES + (table_bytes(spec) if spec is not None else 0)
        by_mem = max(1, avail // per)
        if by_mem < limit:
            limit, why = by_mem, (f"{avail / 2**30:.1f} GiB available and each worker process needs about "
                                  f"{per / 2**20:.0f} MiB (its own look-up tables + interpreter)")
    return int(limit), why


def estimated_run_s(jobs: int, threads: int) -> float:
    """Estimated seconds for ``jobs`` jobs on ``threads`` worker threads (:data:`JOB_COST_S` each)."""
    return jobs * JOB_COST_S / max(1, threads)


def check_run_length(jobs: int, threads: int, option: str = "jobs") -> None:
    """Refuse a run estimated to take longer than :data:`MAX_RUN_S` (a day), with the estimate."""
    est = estimated_run_s(jobs, threads)
    if est > MAX_RUN_S:
        most = int(MAX_RUN_S / JOB_COST_S) * max(1, threads)
        raise ConfigError(f"{option}: {jobs:.3g} jobs would take about {est / 86_400:,.3g} days on {threads} worker "
                          f"thread(s) (estimated at {JOB_COST_S * 1e6:g} µs per job per thread); expected at "
                          f"most {most:.3g} jobs (a day), or more workers")


def check_scheduler_address(address: str) -> str:
    """A Dask scheduler address: ``[tcp|tls|ws|wss://]host:port``; one line naming ``--scheduler`` otherwise."""
    what = "expected [tcp://|tls://|ws://|wss://]HOST:PORT, e.g. tcp://head-node:8786"
    if not isinstance(address, str) or not address.strip() or any(c.isspace() or not c.isprintable()
                                                                   for c in address):
        raise ConfigError(f"--scheduler: {address!r} is not an address; {what}")
    scheme, _, rest = address.rpartition("://") if "://" in address else ("tcp", "", address)
    if scheme not in ("tcp", "tls", "ws", "wss"):
        raise ConfigError(f"--scheduler: unknown scheme {scheme!r} in {address!r}; {what}")
    host, sep, port = rest.rpartition(":")
    if host.startswith("[") != host.endswith("]") or not host.strip("[]") or not sep or \
            not port.isdigit() or not 1 <= int(port) <= 65535 or "/" in host:
        raise ConfigError(f"--scheduler: {address!r} has no valid host and port (1-65535); {what}")
    return f"{scheme}://{rest}"


def _probe_scheduler(address: str, timeout_s: float) -> None:
    """Connect, shake hands and ask for the peer's identity, all within ``timeout_s``: an address that does not
    answer, answers in another protocol (HTTP) or is not a Dask scheduler is refused in one line."""
    import asyncio
    import socket

    from distributed.comm import connect
    from distributed.security import Security

    scheme, _, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    try:  # a closed port or an unknown host fails at once, not after the connect retries
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ConfigError(f"--scheduler: cannot reach {address} ({exc.strerror or exc})") from None

    async def identity() -> Any:
        kwargs = Security().get_connection_args("client") if scheme in ("tls", "wss") else {}
        comm = await connect(address, timeout=timeout_s, **kwargs)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    hint = f"expected a Dask scheduler answering within {timeout_s:g} s"
    try:
        reply = asyncio.run(asyncio.wait_for(identity(), timeout_s))
    except TimeoutError:
        raise ConfigError(f"--scheduler: {address} did not answer as a Dask scheduler within {timeout_s:g} s "
                          "(a silent port, or another protocol such as HTTP); " + hint) from None
    except Exception as exc:  # CommClosedError, a garbled handshake, TLS errors: not a scheduler we can use
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise ConfigError(f"--scheduler: {address} is not a Dask scheduler we can talk to "
                          f"({type(exc).__name__}: {first}); {hint}") from None
    kind = reply.get("type") if isinstance(reply, dict) else None
    if kind != "Scheduler":
        raise ConfigError(f"--scheduler: {address} answered, but as {kind or type(reply).__name__!r}, "
                          f"not a Dask scheduler; {hint}")


class cluster_client:
    """``with cluster_client(workers=N)`` / ``(scheduler=ADDR)``: a Dask client, or None for neither.

    ``workers`` is capped at :func:`max_local_workers`; a ``scheduler`` must answer as a Dask scheduler within
    ``timeout_s`` (:data:`SCHEDULER_TIMEOUT_S`) or is refused in one line."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None, *,
                 spec: FleetSpec | None = None, timeout_s: float = SCHEDULER_TIMEOUT_S) -> None:
        if workers is not None and scheduler is not None:
            raise ConfigError("--workers, --scheduler: give one (a local cluster, or an existing scheduler)")
        if workers is not None and (isinstance(workers, bool) or workers < 1):
            raise ConfigError(f"--workers: expected an integer >= 1, got {workers!r}")
        if workers is not None:
            most, why = max_local_workers(spec)
            if workers > most:
                raise ConfigError(f"--workers: {workers} is more than this machine can hold; expected at most "
                                  f"{most} ({why})")
        if scheduler is not None:
            scheduler = check_scheduler_address(scheduler)
        if not (isinstance(timeout_s, (int, float)) and math.isfinite(timeout_s) and timeout_s > 0):
            raise ConfigError(f"timeout_s: expected a number of seconds > 0, got {timeout_s!r}")
        self.timeout_s = float(timeout_s)
        self.workers, self.scheduler = workers, scheduler
        self.client: Any = None
        self.cluster: Any = None
        self.config: Any = None

    def __enter__(self) -> Any:
        if self.workers is not None:
            distributed = _dask_or_fail("--workers")
            import logging

            import dask

            # the workers' statistical profiler costs these short numpy-bound tasks ~40% of their time, and
            # Dask's MALLOC_TRIM_THRESHOLD_ about as much again (see NO_WORKER_PROFILE)
            self.config = dask.config.set(NO_WORKER_PROFILE)
            self.cluster = distributed.LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                                    dashboard_address=":0", silence_logs=logging.ERROR)
            self.client = distributed.Client(self.cluster)
        elif self.scheduler is not None:
            distributed = _dask_or_fail("--scheduler")
            _probe_scheduler(self.scheduler, self.timeout_s)
            try:
                self.client = distributed.Client(self.scheduler, timeout=f"{self.timeout_s:g}s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise ConfigError(f"--scheduler: cannot reach {self.scheduler} ({exc})") from None
        return self.client

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        if self.config is not None:
            self.config.__exit__(None, None, None)

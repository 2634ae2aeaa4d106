"""Per-session state of the energy plugin: meter, records, gate, summary.

Plain class, no pytest imports: ``greenbench.plugin`` holds the hooks and calls in.
It never changes how the tests run: thread counts are read and recorded, not set.
"""

# Over 500 lines (issue #25): one EnergySession and the functions that make and finish it, which share its
# state; at about the 500 mark, split it when it grows further.

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from greenbench import gate
from greenbench import results as R
from greenbench.carbon import Intensity
from greenbench.errors import ConfigError, GreenbenchError
from greenbench.meters.base import Meter, counter_snapshot, never_moved, never_moved_span
from greenbench.meters.contention import thin
from greenbench.plugin.recorder import RoundRecorder, summarize

#: sources read off hardware counters: a counter of theirs that never moved is refused, not stored as 0 J
HARDWARE = frozenset({"rapl", "nvml"})


def cuda_sync() -> Callable[[], None] | None:
    """torch.cuda.synchronize if torch is loaded and a GPU is in use, else None."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    sync: Callable[[], None] = torch.cuda.synchronize
    return sync


@dataclass
class EnergySession:
    meter_factory: Callable[[], Meter]
    intensity: Intensity
    threads: int | None = None
    rule: gate.GateRule | None = None
    any_meter: bool = False
    device: str = "auto"
    meter_name: str = "auto"
    _meter: Meter | None = None
    blocks: dict[str, dict[str, Any]] = field(default_factory=dict)
    baseline_machine_info: dict[str, Any] | None = None
    verdicts: list[gate.Verdict] = field(default_factory=list)
    refusal: str | None = None
    report_path: Any = None
    #: --energy-report DIR: where this run's pictures wait until the report folder is swapped in
    report_dir: Any = None
    _artifacts: Any = None
    output: dict[str, Any] | None = None
    report_error: str | None = None
    #: what could not be written at the end (one line each, naming the path); the rest was written
    output_errors: list[str] = field(default_factory=list)
    #: benchmarks dropped because they had not finished one round (an interrupt): named in the summary
    unfinished: list[str] = field(default_factory=list)
    #: --energy-report folder whose lock this run holds (greenbench.io.atomic.lock_folder)
    locked_report: Any = None
    #: things this run will not do although asked (no report under --benchmark-disable...), said once
    notices: list[str] = field(default_factory=list)
    #: set when the run was stopped by Ctrl-C or SIGTERM: its saved JSON says so, and no gate trusts it
    interrupted: bool = False
    #: why a compared file cannot serve as the baseline (unknown schema, interrupted run), one per file
    baseline_problems: list[str] = field(default_factory=list)
    #: --energy-codecarbon: one CodeCarbon tracker around each whole benchmark (greenbench.meters.sidebyside)
    codecarbon: bool = False
    _codecarbon_window: Any = None
    #: --carbon-region as given (exports name the country from it; None: --carbon-intensity or the default)
    carbon_region: str | None = None
    #: the compared baseline run: run name, commit, branch, date, machine (issue #23: the summary says what it compared)
    baseline_run: dict[str, Any] | None = None
    baseline_entries: dict[str, Any] | None = None
    summary_paths: list[Any] = field(default_factory=list)
    #: gate (#17): stored runs saved before the compared baseline, newest first (run-to-run spread)
    older_baselines: list[Any] = field(default_factory=list)
    #: --energy-compare-fail-inconclusive: a benchmark the gate could not decide fails the run
    fail_inconclusive: bool = False
    #: --energy-compare-any-machine: compare the model meter's energy with a baseline from another machine
    any_machine: bool = False
    #: the compared baseline file's name and the older stored runs (name, JSON), newest first (issue #20)
    baseline_name: str = ""
    older_named: list[Any] = field(default_factory=list)
    #: what the gate's closing line adds: the baseline runs used, another machine
    gate_notes: list[str] = field(default_factory=list)
    #: benchmarks in the compared baseline (0: nothing could be compared)
    gate_baseline_size: int | None = None

    @property
    def meter(self) -> Meter:
        """The meter bracketing every benchmark round (one window at a time)."""
        if self._meter is None:
            self._meter = self.meter_factory()
        return self._meter

    def fresh_meter(self) -> Meter:
        """Another meter of the same kind, for windows inside a measured round."""
        from greenbench.meters import get_meter, probe

        return probe().meter if self.meter_name == "auto" else get_meter(self.meter_name)

    # -- per benchmark ---------------------------------------------------
    def attach(self, fixture: Any) -> RoundRecorder:
        sync = cuda_sync() if self.device == "cuda" else None
        recorder = RoundRecorder(self.meter, sync=sync)
        recorder.attach(fixture)
        # issue #21: the hardware counters across the whole benchmark, outside every window (stuck however short)
        recorder.span = (counter_snapshot(self.meter), time.process_time(), time.perf_counter())
        if self.codecarbon:  # issue #23: one CodeCarbon window around the whole benchmark, outside ours
            from greenbench.meters.sidebyside import BenchmarkWindow

            self._codecarbon_window = window = BenchmarkWindow()
            window.attach(fixture)  # wraps the recorder's runner factory: its counting stays outside our windows
            window.start()
        return recorder

    def finish(self, fixture: Any, recorder: RoundRecorder) -> str | None:
        """Store the benchmark's energy block; return why it was refused (one line naming the meter), else None."""
        window, self._codecarbon_window = self._codecarbon_window, None
        if window is not None:  # closed before greenbench's own calibration windows below
            cc = window.block()
            if cc:
                fixture.extra_info["codecarbon"] = cc
        stats = getattr(fixture, "stats", None)
        data = getattr(getattr(stats, "stats", None), "data", None) or []
        if recorder.failure is not None:  # issue #21: no figure a meter did not measure
            recorder.probe.finish()
            return f"{recorder.failure}; this benchmark's energy is not stored"
        records, other = recorder.kept(len(data))
        if not records:
            return None
        stuck = never_moved([r.measurement for r in records])
        source = records[-1].measurement.source
        if recorder.span is not None and recorder.span[0]:
            before, cpu0, wall0 = recorder.span
            whole = never_moved_span(before, counter_snapshot(self.meter), time.process_time() - cpu0,
                                     time.perf_counter() - wall0)
            if whole is not None:
                return (f"{source} meter: {whole}: a stuck or virtualised counter, not 0 J; this benchmark's energy "
                        "is refused (use --energy-meter model on this machine)")
        parts = set(source.split("+"))
        if stuck is not None and ((not records[-1].measurement.estimated and parts <= HARDWARE)
                                  or ("nvml" in parts and stuck.startswith("gpu"))):  # model+nvml: the GPU part
            return (f"{source} meter: {stuck}: a stuck or virtualised counter, not 0 J; this benchmark's energy "
                    "is refused (use --energy-meter model on this machine)")
        probe = recorder.probe
        rec = summarize(records, other, self.meter.describe(), self.intensity,
                        speed_probe_s=probe.speed_s, speed_probes_s=thin(probe.speeds), threads=self.threads,
                        # gate #17: per-round harness overhead subtracted; counted (#12): counts are exact and a
                        # wall-time share would make them noisy, so nothing is subtracted
                        harness_s=0.0 if getattr(self.meter, "deterministic", False) else recorder.harness_s())
        extras = getattr(self.meter, "record_extras", None)
        if extras is not None:  # what the meter adds to the record (counted, #12: per-call counts)
            rec = extras(rec, records)
        block = rec.to_json()
        if stuck is not None:  # an estimate or a meter of the user's that read 0 J while the process worked
            block["warnings"] = [*block.get("warnings", []),
                                 f"the {source} meter {stuck}: check that it measures anything"]
        fixture.extra_info["energy"] = block
        self.blocks[fixture.fullname] = block
        return None

    def artifacts_dir(self) -> Any:
        """A folder for pictures the report links as ``artifacts/...`` (moved into the report at the end).

        Beside the report folder, never inside it: the report is built apart and swapped in whole.
        Without ``--energy-report`` it is a temporary folder.
        """
        import tempfile
        from pathlib import Path

        if self._artifacts is None:
            if self.report_dir:
                target = Path(self.report_dir)
                parent = target.absolute().parent
                parent.mkdir(parents=True, exist_ok=True)
                prefix = f".{target.name}.greenbench-{os.getpid()}-artifacts-"  # cleaned like staging if killed
                self._artifacts = Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
                from greenbench.io.atomic import _umask

                os.chmod(self._artifacts, 0o777 & ~_umask())  # mkdtemp makes 0700; the report follows the umask
            else:
                self._artifacts = Path(tempfile.mkdtemp(prefix="greenbench-artifacts-"))
        return self._artifacts

    def drop_artifacts(self) -> None:
        """Remove the pictures' waiting folder when no report takes them."""
        import shutil

        if self._artifacts is not None:  # issue #21: without a report, the temporary folder goes too
            shutil.rmtree(self._artifacts, ignore_errors=True)
            self._artifacts = None

    def resolved_device(self) -> str:
        """``cpu``/``cuda``; ``auto`` resolves without importing torch if no workload did."""
        if self.device != "auto":
            return self.device
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            return "cuda"
        return "cpu"

    # -- saved JSON ------------------------------------------------------
    def machine_info(self) -> dict[str, Any]:
        try:
            meter = self.meter.describe()
        except Exception as exc:  # pytest-benchmark saves the run with this: a meter's describe() must not lose it
            meter = {"source": str(getattr(self.meter, "source", "?")),
                     "estimated": bool(getattr(self.meter, "estimated", True)),
                     "describe_error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"}
        return {
            "schema_version": R.SCHEMA_VERSION,
            "meter": meter,
            "threads": self.threads,
            "device": self.resolved_device(),
            "intensity_g_per_kwh": self.intensity.g_per_kwh,
            "intensity_label": self.intensity.label,
            "carbon_region": self.carbon_region,
            "python": platform.python_version(),
            "codecarbon": _codecarbon_setting(self.codecarbon),
        }

    def update_json(self, output_json: dict[str, Any]) -> None:
        output_json["greenbench"] = {"schema_version": R.SCHEMA_VERSION}
        if self.baseline_run:
            output_json["greenbench"]["baseline"] = {k: v for k, v in self.baseline_run.items() if v is not None}
        if self.interrupted:
            output_json["greenbench"]["interrupted"] = True
        for entry in output_json.get("benchmarks", []):
            block = (entry.get("extra_info") or {}).get("energy")
            if isinstance(block, Mapping) and isinstance(entry.get("stats"), dict):
                entry["stats"].update(R.stats_fields(block))
        from greenbench.meters.counted import profile  # issue #24: one table of the profiles' names per saved run

        profile.compress_run(output_json)

    # -- the gate --------------------------------------------------------
    def check_baseline(self, compared: Mapping[str, Any], where: str) -> None:
        """Note why a compared pytest-benchmark file cannot be a baseline (see :func:`baseline_problem`)."""
        problem = baseline_problem(compared, where)
        if problem is not None:
            self.baseline_problems.append(problem)

    def run_gate(self, current: list[dict[str, Any]], baseline: Mapping[str, Mapping[str, Any]]) -> None:
        if self.baseline_problems:
            self.refusal = f"energy gate: {self.baseline_problems[0]}"
            return
        rule = self.rule or gate.GateRule.parse("10%")
        base_meter = gate.meter_of(self.baseline_machine_info)
        ours = str(self.meter.describe().get("source"))
        if base_meter and base_meter != ours and not self.any_meter:
            self.refusal = (
                f"energy gate: refusing to compare energy measured by different meters "
                f"(baseline: {base_meter}, this run: {ours}); rerun with the baseline's meter "
                f"(--energy-meter {base_meter.split('+')[0]}) or pass --energy-compare-any-meter"
            )
            return
        setup = setup_change(self.baseline_machine_info, self.codecarbon, baseline.values())
        if setup and not self.any_meter:
            self.refusal = (f"energy gate: refusing to compare across a change of set-up ({setup}); rerun with the "
                            "baseline's set-up or pass --energy-compare-any-meter")
            return
        # issue #21: a baseline from another machine is refused for a meter whose figures depend on the machine;
        # a deterministic meter's counts (counted) compare across machines, and the closing line says so
        other = gate.other_machine(self.baseline_machine_info, (self.output or {}).get("machine_info"))
        deterministic = bool(getattr(self.meter, "deterministic", False))
        if other and not deterministic and not self.any_machine:
            self.refusal = (
                f"energy gate: refusing to compare with a baseline measured on another machine ({other}): the "
                f"{ours} meter's figures depend on the machine; compare against a baseline saved on this machine, "
                "gate with the counted meter (--energy-meter=counted: counts compare across machines), or pass "
                "--energy-compare-any-machine")
            return
        notes = []
        if other:
            notes.append(f"baseline from another machine, {other}: "
                         + ("counted figures compare across machines" if deterministic
                            else "compared because --energy-compare-any-machine was given"))
        older = self.older_named or [(f"older run {i + 1}", d) for i, d in enumerate(self.older_baselines)]
        self.verdicts = gate.compare_run(baseline, current, rule, [d for _, d in older],
                                         older_names=[n for n, _ in older])
        runs = [f"{self.baseline_name or 'the compared file'} (compared)", *[n for n, _ in older]]
        notes.append(f"baseline runs: {', '.join(runs)}")
        self.gate_notes = notes
        self.gate_baseline_size = len(baseline)

    @property
    def failed(self) -> bool:
        if self.rule is None:  # without --energy-compare-fail the comparison only informs
            return False
        # --energy-compare-fail-inconclusive: undecided benchmarks fail too (greenbench.gate.summary)
        return self.refusal is not None or gate.summary(self.verdicts, self.rule, self.fail_inconclusive,
                                                        baseline_size=self.gate_baseline_size)[1]


def _codecarbon_setting(on: bool) -> dict[str, Any]:
    from greenbench.meters.sidebyside import setting

    return setting(on)


def codecarbon_on(machine_info: Mapping[str, Any] | None) -> bool | None:
    """Whether a saved run had --energy-codecarbon on (None: saved before greenbench recorded it)."""
    gb = (machine_info or {}).get("greenbench")
    cc = gb.get("codecarbon") if isinstance(gb, Mapping) else None
    if isinstance(cc, Mapping) and isinstance(cc.get("on"), bool):
        return bool(cc["on"])
    return None


def setup_change(baseline_machine_info: Mapping[str, Any] | None, codecarbon: bool,
                 baseline_entries: Any = ()) -> str | None:
    """A change of set-up other than the meter between a baseline and this run (issue #23), else None.

    ``--energy-codecarbon`` switched on or off is one: in older versions its tracker ran inside every round
    and raised our figure by up to 3x.  A baseline that did not record the setting counts as "on" when one
    of its benchmarks carries CodeCarbon figures, else "off".
    """
    if baseline_machine_info is None:
        return None
    before = codecarbon_on(baseline_machine_info)
    if before is None:
        before = any(isinstance(e, Mapping) and "codecarbon" in (e.get("extra_info") or {})
                     for e in baseline_entries)
    if before != codecarbon:
        return (f"--energy-codecarbon was {'on' if before else 'off'} in the baseline and is "
                f"{'on' if codecarbon else 'off'} in this run")
    return None


def fmt(value: float, unit: str) -> str:
    from greenbench.units import fmt_si

    return fmt_si(value, unit)


def baseline_problem(compared: Mapping[str, Any], where: str) -> str | None:
    """Why a saved run cannot be a baseline: an unknown schema_version, or an interrupted run; else None."""
    try:
        R.check_output(compared, where)
    except GreenbenchError as exc:
        return str(exc)
    gb = compared.get("greenbench")
    if isinstance(gb, Mapping) and gb.get("interrupted"):
        return (f"{where}: saved by an interrupted run (Ctrl-C or SIGTERM): it may lack benchmarks, and "
                "comparing against it would hide them; compare against a complete run "
                "(--benchmark-compare=NNNN) or save a new baseline")
    return None


def observed_threads(environ: Mapping[str, str] | None = None) -> int | None:
    """The numeric libraries' thread count as the environment sets it (None: library default)."""
    import os

    value = (environ if environ is not None else os.environ).get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def make_session(option: Any) -> EnergySession:
    """Build the session from parsed options; bad options raise GreenbenchError."""
    from greenbench.carbon import resolve_intensity
    from greenbench.meters import get_meter

    name = str(getattr(option, "energy_meter", "auto"))
    if getattr(option, "energy_isolate", False) and name != "counted":
        raise ConfigError(f"--energy-isolate needs --energy-meter=counted (got --energy-meter={name}): it counts "
                          "each benchmark in a process of its own under Valgrind")
    meter = get_meter(name)  # explicit but unavailable sources raise MeterUnavailable here
    intensity = resolve_intensity(getattr(option, "carbon_intensity", None), getattr(option, "carbon_region", None))
    expr = getattr(option, "energy_compare_fail", None)
    # the gate never switches itself off: an empty rule, or a rule without a baseline, is an error
    rule = gate.GateRule.parse(expr) if expr is not None else None
    if rule is not None and not getattr(option, "benchmark_compare", None):
        raise ConfigError(f"--energy-compare-fail={expr} requires --benchmark-compare (the baseline to gate "
                          "against); without it no gate would run")
    report_dir = getattr(option, "energy_report", None)
    if report_dir is not None:
        from greenbench.io.atomic import check_report_dir

        check_report_dir(report_dir, "--energy-report")
    check_outputs(option)
    return EnergySession(
        meter_factory=lambda: meter,
        intensity=intensity,
        threads=observed_threads(),
        rule=rule,
        any_meter=bool(getattr(option, "energy_compare_any_meter", False)),
        any_machine=bool(getattr(option, "energy_compare_any_machine", False)),
        meter_name=name,
        report_dir=report_dir,
        codecarbon=bool(getattr(option, "energy_codecarbon", False)),
        carbon_region=getattr(option, "carbon_region", None),
        fail_inconclusive=bool(getattr(option, "energy_compare_fail_inconclusive", False)),
    )


def _expand_profiles(config: Any) -> None:
    """Issue #24: the compared runs' profiles, whole again (names from each file's one table), for the gate's
    "where".  Done here, after the benchmarks, not when the files are read: nothing before the measured rounds
    allocates for it.  A bad table leaves a profile as stored: the gate's "where" then says it is unusable."""
    import contextlib

    from greenbench.errors import DataError
    from greenbench.meters.counted import profile
    from greenbench.plugin import _COMPARED

    for doc in config.stash.get(_COMPARED, []):
        with contextlib.suppress(DataError):
            profile.expand_run(doc, "baseline")


def current_json(config: Any) -> dict[str, Any] | None:
    """This run's pytest-benchmark JSON, built by pytest-benchmark's own hooks."""
    bs = getattr(config, "_benchmarksession", None)
    if bs is None:
        return None
    benchmarks = [b for b in bs.benchmarks if b and not b.has_error]
    if not benchmarks:
        return None
    output = config.hook.pytest_benchmark_generate_json(
        config=config,
        benchmarks=benchmarks,
        include_data=False,
        machine_info=bs.get_machine_info(),
        commit_info=config.hook.pytest_benchmark_generate_commit_info(config=config),
    )
    config.hook.pytest_benchmark_update_json(config=config, benchmarks=benchmarks, output_json=output)
    from greenbench.meters.counted import profile  # issue #24: the gate reads whole profiles

    profile.expand_run(output, "this run")
    return dict(output)


def _one_line(exc: BaseException) -> str:
    """An exception as one line: greenbench's own message as is, anything else with its type."""
    text = " ".join(str(exc).split())
    if isinstance(exc, GreenbenchError):
        return text
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror} ({type(exc).__name__})"
    return f"{type(exc).__name__}: {text}"[:400]


def finish_session(es: EnergySession, config: Any) -> bool:
    """Run the gate (when comparing) and write what was asked; True if the run must fail.

    Issue #21: a run's results are never thrown away at the end.  Each output (the summary file,
    ``$GITHUB_STEP_SUMMARY``, the report folder) is written on its own; what fails is one line in
    :attr:`EnergySession.output_errors` naming the path, and everything else is still written.
    """
    try:
        output = current_json(config)
    except Exception as exc:
        es.output_errors.append(f"could not assemble this run's results: {_one_line(exc)}")
        es.drop_artifacts()
        return True
    es.output = output
    if output is None:
        es.drop_artifacts()
        return False
    bs = config._benchmarksession
    if bs.compared_mapping or es.baseline_problems:
        try:
            # the newest compared file is the baseline (pytest-benchmark lists them oldest first)
            baseline = list(bs.compared_mapping.values())[-1] if bs.compared_mapping else {}
            _expand_profiles(config)
            es.older_named = gate.older_runs_named(getattr(bs, "storage", None), list(bs.compared_mapping or {}))
            es.older_baselines = [doc for _, doc in es.older_named]
            es.baseline_name = gate.run_name(list(bs.compared_mapping)[-1]) if bs.compared_mapping else ""
            es.run_gate(output["benchmarks"], baseline)
            es.baseline_entries = dict(baseline)
        except Exception as exc:  # a gate that cannot run refuses; it never says "passed"
            es.refusal = f"energy gate: could not compare: {_one_line(exc)}"
            baseline = {}
        _write_summaries(es, config.getoption("energy_summary", None), baseline)
    report_dir = config.getoption("energy_report")
    if report_dir:
        from greenbench.outputs.report import write_report

        try:
            sections = [m for group in config.hook.pytest_greenbench_report_sections(config=config) for m in group]
            es.report_path = write_report(output, report_dir, sections=sections, verdicts=es.verdicts,
                                          artifacts=es._artifacts)
        except Exception as exc:
            es.output_errors.append(f"--energy-report {report_dir}: not written: {_one_line(exc)}")
    es.drop_artifacts()
    return bool(es.output_errors) or es.failed


def _write_summaries(es: EnergySession, path: Any, baseline: Mapping[str, Any]) -> None:
    """The gate's Markdown summary to ``--energy-summary`` and ``$GITHUB_STEP_SUMMARY``, each on its own."""
    from greenbench.io import atomic
    from greenbench.outputs import summary as S

    if not (es.verdicts or es.refusal):
        return
    try:
        text = S.render_session(es, baseline)
    except Exception as exc:
        es.output_errors.append(f"energy summary not rendered: {_one_line(exc)}")
        return
    if path:
        try:
            es.summary_paths.append(atomic.write_text(path, text, "--energy-summary"))
        except Exception as exc:
            es.output_errors.append(f"--energy-summary {path}: not written: {_one_line(exc)}")
    step = os.environ.get("GITHUB_STEP_SUMMARY")
    if step:
        try:
            es.summary_paths += S.write(text, None)
        except Exception as exc:
            es.output_errors.append(f"GITHUB_STEP_SUMMARY={step}: not written: {_one_line(exc)}")


def check_outputs(option: Any, environ: Mapping[str, str] | None = None) -> None:
    """Every output path, checked before the first benchmark runs (a ConfigError: exit 4), issue #21."""
    from greenbench.io import atomic

    summary = getattr(option, "energy_summary", None)
    if summary is not None:
        atomic.check_output_file(summary, "--energy-summary")
    env = os.environ if environ is None else environ
    step = env.get("GITHUB_STEP_SUMMARY")
    if step:  # appended to, as GitHub expects: its folder must exist
        atomic.check_output_file(step, "GITHUB_STEP_SUMMARY", create_parents=False)

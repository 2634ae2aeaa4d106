"""pytest-benchmark's commit information for the counted run, found natively and handed in.

pytest-benchmark asks git (or hg) about the checkout while its options are
being added (``get_tag`` for ``--benchmark-save``'s default) and again when
it saves: up to five child processes whose output the parent reads.  Inside
the counted process (under Valgrind) those reads are the first thing in a
run that follows the machine's timing: how the pipes' data arrives and when
the children exit changes what the parent allocated and freed, and so the
heap every benchmark afterwards starts from.  Measured with an audit hook
that logged glibc's heap counters (``mallinfo2``) at every import and file
open of a counted run's start, with two busy loops beside it: two fresh
runs agreed event for event up to the ``git``/``hg`` children of
pytest-benchmark's ``pytest_addoption`` and differed from there on.

So the re-launching (native) process asks pytest-benchmark's own
``get_commit_info`` and ``get_project_name`` once, passes the answers in
:data:`ENV`, and this module, loaded first in the counted process
(``-p greenbench.meters.counted.commitinfo``), makes pytest-benchmark use
them: the saved ``commit_info`` is the same as a plain run's, and no child
process starts.  Outside a counted run it does nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

#: the commit information of the checkout, as JSON, set by the re-launching process
ENV = "GREENBENCH_COUNTED_COMMIT_INFO"
#: the ``-p`` argument that loads this module before pytest's plugins
PLUGIN = "greenbench.meters.counted.commitinfo"


def _option(args: Sequence[str], name: str) -> str | None:
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def native_env(args: Sequence[str] = (), cwd: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """``{ENV: json}`` with pytest-benchmark's commit information for ``cwd`` (``{}`` without pytest-benchmark)."""
    try:
        from pytest_benchmark import utils
    except ImportError:  # pragma: no cover - pytest-benchmark is a dependency
        return {}
    here = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        project = utils.get_project_name()
        info = utils.get_commit_info(_option(args, "--benchmark-project-name") or project)
    finally:
        os.chdir(here)
    return {ENV: json.dumps({"project": project, "info": info}, sort_keys=True, default=str)}


def install(environ: Mapping[str, str] | None = None) -> bool:
    """Make pytest-benchmark answer from :data:`ENV` (True when installed)."""
    env = os.environ if environ is None else environ
    raw = env.get(ENV)
    if not raw:
        return False
    saved = json.loads(raw)
    project, info = saved["project"], saved["info"]
    from pytest_benchmark import plugin, utils

    def get_commit_info(project_name: str | None = None) -> dict[str, Any]:
        out = dict(info)
        if project_name:
            out["project"] = project_name
        return out

    def get_project_name() -> str:
        return str(project)

    utils.get_commit_info = get_commit_info
    utils.get_project_name = get_project_name  # type: ignore[assignment]
    plugin.get_commit_info = get_commit_info
    return True


if os.environ.get("GREENBENCH_COUNTED_DIR"):  # loaded by -p in the counted process: before pytest-benchmark
    install()

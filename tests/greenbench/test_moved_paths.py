"""The import paths that moved in issue #25 keep working for one release, with a DeprecationWarning."""

from __future__ import annotations

import importlib
import sys

import pytest

MOVED = [
    ("greenbench._callgrind", "greenbench.meters.counted.callgrind"),
    ("greenbench._cc_sidecar", "greenbench.meters._cc_sidecar"),
    ("greenbench.atomic", "greenbench.io.atomic"),
    ("greenbench.browser", "greenbench.outputs.browser"),
    ("greenbench.calibrate", "greenbench.meters.counted.calibrate"),
    ("greenbench.counted_model", "greenbench.meters.counted.energy_model"),
    ("greenbench.explain", "greenbench.gate.explain"),
    ("greenbench.exports", "greenbench.outputs.exports"),
    ("greenbench.history", "greenbench.outputs.history"),
    ("greenbench.hookspecs", "greenbench.plugin.hookspecs"),
    ("greenbench.htmlreport", "greenbench.outputs.html"),
    ("greenbench.load", "greenbench.meters.contention"),
    ("greenbench.profile", "greenbench.meters.counted.profile"),
    ("greenbench.pyprofile", "greenbench.meters.counted.pyprofile"),
    ("greenbench.recorder", "greenbench.plugin.recorder"),
    ("greenbench.report", "greenbench.outputs.report"),
    ("greenbench.safeio", "greenbench.io.read"),
    ("greenbench.session", "greenbench.plugin.session"),
    ("greenbench.sidebyside", "greenbench.meters.sidebyside"),
    ("greenbench.summary", "greenbench.outputs.summary"),
    ("greenbench.terminal", "greenbench.outputs.terminal"),
    ("greenbench.textsafe", "greenbench.io.text"),
]


@pytest.mark.parametrize(("old", "new"), MOVED)
def test_old_path_is_the_new_module_and_warns(old: str, new: str) -> None:
    module = importlib.import_module(new)
    saved = sys.modules.pop(old, None)
    try:
        with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
            alias = importlib.import_module(old)
        assert alias is module
    finally:
        if saved is not None:
            sys.modules[old] = saved

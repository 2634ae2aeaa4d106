"""Old import paths kept for one release (issue #25): each is an alias of the module that moved."""

from __future__ import annotations

import importlib
import sys
import warnings


def alias(name: str, old: str, new: str) -> None:
    """Make module ``old`` (running as ``name``) the module ``new``, with a DeprecationWarning."""
    warnings.warn(f"{old} moved to {new}: import it from there (the old path goes in the next release)",
                  DeprecationWarning, stacklevel=3)
    if name == "__main__":  # python -m OLD
        import runpy

        runpy.run_module(new, run_name="__main__", alter_sys=True)
    else:
        sys.modules[name] = importlib.import_module(new)

# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.plugin.recorder`."""
from greenbench._moved import alias

alias(__name__, "greenbench.recorder", "greenbench.plugin.recorder")

# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.outputs.history`."""
from greenbench._moved import alias

alias(__name__, "greenbench.history", "greenbench.outputs.history")

# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.outputs.summary`."""
from greenbench._moved import alias

alias(__name__, "greenbench.summary", "greenbench.outputs.summary")

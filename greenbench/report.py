# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.outputs.report`."""
from greenbench._moved import alias

alias(__name__, "greenbench.report", "greenbench.outputs.report")

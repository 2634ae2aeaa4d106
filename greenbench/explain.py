# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.gate.explain`."""
from greenbench._moved import alias

alias(__name__, "greenbench.explain", "greenbench.gate.explain")

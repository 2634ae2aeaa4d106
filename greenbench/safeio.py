# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.io.read`."""
from greenbench._moved import alias

alias(__name__, "greenbench.safeio", "greenbench.io.read")

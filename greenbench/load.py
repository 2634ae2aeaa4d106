# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.meters.contention`."""
from greenbench._moved import alias

alias(__name__, "greenbench.load", "greenbench.meters.contention")

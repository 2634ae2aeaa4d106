# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.meters.sidebyside`."""
from greenbench._moved import alias

alias(__name__, "greenbench.sidebyside", "greenbench.meters.sidebyside")

# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.plugin.hookspecs`."""
from greenbench._moved import alias

alias(__name__, "greenbench.hookspecs", "greenbench.plugin.hookspecs")

# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.outputs.terminal`."""
from greenbench._moved import alias

alias(__name__, "greenbench.terminal", "greenbench.outputs.terminal")

# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.outputs.exports`."""
from greenbench._moved import alias

alias(__name__, "greenbench.exports", "greenbench.outputs.exports")

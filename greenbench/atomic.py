# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.io.atomic`."""
from greenbench._moved import alias

alias(__name__, "greenbench.atomic", "greenbench.io.atomic")

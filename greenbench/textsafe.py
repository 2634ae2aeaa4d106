# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.io.text`."""
from greenbench._moved import alias

alias(__name__, "greenbench.textsafe", "greenbench.io.text")

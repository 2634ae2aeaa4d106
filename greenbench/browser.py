# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.outputs.browser`."""
from greenbench._moved import alias

alias(__name__, "greenbench.browser", "greenbench.outputs.browser")

# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.plugin.session`."""
from greenbench._moved import alias

alias(__name__, "greenbench.session", "greenbench.plugin.session")

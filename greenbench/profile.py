# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.meters.counted.profile`."""
from greenbench._moved import alias

alias(__name__, "greenbench.profile", "greenbench.meters.counted.profile")

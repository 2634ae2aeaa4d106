# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.meters.counted.pyprofile`."""
from greenbench._moved import alias

alias(__name__, "greenbench.pyprofile", "greenbench.meters.counted.pyprofile")

# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.meters.counted.callgrind`."""
from greenbench._moved import alias

alias(__name__, "greenbench._callgrind", "greenbench.meters.counted.callgrind")

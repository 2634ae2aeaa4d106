# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.meters._cc_sidecar`."""
from greenbench._moved import alias

alias(__name__, "greenbench._cc_sidecar", "greenbench.meters._cc_sidecar")

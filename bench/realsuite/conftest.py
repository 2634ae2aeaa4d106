"""``pytest bench`` (greenbench's own suite) leaves this folder out: it is the plain third-party-style
suite that ``bench/bench_overhead.py`` runs in subprocesses with ``--noconftest`` (so this file is not read
there)."""

collect_ignore_glob = ["test_*.py"]

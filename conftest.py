"""Root conftest: nothing but its place.

Being here puts the repository root on ``sys.path`` for pytest, so the suite
(``bench``) and the C sorts (``native``), which are not installed, import
from the source tree.  It imports no test-only package: ``pytest bench``
works after ``pip install -e .[all]`` without the test extras.  Test
settings (hypothesis profiles, pytester) live in ``tests/conftest.py``.
"""

"""The one error tree of the project.

It lives in greenbench, the bottom layer: greensim, the suite (``bench``)
and ``native`` import it; it imports nothing of theirs.
Every error also inherits the built-in a caller would naturally catch, so
``except ValueError`` keeps working.  Messages name the file/field, what was
expected, and the fix.
"""

from __future__ import annotations


class GreenbenchError(Exception):
    """Root of every error greenbench raises on purpose."""


class ConfigError(ValueError, GreenbenchError):
    """A user-supplied option, file or field is malformed."""


class ScenarioError(ConfigError):
    """A what-if scenario file is invalid (names file, key and expectation)."""


class DataError(ValueError, GreenbenchError):
    """A data file (IDX, CSV, checkpoint, results JSON) is missing or corrupt."""


class MeterUnavailable(RuntimeError, GreenbenchError):
    """An energy source was asked for explicitly but cannot be read here."""


class MeterError(RuntimeError, GreenbenchError):
    """A meter was misused (stopped before started, started twice...)."""

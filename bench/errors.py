"""Re-export of the project's error tree (defined in :mod:`greensim.errors`)."""

from greensim.errors import (
    ConfigError,
    DataError,
    GreenbenchError,
    MeterError,
    MeterUnavailable,
    ScenarioError,
)

__all__ = [
    "ConfigError",
    "DataError",
    "GreenbenchError",
    "MeterError",
    "MeterUnavailable",
    "ScenarioError",
]

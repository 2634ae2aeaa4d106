"""Access to the tables shipped in ``greenbench/data`` (read lazily, cached).

Every table is listed in ``data/datasets.toml`` with its origin, licence and
version; outputs name the dataset ids and versions they used.
"""

from __future__ import annotations

import csv
import io
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

from greenbench.errors import DataError

MANIFEST = "datasets.toml"


@dataclass(frozen=True, slots=True)
class Dataset:
    """One shipped table: where it came from and under which licence."""

    id: str
    path: str
    title: str
    version: str
    licence: str
    attribution: str
    url: str


def data_root() -> Traversable:
    return resources.files("greenbench").joinpath("data")


def data_file(relpath: str) -> Traversable:
    node = data_root()
    for part in relpath.split("/"):
        node = node.joinpath(part)
    return node


@cache
def datasets() -> dict[str, Dataset]:
    """The manifest of shipped tables, keyed by dataset id."""
    node = data_file(MANIFEST)
    try:
        raw = tomllib.loads(node.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"greenbench/data/{MANIFEST}: cannot read the data manifest ({exc})") from None
    out = {}
    for key, entry in raw.items():
        try:
            out[key] = Dataset(id=key, **{k: str(entry[k]) for k in
                                          ("path", "title", "version", "licence", "attribution", "url")})
        except KeyError as exc:
            raise DataError(f"greenbench/data/{MANIFEST}: [{key}] lacks the field {exc}") from None
    return out


def dataset(key: str) -> Dataset:
    try:
        return datasets()[key]
    except KeyError:
        raise DataError(f"greenbench/data/{MANIFEST}: no dataset '{key}'") from None


def read_csv(relpath: str, *, skip_units_row: bool = False) -> list[dict[str, str]]:
    """Rows of a shipped CSV as dicts.  Green Algorithms files carry a units row first."""
    node = data_file(relpath)
    try:
        text = node.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"greenbench/data/{relpath}: cannot read shipped table ({exc})") from None
    fh = io.StringIO(text)
    if skip_units_row:
        fh.readline()
    return list(csv.DictReader(fh))

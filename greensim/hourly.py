"""Shipped hourly carbon-intensity series (Electricity Maps Data Portal, 2023, ODbL).

Each zone file holds 8760 hourly rows: ``datetime_utc`` (start of the hour),
``carbon_intensity_g_per_kwh`` (consumption-based, life cycle) and
``is_estimated``.  Loading checks the hours are contiguous and the values
finite and non-negative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import numpy as np
import numpy.typing as npt

from greenbench.datasets import data_file, dataset, read_csv
from greenbench.errors import ConfigError, DataError

DATASET_ID = "electricitymaps_hourly_2023"
STEP_MIN = 60.0


@dataclass(frozen=True, eq=False)
class HourlySeries:
    """An hourly intensity series of one zone (values read-only, gCO2e/kWh)."""

    region: str
    start_utc: datetime
    step_min: float
    intensity_g_per_kwh: npt.NDArray[np.float64]
    estimated_fraction: float
    dataset_id: str = DATASET_ID

    def __len__(self) -> int:
        return int(self.intensity_g_per_kwh.shape[0])

    @property
    def data_version(self) -> str:
        return dataset(self.dataset_id).version

    def time_of(self, index: int) -> datetime:
        return self.start_utc + timedelta(minutes=self.step_min * index)

    def index_of(self, when: datetime) -> int:
        """Index of the step holding ``when`` (UTC; naive datetimes are taken as UTC)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        offset_min = (when - self.start_utc).total_seconds() / 60.0
        index = math.floor(offset_min / self.step_min)
        if not 0 <= index < len(self):
            raise ConfigError(f"start: {when.isoformat()} is outside the {self.region} series "
                              f"({self.start_utc.isoformat()} .. {self.time_of(len(self)).isoformat()})")
        return index


@cache
def hourly_regions() -> tuple[str, ...]:
    """Zones with a shipped hourly series."""
    folder = data_file(dataset(DATASET_ID).path)
    return tuple(sorted(p.name.removesuffix(".csv") for p in folder.iterdir() if p.name.endswith(".csv")))


def _parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@cache
def hourly_series(region: str) -> HourlySeries:
    """The shipped 2023 hourly series of ``region`` (an Electricity Maps zone id)."""
    key = region.strip().upper() if isinstance(region, str) else region
    known = hourly_regions()
    if key not in known:
        raise ConfigError(f"region: no hourly series for {region!r}; shipped zones: {', '.join(known)}")
    rel = f"{dataset(DATASET_ID).path}/{key}.csv"
    rows = read_csv(rel)
    if not rows:
        raise DataError(f"greensim/data/{rel}: empty hourly series")
    values = np.empty(len(rows), dtype=np.float64)
    estimated = 0
    start = _parse_utc(rows[0]["datetime_utc"])
    for i, row in enumerate(rows):
        line = i + 2
        try:
            when = _parse_utc(row["datetime_utc"])
            v = float(row["carbon_intensity_g_per_kwh"])
            estimated += int(row["is_estimated"])
        except (KeyError, ValueError, TypeError) as exc:
            raise DataError(f"greensim/data/{rel}:{line}: malformed row ({exc})") from None
        if when != start + timedelta(hours=i):
            raise DataError(f"greensim/data/{rel}:{line}: expected hour {start + timedelta(hours=i)}, "
                            f"got {when} (series must be contiguous)")
        if not math.isfinite(v) or v < 0:
            raise DataError(f"greensim/data/{rel}:{line}: intensity must be finite and >= 0, got {v}")
        values[i] = v
    values.setflags(write=False)
    return HourlySeries(region=key, start_utc=start, step_min=STEP_MIN, intensity_g_per_kwh=values,
                        estimated_fraction=estimated / len(rows))

"""What a custom metric may name (ADR 0017 §6): the measures and dimensions of the learning platform's
rollup declarations (:data:`schemas.lms_rollups.LMS_ROLLUPS`), nothing else. A custom metric's
configuration is checked against this catalog and compiled from it, so every identifier in a statement
comes from here and every value a user wrote is a bound parameter.

- A **measure** is ``<rollup>.<measure>`` without the ``lms_`` prefix (``course_activity.views``): the
  measures that add up across rows (``count``, ``sum``) and exact distinct counts (``uniq_exact``) of the
  aggregating rollups. Replacing rollups (attempts' and enrollments' newest states) hold values that do not
  add up and are left out.
- A **dimension** is a column of the measure's rollup other than the tenant and the person (``user_id``:
  custom metrics are aggregates), typed as the rollup stores it (integers or text).
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.lms_rollups import LMS_ROLLUPS
from schemas.rollup_model import Measure, Rollup

COUNTABLE = frozenset({"count", "sum", "uniq_exact"})
HIDDEN_DIMENSIONS = frozenset({"tenant_id", "user_id"})


@dataclass(frozen=True, slots=True)
class CatalogMeasure:
    name: str
    rollup: Rollup
    measure: Measure

    @property
    def distinct(self) -> bool:
        """An exact distinct count (not additive across groups)."""
        return self.measure.function == "uniq_exact"

    @property
    def merge(self) -> str:
        """The SQL that combines stored rows into the measure's value (identifiers from the declaration)."""
        return self.measure.merge_expression()

    @property
    def dimensions(self) -> dict[str, str]:
        """Dimension → ClickHouse type of the parameter it is compared with."""
        return {
            name: ("UInt64" if "Int" in self.rollup.feed.column(name).type else "String")
            for name in self.rollup.dimensions
            if name not in HIDDEN_DIMENSIONS
        }


def _catalog() -> dict[str, CatalogMeasure]:
    out: dict[str, CatalogMeasure] = {}
    for rollup in LMS_ROLLUPS:
        if rollup.replacing_version is not None:
            continue
        prefix = rollup.name.removeprefix("lms_")
        for measure in rollup.measures:
            if measure.function in COUNTABLE:
                name = f"{prefix}.{measure.name}"
                out[name] = CatalogMeasure(name, rollup, measure)
    return out


MEASURES: dict[str, CatalogMeasure] = _catalog()
"""Every measure a custom metric may name, by name."""

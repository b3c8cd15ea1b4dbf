"""Canonical column names of the data contract and user remapping onto them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from territory.errors import UsageError

ACCOUNT_FIELDS = (
    "account_id",
    "lat",
    "lon",
    "potential",
    "workload",
    "current_rep",
    "locked_rep",
    "name",
    "unit_id",
)
REP_FIELDS = ("rep_id", "lat", "lon", "capacity", "fte", "name", "district", "region")


@dataclass(frozen=True)
class ColumnMap:
    """Maps contract field names to the column names found in the user's files.

    Only remapped fields are stored; every other field is looked up under its own name.
    """

    accounts: Mapping[str, str] = field(default_factory=dict)
    reps: Mapping[str, str] = field(default_factory=dict)

    def account_column(self, field_name: str) -> str:
        return self.accounts.get(field_name, field_name)

    def rep_column(self, field_name: str) -> str:
        return self.reps.get(field_name, field_name)

    def as_dict(self) -> dict[str, dict[str, str]]:
        return {
            "accounts": dict(sorted(self.accounts.items())),
            "reps": dict(sorted(self.reps.items())),
        }


def parse_remaps(pairs: Iterable[str], allowed: tuple[str, ...], option: str) -> dict[str, str]:
    """Parse ``FIELD=COLUMN`` strings from the command line into a mapping."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        fld, sep, column = pair.partition("=")
        fld, column = fld.strip(), column.strip()
        if not sep or not fld or not column:
            raise UsageError(f"{option} expects FIELD=COLUMN, got '{pair}'.")
        if fld not in allowed:
            raise UsageError(
                f"{option}: unknown field '{fld}'. Known fields: {', '.join(allowed)}."
            )
        mapping[fld] = column
    return mapping

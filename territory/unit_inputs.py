"""Inputs of a unit-based run: the unit layer, optional accounts joined to it, optional reps.

Accounts in one unit move together, so the model sees one row per unit: the unit's own
measures plus those of its accounts. A unit's rep today is the rep holding most of its potential
today; a unit is locked to a rep when one of its accounts is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from territory.columns import ColumnMap
from territory.errors import InputError, Problem, UsageError
from territory.inputs import AlignmentInputs, InputFile, sha256_of
from territory.readers import RawTable, read_table
from territory.units import AccountUnits, UnitLayer, join_accounts, read_units
from territory.validation import cross_check, validate_accounts, validate_reps


@dataclass
class UnitInputs:
    """Everything a unit-based run needs, validated."""

    layer: UnitLayer
    units: pd.DataFrame  # one row per unit, in the columns of an accounts table
    territories: int
    reps: pd.DataFrame | None  # None: greenfield, the model places the centres
    accounts: pd.DataFrame | None = None
    account_units: AccountUnits | None = None
    has_workload: bool = False
    has_current: bool = False
    has_capacity: bool = False
    files: dict[str, InputFile] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    columns: ColumnMap = field(default_factory=ColumnMap)

    @property
    def greenfield(self) -> bool:
        return self.reps is None

    def as_alignment_inputs(self, reps: pd.DataFrame) -> AlignmentInputs:
        """The units as the accounts of an alignment, served by ``reps`` (the roster, or the
        territories a greenfield design opened)."""
        return AlignmentInputs(
            accounts=self.units,
            reps=reps,
            has_workload=self.has_workload,
            has_current=self.has_current,
            has_capacity=self.has_capacity,
            files=self.files,
            warnings=self.warnings,
            columns=self.columns,
        )


def _read(path: Path, problems: list[Problem]) -> RawTable | None:
    try:
        return read_table(path)
    except InputError as exc:
        problems += exc.problems
        return None


def load_unit_inputs(
    units: str | Path,
    *,
    accounts: str | Path | None = None,
    reps: str | Path | None = None,
    territories: int | None = None,
    columns: ColumnMap | None = None,
    unit_columns: dict[str, str] | None = None,
    crs: str | None = None,
) -> UnitInputs:
    """Read and check every input of a unit-based run; every problem found is listed."""
    columns = columns or ColumnMap()
    if reps is None and territories is None:
        raise UsageError("--units needs --territories K (greenfield) or --reps (fixed home bases).")
    if territories is not None and territories < 1:
        raise UsageError("--territories must be at least 1.")
    layer = read_units(units, unit_columns, crs)
    files = {"units": InputFile(str(units), sha256_of(Path(units)), layer.n_units)}
    warnings = list(layer.warnings)
    problems: list[Problem] = []
    acc_table = _read(Path(accounts), problems) if accounts is not None else None
    rep_table = _read(Path(reps), problems) if reps is not None else None
    if problems:
        raise InputError(problems)
    roster = None
    if rep_table is not None:
        roster, more = validate_reps(rep_table, columns)
        problems += more
        files["reps"] = InputFile(str(reps), sha256_of(Path(str(reps))), len(rep_table.frame))
    clean = None
    if acc_table is not None:
        clean, more = validate_accounts(acc_table, columns)
        problems += more
        files["accounts"] = InputFile(
            str(accounts), sha256_of(Path(str(accounts))), len(acc_table.frame)
        )
    if problems:
        raise InputError(problems)
    if clean is not None and roster is not None and acc_table is not None:
        more, warned = cross_check(clean, roster, acc_table, columns)
        if more:
            raise InputError(more)
        warnings += warned
    if roster is not None and territories is not None and territories != len(roster):
        raise UsageError(
            f"--territories {territories} disagrees with the {len(roster)} reps in the roster; "
            "with --reps the territories are the reps (leave --territories out)."
        )
    k = len(roster) if roster is not None else int(territories or 0)
    if k > layer.n_units:
        raise UsageError(
            f"{k} territories cannot be made from {layer.n_units} units: each needs one unit."
        )
    joined = None
    if clean is not None and acc_table is not None:
        joined = join_accounts(
            layer, clean, acc_table.source, acc_table.row_number, columns.account_column("unit_id")
        )
        if roster is None and (clean["current_rep"] != "").any():
            warnings.append(
                "accounts name current reps but no roster was given: a greenfield design ignores "
                "them (pass --reps to keep home bases and count moves)."
            )
    frame = _unit_rows(layer, clean, joined, roster, acc_table)
    has_current = bool(
        roster is not None and clean is not None and clean.attrs.get("has_current", False)
    )
    return UnitInputs(
        layer=layer,
        units=frame,
        territories=k,
        reps=roster,
        accounts=clean,
        account_units=joined,
        has_workload=bool(
            layer.has_workload or (clean is not None and clean.attrs.get("has_workload"))
        ),
        has_current=has_current,
        has_capacity=bool(roster is not None and roster.attrs.get("has_capacity")),
        files=files,
        warnings=warnings,
        columns=columns,
    )


def _unit_rows(
    layer: UnitLayer,
    accounts: pd.DataFrame | None,
    joined: AccountUnits | None,
    roster: pd.DataFrame | None,
    table: RawTable | None,
) -> pd.DataFrame:
    """One row per unit with the unit's own measures plus those of its accounts."""
    n = layer.n_units
    potential = layer.frame["potential"].to_numpy(float).copy()
    workload = layer.frame["workload"].to_numpy(float).copy()
    count = np.zeros(n, dtype=np.int64)
    current = np.full(n, "", dtype=object)
    locked = np.full(n, "", dtype=object)
    if accounts is not None and joined is not None:
        unit = joined.unit
        potential += np.bincount(unit, weights=accounts["potential"].to_numpy(float), minlength=n)
        workload += np.bincount(unit, weights=accounts["workload"].to_numpy(float), minlength=n)
        count = np.bincount(unit, minlength=n)
        if roster is not None:
            current = _majority_rep(accounts, unit, roster, n)
            locked = _unit_locks(accounts, unit, layer, table)
    frame = pd.DataFrame(
        {
            "account_id": layer.frame["unit_id"].to_numpy(),
            "lat": layer.frame["lat"].to_numpy(),
            "lon": layer.frame["lon"].to_numpy(),
            "potential": potential,
            "workload": workload,
            "current_rep": current,
            "locked_rep": locked,
            "unit_id": layer.frame["unit_id"].to_numpy(),
            "accounts": count,
        }
    )
    carried = layer.frame.drop(columns=["unit_id", "potential", "workload", "lat", "lon"])
    carried = carried.drop(columns=[c for c in carried.columns if c in frame.columns])
    return pd.concat([frame, carried.reset_index(drop=True)], axis=1)


def _majority_rep(
    accounts: pd.DataFrame, unit: np.ndarray, roster: pd.DataFrame, n: int
) -> np.ndarray:
    """Per unit, the roster rep holding most of its accounts' potential today ('' if none)."""
    position = {r: i for i, r in enumerate(roster["rep_id"])}
    rep = np.array([position.get(v, -1) for v in accounts["current_rep"]], dtype=np.int64)
    on = rep >= 0
    k = len(roster)
    weight = accounts["potential"].to_numpy(float)[on] + 1e-12  # zero-potential accounts count
    totals = np.zeros((n, k))
    np.add.at(totals, (unit[on], rep[on]), weight)
    best = totals.argmax(axis=1)
    ids = roster["rep_id"].to_numpy(dtype=object)
    return np.where(totals.max(axis=1) > 0, ids[best], "").astype(object)


def _unit_locks(
    accounts: pd.DataFrame, unit: np.ndarray, layer: UnitLayer, table: RawTable | None
) -> np.ndarray:
    """A unit is locked to the rep its locked accounts name; two different reps conflict."""
    locks = accounts["locked_rep"].to_numpy(dtype=object)
    out = np.full(layer.n_units, "", dtype=object)
    first_row: dict[int, int] = {}
    problems: list[Problem] = []
    for pos in np.flatnonzero(locks != ""):
        u = int(unit[pos])
        if out[u] == "":
            out[u], first_row[u] = locks[pos], int(pos)
        elif out[u] != locks[pos]:
            row = table.row_number(int(pos)) if table is not None else int(pos)
            other = table.row_number(first_row[u]) if table is not None else first_row[u]
            problems.append(
                Problem(
                    table.source if table is not None else "accounts",
                    f"locks unit '{layer.ids[u]}' to '{locks[pos]}' but row {other} locks it "
                    f"to '{out[u]}'; accounts of one unit move together.",
                    row=row,
                    column="locked_rep",
                    hint="lock all accounts of a unit to the same rep, or none.",
                )
            )
    if problems:
        raise InputError(problems)
    return out

"""Validate raw account and rep tables and turn them into clean, typed frames.

Each check appends :class:`Problem` records instead of stopping, so a user fixes a file once,
not once per error. Warnings (departed reps) are returned separately: they are not errors.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from territory.columns import ColumnMap
from territory.errors import Problem
from territory.readers import RawTable

_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
MAX_PROBLEMS_PER_CHECK = 20


@dataclass
class ValidationResult:
    """Clean frames (or None where a file failed) plus every problem and warning found."""

    accounts: pd.DataFrame | None = None
    reps: pd.DataFrame | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse a column into floats.

    Returns ``(numbers, blank, unparsable)``: blank cells are NaN and flagged as blank; text that
    is not a number (after removing thousands separators such as ``12,500``) is flagged.
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        return numbers, np.isnan(numbers), np.zeros(len(values), dtype=bool)
    text = values.astype("string").fillna("").str.strip()
    blank = (text == "").to_numpy()
    cleaned = text.where(~text.str.match(_THOUSANDS), text.str.replace(",", "", regex=False))
    numbers = pd.to_numeric(cleaned.replace("", pd.NA), errors="coerce").to_numpy(
        dtype=float, na_value=np.nan
    )
    unparsable = np.isnan(numbers) & ~blank & ~text.str.lower().isin(["nan"]).to_numpy()
    return numbers, blank, unparsable


def _text(values: pd.Series) -> pd.Series:
    """Ids and labels as stripped text; numbers from typed files lose a spurious '.0'."""
    if pd.api.types.is_float_dtype(values.dtype):
        as_int = values.dropna()
        if (as_int == as_int.round()).all():
            return values.map(lambda v: "" if pd.isna(v) else str(int(v)))
    return values.astype("string").fillna("").str.strip().astype(object)


class _Checker:
    """Collects problems for one table, keeping the per-check volume readable."""

    def __init__(self, table: RawTable) -> None:
        self.table = table
        self.problems: list[Problem] = []

    def cells(self, mask: np.ndarray, column: str, message: str, hint: str) -> None:
        positions = np.flatnonzero(mask)
        for pos in positions[:MAX_PROBLEMS_PER_CHECK]:
            raw = self.table.frame.iloc[pos][column] if column in self.table.frame else ""
            shown = "" if pd.isna(raw) else str(raw)
            self.problems.append(
                Problem(
                    self.table.source,
                    message.format(value=shown[:60]),
                    row=self.table.row_number(int(pos)),
                    row_word=self.table.row_word,
                    column=column,
                    hint=hint,
                )
            )
        if len(positions) > MAX_PROBLEMS_PER_CHECK:
            self.problems.append(
                Problem(
                    self.table.source,
                    f"{len(positions) - MAX_PROBLEMS_PER_CHECK} more rows with the same problem "
                    f"in column '{column}'.",
                )
            )

    def file(self, message: str, hint: str | None = None, column: str | None = None) -> None:
        self.problems.append(Problem(self.table.source, message, column=column, hint=hint))


def _missing_column(check: _Checker, wanted: str, role: str, option: str, fld: str) -> None:
    present = [str(c) for c in check.table.frame.columns]
    close = difflib.get_close_matches(wanted, present, n=1, cutoff=0.6)
    if close:
        hint = f"rename column '{close[0]}' to '{wanted}', or pass {option} {fld}={close[0]}."
    else:
        hint = (
            f"add a '{wanted}' column, or map yours with {option} {fld}=YOUR_COLUMN "
            f"(columns found: {', '.join(present[:12]) or 'none'})."
        )
    check.file(f"required {role} column '{wanted}' is missing.", hint=hint, column=wanted)


def _ids(check: _Checker, column: str, kind: str) -> pd.Series:
    ids = _text(check.table.frame[column])
    check.cells(
        (ids == "").to_numpy(), column, f"{kind} id is blank.", f"give every row a {kind} id."
    )
    dup = ids.duplicated(keep="first") & (ids != "")
    if dup.any():
        first = {v: i for i, v in reversed(list(enumerate(ids)))}
        for pos in np.flatnonzero(dup.to_numpy())[:MAX_PROBLEMS_PER_CHECK]:
            value = ids.iloc[pos]
            check.problems.append(
                Problem(
                    check.table.source,
                    f"duplicate {kind} id '{value[:60]}' (first seen on "
                    f"{check.table.row_word} {check.table.row_number(first[value])}).",
                    row=check.table.row_number(int(pos)),
                    row_word=check.table.row_word,
                    column=column,
                    hint=f"every {kind} id must be unique; remove or rename the duplicate.",
                )
            )
    return ids


def _coordinates(check: _Checker, lat_col: str, lon_col: str) -> tuple[np.ndarray, np.ndarray]:
    lat, lat_blank, lat_bad = parse_numbers(check.table.frame[lat_col])
    lon, lon_blank, lon_bad = parse_numbers(check.table.frame[lon_col])
    geometry = check.table.frame.attrs.get("coordinates_from_geometry")
    empty = np.zeros(len(lat), dtype=bool)
    if geometry:
        empty = lat_blank | lon_blank
        check.cells(
            empty,
            "geometry",
            "geometry is empty or missing.",
            "give the feature a point or polygon, or remove it.",
        )
        lat_blank = lon_blank = np.zeros(len(lat), dtype=bool)
    for col, blank, bad in ((lat_col, lat_blank, lat_bad), (lon_col, lon_blank, lon_bad)):
        check.cells(blank, col, "coordinate is blank.", "geocode the row or remove it.")
        check.cells(bad, col, "'{value}' is not a number.", "use decimal degrees such as 40.7128.")
    finite_lat, finite_lon = np.isfinite(lat), np.isfinite(lon)
    nonfinite = (~finite_lat & ~lat_blank & ~lat_bad) | (~finite_lon & ~lon_blank & ~lon_bad)
    nonfinite &= ~empty
    check.cells(nonfinite, lat_col, "coordinates are NaN or infinite.", "use decimal degrees.")
    with np.errstate(invalid="ignore"):
        lat_out = finite_lat & (np.abs(lat) > 90)
        lon_out = finite_lon & (np.abs(lon) > 180)
        swapped = lat_out & (np.abs(lon) <= 90)
    check.cells(
        swapped,
        lat_col,
        "latitude {value} is outside -90..90 but the longitude would fit: columns look swapped.",
        f"swap the '{lat_col}' and '{lon_col}' columns.",
    )
    degrees = "use WGS84 degrees."
    if geometry == "no crs":
        degrees = "the file has no CRS and its coordinates are not degrees: define its CRS."
    check.cells(lat_out & ~swapped, lat_col, "latitude {value} is outside -90..90.", degrees)
    check.cells(lon_out, lon_col, "longitude {value} is outside -180..180.", degrees)
    return lat, lon


def _measure(
    check: _Checker, column: str, *, required: bool, default: float, positive: bool = False
) -> np.ndarray:
    values, blank, bad = parse_numbers(check.table.frame[column])
    if required:
        check.cells(blank, column, "value is blank.", "enter a number (0 is allowed).")
    values = np.where(blank & (not required), default, values)
    check.cells(bad, column, "'{value}' is not a number.", "use a plain number such as 12500.")
    nonfinite = ~np.isfinite(values) & ~bad & ~blank  # blanks: flagged above or defaulted
    check.cells(nonfinite, column, "value '{value}' is NaN or infinite.", "use a finite number.")
    with np.errstate(invalid="ignore"):
        negative = np.isfinite(values) & ((values <= 0) if positive else (values < 0))
    bound = "greater than 0" if positive else "0 or more"
    check.cells(
        negative,
        column,
        "value {value} is negative or zero." if positive else "value {value} is negative.",
        f"use a number {bound}.",
    )
    return values


def _carried(frame: pd.DataFrame, used: set[str]) -> pd.DataFrame:
    rest = [c for c in frame.columns if c not in used]
    return pd.DataFrame({c: _text(frame[c]) for c in rest}, index=frame.index)


def validate_accounts(
    table: RawTable, columns: ColumnMap
) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Check the accounts table; return the clean frame (None on any problem) and problems."""
    check = _Checker(table)
    frame = table.frame
    col = columns.account_column
    if len(frame) == 0:
        check.file("has a header but no account rows.", hint="add at least one account.")
        return None, check.problems
    required = ["account_id", "lat", "lon", "potential"]
    for fld in required:
        if col(fld) not in frame.columns:
            _missing_column(check, col(fld), "accounts", "--account-col", fld)
    if check.problems:
        return None, check.problems
    ids = _ids(check, col("account_id"), "account")
    lat, lon = _coordinates(check, col("lat"), col("lon"))
    potential = _measure(check, col("potential"), required=True, default=0.0)
    has_workload = col("workload") in frame.columns
    workload = (
        _measure(check, col("workload"), required=False, default=0.0)
        if has_workload
        else np.zeros(len(frame))
    )
    if check.problems:
        return None, check.problems
    clean = pd.DataFrame(
        {
            "account_id": ids.to_numpy(),
            "lat": lat,
            "lon": lon,
            "potential": potential,
            "workload": workload,
            "current_rep": _text(frame[col("current_rep")]).to_numpy()
            if col("current_rep") in frame.columns
            else "",
            "locked_rep": _text(frame[col("locked_rep")]).to_numpy()
            if col("locked_rep") in frame.columns
            else "",
        }
    )
    used = {
        col(f)
        for f in ("account_id", "lat", "lon", "potential", "workload", "current_rep", "locked_rep")
    }
    carried = _carried(frame, used).reset_index(drop=True)
    carried = carried.drop(columns=[c for c in carried.columns if c in clean.columns])
    clean = pd.concat([clean, carried], axis=1)
    clean.attrs["has_workload"] = has_workload
    clean.attrs["has_current"] = col("current_rep") in frame.columns
    return clean, check.problems


def validate_reps(table: RawTable, columns: ColumnMap) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Check the rep roster; return the clean frame (None on any problem) and problems."""
    check = _Checker(table)
    frame = table.frame
    col = columns.rep_column
    if len(frame) == 0:
        check.file("has no rep rows.", hint="list at least one rep.")
        return None, check.problems
    for fld in ("rep_id", "lat", "lon"):
        if col(fld) not in frame.columns:
            _missing_column(check, col(fld), "reps", "--rep-col", fld)
    if check.problems:
        return None, check.problems
    ids = _ids(check, col("rep_id"), "rep")
    lat, lon = _coordinates(check, col("lat"), col("lon"))
    has_capacity = col("capacity") in frame.columns
    capacity = (
        _measure(check, col("capacity"), required=False, default=np.inf)
        if has_capacity
        else np.full(len(frame), np.inf)
    )
    capacity = np.where(np.isposinf(capacity), np.inf, capacity)
    fte = (
        _measure(check, col("fte"), required=False, default=1.0, positive=True)
        if col("fte") in frame.columns
        else np.ones(len(frame))
    )
    if check.problems:
        return None, check.problems
    clean = pd.DataFrame(
        {"rep_id": ids.to_numpy(), "lat": lat, "lon": lon, "capacity": capacity, "fte": fte}
    )
    used = {col(f) for f in ("rep_id", "lat", "lon", "capacity", "fte")}
    carried = _carried(frame, used).reset_index(drop=True)
    carried = carried.drop(columns=[c for c in carried.columns if c in clean.columns])
    clean = pd.concat([clean, carried], axis=1)
    clean.attrs["has_capacity"] = has_capacity
    return clean, check.problems


def cross_check(
    accounts: pd.DataFrame, reps: pd.DataFrame, table: RawTable, columns: ColumnMap
) -> tuple[list[Problem], list[str]]:
    """Checks that need both tables: locks must name roster reps; departed reps are warned."""
    problems: list[Problem] = []
    warnings: list[str] = []
    roster = set(reps["rep_id"])
    locked = accounts["locked_rep"].to_numpy(dtype=object)
    bad_lock = np.array([v != "" and v not in roster for v in locked], dtype=bool)
    lock_col = columns.account_column("locked_rep")
    for pos in np.flatnonzero(bad_lock)[:MAX_PROBLEMS_PER_CHECK]:
        problems.append(
            Problem(
                table.source,
                f"locked_rep '{locked[pos][:60]}' is not on the rep roster.",
                row=table.row_number(int(pos)),
                row_word=table.row_word,
                column=lock_col,
                hint="lock the account to a rep in the reps file, or clear the lock.",
            )
        )
    current = accounts["current_rep"].to_numpy(dtype=object)
    departed = sorted({v for v in current if v != "" and v not in roster})
    if departed:
        count = int(sum(1 for v in current if v != "" and v not in roster))
        names = ", ".join(departed[:10]) + (" ..." if len(departed) > 10 else "")
        warnings.append(
            f"{count} accounts belong to reps not on the roster ({names}); they are treated as "
            "unassigned today and are not counted as moved."
        )
    return problems, warnings

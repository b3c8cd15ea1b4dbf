"""Load and validate the inputs of an alignment from files or from (Geo)DataFrames."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from territory.columns import ColumnMap
from territory.errors import InputError, Problem
from territory.readers import RawTable, _geometry_to_lat_lon, read_table
from territory.validation import cross_check, validate_accounts, validate_reps


@dataclass
class InputFile:
    """Where an input came from, recorded in ``run.json`` for reproducibility."""

    path: str
    sha256: str | None
    rows: int


@dataclass
class AlignmentInputs:
    """Validated accounts and reps with the index arrays the optimiser works on.

    ``current`` and ``locked`` hold roster positions (-1: none); an account whose current
    rep is not on the roster (a departed rep) has ``current == -1`` and ``departed == True``.
    ``forbidden`` lists (account_id, rep_id) pairs that may never be assigned (scenario edits);
    ``forbidden_keys`` holds them as sorted ``account position × n_reps + rep position``.
    """

    accounts: pd.DataFrame
    reps: pd.DataFrame
    has_workload: bool
    has_current: bool
    has_capacity: bool
    files: dict[str, InputFile] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    columns: ColumnMap = field(default_factory=ColumnMap)
    forbidden: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        position = {rep: i for i, rep in enumerate(self.reps["rep_id"])}
        current = self.accounts["current_rep"].to_numpy(dtype=object)
        self.current = np.array([position.get(v, -1) for v in current], dtype=np.int64)
        self.departed = np.array([v != "" and v not in position for v in current], dtype=bool)
        locked = self.accounts["locked_rep"].to_numpy(dtype=object)
        self.locked = np.array([position.get(v, -1) for v in locked], dtype=np.int64)
        self.forbidden_keys = self._forbidden_keys(position)

    def _forbidden_keys(self, position: dict[str, int]) -> np.ndarray:
        if self.forbidden is None or len(self.forbidden) == 0:
            return np.zeros(0, dtype=np.int64)
        accounts = {a: i for i, a in enumerate(self.accounts["account_id"])}
        acc = self.forbidden["account_id"].map(accounts)
        rep = self.forbidden["rep_id"].map(position)
        if acc.isna().any() or rep.isna().any():
            raise ValueError("forbidden pairs must name accounts and reps of these inputs")
        keys = acc.to_numpy(np.int64) * self.n_reps + rep.to_numpy(np.int64)
        return np.unique(keys)

    @property
    def n_accounts(self) -> int:
        return len(self.accounts)

    @property
    def n_reps(self) -> int:
        return len(self.reps)

    @property
    def potential(self) -> np.ndarray:
        return self.accounts["potential"].to_numpy(dtype=float)

    @property
    def workload(self) -> np.ndarray:
        return self.accounts["workload"].to_numpy(dtype=float)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _build(
    accounts: RawTable, reps: RawTable, columns: ColumnMap, files: dict[str, InputFile]
) -> AlignmentInputs:
    clean_accounts, problems = validate_accounts(accounts, columns)
    clean_reps, rep_problems = validate_reps(reps, columns)
    problems = problems + rep_problems
    warnings: list[str] = []
    if clean_accounts is not None and clean_reps is not None:
        more, warnings = cross_check(clean_accounts, clean_reps, accounts, columns)
        problems += more
    if problems or clean_accounts is None or clean_reps is None:
        raise InputError(problems)
    return AlignmentInputs(
        accounts=clean_accounts,
        reps=clean_reps,
        has_workload=bool(clean_accounts.attrs.get("has_workload")),
        has_current=bool(clean_accounts.attrs.get("has_current")),
        has_capacity=bool(clean_reps.attrs.get("has_capacity")),
        files=files,
        warnings=warnings,
        columns=columns,
    )


def load_inputs(
    accounts: str | Path, reps: str | Path, columns: ColumnMap | None = None
) -> AlignmentInputs:
    """Read and validate the accounts and reps files; raises :class:`InputError` listing
    every problem found in either file."""
    columns = columns or ColumnMap()
    problems: list[Problem] = []
    tables: dict[str, RawTable] = {}
    for role, path in (("accounts", accounts), ("reps", reps)):
        try:
            tables[role] = read_table(path)
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    files = {
        role: InputFile(str(path), sha256_of(Path(path)), len(tables[role].frame))
        for role, path in (("accounts", accounts), ("reps", reps))
    }
    return _build(tables["accounts"], tables["reps"], columns, files)


def inputs_from_frames(
    accounts: pd.DataFrame, reps: pd.DataFrame, columns: ColumnMap | None = None
) -> AlignmentInputs:
    """Validate in-memory tables (DataFrames, or GeoDataFrames with point/polygon geometry)."""
    columns = columns or ColumnMap()
    tables = {
        "accounts": RawTable(_geometry_to_lat_lon(accounts).reset_index(drop=True), "accounts", 1),
        "reps": RawTable(_geometry_to_lat_lon(reps).reset_index(drop=True), "reps", 1),
    }
    files = {
        role: InputFile(f"<{role} DataFrame>", None, len(t.frame)) for role, t in tables.items()
    }
    return _build(tables["accounts"], tables["reps"], columns, files)


def load_travel_times(inputs: AlignmentInputs, path: str | Path) -> pd.DataFrame:
    """Read a travel-time table (``rep_id, account_id, minutes``) and record it as an input."""
    frame = read_table(path).frame
    inputs.files["travel_times"] = InputFile(str(path), sha256_of(Path(path)), len(frame))
    return frame

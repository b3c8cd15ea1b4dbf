"""A finished run directory read back as arrays, for the commands that work on runs.

``compare``, ``goals`` and ``explain`` recompute every figure from ``assignments.csv`` and the
roster in ``rep_summary.csv`` with the plain functions of :mod:`territory.metrics`, so two runs
are always scored the same way. Only what cannot be recomputed without the solve is read from
the run's own records: status, gap, parameters and the band prices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from territory.errors import InputError, Problem, UsageError
from territory.metrics import PlanFacts

ASSIGNMENTS = "assignments.csv"
REP_SUMMARY = "rep_summary.csv"


@dataclass(frozen=True)
class RunView:
    """One run: its accounts (normalised assignments), its roster and ``run.json``."""

    path: Path
    label: str
    accounts: pd.DataFrame
    reps: pd.DataFrame
    info: dict[str, Any]

    def rep_position(self) -> dict[str, int]:
        return {rep: i for i, rep in enumerate(self.reps["rep_id"])}

    def parameter(self, name: str, default: Any = None) -> Any:
        params = self.info.get("parameters")
        return params.get(name, default) if isinstance(params, dict) else default

    @property
    def has_prices(self) -> bool:
        prices = self.reps["potential_band_price"]
        return bool(np.isfinite(prices.to_numpy(float)).any())


def read_run_view(path: Path, label: str | None = None) -> RunView:
    """Read and check a run directory; a user's mistake is an error message, not a traceback."""
    from maps.run_files import read_run

    path = Path(path)
    if not (path / "run.json").is_file():
        raise UsageError(f"{path} is not a run directory (no run.json).")
    for name in (ASSIGNMENTS, REP_SUMMARY):
        if not (path / name).is_file():
            raise UsageError(f"{path} is not a complete run directory (no {name}).")
    try:
        run = read_run(path)
    except ValueError as exc:  # unreadable run.json or CSV
        raise UsageError(f"{path}: cannot read the run files ({exc}).") from exc
    reps = run.reps.copy()
    for column in ("potential_band_price", "workload_band_price"):
        values = reps[column] if column in reps.columns else pd.Series(np.nan, index=reps.index)
        reps[column] = pd.to_numeric(values, errors="coerce").astype(float)
    reps["fte"] = reps["fte"].fillna(1.0)
    reps["capacity"] = reps["capacity"].fillna(np.inf)
    _check(path, run.assignments, reps)
    return RunView(path, label or path.name, run.assignments, reps, run.info)


def _check(path: Path, accounts: pd.DataFrame, reps: pd.DataFrame) -> None:
    problems: list[Problem] = []
    a_file, r_file = str(path / ASSIGNMENTS), str(path / REP_SUMMARY)
    ids = accounts["account_id"]
    for row in np.flatnonzero((ids == "").to_numpy() | ids.duplicated().to_numpy())[:10]:
        problems.append(Problem(a_file, "empty or repeated account id.", row=int(row) + 2))
    bad = ~np.isfinite(accounts["potential"].to_numpy(float)) | (accounts["potential"] < 0)
    for row in np.flatnonzero(bad.to_numpy())[:10]:
        problems.append(
            Problem(a_file, "potential is not a number >= 0.", row=int(row) + 2, column="potential")
        )
    rep_ids = reps["rep_id"]
    for row in np.flatnonzero((rep_ids == "").to_numpy() | rep_ids.duplicated().to_numpy())[:10]:
        problems.append(Problem(r_file, "empty or repeated rep id.", row=int(row) + 2))
    unknown = ~accounts["rep_id"].isin(set(rep_ids) | {""})
    for row in np.flatnonzero(unknown.to_numpy())[:10]:
        problems.append(
            Problem(a_file, "rep is not in rep_summary.csv.", row=int(row) + 2, column="rep_id")
        )
    bad_fte = ~np.isfinite(reps["fte"].to_numpy(float)) | (reps["fte"] <= 0)
    for row in np.flatnonzero(bad_fte.to_numpy())[:10]:
        problems.append(Problem(r_file, "fte is not a number > 0.", row=int(row) + 2, column="fte"))
    if problems:
        raise InputError(problems)


def account_rows(view: RunView, account_ids: np.ndarray) -> pd.DataFrame:
    """The run's account rows in the order of ``account_ids`` (all of them present)."""
    return view.accounts.set_index("account_id").loc[account_ids].reset_index()


def facts_of_run(view: RunView, accounts: pd.DataFrame) -> tuple[PlanFacts, np.ndarray]:
    """Metric facts and the assignment (roster positions) of ``accounts`` rows of the run.

    Targets are FTE shares of the potential of the accounts the run covers: the run's own
    basis for every feasible plan, where exactly the coverable accounts are covered.
    """
    position = view.rep_position()
    assignment = accounts["rep_id"].map(position).fillna(-1).to_numpy(np.int64)
    current = accounts["previous_rep"].map(position).fillna(-1).to_numpy(np.int64)
    reps = view.reps
    facts = PlanFacts(
        potential=accounts["potential"].to_numpy(float),
        workload=accounts["workload"].fillna(0.0).to_numpy(float),
        acc_lat=accounts["lat"].to_numpy(float),
        acc_lon=accounts["lon"].to_numpy(float),
        rep_lat=reps["lat"].to_numpy(float),
        rep_lon=reps["lon"].to_numpy(float),
        fte=reps["fte"].to_numpy(float),
        capacity=reps["capacity"].to_numpy(float),
        current=current,
        coverable=assignment >= 0,
    )
    return facts, assignment


def unique_labels(paths: list[Path]) -> list[str]:
    """Short names for runs: the directory name, made unique with the parent when needed."""
    names = [p.name or str(p) for p in paths]
    labels: list[str] = []
    for path, name in zip(paths, names, strict=True):
        label = name if names.count(name) == 1 else str(path)
        base, n = label, 2
        while label in labels:
            label, n = f"{base} ({n})", n + 1
        labels.append(label)
    return labels


def finite_or_none(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None

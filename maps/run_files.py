"""Read the files that ``territory align`` writes into a run directory.

Everything is read as text first so that ids keep their leading zeros and an
account called "NA" stays an account called "NA"; only the columns the map
computes with are converted to numbers afterwards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

ASSIGNMENTS_FILE = "assignments.csv"
REPS_FILE = "rep_summary.csv"
RUN_FILE = "run.json"

ACCOUNT_TEXT = ("account_id", "rep_id", "previous_rep", "change", "name", "segment")
ACCOUNT_NUMBERS = ("distance_km", "potential", "workload", "lat", "lon")
REP_TEXT = ("rep_id", "name", "district", "region")
REP_NUMBERS = (
    "accounts",
    "potential",
    "potential_target",
    "potential_index",
    "workload",
    "workload_index",
    "capacity_utilisation",
    "mean_distance_km",
    "max_distance_km",
    "accounts_gained",
    "accounts_lost",
    "potential_gained",
    "potential_lost",
    "lat",
    "lon",
    "fte",
    "capacity",
)
_TRUE = {"true", "1", "yes", "y", "t"}


@dataclass(frozen=True)
class RunData:
    """One alignment run: account assignments, per-rep figures and run metadata."""

    assignments: pd.DataFrame
    reps: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)


def read_run(run_dir: Path) -> RunData:
    """Read ``assignments.csv``, ``rep_summary.csv`` and ``run.json`` from ``run_dir``.

    ``rep_summary.csv`` and ``run.json`` are optional so that a partial run can
    still be looked at; ``assignments.csv`` is required.
    """
    run_dir = Path(run_dir)
    assignments = normalise_assignments(_read_text_csv(run_dir / ASSIGNMENTS_FILE))
    reps_path = run_dir / REPS_FILE
    reps = normalise_reps(_read_text_csv(reps_path) if reps_path.exists() else pd.DataFrame())
    return RunData(assignments=assignments, reps=reps, info=read_run_info(run_dir / RUN_FILE))


def read_run_info(path: Path) -> dict[str, Any]:
    """Read ``run.json``; a missing file or a non-object gives an empty dict."""
    if not Path(path).exists():
        return {}
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def normalise_assignments(frame: pd.DataFrame) -> pd.DataFrame:
    """Give an assignments table the column types the map relies on.

    Ids become text ("" when missing, meaning uncovered / no previous rep),
    ``moved`` becomes a bool and the numeric columns become floats (NaN when
    missing). Works on frames read by :func:`read_run` or built in memory.
    """
    out = frame.copy()
    for column in ACCOUNT_TEXT:
        out[column] = _text_column(out, column)
    for column in ACCOUNT_NUMBERS:
        out[column] = _number_column(out, column)
    if "moved" in out.columns:
        out["moved"] = _text_column(out, "moved").str.lower().isin(_TRUE).to_numpy(bool)
    else:
        out["moved"] = False
    out["moved"] = out["moved"].astype(bool)
    return out.reset_index(drop=True)


def normalise_reps(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a rep summary table the column types the map relies on.

    ``district`` stays absent when the run has none, so callers can tell "no
    districts" apart from "district left blank".
    """
    out = frame.copy()
    for column in REP_TEXT:
        if column == "district" and column not in out.columns:
            continue
        out[column] = _text_column(out, column)
    for column in REP_NUMBERS:
        out[column] = _number_column(out, column)
    return out.reset_index(drop=True)


def _read_text_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)


def _text_column(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series([""] * len(frame), index=frame.index, dtype=object)
    values = frame[column]
    text = values.astype(object).where(values.notna(), "").map(str).str.strip()
    return text.astype(object)


def _number_column(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series([float("nan")] * len(frame), index=frame.index, dtype=float)
    return pd.to_numeric(frame[column], errors="coerce").astype(float)

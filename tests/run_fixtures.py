"""Small solved runs shared by the compare, explain and goals tests (solved once per session)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner

from territory.cli import cli

HOSTILE_NAME = '=HYPERLINK("http://x")<script>alert(1)</script>'


def synthetic_inputs(folder: Path) -> tuple[Path, Path]:
    """80 accounts in a 2°×2° box, 4 reps near the corners; today's reps are the nearest
    with a few swapped, and each account carries a ``history`` column."""
    rng = np.random.default_rng(7)
    n = 80
    lat = rng.uniform(40.0, 42.0, n)
    lon = rng.uniform(-100.0, -98.0, n)
    reps = pd.DataFrame(
        {
            "rep_id": ["R1", "R2", "R3", "R4"],
            "name": ["Ann", HOSTILE_NAME, "Cy", "Dee"],
            "lat": [40.3, 40.4, 41.7, 41.6],
            "lon": [-99.7, -98.3, -99.6, -98.4],
            "fte": [1.0, 1.0, 1.0, 0.5],
        }
    )
    d = (lat[:, None] - reps["lat"].to_numpy()) ** 2 + (lon[:, None] - reps["lon"].to_numpy()) ** 2
    nearest = d.argmin(axis=1)
    swap = rng.choice(n, 8, replace=False)
    nearest[swap] = (nearest[swap] + 1) % 4
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{i:03d}" for i in range(n)],
            "lat": lat.round(5),
            "lon": lon.round(5),
            "potential": rng.integers(10, 200, n),
            "workload": rng.integers(1, 20, n),
            "current_rep": reps["rep_id"].to_numpy()[nearest],
            "name": [f"Account {i}" for i in range(n)],
            "history": rng.integers(0, 150, n),
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    accounts.to_csv(folder / "accounts.csv", index=False)
    reps.to_csv(folder / "reps.csv", index=False)
    reps[reps["rep_id"] != "R4"].to_csv(folder / "reps_leave.csv", index=False)
    return folder / "accounts.csv", folder / "reps.csv"


def solve(accounts: Path, reps: Path, out: Path, *extra: str) -> Path:
    args = ["align", "-a", str(accounts), "-r", str(reps), "-o", str(out), "-q", "--no-map"]
    result = CliRunner().invoke(cli, [*args, *extra], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def make_runs(folder: Path) -> dict[str, Path]:
    """Baseline (±10 %), tight (±3 %) and a rep-leaves run (R4 off the roster)."""
    accounts, reps = synthetic_inputs(folder / "inputs")
    return {
        "base": solve(accounts, reps, folder / "base", "--tolerance", "0.1"),
        "tight": solve(accounts, reps, folder / "tight", "--tolerance", "0.03"),
        "leave": solve(
            accounts, folder / "inputs" / "reps_leave.csv", folder / "leave", "--tolerance", "0.1"
        ),
    }


def write_run(folder: Path, accounts: list[dict], reps: list[dict], info: dict | None = None):
    """A hand-made run directory (for exact hand examples), in the contract's layout."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(accounts)
    for column, default in (("previous_rep", ""), ("lat", 40.0), ("lon", -99.0), ("workload", 1)):
        if column not in frame.columns:
            frame[column] = default
    frame.to_csv(folder / "assignments.csv", index=False)
    roster = pd.DataFrame(reps)
    for column, default in (("lat", 40.0), ("lon", -99.0), ("fte", 1.0)):
        if column not in roster.columns:
            roster[column] = default
    roster.to_csv(folder / "rep_summary.csv", index=False)
    (folder / "run.json").write_text(json.dumps(info or {"status": "scored"}))
    return folder

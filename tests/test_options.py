"""Objective options and solver selection, checked against brute force or by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from territory.align import align
from territory.cli import cli
from territory.errors import SolverUnavailableError
from territory.params import AlignParams
from tests.conftest import brute_force, make_inputs


def _line() -> tuple[list[dict], list[dict]]:
    """Five accounts on the equator between two reps 1 degree apart."""
    accounts = [
        {"account_id": f"a{i}", "lat": 0.0, "lon": lon, "potential": pot, "workload": work}
        for i, (lon, pot, work) in enumerate(
            [(0.1, 30, 2), (0.3, 20, 8), (0.5, 25, 5), (0.7, 15, 9), (0.9, 10, 1)]
        )
    ]
    reps = [{"rep_id": "w", "lat": 0.0, "lon": 0.0}, {"rep_id": "e", "lat": 0.0, "lon": 1.0}]
    return accounts, reps


@pytest.mark.parametrize("distance", ["great_circle", "squared"])
@pytest.mark.parametrize("weighting", ["potential", "workload", "none"])
def test_objective_variants_match_brute_force(distance, weighting):
    accounts, reps = _line()
    inputs = make_inputs(accounts, reps)
    params = AlignParams(
        tolerance=0.2, workload_tolerance=0.5, distance=distance, weighting=weighting, gap=0.0
    )
    plan = align(inputs, params)
    best, _ = brute_force(inputs, params)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(best, rel=1e-6)


def test_squared_distance_costs_more_for_far_accounts():
    accounts, reps = _line()
    inputs = make_inputs(accounts, reps)
    linear = align(inputs, AlignParams(tolerance=0.9, workload_tolerance=None))
    squared = align(inputs, AlignParams(tolerance=0.9, workload_tolerance=None, distance="squared"))
    assert squared.objective > linear.objective  # km² of ~10-100 km distances


def test_travel_time_table_replaces_distances(tmp_path):
    accounts, reps = _line()
    pd.DataFrame(accounts).to_csv(tmp_path / "accounts.csv", index=False)
    pd.DataFrame(reps).to_csv(tmp_path / "reps.csv", index=False)
    # Minutes that contradict the map: west is quick to reach for the eastern accounts,
    # and a0 has no route from the east at all.
    west = {"a0": 90, "a1": 70, "a2": 40, "a3": 30, "a4": 10}
    east = {"a1": 20, "a2": 60, "a3": 70, "a4": 95}
    rows = [{"rep_id": "w", "account_id": a, "minutes": m} for a, m in west.items()]
    rows += [{"rep_id": "e", "account_id": a, "minutes": m} for a, m in east.items()]
    pd.DataFrame(rows).to_csv(tmp_path / "minutes.csv", index=False)
    result = CliRunner().invoke(
        cli,
        [
            "align",
            "-a",
            str(tmp_path / "accounts.csv"),
            "-r",
            str(tmp_path / "reps.csv"),
            "-o",
            str(tmp_path / "run"),
            "--travel-times",
            str(tmp_path / "minutes.csv"),
            "--tolerance",
            "0.9",
            "--no-workload-band",
            "--no-map",
            "-q",
            "--gap",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["objective_unit"] == "potential × minutes"
    assert record["inputs"]["travel_times"]["sha256"]
    out = pd.read_csv(tmp_path / "run" / "assignments.csv")
    # with loose bands each account goes to its quickest rep
    assert out.set_index("account_id")["rep_id"].to_dict() == {
        "a0": "w",
        "a1": "e",
        "a2": "w",
        "a3": "w",
        "a4": "w",
    }


def test_column_remapping_on_the_command_line(tmp_path):
    accounts, reps = _line()
    pd.DataFrame(accounts).rename(columns={"potential": "Sales", "account_id": "Id"}).to_csv(
        tmp_path / "accounts.csv", index=False
    )
    pd.DataFrame(reps).rename(columns={"rep_id": "Territory"}).to_csv(
        tmp_path / "reps.csv", index=False
    )
    result = CliRunner().invoke(
        cli,
        [
            "align",
            "-a",
            str(tmp_path / "accounts.csv"),
            "-r",
            str(tmp_path / "reps.csv"),
            "-o",
            str(tmp_path / "run"),
            "--account-col",
            "potential=Sales",
            "--account-col",
            "account_id=Id",
            "--rep-col",
            "rep_id=Territory",
            "--no-map",
            "-q",
            "--tolerance",
            "0.3",
            "--no-workload-band",
        ],
    )
    assert result.exit_code == 0, result.output
    out = pd.read_csv(tmp_path / "run" / "assignments.csv")
    assert sorted(out["account_id"]) == ["a0", "a1", "a2", "a3", "a4"]
    assert out["account_id"].is_unique
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["columns"]["accounts"] == {"account_id": "Id", "potential": "Sales"}


def test_unknown_solver_lists_the_installed_ones():
    accounts, reps = _line()
    with pytest.raises(SolverUnavailableError, match="HiGHS"):
        align(make_inputs(accounts, reps), AlignParams(solver="NoSuchSolver"))


def test_workload_band_is_enforced():
    accounts, reps = _line()
    inputs = make_inputs(accounts, reps)
    plan = align(inputs, AlignParams(tolerance=0.5, workload_tolerance=0.1, gap=0.0))
    best, _ = brute_force(inputs, AlignParams(tolerance=0.5, workload_tolerance=0.1))
    if np.isfinite(best):
        idx = plan.rep_summary()["workload_index"].to_numpy()
        assert np.all((idx >= 90 - 1e-6) & (idx <= 110 + 1e-6))
    else:
        assert plan.status == "infeasible"

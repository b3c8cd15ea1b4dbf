"""Sweeps: the Pareto flag and the knee on hand-made points, every point equal to a direct
``align``, the same results on a local pool and on Dask, and ``territory sweep`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from territory.align import align
from territory.errors import UsageError
from territory.inputs import load_inputs
from territory.params import AlignParams
from territory.sweep import SweepJob, knee_index, pareto_mask, run_sweep, sweep_params
from tests.scenario_support import world_with_base, write_world
from tests.test_cli_errors import run_cli


def dominates(p: np.ndarray, q: np.ndarray) -> bool:
    return bool(np.all(p <= q) and np.any(p < q))


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 9).flatmap(
        lambda n: st.tuples(
            st.lists(st.lists(st.integers(0, 4), min_size=3, max_size=3), min_size=n, max_size=n),
            st.lists(st.booleans(), min_size=n, max_size=n),
        )
    )
)
def test_pareto_points_are_undominated_and_the_others_dominated(case):
    rows, eligible = case
    values = np.array(rows, dtype=float)
    ok = np.array(eligible)
    front = pareto_mask(values, ok)
    assert not front[~ok].any()
    for i in np.flatnonzero(front):
        assert not any(dominates(values[j], values[i]) for j in np.flatnonzero(ok))
    for i in np.flatnonzero(ok & ~front):
        assert any(dominates(values[j], values[i]) for j in np.flatnonzero(front))


def test_pareto_on_hand_made_points():
    values = np.array(
        [
            [1, 10, 0.2],  # best balance
            [5, 5, 0.1],  # middle
            [10, 1, 0.1],  # best travel
            [5, 6, 0.1],  # dominated by the middle point
            [5, 5, 0.1],  # equal to the middle point: not dominated
            [0, 0, 0.0],  # dominates all, but has no plan within its constraints
        ]
    )
    eligible = np.array([True, True, True, True, True, False])
    assert pareto_mask(values, eligible).tolist() == [True, True, True, False, True, False]
    assert pareto_mask(np.array([[1.0, np.nan, 1.0], [2.0, 2.0, 2.0]])).tolist() == [False, True]


def test_knee_is_the_front_point_nearest_the_ideal():
    values = np.array([[1, 10, 0], [3, 3, 0], [10, 1, 0], [6, 9, 0]], dtype=float)
    front = pareto_mask(values)
    assert front.tolist() == [True, True, True, False]
    assert knee_index(values, front) == 1
    assert knee_index(values, np.zeros(4, dtype=bool)) is None
    assert knee_index(values[:1], np.array([True])) == 0
    # ties go to the first point
    assert knee_index(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([True, True])) == 0


def test_the_grid_is_every_tolerance_by_every_cap_in_order():
    base = AlignParams(tolerance=0.05, max_moved=0.3, seed=4)
    grid = sweep_params(base, [0.1, 0.02, 0.1], [None, 0.2])
    assert [(p.tolerance, p.max_moved) for p in grid] == [
        (0.1, None),
        (0.1, 0.2),
        (0.02, None),
        (0.02, 0.2),
    ]
    assert all(p.seed == 4 for p in grid)
    assert [(p.tolerance, p.max_moved) for p in sweep_params(base, None, [0.1])] == [(0.05, 0.1)]
    with pytest.raises(UsageError, match="--max-moved"):
        sweep_params(base, None, [1.5])


@pytest.fixture(scope="module")
def tiny_job(tmp_path_factory) -> SweepJob:
    return SweepJob(load_inputs(*write_world(tmp_path_factory.mktemp("world"))))


GRID = sweep_params(AlignParams(workload_tolerance=None), [0.1, 0.3], [0.05, None])


@pytest.fixture(scope="module")
def serial(tiny_job):
    return run_sweep(tiny_job, GRID, workers=1)


def test_every_point_is_the_plan_align_makes(tiny_job, serial):
    assert len(serial.plans) == 4
    for params, plan in zip(GRID, serial.plans, strict=True):
        direct = align(tiny_job.inputs, params)
        assert plan.status == direct.status
        assert np.array_equal(plan.assignment, direct.assignment)
        assert plan.objective == pytest.approx(direct.objective)
    table = serial.table
    assert table["point"].tolist() == [1, 2, 3, 4]
    capped = table[table["max_moved"] == 0.05]
    assert (capped["moved_potential_share"] <= 0.05 + 1e-9).all()
    assert table["pareto"].any() and table["knee"].sum() == 1
    assert table.loc[table["knee"], "pareto"].all()


def test_a_local_process_pool_gives_the_same_results(tiny_job, serial):
    pooled = run_sweep(tiny_job, GRID, workers=2)
    pd.testing.assert_frame_equal(pooled.table, serial.table)


def test_dask_gives_the_same_results_as_local(tiny_job, serial):
    from dask.distributed import LocalCluster

    # a worker process, so that the inputs and results really travel (pickled) to and fro
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        seen: list[int] = []
        on_dask = run_sweep(
            tiny_job,
            GRID,
            scheduler=cluster.scheduler_address,
            report=lambda d, t, p: seen.append(d),
        )
    assert sorted(seen) == [1, 2, 3, 4]
    pd.testing.assert_frame_equal(on_dask.table, serial.table)
    for a, b in zip(on_dask.plans, serial.plans, strict=True):
        assert np.array_equal(a.assignment, b.assignment)


def two_rep_files(tmp_path: Path) -> tuple[Path, Path]:
    """Potentials 60..10 (sums are multiples of 10, the target 105): ±2 % has no plan."""
    accounts = tmp_path / "accounts.csv"
    rows = ["account_id,lat,lon,potential,current_rep"]
    for i, (lon, pot) in enumerate(
        [(0.05, 60), (0.10, 50), (0.20, 40), (0.60, 30), (0.70, 20), (0.80, 10)], start=1
    ):
        rows.append(f"a{i},0,{lon},{pot},{'west' if i <= 3 else 'east'}")
    accounts.write_text("\n".join(rows) + "\n")
    reps = tmp_path / "reps.csv"
    reps.write_text("rep_id,lat,lon\nwest,0,0\neast,0,0.9\n")
    return accounts, reps


def sweep_args(accounts: Path, reps: Path, out: Path, *extra: str) -> list[str]:
    return ["sweep", "-a", str(accounts), "-r", str(reps), "-o", str(out), "-q", *extra]


def test_sweep_writes_table_charts_and_runs_identically_twice(tmp_path):
    accounts, reps = two_rep_files(tmp_path)
    outs = [tmp_path / "one", tmp_path / "two"]
    for out in outs:
        code, output = run_cli(
            sweep_args(
                accounts,
                reps,
                out,
                "--tolerance",
                "0.02,0.05,0.1",
                "--max-moved",
                "0.2,none",
                "--keep-runs",
                "--no-map",
                "--workers",
                "1",
            )  # fmt: skip
        )
        assert code == 0, output
    one, two = outs
    for name in ("pareto.csv", "pareto.png", "pareto.html"):
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    records = [json.loads((o / "sweep.json").read_text()) for o in outs]
    for record in records:
        record.pop("timings_s")
    assert records[0] == records[1]
    table = pd.read_csv(one / "pareto.csv", keep_default_na=False)
    assert len(table) == 6
    tight = table[table["tolerance"] == 0.02]
    assert (tight["status"] == "infeasible").all() and not tight["pareto"].any()
    assert table.loc[table["status"] != "infeasible", "pareto"].any()
    assert records[0]["knee_point"] in table.loc[table["pareto"], "point"].tolist()
    for run_dir in table["run_dir"]:
        run = json.loads((one / run_dir / "run.json").read_text())
        assert run["command"] == "sweep" and run["parameters"]["tolerance"] in (0.02, 0.05, 0.1)
    assert (one / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (one / "pareto.html").read_text()
    assert "<svg" in page and "knee" in page and "http" not in page


def test_sweep_of_a_scenario_with_an_override(tmp_path):
    world_with_base(tmp_path)
    code, output = run_cli(
        ["sweep", "--scenario", str(tmp_path / "base.toml"), "--tolerance", "0.2,0.3",
         "--distance", "squared", "-o", str(tmp_path / "sw"), "-q", "--workers", "1"]
    )  # fmt: skip
    assert code == 0, output
    record = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert record["scenario"]["name"] == "tiny"
    assert record["base_parameters"]["distance"] == "squared"  # the command line wins
    assert record["base_parameters"]["workload_tolerance"] is None  # the scenario's value
    assert record["tolerances"] == [0.2, 0.3] and record["points"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --tolerance and/or --max-moved"),
        (["--tolerance", "0.1,abc"], "--tolerance expects numbers"),
        (["--max-moved", "0.1,2"], "--max-moved must be in [0, 1]"),
        (["--tolerance", "0.1", "--scenario", "x.toml"], "leave out --accounts/--reps"),
        (["--tolerance", "0.1", "--workers", "0"], "--workers must be at least 1"),
    ],
)
def test_sweep_usage_errors_exit_2(tmp_path, args, message):
    accounts, reps = two_rep_files(tmp_path)
    code, output = run_cli(sweep_args(accounts, reps, tmp_path / "out", *args))
    assert code == 2 and message in output, output
    assert not (tmp_path / "out").exists()


def test_sweep_needs_inputs_and_will_not_overwrite_other_directories(tmp_path):
    code, output = run_cli(["sweep", "--tolerance", "0.1", "-o", str(tmp_path / "x")])
    assert code == 2 and "give --accounts and --reps, or --scenario" in output
    accounts, reps = two_rep_files(tmp_path)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    code, output = run_cli(sweep_args(accounts, reps, precious, "--tolerance", "0.1"))
    assert code == 2 and "no sweep.json" in output
    assert (precious / "notes.txt").read_text() == "keep me"

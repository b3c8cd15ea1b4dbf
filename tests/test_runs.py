"""Run directories: contract columns, re-scoring, determinism, atomicity, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import sample_data
from territory.align import score_plan_file
from territory.cli import cli
from territory.inputs import load_inputs
from territory.params import AlignParams

ASSIGNMENT_COLUMNS = [
    "account_id",
    "rep_id",
    "previous_rep",
    "moved",
    "distance_km",
    "potential",
    "workload",
]
REP_COLUMNS = [
    "rep_id",
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
]


def align_args(accounts: Path, reps: Path, out: Path, *extra: str) -> list[str]:
    """``territory align`` arguments for one run."""
    return ["align", "-a", str(accounts), "-r", str(reps), "-o", str(out), *extra]


def run_cli(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "sample"
    code, output = run_cli(align_args(sample_data.ACCOUNTS, sample_data.REPS, out, "-q"))
    assert code == 0, output
    return out


def test_run_directory_follows_the_contract(sample_run):
    assignments = pd.read_csv(sample_run / "assignments.csv", dtype={"account_id": str})
    reps = pd.read_csv(sample_run / "rep_summary.csv", dtype={"rep_id": str})
    record = json.loads((sample_run / "run.json").read_text())
    assert list(assignments.columns[: len(ASSIGNMENT_COLUMNS)]) == ASSIGNMENT_COLUMNS
    assert list(reps.columns[: len(REP_COLUMNS)]) == REP_COLUMNS
    assert {"name", "segment"} <= set(assignments.columns)
    assert {"name", "district", "region"} <= set(reps.columns)
    for key in (
        "status",
        "objective",
        "lower_bound",
        "gap",
        "solver",
        "inputs",
        "parameters",
        "timings_s",
        "potential_index_range",
        "moved_potential_share",
        "uncovered_accounts",
    ):
        assert key in record
    assert record["inputs"]["accounts"]["sha256"]
    assert (sample_run / "map.html").stat().st_size > 10_000
    # the sample data is designed to be balanceable: the core's acceptance figures
    assert record["status"] in ("optimal", "feasible")
    assert record["gap"] <= 0.01
    low, high = record["potential_index_range"]
    assert 95 - 1e-6 <= low <= high <= 105 + 1e-6


def test_rescoring_the_written_plan_reproduces_its_figures(sample_run):
    inputs = load_inputs(sample_data.ACCOUNTS, sample_data.REPS)
    plan = score_plan_file(inputs, sample_run, AlignParams())
    written = pd.read_csv(sample_run / "rep_summary.csv", dtype={"rep_id": str})
    rescored = plan.rep_summary()
    for column in REP_COLUMNS[1:]:
        np.testing.assert_allclose(
            rescored[column].to_numpy(float),
            written[column].to_numpy(float),
            rtol=1e-9,
            err_msg=column,
        )
    record = json.loads((sample_run / "run.json").read_text())
    metrics = plan.metrics()
    for key, value in record["metrics"].items():
        if isinstance(value, float):
            assert metrics[key] == pytest.approx(value, rel=1e-9), key
        else:
            assert metrics[key] == value, key
    assert plan.objective == pytest.approx(record["objective"], rel=1e-9)
    assignments = pd.read_csv(sample_run / "assignments.csv", dtype=str, keep_default_na=False)
    moved = (
        (assignments["previous_rep"] != "")
        & (assignments["previous_rep"].isin(inputs.reps["rep_id"]))
        & (assignments["previous_rep"] != assignments["rep_id"])
    )
    assert (assignments["moved"] == "True").to_numpy().tolist() == moved.tolist()


def test_summary_of_the_current_alignment_shows_the_imbalance():
    code, output = run_cli(
        ["summary", "-a", str(sample_data.ACCOUNTS), "-r", str(sample_data.REPS)]
    )
    assert code == 0
    assert "current alignment" in output
    inputs = load_inputs(sample_data.ACCOUNTS, sample_data.REPS)
    from territory.align import score_current

    metrics = score_current(inputs).metrics()
    assert metrics["potential_index_min"] < 60 and metrics["potential_index_max"] > 150
    assert metrics["balanced"] is False


def test_same_inputs_give_identical_files(tmp_path):
    outs = []
    for name in ("one", "two"):
        out = tmp_path / name
        code, output = run_cli(
            align_args(sample_data.ACCOUNTS, sample_data.REPS, out, "-q", "--seed", "7")
        )
        assert code == 0, output
        outs.append(out)
    for file in ("assignments.csv", "rep_summary.csv", "map.html"):
        assert (outs[0] / file).read_bytes() == (outs[1] / file).read_bytes(), file
    records = [json.loads((o / "run.json").read_text()) for o in outs]
    for record in records:
        record.pop("timings_s")
    assert records[0] == records[1]


def _tiny_files(tmp_path: Path, big: float = 10) -> tuple[Path, Path]:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(
        "account_id,lat,lon,potential,name,current_rep\n"
        f'a1,0,0.1,{big},=HYPERLINK("http://x"),r1\n'
        "a2,0,0.2,10,Plain,r1\n"
        "a3,0,0.3,10,<b>bold</b>,r2\n"
        "a4,0,0.4,10,-minus,\n"
    )
    reps = tmp_path / "reps.csv"
    reps.write_text("rep_id,lat,lon\nr1,0,0\nr2,0,0.5\n")
    return accounts, reps


def test_spreadsheet_formulas_are_neutralised(tmp_path):
    accounts, reps = _tiny_files(tmp_path)
    code, output = run_cli(align_args(accounts, reps, tmp_path / "run", "-q", "--no-map"))
    assert code == 0, output
    text = (tmp_path / "run" / "assignments.csv").read_text()
    assert "'=HYPERLINK" in text and "'-minus" in text
    assert "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text


def test_infeasible_run_exits_3_and_still_explains(tmp_path):
    accounts, reps = _tiny_files(tmp_path, big=100)
    code, output = run_cli(align_args(accounts, reps, tmp_path / "run", "-q", "--no-map"))
    assert code == 3
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["status"] == "infeasible"
    assert record["infeasibility"]["reason"]
    outside = record["infeasibility"]["reps_outside_band"]
    assert outside and all(not 95 <= rep["potential_index"] <= 105 for rep in outside)
    assert record["prechecks"]
    assert (tmp_path / "run" / "assignments.csv").exists()


def test_a_failed_run_leaves_the_previous_run_untouched(tmp_path, monkeypatch):
    accounts, reps = _tiny_files(tmp_path)
    out = tmp_path / "run"
    code, _ = run_cli(align_args(accounts, reps, out, "-q"))
    assert code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    import maps

    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(maps, "write_map", broken)
    result = CliRunner().invoke(
        cli,
        align_args(accounts, reps, out, "-q", "--tolerance", "0.2"),
    )
    assert result.exit_code != 0  # interrupted while writing the map
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".run")] == []


def test_cli_runs_as_a_real_process(tmp_path):
    accounts, reps = _tiny_files(tmp_path)
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "territory", *align_args(accounts, reps, out, "--no-map")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "status" in result.stdout
    assert "load" in result.stderr  # progress goes to stderr
    assert "Running HiGHS" not in result.stdout
    assert (out / "run.json").exists()


def test_solvers_lists_highs():
    code, output = run_cli(["solvers"])
    assert code == 0 and "HiGHS" in output


def test_ctrl_c_during_align_leaves_the_previous_run_byte_identical(tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    first = subprocess.run(
        [
            sys.executable,
            "-m",
            "territory",
            *align_args(
                sample_data.ACCOUNTS, sample_data.REPS, out, "-q", "--no-map", "--mip", "never"
            ),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "territory",
            *align_args(
                sample_data.ACCOUNTS,
                sample_data.REPS,
                out,
                "--tolerance",
                "0.02",
                "--mip",
                "always",
            ),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a test runner started in the background (``cmd &``) passes SIGINT on as ignored, and
        # Python then installs no KeyboardInterrupt handler: give the child a user's terminal
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(1.5)
    deadline = time.time() + 60
    while time.time() < deadline and process.poll() is None:
        process.send_signal(signal.SIGINT)  # again if the solver had not returned to Python
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            continue
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name != "run"] == []


def test_demo_writes_the_run_the_map_and_the_district_packs_identically_twice(tmp_path):
    trees = []
    for name in ("one", "two"):
        out = tmp_path / name
        code, output = run_cli(["demo", "-o", str(out), "-q"])
        assert code == 0, output
        assert "today's alignment" in output
        trees.append(out)
    out = trees[0]
    for name in ("assignments.csv", "rep_summary.csv", "run.json", "map.html"):
        assert (out / name).exists(), name
    index = (out / "districts" / "index.html").read_text()
    districts = pd.read_csv(sample_data.REPS)["district"].unique()
    assert len(list((out / "districts").glob("*.html"))) == len(districts) + 1
    for district in districts:
        assert district in index
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(trees[1]) for p in trees[1].rglob("*") if p.is_file())
    for relative in files:
        first, second = (tree / relative for tree in trees)
        if relative.name == "run.json":
            records = [json.loads(path.read_text()) for path in (first, second)]
            for record in records:
                record.pop("timings_s")
            assert records[0] == records[1]
        else:
            assert first.read_bytes() == second.read_bytes(), relative


def test_write_model_leaves_the_lp_for_a_bug_report(tmp_path):
    accounts, reps = _tiny_files(tmp_path)
    model = tmp_path / "model.mps"
    code, output = run_cli(
        align_args(accounts, reps, tmp_path / "run", "-q", "--no-map", "--write-model", str(model))
    )
    assert code == 0, output
    text = model.read_text()
    assert "ROWS" in text and "COLUMNS" in text and "RHS" in text

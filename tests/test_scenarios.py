"""Scenario files: parsing, inheritance, relative paths, errors naming file and key, and
``territory run`` writing a run that records its resolved scenario."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

import sample_data
from territory.errors import InputError
from territory.scenarios import load_scenario, run_scenario
from tests.scenario_support import world_with_base, write_scenario, write_world
from tests.test_cli_errors import run_cli


def test_inheritance_merges_keys_and_resolves_paths_relative_to_each_file(tmp_path):
    base = world_with_base(tmp_path)
    child = write_scenario(
        tmp_path / "what_ifs",
        'base = "../base.toml"\n'
        'description = "tighter"\n'
        "[parameters]\ntolerance = 0.1\nmax-moved = 0.2\n"
        '[columns.accounts]\nname = "segment"\n'
        '[[edits]]\ntype = "remove_reps"\nreps = ["E"]\n',
        "child.toml",
    )
    grandchild = write_scenario(
        tmp_path / "what_ifs",
        'base = "child.toml"\n[parameters]\nmax_moved = "none"\n'
        '[[edits]]\ntype = "vacate_reps"\nreps = "C"\n',
        "grandchild.toml",
    )
    s = load_scenario(grandchild)
    assert s.accounts == (tmp_path / "data" / "accounts.csv").resolve()
    assert s.reps == (tmp_path / "data" / "reps.csv").resolve()
    assert s.params.tolerance == 0.1 and s.params.max_moved is None
    assert s.params.workload_tolerance is None  # "none" in the base
    assert s.columns.accounts == {"name": "segment"}
    assert [e.type for e in s.edits] == ["remove_reps", "vacate_reps"]
    assert [e.source.name for e in s.edits] == ["child.toml", "grandchild.toml"]
    # name, description and out are the file's own
    assert s.name == "grandchild" and s.description == ""
    assert s.default_out() == (tmp_path / "what_ifs" / "grandchild").resolve()
    assert s.files == (base.resolve(), child.resolve(), grandchild.resolve())
    assert load_scenario(base).default_out() == (tmp_path / "base").resolve()


def test_out_resolves_relative_to_the_scenario(tmp_path):
    world_with_base(tmp_path)
    s = write_scenario(tmp_path / "sub", 'base = "../base.toml"\nout = "../runs/x"\n', "s.toml")
    assert load_scenario(s).default_out() == (tmp_path / "runs" / "x").resolve()


def test_a_cycle_of_bases_is_an_error_naming_the_files(tmp_path):
    write_scenario(tmp_path, 'base = "b.toml"\n', "a.toml")
    write_scenario(tmp_path, 'base = "a.toml"\n', "b.toml")
    with pytest.raises(InputError, match=r"cycle \(a.toml -> b.toml -> a.toml\)"):
        load_scenario(tmp_path / "a.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 1\n", "unknown key 'colour' at the top level"),
        ("[parameters]\ntolerence = 0.1\n", "unknown key 'tolerence' in [parameters]"),
        ('[parameters]\ntolerance = "tight"\n', "parameters.tolerance must be a number"),
        ("[parameters]\ntolerance = 2\n", "parameters.tolerance: --tolerance must be in [0, 1)"),
        ('[parameters]\ndistance = "manhattan"\n', "parameters.distance must be one of"),
        ("[parameters]\nmax_moved = 0.1\nmax-moved = 0.2\n", "set the same value"),
        ('[inputs]\naccount = "x.csv"\n', "unknown key 'account' in [inputs]"),
        ('[columns.accounts]\npotentail = "Sales"\n', "unknown key 'potentail'"),
        ('[[edits]]\ntype = "hire"\n', "edit 1: key 'type' must be one of"),
        ('[[edits]]\ntype = "add_rep"\nrep_id = "N"\nlat = 0\n', "key 'lon' is required"),
        ('[[edits]]\ntype = "remove_reps"\nreps = ["W"]\ncolour = 1\n', "unknown key 'colour'"),
        ('[[edits]]\ntype = "add_rep"\nrep_id = "N"\nlat = 95\nlon = 0\n', "latitude"),
        ('[[edits]]\ntype = "lock"\naccounts = ["a01"]\n', "give at least one of: rep"),
        ("[parameters\n", "is not valid TOML"),
    ],
)
def test_bad_scenario_files_exit_2_naming_file_and_key(tmp_path, text, message):
    world_with_base(tmp_path)
    path = write_scenario(tmp_path, 'base = "base.toml"\n' + text, "bad_one.toml")
    code, output = run_cli(["run", str(path), "--no-map", "-q"])
    assert code == 2, output
    assert "bad_one.toml" in output and message in output, output
    assert "Traceback" not in output
    assert not (tmp_path / "bad_one").exists()


def test_a_scenario_without_inputs_is_an_error(tmp_path):
    path = write_scenario(tmp_path, "[parameters]\ntolerance = 0.1\n", "empty.toml")
    code, output = run_cli(["run", str(path)])
    assert code == 2 and "empty.toml" in output and "no accounts file" in output


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ('type = "remove_reps"\nreps = ["X"]', "edit 1: remove_reps: rep(s) X not on the roster"),
        ('type = "remove_reps"\nreps = ["W"]', "locked to a rep being removed"),
        ('type = "scale"\nwhere = {segment = "Hosp"}\npotential = 2', "matches no account"),
        ('type = "scale"\nwhere = {colour = "x"}\npotential = 2', "no text column 'colour'"),
        ('type = "lock"\naccounts = ["zz"]\nrep = "W"', "account(s) zz not in the accounts file"),
        ('type = "add_rep"\nrep_id = "W"\nlat = 0\nlon = 1', "already on the roster"),
        (
            'type = "forbid"\naccounts = ["a00"]\nreps = ["W"]',
            "locked to a rep they would be forbidden",
        ),
    ],
)
def test_edits_naming_what_is_not_there_exit_2_naming_file_and_edit(tmp_path, edit, message):
    world_with_base(tmp_path)
    path = write_scenario(tmp_path, f'base = "base.toml"\n[[edits]]\n{edit}\n', "what_if.toml")
    code, output = run_cli(["run", str(path), "--no-map", "-q"])
    assert code == 2, output
    assert "what_if.toml, edit 1" in output and message in output, output
    assert not (tmp_path / "what_if").exists()


def test_run_writes_the_run_and_records_the_resolved_scenario(tmp_path):
    world_with_base(tmp_path)
    path = write_scenario(
        tmp_path,
        'base = "base.toml"\n'
        '[[edits]]\ntype = "add_rep"\nrep_id = "N"\nlat = 0\nlon = 3\nname = "New"\n',
        "hire.toml",
    )
    code, output = run_cli(["run", str(path), "--no-map", "-q"])
    assert code == 0, output
    run = tmp_path / "hire"  # named after the scenario, beside it
    record = json.loads((run / "run.json").read_text())
    assert record["command"] == "run"
    assert record["scenario"]["name"] == "hire"
    assert [Path(f["path"]).name for f in record["scenario"]["files"]] == [
        "base.toml",
        "hire.toml",
    ]
    assert record["scenario"]["edits"][0]["rep_id"] == "N"
    assert record["scenario"]["effects"] == ["edit 1 of hire.toml: added rep N"]
    summary = pd.read_csv(run / "rep_summary.csv", keep_default_na=False)
    assert list(summary["rep_id"]) == ["W", "C", "E", "N"]
    assert summary.loc[3, "accounts"] > 0 and summary.loc[3, "name"] == "New"
    # the recorded scenario runs as it is and gives the same plan
    again = tmp_path / "again"
    code, output = run_cli(["run", str(run / "scenario.toml"), "-o", str(again), "--no-map"])
    assert code == 0, output
    assert (again / "assignments.csv").read_bytes() == (run / "assignments.csv").read_bytes()
    assert load_scenario(run / "scenario.toml").params == load_scenario(path).params


def test_the_same_scenario_gives_identical_files(tmp_path):
    base = world_with_base(tmp_path)
    for name in ("one", "two"):
        code, output = run_cli(["run", str(base), "-o", str(tmp_path / name), "-q"])
        assert code == 0, output
    for file in ("assignments.csv", "rep_summary.csv", "scenario.toml", "map.html"):
        assert (tmp_path / "one" / file).read_bytes() == (tmp_path / "two" / file).read_bytes()
    records = [json.loads((tmp_path / n / "run.json").read_text()) for n in ("one", "two")]
    for record in records:
        record.pop("timings_s")
    assert records[0] == records[1]


def test_an_infeasible_scenario_exits_3_and_explains(tmp_path):
    world_with_base(tmp_path)
    path = write_scenario(
        tmp_path,
        'base = "base.toml"\n[parameters]\ntolerance = 0.01\n'
        '[[edits]]\ntype = "forbid"\nwhere = {segment = "Hospital"}\nreps = ["E", "C"]\n'
        '[[edits]]\ntype = "scale"\nwhere = {segment = "Hospital"}\npotential = 5\n',
        "strained.toml",
    )
    code, output = run_cli(["run", str(path), "--no-map", "-q"])
    assert code == 3, output
    record = json.loads((tmp_path / "strained" / "run.json").read_text())
    assert record["status"] == "infeasible" and record["infeasibility"]["reason"]


def test_travel_times_in_a_scenario_are_read_relative_to_it(tmp_path):
    world_with_base(tmp_path)
    rows = ["rep_id,account_id,minutes"]
    for i in range(12):
        for rep, lon in (("W", 0.0), ("C", 1.0), ("E", 2.0)):
            if not (rep == "E" and i < 6):  # E cannot reach the western half
                rows.append(f"{rep},a{i:02d},{abs(0.2 * i - lon) * 60:.1f}")
    (tmp_path / "data" / "minutes.csv").write_text("\n".join(rows) + "\n")
    path = write_scenario(
        tmp_path / "sub",
        'base = "../base.toml"\n[inputs]\ntravel_times = "../data/minutes.csv"\n',
        "timed.toml",
    )
    code, output = run_cli(["run", str(path), "--no-map", "-q"])
    assert code == 0, output
    record = json.loads((tmp_path / "sub" / "timed" / "run.json").read_text())
    assert record["inputs"]["travel_times"]["rows"] == len(rows) - 1
    assert record["objective_unit"].endswith("minutes")


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory):
    """Every sample scenario, run from its file with a short time limit and no map."""
    out = tmp_path_factory.mktemp("sample_scenarios")
    plans = {}
    for name in ("baseline", "rep_leaves", "two_hires", "tight_tolerance", "capped_disruption"):
        scenario = load_scenario(sample_data.SCENARIOS / f"{name}.toml")
        fast = replace(scenario, params=replace(scenario.params, time_limit=60))
        plans[name] = (run_scenario(fast, out / name, draw_map=False), out / name)
    return plans


def test_the_sample_scenario_set_runs(sample_runs):
    for name, (plan, run) in sample_runs.items():
        assert plan.status in ("optimal", "feasible"), name
        record = json.loads((run / "run.json").read_text())
        assert record["scenario"]["name"] == name
        assert (run / "scenario.toml").is_file()
    baseline = sample_runs["baseline"][0]
    leaves, run = sample_runs["rep_leaves"]
    assert "R020" not in set(leaves.inputs.reps["rep_id"])
    table = pd.read_csv(run / "assignments.csv", keep_default_na=False)
    left = table[table["previous_rep"] == "R020"]
    assert len(left) > 0 and (left["change"] == "inherited").all() and not left["moved"].any()
    hires = sample_runs["two_hires"][0].rep_summary().set_index("rep_id")
    assert hires.loc[["H01", "H02"], "accounts"].min() > 0
    tight = sample_runs["tight_tolerance"][0].metrics()
    assert 98 - 1e-6 <= tight["potential_index_min"] <= tight["potential_index_max"] <= 102 + 1e-6
    capped = sample_runs["capped_disruption"][0].metrics()
    assert capped["moved_potential_share"] <= 0.10 + 1e-9
    assert capped["moved_potential_share"] < baseline.metrics()["moved_potential_share"]


def test_every_sample_scenario_builds_on_the_baseline():
    for path in sorted(sample_data.SCENARIOS.glob("*.toml")):
        scenario = load_scenario(path)
        assert scenario.accounts == sample_data.ACCOUNTS.resolve()
        assert scenario.files[0].name == "baseline.toml"


def test_world_helper_is_valid(tmp_path):
    from territory.inputs import load_inputs

    accounts, reps = write_world(tmp_path)
    inputs = load_inputs(accounts, reps)
    assert inputs.n_accounts == 12 and inputs.n_reps == 3 and inputs.locked[0] == 0

"""Each scenario edit, checked by plain metric functions on the plans made after it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from territory.align import align
from territory.costs import PairCosts
from territory.edits import Edit, apply_edits, check_edit
from territory.errors import InputError
from territory.inputs import AlignmentInputs, load_inputs
from territory.metrics import inherited, moved, rep_totals
from territory.params import AlignParams
from territory.runs import verify_claims
from tests.conftest import brute_force, make_inputs
from tests.scenario_support import write_world

PARAMS = AlignParams(tolerance=0.3, workload_tolerance=None)


def edit(kind: str, number: int = 1, **values: object) -> Edit:
    made = Edit(kind, dict(values), Path("what_if.toml"), number)
    check_edit(made)
    return made


@pytest.fixture
def world(tmp_path) -> AlignmentInputs:
    return load_inputs(*write_world(tmp_path))


def reps_of(inputs: AlignmentInputs) -> list[str]:
    return list(inputs.reps["rep_id"])


def test_removed_rep_keeps_none_of_its_accounts_and_they_are_not_moves(world):
    edited, effects = apply_edits(
        world, [edit("unlock", accounts=["a00"]), edit("remove_reps", 2, reps=["C"])]
    )
    assert reps_of(edited) == ["W", "E"]
    was_c = (world.accounts["current_rep"] == "C").to_numpy()
    assert edited.departed[was_c].all() and (edited.current[was_c] == -1).all()
    assert any("reps not on the roster (C)" in w for w in edited.warnings)
    assert effects[1].startswith("edit 2 of what_if.toml: removed C: 5 accounts")
    plan = align(edited, PARAMS)
    assert plan.status == "optimal" and not verify_claims(plan)
    assert (plan.assignment[was_c] >= 0).all()  # redistributed
    assert inherited(plan.assignment, edited.current)[was_c].all()
    assert not moved(plan.assignment, edited.current)[was_c].any()
    assert plan.assignments()["previous_rep"][was_c].eq("C").all()
    assert world.n_reps == 3  # the original inputs are untouched


def test_vacated_rep_stays_but_its_accounts_have_no_incumbent(world):
    edited, _ = apply_edits(world, [edit("vacate_reps", reps_where={"region": "East"})])
    assert reps_of(edited) == ["W", "C", "E"]
    was_e = (world.accounts["current_rep"] == "E").to_numpy()
    assert (edited.current[was_e] == -1).all() and not edited.departed.any()
    capped = align(edited, AlignParams(tolerance=0.3, workload_tolerance=None, max_moved=0.0))
    assert capped.status == "optimal"
    a = capped.assignment
    assert not moved(a, edited.current).any()  # nobody else moves under a zero cap
    assert (a[~was_e] == world.current[~was_e]).all()
    assert rep_totals(a, edited.potential, 3)[2] > 0  # the vacancy is filled


def test_added_rep_gets_accounts_near_its_home(world):
    edited, _ = apply_edits(
        world,
        [edit("add_rep", rep_id="N", lat=0, lon=2.2, fte=0.5, capacity=40, region="East")],
    )
    assert reps_of(edited) == ["W", "C", "E", "N"]
    new = edited.reps.iloc[3]
    assert (new["fte"], new["capacity"], new["region"], new["name"]) == (0.5, 40, "East", "")
    plan = align(edited, PARAMS)
    assert plan.status == "optimal"
    theirs = plan.assignment == 3
    assert theirs.any()
    lon = edited.accounts["lon"].to_numpy()
    assert lon[theirs].min() >= 1.6  # the east end, not across the map
    assert rep_totals(plan.assignment, edited.workload, 4)[3] <= 40


def test_set_rep_changes_fte_and_capacity(world):
    edited, effects = apply_edits(
        world,
        [
            edit("set_rep", reps=["W"], fte=0.5, capacity="none"),
            edit("set_rep", 2, reps=["E"], capacity=3),
        ],
    )
    reps = edited.reps.set_index("rep_id")
    assert reps.loc["W", "fte"] == 0.5 and np.isinf(reps.loc["W", "capacity"])
    assert reps.loc["E", "capacity"] == 3
    plan = align(edited, AlignParams(tolerance=0.5, workload_tolerance=None))
    assert plan.status == "optimal" and not verify_claims(plan)
    assert rep_totals(plan.assignment, edited.workload, 3)[2] <= 3
    target = plan.rep_summary()["potential_target"].to_numpy()
    assert target[0] == pytest.approx(target[1] / 2)  # half the FTE, half the target
    assert "fte = 0.5" in effects[0]


def test_scale_multiplies_the_selected_potential_only(world):
    hospital = (world.accounts["segment"] == "Hospital").to_numpy()
    edited, _ = apply_edits(
        world,
        [
            edit("scale", where={"segment": "Hospital"}, potential=1.5, workload=2),
            edit("scale", 2, current_rep_where={"region": "East"}, potential=0.5),
        ],
    )
    east = (world.accounts["current_rep"] == "E").to_numpy()
    factor = np.where(hospital, 1.5, 1.0) * np.where(east, 0.5, 1.0)
    assert np.allclose(edited.potential, world.potential * factor)
    assert np.allclose(edited.workload, world.workload * np.where(hospital, 2, 1))
    total = world.potential.sum() + 0.5 * world.potential[hospital].sum()
    total -= 0.5 * (world.potential * np.where(hospital, 1.5, 1.0))[east].sum()
    assert edited.potential.sum() == pytest.approx(total)


def test_lock_and_unlock(world):
    edited, _ = apply_edits(
        world,
        [
            edit("unlock", where={"locked_rep": "W"}),
            edit("lock", 2, accounts=["a11", "a10"], rep="W"),
            edit("lock", 3, where={"segment": "Hospital"}, keep_current=True),
        ],
    )
    locked = dict(zip(edited.accounts["account_id"], edited.accounts["locked_rep"], strict=True))
    assert locked["a11"] == "W" and locked["a10"] == "W"
    assert locked["a00"] == "W"  # unlocked, then locked again as a hospital with current W
    assert locked["a03"] == "C" and locked["a09"] == "E" and locked["a01"] == ""
    plan = align(edited, AlignParams(tolerance=0.6, workload_tolerance=None))
    on = edited.locked >= 0
    assert plan.status == "optimal" and (plan.assignment[on] == edited.locked[on]).all()


def test_lock_to_current_needs_a_current_rep(world):
    with pytest.raises(InputError, match="no current rep on the roster"):
        apply_edits(
            world,
            [edit("vacate_reps", reps="E"), edit("lock", 2, accounts=["a11"], keep_current=True)],
        )


def test_forbidden_pairs_never_appear_and_the_optimum_matches_brute_force(tiny_inputs):
    params = AlignParams(tolerance=0.05)
    edited, _ = apply_edits(tiny_inputs, [edit("forbid", accounts=["a1", "a3"], reps=["west"])])
    best, _ = brute_force(edited, params)
    plan = align(edited, params)
    assert plan.status == "optimal"
    assert plan.assignment[0] == 1 and plan.assignment[2] == 1  # both east
    assert plan.objective == pytest.approx(best, rel=1e-6)
    assert not verify_claims(plan)


def test_forbidding_every_rep_leaves_the_account_uncovered(tiny_inputs):
    edited, _ = apply_edits(tiny_inputs, [edit("forbid", accounts=["a6"], reps=["west", "east"])])
    assert not PairCosts(edited, AlignParams()).reachable()[5]
    plan = align(edited, AlignParams(tolerance=0.1))
    assert plan.assignment[5] == -1 and (plan.assignment[:5] >= 0).all()
    assert plan.metrics()["uncovered_accounts"] == 1


def test_verify_claims_catches_a_forbidden_pair(tiny_inputs):
    edited, _ = apply_edits(tiny_inputs, [edit("forbid", accounts=["a2"], reps=["west"])])
    plan = align(edited, AlignParams(tolerance=0.05))
    plan.assignment = plan.assignment.copy()
    plan.assignment[1] = 0
    assert "an account is with a rep it is forbidden to have" in verify_claims(plan)


def test_locking_to_a_forbidden_rep_is_an_error(tiny_inputs):
    with pytest.raises(InputError, match=r"what_if.toml, edit 2: lock: .*forbidden rep"):
        apply_edits(
            tiny_inputs,
            [
                edit("forbid", accounts=["a2"], reps=["west"]),
                edit("lock", 2, accounts=["a2"], rep="west"),
            ],
        )


def test_removing_a_rep_drops_its_forbidden_pairs(tiny_inputs):
    edited, _ = apply_edits(
        tiny_inputs,
        [
            edit("forbid", accounts=["a1"], reps=["west", "east"]),
            edit("add_rep", 2, rep_id="mid", lat=0, lon=0.45),
            edit("remove_reps", 3, reps=["east"]),
        ],
    )
    assert list(edited.forbidden["rep_id"]) == ["west"]
    assert reps_of(edited) == ["west", "mid"]


@settings(max_examples=15, deadline=None)
@given(
    pairs=st.sets(st.tuples(st.integers(0, 4), st.integers(0, 2)), max_size=6),
    potential=st.lists(st.integers(1, 9), min_size=5, max_size=5),
)
def test_forbidden_pairs_are_honoured_and_optimal_on_random_instances(pairs, potential):
    accounts = [
        {"account_id": f"a{i}", "lat": 0.0, "lon": 0.1 * i, "potential": p}
        for i, p in enumerate(potential)
    ]
    reps = [{"rep_id": f"r{k}", "lat": 0.0, "lon": 0.2 * k} for k in range(3)]
    inputs = make_inputs(accounts, reps)
    forbids = [edit("forbid", n + 1, accounts=[f"a{a}"], reps=[f"r{r}"]) for n, (a, r) in
               enumerate(sorted(pairs))]  # fmt: skip
    edited, _ = apply_edits(inputs, forbids)
    params = AlignParams(tolerance=0.6, workload_tolerance=None, mip="always")
    plan = align(edited, params)
    a = plan.assignment
    for acc, rep in pairs:
        assert a[acc] != rep
    best, _ = brute_force(edited, params)
    if np.isfinite(best):
        assert plan.status == "optimal"
        assert plan.objective == pytest.approx(best, rel=1e-6, abs=1e-9)
    else:
        assert plan.status != "optimal"

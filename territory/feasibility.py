"""Obvious impossibilities, found before any solve and said in words."""

from __future__ import annotations

import numpy as np

from solvers.formulation import BalancedAssignment
from territory.inputs import AlignmentInputs


def precheck(model: BalancedAssignment, inputs: AlignmentInputs) -> list[str]:
    """Reasons no plan can meet the bands, capacities and locks (empty when none is obvious)."""
    reasons: list[str] = []
    reps = inputs.reps["rep_id"].to_numpy(dtype=object)
    accounts = inputs.accounts["account_id"].to_numpy(dtype=object)
    t = model.tolerance
    upper = (1 + t) * model.pot_target
    lower = (1 - t) * model.pot_target
    active = model.active
    n_active = int(active.sum())
    if n_active < model.n_reps and np.any(lower > 0):
        reasons.append(
            f"{model.n_reps} reps but only {n_active} accounts can be assigned: some reps would "
            "get no potential at all. Remove reps or widen --tolerance."
        )
    too_big = active & (model.potential > upper.max())
    if too_big.any():
        ids = ", ".join(str(a) for a in accounts[too_big][:5])
        reasons.append(
            f"{int(too_big.sum())} account(s) ({ids}) have more potential alone than any rep's "
            f"upper band ({upper.max():,.0f}); widen --tolerance or split the account."
        )
    locked = inputs.locked
    on = locked >= 0
    locked_pot = np.bincount(locked[on], weights=model.potential[on], minlength=model.n_reps)
    for r in np.flatnonzero(locked_pot > upper + 1e-9):
        reasons.append(
            f"rep {reps[r]} has {locked_pot[r]:,.0f} of locked potential, above its upper band "
            f"{upper[r]:,.0f}; unlock some of its accounts or widen --tolerance."
        )
    locked_work = np.bincount(locked[on], weights=model.workload[on], minlength=model.n_reps)
    for r in np.flatnonzero(locked_work > model.capacity + 1e-9):
        reasons.append(
            f"rep {reps[r]} has {locked_work[r]:,.1f} of locked workload, above its capacity "
            f"{model.capacity[r]:,.1f}."
        )
    total_work = float(model.workload[active].sum())
    total_cap = float(model.capacity.sum())
    if np.isfinite(total_cap) and total_work > total_cap + 1e-9:
        reasons.append(
            f"total workload {total_work:,.1f} exceeds total capacity {total_cap:,.1f}: "
            "add reps or capacity."
        )
    return reasons

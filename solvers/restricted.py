r"""The LP over the accounts the prices leave undecided; it converges to the full model's LP.

With the accounts split into fixed ones :math:`\Phi` (each on its rep :math:`\phi_a`) and free
ones :math:`F`, the restricted LP is the model over :math:`F` with the fixed loads taken off the
coupling rows' right-hand sides (``BalancedAssignment.committed``):

.. math:: \min \sum_{a \in F} \sum_r c_{ar} x_{ar} \;\; \text{s.t.} \;\;
          \textstyle\sum_r x_{ar} = 1 \; (a \in F), \quad
          \sum_{a \in F, r} g_{i,ar} x_{ar} \;\lessgtr\; h_i - \sum_{a \in \Phi} g_{i,a\phi_a}.

It is solved by column generation over every pair of the free accounts, with elastic coupling
rows (``HighsLP(elastic=...)``), so it has a solution whatever the fixing. Its row duals
:math:`y` are sign-feasible for the full model; giving each fixed account the dual
:math:`u_a = \bar c_{a\phi_a}(y)` completes a full dual solution, and pricing every pair of
every account against it gives the Lagrangian bound of the full model and, for each fixed
account, the pairs that undercut its rep: those accounts are freed and the restricted LP
re-solved. When no fixed account is undercut, the restricted LP's primal (plus the fixed pairs)
and this dual satisfy complementary slackness for the full model, so the restricted LP's value
plus the fixed cost is the full model's (elastic) LP value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from solvers.backends import OPTIMAL, TIME_LIMIT
from solvers.fixing import Reduced
from solvers.formulation import BalancedAssignment, Committed
from solvers.pricing import Duals, price

if TYPE_CHECKING:
    from solvers.solve import Clock, LPResult

MAX_UNFIX_ROUNDS = 20
REROUND_ROUNDS = 6
SHIFT_MARGIN = 1e-4  # of the target, on top of the violation


def committed_loads(model: BalancedAssignment, fixed: np.ndarray, reps: np.ndarray) -> Committed:
    """Rep loads and moved potential of the accounts ``fixed`` on ``reps``."""
    k = model.n_reps
    p = model.potential[fixed]
    return Committed(
        np.bincount(reps, weights=p, minlength=k),
        np.bincount(reps, weights=model.workload[fixed], minlength=k),
        float(p[model.is_move(fixed, reps)].sum()),
    )


def restricted_lp(
    model: BalancedAssignment,
    solver: str,
    reduced: Reduced,
    clock: Clock,
    progress: Callable[[str, str], None],
    shift: Committed | None = None,
) -> tuple[LPResult, np.ndarray]:
    """Column generation on the restricted LP, freeing fixed accounts until none is undercut.

    ``shift``: extra loads taken off the right-hand sides (bands moved, see :func:`reround`).
    Returns the LP (over the full model's pairs) and the fixed rep of each account at the end.
    """
    from solvers.solve import LPResult, column_generation

    k = model.n_reps
    fixed_rep = np.where(model.active, reduced.fixed_rep, -1)
    keys = reduced.all_a * k + reduced.all_r  # sorted
    bound = reduced.bound
    rounds = 0
    last: LPResult | None = None
    for unfix_round in range(1, MAX_UNFIX_ROUNDS + 1):
        fixed = np.flatnonzero(fixed_rep >= 0)
        reps = fixed_rep[fixed]
        committed = committed_loads(model, fixed, reps)
        if shift is not None:
            committed = Committed(
                committed.potential + shift.potential,
                committed.workload + shift.workload,
                committed.moved + shift.moved,
            )
        free = model.active & (fixed_rep < 0)
        sub = replace(model, active=free, committed=committed)
        all_a, all_r = keys // k, keys % k
        pick = free[all_a]
        lp = column_generation(
            sub,
            solver,
            all_a[pick],
            all_r[pick],
            "cost",
            clock,
            progress,
            elastic=reduced.elastic_price,
        )
        rounds += lp.rounds
        if lp.duals is None:
            if last is not None:
                last.status = lp.status
                return last, fixed_rep
            lp.bound = bound
            return lp, fixed_rep
        d = lp.duals
        fixed_cost = model.costs.cost(fixed, reps)
        p = model.potential[fixed]
        fixed_rc = (
            fixed_cost
            - p * d.potential[reps]
            - model.workload[fixed] * d.workload[reps]
            - d.moved * p * model.is_move(fixed, reps)
        )
        assign = d.assign.copy()
        assign[fixed] = fixed_rc
        rhs = (
            d.rhs_term
            + float(d.potential @ committed.potential)
            + float(d.workload @ committed.workload)
            + d.moved * committed.moved
        )
        duals = Duals(assign, d.potential, d.workload, d.moved, rhs)
        lp_keys = np.concatenate([fixed * k + reps, lp.pair_a * k + lp.pair_r])
        order = np.argsort(lp_keys, kind="stable")
        lp_keys = lp_keys[order]
        values = np.concatenate([np.ones(len(fixed)), lp.x])[order]
        # priced against the pairs the LP had, so that a fixed account's other candidates
        # count as missing too
        priced = price(model, duals, "cost", lp_keys)
        # every candidate, with the LP's values (0 off its support): repair and the
        # neighbourhood MILP may move accounts anywhere the prices allow
        pair_keys = np.union1d(keys, lp_keys)
        x = np.zeros(len(pair_keys))
        x[np.searchsorted(pair_keys, lp_keys)] = values
        bound = max(bound, priced.bound)
        undercut = np.unique(priced.new_a[fixed_rep[priced.new_a] >= 0])
        objective = (lp.objective or 0.0) + float(fixed_cost.sum())
        slack = float(sum(lp.slack.values()))
        converged = lp.converged and len(undercut) == 0
        if converged:
            bound = max(bound, objective)  # the (elastic) full LP's value
        progress(
            "restrict",
            f"round {unfix_round}: LP {objective:,.6g} over {int(free.sum()):,} free accounts, "
            f"bound {bound:,.6g}, {len(undercut):,} fixed accounts undercut"
            + (f", slack {slack:.3g}" if slack > 0 else ""),
        )
        last = LPResult(
            lp.status,
            objective,
            bound,
            pair_keys // k,
            pair_keys % k,
            x,
            duals,
            rounds,
            converged,
            lp.slack,
            None,
            "cost",
        )
        if converged or lp.status != OPTIMAL:
            return last, fixed_rep
        if clock.left() <= 0:
            last.status = TIME_LIMIT
            return last, fixed_rep
        fixed_rep[undercut] = -1
        keys = np.union1d(keys, priced.new_a * k + priced.new_r)
    assert last is not None
    return last, fixed_rep


def reround(
    model: BalancedAssignment,
    solver: str,
    reduced: Reduced,
    assignment: np.ndarray,
    clock: Clock,
    progress: Callable[[str, str], None],
    integral: Callable[[LPResult], np.ndarray],
) -> np.ndarray:
    """Move the bands a rounded plan breaks inward by the violation and round the LP again.

    Rounding the split accounts can leave a rep a hair outside its band where a whole region
    is short (single-account repair moves cannot fix that: every neighbour sits on its own
    band). Shifting that rep's band inward by the violation (plus ``SHIFT_MARGIN`` of its
    target, doubling on every try) in the restricted LP makes the LP give it the margin rounding
    takes away; the bound
    is still the unshifted LP's. Stops at the first plan meeting every band, or after
    ``REROUND_ROUNDS`` tries (the plan returned is then the last one).
    """
    from solvers.repair import Violation, loads_of

    k = model.n_reps
    shift = Committed(np.zeros(k), np.zeros(k), 0.0)
    viol = Violation(model)
    for attempt in range(1, REROUND_ROUNDS + 1):
        loads = loads_of(model, assignment)
        pot_need = np.where(
            loads.potential < viol.p_lo, viol.p_lo - loads.potential, 0.0
        ) - np.where(loads.potential > viol.p_hi, loads.potential - viol.p_hi, 0.0)
        pad = SHIFT_MARGIN * model.pot_target
        # a split account with most of its share on the rep rounds back the same way unless
        # the move outgrows its share: the step doubles on every try
        grow = 2.0 ** (attempt - 1)
        shift.potential[:] -= grow * np.sign(pot_need) * (np.abs(pot_need) + pad)
        if viol.w_lo is not None:
            work_need = np.where(
                loads.workload < viol.w_lo, viol.w_lo - loads.workload, 0.0
            ) - np.where(loads.workload > viol.w_hi, loads.workload - viol.w_hi, 0.0)
            pad_w = SHIFT_MARGIN * viol.w_scale
            shift.workload[:] -= grow * np.sign(work_need) * (np.abs(work_need) + pad_w)
        over_cap = np.where(np.isfinite(viol.cap), loads.workload - viol.cap, 0.0)
        shift.workload[:] += grow * np.where(over_cap > 0, over_cap + SHIFT_MARGIN * viol.cap, 0.0)
        if model.max_moved is not None and loads.moved > model.max_moved:
            shift = replace(
                shift,
                moved=shift.moved
                + grow * (loads.moved - model.max_moved + SHIFT_MARGIN * viol.m_scale),
            )
        broken = int((viol.rep(np.arange(k), loads.potential, loads.workload) > 1e-12).sum())
        progress("reround", f"try {attempt}: the bands of {broken} reps moved inward")
        lp, fixed_rep = restricted_lp(model, solver, reduced, clock, progress, shift)
        if lp.duals is None:
            break
        reduced = replace(reduced, fixed_rep=fixed_rep)
        assignment = integral(lp)
        if viol.total(loads_of(model, assignment)) <= 1e-9 or clock.left() <= 0:
            break
    return assignment

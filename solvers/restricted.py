r"""The LP started from the columns the prices leave: it converges to the full model's LP.

After fixing (``fixing.py``) a fixed account has one column, its rep :math:`\phi_a`, and a free
account all its candidates. Column generation on the *full* model from these columns
(``solve.column_generation`` on a live ``HighsLP`` with elastic coupling rows, so a fixing that
cannot meet the bands still solves) prices every pair of every account each round: a fixed
account that some pair undercuts simply gets that column, so nothing stays wrongly fixed, and
at convergence the LP value is the full model's. The fixed accounts are singleton rows with a
single column, which HiGHS's presolve removes before the cold solve; later rounds restart
from the basis.

Rounding the split accounts can leave a rep a hair outside its band where a whole region is
short (single-account repair moves cannot fix that: every neighbour sits on its own band).
:func:`reround` first gives the live LP the cheapest quarter of the other candidate pairs (by
reduced cost at the LP's duals, so its optimum is unchanged; :func:`cheap_alternatives`, the
pairs repair and swaps move accounts along too), then narrows every balance band by
``ROUNDING_MARGIN`` of its target on each side (at most a quarter of its tolerance) and moves
the bands the rounded plan breaks inward by the violation (plus ``SHIFT_MARGIN`` of the
target; the step grows by half on every try), re-solves from the basis and rounds and repairs
again. The narrowing leaves every rep a little room for the rounding of its split accounts and
the repair moves that follow: on the 100k × 500 benchmark it cut the tries from about 10 to
2-7 at the same final gap (repair and swaps take the plan back towards the true bands).
Pricing runs only once the shifted bands need the elastic slack: otherwise the shifted LP just
guides the rounding. The bound stays the unshifted LP's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from solvers.backends import OPTIMAL
from solvers.fixing import Reduced
from solvers.formulation import BalancedAssignment, Committed
from solvers.lp_backends import HighsLP
from solvers.pricing import Duals, reduced_cost
from solvers.repair import Loads, Violation, loads_of

if TYPE_CHECKING:
    from solvers.solve import Clock, LPResult

REROUND_ROUNDS = 16
REROUND_GROWTH = 1.5  # the inward shift grows by this factor on every try
SHIFT_MARGIN = 1e-4  # of the target, on top of the violation
ROUNDING_MARGIN = 1.5e-3  # every band narrowed by this share of its target while re-rounding,
# but never by more than a quarter of its tolerance (a ±0.1 % band keeps most of its width)
ALTERNATIVE_SHARE = 0.25  # of the candidate pairs, by reduced cost, given to the re-rounding LP
SLACK_USED = 1e-6  # elastic slack above this (row units) means the shifted bands are out of reach


def fixed_lp(
    model: BalancedAssignment,
    solver: str,
    reduced: Reduced,
    clock: Clock,
    progress: Callable[[str, str], None],
) -> tuple[LPResult, HighsLP]:
    """Column generation on the full model from the fixing's columns; the live LP returned
    too, for :func:`reround`."""
    from solvers.solve import column_generation

    backend = HighsLP(model, elastic=reduced.elastic_price)
    lp = column_generation(
        model,
        solver,
        reduced.pair_a,
        reduced.pair_r,
        "cost",
        clock,
        progress,
        backend=backend,
    )
    lp.bound = max(lp.bound, reduced.bound)
    return lp, backend


def reround(
    model: BalancedAssignment,
    solver: str,
    backend: HighsLP,
    lp: LPResult,
    assignment: np.ndarray,
    clock: Clock,
    progress: Callable[[str, str], None],
    integral: Callable[[LPResult], np.ndarray],
    alternatives: np.ndarray | None = None,
) -> np.ndarray:
    """Move the bands a rounded plan breaks inward and round the LP again (see the module);
    stops at the first plan meeting every band. ``REROUND_ROUNDS`` tries with every band
    narrowed, then, if none meets them, as many without the narrowing.

    ``alternatives``: sorted keys ``a * K + r`` of more candidate pairs (the cheapest by
    reduced cost, :func:`cheap_alternatives`); they join the LP first, so that the shifted bands
    can move fixed accounts without pricing (at the LP's duals they price at or above zero, so
    the LP optimum is unchanged).
    """
    from solvers.solve import column_generation

    k = model.n_reps
    if alternatives is not None:
        backend.set_pairs(alternatives // k, alternatives % k)
    tolerances = [model.tolerance] + [t for t in [model.work_tolerance] if t is not None]
    narrowest = min([ROUNDING_MARGIN] + [0.25 * t for t in tolerances])
    viol = Violation(model)
    first = assignment
    # with the bands narrowed, then, if no try meets them, without
    for narrow in dict.fromkeys((narrowest, 0.0)):
        shift = Committed(np.zeros(k), np.zeros(k), 0.0)
        assignment, met = first, False
        for attempt in range(1, REROUND_ROUNDS + 1):
            loads = loads_of(model, assignment)
            # a split account with most of its share on the rep rounds back the same way
            # unless the move outgrows its share: the step grows on every try
            shift = _moved_inward(model, viol, loads, shift, REROUND_GROWTH ** (attempt - 1))
            broken = int((viol.rep(np.arange(k), loads.potential, loads.workload) > 1e-12).sum())
            backend.shift_rows(shift, narrow)
            # no pricing while the shifted bands can be met: that LP only guides the rounding
            # (the bound stays the unshifted LP's); once they cannot with the columns at hand
            # (elastic slack in use), pricing brings the pairs that can
            solved = backend.solve(max(clock.left(), 1.0))
            if solved.status == OPTIMAL and max(solved.slack.values(), default=0.0) > SLACK_USED:
                priced = column_generation(
                    model, solver, lp.pair_a, lp.pair_r, "cost", clock, progress, backend=backend
                )
                if priced.duals is None:
                    break
                shifted = priced
            elif solved.status == OPTIMAL:
                shifted = replace(
                    lp,
                    objective=solved.objective,
                    pair_a=backend.pair_a,
                    pair_r=backend.pair_r,
                    x=solved.x,
                )
            else:
                break
            progress(
                "reround",
                f"try {attempt}: bands of {broken} reps moved inward"
                + (f", every band narrowed by {narrow:.2%}" if narrow else "")
                + f", LP {shifted.objective or 0:,.6g}",
            )
            assignment = integral(shifted)
            met = viol.total(loads_of(model, assignment)) <= 1e-9
            if met or clock.left() <= 0:
                break
        if met or clock.left() <= 0:
            break
    return assignment


def _moved_inward(
    model: BalancedAssignment, viol: Violation, loads: Loads, shift: Committed, grow: float
) -> Committed:
    """``shift`` plus, for every row ``loads`` break, ``grow`` × (the violation plus
    ``SHIFT_MARGIN`` of the row's size), towards the inside of the row."""
    pot_need = np.where(loads.potential < viol.p_lo, viol.p_lo - loads.potential, 0.0) - np.where(
        loads.potential > viol.p_hi, loads.potential - viol.p_hi, 0.0
    )
    pad = SHIFT_MARGIN * model.pot_target
    potential = shift.potential - grow * np.sign(pot_need) * (np.abs(pot_need) + pad)
    workload = shift.workload.copy()
    if viol.w_lo is not None:
        work_need = np.where(
            loads.workload < viol.w_lo, viol.w_lo - loads.workload, 0.0
        ) - np.where(loads.workload > viol.w_hi, loads.workload - viol.w_hi, 0.0)
        pad_w = SHIFT_MARGIN * viol.w_scale
        workload -= grow * np.sign(work_need) * (np.abs(work_need) + pad_w)
    over_cap = np.where(np.isfinite(viol.cap), loads.workload - viol.cap, 0.0)
    workload += grow * np.where(over_cap > 0, over_cap + SHIFT_MARGIN * viol.cap, 0.0)
    moved = shift.moved
    if model.max_moved is not None and loads.moved > model.max_moved:
        moved += grow * (loads.moved - model.max_moved + SHIFT_MARGIN * viol.m_scale)
    return Committed(potential, workload, moved)


def cheap_alternatives(
    model: BalancedAssignment, duals: Duals, keys: np.ndarray, cost: np.ndarray
) -> np.ndarray:
    """Mask of the pairs (keys ``a * K + r`` and costs) with the lowest reduced cost at
    ``duals``: the cheapest ``ALTERNATIVE_SHARE`` of those pricing above zero, plus any at
    or below zero."""
    k = model.n_reps
    reduced = reduced_cost(model, duals, keys // k, keys % k, cost)
    positive = reduced[reduced > 0]
    if len(positive) == 0:
        return np.isfinite(reduced)
    threshold = float(np.quantile(positive, ALTERNATIVE_SHARE))
    return np.isfinite(reduced) & (reduced <= threshold)

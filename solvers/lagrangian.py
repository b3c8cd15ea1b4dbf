r"""Lagrangian dual ascent: prices on the coupling rows without solving the LP.

Relaxing the balance, capacity and moved rows with prices :math:`y` leaves one cheapest-rep
choice per account, so :math:`L(y) = \sum_a \min_r (c_{ar} - \sum_i y_i g_{i,ar}) + y^\top h`
is cheap to evaluate in numpy and bounds the full model from below for any sign-feasible
:math:`y` (see ``pricing.py``). Projected subgradient steps with a Polyak-style target raise it.
This is how alignment models were solved before LP solvers could, and it is what large
instances use when the LP would take longer than the time limit allows: it gives a bound and
rep prices at once, and the accounts whose cheapest rep is clear under those prices can be
fixed before any LP is solved (not done yet: the plan comes from repair).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from solvers.formulation import BalancedAssignment
from solvers.keys import unique_keys
from solvers.pricing import Duals, aggregate_duals


@dataclass
class Ascent:
    """The best prices found, their bound over the given pairs, and the choices they induce."""

    duals: Duals
    bound: float  # over the given pairs only; price() gives the bound over all pairs
    assignment: np.ndarray  # each account's cheapest rep at these prices, -1 if none
    iterations: int


def lagrangian_ascent(
    model: BalancedAssignment,
    pair_a: np.ndarray,
    pair_r: np.ndarray,
    cost: np.ndarray,
    seconds: float,
    max_iterations: int = 300,
) -> Ascent:
    """Projected subgradient ascent on the coupling-row prices over pairs sorted by account."""
    start = time.perf_counter()
    rows = model.rows("cost")
    n_rows = len(rows)
    geq = np.array([row.sense == ">=" for row in rows], dtype=bool)
    rhs = np.array([row.rhs for row in rows], dtype=float)
    kind = np.array([row.kind for row in rows])
    rep = np.array([row.rep for row in rows], dtype=np.int64)
    pot_rows, work_rows = kind == "potential", kind == "workload"
    moved_rows = kind == "moved"
    p, w = model.potential[pair_a], model.workload[pair_a]
    move = model.is_move(pair_a, pair_r)
    starts = np.flatnonzero(np.diff(pair_a, prepend=-1) != 0)
    accounts = pair_a[starts]
    k = model.n_reps

    def evaluate(y: np.ndarray) -> tuple[float, np.ndarray]:
        duals = aggregate_duals(model, accounts, np.zeros(len(accounts)), rows, y)
        reduced = (
            cost - p * duals.potential[pair_r] - w * duals.workload[pair_r] - duals.moved * p * move
        )
        best = np.minimum.reduceat(reduced, starts)
        is_best = reduced <= np.repeat(best, np.diff(np.r_[starts, len(reduced)])) + 0.0
        first = np.full(len(starts), -1, dtype=np.int64)
        idx = np.flatnonzero(is_best)
        owner = np.searchsorted(starts, idx, side="right") - 1
        first[owner[::-1]] = idx[::-1]  # lowest index among ties
        return float(best.sum() + y @ rhs), first

    def loads(choice: np.ndarray) -> np.ndarray:
        chosen_r, chosen_a = pair_r[choice], pair_a[choice]
        pot = np.bincount(chosen_r, weights=model.potential[chosen_a], minlength=k)
        work = np.bincount(chosen_r, weights=model.workload[chosen_a], minlength=k)
        moved = float(model.potential[chosen_a][move[choice]].sum())
        out = np.zeros(n_rows)
        out[pot_rows] = pot[rep[pot_rows]]
        out[work_rows] = work[rep[work_rows]]
        out[moved_rows] = moved
        return out

    y = np.zeros(n_rows)
    value, choice = evaluate(y)
    best_value, best_y, best_choice = value, y.copy(), choice
    target_gap = 0.05 * abs(value) + 1.0
    stall = 0
    iterations = 0
    while iterations < max_iterations and time.perf_counter() - start <= seconds:
        iterations += 1
        g = rhs - loads(choice)
        # projected subgradient: a price stuck at 0 cannot move the wrong way
        g = np.where((y == 0) & ((geq & (g < 0)) | (~geq & (g > 0))), 0.0, g)
        norm = float(g @ g)
        if norm == 0.0:
            break  # the choices meet every row: the prices are optimal
        step = (best_value + target_gap - value) / norm
        y = y + step * g
        y = np.where(geq, np.maximum(y, 0.0), np.minimum(y, 0.0))
        value, choice = evaluate(y)
        if value > best_value + 1e-9 * abs(best_value):
            best_value, best_y, best_choice = value, y.copy(), choice
            stall = 0
        else:
            stall += 1
            if stall >= 5:
                target_gap *= 0.5
                stall = 0
    duals = aggregate_duals(model, accounts, np.zeros(len(accounts)), rows, best_y)
    assignment = np.full(model.n_accounts, -1, dtype=np.int64)
    assignment[accounts] = pair_r[best_choice]
    return Ascent(duals, best_value, assignment, iterations)


def priced_ascent(
    model: BalancedAssignment,
    pair_a: np.ndarray,
    pair_r: np.ndarray,
    seconds: float,
    rounds: int = 8,
    iterations_per_round: int = 150,
) -> tuple[Ascent, float, np.ndarray, np.ndarray]:
    """Ascent over the candidates, pricing all pairs between rounds: pairs that undercut an
    account's cheapest candidate at the current prices join the candidates, so the prices stay
    meaningful for the full model. Returns the ascent, its bound over *all* pairs, and the pairs.
    """
    from solvers.pricing import price

    start = time.perf_counter()
    k = model.n_reps
    best: Ascent | None = None
    best_bound = -np.inf
    for _ in range(rounds):
        left = seconds - (time.perf_counter() - start)
        if left <= 0 and best is not None:
            break
        cost = model.costs.cost(pair_a, pair_r)
        ascent = lagrangian_ascent(
            model, pair_a, pair_r, cost, max(left / 2, 0.1), iterations_per_round
        )
        # u_a: each account's cheapest candidate at these prices, so a negative reduced cost
        # marks a pair that would undercut it
        acc = np.flatnonzero(ascent.assignment >= 0)
        rep = ascent.assignment[acc]
        d = ascent.duals
        reduced = (
            model.costs.cost(acc, rep)
            - model.potential[acc] * d.potential[rep]
            - model.workload[acc] * d.workload[rep]
            - d.moved * model.potential[acc] * model.is_move(acc, rep)
        )
        assign = np.zeros(model.n_accounts)
        assign[acc] = reduced
        duals = Duals(
            assign,
            ascent.duals.potential,
            ascent.duals.workload,
            ascent.duals.moved,
            ascent.duals.rhs_term,
        )
        keys = pair_a * k + pair_r
        priced = price(model, duals, "cost", keys, per_account=2)
        if priced.bound > best_bound:
            best_bound, best = priced.bound, ascent
        if len(priced.new_a) == 0:
            break
        merged = unique_keys(np.concatenate([keys, priced.new_a * k + priced.new_r]))
        pair_a, pair_r = merged // k, merged % k
    assert best is not None
    return best, best_bound, pair_a, pair_r

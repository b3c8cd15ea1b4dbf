r"""Near-optimal prices on the coupling rows from a smoothed Lagrangian dual (quasi-Newton).

Relaxing the coupling rows (bands, capacities, moved cap) with prices :math:`y` leaves one
cheapest-rep choice per account:

.. math:: L(y) = \sum_a \min_r \bar c_{ar}(y) + y^\top h, \qquad
          \bar c_{ar}(y) = c_{ar} - \textstyle\sum_i y_i g_{i,ar},

concave and piecewise linear in :math:`y` (sign-feasible: :math:`y_i \ge 0` on :math:`\ge`
rows, :math:`\le 0` on :math:`\le` rows). The choose-one rows have the integrality property, so
:math:`\max_y L(y)` equals the LP optimum. Its kinks defeat plain gradient methods, so each
:math:`\min_r` is replaced by a soft minimum at temperature :math:`\varepsilon_a = \tau s_a`
(:math:`s_a` the account's mean candidate cost):

.. math:: L_\tau(y) = \sum_a -\varepsilon_a \log \sum_r e^{-\bar c_{ar}(y)/\varepsilon_a}
          + y^\top h, \qquad L(y) - \textstyle\sum_a \varepsilon_a \log n_a \le L_\tau(y) \le L(y),

which is smooth and concave with gradient :math:`h_i - \sum_{a,r} \pi_{ar} g_{i,ar}`
(:math:`\pi` the soft-min weights, a fractional assignment). L-BFGS-B maximises it over the
~2K prices for a decreasing sequence of :math:`\tau`; the true :math:`L` is evaluated at every
stage and the best prices kept, so the bound reported is always the exact :math:`L(y)`, never
the smoothed one. Iteration counts, not the clock, stop each stage (deterministic results).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import minimize

from solvers.formulation import BalancedAssignment
from solvers.pricing import Duals, aggregate_duals

TEMPERATURES = (0.1, 0.03, 0.01, 0.003, 0.001)
ITERATIONS_PER_STAGE = 60
# |price| per row, in units of the average cost per unit of the row's coefficient: a
# candidate set that cannot meet a band makes L unbounded over it; the cap keeps the prices
# finite until pricing brings in the pairs that can (the bound stays valid: any y is)
PRICE_LIMIT = 50.0


@dataclass
class PairArrays:
    """Candidate pairs sorted by account, with what every evaluation needs precomputed."""

    a: np.ndarray
    r: np.ndarray
    cost: np.ndarray
    p: np.ndarray
    w: np.ndarray
    move: np.ndarray  # p_a where the pair moves the account, else 0
    starts: np.ndarray  # first pair of each account
    accounts: np.ndarray  # the account of each segment
    coef: sparse.csr_matrix  # pairs × (2K + 1): p_a at r, w_a at K + r, moved p_a at 2K
    coef_t: sparse.csr_matrix  # its transpose, stored for fast row loads

    @classmethod
    def of(
        cls, model: BalancedAssignment, a: np.ndarray, r: np.ndarray, cost: np.ndarray
    ) -> PairArrays:
        starts = np.flatnonzero(np.diff(a, prepend=-1) != 0)
        p, w = model.potential[a], model.workload[a]
        move = np.where(model.is_move(a, r), p, 0.0)
        k, n = model.n_reps, len(a)
        index = np.arange(n)
        coef = sparse.csr_matrix(
            (np.r_[p, w, move], (np.r_[index, index, index], np.r_[r, k + r, np.full(n, 2 * k)])),
            shape=(n, 2 * k + 1),
        )
        return cls(a, r, cost, p, w, move, starts, a[starts], coef, coef.T.tocsr())

    def reduced_agg(self, prices: np.ndarray) -> np.ndarray:
        """Reduced costs for prices per column of ``coef`` (potential, workload, moved)."""
        return self.cost - self.coef @ prices

    def reduced(self, duals: Duals) -> np.ndarray:
        """Pair costs minus the coupling-row prices (before the account's own dual)."""
        return (
            self.cost
            - self.p * duals.potential[self.r]
            - self.w * duals.workload[self.r]
            - duals.moved * self.move
        )

    def segment_min(self, values: np.ndarray) -> np.ndarray:
        return np.minimum.reduceat(values, self.starts)

    @property
    def segment(self) -> np.ndarray:
        """Index of each pair's account segment."""
        return np.repeat(np.arange(len(self.starts)), np.diff(np.r_[self.starts, len(self.a)]))

    def per_pair(self, per_account: np.ndarray) -> np.ndarray:
        return np.repeat(per_account, np.diff(np.r_[self.starts, len(self.a)]))


class CouplingRows:
    """The coupling rows as arrays: signs, right-hand sides, and row loads of a (fractional)
    assignment."""

    def __init__(self, model: BalancedAssignment) -> None:
        self.model = model
        self.rows = model.rows("cost")
        self.geq = np.array([row.sense == ">=" for row in self.rows], dtype=bool)
        self.rhs = np.array([row.rhs for row in self.rows], dtype=float)
        kind = np.array([row.kind for row in self.rows])
        self.rep = np.array([row.rep for row in self.rows], dtype=np.int64)
        self.pot, self.work, self.moved = kind == "potential", kind == "workload", kind == "moved"
        k = model.n_reps
        # the column of PairArrays.coef that each row's coefficient sits in
        self.column = np.where(self.pot, self.rep, np.where(self.work, k + self.rep, 2 * k))
        self.n_columns = 2 * k + 1

    def prices(self, y: np.ndarray) -> np.ndarray:
        """Row prices summed per column of ``PairArrays.coef``."""
        return np.bincount(self.column, weights=y, minlength=self.n_columns)

    def __len__(self) -> int:
        return len(self.rows)

    def duals(self, y: np.ndarray) -> Duals:
        """Per-rep aggregated prices (``assign`` left at zero)."""
        empty = np.zeros(0, np.int64)
        return aggregate_duals(self.model, empty, np.zeros(0), self.rows, y)

    def loads(self, pairs: PairArrays, share: np.ndarray) -> np.ndarray:
        """Left-hand side of every row for the pair shares ``share``."""
        return (pairs.coef_t @ share)[self.column]

    def bounds(self, limit: float) -> list[tuple[float, float]]:
        return [(0.0, limit) if g else (-limit, 0.0) for g in self.geq]


@dataclass
class DualResult:
    """Best prices found (per row), their exact bound over the pairs, and the induced choice."""

    y: np.ndarray
    duals: Duals  # aggregated; ``assign`` holds each account's cheapest reduced cost
    bound: float  # exact L(y) over the given pairs only
    evaluations: int


def exact_value(rows: CouplingRows, pairs: PairArrays, y: np.ndarray) -> tuple[float, Duals]:
    """:math:`L(y)` over the pairs, and the prices with ``assign`` = cheapest reduced cost."""
    duals = rows.duals(y)
    best = pairs.segment_min(pairs.reduced(duals))
    assign = np.zeros(rows.model.n_accounts)
    assign[pairs.accounts] = best
    duals = Duals(assign, duals.potential, duals.workload, duals.moved, duals.rhs_term)
    return float(best.sum() + y @ rows.rhs), duals


def smoothed_ascent(
    model: BalancedAssignment,
    pairs: PairArrays,
    y0: np.ndarray | None = None,
    temperatures: tuple[float, ...] = TEMPERATURES,
    iterations: int = ITERATIONS_PER_STAGE,
    price_limit: float = PRICE_LIMIT,
) -> DualResult:
    """Maximise :math:`L_\\tau` by L-BFGS-B for each temperature, warm-starting each stage."""
    rows = CouplingRows(model)
    n_rows = len(rows)
    # per-account temperature unit: the account's mean candidate cost
    count = np.diff(np.r_[pairs.starts, len(pairs.a)])
    mean_cost = np.add.reduceat(pairs.cost, pairs.starts) / count
    unit = np.maximum(mean_cost, 1e-9 * float(mean_cost.mean()) + 1e-12)
    # price unit per row: average cost per unit of the row's coefficient, so z is O(1)
    norm = float(mean_cost.sum()) or 1.0
    scale = np.ones(n_rows)
    pot_sum = float(model.potential[pairs.accounts].sum()) or 1.0
    work_sum = float(model.workload[pairs.accounts].sum()) or 1.0
    scale[rows.pot | rows.moved] = norm / pot_sum
    scale[rows.work] = norm / work_sum

    y = np.zeros(n_rows) if y0 is None else y0.copy()
    best_value, _ = exact_value(rows, pairs, y)
    best_y = y.copy()
    evaluations = 0
    for tau in temperatures:
        segment = pairs.segment
        eps = tau * unit

        inv_eps = 1.0 / eps[segment]

        def negative(
            z: np.ndarray,
            segment: np.ndarray = segment,
            eps: np.ndarray = eps,
            inv_eps: np.ndarray = inv_eps,
        ) -> tuple[float, np.ndarray]:
            nonlocal evaluations
            evaluations += 1
            yy = z * scale
            red = pairs.reduced_agg(rows.prices(yy))
            low = pairs.segment_min(red)
            e = np.exp((low[segment] - red) * inv_eps)
            total_e = np.add.reduceat(e, pairs.starts)
            value = float((low - eps * np.log(total_e)).sum() + yy @ rows.rhs)
            share = e * (1.0 / total_e)[segment]
            grad = (rows.rhs - rows.loads(pairs, share)) * scale
            return -value / norm, -grad / norm

        found = minimize(
            negative,
            np.clip(y / scale, -price_limit, price_limit),
            jac=True,
            method="L-BFGS-B",
            bounds=rows.bounds(price_limit),
            options={"maxiter": iterations, "maxcor": 20, "ftol": 1e-12, "gtol": 1e-10},
        )
        y = np.asarray(found.x) * scale
        value, _ = exact_value(rows, pairs, y)
        if value > best_value:
            best_value, best_y = value, y.copy()
    value, duals = exact_value(rows, pairs, best_y)
    return DualResult(best_y, duals, value, evaluations)

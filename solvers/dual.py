r"""Near-optimal prices on the coupling rows, and a fractional plan meeting the bands, from a
smoothed Lagrangian dual solved by Newton's method.

Relaxing the coupling rows (bands, capacities, moved cap) leaves one cheapest-rep choice per
account. In the net price :math:`\lambda_j` of each coefficient column *j* (a rep's potential,
a rep's workload, the moved potential), with load bands :math:`l_j \le G_j x \le u_j`,

.. math:: L(\lambda) = \sum_a \min_r \bar c_{ar}(\lambda) + \sum_j \min(\lambda_j l_j,
          \lambda_j u_j), \qquad \bar c_{ar}(\lambda) = c_{ar} - \textstyle\sum_j \lambda_j
          g_{j,ar},

concave and piecewise linear; the choose-one rows have the integrality property, so
:math:`\max_\lambda L` is the LP optimum. Both minima are smoothed at temperature
:math:`\tau`: each account's :math:`\min_r` becomes a soft minimum at
:math:`\varepsilon_a = \tau D p_a` (*D* the potential-weighted mean distance to the nearest
candidate, so the blur is the same in distance for every account), and each band term
:math:`\min(\lambda l, \lambda u)` becomes
:math:`m\lambda - (h/\kappa)\log\cosh(\kappa\lambda)` (*m*, *h* the band's middle and
half-width, :math:`1/\kappa = \tau` × the column's price unit). :math:`L_\tau` is smooth and
concave; its gradient is :math:`s(\lambda) - G\pi` (the soft band value minus the loads of the
soft assignment :math:`\pi`) and its Hessian is sparse: two reps interact only through the
accounts they share. Newton steps (sparse LU, Armijo line search, Levenberg damping when a step
fails) converge in a dozen iterations per temperature; the temperatures fall geometrically,
each warm-started.

At a stationary point :math:`G\pi = s(\lambda)` lies inside the bands, so :math:`\pi` is a
fractional plan meeting them, and it is nearly integral: only accounts within about
:math:`\varepsilon_a` of a tie stay split. The bands are shrunk by ``BAND_MARGIN`` inside the
smoothing so that rounding the nearly integral accounts keeps the rest feasible
(``fixing.py``). Prices beyond ``limit`` price units pay a quadratic penalty (elastic rows),
which keeps :math:`L_\tau` bounded over a candidate set that cannot meet some band. The bound
reported is always the exact :math:`L(\lambda)` with the true bands, never the smoothed one.
Iteration counts, not the clock, stop each stage (deterministic results); only the run's
time limit cuts a stage short.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import splu

from solvers.formulation import BalancedAssignment
from solvers.pricing import Duals

BAND_MARGIN = 2e-3  # bands shrunk by this share inside the smoothing (see fixing.py)
STATIONARY = 1e-9  # Newton stops once every load is this close to its soft band (relative)
ARMIJO = 1e-4


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


@dataclass(frozen=True)
class ColumnBands:
    """The coupling rows folded into one band per coefficient column of ``PairArrays.coef``.

    A column with only an upper row (a capacity, the moved cap) gets the redundant lower
    band 0; columns without rows are left out of the prices.
    """

    columns: np.ndarray  # the columns that carry a price
    lo: np.ndarray
    hi: np.ndarray  # may be +inf where only a lower row exists (never in practice)

    @classmethod
    def of(cls, model: BalancedAssignment) -> ColumnBands:
        k = model.n_reps
        lo = np.full(2 * k + 1, -np.inf)
        hi = np.full(2 * k + 1, np.inf)
        for row in model.rows("cost"):
            j = {"potential": row.rep, "workload": k + row.rep}.get(row.kind, 2 * k)
            if row.sense == ">=":
                lo[j] = max(lo[j], row.rhs)
            else:
                hi[j] = min(hi[j], row.rhs)
        columns = np.flatnonzero(np.isfinite(lo) | np.isfinite(hi))
        lo, hi = lo[columns], hi[columns]
        return cls(columns, np.where(np.isfinite(lo), lo, 0.0), hi)

    def shrunk(self, margin: float) -> ColumnBands:
        """The bands moved inward by ``margin`` of their size (never past their middle)."""
        size = np.where(np.isfinite(self.hi), self.hi, self.lo)
        step = np.minimum(
            margin * np.abs(size), 0.5 * np.where(np.isfinite(self.hi), self.hi - self.lo, np.inf)
        )
        return ColumnBands(self.columns, self.lo + np.where(self.lo > 0, step, 0.0), self.hi - step)

    def exact_term(self, lam: np.ndarray) -> float:
        r""":math:`\sum_j \min(\lambda_j l_j, \lambda_j u_j)` (the Lagrangian's band part)."""
        upper = np.where(lam < 0, lam * np.where(np.isfinite(self.hi), self.hi, np.inf), 0.0)
        return float(np.where(lam >= 0, lam * self.lo, upper).sum())


@dataclass
class DualResult:
    """Prices, their exact bound over the given pairs, and the soft assignment they induce."""

    lam: np.ndarray  # net price per priced column (``ColumnBands.columns``)
    duals: Duals  # per-rep prices; ``assign`` holds each account's cheapest reduced cost
    bound: float  # exact L(lambda) over the given pairs, true bands
    share: np.ndarray  # soft assignment pi per pair (sums to 1 per account)
    newton_steps: int


class SmoothedDual:
    r""":math:`L_\tau` over a candidate set: value, gradient, Hessian and soft assignment."""

    def __init__(
        self,
        model: BalancedAssignment,
        pairs: PairArrays,
        bands: ColumnBands,
        tau: float,
        limit: float,
    ) -> None:
        self.model, self.pairs, self.bands = model, pairs, bands
        self.priced_coef = pairs.coef[:, bands.columns].tocsr()  # sliced once, not per step
        self.segment = pairs.segment
        p = model.potential[pairs.accounts]
        best = pairs.segment_min(pairs.cost)
        distance = float(best.sum()) / max(float(p.sum()), 1e-300)  # D, cost per potential
        self.eps = tau * distance * np.maximum(p, 1e-9 * max(float(p.mean()), 1e-300))
        self.inv_eps_pair = pairs.per_pair(1.0 / self.eps)  # every soft() needs it per pair
        k = model.n_reps
        pot = max(float(p.sum()), 1e-300)
        work = float(model.workload[pairs.accounts].sum()) or pot
        unit = np.r_[np.full(k, distance), np.full(k, distance * pot / work), [distance]]
        self.unit = unit[bands.columns]  # a price unit per column: cost per unit of load
        self.kappa = 1.0 / (tau * self.unit)
        self.limit = limit
        finite = np.isfinite(bands.hi)
        self.mid = np.where(finite, 0.5 * (bands.lo + bands.hi), 0.0)
        self.half = np.where(finite, 0.5 * (bands.hi - bands.lo), 0.0)
        self.size = np.where(finite, bands.hi, bands.lo) + 1e-12

    def reduced(self, lam: np.ndarray) -> np.ndarray:
        full = np.zeros(self.pairs.coef.shape[1])
        full[self.bands.columns] = lam
        return self.pairs.reduced_agg(full)

    def soft(self, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Soft minimum per account and the soft assignment per pair."""
        pairs, segment = self.pairs, self.segment
        red = self.reduced(lam)
        low = pairs.segment_min(red)
        e = low[segment] - red
        e *= self.inv_eps_pair
        np.exp(e, out=e)
        total = np.add.reduceat(e, pairs.starts)
        e *= (1.0 / total)[segment]
        return low - self.eps * np.log(total), e

    def band_parts(self, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Smoothed band terms, their first and second derivatives (with the price penalty)."""
        x = self.kappa * lam
        log_cosh = np.abs(x) + np.log1p(np.exp(-2 * np.abs(x))) - np.log(2.0)
        t = np.tanh(x)
        value = self.mid * lam - self.half / self.kappa * log_cosh
        first = self.mid - self.half * t
        second = -self.half * self.kappa * (1 - t * t)
        excess = np.maximum(np.abs(lam) - self.limit * self.unit, 0.0)
        value = value - self.size * excess**2 / self.unit
        first = first - 2 * self.size * excess / self.unit * np.sign(lam)
        second = second - np.where(excess > 0, 2 * self.size / self.unit, 0.0)
        return value, first, second

    def value(self, lam: np.ndarray) -> tuple[float, np.ndarray]:
        r""":math:`L_\tau(\lambda)` and the soft assignment there (reused by the next step)."""
        soft, share = self.soft(lam)
        return float(soft.sum() + self.band_parts(lam)[0].sum()), share

    def gradient(self, lam: np.ndarray, share: np.ndarray) -> np.ndarray:
        loads = (self.pairs.coef_t @ share)[self.bands.columns]
        return self.band_parts(lam)[1] - loads

    def hessian(self, lam: np.ndarray, share: np.ndarray) -> sparse.csc_matrix:
        r""":math:`-\sum_a \varepsilon_a^{-1}(\sum_r \pi_{ar} g g^\top - m_a m_a^\top)` plus the
        band terms; only split accounts contribute."""
        pairs, segment = self.pairs, self.segment
        top = np.maximum.reduceat(share, pairs.starts)
        chosen = (top < 1 - 1e-12)[segment] & (share > 1e-10)
        coef = self.priced_coef[chosen]
        weight = share[chosen]
        seg = segment[chosen]
        own = coef.T @ sparse.diags(weight * self.inv_eps_pair[chosen]) @ coef
        accounts, row = np.unique(seg, return_inverse=True)
        spread = sparse.csr_matrix(
            (weight, (row, np.arange(len(seg)))), shape=(len(accounts), len(seg))
        )
        mean = spread @ coef
        cross = mean.T @ sparse.diags(1.0 / self.eps[accounts]) @ mean
        return (cross - own + sparse.diags(self.band_parts(lam)[2])).tocsc()

    def stationarity(self, gradient: np.ndarray) -> float:
        return float(np.max(np.abs(gradient) / np.abs(self.size), initial=0.0))


def newton(
    dual: SmoothedDual,
    lam: np.ndarray,
    steps: int,
    out_of_time: Callable[[], bool] = lambda: False,
) -> tuple[np.ndarray, int]:
    r"""Maximise :math:`L_\tau` from ``lam`` by damped Newton steps; returns prices and steps.

    ``out_of_time`` is asked before every step: the run's time limit stops a long stage."""
    damping = 1e-6
    value, share = dual.value(lam)
    for step_no in range(steps):
        gradient = dual.gradient(lam, share)
        if dual.stationarity(gradient) < STATIONARY or out_of_time():
            return lam, step_no
        hessian = dual.hessian(lam, share)
        scale = float(np.abs(hessian.diagonal()).max()) or 1.0
        while True:
            system = (sparse.identity(len(lam)) * damping * scale - hessian).tocsc()
            direction = splu(system).solve(gradient)
            slope = float(gradient @ direction)
            length = 1.0
            for _ in range(30):
                trial, trial_share = dual.value(lam + length * direction)
                if trial >= value + ARMIJO * length * slope:
                    break
                length *= 0.5
            else:
                damping *= 10
                if damping > 1e6:
                    return lam, step_no  # no ascent left at this precision
                continue
            break
        lam, value, share = lam + length * direction, trial, trial_share
        damping = max(damping * 0.3, 1e-12)
    return lam, steps


def exact_value(
    model: BalancedAssignment, pairs: PairArrays, bands: ColumnBands, lam: np.ndarray
) -> tuple[float, Duals]:
    r""":math:`L(\lambda)` over the pairs (true bands), and the prices as ``Duals`` with
    ``assign`` = each account's cheapest reduced cost."""
    k = model.n_reps
    full = np.zeros(2 * k + 1)
    full[bands.columns] = lam
    best = pairs.segment_min(pairs.reduced_agg(full))
    assign = np.zeros(model.n_accounts)
    assign[pairs.accounts] = best
    rhs = bands.exact_term(lam)
    duals = Duals(assign, full[:k], full[k : 2 * k], float(full[2 * k]), rhs)
    return float(best.sum() + rhs), duals


def smoothed_dual(
    model: BalancedAssignment,
    pairs: PairArrays,
    lam: np.ndarray | None,
    tau: float,
    limit: float,
    steps: int,
    margin: float = BAND_MARGIN,
    out_of_time: Callable[[], bool] = lambda: False,
) -> DualResult:
    r"""Newton on :math:`L_\tau` (bands shrunk by ``margin``) from ``lam``; exact bound."""
    bands = ColumnBands.of(model)
    dual = SmoothedDual(model, pairs, bands.shrunk(margin), tau, limit)
    start = np.zeros(len(bands.columns)) if lam is None else lam
    lam, used = newton(dual, start, steps, out_of_time)
    bound, duals = exact_value(model, pairs, bands, lam)
    _, share = dual.soft(lam)
    return DualResult(lam, duals, bound, share, used)

r"""The balanced assignment model, built in PuLP from plain arrays.

Sets: accounts :math:`a \in A` (those with at least one allowed rep), reps :math:`r \in R`,
candidate pairs :math:`E \subseteq A \times R` (allowed pairs only: within the maximum distance,
present in the travel-time table, only the locked rep for a locked account, and not a pair a
scenario forbids).

Data: potential :math:`p_a`, workload :math:`w_a`, pair cost :math:`c_{ar}` (weighted distance
plus the disruption penalty), potential target :math:`T_r = \frac{f_r}{\sum_s f_s}\sum_a p_a` from
FTE :math:`f_r`, workload target :math:`W_r` likewise, tolerances :math:`t, t_w`, capacity
:math:`C_r`, incumbent rep :math:`k_a` (when on the roster) and the moved-potential cap
:math:`M = m \sum_a p_a`.

Variables: :math:`x_{ar} \ge 0` (binary in the MILP), the share of account *a* given to rep *r*.

.. math::

    \min \; & \sum_{(a,r) \in E} c_{ar} x_{ar} \\
    \text{assign}_a: \; & \sum_{r} x_{ar} = 1 && \forall a \in A \\
    \text{pot\_lo}_r: \; & \sum_{a} p_a x_{ar} \ge (1 - t) T_r && \forall r \\
    \text{pot\_hi}_r: \; & \sum_{a} p_a x_{ar} \le (1 + t) T_r && \forall r \\
    \text{work\_lo}_r: \; & \sum_{a} w_a x_{ar} \ge (1 - t_w) W_r && \forall r
        \text{ (when workload is given)} \\
    \text{work\_hi}_r: \; & \sum_{a} w_a x_{ar} \le (1 + t_w) W_r && \forall r \\
    \text{cap}_r: \; & \sum_{a} w_a x_{ar} \le C_r && \forall r: C_r < \infty \\
    \text{max\_moved}: \; & \sum_{a: k_a \in R} \sum_{r \ne k_a} p_a x_{ar} \le M
        && \text{(when a cap is given)}

Locks are not rows: a locked account's only allowed pair is its locked rep, so
:math:`\text{assign}_a` pins it.

Two auxiliary objectives reuse the same rows. ``feasibility`` adds a non-negative slack to every
balance, capacity and moved row, each scaled by the row's size (:math:`T_r`, :math:`W_r`,
:math:`C_r`, :math:`M`), and minimises their sum: zero iff the LP is feasible. ``widen`` replaces
the tolerances by a variable :math:`\tau \ge 0` (potential :math:`\pm\tau`, workload
:math:`\pm\rho\tau` with :math:`\rho = t_w / t`) and minimises it: the tightest balance any
plan can reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import pulp

Phase = Literal["cost", "feasibility", "widen"]


def linear(variables: list, coefficients: list[float]) -> pulp.LpAffineExpression:
    """Σ coefficient × variable in one step (PuLP 4 builds it in Rust, PuLP 3 from a list)."""
    terms = list(zip(variables, coefficients, strict=True))
    from_list = getattr(pulp.LpAffineExpression, "from_list", None)
    return from_list(terms) if from_list is not None else pulp.LpAffineExpression(terms)


class PairOracle(Protocol):
    """Costs of (account, rep) pairs on demand; ``+inf`` marks a forbidden pair."""

    n_accounts: int
    n_reps: int

    def cost(self, a: np.ndarray, r: np.ndarray) -> np.ndarray: ...

    def points(self) -> tuple[np.ndarray, np.ndarray]: ...

    def blocks(self): ...  # yields (account ids, cost matrix block)

    def initial_pairs(self) -> tuple[np.ndarray, np.ndarray]: ...

    def rep_candidates(
        self, need: np.ndarray, weight: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class BalancedAssignment:
    """All data of one instance as arrays (indices are positions, not ids)."""

    potential: np.ndarray
    workload: np.ndarray
    incumbent: np.ndarray
    active: np.ndarray
    pot_target: np.ndarray
    tolerance: float
    work_target: np.ndarray | None
    work_tolerance: float | None
    capacity: np.ndarray
    max_moved: float | None
    costs: PairOracle
    cost_scale: float = 1.0  # objective divided by this inside the solver, for its numerics

    @property
    def n_accounts(self) -> int:
        return len(self.potential)

    @property
    def n_reps(self) -> int:
        return len(self.pot_target)

    def widen_ratio(self) -> float:
        if self.work_tolerance is None or self.tolerance == 0:
            return 1.0
        return self.work_tolerance / self.tolerance

    def rows(self, phase: Phase) -> list[Row]:
        """The coupling rows, in a fixed order; right-hand sides depend on the phase."""
        rows: list[Row] = []
        widen = phase == "widen"
        for r, target in enumerate(self.pot_target):
            lo = target if widen else (1 - self.tolerance) * target
            hi = target if widen else (1 + self.tolerance) * target
            rows.append(Row("pot_lo", r, ">=", lo, "potential", target, target))
            rows.append(Row("pot_hi", r, "<=", hi, "potential", target, -target))
        if self.work_target is not None and self.work_tolerance is not None:
            rho = self.widen_ratio()
            for r, target in enumerate(self.work_target):
                lo = target if widen else (1 - self.work_tolerance) * target
                hi = target if widen else (1 + self.work_tolerance) * target
                rows.append(Row("work_lo", r, ">=", lo, "workload", target, rho * target))
                rows.append(Row("work_hi", r, "<=", hi, "workload", target, -rho * target))
        for r, cap in enumerate(self.capacity):
            if np.isfinite(cap):
                rows.append(Row("cap", r, "<=", float(cap), "workload", float(cap), 0.0))
        if self.max_moved is not None:
            scale = max(self.max_moved, 1e-9 * float(self.potential.sum()) + 1e-12)
            rows.append(Row("max_moved", -1, "<=", self.max_moved, "moved", scale, 0.0))
        return rows

    def moved_matrix(self, a: np.ndarray, n_reps: int) -> np.ndarray:
        """For a block of accounts: True where giving the account to rep r counts as a move."""
        inc = self.incumbent[a]
        return (inc[:, None] >= 0) & (np.arange(n_reps)[None, :] != inc[:, None])

    def is_move(self, a: np.ndarray, r: np.ndarray) -> np.ndarray:
        inc = self.incumbent[a]
        return (inc >= 0) & (inc != r)


@dataclass(frozen=True)
class Row:
    """One coupling row: ``family[rep]  sense  rhs`` over the coefficient ``kind``."""

    family: str
    rep: int
    sense: str
    rhs: float
    kind: str  # potential | workload | moved
    scale: float  # size of the row, for scaled slacks
    widen_coef: float  # coefficient of tau in the widen phase

    @property
    def name(self) -> str:
        return self.family if self.rep < 0 else f"{self.family}_{self.rep}"


@dataclass(frozen=True)
class Committed:
    """Rep loads and moved potential of accounts whose rep is already decided."""

    potential: np.ndarray
    workload: np.ndarray
    moved: float

    def load(self, row: Row) -> float:
        if row.kind == "potential":
            return float(self.potential[row.rep])
        if row.kind == "workload":
            return float(self.workload[row.rep])
        return self.moved


@dataclass
class BuiltProblem:
    """A PuLP problem with handles to its variables and rows, for reading values and duals."""

    prob: pulp.LpProblem
    pair_a: np.ndarray
    pair_r: np.ndarray
    x: list
    assign: dict[int, pulp.LpConstraint]
    rows: list[tuple[Row, pulp.LpConstraint]]
    slacks: dict[str, pulp.LpVariable] = field(default_factory=dict)
    tau: pulp.LpVariable | None = None
    objective_scale: float = 1.0  # solver objective × this = our objective

    def unscale(self, value: float | None) -> float | None:
        return None if value is None else value * self.objective_scale

    def values(self) -> np.ndarray:
        return np.array([v.varValue or 0.0 for v in self.x], dtype=float)


def build_problem(
    model: BalancedAssignment,
    pair_a: np.ndarray,
    pair_r: np.ndarray,
    pair_cost: np.ndarray,
    phase: Phase = "cost",
    integer: bool = False,
    committed: Committed | None = None,
) -> BuiltProblem:
    """Build the model over the candidate pairs (sorted by account, then rep).

    ``committed`` holds the loads of accounts fixed outside this problem (a neighbourhood
    search frees a few accounts and keeps the rest): they are taken off the right-hand sides.
    """
    prob = pulp.LpProblem("territory_alignment", pulp.LpMinimize)
    cat = pulp.LpBinary if integer else pulp.LpContinuous
    x = [
        prob.add_variable(f"x_{a}_{r}", lowBound=0, upBound=1 if integer else None, cat=cat)
        for a, r in zip(pair_a.tolist(), pair_r.tolist(), strict=True)
    ]
    scale = model.cost_scale if phase == "cost" else 1.0
    objective_vars: list = list(x) if phase == "cost" else []
    objective_coefs: list[float] = (pair_cost / scale).tolist() if phase == "cost" else []

    assign: dict[int, pulp.LpConstraint] = {}
    starts: list[int] = np.flatnonzero(np.diff(pair_a, prepend=-1) != 0).tolist()
    ends = starts[1:] + [len(pair_a)]
    for s, e in zip(starts, ends, strict=True):
        a = int(pair_a[s])
        constraint = pulp.lpSum(x[s:e]) == 1
        prob.addConstraint(constraint, name=f"assign_{a}")
        assign[a] = prob.get_constraint_by_name(f"assign_{a}")

    by_rep = np.argsort(pair_r, kind="stable")
    rep_starts = np.searchsorted(pair_r[by_rep], np.arange(model.n_reps + 1))
    is_move = model.is_move(pair_a, pair_r)
    coefficient = {
        "potential": model.potential[pair_a],
        "workload": model.workload[pair_a],
        "moved": np.where(is_move, model.potential[pair_a], 0.0),
    }
    slacks: dict[str, pulp.LpVariable] = {}
    tau = prob.add_variable("tau", lowBound=0) if phase == "widen" else None
    rows: list[tuple[Row, pulp.LpConstraint]] = []
    for row in model.rows(phase):
        if row.rep >= 0:
            members = by_rep[rep_starts[row.rep] : rep_starts[row.rep + 1]]
        else:
            members = np.flatnonzero(is_move)
        coefs = coefficient[row.kind][members]
        expr = linear([x[j] for j in members.tolist()], coefs.tolist())
        if phase == "feasibility":
            slack = prob.add_variable(f"slack_{row.name}", lowBound=0)
            slacks[row.name] = slack
            expr = expr + (slack if row.sense == ">=" else -1 * slack)
            objective_vars.append(slack)
            objective_coefs.append(1.0 / row.scale)
        if tau is not None and row.widen_coef:
            expr = expr + row.widen_coef * tau
        rhs = row.rhs - (committed.load(row) if committed is not None else 0.0)
        constraint = expr >= rhs if row.sense == ">=" else expr <= rhs
        prob.addConstraint(constraint, name=row.name)
        rows.append((row, prob.get_constraint_by_name(row.name)))
    if tau is not None:
        objective_vars.append(tau)
        objective_coefs.append(1.0)
    prob.setObjective(linear(objective_vars, objective_coefs))
    return BuiltProblem(prob, pair_a, pair_r, x, assign, rows, slacks, tau, scale)

"""Two ways to solve the LP of one column-generation phase, behind one interface.

``PulpLP`` rebuilds the PuLP model every round and works with any PuLP solver and every phase.
``HighsLP`` hands the *same* cost-phase model (same rows in the same order, same columns) to
HiGHS as sparse arrays once, appends the priced pairs as new columns and re-solves from the last
basis: at scale PuLP's rebuild and hand-off cost more than the solve itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from solvers.backends import (
    ERROR,
    INFEASIBLE,
    OPTIMAL,
    TIME_LIMIT,
    make_solver,
    run_highs,
    run_solver,
    stdout_silenced,
)
from solvers.formulation import BalancedAssignment, Committed, Phase, Row, build_problem
from solvers.keys import contains
from solvers.pricing import Duals, aggregate_duals, read_duals

IPM_MIN_COLUMNS = 100_000
DUAL_SIMPLEX, PRIMAL_SIMPLEX = 1, 4  # HiGHS simplex_strategy values


@dataclass
class LPSolve:
    """One LP solve: status, objective (our units), values per pair, duals, extras."""

    status: str
    objective: float | None
    x: np.ndarray
    duals: Duals | None
    slack: dict[str, float]
    tau: float | None


class PulpLP:
    """Rebuild through PuLP each round (any solver, any phase)."""

    def __init__(self, model: BalancedAssignment, phase: Phase, solver: str) -> None:
        self.model, self.phase, self.solver = model, phase, solver
        self.pair_a = np.zeros(0, np.int64)
        self.pair_r = np.zeros(0, np.int64)

    def set_pairs(self, pair_a: np.ndarray, pair_r: np.ndarray) -> None:
        self.pair_a, self.pair_r = pair_a, pair_r

    def write(self, path: str) -> None:
        """Write the LP of the current pairs as MPS, for a bug report."""
        cost = self.model.costs.cost(self.pair_a, self.pair_r)
        build_problem(self.model, self.pair_a, self.pair_r, cost, self.phase).prob.writeMPS(path)

    def solve(self, time_limit: float) -> LPSolve:
        cost = self.model.costs.cost(self.pair_a, self.pair_r)
        built = build_problem(self.model, self.pair_a, self.pair_r, cost, self.phase)
        report = run_solver(built.prob, make_solver(self.solver, mip=False, time_limit=time_limit))
        if report.status != OPTIMAL:
            return LPSolve(report.status, None, np.zeros(len(self.pair_a)), None, {}, None)
        return LPSolve(
            OPTIMAL,
            built.unscale(report.objective),
            built.values(),
            read_duals(self.model, built),
            {name: float(v.varValue or 0.0) for name, v in built.slacks.items()},
            float(built.tau.varValue or 0.0) if built.tau is not None else None,
        )


class HighsLP:
    """The cost-phase LP kept alive in HiGHS; new pairs are appended as columns.

    ``elastic``: every coupling row also gets a slack column costing ``elastic`` (our units)
    per unit of the row's scaled violation, so a candidate set that cannot meet the bands
    still solves, with duals bounded by that price; pricing then brings in the pairs that
    remove the slack (big-M phase 1). ``LPSolve.slack`` reports the slack left, per row.
    """

    def __init__(
        self, model: BalancedAssignment, seed: int = 0, elastic: float | None = None
    ) -> None:
        import highspy

        self.model = model
        self.rows = model.rows("cost")
        self.accounts = np.flatnonzero(model.active)
        n_assign = len(self.accounts)
        self.assign_row = np.full(model.n_accounts, -1, dtype=np.int64)
        self.assign_row[self.accounts] = np.arange(n_assign)
        k = model.n_reps
        self.row_of = {
            family: np.full(k, -1, dtype=np.int64)
            for family in ("pot_lo", "pot_hi", "work_lo", "work_hi", "cap")
        }
        self.moved_row = -1
        lower = [np.ones(n_assign)]
        upper = [np.ones(n_assign)]
        for i, row in enumerate(self.rows):
            if row.family == "max_moved":
                self.moved_row = n_assign + i
            else:
                self.row_of[row.family][row.rep] = n_assign + i
        senses = np.array([row.sense == ">=" for row in self.rows], dtype=bool)
        rhs = np.array([row.rhs for row in self.rows], dtype=float)
        lower.append(np.where(senses, rhs, -highspy.kHighsInf))
        upper.append(np.where(senses, highspy.kHighsInf, rhs))
        self.n_rows = n_assign + len(self.rows)
        with stdout_silenced():  # HiGHS prints a banner on creation
            self.highs = highspy.Highs()
        for option, value in (
            ("output_flag", False),
            ("threads", 1),
            ("random_seed", seed),
        ):
            self.highs.setOptionValue(option, value)
        empty = np.zeros(self.n_rows + 1, dtype=np.int32)
        self.highs.addRows(
            self.n_rows,
            np.concatenate(lower),
            np.concatenate(upper),
            0,
            empty[:-1],
            np.zeros(0, np.int32),
            np.zeros(0),
        )
        self.n_slack = 0
        if elastic is not None and self.rows:
            self._add_slacks(elastic, n_assign)
        self.pair_a = np.zeros(0, np.int64)
        self.pair_r = np.zeros(0, np.int64)
        self.solved = False
        self.rows_changed = False  # right-hand sides moved since the last solve

    def shift_rows(self, shift: Committed, shrink: float = 0.0) -> None:
        """Take ``shift``'s loads off the coupling rows' right-hand sides (from the model's),
        and move every balance band inward by ``shrink`` of its row's size."""
        import highspy

        self.rows_changed = True
        n_assign = len(self.accounts)
        rows = [
            replace(row, rhs=row.rhs - shift.load(row) + _inward(row) * shrink * row.scale)
            for row in self.rows
        ]
        for i, row in enumerate(rows):
            geq = row.sense == ">="
            self.highs.changeRowBounds(
                n_assign + i,
                row.rhs if geq else -highspy.kHighsInf,
                highspy.kHighsInf if geq else row.rhs,
            )

    def _add_slacks(self, price: float, n_assign: int) -> None:
        """One slack column per coupling row: +1 on >= rows, -1 on <= rows."""
        n = len(self.rows)
        sign = np.array([1.0 if row.sense == ">=" else -1.0 for row in self.rows])
        scale = np.array([max(row.scale, 1e-12) for row in self.rows])
        # a unit of slack is a unit of the row's coefficient: its price is per scaled unit
        cost = price / scale / self.model.cost_scale
        self.highs.addCols(
            n,
            cost,
            np.zeros(n),
            np.full(n, np.inf),
            n,
            np.arange(n, dtype=np.int32),
            (n_assign + np.arange(n)).astype(np.int32),
            sign,
        )
        self.n_slack = n

    def set_pairs(self, pair_a: np.ndarray, pair_r: np.ndarray) -> None:
        """Append the pairs not yet in the model (pairs are only ever added)."""
        k = self.model.n_reps
        known = self.pair_a * k + self.pair_r
        keys = pair_a * k + pair_r
        fresh = ~contains(np.sort(known), keys)
        self._add(pair_a[fresh], pair_r[fresh])

    def _add(self, a: np.ndarray, r: np.ndarray) -> None:
        if len(a) == 0:
            return
        model = self.model
        col = np.arange(len(a))
        p, w = model.potential[a], model.workload[a]
        parts = [(col, self.assign_row[a], np.ones(len(a)))]
        for family, value in (
            ("pot_lo", p),
            ("pot_hi", p),
            ("work_lo", w),
            ("work_hi", w),
            ("cap", w),
        ):
            rows = self.row_of[family][r]
            keep = (rows >= 0) & (value != 0)
            parts.append((col[keep], rows[keep], value[keep]))
        if self.moved_row >= 0:
            keep = model.is_move(a, r) & (p != 0)
            parts.append((col[keep], np.full(int(keep.sum()), self.moved_row), p[keep]))
        cols = np.concatenate([c for c, _, _ in parts])
        rows = np.concatenate([rw for _, rw, _ in parts])
        values = np.concatenate([v for _, _, v in parts])
        order = np.lexsort((rows, cols))
        cols, rows, values = cols[order], rows[order], values[order]
        starts = np.searchsorted(cols, col).astype(np.int32)
        cost = model.costs.cost(a, r) / model.cost_scale
        self.highs.addCols(
            len(a),
            cost,
            np.zeros(len(a)),
            np.full(len(a), np.inf),
            len(values),
            starts,
            rows.astype(np.int32),
            values.astype(float),
        )
        self.pair_a = np.concatenate([self.pair_a, a])
        self.pair_r = np.concatenate([self.pair_r, r])

    def solve(self, time_limit: float) -> LPSolve:
        import highspy

        # HiGHS's time limit counts its run clock, which adds up over the runs of one object
        spent = float(self.highs.getRunTime())
        self.highs.setOptionValue("time_limit", spent + float(max(time_limit, 1.0)))
        # a cold start on a large LP: interior point (then crossover to a basis) beats the dual
        # simplex there; re-solves after new columns start from the basis with the simplex
        cold = not self.solved and len(self.pair_a) >= IPM_MIN_COLUMNS
        self.highs.setOptionValue("solver", "ipm" if cold else "simplex")
        # new columns leave the basis primal feasible: the primal simplex goes on from it
        # (100k x 500: the round after fixing 23 s -> 7 s); moved bounds leave it dual feasible
        primal = self.solved and not self.rows_changed
        self.highs.setOptionValue("simplex_strategy", PRIMAL_SIMPLEX if primal else DUAL_SIMPLEX)
        self.rows_changed = False
        run_highs(self.highs)
        self.solved = True
        status = self.highs.getModelStatus()
        statuses = highspy.HighsModelStatus
        n = len(self.pair_a)
        if status in (statuses.kInfeasible, statuses.kUnboundedOrInfeasible):
            return LPSolve(INFEASIBLE, None, np.zeros(n), None, {}, None)
        if status != statuses.kOptimal:
            ours = TIME_LIMIT if status == statuses.kTimeLimit else ERROR
            return LPSolve(ours, None, np.zeros(n), None, {}, None)
        solution = self.highs.getSolution()
        scale = self.model.cost_scale
        row_dual = np.asarray(solution.row_dual, dtype=float) * scale
        n_assign = len(self.accounts)
        duals = aggregate_duals(
            self.model, self.accounts, row_dual[:n_assign], self.rows, row_dual[n_assign:]
        )
        objective = float(self.highs.getInfo().objective_function_value) * scale
        values = np.asarray(solution.col_value, dtype=float)
        x = values[self.n_slack :]
        slack = (
            {row.name: float(v) for row, v in zip(self.rows, values[: self.n_slack], strict=True)}
            if self.n_slack
            else {}
        )
        return LPSolve(OPTIMAL, objective, x, duals, slack, None)

    def write(self, path: str) -> None:
        """Write the current LP (MPS or LP by the file's suffix) for a bug report."""
        self.highs.writeModel(path)


def _inward(row: Row) -> float:
    """+1 on a balance band's lower row, -1 on its upper row, 0 on capacities and the cap."""
    if row.family in ("pot_lo", "work_lo"):
        return 1.0
    return -1.0 if row.family in ("pot_hi", "work_hi") else 0.0

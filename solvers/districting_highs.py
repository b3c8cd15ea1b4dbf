"""The districting model held live in HiGHS: built once from arrays, cut rows appended.

:class:`solvers.districting.DistrictingProblem` builds the model through PuLP, so that any PuLP
MILP solver can take it; PuLP rebuilds and re-sends the whole problem on every solve, and reads
back reduced costs in its own column order. This module builds the *same* rows and columns
(same families, same order, same coefficients) straight into a ``highspy.Highs`` object, which
then lives across the contiguity rounds: separator cuts are appended as rows, the best
contiguous plan is handed back with ``setSolution`` as the incumbent, reduced costs come from
the LP in our column order, and, for large instances, columns (unit-centre pairs) are added
by pricing all pairs with numpy against the LP duals (see :meth:`HighsDistricting.price`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from solvers.backends import highs_status, run_highs, stdout_silenced

if TYPE_CHECKING:
    from solvers.districting import Districting


@dataclass(frozen=True)
class HighsReport:
    """One solve: status in our words, objective and bound in the model's cost units."""

    status: str
    has_solution: bool
    objective: float | None
    bound: float | None
    seconds: float
    raw_status: str
    nodes: int = 0


class HighsDistricting:
    """The cost-phase model of :class:`Districting` in a live ``highspy.Highs``.

    ``pairs`` restricts the (unit, centre) columns to a subset (column generation); by default
    every finite pair is a column. Greenfield centres always have their own column (the open
    indicator).
    """

    def __init__(
        self,
        model: Districting,
        pairs: tuple[np.ndarray, np.ndarray] | None = None,
        seed: int = 0,
    ) -> None:
        import highspy

        self.model = model
        self.inf = highspy.kHighsInf
        finite = np.isfinite(model.cost)
        if model.greenfield:
            assert model.centre_unit is not None
            finite[model.centre_unit, np.arange(model.n_centres)] = True
        if pairs is None:
            pair_u, pair_c = np.nonzero(finite)
        else:
            keep = np.zeros_like(finite)
            keep[pairs[0], pairs[1]] = True
            if model.greenfield:
                assert model.centre_unit is not None
                keep[model.centre_unit, np.arange(model.n_centres)] = True
            pair_u, pair_c = np.nonzero(keep & finite)
        with stdout_silenced():  # HiGHS prints a banner on creation
            self.highs = highspy.Highs()
        for option, value in (("output_flag", False), ("threads", 1), ("random_seed", seed)):
            self.highs.setOptionValue(option, value)
        self.pair_u = np.zeros(0, np.int64)
        self.pair_c = np.zeros(0, np.int64)
        self.own = np.full(model.n_centres, -1, dtype=np.int64)  # column of o_c
        self.n_cuts = 0
        self.integer = False
        self._rows()
        self._add_pairs(pair_u, pair_c)

    # ----- building -------------------------------------------------------------------------

    def _bands(self):
        m = self.model
        bands = [(m.potential, m.pot_target, m.tolerance)]
        if m.work_target is not None and m.work_tolerance is not None:
            bands.append((m.workload, m.work_target, m.work_tolerance))
        return bands

    def _rows(self) -> None:
        """Assignment, count and band rows, empty; columns bring their coefficients.

        Row order as in the PuLP model: assign per unit, count, then per centre the lower and
        upper band of each measure and the capacity. Link rows come with their columns.
        """
        m, inf = self.model, self.inf
        lower: list[float] = [1.0] * m.n_units
        upper: list[float] = [1.0] * m.n_units
        self.count_row = -1
        if m.greenfield:
            self.count_row = len(lower)
            lower.append(float(m.n_territories))
            upper.append(float(m.n_territories))
        bands = self._bands()
        self.band_rows = np.full((m.n_centres, len(bands), 2), -1, dtype=np.int64)
        self.cap_row = np.full(m.n_centres, -1, dtype=np.int64)
        for c in range(m.n_centres):
            for b, (_, target, tol) in enumerate(bands):
                for side, sign in ((0, -1.0), (1, 1.0)):
                    self.band_rows[c, b, side] = len(lower)
                    level = float(target[c] * (1 + sign * tol))
                    if m.greenfield:  # Σ p x - level·o ≷ 0
                        lower.append(0.0 if side == 0 else -inf)
                        upper.append(inf if side == 0 else 0.0)
                    else:
                        lower.append(level if side == 0 else -inf)
                        upper.append(inf if side == 0 else level)
            if m.capacity is not None and np.isfinite(m.capacity[c]):
                self.cap_row[c] = len(lower)
                lower.append(-inf)
                upper.append(float(m.capacity[c]))
        n = len(lower)
        self.highs.addRows(
            n,
            np.array(lower),
            np.array(upper),
            0,
            np.zeros(n, np.int32),
            np.zeros(0, np.int32),
            np.zeros(0),
        )

    def _add_pairs(self, pair_u: np.ndarray, pair_c: np.ndarray) -> None:
        """Append pairs as columns (with their link rows in a greenfield model)."""
        if len(pair_u) == 0:
            return
        m = self.model
        pair_u, pair_c = pair_u.astype(np.int64), pair_c.astype(np.int64)
        first = len(self.pair_u)
        col = np.arange(len(pair_u))
        is_own = (
            pair_u == m.centre_unit[pair_c]
            if m.centre_unit is not None
            else np.zeros(len(pair_u), bool)
        )
        self.own[pair_c[is_own]] = first + col[is_own]
        entries = [(col, pair_u, np.ones(len(col)))]
        if m.greenfield:
            entries.append(
                (
                    col[is_own],
                    np.full(int(is_own.sum()), self.count_row),
                    np.ones(int(is_own.sum())),
                )
            )
        for b, (values, target, tol) in enumerate(self._bands()):
            for side, sign in ((0, -1.0), (1, 1.0)):
                coef = values[pair_u].astype(float)
                if m.greenfield:
                    coef = coef - np.where(is_own, target[pair_c] * (1 + sign * tol), 0.0)
                entries.append((col, self.band_rows[pair_c, b, side], coef))
        cap = self.cap_row[pair_c]
        has_cap = cap >= 0
        entries.append((col[has_cap], cap[has_cap], m.workload[pair_u[has_cap]].astype(float)))
        cols = np.concatenate([e[0] for e in entries])
        rows = np.concatenate([e[1] for e in entries])
        vals = np.concatenate([e[2] for e in entries])
        keep = vals != 0
        cols, rows, vals = cols[keep], rows[keep], vals[keep]
        order = np.lexsort((rows, cols))
        cols, rows, vals = cols[order], rows[order], vals[order]
        starts = np.searchsorted(cols, col).astype(np.int32)
        cost = m.cost[pair_u, pair_c]
        cost = np.where(np.isfinite(cost), cost, 0.0) / m.cost_scale
        self.highs.addCols(
            len(col),
            cost,
            np.zeros(len(col)),
            np.ones(len(col)),
            len(vals),
            starts,
            rows.astype(np.int32),
            vals,
        )
        self.pair_u = np.concatenate([self.pair_u, pair_u])
        self.pair_c = np.concatenate([self.pair_c, pair_c])
        if self.integer:
            self._set_integer(first + col)
        if m.greenfield:  # link: x_uc - o_c <= 0 for every pair but the centre's own
            links = first + col[~is_own]
            owners = self.own[pair_c[~is_own]]
            self._add_link_rows(links, owners)

    def _add_link_rows(self, cols: np.ndarray, owners: np.ndarray) -> None:
        n = len(cols)
        if n == 0:
            return
        index = np.column_stack([cols, owners]).ravel().astype(np.int32)
        values = np.tile([1.0, -1.0], n)
        self.highs.addRows(
            n,
            np.full(n, -self.inf),
            np.zeros(n),
            2 * n,
            (2 * np.arange(n)).astype(np.int32),
            index,
            values,
        )

    def _set_integer(self, cols: np.ndarray) -> None:
        import highspy

        self.highs.changeColsIntegrality(
            len(cols),
            cols.astype(np.int32),
            np.array([highspy.HighsVarType.kInteger] * len(cols)),
        )

    def set_integer(self, integer: bool) -> None:
        """Switch between the LP relaxation and the MILP."""
        import highspy

        if integer == self.integer:
            return
        self.integer = integer
        kind = highspy.HighsVarType.kInteger if integer else highspy.HighsVarType.kContinuous
        n = len(self.pair_u)
        self.highs.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.array([kind] * n))

    # ----- pairs, cuts, solutions --------------------------------------------------------------

    def columns(self, units: np.ndarray, centre: int) -> np.ndarray:
        """Column of each (unit, centre) pair, -1 where the pair is not in the model."""
        key = self.pair_u * self.model.n_centres + self.pair_c
        order = np.argsort(key, kind="stable")
        wanted = np.asarray(units, np.int64) * self.model.n_centres + centre
        pos = np.searchsorted(key[order], wanted)
        pos = np.minimum(pos, len(order) - 1)
        found = key[order][pos] == wanted
        return np.where(found, order[pos], -1)

    def add_cut(self, piece: list[int], anchor: int, centre: int, separator: list[int]) -> int:
        """The a,b-separator cuts of :class:`DistrictingProblem.add_cut`, as rows."""
        sep = self.columns(np.array(separator, np.int64), centre)
        sep = sep[sep >= 0]
        units = self.columns(np.array(piece, np.int64), centre)
        fixed = not self.model.greenfield
        b = int(self.columns(np.array([anchor]), centre)[0]) if fixed else -1
        added = 0
        for a in units[units >= 0].tolist():
            index = [a] + ([b] if fixed and b >= 0 else []) + sep.tolist()
            values = [1.0] + ([1.0] if fixed and b >= 0 else []) + [-1.0] * len(sep)
            upper = 1.0 if fixed and b >= 0 else 0.0
            self.highs.addRow(
                -self.inf, upper, len(index), np.array(index, np.int32), np.array(values)
            )
            self.n_cuts += 1
            added += 1
        return added

    def vector(self, assignment: np.ndarray) -> np.ndarray:
        """Column values of a plan (every pair of the plan must be a column)."""
        x = np.zeros(len(self.pair_u))
        x[self.pair_c == assignment[self.pair_u]] = 1.0
        return x

    def has_plan(self, assignment: np.ndarray) -> bool:
        cols = self.pair_c == assignment[self.pair_u]
        return int(cols.sum()) == self.model.n_units

    def assignment(self, values: np.ndarray) -> np.ndarray:
        """Centre position per unit: the pair with the largest value."""
        out = np.full(self.model.n_units, -1, dtype=np.int64)
        order = np.lexsort((-values, self.pair_u))
        first = np.flatnonzero(np.diff(self.pair_u[order], prepend=-1) != 0)
        chosen = order[first]
        out[self.pair_u[chosen]] = self.pair_c[chosen]
        return out

    def fix(self, columns: np.ndarray) -> None:
        """Fix columns to 0 (reduced-cost fixing)."""
        n = len(columns)
        if n:
            self.highs.changeColsBounds(n, columns.astype(np.int32), np.zeros(n), np.zeros(n))

    # ----- solving ----------------------------------------------------------------------------

    def solve(
        self,
        *,
        integer: bool,
        time_limit: float,
        gap: float = 0.0,
        incumbent: np.ndarray | None = None,
        node_limit: int | None = None,
    ) -> HighsReport:
        """Solve the LP relaxation or the MILP; ``incumbent`` (a plan) is handed to HiGHS."""
        import highspy

        self.set_integer(integer)
        h = self.highs
        h.setOptionValue("time_limit", float(max(time_limit, 0.01)))
        if integer:
            h.setOptionValue("mip_rel_gap", float(gap))
            h.setOptionValue("mip_abs_gap", 1e-9)
            h.setOptionValue("mip_max_nodes", int(node_limit) if node_limit else 2**31 - 1)
            # with a plan in hand HiGHS's primal heuristics mostly cost time (a fifth of the
            # NC K=8 proof), so they are off; without one they are what finds a plan
            with_plan = incumbent is not None and self.has_plan(incumbent)
            h.setOptionValue("mip_heuristic_effort", 0.0 if with_plan else 0.05)
            if incumbent is not None and with_plan:
                solution = highspy.HighsSolution()
                solution.col_value = self.vector(incumbent).tolist()
                solution.value_valid = True
                h.setSolution(solution)
        start = time.perf_counter()
        run_highs(h)
        seconds = time.perf_counter() - start
        status = h.getModelStatus()
        info = h.getInfo()
        scale = self.model.cost_scale
        ours, has_solution, bound = highs_status(h, integer)
        objective = float(info.objective_function_value) * scale if has_solution else None
        return HighsReport(
            ours,
            has_solution,
            objective,
            None if bound is None else bound * scale,
            seconds,
            h.modelStatusToString(status),
            int(info.mip_node_count) if integer else 0,
        )

    def values(self) -> np.ndarray:
        return np.asarray(self.highs.getSolution().col_value, dtype=float)

    def assignment_duals(self) -> np.ndarray:
        """Duals of the assignment rows, in the model's cost units."""
        dual = np.asarray(self.highs.getSolution().row_dual, dtype=float)
        return dual[: self.model.n_units] * self.model.cost_scale

    def reduced_costs(self) -> np.ndarray:
        """Reduced cost of every column, in the model's cost units."""
        return np.asarray(self.highs.getSolution().col_dual, dtype=float) * self.model.cost_scale

    def price(self) -> np.ndarray:
        """Reduced cost of *every* finite pair against the LP duals (``+inf`` where forbidden).

        A pair not yet in the model enters with a link row whose dual is 0, so its reduced cost
        is its cost less the duals of its assignment, band and capacity rows: when none is
        negative the LP over the columns present is the LP over all pairs.
        """
        m = self.model
        dual = np.asarray(self.highs.getSolution().row_dual, dtype=float) * m.cost_scale
        reduced = m.cost - dual[: m.n_units, None]
        for b, (values, _, _) in enumerate(self._bands()):
            for side in (0, 1):
                reduced = reduced - values[:, None] * dual[self.band_rows[:, b, side]][None, :]
        has_cap = self.cap_row >= 0
        if has_cap.any():
            cap_dual = np.where(has_cap, dual[np.maximum(self.cap_row, 0)], 0.0)
            reduced = reduced - m.workload[:, None] * cap_dual[None, :]
        reduced[self.pair_u, self.pair_c] = self.reduced_costs()
        if m.greenfield:
            assert m.centre_unit is not None
            reduced[m.centre_unit, np.arange(m.n_centres)] = self.reduced_costs()[self.own]
        return np.where(np.isfinite(m.cost) | self._own_mask(), reduced, np.inf)

    def _own_mask(self) -> np.ndarray:
        mask = np.zeros(self.model.cost.shape, dtype=bool)
        if self.model.centre_unit is not None:
            mask[self.model.centre_unit, np.arange(self.model.n_centres)] = True
        return mask

    def add_pairs(self, pair_u: np.ndarray, pair_c: np.ndarray) -> int:
        """Append the given pairs that are not yet columns; returns how many were new."""
        present = np.zeros(self.model.cost.shape, dtype=bool)
        present[self.pair_u, self.pair_c] = True
        fresh = ~present[pair_u, pair_c]
        self._add_pairs(pair_u[fresh], pair_c[fresh])
        return int(fresh.sum())

    def write(self, path: str) -> None:
        """The model as MPS or LP (by suffix), for a bug report."""
        self.highs.writeModel(path)

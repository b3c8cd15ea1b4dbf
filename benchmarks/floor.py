"""Baseline (c): the LP of our own run handed straight to ``highspy`` as sparse arrays.

This is the floor for the formulation on this machine: no modelling layer, no pricing rounds,
one cold solve of the LP our column generation ended with. What it measures against ours:

* **Same LP.** The columns are the *final candidate pairs* of our run's cost-phase LP (the
  pairs it converged on, so its optimum is our LP relaxation value), captured in the benchmark
  process by :class:`LPCapture` without touching the solver. Where nothing was captured (the LP
  did not finish), the floor falls back to the initial nearest-rep + current-rep pairs and says
  so. The rows are the model's: one choose-one row per account and, per rep, the potential
  band, the workload band and capacity, plus the moved-potential cap. A band's two sides go in
  one ranged row (``lower <= a·x <= upper``), which HiGHS takes natively: the same feasible set
  as our separate ``>=``/``<=`` rows, with fewer rows, so a fair floor.
* **Same settings.** ``threads=1``, ``random_seed=0``, the same objective scale as our LP (the
  mean initial pair cost) and the same algorithm rule as our direct back-end's cold solve
  (interior point from ``IPM_MIN_COLUMNS`` columns, dual simplex below).
* **Timed apart.** ``arrays``: pair costs and the CSC matrix (numpy/scipy); ``pass``:
  ``Highs.passModel``; ``solve``: ``Highs.run``.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from solvers.formulation import BalancedAssignment

# column_generation calls whose result is *the* cost LP of a run (not a re-rounding or a
# relaxed-tolerance LP): the callers in solvers.solve / solvers.restricted that make it
LP_CALLERS = ("solve_balanced_assignment", "fixed_lp", "_feasible_candidates")


@dataclass
class CapturedLP:
    """The candidate pairs, objective and scale of the cost LP a run ended with."""

    pair_a: np.ndarray
    pair_r: np.ndarray
    objective: float | None
    cost_scale: float
    converged: bool


class LPCapture:
    """Record our run's final cost-phase LP by wrapping ``solvers.solve.column_generation``.

    Why a wrapper: the solve outcome does not keep the pairs, and the solver is being reworked;
    reading them on the way out changes nothing in the package. If the function is renamed the
    capture stays empty and the floor falls back to the initial candidate set (and says so).
    """

    def __init__(self) -> None:
        self.last: CapturedLP | None = None
        self._original: Callable[..., Any] | None = None

    def install(self) -> None:
        """Patch ``solvers.solve.column_generation`` in this process only."""
        import solvers.solve as solve

        original = getattr(solve, "column_generation", None)
        if original is None or self._original is not None:
            return
        self._original = original
        solve.column_generation = self._wrap(original)  # type: ignore[attr-defined]

    def uninstall(self) -> None:
        """Put the original function back (tests share the process)."""
        import solvers.solve as solve

        if self._original is not None:
            solve.column_generation = self._original  # type: ignore[attr-defined]
            self._original = None

    def _wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def recorded(model: BalancedAssignment, *args: Any, **kwargs: Any) -> Any:
            result = original(model, *args, **kwargs)
            caller = sys._getframe(1).f_code.co_name
            if (
                caller in LP_CALLERS
                and getattr(result, "phase", None) == "cost"
                and getattr(result, "duals", None) is not None
            ):
                self.last = CapturedLP(
                    np.asarray(result.pair_a, dtype=np.int64),
                    np.asarray(result.pair_r, dtype=np.int64),
                    result.objective,
                    float(model.cost_scale),
                    bool(result.converged),
                )
            return result

        return recorded


@dataclass
class FloorLP:
    """The LP as CSC arrays with row and column bounds, ready for ``passModel``."""

    cost: np.ndarray  # scaled
    matrix: sparse.csc_array
    row_lower: np.ndarray
    row_upper: np.ndarray
    cost_scale: float


def floor_arrays(
    model: BalancedAssignment, pair_a: np.ndarray, pair_r: np.ndarray, cost_scale: float
) -> FloorLP:
    """The cost LP over the given pairs (allowed pairs of active accounts) as sparse arrays."""
    inf = np.inf
    k = model.n_reps
    accounts = np.flatnonzero(model.active)
    n_assign = len(accounts)
    assign_row = np.full(model.n_accounts, -1, dtype=np.int64)
    assign_row[accounts] = np.arange(n_assign)
    lower: list[np.ndarray] = [np.ones(n_assign)]
    upper: list[np.ndarray] = [np.ones(n_assign)]
    n_rows = n_assign
    t = model.tolerance
    pot_row = n_rows + np.arange(k)
    lower.append((1 - t) * model.pot_target)
    upper.append((1 + t) * model.pot_target)
    n_rows += k
    work_lo = np.full(k, -inf)
    work_hi = np.asarray(model.capacity, dtype=float).copy()  # +inf where no capacity
    if model.work_target is not None and model.work_tolerance is not None:
        tw = model.work_tolerance
        work_lo = (1 - tw) * model.work_target
        work_hi = np.minimum(work_hi, (1 + tw) * model.work_target)
    has_work = np.isfinite(work_lo) | np.isfinite(work_hi)
    work_row = np.full(k, -1, dtype=np.int64)
    work_row[has_work] = n_rows + np.arange(int(has_work.sum()))
    lower.append(work_lo[has_work])
    upper.append(work_hi[has_work])
    n_rows += int(has_work.sum())
    moved_row = -1
    if model.max_moved is not None:
        moved_row = n_rows
        lower.append(np.array([-inf]))
        upper.append(np.array([model.max_moved]))
        n_rows += 1

    cost = model.costs.cost(pair_a, pair_r)
    keep = np.isfinite(cost) & model.active[pair_a]
    a, r, cost = pair_a[keep], pair_r[keep], cost[keep]
    col = np.arange(len(a))
    p, w = model.potential[a], model.workload[a]
    with_work = work_row[r] >= 0
    parts = [
        (col, assign_row[a], np.ones(len(a))),
        (col, pot_row[r], p),
        (col[with_work], work_row[r][with_work], w[with_work]),
    ]
    if moved_row >= 0:
        moves = model.is_move(a, r)
        parts.append((col[moves], np.full(int(moves.sum()), moved_row), p[moves]))
    cols = np.concatenate([c for c, _, _ in parts])
    rows = np.concatenate([rw for _, rw, _ in parts])
    values = np.concatenate([v for _, _, v in parts]).astype(float)
    matrix = sparse.csc_array((values, (rows, cols)), shape=(n_rows, len(a)))
    matrix.sum_duplicates()
    matrix.sort_indices()
    return FloorLP(
        cost / cost_scale, matrix, np.concatenate(lower), np.concatenate(upper), cost_scale
    )


def solve_floor(lp: FloorLP, time_limit: float, seed: int = 0) -> dict[str, Any]:
    """Pass ``lp`` to a fresh ``highspy.Highs`` and solve it once, cold; seconds per step."""
    import highspy

    from solvers.backends import stdout_silenced
    from solvers.lp_backends import IPM_MIN_COLUMNS

    n_rows, n_cols = lp.matrix.shape
    algorithm = "ipm" if n_cols >= IPM_MIN_COLUMNS else "simplex"
    with stdout_silenced():  # HiGHS prints a banner on creation
        highs = highspy.Highs()
    for option, value in (
        ("output_flag", False),
        ("threads", 1),
        ("random_seed", seed),
        ("solver", algorithm),
        ("time_limit", float(time_limit)),
    ):
        highs.setOptionValue(option, value)
    start = time.perf_counter()
    model = highspy.HighsLp()
    model.num_col_, model.num_row_ = n_cols, n_rows
    model.col_cost_ = lp.cost
    model.col_lower_ = np.zeros(n_cols)
    model.col_upper_ = np.full(n_cols, np.inf)
    model.row_lower_, model.row_upper_ = lp.row_lower, lp.row_upper
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.num_col_, model.a_matrix_.num_row_ = n_cols, n_rows
    model.a_matrix_.start_ = lp.matrix.indptr.astype(np.int32)
    model.a_matrix_.index_ = lp.matrix.indices.astype(np.int32)
    model.a_matrix_.value_ = lp.matrix.data
    if highs.passModel(model) != highspy.HighsStatus.kOk:
        raise RuntimeError("HiGHS rejected the floor LP")
    passed = time.perf_counter()
    with stdout_silenced():
        highs.run()
    solved = time.perf_counter()
    info = highs.getInfo()
    status = highs.getModelStatus()
    optimal = status == highspy.HighsModelStatus.kOptimal
    return {
        "pass_seconds": passed - start,
        "solve_seconds": solved - passed,
        "status": highs.modelStatusToString(status),
        "optimal": bool(optimal),
        "objective": float(info.objective_function_value) * lp.cost_scale if optimal else None,
        "algorithm": algorithm,
        "simplex_iterations": int(info.simplex_iteration_count),
        "ipm_iterations": int(info.ipm_iteration_count),
        "crossover_iterations": int(info.crossover_iteration_count),
        "columns": int(n_cols),
        "rows": int(n_rows),
        "nonzeros": int(lp.matrix.nnz),
    }


def run_floor(
    model: BalancedAssignment,
    pair_a: np.ndarray,
    pair_r: np.ndarray,
    cost_scale: float,
    time_limit: float,
) -> dict[str, Any]:
    """Build the floor LP's arrays, pass them to HiGHS and solve: the record of baseline (c)."""
    start = time.perf_counter()
    lp = floor_arrays(model, pair_a, pair_r, cost_scale)
    arrays = time.perf_counter() - start
    out = solve_floor(lp, time_limit)
    out["arrays_seconds"] = arrays
    out["build_seconds"] = arrays + out["pass_seconds"]
    out["total_seconds"] = out["build_seconds"] + out["solve_seconds"]
    return out


__all__ = ["CapturedLP", "FloorLP", "LPCapture", "floor_arrays", "run_floor", "solve_floor"]

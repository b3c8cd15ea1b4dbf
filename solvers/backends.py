"""Solver back-ends, picked by name through PuLP, and their statuses in our own words."""

from __future__ import annotations

import contextlib
import importlib.metadata
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pulp

from territory.errors import SolverUnavailableError

ALIASES = {"highs": "HiGHS", "cbc": "PULP_CBC_CMD", "coin": "COIN_CMD", "glpk": "GLPK_CMD"}

# Our status vocabulary (run.json "status").
OPTIMAL = "optimal"
FEASIBLE = "feasible"
TIME_LIMIT = "time_limit"
INFEASIBLE = "infeasible"
ERROR = "error"


def available_solvers() -> dict[str, str]:
    """Installed PuLP back-ends and, where known, their versions."""
    versions = {"HiGHS": _package_version("highspy"), "PULP_CBC_CMD": "bundled with PuLP"}
    return {name: versions.get(name, "") for name in pulp.listSolvers(onlyAvailable=True)}


def _package_version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return ""


def canonical_name(name: str) -> str:
    return ALIASES.get(name.lower(), name)


def make_solver(
    name: str,
    *,
    mip: bool,
    time_limit: float | None = None,
    gap: float | None = None,
    gap_abs: float | None = None,
    node_limit: int | None = None,
) -> Any:
    """A configured PuLP solver, or :class:`SolverUnavailableError` listing what is installed."""
    canonical = canonical_name(name)
    available = available_solvers()
    if canonical not in available:
        listing = ", ".join(sorted(available)) or "none"
        raise SolverUnavailableError(
            f"solver '{name}' is not available. Installed: {listing}. "
            "HiGHS comes with territory (pip install highspy)."
        )
    options: dict[str, Any] = {"msg": False, "mip": mip}
    if time_limit is not None:
        options["timeLimit"] = max(1, math.ceil(time_limit)) if canonical != "HiGHS" else time_limit
    if gap is not None and mip:
        options["gapRel"] = gap
    if gap_abs is not None and mip:
        options["gapAbs"] = gap_abs
    if canonical == "HiGHS":
        options["threads"] = 1  # deterministic results
        if node_limit is not None and mip:
            options["mip_max_nodes"] = node_limit  # a work limit that, unlike time, repeats
    return pulp.getSolver(canonical, **options)


@dataclass(frozen=True)
class SolveReport:
    """What one solver call gave back, normalised."""

    status: str
    has_solution: bool
    objective: float | None
    bound: float | None
    seconds: float
    raw_status: str
    nodes: int | None = None


@contextlib.contextmanager
def stdout_silenced() -> Iterator[None]:
    """Keep solver banners off stdout (it carries our reports); works at the descriptor level."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def run_solver(prob: pulp.LpProblem, solver: Any) -> SolveReport:
    """Solve and read the solver's own status (PuLP alone reports time-limited runs as optimal)."""
    start = time.perf_counter()
    try:
        with stdout_silenced():
            prob.solve(solver)
    except pulp.PulpSolverError as exc:
        return SolveReport(ERROR, False, None, None, time.perf_counter() - start, str(exc))
    except KeyError as exc:
        if not _highs_status_unmapped(prob, solver, exc):
            raise
        _read_highs_solution(prob, prob.solverModel)
    seconds = time.perf_counter() - start
    model = getattr(prob, "solverModel", None)
    if solver.name == "HiGHS" and model is not None:
        raise_if_interrupted(model)
        return _highs_report(prob, model, seconds)
    status = pulp.LpStatus.get(prob.status, str(prob.status))
    has_solution = prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    objective = pulp.value(prob.objective) if has_solution else None
    if prob.status == pulp.LpStatusInfeasible:
        ours = INFEASIBLE
    elif prob.sol_status == pulp.LpSolutionOptimal:
        ours = OPTIMAL
    elif has_solution:
        ours = FEASIBLE
    else:
        ours = ERROR
    bound = objective if ours == OPTIMAL else None
    return SolveReport(ours, has_solution, objective, bound, seconds, status)


def _highs_status_unmapped(prob: pulp.LpProblem, solver: Any, exc: KeyError) -> bool:
    """Whether ``exc`` is PuLP 3.3's HiGHS wrapper failing to look up the model's status.

    Its status table lacks kSolutionLimit (a ``mip_max_nodes`` stop), kMemoryLimit and
    kHighsInterrupt, so it raises after HiGHS has finished; the model itself still holds the
    status and any solution, which :func:`_highs_report` reads. PuLP 4.x maps every status.
    """
    model = getattr(prob, "solverModel", None)
    return (
        solver.name == "HiGHS" and model is not None and exc.args[:1] == (model.getModelStatus(),)
    )


def _read_highs_solution(prob: pulp.LpProblem, model: Any) -> None:
    """Give each variable its value from the finished highspy model (what PuLP's wrapper
    would have done had it known the status); no values where HiGHS holds no solution."""
    has_solution = _holds_solution(model.getInfo())
    values = list(model.getSolution().col_value) if has_solution else []
    for var in prob.variables():
        var.varValue = values[var.index] if has_solution else None  # column set by PuLP 3.3
    prob.assignStatus(
        pulp.LpStatusNotSolved,
        pulp.LpSolutionIntegerFeasible if has_solution else pulp.LpSolutionNoSolutionFound,
    )


def _holds_solution(info: Any) -> bool:
    import highspy

    return bool(info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible)


def run_highs(model: Any) -> None:
    """Run a highspy model with its banner off stdout.

    HiGHS catches Ctrl-C itself and stops with status ``kInterrupt``, which would pass for a
    time limit and let the run go on and write its files; it is raised again here as
    ``KeyboardInterrupt`` (the CLI then exits 130 and writes nothing).
    """
    with stdout_silenced():
        model.run()
    raise_if_interrupted(model)


def raise_if_interrupted(model: Any) -> None:
    """``KeyboardInterrupt`` if the user's Ctrl-C stopped this highspy model (see ``run_highs``)."""
    import highspy

    if model.getModelStatus() == highspy.HighsModelStatus.kInterrupt:
        raise KeyboardInterrupt


def highs_status(model: Any, is_mip: bool) -> tuple[str, bool, float | None]:
    """Our status, whether a plan is held, and the proven bound, read from a highspy model.

    A run stopped by a work limit (nodes, solutions, iterations) with a plan is ``feasible``;
    only the clock makes ``time_limit``.
    """
    import highspy

    status = model.getModelStatus()
    info = model.getInfo()
    statuses = highspy.HighsModelStatus
    has_solution = _holds_solution(info)
    bound: float | None = None
    if status == statuses.kOptimal:
        ours = OPTIMAL
        bound = float(info.mip_dual_bound if is_mip else info.objective_function_value)
    elif status in (statuses.kInfeasible, statuses.kUnboundedOrInfeasible):
        ours, has_solution = INFEASIBLE, False
    elif status == statuses.kTimeLimit:
        ours = TIME_LIMIT
    elif has_solution:
        ours = FEASIBLE
    else:
        ours = ERROR
    if is_mip and bound is None and math.isfinite(info.mip_dual_bound):
        bound = float(info.mip_dual_bound)
    return ours, has_solution, bound


def _highs_report(prob: pulp.LpProblem, model: Any, seconds: float) -> SolveReport:
    is_mip = prob.isMIP()
    ours, has_solution, bound = highs_status(model, is_mip)
    info = model.getInfo()
    objective = float(info.objective_function_value)
    status = model.getModelStatus()
    return SolveReport(
        ours,
        has_solution,
        objective if has_solution else None,
        bound,
        seconds,
        model.modelStatusToString(status),
        int(info.mip_node_count) if is_mip else None,
    )

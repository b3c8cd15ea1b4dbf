"""Trade-off sweeps: one full alignment per (tolerance, moved cap) point, and their Pareto set.

Each point is an independent :func:`territory.align.align` call on the same inputs, so points
run in parallel: on a local process pool, or on a Dask cluster. The solve is deterministic
(node limits, not clocks, bound its MILPs), so a point gives the same plan wherever it runs.

Criteria, all minimised: **balance** = the largest distance of a potential index from 100
(``max_index_deviation``, index points), **travel** = ``mean_distance_km``, **disruption** =
``moved_potential_share``. A point is on the Pareto front (``pareto``) when it has a plan that
meets its constraints and no other such point is at least as good on all three criteria and
better on one. The **knee** is the Pareto point nearest the ideal point (each criterion at its
best over the front) once every criterion is scaled to [0, 1] over the front: the plan that
gives up the least on all three at once.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from solvers import SolveOutcome
from territory.align import Plan, align, facts_of
from territory.errors import UsageError
from territory.inputs import AlignmentInputs
from territory.params import AlignParams
from territory.runs import FEASIBLE_STATUSES

CRITERIA = ("max_index_deviation", "mean_distance_km", "moved_potential_share")
KNEE_RULE = (
    "the Pareto point nearest the ideal point (each criterion at its best over the front), "
    "every criterion scaled to [0, 1] over the front; ties go to the first point"
)
Report = Callable[[int, int, Plan], None]
S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class SweepJob:
    """What every point shares: the (edited) inputs and the optional travel-time table."""

    inputs: AlignmentInputs
    travel: pd.DataFrame | None = None


@dataclass
class PointResult:
    """A point's solve, without the inputs (which the caller already holds)."""

    outcome: SolveOutcome
    coverable: np.ndarray
    prechecks: list[str]
    timings: dict[str, float]
    objective: float | None

    def plan(self, inputs: AlignmentInputs, params: AlignParams) -> Plan:
        plan = Plan(
            inputs,
            params,
            self.outcome.assignment,
            facts_of(inputs, self.coverable),
            self.outcome,
            self.prechecks,
            self.timings,
        )
        plan.objective = self.objective
        return plan


@dataclass
class Sweep:
    """The plans of a sweep, in grid order, with the table that compares them."""

    params: list[AlignParams]
    plans: list[Plan]
    table: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.table = sweep_table(self.plans)


def sweep_params(
    base: AlignParams,
    tolerances: Sequence[float] | None = None,
    max_moved: Sequence[float | None] | None = None,
) -> list[AlignParams]:
    """The grid: every tolerance × every moved cap (a missing list keeps the base value).

    Values repeat only once; each is checked as ``align`` checks it.
    """
    tols = list(dict.fromkeys(tolerances)) if tolerances else [base.tolerance]
    caps = list(dict.fromkeys(max_moved)) if max_moved else [base.max_moved]
    return [replace(base, tolerance=t, max_moved=m) for t, m in itertools.product(tols, caps)]


def solve_point(job: SweepJob, params: AlignParams) -> PointResult:
    """One point's full alignment (a top-level function, so that it pickles)."""
    plan = align(job.inputs, params, travel_times=job.travel)
    assert plan.outcome is not None
    return PointResult(
        plan.outcome, plan.facts.coverable, plan.prechecks, plan.timings, plan.objective
    )


_WORKER: tuple[Callable[[Any, Any], Any], Any] | None = None


def _init_worker(func: Callable[[Any, Any], Any], shared: Any) -> None:
    global _WORKER
    _WORKER = (func, shared)


def _call_in_worker(item: Any) -> Any:
    assert _WORKER is not None
    func, shared = _WORKER
    return func(shared, item)


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def run_parallel(
    func: Callable[[S, T], R],
    shared: S,
    items: Sequence[T],
    done: Callable[[int, R], None],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
) -> None:
    """``done(i, func(shared, items[i]))`` for every item, as they finish: on the Dask
    scheduler at ``scheduler`` when given, else on a local pool of ``workers`` processes (one:
    in this process). ``func`` must be a top-level function (it is pickled); ``shared`` is
    sent once per worker."""
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise UsageError("--workers must be at least 1.")
    if scheduler is not None:
        _run_dask(func, shared, items, scheduler, done)
    elif workers == 1 or len(items) == 1:
        for i, item in enumerate(items):
            done(i, func(shared, item))
    else:
        context = multiprocessing.get_context("spawn")  # no fork of a threaded solver process
        pool = ProcessPoolExecutor(
            min(workers, len(items)),
            mp_context=context,
            initializer=_init_worker,
            initargs=(func, shared),
        )
        try:
            futures = {pool.submit(_call_in_worker, item): i for i, item in enumerate(items)}
            for future in as_completed(futures):
                done(futures[future], future.result())
        finally:  # on a failure or Ctrl-C, do not wait for the points still queued
            pool.shutdown(wait=True, cancel_futures=True)


def run_sweep(
    job: SweepJob,
    params: list[AlignParams],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    report: Report | None = None,
) -> Sweep:
    """Solve every point with :func:`run_parallel`; ``report(done, total, plan)`` is called
    as points finish."""
    if not params:
        raise UsageError("a sweep needs at least one point.")
    results: list[PointResult | None] = [None] * len(params)

    def done(i: int, result: PointResult) -> None:
        results[i] = result
        if report is not None:
            finished = sum(r is not None for r in results)
            report(finished, len(params), result.plan(job.inputs, params[i]))

    run_parallel(solve_point, job, params, done, workers=workers, scheduler=scheduler)
    finished = [r for r in results if r is not None]
    assert len(finished) == len(params)  # every point reported or raised
    return Sweep(params, [r.plan(job.inputs, p) for r, p in zip(finished, params, strict=True)])


def _run_dask(
    func: Callable[[Any, Any], Any],
    shared: Any,
    items: Sequence[Any],
    scheduler: str,
    done: Callable[[int, Any], None],
) -> None:
    from dask.distributed import Client
    from dask.distributed import as_completed as dask_completed

    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    with client:
        scattered = client.scatter(shared, broadcast=True)
        futures = client.map(func, [scattered] * len(items), list(items), pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        for future in dask_completed(futures):
            done(index[future.key], future.result())


def pareto_mask(values: np.ndarray, eligible: np.ndarray | None = None) -> np.ndarray:
    """Rows not dominated by another eligible row (all columns minimised).

    Row *p* dominates *q* when it is <= on every column and < on one; rows that are equal do
    not dominate each other. Ineligible rows (and rows with NaN) are never on the front.
    """
    values = np.asarray(values, dtype=float)
    ok = ~np.isnan(values).any(axis=1)
    if eligible is not None:
        ok &= np.asarray(eligible, dtype=bool)
    le = (values[:, None, :] <= values[None, :, :]).all(axis=2)
    lt = (values[:, None, :] < values[None, :, :]).any(axis=2)
    dominates = le & lt & ok[:, None]  # dominates[p, q]: p dominates q
    return ok & ~dominates.any(axis=0)


def knee_index(values: np.ndarray, front: np.ndarray) -> int | None:
    """The knee of the front (see the module docstring); None when the front is empty."""
    rows = np.flatnonzero(front)
    if len(rows) == 0:
        return None
    sub = np.asarray(values, dtype=float)[rows]
    low, span = sub.min(axis=0), np.ptp(sub, axis=0)
    scaled = np.where(span > 0, (sub - low) / np.where(span > 0, span, 1.0), 0.0)
    distance = np.sqrt((scaled**2).sum(axis=1))
    return int(rows[int(np.argmin(distance))])


def point_row(plan: Plan) -> dict[str, object]:
    """The sweep table's figures for one plan, from the plain metric functions."""
    m = plan.metrics()
    outcome = plan.outcome
    index = plan.rep_summary()["potential_index"].to_numpy()
    index = index[np.isfinite(index)]
    accounts = int(m["accounts"] or 0)
    return {
        "tolerance": plan.params.tolerance,
        "max_moved": plan.params.max_moved,
        "status": plan.status,
        "objective": plan.objective,
        "lower_bound": outcome.lower_bound if outcome else None,
        "gap": outcome.gap if outcome else None,
        "potential_index_min": m["potential_index_min"],
        "potential_index_max": m["potential_index_max"],
        "max_index_deviation": float(np.abs(index - 100).max()) if len(index) else np.nan,
        "potential_cv": m["potential_cv"],
        "total_distance_km": m["total_distance_km"],
        "mean_distance_km": m["mean_distance_km"],
        "moved_accounts": m["moved_accounts"],
        "moved_accounts_share": int(m["moved_accounts"] or 0) / accounts if accounts else 0.0,
        "moved_potential_share": m["moved_potential_share"],
        "uncovered_accounts": m["uncovered_accounts"],
    }


def sweep_table(plans: Sequence[Plan]) -> pd.DataFrame:
    """``pareto.csv``: one row per point with its figures, the Pareto flag and the knee."""
    table = pd.DataFrame([point_row(p) for p in plans])
    table.insert(0, "point", np.arange(1, len(table) + 1))
    values = table[list(CRITERIA)].to_numpy(dtype=float)
    front = pareto_mask(values, table["status"].isin(FEASIBLE_STATUSES).to_numpy())
    table["pareto"] = front
    knee = knee_index(values, front)
    table["knee"] = np.arange(len(table)) == knee if knee is not None else False
    return table

"""Unit-based alignment and greenfield design: whole units to territories (``align --units``).

With a roster, every rep keeps its home base and receives whole units. Without one,
``--territories K`` opens K territories centred on units chosen by the model (a p-median with
balance bands; with ``--distance squared`` Hess's moment of inertia). ``--contiguity`` makes
every territory one connected set of units. The plan is scored by the same metric functions as
an account-level plan; see :mod:`solvers.districting` for the model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from solvers.backends import (
    ERROR,
    FEASIBLE,
    INFEASIBLE,
    OPTIMAL,
    TIME_LIMIT,
    canonical_name,
    make_solver,
)
from solvers.districting import Districting, locate_allocate, solve_districting
from solvers.solve import SolveOutcome
from territory.adjacency import Adjacency, connect_parts, contiguous, unit_adjacency
from territory.align import Plan, facts_of
from territory.geo import haversine_km
from territory.metrics import PlanFacts, fte_targets, rep_ids_of
from territory.params import AlignParams
from territory.unit_inputs import UnitInputs

Progress = Callable[[str, str], None]
HEURISTIC_SHARE = 0.3  # of the time limit, for the greenfield starting plan


@dataclass(frozen=True)
class UnitOptions:
    """What a unit-based run adds to the alignment parameters."""

    contiguity: bool = False
    adjacency: str = "rook"
    connect_islands: bool = False


@dataclass
class UnitPlan(Plan):
    """A plan of whole units; the run directory also gets units and territory polygons."""

    unit_inputs: UnitInputs | None = None
    unit_options: UnitOptions = field(default_factory=UnitOptions)
    graph: Adjacency | None = None
    centre_units: np.ndarray | None = None  # greenfield: unit position of each territory centre

    @property
    def item_word(self) -> str:
        ui = self.unit_inputs
        return "accounts" if ui is not None and ui.accounts is not None else "units"

    @property
    def tracks_changes(self) -> bool:
        return self.unit_inputs is not None and not self.unit_inputs.greenfield

    def _account_territory(self) -> np.ndarray:
        ui = self.unit_inputs
        assert ui is not None and ui.account_units is not None
        return self.assignment[ui.account_units.unit]

    def rep_summary(self) -> pd.DataFrame:
        table = super().rep_summary()
        k = len(table)
        a = self.assignment
        table.insert(2, "units", np.bincount(a[a >= 0], minlength=k))
        ui = self.unit_inputs
        if ui is not None and ui.accounts is not None:
            t = self._account_territory()
            table["accounts"] = np.bincount(t[t >= 0], minlength=k)
        return table

    def assignments(self) -> pd.DataFrame:
        ui = self.unit_inputs
        if ui is None or ui.accounts is None:
            return super().assignments()
        return self._account_rows()

    def _account_rows(self) -> pd.DataFrame:
        """One row per account: the rep of its unit, moves judged on its own rep today."""
        ui = self.unit_inputs
        assert ui is not None and ui.accounts is not None and ui.account_units is not None
        acc = ui.accounts
        t = self._account_territory()
        reps = self.inputs.reps
        ids = reps["rep_id"].to_numpy(dtype=object)
        rep_id = rep_ids_of(t, ids)
        position = {r: i for i, r in enumerate(reps["rep_id"])}
        today = np.array([position.get(v, -1) for v in acc["current_rep"]], dtype=np.int64)
        if ui.greenfield:
            today[:] = -1
        moved = (today >= 0) & (t >= 0) & (t != today)
        change = np.select(
            [t < 0, moved, (today < 0) & (t >= 0)], ["uncovered", "moved", "inherited"], "kept"
        )
        facts = self.facts
        account_xy = None
        if facts.planar is not None:
            account_xy = _project(ui, acc["lat"].to_numpy(), acc["lon"].to_numpy())
        distance = np.full(len(acc), np.nan)
        on = t >= 0
        if account_xy is not None and facts.planar is not None:
            distance[on] = np.hypot(*(account_xy[on] - facts.planar[1][t[on]]).T)
        else:
            distance[on] = haversine_km(
                acc["lat"].to_numpy()[on],
                acc["lon"].to_numpy()[on],
                facts.rep_lat[t[on]],
                facts.rep_lon[t[on]],
            )
        front = pd.DataFrame(
            {
                "account_id": acc["account_id"].to_numpy(),
                "rep_id": rep_id,
                "previous_rep": acc["current_rep"].to_numpy(),
                "moved": moved,
                "distance_km": np.round(distance, 3),
                "potential": acc["potential"].to_numpy(),
                "workload": acc["workload"].to_numpy(),
                "unit_id": ui.layer.ids[ui.account_units.unit],
                "lat": acc["lat"].to_numpy(),
                "lon": acc["lon"].to_numpy(),
                "change": change,
            }
        )
        carried = acc.drop(
            columns=["account_id", "lat", "lon", "potential", "workload", "current_rep"]
        ).reset_index(drop=True)
        carried = carried.drop(columns=[c for c in carried.columns if c in front.columns])
        return pd.concat([front, carried], axis=1)

    def extra_failures(self) -> list[str]:
        if (
            self.unit_options.contiguity
            and self.graph is not None
            and self.status in ("optimal", "feasible", "time_limit")
            and not contiguous(self.graph, self.assignment)
        ):
            return ["a territory is not contiguous"]
        return []

    def extra_record(self) -> dict:
        ui = self.unit_inputs
        assert ui is not None
        graph = self.graph
        parts = graph.parts() if graph is not None else None
        ids = ui.layer.ids
        record = {
            "units": {
                "file": ui.layer.source,
                "count": ui.layer.n_units,
                "crs": ui.layer.crs,
                "distance": "planar km in " + ui.layer.crs if ui.layer.crs else "great-circle km",
                "greenfield": ui.greenfield,
                "territories": ui.territories,
                "accounts_joined_by": ui.account_units.method if ui.account_units else None,
                "adjacency": self.unit_options.adjacency,
                "contiguity": self.unit_options.contiguity,
                "parts": None if parts is None else int(parts.max() + 1),
                "islands": [] if graph is None else [str(ids[i]) for i in graph.islands()],
                "links_added": []
                if graph is None
                else [[str(ids[a]), str(ids[b])] for a, b in graph.links],
                "contiguous_territories": None
                if graph is None
                else bool(contiguous(graph, self.assignment)),
                "centres": None
                if self.centre_units is None
                else [str(ids[u]) for u in self.centre_units],
            }
        }
        return record

    def write_extras(self, directory: Path) -> None:
        from territory.unit_outputs import write_territories, write_unit_table

        ui = self.unit_inputs
        assert ui is not None
        if ui.accounts is not None:
            write_unit_table(self, directory / "units.csv")
        write_territories(self, directory)


def _project(ui: UnitInputs, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """WGS84 points in the run's projected CRS, km."""
    from pyproj import CRS, Transformer

    assert ui.layer.crs is not None
    crs = CRS.from_user_input(ui.layer.crs)
    transformer = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = transformer.transform(lon, lat)
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return np.column_stack([x, y]) * factor / 1000.0


def _distances(ui: UnitInputs, to_lat: np.ndarray, to_lon: np.ndarray) -> np.ndarray:
    """Km from every unit centroid to every point (planar in --crs, else great-circle)."""
    frame = ui.units
    if ui.layer.xy_km is not None:
        to_xy = _project(ui, to_lat, to_lon)
        diff = ui.layer.xy_km[:, None, :] - to_xy[None, :, :]
        return np.hypot(diff[..., 0], diff[..., 1])
    lat, lon = frame["lat"].to_numpy(), frame["lon"].to_numpy()
    return haversine_km(lat[:, None], lon[:, None], to_lat[None, :], to_lon[None, :])


def _weights(ui: UnitInputs, params: AlignParams) -> np.ndarray:
    frame = ui.units
    if params.weighting == "potential":
        return frame["potential"].to_numpy(float)
    if params.weighting == "workload":
        return frame["workload"].to_numpy(float)
    return np.ones(len(frame))


def unit_costs(ui: UnitInputs, params: AlignParams, distance: np.ndarray) -> np.ndarray:
    """Objective coefficient of every (unit, centre) pair; ``+inf`` where not allowed."""
    d = distance**2 if params.distance == "squared" else distance
    cost = _weights(ui, params)[:, None] * d
    if params.max_distance is not None:
        cost = np.where(distance > params.max_distance, np.inf, cost)
    if ui.reps is not None:
        position = {r: i for i, r in enumerate(ui.reps["rep_id"])}
        current = np.array([position.get(v, -1) for v in ui.units["current_rep"]])
        if params.move_penalty > 0:
            pot = ui.units["potential"].to_numpy(float)
            away = (current[:, None] >= 0) & (np.arange(cost.shape[1])[None, :] != current[:, None])
            cost = cost + np.where(away, params.move_penalty * pot[:, None], 0.0)
        locked = np.array([position.get(v, -1) for v in ui.units["locked_rep"]])
        for u in np.flatnonzero(locked >= 0):
            keep = cost[u, locked[u]]
            cost[u, :] = np.inf
            cost[u, locked[u]] = keep
    return cost


def precheck(model: Districting, ids: np.ndarray, graph: Adjacency | None) -> list[str]:
    """Reasons, in words, why no plan can meet the bands (empty when none is found)."""
    reasons: list[str] = []
    upper = (1 + model.tolerance) * float(model.pot_target.max())
    heavy = np.flatnonzero(model.potential > upper * (1 + 1e-9))
    for u in heavy[:5]:
        reasons.append(
            f"unit '{ids[u]}' alone has potential {model.potential[u]:,.6g}, "
            f"{100 * model.potential[u] / model.pot_target.max():.1f}% of a territory's target; "
            f"the band allows at most {100 * (1 + model.tolerance):.1f}%."
        )
    if graph is not None and model.greenfield:
        reasons += _parts_precheck(model, ids, graph)
    return reasons


def _parts_precheck(model: Districting, ids: np.ndarray, graph: Adjacency) -> list[str]:
    """With contiguity each part of the unit map holds whole territories: check it can."""
    labels = graph.parts()
    n_parts = int(labels.max() + 1)
    if n_parts == 1:
        return []
    target = float(model.pot_target.max())
    lo, hi = (1 - model.tolerance) * target, (1 + model.tolerance) * target
    totals = np.bincount(labels, weights=model.potential, minlength=n_parts)
    choices = []
    for total in totals:
        low = int(np.ceil(total / hi - 1e-9)) if total > 0 else 0
        high = int(np.floor(total / lo + 1e-9)) if lo > 0 else model.n_territories
        choices.append(range(low, min(high, model.n_territories) + 1))
    reachable = {0}
    for options in choices:
        reachable = {r + k for r in reachable for k in options if r + k <= model.n_territories}
    if model.n_territories in reachable:
        return []
    parts = []
    for p in np.argsort(-totals)[:4]:
        first = ids[np.flatnonzero(labels == p)[0]]
        parts.append(f"the part with unit '{first}' holds {totals[p] / target:.2f} territories")
    return [
        f"with --contiguity each of the {n_parts} disconnected parts of the unit map must hold a "
        f"whole number of territories within ±{model.tolerance:.1%}, and they cannot ("
        + "; ".join(parts)
        + "). Link the parts with --connect-islands, or widen --tolerance."
    ]


def design(
    ui: UnitInputs,
    params: AlignParams | None = None,
    options: UnitOptions | None = None,
    progress: Progress | None = None,
) -> UnitPlan:
    """Optimise a unit-based plan; the returned plan is scored by the metric functions."""
    params = params or AlignParams()
    options = options or UnitOptions()
    progress = progress or (lambda phase, detail: None)
    if params.max_moved is not None:
        from territory.errors import UsageError

        raise UsageError("--max-moved is not available with --units yet; use --move-penalty.")
    solver = canonical_name(params.solver)
    make_solver(solver, mip=True)  # fail early, with the list, if not installed
    start = time.perf_counter()
    layer = ui.layer
    graph = unit_adjacency(layer.projected, options.adjacency)  # type: ignore[arg-type]
    if options.connect_islands:
        graph = connect_parts(graph, layer.projected)
    progress(
        "units",
        f"{layer.n_units:,} units, {graph.graph.nnz // 2:,} {options.adjacency} contacts, "
        f"{int(graph.parts().max() + 1)} part(s)",
    )
    if ui.reps is None:
        centre_lat, centre_lon = ui.units["lat"].to_numpy(), ui.units["lon"].to_numpy()
    else:
        centre_lat, centre_lon = ui.reps["lat"].to_numpy(), ui.reps["lon"].to_numpy()
    distance = _distances(ui, centre_lat, centre_lon)
    cost = unit_costs(ui, params, distance)
    coverable = np.isfinite(cost).any(axis=1)
    model = _model(ui, params, cost, coverable)
    graph_used = _subgraph(graph, coverable) if options.contiguity else None
    ids = layer.ids[coverable]
    reasons = precheck(model, ids, graph_used)
    timings = {"model": time.perf_counter() - start}
    result = None
    if not reasons:
        incumbent = None
        if model.greenfield:
            t = time.perf_counter()
            incumbent = locate_allocate(
                model,
                solver=solver,
                time_limit=HEURISTIC_SHARE * params.time_limit,
                adjacency=graph_used,
                progress=progress,
            )
            timings["heuristic"] = time.perf_counter() - t
        t = time.perf_counter()
        result = solve_districting(
            model,
            solver=solver,
            time_limit=params.time_limit - (time.perf_counter() - start),
            gap=params.gap,
            adjacency=graph_used,
            incumbent=incumbent,
            progress=progress,
        )
        timings["solve"] = time.perf_counter() - t
    infeasibility = None
    if result is not None and result.assignment is None and result.status != INFEASIBLE:
        result.status = ERROR
        result.message = (
            f"no plan found within --time-limit {params.time_limit:g} s"
            + (" (no contiguous plan yet)" if options.contiguity else "")
            + "; raise --time-limit or widen --tolerance. The lower bound found is recorded."
        )
    if result is None or result.status == INFEASIBLE:
        t = time.perf_counter()
        result, infeasibility = _widen(model, params, solver, graph_used, reasons, progress)
        timings["infeasibility"] = time.perf_counter() - t
    plan_units = np.full(layer.n_units, -1, dtype=np.int64)
    if result.assignment is not None:
        plan_units[coverable] = result.assignment
    reps, assignment, centres = _territories(ui, plan_units, coverable)
    outcome = SolveOutcome(
        assignment=assignment,
        status=result.status if infeasibility is None else INFEASIBLE,
        objective=result.objective,
        lower_bound=result.lower_bound,
        gap=result.gap if result.status in (OPTIMAL, FEASIBLE, TIME_LIMIT) else None,
        message=result.message if infeasibility is None else infeasibility["reason"],
        solver=solver,
        mip={
            "model": "p-median with balance bands" if ui.greenfield else "balanced districting",
            "iterations": result.iterations,
            "contiguity_cuts": result.cuts,
            "nodes": result.nodes,
            "pruning": _without_seconds(result.fixing),
            "rounds": [_without_seconds(r) for r in result.history],
            "seconds": round(result.seconds, 3),
        },
        infeasibility=infeasibility,
        timings=timings,
    )
    inputs = ui.as_alignment_inputs(reps)
    facts = _facts(ui, inputs, coverable)
    plan = UnitPlan(
        inputs=inputs,
        params=params,
        assignment=assignment,
        facts=facts,
        outcome=outcome,
        prechecks=reasons,
        timings=timings,
        unit_inputs=ui,
        unit_options=options,
        graph=graph,
        centre_units=centres,
    )
    plan.objective = unit_objective(plan, params)
    return plan


def _without_seconds(record: dict | None) -> dict | None:
    """Solver records without their timings: run.json keeps timings in ``timings_s`` only."""
    if record is None:
        return None
    return {k: v for k, v in record.items() if k != "seconds"}


def _model(
    ui: UnitInputs, params: AlignParams, cost: np.ndarray, coverable: np.ndarray
) -> Districting:
    frame = ui.units
    pot = frame["potential"].to_numpy(float)[coverable]
    work = frame["workload"].to_numpy(float)[coverable]
    use_work = ui.has_workload and params.workload_tolerance is not None
    if ui.reps is None:
        n = int(coverable.sum())
        k = ui.territories
        fte = np.ones(n)
        pot_target = np.full(n, pot.sum() / k)
        work_target = np.full(n, work.sum() / k)
        centre_unit: np.ndarray | None = np.arange(n)
        cost = cost[np.ix_(coverable, coverable)]
        capacity = None
    else:
        fte = ui.reps["fte"].to_numpy(float)
        pot_target = fte_targets(float(pot.sum()), fte)
        work_target = fte_targets(float(work.sum()), fte)
        centre_unit = None
        cost = cost[coverable]
        capacity = ui.reps["capacity"].to_numpy(float)
        k = len(fte)
    return Districting(
        cost=cost,
        potential=pot,
        workload=work,
        pot_target=pot_target,
        tolerance=params.tolerance,
        n_territories=k,
        centre_unit=centre_unit,
        work_target=work_target if use_work else None,
        work_tolerance=params.workload_tolerance if use_work else None,
        capacity=capacity if capacity is not None and np.isfinite(capacity).any() else None,
    )


def _subgraph(graph: Adjacency, keep: np.ndarray) -> Adjacency:
    if keep.all():
        return graph
    idx = np.flatnonzero(keep)
    return Adjacency(graph.graph[idx][:, idx].tocsr(), graph.kind)


def _widen(model, params, solver, graph, reasons, progress):
    """No plan meets the bands: the tightest balance whole units allow, and a plan at it."""
    progress("widen", "searching the tightest balance that whole units allow")
    result = solve_districting(
        model,
        solver=solver,
        time_limit=max(5.0, params.time_limit / 2),
        gap=0.0,
        adjacency=graph,
        phase="widen",
    )
    tau = result.tau
    reason = " ".join(reasons) if reasons else result.message + "."
    if tau is not None and result.assignment is not None:
        proven = result.status == OPTIMAL
        reason += (
            f" The tightest balance whole units allow is ±{tau:.2%}"
            if proven
            else f" The closest plan found reaches ±{tau:.2%}"
        ) + "; the plan written meets it."
        # a plan at that tolerance, with the least cost
        relaxed = _with_tolerance(model, tau)
        better = solve_districting(
            relaxed,
            solver=solver,
            time_limit=max(5.0, params.time_limit / 2),
            gap=params.gap,
            adjacency=graph,
            incumbent=result.assignment,
        )
        if better.assignment is not None:
            result = better
    info = {
        "reason": reason,
        "proved_by": "precheck" if reasons else "MILP",
        "tightest_tolerance": tau,
        "tolerance_exact": bool(tau is not None and result.status == OPTIMAL),
    }
    result.status = INFEASIBLE
    return result, info


def _with_tolerance(model: Districting, tau: float) -> Districting:
    from dataclasses import replace

    ratio = (model.work_tolerance or 0.0) / model.tolerance if model.tolerance > 0 else 1.0
    return replace(
        model,
        tolerance=tau * (1 + 1e-9) + 1e-12,
        work_tolerance=None if model.work_tolerance is None else ratio * tau * (1 + 1e-9) + 1e-12,
    )


def _territories(
    ui: UnitInputs, plan_units: np.ndarray, coverable: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    """The reps of the plan (the roster, or one territory per opened centre) and the
    assignment of units to their positions."""
    if ui.reps is not None:
        return ui.reps, plan_units, None
    cov_index = np.flatnonzero(coverable)
    opened = np.unique(plan_units[plan_units >= 0])  # centre positions among coverable units
    centres = cov_index[opened]
    width = max(2, len(str(len(opened))))
    units = ui.units
    reps = pd.DataFrame(
        {
            "rep_id": [f"T{i + 1:0{width}d}" for i in range(len(opened))],
            "lat": units["lat"].to_numpy()[centres],
            "lon": units["lon"].to_numpy()[centres],
            "capacity": np.inf,
            "fte": 1.0,
            "centre_unit_id": ui.layer.ids[centres],
        }
    )
    lookup = np.full(max(int(plan_units.max()) + 1, 1), -1, dtype=np.int64)
    lookup[opened] = np.arange(len(opened))
    assignment = np.where(plan_units >= 0, lookup[np.maximum(plan_units, 0)], -1)
    return reps, assignment, centres


def _facts(ui: UnitInputs, inputs, coverable: np.ndarray) -> PlanFacts:
    reps = inputs.reps
    planar = None
    if ui.layer.xy_km is not None:
        planar = (
            ui.layer.xy_km,
            _project(ui, reps["lat"].to_numpy(float), reps["lon"].to_numpy(float)),
        )
    return facts_of(inputs, coverable, planar)


def unit_objective(plan: Plan, params: AlignParams) -> float | None:
    """The objective re-scored from the assignment: weighted (squared) distance plus the move
    penalty, with the metric functions' distances."""
    from territory.metrics import distances_km, moved

    a = plan.assignment
    if np.any(a[plan.facts.coverable] < 0):
        return None
    d = distances_km(plan.facts, a)
    d = d**2 if params.distance == "squared" else d
    frame = plan.inputs.accounts
    weight = {
        "potential": frame["potential"].to_numpy(float),
        "workload": frame["workload"].to_numpy(float),
        "none": np.ones(len(frame)),
    }[params.weighting]
    total = float(np.nansum(weight * d))
    if params.move_penalty > 0:
        total += params.move_penalty * float(
            plan.facts.potential[moved(a, plan.facts.current)].sum()
        )
    return total

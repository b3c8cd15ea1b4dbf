"""Headcount sizing: for each size, place home bases, align, and measure workload against
capacity, balance and travel.

For a headcount *K*: the kept roster's home bases stay, and ``K - len(roster)`` new home bases
are chosen among candidate sites by a p-median with balance bands over the accounts aggregated
to demand points (:mod:`solvers.location`); then the full account-level alignment
(:func:`territory.align.align`) assigns every account to the roster and the new reps at the
asked tolerances. Every figure of the sizing table is re-scored from that plan by the plain
metric functions.

Capacity is *imposed* on a size (a rep may not carry more workload than its capacity) when the
size's total capacity can hold the total workload and the plan meets it; otherwise the size is
solved without capacity rows and the excess is *measured*: workload coverage is
``Σ_r min(workload_r, capacity_r) / Σ workload``. The recommended headcount is the smallest
whose plan meets its bands, leaves no account uncovered and keeps every rep within capacity.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.cluster.vq import kmeans2

from solvers.location import Location, LocationResult, solve_location
from territory.align import Plan, align
from territory.columns import ColumnMap
from territory.errors import InputError, Problem, UsageError
from territory.geo import haversine_km, unit_vectors
from territory.inputs import AlignmentInputs, InputFile, load_inputs, sha256_of
from territory.metrics import within_band
from territory.params import AlignParams
from territory.readers import read_table
from territory.runs import FEASIBLE_STATUSES
from territory.sweep import PointResult, run_parallel
from territory.validation import validate_accounts

NEW_PREFIX = "NEW"
MAX_SIZES = 200
REP_COLUMNS = ["rep_id", "lat", "lon", "capacity", "fte"]
Report = Callable[[int, int, "SizeResult"], None]


def parse_sizes(text: str) -> list[int]:
    """``"20..40"``, ``"20..40:5"``, ``"20,25,30"`` (and mixes: ``"10,20..30:5"``) → sorted
    distinct headcounts; anything else is a :class:`UsageError`."""
    sizes: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        match = re.fullmatch(r"(\d+)(?:\s*\.\.\s*(\d+)(?:\s*:\s*(\d+))?)?", part)
        if match is None:
            raise UsageError(
                f"--reps expects headcounts such as 20..40, 20..40:5 or 20,25,30; got '{part}'."
            )
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else low
        step = int(match.group(3)) if match.group(3) else 1
        if high < low:
            raise UsageError(f"--reps range '{part}' runs backwards; write it as {high}..{low}.")
        if step < 1:
            raise UsageError(f"--reps step in '{part}' must be at least 1.")
        sizes.update(range(low, high + 1, step))
        if len(sizes) > MAX_SIZES:
            raise UsageError(f"--reps asks for more than {MAX_SIZES} headcounts; use a step.")
    if not sizes:
        raise UsageError("--reps needs at least one headcount, e.g. 20..40.")
    if min(sizes) < 1:
        raise UsageError("--reps: every headcount must be at least 1.")
    return sorted(sizes)


@dataclass(frozen=True)
class SizingOptions:
    """What sizing adds to the alignment parameters.

    ``capacity``: workload one full-time rep can carry (new reps, and roster reps whose
    capacity is blank, get ``capacity × fte``). ``demand_points``: how many points the accounts
    are aggregated to for the location step. ``location_nodes``: branch-and-bound nodes of the
    location MILP after the locate-allocate heuristic (0: heuristic only).
    """

    capacity: float | None = None
    demand_points: int = 300
    location_nodes: int = 0
    location_time_limit: float = 60.0

    def __post_init__(self) -> None:
        if self.capacity is not None and not self.capacity > 0:
            raise UsageError("--capacity must be > 0 (workload one full-time rep can carry).")
        if self.demand_points < 1:
            raise UsageError("--demand-points must be at least 1.")
        if self.location_nodes < 0:
            raise UsageError("--location-nodes must be 0 or more.")
        if not self.location_time_limit > 0:
            raise UsageError("--location-time-limit must be > 0 seconds.")


# ----- inputs -------------------------------------------------------------------------------


def load_sizing_inputs(
    accounts: str | Path, roster: str | Path | None = None, columns: ColumnMap | None = None
) -> AlignmentInputs:
    """Accounts and the kept roster (none: a greenfield sizing, where today's reps and locks
    are ignored, with a warning)."""
    columns = columns or ColumnMap()
    if roster is not None:
        return load_inputs(accounts, roster, columns)
    table = read_table(accounts)
    clean, problems = validate_accounts(table, columns)
    if problems or clean is None:
        raise InputError(problems)
    files = {"accounts": InputFile(str(accounts), sha256_of(Path(accounts)), len(table.frame))}
    return greenfield_inputs(clean, files, columns)


def greenfield_inputs(
    accounts: pd.DataFrame,
    files: dict[str, InputFile] | None = None,
    columns: ColumnMap | None = None,
) -> AlignmentInputs:
    """Validated accounts with an empty roster: every home base is placed by the model."""
    has_workload = bool(accounts.attrs.get("has_workload", True))
    warnings = []
    used = [c for c in ("current_rep", "locked_rep") if (accounts[c] != "").any()]
    if used:
        warnings.append(
            f"without --roster the sizing places every rep, so {' and '.join(used)} are ignored."
        )
    accounts = accounts.assign(current_rep="", locked_rep="")
    reps = pd.DataFrame(
        {c: pd.Series(dtype=object if c == "rep_id" else float) for c in REP_COLUMNS}
    )
    return AlignmentInputs(
        accounts=accounts,
        reps=reps,
        has_workload=has_workload,
        has_current=False,
        has_capacity=False,
        files=files or {"accounts": InputFile("<accounts DataFrame>", None, len(accounts))},
        warnings=warnings,
        columns=columns or ColumnMap(),
    )


def load_sites(path: str | Path) -> pd.DataFrame:
    """Candidate home-base locations: ``lat``/``lon`` (or a point geometry), optional
    ``site_id`` and ``name``."""
    table = read_table(path)
    frame = table.frame
    missing = [c for c in ("lat", "lon") if c not in frame.columns]
    if missing:
        raise InputError(
            [
                Problem(
                    table.source,
                    f"lacks column(s) {', '.join(missing)}.",
                    hint="candidate sites need lat and lon columns (WGS84 degrees) or points.",
                )
            ]
        )
    problems = []
    coords = {}
    for name, limit in (("lat", 90.0), ("lon", 180.0)):
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(values) | (np.abs(values) > limit)
        for pos in np.flatnonzero(bad)[:10]:
            problems.append(
                Problem(
                    table.source,
                    f"'{frame[name].iloc[pos]}' is not a {name} in -{limit:g}..{limit:g}.",
                    row=table.row_number(int(pos)),
                    row_word=table.row_word,
                    column=name,
                )
            )
        coords[name] = values
    if len(frame) == 0:
        problems.append(Problem(table.source, "has no sites.", hint="list at least one site."))
    if problems:
        raise InputError(problems)
    ids = (
        frame["site_id"].astype(str).str.strip()
        if "site_id" in frame.columns
        else pd.Series([f"S{i + 1}" for i in range(len(frame))])
    )
    names = frame["name"].fillna("").astype(str) if "name" in frame.columns else ids
    return pd.DataFrame(
        {
            "site_id": ids.to_numpy(),
            "name": names.to_numpy(),
            "lat": coords["lat"],
            "lon": coords["lon"],
        }
    )


# ----- demand points and candidate sites -----------------------------------------------------


@dataclass(frozen=True)
class Demand:
    """Accounts aggregated to points: ``label`` maps each account to its point."""

    label: np.ndarray
    potential: np.ndarray
    workload: np.ndarray
    centre: np.ndarray  # potential-weighted centroid per point, 3-D unit-sphere coordinates


def demand_points(inputs: AlignmentInputs, n_points: int, seed: int = 0) -> Demand:
    """Aggregate the accounts to at most ``n_points`` points by k-means on their unit-sphere
    coordinates (k-means++ start, seeded, so the same inputs give the same points)."""
    acc = inputs.accounts
    xyz = unit_vectors(acc["lat"].to_numpy(float), acc["lon"].to_numpy(float))
    k = min(n_points, len(np.unique(xyz, axis=0)))
    if k >= len(xyz):
        label = np.arange(len(xyz))
    else:
        _, label = kmeans2(xyz, k, seed=np.random.default_rng(seed), minit="++", iter=20)
    used, label = np.unique(label, return_inverse=True)
    m = len(used)
    pot, work = inputs.potential, inputs.workload
    weight = pot + 1e-9 * max(float(pot.mean()), 1e-9)  # zero-potential points keep a centre
    total = np.bincount(label, weight, m)
    centre = np.column_stack([np.bincount(label, xyz[:, i] * weight, m) / total for i in range(3)])
    return Demand(label, np.bincount(label, pot, m), np.bincount(label, work, m), centre)


def default_sites(inputs: AlignmentInputs, demand: Demand) -> pd.DataFrame:
    """One candidate per demand point: the account nearest the point's weighted centre (a real
    address, not an average of places)."""
    acc = inputs.accounts
    xyz = unit_vectors(acc["lat"].to_numpy(float), acc["lon"].to_numpy(float))
    gap = ((xyz - demand.centre[demand.label]) ** 2).sum(axis=1)
    order = np.lexsort((gap, demand.label))
    first = order[np.flatnonzero(np.diff(demand.label[order], prepend=-1) != 0)]
    names = acc["name"].to_numpy() if "name" in acc.columns else acc["account_id"].to_numpy()
    return pd.DataFrame(
        {
            "site_id": acc["account_id"].to_numpy()[first],
            "name": names[first],
            "lat": acc["lat"].to_numpy(float)[first],
            "lon": acc["lon"].to_numpy(float)[first],
        }
    )


def site_costs(
    inputs: AlignmentInputs, params: AlignParams, demand: Demand, lat: np.ndarray, lon: np.ndarray
) -> np.ndarray:
    """(points, sites): the summed objective cost of a point's accounts served from a site,
    exact for the accounts (not the point's centre); ``+inf`` beyond ``--max-distance``."""
    acc = inputs.accounts
    a_lat, a_lon = acc["lat"].to_numpy(float), acc["lon"].to_numpy(float)
    weight = {
        "potential": inputs.potential,
        "workload": inputs.workload,
        "none": np.ones(inputs.n_accounts),
    }[params.weighting]
    weight = weight + 1e-3 * max(float(weight.mean()), 1e-12)  # as the alignment's floor
    m = len(demand.potential)
    cost = np.empty((m, len(lat)))
    reach = np.zeros((m, len(lat)), dtype=bool)
    for c in range(len(lat)):
        d = haversine_km(a_lat, a_lon, lat[c], lon[c])
        if params.max_distance is not None:
            reach[:, c] = np.bincount(demand.label, d <= params.max_distance, m) > 0
        d = d**2 if params.distance == "squared" else d
        cost[:, c] = np.bincount(demand.label, weight * d, m)
    if params.max_distance is not None:
        cost[~reach] = np.inf
    return cost


# ----- one headcount --------------------------------------------------------------------------


@dataclass(frozen=True)
class SizingJob:
    """What every headcount shares (sent once to every worker)."""

    inputs: AlignmentInputs  # accounts and the kept roster
    params: AlignParams
    options: SizingOptions
    demand: Demand
    sites: pd.DataFrame  # candidates: site_id, name, lat, lon
    cost: np.ndarray  # (points, roster homes then candidate sites)
    rated: np.ndarray  # capacity of every roster rep (inf: none)

    @property
    def n_roster(self) -> int:
        return self.inputs.n_reps


@dataclass
class SizeResult:
    """One headcount: the sites the location step opened, the reps, and the alignment."""

    size: int
    location: dict
    reps: pd.DataFrame
    point: PointResult
    capacity_imposed: bool
    seconds: float

    def plan(self, job: SizingJob) -> Plan:
        return self.point.plan(inputs_with(job.inputs, self.reps), job.params)


def inputs_with(inputs: AlignmentInputs, reps: pd.DataFrame) -> AlignmentInputs:
    """The accounts with another roster (same files, warnings and columns)."""
    return AlignmentInputs(
        accounts=inputs.accounts,
        reps=reps.reset_index(drop=True),
        has_workload=inputs.has_workload,
        has_current=inputs.has_current,
        has_capacity=True,
        files=inputs.files,
        warnings=inputs.warnings,
        columns=inputs.columns,
    )


def rated_capacity(inputs: AlignmentInputs, capacity: float | None) -> np.ndarray:
    """Each roster rep's capacity; a blank one is ``--capacity × fte`` (inf without it)."""
    reps = inputs.reps
    own = reps["capacity"].to_numpy(float)
    fill = np.inf if capacity is None else capacity * reps["fte"].to_numpy(float)
    return np.where(np.isfinite(own), own, fill)


def _location_model(job: SizingJob, size: int, impose: bool) -> Location:
    """The location instance of one headcount: roster homes fixed open, candidates 1 FTE."""
    n_roster, n_sites = job.n_roster, job.cost.shape[1]
    fte = np.ones(n_sites)
    fte[:n_roster] = job.inputs.reps["fte"].to_numpy(float)
    total_fte = float(fte[:n_roster].sum()) + (size - n_roster)
    share = fte / total_fte
    d = job.demand
    use_work = job.inputs.has_workload and job.params.workload_tolerance is not None
    capacity = None
    if impose:
        capacity = np.full(n_sites, job.options.capacity or np.inf)
        capacity[:n_roster] = job.rated
    fixed = np.zeros(n_sites, dtype=bool)
    fixed[:n_roster] = True
    return Location(
        cost=job.cost,
        potential=d.potential,
        workload=d.workload,
        pot_target=share * float(d.potential.sum()),
        tolerance=job.params.tolerance,
        n_open=size,
        fixed=fixed,
        work_target=share * float(d.workload.sum()) if use_work else None,
        work_tolerance=job.params.workload_tolerance if use_work else None,
        capacity=capacity,
    )


def _location_record(result: LocationResult | None) -> dict:
    if result is None:
        return {
            "status": "kept",
            "objective": None,
            "lower_bound": None,
            "gap": None,
            "message": "headcount equals the roster: no home base to place",
            "nodes": 0,
        }
    return {
        "status": result.status,
        "objective": result.objective,
        "lower_bound": result.lower_bound,
        "gap": result.gap,
        "message": result.message,
        "nodes": result.nodes,
    }


def _reps_for(job: SizingJob, opened: np.ndarray, impose: bool) -> pd.DataFrame:
    """The roster plus one new 1-FTE rep per opened candidate site, ``NEW01``, ``NEW02``..."""
    roster = job.inputs.reps.copy()
    roster["rated_capacity"] = job.rated
    roster["placed"] = "roster"
    new_sites = opened[opened >= job.n_roster] - job.n_roster
    sites = job.sites.iloc[new_sites]
    width = max(2, len(str(len(new_sites))))
    taken = set(roster["rep_id"])
    ids = []
    for i in range(len(new_sites)):
        rep_id = f"{NEW_PREFIX}{i + 1:0{width}d}"
        while rep_id in taken:
            rep_id += "_"
        ids.append(rep_id)
    cap = job.options.capacity if job.options.capacity is not None else np.inf
    new = pd.DataFrame(
        {
            "rep_id": ids,
            "lat": sites["lat"].to_numpy(float),
            "lon": sites["lon"].to_numpy(float),
            "capacity": cap,
            "fte": 1.0,
            "rated_capacity": cap,
            "placed": "model",
            "site_id": sites["site_id"].to_numpy(),
            "name": sites["name"].to_numpy(),
        }
    )
    reps = pd.concat([roster, new], ignore_index=True)
    for column in reps.columns:
        if reps[column].dtype == object:
            reps[column] = reps[column].fillna("")
    if not impose:
        reps["capacity"] = np.inf
    return reps


def solve_size(job: SizingJob, size: int) -> SizeResult:
    """One headcount: place the new home bases, then align (a top-level function, so that it
    pickles to a worker)."""
    start = time.perf_counter()
    rated = np.concatenate(
        [job.rated, np.full(size - job.n_roster, job.options.capacity or np.inf)]
    )
    impose = bool(np.isfinite(rated).all() and rated.sum() >= job.inputs.workload.sum())
    location: LocationResult | None = None
    opened = np.arange(job.n_roster)
    if size > job.n_roster:
        location = solve_location(
            _location_model(job, size, impose),
            mip_nodes=job.options.location_nodes,
            time_limit=job.options.location_time_limit,
        )
        if location.opened is None and impose:  # capacity rows may be what cannot be met
            impose = False
            location = solve_location(
                _location_model(job, size, impose),
                mip_nodes=job.options.location_nodes,
                time_limit=job.options.location_time_limit,
            )
        if location.opened is None:  # fall back on the cheapest sites, balance ignored
            from solvers.location import greedy_sites

            opened = greedy_sites(_location_model(job, size, impose))
        else:
            opened = location.opened
    reps = _reps_for(job, opened, impose)
    plan = align(inputs_with(job.inputs, reps), job.params)
    if impose and plan.status not in FEASIBLE_STATUSES:
        impose = False
        reps = _reps_for(job, opened, impose)
        plan = align(inputs_with(job.inputs, reps), job.params)
    assert plan.outcome is not None
    point = PointResult(
        plan.outcome, plan.facts.coverable, plan.prechecks, plan.timings, plan.objective
    )
    return SizeResult(
        size, _location_record(location), reps, point, impose, time.perf_counter() - start
    )


# ----- the sweep ------------------------------------------------------------------------------


@dataclass
class Sizing:
    """The plans of every headcount, in size order, with the table that compares them."""

    job: SizingJob
    results: list[SizeResult]
    plans: list[Plan] = field(init=False)
    table: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.plans = [r.plan(self.job) for r in self.results]
        self.table = sizing_table(self.plans, self.results)

    @property
    def recommended(self) -> int | None:
        rows = self.table.loc[self.table["recommended"], "reps"]
        return int(rows.iloc[0]) if len(rows) else None


def prepare(
    inputs: AlignmentInputs,
    sizes: Sequence[int],
    params: AlignParams | None = None,
    options: SizingOptions | None = None,
    sites: pd.DataFrame | None = None,
) -> SizingJob:
    """Check the request and build what every headcount shares: demand points, candidate
    sites and their costs."""
    params = params or AlignParams()
    options = options or SizingOptions()
    n_roster = inputs.n_reps
    if not sizes:
        raise UsageError("--reps needs at least one headcount, e.g. 20..40.")
    if min(sizes) < max(1, n_roster):
        raise UsageError(
            f"headcount {min(sizes)} is below the {n_roster} reps of --roster, which are all "
            f"kept; start --reps at {max(1, n_roster)} or more (to size from scratch, leave "
            "out --roster)."
            if n_roster
            else "--reps: every headcount must be at least 1."
        )
    if not inputs.has_workload:
        raise UsageError(
            "sizing measures workload against capacity, but the accounts have no workload "
            "column; add one (or map it: --account-col workload=COLUMN)."
        )
    rated = rated_capacity(inputs, options.capacity)
    if options.capacity is None and (n_roster == 0 or not np.isfinite(rated).all()):
        raise UsageError(
            "sizing needs a capacity: give --capacity (the workload one full-time rep can "
            "carry), or a capacity column filled for every rep of --roster."
        )
    if options.capacity is None:  # new reps: the roster's median capacity per FTE
        per_fte = rated / inputs.reps["fte"].to_numpy(float)
        options = replace(options, capacity=float(np.median(per_fte)))
    demand = demand_points(inputs, options.demand_points, params.seed)
    if sites is None:
        sites = default_sites(inputs, demand)
    largest = max(sizes) - n_roster
    if largest > len(sites):
        raise UsageError(
            f"headcount {max(sizes)} needs {largest} new home bases but there are only "
            f"{len(sites)} candidate sites; give more sites (or more --demand-points)."
        )
    lat = np.concatenate([inputs.reps["lat"].to_numpy(float), sites["lat"].to_numpy(float)])
    lon = np.concatenate([inputs.reps["lon"].to_numpy(float), sites["lon"].to_numpy(float)])
    cost = site_costs(inputs, params, demand, lat, lon)
    return SizingJob(inputs, params, options, demand, sites.reset_index(drop=True), cost, rated)


def size_headcounts(
    inputs: AlignmentInputs,
    sizes: Sequence[int],
    params: AlignParams | None = None,
    options: SizingOptions | None = None,
    *,
    sites: pd.DataFrame | None = None,
    workers: int | None = 1,
    scheduler: str | None = None,
    report: Report | None = None,
) -> Sizing:
    """Size the sales force: one located and aligned plan per headcount, and their table
    (``Sizing.table``; ``Sizing.recommended`` is the smallest headcount that fits)."""
    job = prepare(inputs, sorted(set(sizes)), params, options, sites)
    ordered = sorted(set(sizes))
    results: list[SizeResult | None] = [None] * len(ordered)

    def done(i: int, result: SizeResult) -> None:
        results[i] = result
        if report is not None:
            report(sum(r is not None for r in results), len(ordered), result)

    run_parallel(solve_size, job, ordered, done, workers=workers, scheduler=scheduler)
    finished = [r for r in results if r is not None]
    assert len(finished) == len(ordered)
    return Sizing(job, finished)


# ----- the table ------------------------------------------------------------------------------


def coverage_figures(workload: np.ndarray, capacity: np.ndarray) -> dict[str, float | int]:
    """Per-rep workload against capacity (inf: none): the share of workload that fits,
    reps over capacity and the workload above it."""
    workload = np.asarray(workload, dtype=float)
    capacity = np.asarray(capacity, dtype=float)
    total = float(workload.sum())
    fits = np.minimum(workload, capacity)
    over = workload > capacity * (1 + 1e-9) + 1e-9
    return {
        "total_workload": total,
        "total_capacity": float(capacity.sum()),
        "capacity_ratio": float(capacity.sum()) / total if total > 0 else np.inf,
        "workload_coverage": float(fits.sum()) / total if total > 0 else 1.0,
        "reps_over_capacity": int(over.sum()),
        "workload_over_capacity": float(np.maximum(workload - capacity, 0.0).sum()),
    }


def size_row(plan: Plan, result: SizeResult) -> dict[str, object]:
    """The sizing table's figures for one headcount, from the plain metric functions."""
    m = plan.metrics()
    outcome = plan.outcome
    summary = plan.rep_summary()
    params = plan.params
    balanced = plan.status in FEASIBLE_STATUSES and within_band(
        summary["potential_index"].to_numpy(), params.tolerance, slack=1e-5
    )
    if plan.inputs.has_workload and params.workload_tolerance is not None:
        balanced = balanced and within_band(
            summary["workload_index"].to_numpy(), params.workload_tolerance, slack=1e-5
        )
    coverage = coverage_figures(
        summary["workload"].to_numpy(float), result.reps["rated_capacity"].to_numpy(float)
    )
    loc = result.location
    pot = plan.facts.potential
    dist = m["potential_weighted_distance"]
    covered = float(pot[plan.assignment >= 0].sum())
    return {
        "reps": result.size,
        "new_reps": int((result.reps["placed"] == "model").sum()),
        "fte": float(result.reps["fte"].sum()),
        "status": plan.status,
        "objective": plan.objective,
        "lower_bound": outcome.lower_bound if outcome else None,
        "gap": outcome.gap if outcome else None,
        "location_status": loc["status"],
        "location_objective": loc["objective"],
        "location_lower_bound": loc["lower_bound"],
        "location_gap": loc["gap"],
        "potential_index_min": m["potential_index_min"],
        "potential_index_max": m["potential_index_max"],
        "workload_index_min": m["workload_index_min"],
        "workload_index_max": m["workload_index_max"],
        "balanced": bool(balanced),
        "mean_distance_km": m["mean_distance_km"],
        "weighted_mean_distance_km": float(dist or 0.0) / covered if covered > 0 else None,
        "max_distance_km": m["max_distance_km"],
        **coverage,
        "capacity_imposed": result.capacity_imposed,
        "uncovered_accounts": m["uncovered_accounts"],
        "moved_potential_share": m["moved_potential_share"],
    }


def sizing_table(plans: Sequence[Plan], results: Sequence[SizeResult]) -> pd.DataFrame:
    """``sizing.csv``: one row per headcount, the smallest that fits marked ``recommended``."""
    table = pd.DataFrame([size_row(p, r) for p, r in zip(plans, results, strict=True)])
    fits = (
        table["balanced"] & (table["reps_over_capacity"] == 0) & (table["uncovered_accounts"] == 0)
    )
    table["fits"] = fits
    first = np.flatnonzero(fits.to_numpy())
    table["recommended"] = np.arange(len(table)) == (first[0] if len(first) else -1)
    return table


RECOMMENDATION_RULE = (
    "the smallest headcount whose plan meets its potential and workload bands, leaves no "
    "account uncovered and keeps every rep's workload within its capacity"
)

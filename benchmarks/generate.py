"""Seeded synthetic US instances: accounts around real metros, reps where the potential is.

``generate(n_accounts, n_reps, seed)`` returns ``(accounts, reps)`` DataFrames in the input
contract's columns (accounts: ``account_id, lat, lon, potential, workload, current_rep``;
reps: ``rep_id, lat, lon, capacity, fte``). Everything is vectorised numpy: 1M accounts take a
few seconds. The same ``(n_accounts, n_reps, seed)`` gives the same frames.

How an instance is made:

1. **Accounts.** 85 % are drawn around a metro of :data:`METROS` (chosen in proportion to its
   population; Gaussian spread of ``6 + 10·√(population in millions)`` km); 15 % are rural:
   half uniform over a crude outline of the contiguous US, half a wide (150 km) Gaussian around
   metros chosen in proportion to √population, both kept only inside the outline.
2. **Potential.** Log-normal (median $30k, log-sd 1.0), capped so that no account exceeds 2 % of
   the average rep's target (total / reps), which keeps ±5 % balance bands attainable.
3. **Workload.** ``4 + potential / 10,000 × noise`` calls a year (log-normal noise, log-sd 0.3).
4. **Reps.** 90 % full time, 5 % at 0.8 and 5 % at 0.5 FTE; capacity is 1.3 × the FTE share of
   total workload. Homes are sampled from the accounts in proportion to potential, stratified:
   the accounts are cut into one cell per rep whose potential is proportional to its FTE
   (recursive bisection) and each home is an account drawn from its cell by potential,
   jittered 3 km; a rural draw within 120 km of a metro moves to that metro (reps live in
   towns). Unstratified draws leave whole regions without a rep (nearest-rep indices of
   1 %–900 % at 100k × 500), which no sales organisation has.
5. **Incumbent.** The cells were drawn on *last cycle's* potential: today's potential divided
   by a growth factor (log-normal, log-sd 0.25 per metro or per 5° rural grid square, times
   0.3 per account). Each cell is its rep's current territory, balanced then and drifted out
   of balance now; 1 % of the accounts are new (blank ``current_rep``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SIZES: dict[str, tuple[int, int]] = {
    "small": (10_000, 50),
    "medium": (100_000, 500),
    "large": (1_000_000, 2_000),
}
DEFAULT_SEED = 20240611

RURAL_SHARE = 0.15
MEDIAN_POTENTIAL = 30_000.0
POTENTIAL_LOG_SD = 1.0
CAP_SHARE = 0.02  # no account above this share of the average rep's potential target
CAPACITY_SLACK = 1.3
REGIONAL_GROWTH_LOG_SD = 0.25
ACCOUNT_GROWTH_LOG_SD = 0.3
NEW_ACCOUNT_SHARE = 0.01
KM_PER_DEG = 111.195

# Metropolitan statistical areas: (name, lat, lon of the principal city, population in
# thousands). Populations are 2020 Census counts for the MSA (U.S. Census Bureau, 2020 Census,
# rounded to thousands); they only weight where accounts go. A few small metros in the
# sparsely populated West and Plains are included so those regions are not empty.
METROS: tuple[tuple[str, float, float, int], ...] = (
    ("New York", 40.71, -74.01, 20140), ("Los Angeles", 34.05, -118.24, 13201),
    ("Chicago", 41.88, -87.63, 9618), ("Dallas-Fort Worth", 32.78, -96.80, 7637),
    ("Houston", 29.76, -95.37, 7122), ("Washington", 38.91, -77.04, 6385),
    ("Philadelphia", 39.95, -75.17, 6245), ("Miami", 25.76, -80.19, 6138),
    ("Atlanta", 33.75, -84.39, 6089), ("Boston", 42.36, -71.06, 4941),
    ("Phoenix", 33.45, -112.07, 4845), ("San Francisco", 37.77, -122.42, 4749),
    ("Riverside", 33.95, -117.40, 4600), ("Detroit", 42.33, -83.05, 4392),
    ("Seattle", 47.61, -122.33, 4018), ("Minneapolis", 44.98, -93.27, 3690),
    ("San Diego", 32.72, -117.16, 3298), ("Tampa", 27.95, -82.46, 3175),
    ("Denver", 39.74, -104.99, 2963), ("Baltimore", 39.29, -76.61, 2844),
    ("St. Louis", 38.63, -90.20, 2820), ("Orlando", 28.54, -81.38, 2673),
    ("Charlotte", 35.23, -80.84, 2660), ("San Antonio", 29.42, -98.49, 2558),
    ("Portland", 45.52, -122.68, 2512), ("Sacramento", 38.58, -121.49, 2397),
    ("Pittsburgh", 40.44, -79.99, 2370), ("Austin", 30.27, -97.74, 2283),
    ("Las Vegas", 36.17, -115.14, 2265), ("Cincinnati", 39.10, -84.51, 2256),
    ("Kansas City", 39.10, -94.58, 2192), ("Columbus", 39.96, -83.00, 2138),
    ("Indianapolis", 39.77, -86.16, 2111), ("Cleveland", 41.50, -81.69, 2088),
    ("San Jose", 37.34, -121.89, 2000), ("Nashville", 36.16, -86.78, 1989),
    ("Virginia Beach", 36.85, -75.98, 1799), ("Providence", 41.82, -71.41, 1677),
    ("Jacksonville", 30.33, -81.66, 1605), ("Milwaukee", 43.04, -87.91, 1574),
    ("Oklahoma City", 35.47, -97.52, 1425), ("Raleigh", 35.78, -78.64, 1413),
    ("Memphis", 35.15, -90.05, 1337), ("Richmond", 37.54, -77.44, 1314),
    ("Louisville", 38.25, -85.76, 1285), ("New Orleans", 29.95, -90.07, 1272),
    ("Salt Lake City", 40.76, -111.89, 1257), ("Hartford", 41.77, -72.67, 1213),
    ("Buffalo", 42.89, -78.88, 1166), ("Birmingham", 33.52, -86.80, 1115),
    ("Rochester", 43.16, -77.61, 1090), ("Grand Rapids", 42.96, -85.67, 1087),
    ("Tucson", 32.22, -110.97, 1043), ("Tulsa", 36.15, -95.99, 1015),
    ("Fresno", 36.74, -119.79, 1009), ("Omaha", 41.26, -95.93, 967),
    ("Albuquerque", 35.08, -106.65, 916), ("Bakersfield", 35.37, -119.02, 909),
    ("Albany", 42.65, -73.76, 899), ("Knoxville", 35.96, -83.92, 879),
    ("Baton Rouge", 30.45, -91.15, 870), ("El Paso", 31.76, -106.49, 868),
    ("McAllen", 26.20, -98.23, 870), ("Columbia", 34.00, -81.03, 829),
    ("Charleston", 32.78, -79.93, 799), ("Greensboro", 36.07, -79.79, 776),
    ("Boise", 43.62, -116.20, 764), ("Colorado Springs", 38.83, -104.82, 755),
    ("Little Rock", 34.75, -92.29, 748), ("Des Moines", 41.59, -93.62, 709),
    ("Madison", 43.07, -89.40, 680), ("Wichita", 37.69, -97.34, 647),
    ("Jackson", 32.30, -90.18, 591), ("Spokane", 47.66, -117.43, 585),
    ("Lexington", 38.04, -84.50, 516), ("Reno", 39.53, -119.81, 491),
    ("Sioux Falls", 43.55, -96.73, 276), ("Fargo", 46.88, -96.79, 250),
    ("Billings", 45.78, -108.50, 184), ("Cheyenne", 41.14, -104.82, 100),
)  # fmt: skip

# A crude outline of the contiguous US as (lon, lat) vertices, clockwise from the Pacific
# north-west; good enough to keep rural accounts on land (give or take a bay).
US_OUTLINE = np.array(
    [
        (-124.7, 48.4), (-123.0, 49.0), (-95.2, 49.0), (-89.6, 48.0), (-84.5, 46.5),
        (-82.5, 43.0), (-79.0, 43.3), (-76.3, 43.6), (-75.0, 45.0), (-71.5, 45.0),
        (-69.2, 47.4), (-67.8, 47.1), (-67.0, 44.8), (-70.2, 43.6), (-70.6, 42.6),
        (-70.0, 41.7), (-71.9, 41.3), (-74.0, 40.5), (-74.0, 39.6), (-74.9, 38.9),
        (-75.9, 37.0), (-75.5, 35.2), (-76.5, 34.7), (-78.0, 33.9), (-79.2, 33.2),
        (-80.9, 32.0), (-81.4, 30.7), (-80.6, 28.4), (-80.0, 26.7), (-80.3, 25.3),
        (-81.1, 25.1), (-81.8, 26.1), (-82.7, 27.8), (-83.0, 29.1), (-84.3, 30.0),
        (-85.4, 29.7), (-87.3, 30.3), (-89.6, 30.2), (-89.4, 29.2), (-90.5, 29.1),
        (-92.0, 29.6), (-93.8, 29.7), (-94.8, 29.3), (-97.0, 28.0), (-97.2, 26.0),
        (-99.1, 26.4), (-100.6, 28.8), (-101.4, 29.8), (-103.0, 29.0), (-104.5, 29.6),
        (-106.5, 31.8), (-108.2, 31.8), (-108.2, 31.33), (-111.1, 31.33), (-114.8, 32.5),
        (-117.1, 32.5), (-118.5, 34.0), (-120.6, 34.6), (-121.9, 36.6), (-122.5, 37.8),
        (-123.8, 39.5), (-124.4, 40.4), (-124.2, 42.0), (-124.1, 43.7), (-124.0, 46.2),
    ]
)  # fmt: skip
# (lon_min, lon_max, lat_min, lat_max) boxes of water or Canada inside the outline.
WATER_BOXES = (
    (-87.6, -86.4, 42.0, 45.6),  # Lake Michigan
    (-83.1, -80.5, 41.75, 43.3),  # Lake Erie and southern Ontario
    (-80.5, -79.0, 42.5, 43.3),
)


def generate(
    n_accounts: int, n_reps: int, seed: int = DEFAULT_SEED
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accounts and reps frames of a seeded synthetic instance (see the module docstring)."""
    if n_reps < 1 or n_accounts < n_reps:
        raise ValueError("need at least one rep and at least as many accounts as reps.")
    rng = np.random.default_rng([seed, n_accounts, n_reps])
    lat, lon, metro = account_locations(rng, n_accounts)
    potential = account_potential(rng, n_accounts, n_reps)
    workload = np.round(4.0 + potential / 10_000.0 * rng.lognormal(0.0, 0.3, n_accounts), 1)
    fte = rng.choice([1.0, 0.8, 0.5], size=n_reps, p=[0.9, 0.05, 0.05])
    capacity = np.round(CAPACITY_SLACK * workload.sum() * fte / fte.sum())
    last_cycle = potential / growth(rng, lat, lon, metro)
    current = equal_potential_cells(lat, lon, last_cycle, fte)
    rep_lat, rep_lon = rep_homes(rng, current, lat, lon, metro, last_cycle)
    current[rng.random(n_accounts) < NEW_ACCOUNT_SHARE] = -1
    rep_ids = _ids("R", n_reps)
    current_rep = np.where(current >= 0, rep_ids[np.maximum(current, 0)], "")
    accounts = pd.DataFrame(
        {
            "account_id": _ids("A", n_accounts),
            "lat": np.round(lat, 5),
            "lon": np.round(lon, 5),
            "potential": potential,
            "workload": workload,
            "current_rep": current_rep,
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": rep_ids,
            "lat": np.round(rep_lat, 5),
            "lon": np.round(rep_lon, 5),
            "capacity": capacity,
            "fte": fte,
        }
    )
    return accounts, reps


def generate_size(name: str, seed: int = DEFAULT_SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An instance of a named size (:data:`SIZES`) or of an ``NxK`` size such as ``20000x100``."""
    n_accounts, n_reps = parse_size(name)
    return generate(n_accounts, n_reps, seed)


def parse_size(name: str) -> tuple[int, int]:
    """``(n_accounts, n_reps)`` of a named size or of ``NxK`` (``20000x100``, ``20kx100``)."""
    if name in SIZES:
        return SIZES[name]
    n, sep, k = name.lower().partition("x")
    if not sep:
        raise ValueError(f"unknown size '{name}': use {', '.join(SIZES)} or NxK (20000x100).")
    return _count(n), _count(k)


def _count(text: str) -> int:
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


def _ids(prefix: str, n: int) -> np.ndarray:
    width = len(str(n))
    return (prefix + pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(width)).to_numpy(object)


def _metro_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    lat = np.array([m[1] for m in METROS])
    lon = np.array([m[2] for m in METROS])
    pop = np.array([m[3] for m in METROS], dtype=float) * 1_000.0
    spread_km = 6.0 + 10.0 * np.sqrt(pop / 1e6)
    return lat, lon, pop, spread_km


def _offset(
    rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray, sigma_km: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Move points by a Gaussian offset of ``sigma_km`` (flat-earth, fine at these scales)."""
    n = len(lat)
    dy = rng.normal(0.0, 1.0, n) * sigma_km / KM_PER_DEG
    dx = rng.normal(0.0, 1.0, n) * sigma_km / (KM_PER_DEG * np.cos(np.radians(lat)))
    return lat + dy, lon + dx


def on_land(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Inside :data:`US_OUTLINE` and outside :data:`WATER_BOXES` (vectorised ray casting)."""
    inside = np.zeros(len(lat), dtype=bool)
    x0, y0 = US_OUTLINE[:, 0], US_OUTLINE[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    for ax, ay, bx, by in zip(x0, y0, x1, y1, strict=True):
        crosses = (ay > lat) != (by > lat)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = ax + (lat - ay) * (bx - ax) / (by - ay)
        inside ^= crosses & (lon < x_at)
    for lo_min, lo_max, la_min, la_max in WATER_BOXES:
        inside &= ~((lon >= lo_min) & (lon <= lo_max) & (lat >= la_min) & (lat <= la_max))
    return inside


def account_locations(
    rng: np.random.Generator, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latitudes, longitudes and metro index (-1 for rural) of ``n`` accounts."""
    m_lat, m_lon, pop, spread = _metro_arrays()
    rural = rng.random(n) < RURAL_SHARE
    metro = np.full(n, -1, dtype=np.int64)
    n_metro = int((~rural).sum())
    metro[~rural] = rng.choice(len(pop), size=n_metro, p=pop / pop.sum())
    lat, lon = np.empty(n), np.empty(n)
    idx = metro[~rural]
    lat[~rural], lon[~rural] = _offset(rng, m_lat[idx], m_lon[idx], spread[idx])
    lat[rural], lon[rural] = _rural(rng, int(rural.sum()), m_lat, m_lon, np.sqrt(pop))
    return lat, lon, metro


def _rural(
    rng: np.random.Generator, n: int, m_lat: np.ndarray, m_lon: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Half uniform over the outline, half 150 km around metros; rejection-sampled onto land."""
    lo_min, la_min = US_OUTLINE.min(axis=0)
    lo_max, la_max = US_OUTLINE.max(axis=0)
    lats: list[np.ndarray] = []
    lons: list[np.ndarray] = []
    have = 0
    while have < n:
        draw = max(2 * (n - have), 64)
        uniform = rng.random(draw) < 0.5
        lat = rng.uniform(la_min, la_max, draw)
        lon = rng.uniform(lo_min, lo_max, draw)
        near = rng.choice(len(weight), size=int((~uniform).sum()), p=weight / weight.sum())
        lat[~uniform], lon[~uniform] = _offset(rng, m_lat[near], m_lon[near], 150.0)
        keep = on_land(lat, lon)
        lats.append(lat[keep])
        lons.append(lon[keep])
        have += int(keep.sum())
    return np.concatenate(lats)[:n], np.concatenate(lons)[:n]


def account_potential(rng: np.random.Generator, n: int, n_reps: int) -> np.ndarray:
    """Log-normal potential in whole dollars, capped at 2 % of the average rep target."""
    potential = rng.lognormal(np.log(MEDIAN_POTENTIAL), POTENTIAL_LOG_SD, n)
    for _ in range(20):  # capping lowers the total and so the cap: iterate to a fixed point
        cap = CAP_SHARE * potential.sum() / n_reps
        if potential.max() <= cap:
            break
        potential = np.minimum(potential, cap)
    return np.floor(potential)


def growth(
    rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray, metro: np.ndarray
) -> np.ndarray:
    """Potential growth since the last alignment: regional (metro or 5° square) × account."""
    n_metros = len(METROS)
    square = (np.floor((lat - 24.0) / 5.0) * 20 + np.floor((lon + 125.0) / 5.0)).astype(np.int64)
    region = np.where(metro >= 0, metro, n_metros + np.clip(square, 0, 199))
    regional = rng.lognormal(0.0, REGIONAL_GROWTH_LOG_SD, n_metros + 200)
    return regional[region] * rng.lognormal(0.0, ACCOUNT_GROWTH_LOG_SD, len(lat))


def rep_homes(
    rng: np.random.Generator,
    cell: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    metro: np.ndarray,
    weight: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One home per cell: an account of the cell drawn by ``weight``, jittered 3 km; rural
    draws within 120 km of a metro move into it."""
    m_lat, m_lon, _, spread = _metro_arrays()
    key = np.log(np.maximum(weight, 1e-12)) + rng.gumbel(size=len(lat))  # Gumbel-max draw
    order = np.lexsort((-key, cell))
    first = np.flatnonzero(np.diff(cell[order], prepend=-1) != 0)
    pick = order[first]
    home_lat, home_lon = _offset(rng, lat[pick], lon[pick], 3.0)
    rural = metro[pick] < 0
    if rural.any():
        near = _nearest_metro(home_lat[rural], home_lon[rural], m_lat, m_lon)
        dist = _flat_km(home_lat[rural], home_lon[rural], m_lat[near], m_lon[near])
        snap = dist < 120.0
        c = near[snap]
        idx = np.flatnonzero(rural)[snap]
        home_lat[idx], home_lon[idx] = _offset(rng, m_lat[c], m_lon[c], 0.35 * spread[c])
    return home_lat, home_lon


def equal_potential_cells(
    lat: np.ndarray, lon: np.ndarray, potential: np.ndarray, shares: np.ndarray
) -> np.ndarray:
    """Cell label (0..len(shares)-1) of every account: recursive bisection of the projected
    plane along the longer side, each cut splitting the potential in proportion to the
    ``shares`` of the cells on either side. Every cell gets at least one account."""
    x = lon * np.cos(np.radians(38.0)) * KM_PER_DEG
    y = lat * KM_PER_DEG
    cum_shares = np.concatenate([[0.0], np.cumsum(shares)])
    label = np.empty(len(lat), dtype=np.int64)
    stack: list[tuple[np.ndarray, int, int]] = [(np.arange(len(lat)), len(shares), 0)]
    while stack:
        idx, k, first = stack.pop()
        if k == 1:
            label[idx] = first
            continue
        xs, ys = x[idx], y[idx]
        coord = xs if np.ptp(xs) >= np.ptp(ys) else ys
        order = idx[np.argsort(coord, kind="stable")]
        k_left = k // 2
        left = (cum_shares[first + k_left] - cum_shares[first]) / (
            cum_shares[first + k] - cum_shares[first]
        )
        cum = np.cumsum(potential[order])
        cut = int(np.searchsorted(cum, cum[-1] * left))
        cut = min(max(cut, k_left), len(order) - (k - k_left))
        stack.append((order[:cut], k_left, first))
        stack.append((order[cut:], k - k_left, first + k_left))
    return label


def _nearest_metro(
    lat: np.ndarray, lon: np.ndarray, m_lat: np.ndarray, m_lon: np.ndarray
) -> np.ndarray:
    return np.argmin(_flat_km(lat[:, None], lon[:, None], m_lat[None, :], m_lon[None, :]), axis=1)


def _flat_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    dy = (lat2 - lat1) * KM_PER_DEG
    dx = (lon2 - lon1) * KM_PER_DEG * np.cos(np.radians(0.5 * (lat1 + lat2)))
    return np.hypot(dx, dy)

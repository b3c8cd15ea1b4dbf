"""The price of giving an account to a rep: weighted distance plus a disruption penalty.

A :class:`PairCosts` answers for any (account, rep) pair, so the optimiser can start from a few
nearby reps per account and price in the rest later without ever holding an N×K matrix.
Forbidden pairs (beyond the maximum distance, missing from a travel-time table, not the rep
an account is locked to, or forbidden by a scenario edit) cost ``+inf``.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

import numpy as np
import pandas as pd

from solvers.keys import unique_keys
from territory.errors import InputError, Problem
from territory.geo import haversine_km, nearest
from territory.inputs import AlignmentInputs
from territory.params import AlignParams

PRICING_BLOCK_PAIRS = 4_000_000
NEAREST_CACHED = 24  # nearest reps per account kept for spatial pricing (cheap_pairs)


class TravelTable:
    """A user's travel-time table (``rep_id, account_id, minutes``) as a sorted key lookup."""

    def __init__(self, frame: pd.DataFrame, inputs: AlignmentInputs, source: str) -> None:
        missing = [c for c in ("rep_id", "account_id", "minutes") if c not in frame.columns]
        if missing:
            raise InputError(
                [
                    Problem(
                        source,
                        f"travel-time table lacks column(s) {', '.join(missing)}.",
                        hint="provide columns rep_id, account_id, minutes.",
                    )
                ]
            )
        rep_pos = {r: i for i, r in enumerate(inputs.reps["rep_id"])}
        acc_pos = {a: i for i, a in enumerate(inputs.accounts["account_id"])}
        reps = frame["rep_id"].astype(str).str.strip().map(rep_pos)
        accs = frame["account_id"].astype(str).str.strip().map(acc_pos)
        minutes = pd.to_numeric(frame["minutes"], errors="coerce")
        bad = minutes.isna() | (minutes < 0) | ~np.isfinite(minutes.fillna(0))
        if bad.any():
            rows = (np.flatnonzero(bad.to_numpy())[:10] + 2).tolist()
            raise InputError(
                [Problem(source, f"minutes must be numbers >= 0 (rows {rows}).", column="minutes")]
            )
        keep = reps.notna() & accs.notna()
        keys = accs[keep].to_numpy(np.int64) * inputs.n_reps + reps[keep].to_numpy(np.int64)
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.minutes = minutes[keep].to_numpy(float)[order]
        self.n_reps = inputs.n_reps

    def lookup(self, a: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Minutes for each pair, ``+inf`` where the table has no entry."""
        keys = a.astype(np.int64) * self.n_reps + r.astype(np.int64)
        pos = np.searchsorted(self.keys, keys)
        pos_c = np.minimum(pos, len(self.keys) - 1)
        found = (len(self.keys) > 0) & (self.keys[pos_c] == keys)
        return np.where(found, self.minutes[pos_c] if len(self.keys) else np.inf, np.inf)


class PairCosts:
    """Objective coefficient of every allowed (account, rep) pair, computed on demand."""

    def __init__(
        self, inputs: AlignmentInputs, params: AlignParams, travel: TravelTable | None = None
    ) -> None:
        self.n_accounts = inputs.n_accounts
        self.n_reps = inputs.n_reps
        self.acc_lat = inputs.accounts["lat"].to_numpy(float)
        self.acc_lon = inputs.accounts["lon"].to_numpy(float)
        self.rep_lat = inputs.reps["lat"].to_numpy(float)
        self.rep_lon = inputs.reps["lon"].to_numpy(float)
        self.current = inputs.current
        self.locked = inputs.locked
        self.forbidden_keys = inputs.forbidden_keys
        self.travel = travel
        self.squared = params.distance == "squared"
        self.max_distance = params.max_distance
        self.move_penalty = params.move_penalty
        self.potential = inputs.potential
        base = {
            "potential": inputs.potential,
            "workload": inputs.workload,
            "none": np.ones(inputs.n_accounts),
        }[params.weighting]
        # A small floor keeps zero-weight accounts near a rep instead of anywhere at all.
        floor = 1e-3 * float(base.mean()) if base.size and base.mean() > 0 else 1.0
        self.weight = base + floor
        self.candidates = params.candidates
        self._nearest: tuple[np.ndarray, np.ndarray] | None = None

    def distance(self, a: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Distance in the objective's unit (km or minutes), before squaring."""
        if self.travel is not None:
            return self.travel.lookup(a, r)
        return haversine_km(self.acc_lat[a], self.acc_lon[a], self.rep_lat[r], self.rep_lon[r])

    def distance_km(self, a: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Great-circle km, whatever the objective uses (what reports show)."""
        return haversine_km(self.acc_lat[a], self.acc_lon[a], self.rep_lat[r], self.rep_lon[r])

    def cost(self, a: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Objective coefficient of each pair; ``+inf`` for forbidden pairs."""
        a = np.asarray(a, dtype=np.int64)
        r = np.asarray(r, dtype=np.int64)
        dist = self.distance(a, r)
        locked = self.locked[a]
        forbidden = (locked >= 0) & (locked != r)
        if self.max_distance is not None:
            forbidden |= (dist > self.max_distance) & (locked < 0)
        forbidden |= ~np.isfinite(dist)
        if len(self.forbidden_keys):
            forbidden |= is_forbidden(self.forbidden_keys, a * self.n_reps + r)
        dist = np.where(np.isfinite(dist), dist, 0.0)
        value = self.weight[a] * (dist * dist if self.squared else dist)
        if self.move_penalty:
            moved = (self.current[a] >= 0) & (self.current[a] != r)
            value = value + self.move_penalty * self.potential[a] * moved
        return np.where(forbidden, np.inf, value)

    def blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All pairs, a block of accounts at a time: ``(account_ids, costs[block, K])``."""
        step = max(1, PRICING_BLOCK_PAIRS // max(self.n_reps, 1))
        reps = np.arange(self.n_reps)
        for start in range(0, self.n_accounts, step):
            a = np.arange(start, min(start + step, self.n_accounts))
            aa = np.repeat(a, self.n_reps)
            rr = np.tile(reps, len(a))
            yield a, self.cost(aa, rr).reshape(len(a), self.n_reps)

    def initial_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """The nearest few reps of every account plus its current and locked rep (allowed only)."""
        k = min(self.candidates, self.n_reps)
        if self.travel is not None:
            a_parts, r_parts = [], []
            for a, costs in self.blocks():
                order = np.argsort(costs, axis=1, kind="stable")[:, :k]
                a_parts.append(np.repeat(a, k))
                r_parts.append(order.ravel())
            a_near, r_near = np.concatenate(a_parts), np.concatenate(r_parts)
        else:
            idx = nearest(self.acc_lat, self.acc_lon, self.rep_lat, self.rep_lon, k)
            a_near = np.repeat(np.arange(self.n_accounts), idx.shape[1])
            r_near = idx.ravel()
        extra = [
            (np.arange(self.n_accounts), self.current),
            (np.arange(self.n_accounts), self.locked),
        ]
        a_all = np.concatenate([a_near] + [a[r >= 0] for a, r in extra])
        r_all = np.concatenate([r_near] + [r[r >= 0] for _, r in extra])
        a_all, r_all = unique_pairs(a_all, r_all, self.n_reps)
        ok = np.isfinite(self.cost(a_all, r_all))
        return a_all[ok], r_all[ok]

    def rep_candidates(self, need: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each rep, its nearest accounts until their ``weight`` adds up to ``need[r]``.

        Account-side candidates alone can leave a rep in a sparse region unable to fill its
        band; these pairs make the first LP feasible in practice (pricing covers the rest).
        """
        from scipy.spatial import cKDTree

        from territory.geo import unit_vectors

        tree = cKDTree(unit_vectors(self.acc_lat, self.acc_lon))
        homes = unit_vectors(self.rep_lat, self.rep_lon)
        k = min(self.n_accounts, max(8, int(np.ceil(2 * self.n_accounts / max(self.n_reps, 1)))))
        pending = np.arange(self.n_reps)
        a_parts, r_parts = [], []
        while len(pending):
            _, idx = tree.query(homes[pending], k=k)
            idx = np.asarray(idx, dtype=np.int64).reshape(len(pending), k)
            reached = np.cumsum(weight[idx], axis=1) >= need[pending, None]
            done = reached.any(axis=1) | (k >= self.n_accounts)
            # keep each finished rep's prefix up to and including the account that reaches need
            first = np.where(reached.any(axis=1), reached.argmax(axis=1), k - 1)
            for row in np.flatnonzero(done):
                a_parts.append(idx[row, : first[row] + 1])
                r_parts.append(np.full(first[row] + 1, pending[row]))
            pending = pending[~done]
            k = min(self.n_accounts, 2 * k)
        if not a_parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        a_all, r_all = unique_pairs(np.concatenate(a_parts), np.concatenate(r_parts), self.n_reps)
        ok = np.isfinite(self.cost(a_all, r_all))
        return a_all[ok], r_all[ok]

    def cheap_pairs(
        self, accounts: np.ndarray, budget: np.ndarray, reps: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """A superset of the pairs (a, r), r in ``reps``, with cost at most ``budget`` per account.

        The cost is at least ``weight × distance`` (or its square), so the reps within that
        distance are the only candidates. Each account's ``NEAREST_CACHED`` nearest reps are
        looked up once (``_nearest_reps``) and answer every account whose reach ends before its
        farthest cached rep; a ball query on the reps' KD-tree answers the others. None with a
        travel-time table (no geometry to search); negative budgets select nothing.
        """
        if self.travel is not None:
            return None
        from territory.geo import EARTH_RADIUS_KM

        ok = budget >= 0
        accounts, budget = accounts[ok], budget[ok]
        if len(accounts) == 0 or len(reps) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        reach = budget / self.weight[accounts]
        km = np.sqrt(reach) if self.squared else reach
        # chord length on the unit sphere for a great-circle distance, a little generous
        angle = np.minimum(km / EARTH_RADIUS_KM, np.pi)
        chord = 2.0 * np.sin(angle / 2.0) * (1 + 1e-6) + 1e-12
        near, near_chord = self._nearest_reps()
        wanted = np.zeros(self.n_reps, dtype=bool)
        wanted[reps] = True
        rows, cached = near[accounts], near_chord[accounts]
        # reps beyond the cache may be in reach only if the reach gets to the last cached one
        beyond = np.zeros(len(accounts), dtype=bool)
        if near.shape[1] < self.n_reps:
            beyond = chord >= cached[:, -1]
        inside = (cached <= chord[:, None]) & wanted[rows] & ~beyond[:, None]
        hit_row, hit_col = np.nonzero(inside)
        found_a = [accounts[hit_row]]
        found_r = [rows[hit_row, hit_col].astype(np.int64)]
        if beyond.any():
            far_a, far_r = self._ball_pairs(accounts[beyond], chord[beyond], reps)
            found_a.append(far_a)
            found_r.append(far_r)
        return np.concatenate(found_a), np.concatenate(found_r)

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """Accounts' and reps' locations as 3-D unit vectors (what the bisection cuts)."""
        from territory.geo import unit_vectors

        return unit_vectors(self.acc_lat, self.acc_lon), unit_vectors(self.rep_lat, self.rep_lon)

    def _nearest_reps(self) -> tuple[np.ndarray, np.ndarray]:
        """Every account's ``NEAREST_CACHED`` nearest reps and their chords on the unit sphere
        (float32, nearest first), computed on first use: the geometry never changes."""
        if self._nearest is None:
            from scipy.spatial import cKDTree

            from territory.geo import unit_vectors

            m = min(NEAREST_CACHED, self.n_reps)
            tree = cKDTree(unit_vectors(self.rep_lat, self.rep_lon))
            chords, idx = tree.query(unit_vectors(self.acc_lat, self.acc_lon), k=m)
            idx = np.asarray(idx).reshape(self.n_accounts, m).astype(np.int32)
            chords = np.asarray(chords).reshape(self.n_accounts, m)
            # float32 rounded down, so a cached rep is never judged farther than it is
            self._nearest = (idx, np.nextafter(chords.astype(np.float32), np.float32(0)))
        return self._nearest

    def _ball_pairs(
        self, accounts: np.ndarray, chord: np.ndarray, reps: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (a, r), r in ``reps``, with r within ``chord`` of a on the unit sphere."""
        from scipy.spatial import cKDTree

        from territory.geo import unit_vectors

        tree = cKDTree(unit_vectors(self.rep_lat[reps], self.rep_lon[reps]))
        points = unit_vectors(self.acc_lat[accounts], self.acc_lon[accounts])
        found = tree.query_ball_point(points, chord, return_sorted=False)
        lengths = np.fromiter((len(f) for f in found), dtype=np.int64, count=len(found))
        total = int(lengths.sum())
        local = np.fromiter(chain.from_iterable(found), dtype=np.int64, count=total)
        return np.repeat(accounts, lengths), reps[local]

    def reachable(self) -> np.ndarray:
        """Accounts with at least one allowed rep; the others are reported uncovered."""
        if self.travel is None and self.max_distance is None:
            # every rep may serve every account, but for the pairs a scenario forbids
            per_account = np.bincount(self.forbidden_keys // self.n_reps, minlength=self.n_accounts)
            return per_account < self.n_reps
        out = np.zeros(self.n_accounts, dtype=bool)
        for a, costs in self.blocks():
            out[a] = np.isfinite(costs).any(axis=1)
        return out


def is_forbidden(forbidden_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Membership of pair keys in the sorted forbidden keys (vectorised binary search)."""
    pos = np.minimum(np.searchsorted(forbidden_keys, keys), len(forbidden_keys) - 1)
    return forbidden_keys[pos] == keys


def unique_pairs(a: np.ndarray, r: np.ndarray, n_reps: int) -> tuple[np.ndarray, np.ndarray]:
    """Deduplicate pairs and sort them by account, then rep (a deterministic order)."""
    keys = unique_keys(a.astype(np.int64) * n_reps + r.astype(np.int64))
    return keys // n_reps, keys % n_reps

"""Great-circle distances and nearest-rep candidate search on the unit sphere."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

EARTH_RADIUS_KM = 6371.0088


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """3-D unit vectors, so that Euclidean nearest neighbours are great-circle nearest."""
    phi, lam = np.radians(lat), np.radians(lon)
    cos_phi = np.cos(phi)
    return np.column_stack([cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)])


def haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Element-wise great-circle distance in km (broadcasts like numpy)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlam = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def nearest(
    from_lat: np.ndarray, from_lon: np.ndarray, to_lat: np.ndarray, to_lon: np.ndarray, k: int
) -> np.ndarray:
    """Indices of the ``k`` nearest ``to`` points for every ``from`` point, shape (n, k)."""
    k = min(k, len(to_lat))
    tree = cKDTree(unit_vectors(to_lat, to_lon))
    _, idx = tree.query(unit_vectors(from_lat, from_lon), k=k)
    return np.asarray(idx, dtype=np.int64).reshape(len(from_lat), k)

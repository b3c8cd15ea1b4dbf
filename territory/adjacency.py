"""Which units touch: rook or queen adjacency, its connected parts, and contiguity checks.

Rook units share a stretch of boundary; queen units share at least a point. Both are computed
with shapely 2's vectorised predicates on an STRtree, in the projected CRS of the layer.
A unit map in several parts (islands, exclaves) can be linked explicitly with
:func:`connect_parts`, which joins each part to its nearest other part by the closest pair of
units, and records every link it adds so the run can report them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

Contact = Literal["rook", "queen"]


@dataclass
class Adjacency:
    """A symmetric unit graph with its parts; ``links`` are edges added by ``connect_parts``."""

    graph: sparse.csr_matrix
    kind: str
    links: list[tuple[int, int]] = field(default_factory=list)

    @property
    def n_units(self) -> int:
        return self.graph.shape[0]

    def parts(self) -> np.ndarray:
        """The connected part of each unit (0 is the part of the first unit)."""
        _, labels = connected_components(self.graph, directed=False)
        return labels

    def islands(self) -> np.ndarray:
        """Units with no neighbour at all."""
        return np.flatnonzero(np.diff(self.graph.indptr) == 0)

    def neighbours(self, unit: int) -> np.ndarray:
        return self.graph.indices[self.graph.indptr[unit] : self.graph.indptr[unit + 1]]


def _graph(n: int, i: np.ndarray, j: np.ndarray) -> sparse.csr_matrix:
    keep = i != j
    i, j = i[keep], j[keep]
    data = np.ones(2 * len(i), dtype=np.int8)
    graph = sparse.coo_matrix((data, (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()
    graph.data[:] = 1
    graph.sort_indices()
    return graph


def unit_adjacency(geoms, kind: Contact = "rook", tolerance: float = 0.0) -> Adjacency:
    """Adjacency of polygons (a GeoSeries or array, ideally in a projected CRS).

    ``tolerance`` (in the layer's units) lets polygons closer than it count as touching,
    for layers whose shared borders do not match exactly.
    """
    import shapely

    geoms = np.asarray(getattr(geoms, "values", geoms), dtype=object)
    tree = shapely.STRtree(geoms)
    if tolerance > 0:
        i, j = tree.query(geoms, predicate="dwithin", distance=tolerance)
    else:
        i, j = tree.query(geoms, predicate="intersects")
    upper = i < j
    i, j = i[upper], j[upper]
    if kind == "rook" and len(i):
        boundaries = shapely.boundary(geoms)
        reach = tolerance if tolerance > 0 else 0.0
        if reach > 0:
            shared = shapely.intersection(
                shapely.buffer(boundaries[i], reach), shapely.buffer(boundaries[j], reach)
            )
            # a stretch of border, not a corner: longer than the buffers themselves
            keep = shapely.area(shared) > 4 * reach * reach * np.pi
        else:
            shared = shapely.intersection(boundaries[i], boundaries[j])
            keep = shapely.length(shared) > 0
        i, j = i[keep], j[keep]
    elif kind != "queen" and kind != "rook":
        raise ValueError(f"unknown adjacency {kind!r}")
    return Adjacency(_graph(len(geoms), i, j), kind)


def connect_parts(adjacency: Adjacency, geoms) -> Adjacency:
    """Link the parts of the unit map into one, each time joining the part of the first unit
    to its nearest other part by the closest pair of polygons (deterministic)."""
    import shapely

    geoms = np.asarray(getattr(geoms, "values", geoms), dtype=object)
    graph = adjacency.graph.tolil()
    links: list[tuple[int, int]] = list(adjacency.links)
    while True:
        current = Adjacency(graph.tocsr(), adjacency.kind)
        labels = current.parts()
        if labels.max() == 0:
            break
        inside = np.flatnonzero(labels == 0)
        outside = np.flatnonzero(labels != 0)
        tree = shapely.STRtree(geoms[outside])
        nearest, dist = tree.query_nearest(geoms[inside], return_distance=True, all_matches=False)
        best = int(np.lexsort((nearest[1], nearest[0], dist))[0])
        a, b = int(inside[nearest[0][best]]), int(outside[nearest[1][best]])
        graph[a, b] = 1
        graph[b, a] = 1
        links.append((min(a, b), max(a, b)))
    return Adjacency(_graph_from(graph), adjacency.kind, links)


def _graph_from(graph) -> sparse.csr_matrix:
    csr = graph.tocsr().astype(np.int8)
    csr.sort_indices()
    return csr


def territory_parts(
    adjacency: Adjacency, assignment: np.ndarray, territory: int
) -> list[list[int]]:
    """The connected pieces of one territory (lists of units), largest first."""
    members = np.flatnonzero(assignment == territory)
    if len(members) == 0:
        return []
    sub = adjacency.graph[members][:, members]
    count, labels = connected_components(sub, directed=False)
    pieces = [members[labels == c].tolist() for c in range(count)]
    return sorted(pieces, key=lambda p: (-len(p), p[0]))


def contiguous(adjacency: Adjacency, assignment: np.ndarray) -> bool:
    """Every territory is one connected piece of the unit graph."""
    return all(len(territory_parts(adjacency, assignment, t)) <= 1 for t in np.unique(assignment))


def separator(adjacency: Adjacency, piece: list[int], target: int) -> list[int]:
    """A minimal set of units separating ``piece`` from ``target``.

    Start from the boundary N(piece) of the piece; keep only those boundary units adjacent to the
    part of the graph without N(piece) that contains ``target`` (Fischetti et al.'s reduction).
    A territory holding a unit of the piece and ``target`` must contain one of them.
    """
    graph = adjacency.graph
    inside = np.zeros(graph.shape[0], dtype=bool)
    inside[piece] = True
    boundary = np.zeros_like(inside)
    for unit in piece:
        boundary[adjacency.neighbours(unit)] = True
    boundary &= ~inside
    blocked = inside | boundary
    free = np.flatnonzero(~blocked)
    if target in piece or boundary[target]:
        return np.flatnonzero(boundary).tolist()
    sub = graph[free][:, free]
    _, labels = connected_components(sub, directed=False)
    position = np.searchsorted(free, target)
    region = free[labels == labels[position]]
    near = np.zeros_like(inside)
    for unit in region:
        near[adjacency.neighbours(unit)] = True
    return np.flatnonzero(boundary & near).tolist()

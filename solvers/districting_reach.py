r"""Contiguity facts known before any cut: pairs no contiguous plan can use, and one row per pair.

For a greenfield design with contiguous territories (every territory holds its centre unit
:math:`u_c`):

- **Reach**: unit *u* can join centre *c* only with a path of units from :math:`u_c` to *u*
  inside the territory, so the lightest such path (potential summed over its units, both ends
  included) must fit under the upper band :math:`(1 + t) T_c`; pairs beyond it are fixed to 0
  (Validi, Buchanan and Lykhovyd's length-based fixing, by Dijkstra on node weights).
- **Neighbour rows**: a unit other than the centre has a neighbour in its territory,
  :math:`x_{uc} \le \sum_{v \in N(u)} x_{vc}` — the a,b-separator cut of the piece
  :math:`\{u\}`, added for every pair at once instead of one failed round at a time.

Both hold for every contiguous plan, so the LP bound, the reduced-cost fixing and every MILP
round stay valid, and tighter.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from solvers.districting import Districting
from solvers.districting_highs import HighsDistricting
from territory.adjacency import Adjacency


def unreachable(model: Districting, adjacency: Adjacency) -> np.ndarray:
    """(units × centres) mask of pairs whose lightest path from the centre overflows the
    upper band (greenfield only; all False otherwise)."""
    out = np.zeros(model.cost.shape, dtype=bool)
    if model.centre_unit is None:
        return out
    p = model.potential.astype(float)
    # node weights on arcs (a -> b costs p[b]); a zero weight would vanish from the sparse
    # matrix, so every arc carries a tiny extra that the comparison below allows for
    tiny = 1e-9 * max(float(p.max()), 1.0) / max(model.n_units, 1)
    graph = adjacency.graph.tocoo()
    arcs = sparse.csr_matrix(
        (p[graph.col] + tiny, (graph.row, graph.col)), shape=adjacency.graph.shape
    )
    centres = np.arange(model.n_centres)
    hi = (1 + model.tolerance) * model.pot_target
    dist = dijkstra(arcs, directed=True, indices=model.centre_unit)  # (centres, units)
    light = dist + p[model.centre_unit][:, None]
    slack = hi[:, None] * (1 + 1e-9) + tiny * model.n_units
    out[:, centres] = (light > slack).T
    return out


def add_neighbour_rows(problem: HighsDistricting, adjacency: Adjacency) -> tuple[int, int]:
    """The neighbour rows of every column but the centres' own (greenfield); a column whose
    unit has no neighbour column for its centre is fixed to 0. Returns (rows, fixed)."""
    model = problem.model
    if model.centre_unit is None:
        return 0, 0
    graph = adjacency.graph
    column = np.full(model.cost.shape, -1, dtype=np.int64)
    column[problem.pair_u, problem.pair_c] = np.arange(len(problem.pair_u))
    starts, index, values, fixed = [0], [], [], []
    own = model.centre_unit
    for k, (u, c) in enumerate(zip(problem.pair_u.tolist(), problem.pair_c.tolist(), strict=True)):
        if u == own[c]:
            continue
        near = column[graph.indices[graph.indptr[u] : graph.indptr[u + 1]], c]
        near = near[near >= 0]
        if len(near) == 0:
            fixed.append(k)
            continue
        index += [k, *near.tolist()]
        values += [1.0] + [-1.0] * len(near)
        starts.append(len(index))
    n = len(starts) - 1
    if n:
        problem.highs.addRows(
            n,
            np.full(n, -problem.inf),
            np.zeros(n),
            len(index),
            np.array(starts[:-1], np.int32),
            np.array(index, np.int32),
            np.array(values),
        )
    problem.fix(np.array(fixed, dtype=np.int64))
    return n, len(fixed)

"""Colours and marker sizes.

Territories that touch must not share a colour, otherwise two neighbouring
reps read as one territory; a greedy colouring of the adjacency graph over a
fixed qualitative palette is enough for planar maps and is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

PALETTE: tuple[str, ...] = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#17becf",
    "#bcbd22",
    "#7f3c8d",
)
UNCOVERED_COLOUR = "#9e9e9e"
MIN_RADIUS = 3.0
MAX_RADIUS = 12.0


def greedy_colours(
    nodes: Iterable[str],
    neighbours: Mapping[str, Iterable[str]],
    palette: Sequence[str] = PALETTE,
) -> dict[str, str]:
    """Colour ``nodes`` so that neighbours differ whenever the palette allows.

    Nodes are visited by descending degree (ties by id); each takes the least
    used colour not yet taken by a coloured neighbour, which also spreads the
    palette over isolated nodes. If every colour is taken by a neighbour the
    one used least among the neighbours is chosen.
    """
    node_list = sorted(set(nodes))
    adjacency = {n: sorted(set(neighbours.get(n, ())) - {n}) for n in node_list}
    order = sorted(node_list, key=lambda n: (-len(adjacency[n]), n))
    usage = [0] * len(palette)
    chosen: dict[str, int] = {}
    for node in order:
        taken = [chosen[m] for m in adjacency[node] if m in chosen]
        free = [i for i in range(len(palette)) if i not in taken]
        if free:
            index = min(free, key=lambda i: (usage[i], i))
        else:
            index = min(range(len(palette)), key=lambda i: (taken.count(i), usage[i], i))
        chosen[node] = index
        usage[index] += 1
    return {node: palette[chosen[node]] for node in node_list}


def marker_radii(potential: Sequence[float] | np.ndarray) -> np.ndarray:
    """Circle radius per account in pixels, proportional to sqrt(potential).

    The area of a circle then grows linearly with potential. The scale is set
    by the 95th percentile so one huge account does not shrink all others,
    and radii are clamped to [MIN_RADIUS, MAX_RADIUS].
    """
    values = np.asarray(potential, dtype=float)
    values = np.where(np.isfinite(values) & (values > 0), values, 0.0)
    positive = values[values > 0]
    if positive.size == 0:
        return np.full(values.shape, MIN_RADIUS)
    reference = float(np.percentile(positive, 95))
    radii = MIN_RADIUS + (MAX_RADIUS - MIN_RADIUS) * np.sqrt(values / reference)
    return np.round(np.clip(radii, MIN_RADIUS, MAX_RADIUS), 1)

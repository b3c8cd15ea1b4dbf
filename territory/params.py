"""Parameters of an alignment run, validated once so the model can trust them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from territory.errors import UsageError

Distance = Literal["great_circle", "squared"]
Weighting = Literal["potential", "workload", "none"]
MipMode = Literal["auto", "always", "never"]


@dataclass(frozen=True)
class AlignParams:
    """What the user asks of a plan.

    Tolerances are shares (0.05 = every rep within ±5 % of its target). ``max_distance`` and
    ``move_penalty`` are in the objective's distance unit: km, or minutes with a travel-time
    table (``max_distance`` is compared before squaring).
    """

    tolerance: float = 0.05
    workload_tolerance: float | None = 0.10
    max_moved: float | None = None
    move_penalty: float = 0.0
    max_distance: float | None = None
    distance: Distance = "great_circle"
    weighting: Weighting = "potential"
    candidates: int = 8
    solver: str = "HiGHS"
    time_limit: float = 120.0
    gap: float = 0.001
    mip: MipMode = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise UsageError(message)

        need(0 <= self.tolerance < 1, "--tolerance must be in [0, 1), e.g. 0.05 for ±5 %.")
        need(
            self.workload_tolerance is None or 0 <= self.workload_tolerance < 1,
            "--workload-tolerance must be in [0, 1), e.g. 0.10 for ±10 %.",
        )
        need(self.max_moved is None or 0 <= self.max_moved <= 1, "--max-moved must be in [0, 1].")
        need(self.move_penalty >= 0, "--move-penalty must be 0 or more.")
        need(self.max_distance is None or self.max_distance > 0, "--max-distance must be > 0.")
        need(self.distance in ("great_circle", "squared"), "--distance: great_circle or squared.")
        need(
            self.weighting in ("potential", "workload", "none"),
            "--weighting: potential, workload or none.",
        )
        need(self.candidates >= 1, "--candidates must be at least 1.")
        need(self.time_limit > 0, "--time-limit must be > 0 seconds.")
        need(0 <= self.gap < 1, "--gap must be in [0, 1), e.g. 0.005 for 0.5 %.")
        need(self.mip in ("auto", "always", "never"), "--mip: auto, always or never.")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

"""A tiny world on files for scenario, edit and sweep tests: 3 reps, 12 accounts on the equator."""

from __future__ import annotations

from pathlib import Path

REPS_CSV = (
    "rep_id,name,region,lat,lon,capacity,fte\n"
    "W,West rep,West,0,0.0,100,1\n"
    "C,Centre rep,West,0,1.0,100,1\n"
    "E,East rep,East,0,2.0,100,1\n"
)


def accounts_csv() -> str:
    """12 accounts 0.2° apart (potential 10 to 21, workload 1); the first is locked to W."""
    lines = ["account_id,segment,lat,lon,potential,workload,current_rep,locked_rep"]
    for i in range(12):
        lon = 0.2 * i
        rep = "W" if lon < 0.5 else ("C" if lon < 1.5 else "E")
        segment = "Hospital" if i % 3 == 0 else "Clinic"
        locked = "W" if i == 0 else ""
        lines.append(f"a{i:02d},{segment},0,{lon:.1f},{10 + i},1,{rep},{locked}")
    return "\n".join(lines) + "\n"


def write_world(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    accounts, reps = folder / "accounts.csv", folder / "reps.csv"
    accounts.write_text(accounts_csv())
    reps.write_text(REPS_CSV)
    return accounts, reps


BASE_TOML = """
name = "tiny"
[inputs]
accounts = "data/accounts.csv"
reps = "data/reps.csv"
[parameters]
tolerance = 0.3
workload_tolerance = "none"
"""


def write_scenario(folder: Path, text: str, name: str = "scenario.toml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def world_with_base(tmp_path: Path) -> Path:
    """The tiny world under tmp_path/data and base.toml beside it; returns base.toml."""
    write_world(tmp_path / "data")
    return write_scenario(tmp_path, BASE_TOML, "base.toml")

"""Write a run directory atomically: all files appear together or none do.

A run is written to a temporary sibling directory and renamed into place; an existing run
directory is replaced only after the new one is complete, so an interrupted run (Ctrl-C
included) leaves the previous one exactly as it was.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from territory.errors import UsageError
from territory.safety import neutralise_frame

RUN_MARKER = "run.json"
FLOAT_FORMAT = "%.12g"


def is_run_dir(path: Path) -> bool:
    return (path / RUN_MARKER).is_file()


def check_out_dir(out_dir: Path, marker: str = RUN_MARKER, kind: str = "run") -> None:
    """Refuse to overwrite anything that is not a ``kind`` directory (one holding ``marker``)
    or an empty directory."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file; give a directory for the {kind}.")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / marker).is_file():
        raise UsageError(
            f"--out {out_dir} exists and is not a territory {kind} directory (no {marker}); "
            "refusing to overwrite it. Choose a new or empty directory."
        )


def json_safe(value: Any) -> Any:
    """Plain JSON values: NaN and infinities become null, numpy scalars become Python."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    neutralise_frame(frame).to_csv(
        path, index=False, float_format=FLOAT_FORMAT, lineterminator="\n"
    )


def write_json(record: dict, path: Path) -> None:
    text = json.dumps(json_safe(record), indent=2, ensure_ascii=False, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


def write_run_dir(
    out_dir: Path, writer: Callable[[Path], None], marker: str = RUN_MARKER, kind: str = "run"
) -> Path:
    """Call ``writer(tmp_dir)`` and move the result to ``out_dir`` in one step.

    An existing ``out_dir`` is replaced only when it is empty or holds ``marker`` (a previous
    output of the same kind).
    """
    out_dir = Path(out_dir)
    check_out_dir(out_dir, marker, kind)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; a run directory is an ordinary one
    backup: Path | None = None
    try:
        writer(tmp)
        if out_dir.exists():
            backup = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
            out_dir.rename(backup)
        try:
            tmp.rename(out_dir)
        except BaseException:
            if backup is not None:
                backup.rename(out_dir)
                backup = None
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)
    return out_dir

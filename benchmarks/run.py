"""Run the benchmark instances, each in a fresh process, and write ``docs/benchmarks.md``.

Every instance runs twice in its own ``spawn`` process: once for ``align`` (so the process's
peak resident memory, ``ru_maxrss``, belongs to that instance alone) and once for the
baselines. The parent polls the child's peak RSS from ``/proc`` and kills it past a hard wall
clock, so a run that overruns or dies still leaves a row saying so.
"""

from __future__ import annotations

import importlib.metadata
import json
import multiprocessing as mp
import os
import platform
import queue
import resource
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.generate import DEFAULT_SEED, SIZES, generate_size, parse_size

SAMPLE = "sample"


@dataclass
class Job:
    """One child process's work: ``align`` or ``baselines`` on one instance."""

    kind: str
    instance: str
    seed: int
    time_limit: float


@dataclass
class JobResult:
    """What came back from a child (or what the parent saw when it did not)."""

    job: Job
    ok: bool
    data: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[float, str, str]] = field(default_factory=list)
    error: str | None = None
    wall: float = 0.0
    peak_rss_mib: float | None = None  # polled by the parent (VmHWM), kept when killed


# ---------------------------------------------------------------------------- child side


def load_instance(name: str, seed: int) -> tuple[Any, dict[str, float]]:
    """Validated inputs of an instance and the seconds spent generating and validating."""
    from territory.inputs import inputs_from_frames, load_inputs

    start = time.perf_counter()
    if name == SAMPLE:
        from sample_data import ACCOUNTS, REPS

        inputs = load_inputs(ACCOUNTS, REPS)
        return inputs, {"load": time.perf_counter() - start}
    accounts, reps = generate_size(name, seed)
    generated = time.perf_counter()
    inputs = inputs_from_frames(accounts, reps)
    done = time.perf_counter()
    return inputs, {"generate": generated - start, "validate": done - generated}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _child(job: Job, out: Any) -> None:
    """Child process entry point: run ``job`` and put events and one result on ``out``."""
    try:
        data = _align_job(job, out) if job.kind == "align" else _baseline_job(job)
        out.put(("result", data))
    except BaseException:  # noqa: BLE001 - report anything, the parent decides
        out.put(("error", traceback.format_exc()))


def _align_job(job: Job, out: Any) -> dict[str, Any]:
    from benchmarks.profile import Profiler
    from territory.align import align
    from territory.params import AlignParams

    start = time.perf_counter()

    def event(phase: str, detail: str) -> None:
        out.put(("event", time.perf_counter() - start, phase, detail))

    inputs, load_times = load_instance(job.instance, job.seed)
    event("load", f"{inputs.n_accounts:,} accounts, {inputs.n_reps} reps")
    rss_loaded = _rss_mib()
    profiler = Profiler(notify=event)
    profiler.install()
    params = AlignParams(time_limit=job.time_limit)
    load_before = os.getloadavg()[0]
    cpu = _cpu_seconds()
    t = time.perf_counter()
    plan = align(inputs, params, progress=event)
    align_seconds = time.perf_counter() - t
    cpu = _cpu_seconds() - cpu
    outcome = plan.outcome
    data: dict[str, Any] = {
        "accounts": inputs.n_accounts,
        "reps": inputs.n_reps,
        "load_times": load_times,
        "align_seconds": align_seconds,
        "align_cpu_seconds": cpu,
        "loadavg": [load_before, os.getloadavg()[0]],
        "timings": dict(plan.timings),
        "profile": profiler.breakdown(),
        "rss_loaded_mib": rss_loaded,
        "rss_peak_mib": _rss_mib(),
        "status": plan.status,
        "plan_objective": plan.objective,
        "metrics": plan.metrics(),
    }
    if outcome is not None:
        data.update(
            objective=outcome.objective,
            lower_bound=outcome.lower_bound,
            gap=outcome.gap,
            message=outcome.message,
            lp_objective=outcome.lp_objective,
            candidate_pairs=outcome.candidate_pairs,
            pricing_rounds=outcome.pricing_rounds,
            split_accounts=outcome.split_accounts,
            mip=outcome.mip,
            neighbourhood=getattr(outcome, "neighbourhood", None),
        )
    return _plain(data)


def _baseline_job(job: Job) -> dict[str, Any]:
    from territory.align import Plan, facts_of, plan_objective, score_current
    from territory.costs import PairCosts
    from territory.geo import nearest
    from territory.params import AlignParams

    inputs, _ = load_instance(job.instance, job.seed)
    params = AlignParams()
    costs = PairCosts(inputs, params)
    makers = {
        "nearest rep (Voronoi)": lambda: nearest_plan(inputs, nearest),
        "k-means": lambda: kmeans_plan(inputs, job.seed),
    }
    out: dict[str, Any] = {}
    for name, make in makers.items():
        t = time.perf_counter()
        assignment = make()
        seconds = time.perf_counter() - t
        plan = Plan(inputs, params, assignment, facts_of(inputs), None)
        out[name] = _baseline_row(plan.metrics(), plan_objective(costs, assignment), seconds)
    t = time.perf_counter()
    plan = score_current(inputs, params)
    out["drifted incumbent"] = _baseline_row(
        plan.metrics(), plan.objective, time.perf_counter() - t
    )
    return _plain(out)


def _baseline_row(metrics: dict[str, Any], objective: float | None, seconds: float) -> dict:
    return {"metrics": metrics, "objective": objective, "seconds": seconds}


def nearest_plan(inputs: Any, nearest: Any) -> np.ndarray:
    """Every account to its nearest rep (great circle)."""
    accounts, reps = inputs.accounts, inputs.reps
    idx = nearest(
        accounts["lat"].to_numpy(float),
        accounts["lon"].to_numpy(float),
        reps["lat"].to_numpy(float),
        reps["lon"].to_numpy(float),
        1,
    )
    return idx[:, 0].astype(np.int64)


def kmeans_plan(inputs: Any, seed: int) -> np.ndarray:
    """k-means (k = reps) on projected account coordinates; clusters matched to reps by the
    Hungarian method on centroid-to-home distance."""
    from scipy.cluster.vq import kmeans2
    from scipy.optimize import linear_sum_assignment

    from territory.geo import haversine_km

    lat = inputs.accounts["lat"].to_numpy(float)
    lon = inputs.accounts["lon"].to_numpy(float)
    k = inputs.n_reps
    scale = np.cos(np.radians(float(lat.mean())))
    points = np.column_stack([lon * scale, lat])
    centroids, label = kmeans2(points, k, minit="++", seed=np.random.default_rng(seed))
    c_lat, c_lon = centroids[:, 1], centroids[:, 0] / scale
    rep_lat = inputs.reps["lat"].to_numpy(float)
    rep_lon = inputs.reps["lon"].to_numpy(float)
    dist = haversine_km(c_lat[:, None], c_lon[:, None], rep_lat[None, :], rep_lon[None, :])
    clusters, reps = linear_sum_assignment(dist)
    rep_of = np.empty(k, dtype=np.int64)
    rep_of[clusters] = reps
    return rep_of[label]


def _plain(value: Any) -> Any:
    """JSON-ready copy (numpy scalars to Python, non-finite floats to None)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------- parent side


def _vm_hwm_mib(pid: int) -> float | None:
    """Peak resident set of a live process (``VmHWM``), in MiB."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        return None
    return None


def run_job(job: Job, hard_limit: float, log: Any = sys.stderr) -> JobResult:
    """Run ``job`` in a fresh spawned process; kill it after ``hard_limit`` seconds."""
    ctx = mp.get_context("spawn")
    messages = ctx.Queue()
    proc = ctx.Process(target=_child, args=(job, messages), name=f"{job.kind}-{job.instance}")
    start = time.perf_counter()
    proc.start()
    result = JobResult(job, ok=False)
    finished = False
    while not finished:
        try:
            message = messages.get(timeout=0.5)
        except queue.Empty:
            message = None
        if proc.pid is not None:
            hwm = _vm_hwm_mib(proc.pid)
            if hwm is not None:
                result.peak_rss_mib = max(result.peak_rss_mib or 0.0, hwm)
        elapsed = time.perf_counter() - start
        if message is not None:
            finished = _take(result, message, log)
        elif not proc.is_alive():
            result.error = f"the process ended without a result (exit code {proc.exitcode})"
            if proc.exitcode == -9:
                result.error += "; killed by signal 9, likely out of memory"
            finished = True
        elif elapsed > hard_limit:
            proc.kill()
            last = result.events[-1] if result.events else (0.0, "start", "")
            result.error = (
                f"killed by the benchmark after {elapsed:.0f} s (hard limit {hard_limit:.0f} s); "
                f"last progress at {last[0]:.0f} s: {last[1]} {last[2]}".rstrip()
            )
            finished = True
    proc.join(timeout=30)
    if proc.is_alive():
        proc.kill()
        proc.join()
    result.wall = time.perf_counter() - start
    return result


def _take(result: JobResult, message: tuple, log: Any) -> bool:
    """File one message from the child; True once the child is done."""
    kind = message[0]
    if kind == "event":
        _, seconds, phase, detail = message
        result.events.append((seconds, phase, detail))
        print(f"  [{result.job.instance} {seconds:8.1f} s] {phase}: {detail}", file=log, flush=True)
        return False
    if kind == "result":
        result.ok, result.data = True, message[1]
    else:
        result.error = message[1]
    return True


# ------------------------------------------------------------------------------- driver


def machine_info() -> dict[str, str]:
    """CPU model, cores, RAM, OS, Python and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    except OSError:
        pass
    versions = {}
    for package in ("territory", "pulp", "highspy", "numpy", "scipy", "pandas"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "ram": ram,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        **versions,
    }


def code_version() -> str:
    """The commit under test, and the package files that differ from it."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.rstrip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "unknown (not a git checkout)"
    changed = git("status", "--porcelain", "--", "solvers", "territory").splitlines()
    files = sorted(line[3:] for line in changed if line.strip())
    if not files:
        return f"commit {commit}"
    return f"commit {commit} plus uncommitted changes in {', '.join(files)}"


def instance_shape(name: str) -> tuple[int | None, int | None]:
    if name == SAMPLE:
        return 3_000, 30
    return parse_size(name)


def run_all(
    sizes: list[str],
    time_limit: float,
    out: Path,
    seed: int = DEFAULT_SEED,
    hard_limit: float | None = None,
    baselines: bool = True,
    json_path: Path | None = None,
    command: str = "",
) -> list[dict[str, Any]]:
    """Run every size, rewriting ``out`` after each instance; returns the records."""
    from benchmarks.report import write_report

    hard = hard_limit if hard_limit is not None else 2 * time_limit + 60
    info = machine_info()
    code = code_version()
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    records: list[dict[str, Any]] = []
    for name in sizes:
        print(f"{name}: align (time limit {time_limit:.0f} s, hard {hard:.0f} s)", file=sys.stderr)
        job = Job("align", name, seed, time_limit)
        solved = run_job(job, hard)
        record: dict[str, Any] = {
            "instance": name,
            "shape": instance_shape(name),
            "align": _record(solved),
        }
        if baselines:
            print(f"{name}: baselines", file=sys.stderr)
            base = run_job(Job("baselines", name, seed, time_limit), hard)
            record["baselines"] = _record(base)
        records.append(record)
        meta = {
            "machine": info,
            "date": started,
            "command": command,
            "code": code,
            "seed": seed,
            "time_limit": time_limit,
            "hard_limit": hard,
        }
        write_report(out, meta, records)
        if json_path is not None:
            json_path.write_text(json.dumps({"meta": meta, "records": records}, indent=1))
        print(f"{name}: done in {solved.wall:.1f} s; wrote {out}", file=sys.stderr)
    return records


def _record(result: JobResult) -> dict[str, Any]:
    record = asdict(result)
    record.pop("job")
    return _plain(record)


__all__ = ["SIZES", "Job", "JobResult", "run_all", "run_job", "machine_info"]

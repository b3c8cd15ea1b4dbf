"""Run the benchmark instances, each in a fresh process, and write ``docs/benchmarks.md``.

Every instance runs in its own ``spawn`` processes: one for ``align`` (so the process's
peak resident memory, ``ru_maxrss``, belongs to that instance alone), one for the simple
baselines, one for the newcomer's PuLP + CBC model (``newcomer.py``) and one for the bare
``highspy`` floor (``floor.py``), which solves the LP the ``align`` process ended with (its
candidate pairs travel through a temporary ``.npz`` file). The parent polls the child's peak
RSS from ``/proc`` and kills it past a hard wall clock, so a run that overruns or dies still
leaves a row saying so.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import multiprocessing as mp
import os
import platform
import queue
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.generate import DEFAULT_SEED, SIZES, generate_size, parse_size
from benchmarks.newcomer import NEWCOMER_MAX_PAIRS

NEWCOMER_TIME_LIMIT = 60.0  # CBC seconds per instance for baseline (a)

SAMPLE = "sample"


@dataclass
class Job:
    """One child process's work: ``align``, ``baselines``, ``newcomer`` or ``floor`` on one
    instance. ``pairs_file``: where ``align`` saves its final LP pairs and ``floor`` reads them."""

    kind: str
    instance: str
    seed: int
    time_limit: float
    pairs_file: str | None = None


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
    """Child process entry point: run ``job`` and put events and one result on ``out``.

    The child leads its own process group, so a kill also ends the solver processes it starts
    (PuLP runs CBC as a subprocess, which would otherwise outlive it and hold a core).
    """
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    try:
        jobs = {
            "align": lambda: _align_job(job, out),
            "baselines": lambda: _baseline_job(job),
            "newcomer": lambda: _newcomer_job(job),
            "floor": lambda: _floor_job(job),
        }
        data = jobs[job.kind]()
        out.put(("result", data))
    except BaseException:  # noqa: BLE001 - report anything, the parent decides
        out.put(("error", traceback.format_exc()))


def _align_job(job: Job, out: Any) -> dict[str, Any]:
    from benchmarks.floor import LPCapture
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
    capture = LPCapture()
    if job.pairs_file is not None:
        capture.install()
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
    if job.pairs_file is not None and capture.last is not None:
        lp = capture.last
        np.savez(
            job.pairs_file,
            pair_a=lp.pair_a,
            pair_r=lp.pair_r,
            objective=np.nan if lp.objective is None else lp.objective,
            cost_scale=lp.cost_scale,
            converged=lp.converged,
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


def _instance_model(job: Job) -> tuple[Any, Any, Any, Any]:
    """Inputs, default parameters, pair costs and model arrays of the job's instance."""
    from territory.align import build_model
    from territory.costs import PairCosts
    from territory.params import AlignParams

    inputs, _ = load_instance(job.instance, job.seed)
    params = AlignParams()
    costs = PairCosts(inputs, params)
    return inputs, params, costs, build_model(inputs, params, costs)


def _newcomer_job(job: Job) -> dict[str, Any]:
    """Baseline (a): the all-pairs PuLP model solved by CBC, scored by our metric functions."""
    from benchmarks.newcomer import solve_newcomer
    from territory.align import Plan, facts_of, plan_objective

    inputs, params, costs, model = _instance_model(job)
    out = solve_newcomer(model, job.time_limit)
    assignment = out.pop("assignment")
    out["instance"] = job.instance
    out["rss_peak_mib"] = _rss_mib()
    if out["has_solution"]:
        plan = Plan(inputs, params, assignment, facts_of(inputs, model.active), None)
        out["metrics"] = plan.metrics()
        out["objective"] = plan_objective(costs, assignment)
    return _plain(out)


def _floor_job(job: Job) -> dict[str, Any]:
    """Baseline (c): our run's final LP (or, failing that, the initial pairs) in bare highspy."""
    from benchmarks.floor import run_floor

    _, _, costs, model = _instance_model(job)
    source = "final candidate pairs of our LP"
    ours: dict[str, Any] = {}
    path = Path(job.pairs_file) if job.pairs_file else None
    if path is not None and path.exists():
        with np.load(path) as saved:
            pair_a, pair_r = saved["pair_a"], saved["pair_r"]
            cost_scale = float(saved["cost_scale"])
            ours = {
                "lp_objective": float(saved["objective"]),
                "converged": bool(saved["converged"]),
            }
    else:
        source = "initial candidate pairs (nearest reps + current rep; our LP pairs unavailable)"
        pair_a, pair_r = costs.initial_pairs()
        keep = model.active[pair_a]
        pair_a, pair_r = pair_a[keep], pair_r[keep]
        cost_scale = max(float(np.mean(costs.cost(pair_a, pair_r))), 1e-9) if len(pair_a) else 1.0
    out = run_floor(model, pair_a, pair_r, cost_scale, job.time_limit)
    out["pairs_source"] = source
    out.update(ours)
    out["rss_peak_mib"] = _rss_mib()
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
    try:
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
                _kill_group(proc)
                last = result.events[-1] if result.events else (0.0, "start", "")
                result.error = (
                    f"killed by the benchmark after {elapsed:.0f} s (hard limit "
                    f"{hard_limit:.0f} s); last progress at {last[0]:.0f} s: {last[1]} {last[2]}"
                ).rstrip()
                finished = True
    except BaseException:  # Ctrl-C or a parent failure: leave no solver running
        _kill_group(proc)
        raise
    proc.join(timeout=30)
    if proc.is_alive():
        _kill_group(proc)
        proc.join()
    result.wall = time.perf_counter() - start
    return result


def _kill_group(proc: Any) -> None:
    """Kill a child and every process in its group (the solvers it started)."""
    if proc.pid is not None:
        with contextlib.suppress(OSError):  # not (yet) a group leader, or already gone
            os.killpg(proc.pid, signal.SIGKILL)
    proc.kill()


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
    newcomer: bool = True,
    floor: bool = True,
    newcomer_time_limit: float = NEWCOMER_TIME_LIMIT,
    newcomer_max_pairs: int = NEWCOMER_MAX_PAIRS,
) -> list[dict[str, Any]]:
    """Run every size, rewriting ``out`` after each instance; returns the records."""
    from benchmarks.report import write_report

    hard = hard_limit if hard_limit is not None else 2 * time_limit + 60
    info = machine_info()
    code = code_version()
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    records: list[dict[str, Any]] = []
    meta = {
        "machine": info,
        "date": started,
        "command": command,
        "code": code,
        "seed": seed,
        "time_limit": time_limit,
        "hard_limit": hard,
        "newcomer_time_limit": newcomer_time_limit if newcomer else None,
        "newcomer_max_pairs": newcomer_max_pairs,
    }
    with tempfile.TemporaryDirectory(prefix="territory-bench-") as scratch:
        for name in sizes:
            print(
                f"{name}: align (time limit {time_limit:.0f} s, hard {hard:.0f} s)", file=sys.stderr
            )
            pairs_file = str(Path(scratch) / f"{name}-pairs.npz") if floor else None
            solved = run_job(Job("align", name, seed, time_limit, pairs_file), hard)
            record: dict[str, Any] = {
                "instance": name,
                "shape": instance_shape(name),
                "align": _record(solved),
            }
            if baselines:
                print(f"{name}: baselines", file=sys.stderr)
                base = run_job(Job("baselines", name, seed, time_limit), hard)
                record["baselines"] = _record(base)
            if floor:
                print(f"{name}: bare highspy floor", file=sys.stderr)
                record["floor"] = _record(
                    run_job(Job("floor", name, seed, time_limit, pairs_file), hard)
                )
            if newcomer:
                record["newcomer"] = _newcomer(
                    name, seed, newcomer_time_limit, newcomer_max_pairs, records
                )
            record["comparison"] = compare(record)
            records.append(record)
            write_report(out, meta, records)
            if json_path is not None:
                json_path.write_text(json.dumps({"meta": meta, "records": records}, indent=1))
            print(f"{name}: done in {solved.wall:.1f} s; wrote {out}", file=sys.stderr)
    return records


def _newcomer(
    name: str, seed: int, limit: float, max_pairs: int, done: list[dict[str, Any]]
) -> dict[str, Any]:
    """Run the newcomer's model, or, above ``max_pairs`` pairs, estimate it from the largest
    one measured so far in this run."""
    import pulp

    from benchmarks.newcomer import cbc_solver, estimate

    n, k = instance_shape(name)
    pairs = (n or 0) * (k or 0)
    if pairs > max_pairs:
        measured = [
            r["newcomer"]["data"]
            for r in done
            if r.get("newcomer", {}).get("ok") and r["newcomer"]["data"].get("variables")
        ]
        largest = max(measured, key=lambda d: d["variables"]) if measured else None
        print(f"{name}: newcomer not run ({pairs:,} binary variables)", file=sys.stderr)
        return {"skipped": estimate(pairs, largest), "max_pairs": max_pairs}
    if cbc_solver() is None:
        reason = f"not run: PuLP {pulp.__version__} has no CBC (PuLP 4 bundles none)"
        print(f"{name}: newcomer {reason}", file=sys.stderr)
        return {"unavailable": reason}
    # the build is Python loops and CBC overruns its limit: give it room, then kill it
    newcomer_hard = 2 * limit + 120
    print(
        f"{name}: newcomer PuLP + CBC (CBC limit {limit:.0f} s, hard {newcomer_hard:.0f} s)",
        file=sys.stderr,
    )
    return _record(run_job(Job("newcomer", name, seed, limit), newcomer_hard))


def compare(record: dict[str, Any]) -> dict[str, float | None]:
    """Our times as ratios to the floor's, and the newcomer's gap to our all-pairs bound."""
    out: dict[str, float | None] = {}
    align = record["align"]
    ours = align["data"] if align.get("ok") else {}
    floor = record.get("floor") or {}
    fl = floor.get("data") if floor.get("ok") else None
    if ours and fl and fl.get("optimal"):
        timings = ours.get("timings", {})
        lp_phase = sum(timings.get(phase, 0.0) for phase in ("dual", "flow", "lp"))
        out["align_over_floor"] = _ratio(ours.get("align_seconds"), fl.get("total_seconds"))
        out["lp_phase_over_floor_solve"] = _ratio(lp_phase, fl.get("solve_seconds"))
        same_pairs = "lp_objective" in fl  # the floor solved our final LP, not a fallback
        if same_pairs and ours.get("lp_objective") is not None and fl.get("objective"):
            out["floor_vs_our_lp"] = fl["objective"] / ours["lp_objective"] - 1.0
    new = record.get("newcomer") or {}
    nd = new.get("data") if new.get("ok") else None
    bound = ours.get("lower_bound") if ours else None
    if nd and nd.get("objective") is not None and bound is not None:
        out["newcomer_gap_to_our_bound"] = (nd["objective"] - bound) / max(
            abs(nd["objective"]), 1e-12
        )
        if ours.get("objective"):
            out["newcomer_vs_our_objective"] = nd["objective"] / ours["objective"] - 1.0
    return out


def _ratio(num: float | None, den: float | None) -> float | None:
    return None if num is None or not den else num / den


def _record(result: JobResult) -> dict[str, Any]:
    record = asdict(result)
    record.pop("job")
    return _plain(record)


__all__ = ["SIZES", "Job", "JobResult", "run_all", "run_job", "machine_info"]

"""``python -m benchmarks [--sizes sample,small,medium] [--time-limit 300] [--out PATH]``
and switches for the baselines (``--no-baselines``, ``--no-newcomer``, ``--no-floor``)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from benchmarks.generate import DEFAULT_SEED, SIZES, parse_size
from benchmarks.newcomer import NEWCOMER_MAX_PAIRS
from benchmarks.run import NEWCOMER_TIME_LIMIT, SAMPLE, run_all


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the benchmarks."""
    args_list = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="Benchmark territory.align on seeded instances."
    )
    parser.add_argument(
        "--sizes",
        default="sample,small,medium",
        help=f"comma-separated: {SAMPLE}, {', '.join(SIZES)} or NxK (default: %(default)s)",
    )
    parser.add_argument(
        "--time-limit", type=float, default=300.0, help="seconds per instance (default 300)"
    )
    parser.add_argument(
        "--hard-limit",
        type=float,
        default=None,
        help="kill a run after this many seconds (default: 2 × time limit + 60)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--json", type=Path, default=None, help="also write raw records here")
    parser.add_argument("--no-baselines", action="store_true", help="skip the baseline plans")
    parser.add_argument(
        "--no-newcomer", action="store_true", help="skip baseline (a), PuLP loops + CBC"
    )
    parser.add_argument("--no-floor", action="store_true", help="skip baseline (c), bare highspy")
    parser.add_argument(
        "--newcomer-time-limit",
        type=float,
        default=NEWCOMER_TIME_LIMIT,
        help="CBC seconds for baseline (a) (default %(default)s)",
    )
    parser.add_argument(
        "--newcomer-max-pairs",
        type=int,
        default=NEWCOMER_MAX_PAIRS,
        help="run baseline (a) up to this many account × rep pairs, estimate above "
        "(default %(default)s)",
    )
    args = parser.parse_args(args_list)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for size in sizes:
        if size != SAMPLE:
            try:
                parse_size(size)
            except ValueError as exc:
                parser.error(str(exc))
    command = "python -m benchmarks " + " ".join(shlex.quote(a) for a in args_list)
    run_all(
        sizes,
        args.time_limit,
        args.out,
        seed=args.seed,
        hard_limit=args.hard_limit,
        baselines=not args.no_baselines,
        newcomer=not args.no_newcomer,
        floor=not args.no_floor,
        newcomer_time_limit=args.newcomer_time_limit,
        newcomer_max_pairs=args.newcomer_max_pairs,
        json_path=args.json,
        command=command.strip(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmarks for ``territory``: seeded synthetic US instances, a runner and baselines.

``python -m benchmarks --sizes sample,small,medium --time-limit 300`` runs every instance in a
fresh process, scores our plan and three baselines (nearest rep, k-means, the drifted
incumbent) with the package's own metric functions and writes ``docs/benchmarks.md``.
"""

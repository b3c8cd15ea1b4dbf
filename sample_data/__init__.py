"""Seeded synthetic sample data set (US accounts and a 30-rep roster) for the territory demo."""

from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parent
ACCOUNTS = SAMPLE_DIR / "accounts.csv"
REPS = SAMPLE_DIR / "reps.csv"
SCENARIOS = SAMPLE_DIR / "scenarios"  # baseline.toml and what-ifs built on it

"""territory: balanced, compact, low-disruption sales territory alignment."""

__version__ = "0.1.0"

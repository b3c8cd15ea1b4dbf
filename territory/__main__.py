"""``python -m territory`` runs the command line."""

from territory.cli import main

main()

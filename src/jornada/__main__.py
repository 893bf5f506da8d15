"""``python -m jornada`` runs the CLI."""

from jornada.cli import main

main()

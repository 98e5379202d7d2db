"""``python -m quals`` (also what ``accelerate launch -m quals`` runs)."""

from quals.cli.main import entry

entry()

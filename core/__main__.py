"""``python -m ftplug``."""

from ftplug.cli import main

main()

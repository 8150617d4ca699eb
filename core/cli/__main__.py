"""``python -m ftplug.cli``: the command line."""

from ftplug.cli import main

main()

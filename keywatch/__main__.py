"""`python -m keywatch` is the `keywatch` command."""

from .cli import main

main()

"""`python -m careflow` is the `careflow` command."""

from careflow.cli import main

main()

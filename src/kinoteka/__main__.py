"""`python -m kinoteka` is the `kinoteka` command."""

from kinoteka.cli import main

main()

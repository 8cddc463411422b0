"""`python -m packlint`."""

from packlint.cli import main

main(prog_name="packlint")

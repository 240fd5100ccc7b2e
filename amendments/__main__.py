"""`python -m amendments` runs the `amend` command line, with the code of the checkout it runs
from (so a release candidate's checkout can run `deploy check` with its own workflows)."""

from amendments.cli import main

main()

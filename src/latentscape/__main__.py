"""`python -m latentscape ...`: the same command line as the `latentscape` script."""

import sys

from latentscape.cli import main

sys.exit(main())

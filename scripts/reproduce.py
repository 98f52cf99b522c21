"""`python scripts/reproduce.py NAME ...` is the installed `marl-reproduce NAME ...`
(marl.reproductions), kept for checkouts and older instructions."""

import sys

from marl.reproductions import main

if __name__ == "__main__":
    sys.exit(main())

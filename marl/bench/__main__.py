"""`python -m marl.bench`: the same as `marl-bench`."""

import sys

from marl.bench.cli import main

sys.exit(main())

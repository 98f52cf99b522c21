"""Sweeps inside one compiled program, over the devices of one host or many.

- `marl.sweeps.spec`: the `sweep:` config node, its cells and which keys may vary;
- `marl.sweeps.members`: the cells x seeds a program trains, and each one's trainer;
- `marl.sweeps.devices`: the members axis sharded over devices; jax.distributed.
"""

from marl.sweeps.devices import Layout, fetch, layout, start_distributed
from marl.sweeps.members import Members, build_members
from marl.sweeps.spec import MODES, Sweep, cell_config, flatten, parse

__all__ = [
    "MODES",
    "Layout",
    "Members",
    "Sweep",
    "build_members",
    "cell_config",
    "fetch",
    "flatten",
    "layout",
    "parse",
    "start_distributed",
]

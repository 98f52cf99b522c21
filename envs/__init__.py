"""Built-in environments; importing this package registers them with `marl.make`."""

from marl.envs import (  # noqa: F401
    coin_game,  # noqa: F401
    matrix,
    spatial_pd,
    spgg,
)
from marl.envs.gridworld import gathering, harvest  # noqa: F401

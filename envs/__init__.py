"""Built-in environments; importing this package registers them with `marl.make`."""

from marl.envs import (  # noqa: F401
    coin_game,  # noqa: F401
    matrix,
    spatial_pd,
    spgg,
)
from marl.envs.gridworld import (
    cleanup,  # noqa: F401
    gathering,  # noqa: F401
    harvest,  # noqa: F401
)

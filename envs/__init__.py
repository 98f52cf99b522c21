"""Built-in environments; importing this package registers them with `marl.make`."""

from marl.envs import coin_game, matrix, spatial_pd, spgg  # noqa: F401

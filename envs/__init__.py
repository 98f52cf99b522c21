"""Built-in environments; importing this package registers them with `marl.make`."""

from marl.envs import matrix, spatial_pd, spgg  # noqa: F401

"""Small helpers shared by the environments' `render` methods."""

from __future__ import annotations

import jax.numpy as jnp

COOPERATE = jnp.array([70, 110, 220], jnp.uint8)  # blue
DEFECT = jnp.array([220, 70, 60], jnp.uint8)  # red
EMPTY = jnp.array([200, 200, 200], jnp.uint8)  # grey


def upscale(image, scale: int):
    """Nearest-neighbour upscaling of an [H, W, 3] image by an integer factor."""
    return jnp.repeat(jnp.repeat(image, scale, axis=0), scale, axis=1)

"""Jittable action and observation spaces.

A space is a plain Python object holding static shape information; its methods are pure
functions of JAX arrays, so they can be called inside `jit`, `vmap` and `scan`.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True)
class Discrete:
    """Integers {0, ..., n - 1}; `shape` adds leading axes (e.g. one per agent)."""

    n: int
    shape: tuple[int, ...] = ()
    dtype: type = jnp.int32

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.randint(key, self.shape, 0, self.n, dtype=self.dtype)

    def contains(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        ok_shape = x.shape == self.shape
        ok_type = jnp.issubdtype(x.dtype, jnp.integer)
        if not (ok_shape and ok_type):
            return jnp.asarray(False)
        return jnp.all((x >= 0) & (x < self.n))


@dataclass(frozen=True)
class Box:
    """Arrays of a fixed shape with element-wise bounds `low <= x <= high`."""

    low: float
    high: float
    shape: tuple[int, ...]
    dtype: type = jnp.float32

    def sample(self, key: jax.Array) -> jax.Array:
        if jnp.issubdtype(self.dtype, jnp.integer) or self.dtype == jnp.bool_:
            high = int(self.high) + 1
            x = jax.random.randint(key, self.shape, int(self.low), high)
            return x.astype(self.dtype)
        low = np.maximum(self.low, -1e6)
        high = np.minimum(self.high, 1e6)
        return jax.random.uniform(key, self.shape, self.dtype, low, high)

    def contains(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if x.shape != self.shape:
            return jnp.asarray(False)
        return jnp.all((x >= self.low) & (x <= self.high))

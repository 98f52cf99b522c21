"""A FIFO replay buffer that lives in JAX: a ring over a fixed number of slots.

Each slot holds one item (any pytree of arrays); adding overwrites the oldest slot once
the ring is full, and sampling draws only from filled slots. Pure and jittable.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class Ring:
    items: object  # pytree, every leaf with a leading capacity axis
    pointer: jax.Array  # int32[], the slot written next
    filled: jax.Array  # int32[], slots holding data (<= capacity)

    @property
    def capacity(self) -> int:
        return jax.tree.leaves(self.items)[0].shape[0]


def ring_init(example, capacity: int) -> Ring:
    """An empty ring for items shaped like `example`."""
    items = jax.tree.map(
        lambda x: jnp.zeros((capacity, *jnp.shape(x)), jnp.asarray(x).dtype), example
    )
    return Ring(items, jnp.asarray(0, jnp.int32), jnp.asarray(0, jnp.int32))


def ring_add(ring: Ring, item, valid=True) -> Ring:
    """Write `item` into the oldest slot.

    With `valid` false the slot is written but not kept (the pointer stays), which lets a
    jitted loop skip an item without a branch that would copy the whole ring.
    """
    items = jax.tree.map(lambda buf, x: buf.at[ring.pointer].set(x), ring.items, item)
    step = jnp.asarray(valid, jnp.int32)
    return Ring(
        items=items,
        pointer=(ring.pointer + step) % ring.capacity,
        filled=jnp.minimum(ring.filled + step, ring.capacity),
    )


def ring_sample_slots(key, ring: Ring, shape) -> jax.Array:
    """Uniform slot indices among the filled ones (int32[*shape])."""
    return jax.random.randint(key, shape, 0, jnp.maximum(ring.filled, 1))

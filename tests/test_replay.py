"""The JAX replay ring and the n-step return."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from marl.replay import ring_add, ring_init, ring_sample_slots
from marl.returns import n_step_return, n_step_return_cut


def test_ring_overwrites_the_oldest_slot_first():
    ring = ring_init({"x": jnp.zeros(2)}, capacity=3)
    for value in range(5):
        ring = ring_add(ring, {"x": jnp.full(2, float(value))})
    # 0, 1, 2 filled the ring; 3 replaced 0, then 4 replaced 1
    np.testing.assert_array_equal(ring.items["x"][:, 0], [3.0, 4.0, 2.0])
    assert int(ring.filled) == 3 and int(ring.pointer) == 2


def test_ring_samples_only_filled_slots():
    ring = ring_init(jnp.zeros(()), capacity=10)
    for value in (7.0, 8.0):
        ring = ring_add(ring, jnp.asarray(value))
    slots = ring_sample_slots(jax.random.PRNGKey(0), ring, (1000,))
    assert set(np.unique(slots).tolist()) == {0, 1}


def test_an_invalid_item_is_not_kept():
    ring = ring_init(jnp.zeros(()), capacity=4)
    ring = ring_add(ring, jnp.asarray(1.0), valid=False)
    ring = ring_add(ring, jnp.asarray(2.0))
    assert int(ring.filled) == 1
    assert float(ring.items[0]) == 2.0


def test_n_step_return_hand_computed():
    rewards = jnp.array([1.0, 2.0, 4.0])
    ret, discount = n_step_return(rewards, jnp.zeros(3, bool), 0.5)
    assert float(ret) == 1 + 0.5 * 2 + 0.25 * 4 and float(discount) == 0.125
    # the episode ends at the second step: the third reward is the next episode's
    ret, discount = n_step_return(rewards, jnp.array([False, True, False]), 0.5)
    assert float(ret) == 2.0 and float(discount) == 0.0


@pytest.mark.parametrize(
    "terminated, truncated, expected",
    [
        ([0, 0, 0], [0, 0, 0], (6.0, 0.125, -1)),  # no end: bootstrap after the window
        ([0, 1, 0], [0, 0, 0], (2.0, 0.0, -1)),  # terminated: no bootstrap
        ([0, 0, 0], [0, 1, 0], (2.0, 0.25, 1)),  # cut at step 1: its final obs, gamma^2
        ([0, 0, 0], [0, 0, 1], (6.0, 0.125, 2)),  # cut at the last step: its final obs
        ([0, 1, 0], [0, 1, 0], (2.0, 0.0, -1)),  # both at once: terminated wins
        ([1, 0, 0], [0, 1, 0], (1.0, 0.0, -1)),  # only the first end counts
    ],
)
def test_n_step_return_cut_bootstraps_only_time_limits(terminated, truncated, expected):
    rewards = jnp.array([1.0, 2.0, 16.0])
    ret, discount, cut = n_step_return_cut(
        rewards, jnp.array(terminated, bool), jnp.array(truncated, bool), 0.5
    )
    assert (float(ret), float(discount), int(cut)) == expected

"""The pieces the apple games share (`envs/gridworld/apples.py`), on each game's own map."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marl

GAMES = (
    ("harvest", "melting_pot"),
    ("harvest", "perolat"),
    ("cleanup", "ssd"),
    ("gathering", None),
)


def made(name, preset):
    return marl.make(name, preset=preset) if preset else marl.make(name)


@pytest.mark.parametrize("name,preset", GAMES)
def test_only_agents_on_the_map_eat_apples_and_keep_them_from_growing(name, preset):
    """A removed agent keeps its last cell; standing on an apple there must not count."""
    env, params = made(name, preset)
    _, state = env.reset(jax.random.key(0), params)
    a, n = len(env.apple_cells), env.num_agents
    rc = np.stack(np.divmod(env.apple_cells[:2], env.layout.width), -1)
    # Agent 0 is timed out on apple cell 0, agent 1 is on the map on apple cell 1; the
    # others are timed out wherever they stand.
    agents = state.agents.replace(
        pos=state.agents.pos.at[:2].set(jnp.asarray(rc, jnp.int32)),
        timeout=jnp.full(n, 3, jnp.int32).at[1].set(0),
    )

    eaten, gone, reward = env._eat(jnp.ones(a, bool), agents, params)
    np.testing.assert_array_equal(eaten, np.arange(n) == 1)
    np.testing.assert_array_equal(gone, np.arange(a) == 1)
    np.testing.assert_array_equal(reward, np.where(np.arange(n) == 1, params.apple_reward, 0.0))

    grown = env._grow_apples(jnp.zeros(a, bool), agents, jnp.zeros(a), 1.0)
    np.testing.assert_array_equal(grown, np.arange(a) != 1)
    # A present apple stays and nothing grows at probability 0.
    kept = env._grow_apples(jnp.arange(a) == 0, agents, jnp.zeros(a), 0.0)
    np.testing.assert_array_equal(kept, np.arange(a) == 0)


def test_lookup_gives_each_listed_cell_its_place_and_every_other_cell_the_count():
    env, _ = marl.make("cleanup", preset="ssd")
    eng = env.engine
    index = eng.lookup(env.waste_cells)
    d = len(env.waste_cells)
    assert index.shape == (eng.num_cells + 1,) and index.dtype == np.int32
    np.testing.assert_array_equal(index[env.waste_cells], np.arange(d))
    others = np.setdiff1d(np.arange(eng.num_cells + 1), env.waste_cells)
    assert (index[others] == d).all()  # including "off the map", index H*W

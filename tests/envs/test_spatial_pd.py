"""Spatial prisoner's dilemma: torus neighbourhoods, payoffs, observations, Dr sweeps."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marl
from marl.envs.spatial_pd import SpatialPDState

L = 5


def at(row, col):
    return row * L + col


def grid_state(previous):
    return SpatialPDState(previous=jnp.asarray(previous, jnp.int32), t=jnp.asarray(0, jnp.int32))


def step_with(actions_grid, dilemma=0.25):
    env, params = marl.make("spatial_pd", size=L, dilemma=dilemma)
    state = grid_state(np.zeros((L, L)))
    actions = jnp.asarray(actions_grid, jnp.int32).reshape(-1)
    return env.step(jax.random.key(0), state, actions, params)


def test_all_cooperators_earn_reward_R():
    _, _, reward, _, _ = step_with(np.zeros((L, L)))
    np.testing.assert_allclose(reward, 1.0)


def test_lone_defector_earns_T_and_its_neighbours_lose_a_quarter_of_S():
    grid = np.zeros((L, L))
    grid[2, 2] = 1
    dr = 0.3
    _, _, reward, _, _ = step_with(grid, dr)
    assert float(reward[at(2, 2)]) == pytest.approx(1 + dr)
    for r, c in [(1, 2), (3, 2), (2, 1), (2, 3)]:
        # three cooperating neighbours pay R = 1, the defector pays S = -Dr
        assert float(reward[at(r, c)]) == pytest.approx((3 - dr) / 4)
    assert float(reward[at(0, 0)]) == pytest.approx(1.0)


def test_all_defectors_earn_P_zero():
    _, _, reward, _, _ = step_with(np.ones((L, L)))
    np.testing.assert_allclose(reward, 0.0)


def test_neighbourhood_wraps_around_the_torus():
    grid = np.zeros((L, L))
    grid[0, 0] = 1
    _, _, reward, _, _ = step_with(grid, 0.2)
    for r, c in [(L - 1, 0), (0, L - 1), (1, 0), (0, 1)]:
        assert float(reward[at(r, c)]) == pytest.approx((3 - 0.2) / 4)


def test_observation_is_previous_actions_of_north_east_south_west_then_self():
    env, params = marl.make("spatial_pd", size=L)
    previous = np.zeros((L, L))
    previous[1, 2] = 1  # north of (2, 2)
    previous[2, 1] = 1  # west of (2, 2)
    obs = np.asarray(env.observe(grid_state(previous), params))
    np.testing.assert_array_equal(obs[at(2, 2)], [1, 0, 0, 1, 0])
    np.testing.assert_array_equal(obs[at(1, 2)], [0, 0, 0, 0, 1])  # itself
    np.testing.assert_array_equal(obs[at(0, 2)], [0, 0, 1, 0, 0])  # (1, 2) is its south
    np.testing.assert_array_equal(obs[at(2, 0)], [0, 1, 0, 0, 0])  # (2, 1) is its east


def test_this_steps_actions_are_next_steps_observation():
    grid = np.random.default_rng(0).integers(0, 2, (L, L))
    obs, state, *_ = step_with(grid)
    np.testing.assert_array_equal(np.asarray(obs)[:, 4], grid.reshape(-1))
    np.testing.assert_array_equal(state.previous, grid)


def test_initial_actions_are_uniform_random():
    env, params = marl.make("spatial_pd")
    obs, _ = env.reset(jax.random.key(3), params)
    assert abs(float(obs[:, 4].mean()) - 0.5) < 0.05  # 900 fair coins: sd 0.017


def test_continuing_by_default_and_truncated_when_a_length_is_set():
    grid = np.zeros((L, L))
    *_, done, _ = step_with(grid)
    assert not bool(done)
    env, params = marl.make("spatial_pd", size=L, episode_length=1)
    _, state = env.reset(jax.random.key(0), params)
    *_, done, info = env.step(jax.random.key(1), state, jnp.zeros(L * L, jnp.int32), params)
    assert bool(done) and bool(info["truncated"]) and not bool(info["terminated"])


def test_one_vmap_over_dilemma_values_equals_separate_runs():
    env, params = marl.make("spatial_pd", size=L)
    dilemmas = jnp.array([0.1, 0.25, 0.4])
    batch = jax.vmap(lambda d: params.replace(dilemma=d))(dilemmas)
    grid = np.random.default_rng(1).integers(0, 2, L * L)
    actions = jnp.asarray(grid, jnp.int32)
    state = grid_state(np.zeros((L, L)))
    step = lambda p: env.step(jax.random.key(0), state, actions, p)[2]
    together = jax.jit(jax.vmap(step))(batch)
    for i, d in enumerate(dilemmas):
        np.testing.assert_allclose(together[i], step(params.replace(dilemma=d)), rtol=1e-6)
    # and the dilemma strength changes what defectors earn
    assert not np.allclose(together[0], together[2])

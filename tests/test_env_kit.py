"""The shared environment test kit: every registered environment gets these for free."""

import dataclasses
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import small_overrides

import marl
from marl.rollout import random_actions, random_rollout

ENVS = marl.list_envs()
STEPS = 12


def _make(name):
    return marl.make(name, **small_overrides(name))


@pytest.mark.parametrize("name", ENVS)
def test_step_jits_once_for_new_keys_actions_and_param_values(name):
    env, params = _make(name)
    traces = []

    def step(key, state, actions, params):
        traces.append(1)
        return env.step(key, state, actions, params)

    step = jax.jit(step)
    _, state = env.reset(jax.random.key(0), params)
    for i in range(3):
        actions = random_actions(jax.random.key(10 + i), env, params)
        changed = jax.tree.map(lambda x: x + 0 if x.dtype != bool else x, params)
        _, state, *_ = step(jax.random.key(i), state, actions, changed)
    assert len(traces) == 1


@pytest.mark.parametrize("name", ENVS)
def test_rollout_values_are_finite_and_observations_inside_their_space(name):
    env, params = _make(name)
    _, (obs, reward, done, info) = jax.jit(lambda k: random_rollout(env, params, k, STEPS))(
        jax.random.key(1)
    )
    assert obs.shape == (STEPS, env.num_agents, *env.observation_space(params).shape)
    assert reward.shape == (STEPS, env.num_agents) and reward.dtype == jnp.float32
    assert done.shape == (STEPS,) and done.dtype == jnp.bool_
    assert np.isfinite(np.asarray(reward)).all()
    assert np.isfinite(np.asarray(obs, np.float32)).all()
    space = env.observation_space(params)
    flat = obs.reshape(-1, *space.shape)
    assert bool(jax.vmap(space.contains)(flat).all())
    np.testing.assert_array_equal(done, info["terminated"] | info["truncated"])
    assert not bool((info["terminated"] & info["truncated"]).any())


@pytest.mark.parametrize("name", ENVS)
def test_after_done_step_returns_the_fresh_episodes_first_observation(name):
    env, params = _make(name)
    _, state = env.reset(jax.random.key(0), params)
    step = jax.jit(env.step)
    for i in range(40):
        key = jax.random.key(100 + i)
        actions = random_actions(jax.random.key(i), env, params)
        obs, state, _, done, _ = step(key, state, actions, params)
        if bool(done):
            fresh = env.init_state(jax.random.split(key)[1], params)
            np.testing.assert_array_equal(obs, env.observe(fresh, params))
            for got, want in zip(jax.tree.leaves(state), jax.tree.leaves(fresh), strict=True):
                np.testing.assert_array_equal(got, want)
            return
    pytest.fail(f"{name}: no episode ended in 40 steps with {small_overrides(name)}")


@pytest.mark.parametrize("name", ENVS)
def test_same_key_same_rollout(name):
    env, params = _make(name)
    run = jax.jit(lambda k: random_rollout(env, params, k, STEPS))
    first, second = run(jax.random.key(7)), run(jax.random.key(7))
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(second), strict=True):
        np.testing.assert_array_equal(a, b)
    other = run(jax.random.key(8))
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(other), strict=True)
    )


@pytest.mark.parametrize("name", ENVS)
def test_vmap_over_params_matches_separate_runs(name):
    env, params = _make(name)
    # Two param sets: the defaults, and every float leaf scaled (a different numeric rule).
    scaled = jax.tree.map(lambda x: x * 0.9 if jnp.issubdtype(x.dtype, jnp.floating) else x, params)
    batch = jax.tree.map(lambda a, b: jnp.stack([a, b]), params, scaled)
    keys = jax.random.split(jax.random.key(3), 2)
    run = lambda k, p: random_rollout(env, p, k, STEPS)
    together = jax.jit(jax.vmap(run))(keys, batch)
    for i, p in enumerate((params, scaled)):
        alone = jax.jit(run)(keys[i], p)
        for a, b in zip(jax.tree.leaves(together), jax.tree.leaves(alone), strict=True):
            np.testing.assert_allclose(a[i], b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ENVS)
def test_action_space_sample_is_a_valid_action(name):
    env, params = _make(name)
    space = env.action_space(params)
    sampled = jax.vmap(space.sample)(jax.random.split(jax.random.key(0), 64))
    assert bool(jax.vmap(space.contains)(sampled).all())
    assert int(sampled.min()) == 0 and int(sampled.max()) == space.n - 1


@pytest.mark.parametrize("name", ENVS)
def test_render_draws_an_rgb_image_that_changes_with_the_state(name):
    env, params = _make(name)
    _, state = env.reset(jax.random.key(0), params)
    first = env.render(state, params)
    assert first.dtype == jnp.uint8 and first.ndim == 3 and first.shape[-1] == 3
    images = [first]
    for i in range(3):
        actions = jnp.full(env.num_agents, i % 2, jnp.int32)
        _, state, *_ = env.step(jax.random.key(i), state, actions, params)
        images.append(jax.jit(env.render)(state, params))
    assert all(im.shape == first.shape for im in images)
    assert any(not np.array_equal(im, first) for im in images[1:])


def _bad_actions(env, params, valid):
    """`valid` with out-of-range actions (n, -1, n + 7, -100, ...) at every other agent,
    agent 0 included, and the actions the contract says they stand for."""
    n = env.action_space(params).n
    bad = np.asarray(valid).copy()
    bad[::2] = np.resize([n, -1, n + 7, -100], len(bad[::2]))
    replaced = np.asarray(valid).copy()
    replaced[::2] = env.invalid_action
    return jnp.asarray(bad, valid.dtype), jnp.asarray(replaced, valid.dtype)


@pytest.mark.parametrize("name", ENVS)
def test_out_of_range_actions_under_jit_act_as_the_documented_invalid_action(name):
    env, params = _make(name)
    assert 0 <= env.invalid_action < env.action_space(params).n
    _, state = env.reset(jax.random.key(0), params)
    bad, replaced = _bad_actions(env, params, random_actions(jax.random.key(1), env, params))
    step = jax.jit(env.step)
    got = step(jax.random.key(2), state, bad, params)
    want = step(jax.random.key(2), state, replaced, params)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ENVS)
def test_out_of_range_actions_outside_jit_raise_naming_env_agents_and_range(name):
    env, params = _make(name)
    n = env.action_space(params).n
    _, state = env.reset(jax.random.key(0), params)
    bad, _ = _bad_actions(env, params, jnp.zeros(env.num_agents, jnp.int32))
    agents = list(range(0, env.num_agents, 2))
    message = f"of agents {agents} are outside the action space [0, {n - 1}]"
    with pytest.raises(ValueError, match=rf"^{name}: actions .* {re.escape(message)}$"):
        env.step(jax.random.key(1), state, bad, params)


@pytest.mark.parametrize("name", ENVS)
def test_params_set_after_make_are_checked_at_reset_and_step(name):
    """Non-finite float leaves and negative int leaves (every int param counts something)
    are refused outside jit, though `replace` bypasses `make`."""
    env, params = _make(name)
    _, state = env.reset(jax.random.key(0), params)
    actions = jnp.zeros(env.num_agents, jnp.int32)
    for field in dataclasses.fields(params):
        leaf = getattr(params, field.name)
        floating = jnp.issubdtype(leaf.dtype, jnp.floating)
        for value in (np.nan, np.inf) if floating else (-1,):
            bad = params.replace(**{field.name: jnp.full_like(leaf, value)})
            match = rf"{name}: param {field.name}=.* out of range"
            with pytest.raises(ValueError, match=match):
                env.step(jax.random.key(1), state, actions, bad)
            with pytest.raises(ValueError, match=match):
                env.reset(jax.random.key(1), bad)

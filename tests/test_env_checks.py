"""The contract on invalid actions and params (docs/api.md): concrete values are refused,
debug mode turns traced ones into checkify errors, sweeps are refused before compiling.

Per-env coverage (every registered env) is in the shared kit, tests/test_env_kit.py."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import small_overrides
from jax.experimental import checkify
from training import config

import marl
from marl import train as driver
from marl.config import ConfigError

ENVS = marl.list_envs()


def test_debug_mode_turns_an_invalid_action_or_param_under_jit_into_an_error():
    env, params = marl.make("ipd", horizon=3, debug=True)
    assert env.debug
    key = jax.random.key(0)
    _, state = env.reset(key, params)
    step = marl.checked(env.step)
    *_, reward, _, _ = step(key, state, jnp.array([1, 0]), params)
    np.testing.assert_array_equal(reward, [0.0, -3.0])  # DC: valid actions run as usual
    with pytest.raises(
        checkify.JaxRuntimeError,
        match=r"ipd: action 5 of agent 1 is outside the action space \[0, 1\]",
    ):
        step(key, state, jnp.array([0, 5]), params)
    bad = params.replace(continue_prob=jnp.float32(np.nan))
    with pytest.raises(
        checkify.JaxRuntimeError,
        match=r"ipd: param continue_prob=nan is out of range; allowed \(0.0, 1.0\]",
    ):
        step(key, state, jnp.array([0, 0]), bad)


def test_without_debug_an_invalid_action_under_jit_is_the_invalid_action_silently():
    env, params = marl.make("ipd", horizon=3)
    key = jax.random.key(0)
    _, state = env.reset(key, params)
    step = jax.jit(env.step)
    *_, reward, _, _ = step(key, state, jnp.array([5, 1]), params)
    np.testing.assert_array_equal(reward, [-3.0, 0.0])  # played as C (0) against D


def test_debug_mode_checks_each_member_of_a_vmapped_param_sweep():
    env, params = marl.make("spatial_pd", size=5, debug=True)
    key = jax.random.key(0)
    _, state = env.reset(key, params)
    actions = jnp.zeros(env.num_agents, jnp.int32)

    def rewards(p):
        return env.step(key, state, actions, p)[2]

    sweep = marl.checked(jax.vmap(rewards, in_axes=(params.replace(dilemma=0),)))
    ok = sweep(params.replace(dilemma=jnp.array([0.1, 0.4])))
    np.testing.assert_array_equal(ok, np.ones((2, env.num_agents)))  # all C: R = 1
    with pytest.raises(checkify.JaxRuntimeError, match=r"spatial_pd: param dilemma=nan"):
        sweep(params.replace(dilemma=jnp.array([0.1, np.nan])))


@pytest.mark.parametrize("name", ENVS)
def test_debug_mode_checks_every_traced_param_of_every_env(name):
    """The same ranges as outside jit: non-finite floats, negative counts. Only the
    checks are compiled (one small program per env)."""
    env, params = marl.make(name, **small_overrides(name), debug=True)
    check = marl.checked(env._check_param_values)
    check(params)
    for field in dataclasses.fields(params):
        leaf = getattr(params, field.name)
        value = np.nan if jnp.issubdtype(leaf.dtype, jnp.floating) else -1
        bad = params.replace(**{field.name: jnp.full_like(leaf, value)})
        with pytest.raises(checkify.JaxRuntimeError, match=rf"{name}: param {field.name}="):
            check(bad)


@pytest.mark.parametrize(
    "name, field, value, match",
    [
        (
            "harvest",
            "regrowth_min_neighbours",
            [1, 1, 2, 3],
            r"\S+=\[1,? 1,? 2,? 3\] must start at 0",
        ),
        ("harvest", "zap_length", 50, r"zap_length=50 is out of range; allowed \[0, 3\]"),
        ("cleanup", "dirt_restoration", 0.5, "dirt_restoration=0.5 must be below dirt_depletion"),
    ],
)
def test_debug_mode_checks_the_limits_between_and_beyond_params(name, field, value, match):
    env, params = marl.make(name, debug=True)
    bad = params.replace(**{field: jnp.asarray(value, getattr(params, field).dtype)})
    with pytest.raises(checkify.JaxRuntimeError, match=rf"{name}: param {match}"):
        marl.checked(env._check_param_values)(bad)
    with pytest.raises(ValueError, match=rf"{name}: param {match}"):
        env.check_params(bad)  # and the same limit on concrete values


@pytest.mark.parametrize(
    "name, overrides, field, value, match",
    [
        ("spatial_pd", {"size": 5}, "dilemma", np.nan, r"dilemma=nan .* allowed \[0.0, 1.0\]"),
        ("ipd", {}, "horizon", 0, r"horizon=0 .* allowed \[1, inf\]"),
        ("harvest", {}, "zap_length", 50, r"zap_length=50 .* allowed \[0, 3\]"),
    ],
)
def test_params_replaced_after_make_are_refused_at_step(name, overrides, field, value, match):
    env, params = marl.make(name, **overrides)
    _, state = env.reset(jax.random.key(0), params)
    bad = params.replace(**{field: jnp.asarray(value, getattr(params, field).dtype)})
    with pytest.raises(ValueError, match=rf"{name}: param {match}"):
        env.step(jax.random.key(1), state, jnp.zeros(env.num_agents, jnp.int32), bad)


def test_a_sweep_with_one_invalid_env_param_value_fails_before_compiling(tmp_path):
    tiny = ("env=spatial_pd", "env.args.size=5", "env.args.episode_length=4")
    tiny += ("total_steps=64", "num_chunks=1", "algo.num_envs=2", "algo.num_steps=4")
    raw = config(f"run_dir={tmp_path}", *tiny, "sweep.env.args.dilemma=[0.1,nan]")
    with pytest.raises(ConfigError, match=r"sweep.env.args.dilemma=nan: spatial_pd: param"):
        driver.prepare(raw)

"""Rollouts with random or given policies: the env test kit, the benchmark, rendering and
evaluation share them."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def random_actions(key: jax.Array, env, params) -> jax.Array:
    """One uniformly random action per agent (int32[num_agents])."""
    n = env.action_space(params).n
    return jax.random.randint(key, (env.num_agents,), 0, n, dtype=jnp.int32)


def random_rollout(env, params, key: jax.Array, num_steps: int):
    """Reset, then `num_steps` auto-resetting steps with random actions, in one `lax.scan`.

    Returns the final (obs, state) and the per-step (obs, reward, done, info), stacked on
    a leading time axis. Pure and jittable; vmap it over keys or params for many envs.
    """
    key_reset, key_steps = jax.random.split(key)
    obs, state = env.reset(key_reset, params)

    def one_step(carry, step_key):
        obs, state = carry
        key_act, key_env = jax.random.split(step_key)
        actions = random_actions(key_act, env, params)
        obs, state, reward, done, info = env.step(key_env, state, actions, params)
        return (obs, state), (obs, reward, done, info)

    return jax.lax.scan(one_step, (obs, state), jax.random.split(key_steps, num_steps))


def policy_rollout(env, params, policy, key: jax.Array, num_steps: int, keep_states: bool = False):
    """Reset, then `num_steps` auto-resetting steps with `policy` (a marl.policy.Policy)
    acting for every agent, in one `lax.scan`. Returns per-step (reward [T, A], done [T]),
    plus the states [T, ...] after each step when `keep_states` (for rendering)."""
    key_reset, key_steps = jax.random.split(key)
    obs, state = env.reset(key_reset, params)

    def one_step(carry, step_key):
        obs, state, memory, first = carry
        key_act, key_env = jax.random.split(step_key)
        actions, memory = policy.act(key_act, obs, memory, first)
        obs, state, reward, done, _ = env.step(key_env, state, actions, params)
        out = (reward, done, state) if keep_states else (reward, done)
        return (obs, state, memory, done), out

    start = (obs, state, policy.init(), jnp.asarray(True))
    _, out = jax.lax.scan(one_step, start, jax.random.split(key_steps, num_steps))
    return out


def episode_length(env, params) -> int | None:
    """The env's episode length where it has one (a param or a static attribute), else None."""
    for source in (params, getattr(env, "unwrapped", env)):
        for name in ("episode_length", "horizon"):
            value = getattr(source, name, None)
            if value is not None and np.ndim(value) == 0 and int(value) > 0:
                return int(value)
    return None

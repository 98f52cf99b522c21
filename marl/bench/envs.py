"""The env benchmark (`marl-bench`, the default): random rollouts of every environment.

For each environment and number of parallel environments N, one program is timed:
`jit(scan over T steps of vmap over N envs of env.step)`, with random actions drawn inside
the scan and auto-reset included. Its observations, rewards and done flags are carried or
summed so that XLA cannot drop the work that produces them (`info` is not consumed).
env-steps/s = N * T / run time; agent-steps/s multiplies by the env's number of agents
(spatial_pd has 900).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

import marl
from marl.bench.timing import Sizes, rate_row, steps_per_call, time_compiled
from marl.rollout import random_actions

FULL_NUM_ENVS = (1, 64, 1024, 4096)
QUICK_NUM_ENVS = (1, 64, 1024)
FULL = Sizes(agent_steps_per_call=2**21, min_steps=4, max_steps=1000, repeats=7, warmup=1)
QUICK = Sizes(agent_steps_per_call=2**16, min_steps=2, max_steps=200, repeats=3, warmup=1)


def random_rollout_fn(env, num_envs: int, num_steps: int) -> Callable:
    """`run(key, obs, state, params)`: T auto-resetting steps of N envs, random actions.

    `obs` and `state` carry the env axis first; `params` is shared by every env and is an
    argument (not a constant baked into the program), as in a parameter sweep.
    """
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def run(key, obs, state, params):
        def one_step(carry, step_key):
            obs, state, reward_sum, done_count = carry
            key_act, key_env = jax.random.split(step_key)
            act_keys = jax.random.split(key_act, num_envs)
            actions = jax.vmap(lambda k: random_actions(k, env, params))(act_keys)
            obs, state, reward, done, _ = step(
                jax.random.split(key_env, num_envs), state, actions, params
            )
            carry = (obs, state, reward_sum + reward.sum(), done_count + done.sum())
            return carry, None

        zero = (jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32))
        carry, _ = jax.lax.scan(one_step, (obs, state, *zero), jax.random.split(key, num_steps))
        return carry

    return run


def bench_env(name: str, num_envs: Sequence[int], sizes: Sizes, *, steps=None, seed=0):
    """One row per N: compile time and env-/agent-steps per second of random rollouts."""
    env, params = marl.make(name)
    reset = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))
    rows = []
    for n in num_envs:
        t = steps if steps is not None else steps_per_call(n, env.num_agents, sizes)
        key_reset, key_run = jax.random.split(jax.random.key(seed))
        obs, state = reset(jax.random.split(key_reset, n), params)
        fn = random_rollout_fn(env, n, t)
        timing = time_compiled(
            fn, key_run, obs, state, params, repeats=sizes.repeats, warmup=sizes.warmup
        )
        rows.append(rate_row("env", name, env.num_agents, n, t, timing, sizes.repeats))
        del obs, state
    return rows

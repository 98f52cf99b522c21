"""The peers comparison (`marl-bench --peers`): our `coin_game` next to JaxMARL's.

JaxMARL comes with the optional `bench` extra. Both games are timed in the same run with
the program shape of the env benchmark (`marl.bench.envs`): for each N, both are compiled
and then their timed calls take turns (`time_interleaved`, so load from other processes
weighs on both alike), random actions drawn per env inside the scan, auto-reset included
(JaxMARL's `step` auto-resets).

JaxMARL's game is set up to match ours: the 3 x 3 grid (its only size), [3, 3, 4]
observations (`cnn=True`), episodes of our `episode_length` steps (`num_inner_steps`, with
one outer episode). Its rules differ in details (a red and a blue coin on the board at
once; 5 actions, ours 4), not in cost class.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

import marl
from marl.bench.envs import random_rollout_fn
from marl.bench.timing import Sizes, rate_row, steps_per_call, time_interleaved

PEER_ENV = "coin_game"
PEER_NAME = "jaxmarl coin_game"
PEERS_INSTALL = "pip install 'marl-dilemmas[bench]' (the `bench` extra; or: pip install jaxmarl)"


class PeersUnavailable(RuntimeError):
    """JaxMARL, the peer of `--peers`, is not installed."""


def import_jaxmarl():
    """The `jaxmarl` package, imported quietly (it prints on import), or PeersUnavailable."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import jaxmarl
    except ImportError as err:
        raise PeersUnavailable(
            f"--peers compares against JaxMARL, which is not installed ({err}); "
            f"install it with {PEERS_INSTALL}"
        ) from None
    return jaxmarl


def jaxmarl_coin_game(episode_length: int):
    """JaxMARL's coin_game set up like ours: one episode of `episode_length` steps, [3, 3, 4]
    observations."""
    jaxmarl = import_jaxmarl()
    return jaxmarl.make("coin_game", num_inner_steps=episode_length, num_outer_steps=1, cnn=True)


def jaxmarl_rollout_fn(env, num_envs: int, num_steps: int) -> Callable:
    """`run(key, obs, state)`: as `random_rollout_fn`, for a JaxMARL env (dicts by agent)."""
    agents = list(env.agents)
    num_actions = env.action_space(agents[0]).n
    step = jax.vmap(env.step)

    def draw(key):  # one uniformly random action per agent, as `random_actions`
        return jax.random.randint(key, (len(agents),), 0, num_actions, dtype=jnp.int32)

    def run(key, obs, state):
        def one_step(carry, step_key):
            obs, state, reward_sum, done_count = carry
            key_act, key_env = jax.random.split(step_key)
            acts = jax.vmap(draw)(jax.random.split(key_act, num_envs))
            actions = {agent: acts[:, i] for i, agent in enumerate(agents)}
            obs, state, reward, done, _ = step(jax.random.split(key_env, num_envs), state, actions)
            reward_sum = reward_sum + sum(reward[agent].sum() for agent in agents)
            carry = (obs, state, reward_sum, done_count + done["__all__"].sum())
            return carry, None

        zero = (jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32))
        carry, _ = jax.lax.scan(one_step, (obs, state, *zero), jax.random.split(key, num_steps))
        return carry

    return run


def bench_peers(num_envs: Sequence[int], sizes: Sizes, *, steps=None, seed=0):
    """Rows for ours and JaxMARL's coin_game at each N (same T, same keys), and one
    comparison per N: ours / theirs in env-steps/s."""
    env, params = marl.make(PEER_ENV)
    peer = jaxmarl_coin_game(int(params.episode_length))
    reset = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))
    peer_reset = jax.jit(jax.vmap(peer.reset))
    rows, ratios = [], []
    for n in num_envs:
        t = steps if steps is not None else steps_per_call(n, env.num_agents, sizes)
        key_reset, key_run = jax.random.split(jax.random.key(seed))
        reset_keys = jax.random.split(key_reset, n)
        programs = (
            (random_rollout_fn(env, n, t), (key_run, *reset(reset_keys, params), params)),
            (jaxmarl_rollout_fn(peer, n, t), (key_run, *peer_reset(reset_keys))),
        )
        timings = time_interleaved(programs, repeats=sizes.repeats, warmup=sizes.warmup)
        pair = []
        for (name, impl), timing in zip(
            ((PEER_ENV, "marl"), (PEER_NAME, "jaxmarl")), timings, strict=True
        ):
            row = rate_row("peers", name, env.num_agents, n, t, timing, sizes.repeats)
            row["impl"] = impl
            rows.append(row)
            pair.append(row)
        ours, theirs = pair
        ratios.append(
            {
                "num_envs": n,
                "speedup": ours["env_steps_per_s"] / theirs["env_steps_per_s"],
                "compile_ratio": ours["compile_s"] / theirs["compile_s"],
            }
        )
    return rows, ratios


def best_rate_ratio(rows: Sequence[dict]) -> float:
    """Ours / JaxMARL's best env-steps/s over N (the issue's "best N" comparison)."""
    best = {
        impl: max(r["env_steps_per_s"] for r in rows if r["impl"] == impl)
        for impl in ("marl", "jaxmarl")
    }
    return best["marl"] / best["jaxmarl"]

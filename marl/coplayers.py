"""A training co-player pool: episodes where one learning slot is played by someone else.

At each episode start, in each env, with probability `prob` one learning slot (drawn
uniformly) is played for that whole episode by a pool member drawn uniformly: one of the
scripted policies `pool` (names of `marl.scripted`), or one of the past copies of the
learners' actors (`past` copies, one taken every `past_every` updates, the oldest
replaced first: the agent replay buffer of the opponent-shaping papers). The trainer
leaves the member's samples out of its losses (see algos/ppo.py, which plays the copies
with its own networks).

Per env the state holds `coplayer` int32[2] = (slot, pool index), slot -1 for none; pool
indices count the scripted policies first, then the copies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from marl.config import fail
from marl.scripted import scripted_policy


@dataclass(frozen=True)
class CoplayerConfig:
    pool: tuple[str, ...] = ()  # scripted policy names (marl.scripted)
    prob: float = 0.0  # chance, per env and episode, that one learning slot is played by one
    past: int = 0  # past copies of the learners' actors kept in the pool
    past_every: int = 20  # updates between two copies

    def check(self, path):
        if not 0.0 <= self.prob <= 1.0:
            fail(f"{path}.prob", self.prob, "a number in [0, 1]")
        if self.past < 0:
            fail(f"{path}.past", self.past, "an integer >= 0")
        if self.past_every < 1:
            fail(f"{path}.past_every", self.past_every, "an integer >= 1")
        if self.prob > 0 and not (self.pool or self.past):
            fail(f"{path}.pool", list(self.pool), "a scripted policy, or past > 0")


def scripted_members(config: CoplayerConfig, env) -> tuple[Callable, ...]:
    """The scripted policies of the pool, each checked against the game."""
    policies = []
    for i, name in enumerate(config.pool):
        try:
            policies.append(scripted_policy(name, env))
        except ValueError as err:
            fail(f"algo.coplayers.pool[{i}]", name, f"a scripted policy for {env.name} ({err})")
    return tuple(policies)


def draw(key, starts, coplayer, learning_slots, size, prob: float):
    """Where an episode starts (`starts` [E]), who plays it: with probability `prob` a
    (learning slot, pool index < size) pair, else (-1, -1); elsewhere `coplayer` [E, 2]
    stays. With an empty pool (size 0: no scripted policy, no copy yet) it is self-play."""
    key_mix, key_slot, key_member = jax.random.split(key, 3)
    num_envs = starts.shape[0]
    mixed = jax.random.bernoulli(key_mix, prob, (num_envs,)) & (size > 0)
    slot = jax.random.choice(key_slot, learning_slots, (num_envs,))
    member = jax.random.randint(key_member, (num_envs,), 0, jnp.maximum(size, 1), jnp.int32)
    drawn = jnp.where(mixed[:, None], jnp.stack([slot, member], 1), -1)
    return jnp.where(starts[:, None], drawn, coplayer)


def override_scripted_members(pool: tuple, key, obs_by_agent, actions, coplayer):
    """Where env e's member is scripted policy i (coplayer[e] = (slot, i)), that slot's
    action [A, E] is the policy's."""
    num_agents, num_envs = actions.shape
    slots = jnp.arange(num_agents)[:, None]
    for i, policy in enumerate(pool):
        keys = jax.random.split(jax.random.fold_in(key, i), num_agents * num_envs)
        keys = keys.reshape(num_agents, num_envs, *keys.shape[1:])
        chosen = jax.vmap(jax.vmap(policy))(keys, obs_by_agent)
        here = (slots == coplayer[None, :, 0]) & (coplayer[None, :, 1] == i)
        actions = jnp.where(here, chosen, actions)
    return actions


def empty_copies(actor_params, count: int):
    """Room for `count` copies of the actors (zeros), or None when none are kept."""
    if count == 0:
        return None
    return jax.tree.map(lambda p: jnp.zeros((count, *p.shape), p.dtype), actor_params)


def take_copy(copies, filled, actor_params, updates, config: CoplayerConfig):
    """After update number `updates`: every `past_every` updates, write the actors over the
    oldest copy. Returns (copies, copies taken so far)."""
    take = updates % config.past_every == 0
    index = filled % config.past
    copies = jax.tree.map(lambda c, p: jnp.where(take, c.at[index].set(p), c), copies, actor_params)
    return copies, filled + take


def reward_metrics(rewards, coplayer_slot, learns) -> dict:
    """The learners' reward per step beside pool members and in envs without one (NaN in
    an update that had none), and the share of env-steps with one. rewards, learns
    [T, A, E]; coplayer_slot [T, E]."""
    mixed = (coplayer_slot >= 0)[:, None, :]

    def mean_where(where):
        count = where.sum()
        total = (rewards * where).sum()
        return jnp.where(count > 0, total / jnp.maximum(count, 1.0), jnp.nan)

    return {
        "coplayers/share": mixed.mean(),
        "coplayers/reward_vs_pool": mean_where(learns * mixed),
        "coplayers/reward_without": mean_where(learns * ~mixed),
    }

"""Whole episodes with a chosen policy in every agent slot: the engine of every evaluation.

Scenarios, leagues, Shapley values and Schelling diagrams all ask the same question: in
episode e, slot i is played by member `member[e, i]` of population `owner[e, i]`; what did
each slot earn, and what were the episode's social outcomes? `EpisodePlayer` answers it for
a batch of episodes in ONE compiled program: the assignment is an input array, so every
evaluation of a game with the same populations and batch size reuses the same program.

How a step is played. Each population acts for every slot: a one-member population (a
scripted policy) runs its policy once for all agents; a population with several members
runs it once per slot with that slot's member's parameters (vmapped over slots) and keeps
the slot's own action, so recurrent members keep their own hidden state. The slot's owner
then picks among the populations' actions. That costs one policy call per population (per
slot for trained ones), the price of a program whose assignment can change per episode.

An episode is the env's first episode from a reset: steps after its end are played (the
scan has a fixed length) but not counted. A continuing game (the spatial PD) reports the
totals of its `steps` steps. Returns are the game's own rewards (the env without reward
transforms), so numbers compare across runs trained with different transforms.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from marl.config import ConfigError
from marl.evaluation.populations import Population
from marl.metrics import episode_summary
from marl.rollout import episode_length
from marl.wrappers import EpisodeStats

# Episodes per vmapped batch inside the program (`lax.map` over batches bounds memory:
# each episode holds its slots' parameters).
BATCH = 64


def episode_steps(env, params, steps: int | None = None) -> int:
    """How many steps to play for one episode: `steps` if given, else the game's own
    length (`marl.rollout.episode_length`). A continuing game needs `steps`."""
    if steps is not None:
        if int(steps) < 1:
            raise ConfigError(f"steps must be >= 1; got {steps}")
        return int(steps)
    length = episode_length(env, params)
    if length is None:
        raise ConfigError(
            f"{env.name} has no episode length (a continuing game); give the number of steps"
        )
    return length


@dataclass(frozen=True)
class Episodes:
    """Per-episode results: `returns[e, i]` the game's return of slot i, `length[e]`, and
    `outcomes[name][e]`: efficiency, equality, sustainability, peace, episode_return and
    the game's own rates (`marl.metrics.episode_summary`)."""

    returns: np.ndarray  # float [E, A]
    length: np.ndarray  # float [E]
    outcomes: dict[str, np.ndarray]

    @property
    def per_step(self) -> np.ndarray:
        """Each slot's reward per step of its episode: [E, A]."""
        return self.returns / np.maximum(self.length, 1)[:, None]


class EpisodePlayer:
    """One compiled program: episodes of `env` with slots assigned to `populations`."""

    def __init__(self, env, params, populations: list[Population], steps: int | None = None):
        if not populations:
            raise ConfigError("an evaluation needs at least one population")
        self.env, self.params = env, params
        self.populations = list(populations)
        self.steps = episode_steps(env, params, steps)
        self._stats_env = EpisodeStats(env)
        self._program = jax.jit(self._batch)

    # ---- the program -----------------------------------------------------------------------
    def _act(self, pop: Population, states, key, obs, carry, first):
        """Actions [A] this population would take in every slot, and its next carry."""
        if pop.size == 1:
            return pop.make(states).act(key, obs, carry, first)
        num_agents = self.env.num_agents

        def one_slot(state, slot_key, slot_carry):
            return pop.make(state).act(slot_key, obs, slot_carry, first)

        keys = jax.random.split(key, num_agents)
        actions, carry = jax.vmap(one_slot)(states, keys, carry)  # [slot, agent]
        return jnp.diagonal(actions), carry

    def _init_carry(self, pop: Population, states):
        if pop.size == 1:
            return pop.make(states).init()
        return jax.vmap(lambda s: pop.make(s).init())(states)

    def _episode(self, key, owner, member):
        env, params, n = self._stats_env, self.params, self.env.num_agents
        slot_states = []
        for p, pop in enumerate(self.populations):
            if pop.size == 1:
                slot_states.append(jax.tree.map(lambda x: x[0], pop.states))
            else:  # a slot owned by another population reads member 0 (its actions unused)
                mine = jnp.where(owner == p, member, 0)
                slot_states.append(jax.tree.map(lambda x, m=mine: x[m], pop.states))
        key_reset, key_steps = jax.random.split(key)
        obs, state = env.reset(key_reset, params)
        carry = [self._init_carry(p, s) for p, s in zip(self.populations, slot_states, strict=True)]
        first_totals = self._totals(state.running)

        def one_step(loop, step_key):
            obs, state, carry, first, captured, finished = loop
            keys = jax.random.split(step_key, len(self.populations) + 1)
            outs = [
                self._act(pop, states, k, obs, c, first)
                for pop, states, k, c in zip(
                    self.populations, slot_states, keys[:-1], carry, strict=True
                )
            ]
            options = jnp.stack([a for a, _ in outs])  # [P, A]
            actions = options[owner, jnp.arange(n)].astype(jnp.int32)
            obs, state, _, done, info = env.step(keys[-1], state, actions, params)
            take = info["returned_episode"] & ~finished
            captured = jax.tree.map(lambda a, b: jnp.where(take, a, b), info["episode"], captured)
            finished = finished | info["returned_episode"]
            return (obs, state, [c for _, c in outs], done, captured, finished), None

        start = (obs, state, carry, jnp.asarray(True), first_totals, jnp.asarray(False))
        end, _ = jax.lax.scan(one_step, start, jax.random.split(key_steps, self.steps))
        _, state, _, _, captured, finished = end
        # A continuing game never ends an episode: report the totals of the steps played.
        running = self._totals(state.running)
        totals = jax.tree.map(lambda a, b: jnp.where(finished, a, b), captured, running)
        summary = episode_summary(self.env, totals)
        return totals["returns"], totals["length"].astype(jnp.float32), summary

    @staticmethod
    def _totals(running) -> dict:
        return {
            "returns": running.returns,
            "length": running.length,
            "reward_time_sum": running.reward_time_sum,
            "reward_steps": running.reward_steps,
            "timed_out": running.timed_out,
            "events": running.events,
        }

    def _batch(self, keys, owner, member):
        episodes = lambda xs: self._episode(*xs)
        return jax.lax.map(episodes, (keys, owner, member), batch_size=BATCH)

    # ---- the interface -----------------------------------------------------------------------
    def check_assignment(self, owner: np.ndarray, member: np.ndarray) -> None:
        """ConfigError unless owner/member are [E, A] and name existing members."""
        n, p = self.env.num_agents, len(self.populations)
        if owner.ndim != 2 or owner.shape[1] != n or member.shape != owner.shape:
            raise ConfigError(f"owner and member must be [episodes, {n}]; got {owner.shape}")
        if owner.min() < 0 or owner.max() >= p:
            raise ConfigError(f"owner must be in 0..{p - 1}")
        sizes = np.asarray([pop.size for pop in self.populations])
        if member.min() < 0 or (member >= sizes[owner]).any():
            raise ConfigError("a slot names a member its population does not have")

    def play(self, keys: jax.Array, owner, member) -> Episodes:
        """Play one episode per key; slot i of episode e is `owner[e, i]`'s member
        `member[e, i]`. The same keys give the same episodes (common random numbers
        across assignments: what Shapley values and Schelling diagrams difference)."""
        owner = np.asarray(owner, np.int32)
        member = np.asarray(member, np.int32)
        self.check_assignment(owner, member)
        if len(keys) != len(owner):
            raise ConfigError(f"one key per episode: {len(keys)} keys, {len(owner)} episodes")
        # Pad to a power of two of whole batches (repeating the first episode): calls of
        # any size then share a few compiled programs (the adaptive sampler's rounds vary
        # in size); the padding is cut off the results.
        total = len(owner)
        batches = 1 << max(0, (-(-total // BATCH) - 1).bit_length())
        pad = batches * BATCH - total
        repeat_first = lambda x: jnp.concatenate([x, jnp.repeat(x[:1], pad, 0)])
        keys, owner, member = (repeat_first(jnp.asarray(x)) for x in (keys, owner, member))
        returns, length, summary = self._program(keys, owner, member)
        cut = lambda x: np.asarray(x, np.float64)[:total]
        return Episodes(cut(returns), cut(length), {k: cut(v) for k, v in summary.items()})


def slot_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per episode, the mean of `values` [E, A] over the slots in `mask` [E, A] (0 where
    the mask is empty)."""
    return (values * mask).sum(1) / np.maximum(mask.sum(1), 1)


def mean_and_ci(values: np.ndarray, axis: int = 0) -> dict:
    """Mean, standard error and the normal 95% CI over episodes (many, independent)."""
    values = np.asarray(values, np.float64)
    count = values.shape[axis]
    mean = values.mean(axis)
    se = values.std(axis, ddof=1) / np.sqrt(count) if count > 1 else np.zeros_like(mean)
    return {"mean": mean, "se": se, "ci_low": mean - 1.96 * se, "ci_high": mean + 1.96 * se}


def rounded(stats: dict, digits: int = 6) -> dict:
    """JSON-ready copy of `mean_and_ci`'s answer."""
    return {k: np.round(np.asarray(v, np.float64), digits).tolist() for k, v in stats.items()}

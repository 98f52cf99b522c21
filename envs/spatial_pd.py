"""Spatial prisoner's dilemma on an L x L torus (docs/envs/spatial_pd.md).

One agent per site, agent index = row * L + column. Step order: every agent plays C (0)
or D (1) at once; each is paid the mean over its 4 von Neumann neighbours of the pairwise
payoff against their current actions, with R = 1, P = 0, S = -Dr, T = 1 + Dr; the actions
become the "previous actions" seen next step.

Observation (float32[5]): the previous actions (1 = D) of the neighbours north, east,
south, west, then the agent's own. No identity, no position, so a shared network sees
only 32 distinct states. A continuing task: `episode_length = 0` (the default) never
ends (and no reset state is drawn on any step); a positive value truncates episodes at
that length (for episodic training). It is a constructor argument because it decides
whether a step does reset work at all.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from marl.env import Env
from marl.registry import EnvSpec, register
from marl.render import COOPERATE, DEFECT, upscale
from marl.spaces import Box, Discrete
from marl.validation import check_range

# (row shift, column shift) that brings the north, east, south, west neighbour to a site.
_NEIGHBOURS = ((1, 0), (0, -1), (-1, 0), (0, 1))


@struct.dataclass
class SpatialPDParams:
    dilemma: jax.Array = struct.field(default_factory=lambda: jnp.asarray(0.25, jnp.float32))


@struct.dataclass
class SpatialPDState:
    previous: jax.Array  # int32[L, L], last step's actions (uniform random at the start)
    t: jax.Array  # int32[]


class SpatialPD(Env):
    episode_events = ("cooperated",)
    # Every observation entry is 0 or 1, so learners may enumerate the 32 observations
    # (e.g. DQN evaluates its Q-network once per state, or keeps an exact Q-table).
    binary_observations = True

    def __init__(self, size: int = 30, episode_length: int = 0, *, final_obs: bool = False):
        super().__init__(final_obs=final_obs)
        if size < 3:
            raise ValueError(f"SpatialPD: size must be >= 3 (4 distinct neighbours), got {size}")
        if episode_length < 0:
            raise ValueError(f"SpatialPD: episode_length must be >= 0, got {episode_length}")
        self.size = size
        self.num_agents = size * size
        self.episode_length = episode_length
        self.continuing = episode_length == 0

    @property
    def default_params(self) -> SpatialPDParams:
        return SpatialPDParams()

    def check_params(self, params: SpatialPDParams) -> None:
        check_range(self.name, "dilemma", params.dilemma, 0.0, 1.0)

    def init_state(self, key, params) -> SpatialPDState:
        previous = jax.random.bernoulli(key, 0.5, (self.size, self.size)).astype(jnp.int32)
        return SpatialPDState(previous=previous, t=jnp.asarray(0, jnp.int32))

    def _neighbours(self, grid: jax.Array, axis: int = 0) -> jax.Array:
        """At each site, the value of its N, E, S, W neighbour (torus), stacked on `axis`."""
        return jnp.stack([jnp.roll(grid, shift, axis=(0, 1)) for shift in _NEIGHBOURS], axis)

    def transition(self, key, state, actions, params):
        grid = actions.reshape(self.size, self.size)
        defectors = self._neighbours(grid).sum(0).astype(jnp.float32)  # k of 4 defect
        cooperators = 4.0 - defectors
        dr = params.dilemma
        # A defector gets T = 1 + Dr from each cooperator and P = 0 from each defector;
        # a cooperator gets R = 1 from each cooperator and S = -Dr from each defector.
        total = jnp.where(grid == 1, (1.0 + dr) * cooperators, cooperators - dr * defectors)
        reward = (total / 4.0).reshape(-1).astype(jnp.float32)
        t = state.t + 1
        truncated = jnp.asarray(self.episode_length > 0) & (t >= self.episode_length)
        info = {
            "terminated": jnp.asarray(False),
            "truncated": truncated,
            "cooperated": actions == 0,
        }
        return SpatialPDState(previous=grid.astype(jnp.int32), t=t), reward, truncated, info

    def observe(self, state, params) -> jax.Array:
        # Agents on the last axis, so the flat [L * L, 5] layout needs no transpose.
        neighbours = self._neighbours(state.previous, axis=-1)
        bits = jnp.concatenate([neighbours, state.previous[..., None]], axis=-1)  # [L, L, 5]
        return bits.reshape(-1, 5).astype(jnp.float32)

    def observation_space(self, params=None) -> Box:
        return Box(0.0, 1.0, (5,), jnp.float32)

    def action_space(self, params=None) -> Discrete:
        return Discrete(2)

    def render(self, state, params) -> jax.Array:
        """The torus, one cell per agent: blue where it last played C, red where D."""
        image = jnp.where(state.previous[..., None] == 0, COOPERATE, DEFECT)
        return upscale(image, max(1, 240 // self.size))

    def episode_metrics(self, totals, length):
        return {"cooperation_rate": totals["cooperated"].mean(-1) / length}


register(
    EnvSpec(
        name="spatial_pd",
        entry=SpatialPD,
        presets={
            "30x30": {"kwargs": {"size": 30}},
            "40x40": {"kwargs": {"size": 40}},
            "50x50": {"kwargs": {"size": 50}},
        },
        description="spatial prisoner's dilemma on a torus, one agent per site",
    )
)

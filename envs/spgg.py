"""Sequential public goods game (docs/envs/spgg.md).

n agents contribute c in {0, 1/K, ..., 1} one after another. An episode is one round of
n steps: at step k the agent in position k acts (the others' actions are ignored; the
acting agent is `info["acting"]`), and every agent is paid at the last step.

Let S = sum_j c_j and m_i = mean of agent i's predecessors' contributions (0 for the
first mover). Reward modes (constructor argument `reward_mode`):
- `classic`:  u_i = 1 - c_i + (r / n) S, with 1 < r < n, so free-riding dominates;
- `mac` (MAC-SPGG, arXiv 2508.02076):
  u_i = -C(c_i) + gamma c_i m_i + (rho / n) S - penalty 1[S < threshold],
  with cost C(c) = kappa c (`cost="linear"`) or kappa c^2 / 2 (`cost="quadratic"`).

Observation (float32), per agent: its position one-hot [n], whether it is its turn [1],
then under full observation (`observation="full"`) the contributions of all positions
before its own [n] (zero elsewhere), or under partial observation (`"partial"`) only
its immediate predecessor's contribution [1].

The order is fixed (agent i in position i) unless the constructor argument
`shuffle_order` is set, in which case it is drawn anew for each episode.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from marl.env import Env
from marl.registry import EnvSpec, register
from marl.render import COOPERATE, EMPTY, upscale
from marl.spaces import Box, Discrete
from marl.validation import check_choice, check_range

# S < threshold is compared with this slack so that float sums of levels reach B exactly.
_THRESHOLD_SLACK = 1e-5


@struct.dataclass
class SPGGParams:
    r: jax.Array  # classic multiplier
    kappa: jax.Array  # mac cost scale
    gamma: jax.Array  # mac reciprocity bonus on c_i m_i
    rho: jax.Array  # mac public-good multiplier
    threshold: jax.Array  # mac B: collective target below which the penalty applies
    penalty: jax.Array  # mac P


@struct.dataclass
class SPGGState:
    order: jax.Array  # int32[n], order[k] = agent in position k
    position: jax.Array  # int32[n], position[i] = agent i's position (inverse of order)
    contribution: jax.Array  # float32[n] by position (0 until that position acts)
    t: jax.Array  # int32[], positions that have acted


def public_goods_payoffs(contribution, params: SPGGParams, reward_mode: str, cost: str):
    """Every position's payoff from the contributions by position (float[..., n])."""
    n = contribution.shape[-1]
    total = contribution.sum(-1, keepdims=True)
    if reward_mode == "classic":
        return 1.0 - contribution + params.r / n * total
    before = jnp.cumsum(contribution, -1) - contribution
    k = jnp.arange(n, dtype=contribution.dtype)
    predecessors_mean = jnp.where(k > 0, before / jnp.maximum(k, 1), 0.0)
    scale = contribution if cost == "linear" else contribution**2 / 2
    missed = total < params.threshold - _THRESHOLD_SLACK
    return (
        -params.kappa * scale
        + params.gamma * contribution * predecessors_mean
        + params.rho / n * total
        - params.penalty * missed
    )


class SequentialPublicGoods(Env):
    episode_events = ("contribution", "threshold_met")

    def __init__(
        self,
        num_agents: int = 3,
        levels: int = 1,
        observation: str = "full",
        reward_mode: str = "mac",
        cost: str = "linear",
        shuffle_order: bool = False,
        *,
        final_obs: bool = False,
    ):
        super().__init__(final_obs=final_obs)
        if num_agents < 2:
            raise ValueError(f"spgg: num_agents must be >= 2, got {num_agents}")
        if levels < 1:
            raise ValueError(f"spgg: levels (K) must be >= 1, got {levels}")
        check_choice("spgg", "observation", observation, {"full", "partial"})
        check_choice("spgg", "reward_mode", reward_mode, {"classic", "mac"})
        check_choice("spgg", "cost", cost, {"linear", "quadratic"})
        self.num_agents = num_agents
        self.levels = levels
        self.observation = observation
        self.reward_mode = reward_mode
        self.cost = cost
        # Static: a fixed order then costs nothing per step (no permutation drawn).
        self.shuffle_order = shuffle_order

    @property
    def episode_length(self) -> int:
        """One round: every position acts once."""
        return self.num_agents

    @property
    def default_params(self) -> SPGGParams:
        f = lambda x: jnp.asarray(x, jnp.float32)
        return SPGGParams(
            r=f(1.8),
            kappa=f(1.0),
            gamma=f(1.5),
            rho=f(1.8),
            threshold=f(0.85 * self.num_agents),
            penalty=f(1.5),
        )

    def check_params(self, params: SPGGParams) -> None:
        n = self.num_agents
        # 1 < r < n is what makes the classic game a dilemma; r outside it is allowed but
        # not < 0. Checked in both modes: a NaN is a bug even where the mode ignores it.
        check_range(self.name, "r", params.r, 0.0)
        check_range(self.name, "kappa", params.kappa, 0.0)
        check_range(self.name, "gamma", params.gamma, 0.0)
        check_range(self.name, "rho", params.rho, 0.0)
        check_range(self.name, "threshold", params.threshold, 0.0, float(n))
        check_range(self.name, "penalty", params.penalty, 0.0)

    def init_state(self, key, params) -> SPGGState:
        n = self.num_agents
        order = jnp.arange(n, dtype=jnp.int32)
        position = order
        if self.shuffle_order:
            order = jax.random.permutation(key, order)
            position = jnp.argsort(order).astype(jnp.int32)
        return SPGGState(
            order=order,
            position=position,
            contribution=jnp.zeros(n, jnp.float32),
            t=jnp.asarray(0, jnp.int32),
        )

    def transition(self, key, state, actions, params):
        n = self.num_agents
        mover = state.order[state.t]
        c = actions[mover].astype(jnp.float32) / self.levels
        contribution = state.contribution.at[state.t].set(c)
        t = state.t + 1
        done = t >= n
        by_position = public_goods_payoffs(contribution, params, self.reward_mode, self.cost)
        reward = jnp.where(done, by_position[state.position], 0.0).astype(jnp.float32)
        acting = jnp.arange(n) == mover
        met = done & (contribution.sum() >= params.threshold - _THRESHOLD_SLACK)
        info = {
            "terminated": done,
            "truncated": jnp.asarray(False),
            "acting": acting,
            "contribution": jnp.where(acting, c, 0.0),
            "threshold_met": met,
        }
        state = state.replace(contribution=contribution, t=t)
        return state, reward, done, info

    def observe(self, state, params) -> jax.Array:
        n = self.num_agents
        own = state.position  # [n]
        position_one_hot = jax.nn.one_hot(own, n, dtype=jnp.float32)
        my_turn = (own == state.t).astype(jnp.float32)[:, None]
        if self.observation == "full":
            before = jnp.arange(n)[None, :] < own[:, None]
            seen = jnp.where(before, state.contribution[None, :], 0.0)
        else:
            previous = state.contribution[jnp.maximum(own - 1, 0)]
            seen = jnp.where(own > 0, previous, 0.0)[:, None]
        return jnp.concatenate([position_one_hot, my_turn, seen], axis=1)

    def observation_space(self, params=None) -> Box:
        n = self.num_agents
        width = 2 * n + 1 if self.observation == "full" else n + 2
        return Box(0.0, 1.0, (width,), jnp.float32)

    def action_space(self, params=None) -> Discrete:
        return Discrete(self.levels + 1)

    def render(self, state, params) -> jax.Array:
        """One bar per position, its height the contribution made so far (blue), on grey."""
        rows = 20
        height = jnp.round(state.contribution * rows)  # [n], by position
        filled = jnp.arange(rows)[::-1, None] < height[None, :]  # [rows, n]
        image = jnp.where(filled[..., None], COOPERATE, EMPTY)
        return upscale(image, 8)

    def episode_metrics(self, totals, length):
        return {
            "contribution_rate": totals["contribution"].mean(-1),
            "threshold_rate": totals["threshold_met"],
        }


register(
    EnvSpec(
        name="spgg",
        entry=SequentialPublicGoods,
        presets={
            "mac": {"kwargs": {"reward_mode": "mac"}},
            "classic": {"kwargs": {"reward_mode": "classic"}},
        },
        description="sequential public goods game (classic or MAC-SPGG rewards)",
    )
)

"""Iterated 2x2 matrix games with memory-1 observations (docs/envs/matrix.md).

Step order: both players act at once (0 = C / first option, 1 = D / second option); each
gets its payoff; the round counter advances; the episode terminates with probability
1 - continue_prob (a discount read as a stopping rule) or is truncated at the horizon.

Observation: one-hot over 5 states {start, CC, CD, DC, DD}, each player seeing its own
action first (player 2 sees CD and DC swapped).

Also here: the exact discounted value of two memory-1 policies, differentiable in both.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from marl.env import Env
from marl.registry import EnvSpec, register
from marl.render import COOPERATE, DEFECT, EMPTY, upscale
from marl.spaces import Box, Discrete
from marl.validation import check_range

# payoff[row action, column action] = (row player's payoff, column player's payoff)
PAYOFFS = {
    # LOLA, M-FOS, Pax, LOQA, Advantage Alignment.
    "ipd": [[(-1, -1), (-3, 0)], [(0, -3), (-2, -2)]],
    # Axelrod's tournament values R=3, S=0, T=5, P=1 (and the LLM repeated-games papers).
    "ipd_classic": [[(3, 3), (0, 5)], [(5, 0), (1, 1)]],
    # Pax's stag hunt: (stag, stag) pays best, hare is safe.
    "stag_hunt": [[(4, 4), (1, 3)], [(3, 1), (2, 2)]],
    # Pax's chicken (snowdrift): swerving (C) against a driver (D) loses a little,
    # both driving on loses most.
    "chicken": [[(0, 0), (-1, 1)], [(1, -1), (-2, -2)]],
    # Both prefer to coordinate; player 1 prefers option 0 (10 vs 7), player 2 option 1.
    "battle_of_sexes": [[(10, 7), (0, 0)], [(0, 0), (7, 10)]],
    # Player 1 wins on a match, player 2 on a mismatch; zero-sum.
    "matching_pennies": [[(1, -1), (-1, 1)], [(-1, 1), (1, -1)]],
}

START, CC, CD, DC, DD = range(5)
# Player 2 sees the joint state with its own action first: CD <-> DC.
_SWAP_VIEW = jnp.array([START, CC, DC, CD, DD])


@struct.dataclass
class MatrixParams:
    payoff: jax.Array = struct.field(
        default_factory=lambda: jnp.asarray(PAYOFFS["ipd"], jnp.float32)
    )
    horizon: jax.Array = struct.field(default_factory=lambda: jnp.asarray(100, jnp.int32))
    continue_prob: jax.Array = struct.field(default_factory=lambda: jnp.asarray(1.0, jnp.float32))


@struct.dataclass
class MatrixState:
    last: jax.Array  # int32[], joint state of the previous round (START before the first)
    t: jax.Array  # int32[], rounds played


class MatrixGame(Env):
    num_agents = 2
    episode_events = ("cooperated",)

    @property
    def default_params(self) -> MatrixParams:
        return MatrixParams()

    def check_params(self, params: MatrixParams) -> None:
        check_range(self.name, "payoff", params.payoff)
        check_range(self.name, "horizon", params.horizon, 1)
        check_range(self.name, "continue_prob", params.continue_prob, 0.0, 1.0, open_low=True)

    def init_state(self, key, params) -> MatrixState:
        return MatrixState(last=jnp.asarray(START, jnp.int32), t=jnp.asarray(0, jnp.int32))

    def transition(self, key, state, actions, params):
        a1, a2 = actions[0], actions[1]
        reward = params.payoff[a1, a2]
        t = state.t + 1
        terminated = jax.random.uniform(key) >= params.continue_prob
        truncated = (t >= params.horizon) & ~terminated
        state = MatrixState(last=(1 + 2 * a1 + a2).astype(jnp.int32), t=t)
        info = {"terminated": terminated, "truncated": truncated, "cooperated": actions == 0}
        return state, reward.astype(jnp.float32), terminated | truncated, info

    def observe(self, state, params) -> jax.Array:
        views = jnp.stack([state.last, _SWAP_VIEW[state.last]])
        return jax.nn.one_hot(views, 5, dtype=jnp.float32)

    def observation_space(self, params=None) -> Box:
        return Box(0.0, 1.0, (5,), jnp.float32)

    def action_space(self, params=None) -> Discrete:
        return Discrete(2)

    def render(self, state, params) -> jax.Array:
        """Two tiles, the players' last actions: blue C, red D, grey before the first round."""
        played = jnp.array([[0, 0], [0, 0], [0, 1], [1, 0], [1, 1]])[state.last]
        tiles = jnp.where(played[:, None] == 0, COOPERATE, DEFECT)
        tiles = jnp.where(state.last == START, EMPTY, tiles)
        return upscale(tiles[None], 32)

    def episode_metrics(self, totals, length):
        return {"cooperation_rate": totals["cooperated"].mean(-1) / length}


# ---- exact value of two memory-1 policies -------------------------------------------------
def _memory1_chain(p1, p2):
    """The first round's joint distribution p0 and the transition matrix, both over
    (CC, CD, DC, DD) from player 1's view."""
    q2 = p2[_SWAP_VIEW]  # player 2's probabilities indexed by player 1's view
    p0 = jnp.stack(
        [p1[0] * q2[0], p1[0] * (1 - q2[0]), (1 - p1[0]) * q2[0], (1 - p1[0]) * (1 - q2[0])]
    )
    a, b = p1[1:], q2[1:]
    transition = jnp.stack([a * b, a * (1 - b), (1 - a) * b, (1 - a) * (1 - b)], axis=1)
    return p0, transition


def memory1_visits(p1: jax.Array, p2: jax.Array, gamma) -> jax.Array:
    """Discounted visitation of the joint outcomes (CC, CD, DC, DD), summing to 1:
    (1 - gamma) p0^T (I - gamma P)^-1."""
    p0, transition = _memory1_chain(p1, p2)
    return (1 - gamma) * jnp.linalg.solve(jnp.eye(4) - gamma * transition.T, p0)


def memory1_values(p1: jax.Array, p2: jax.Array, payoff: jax.Array, gamma) -> jax.Array:
    """Average discounted reward per step, (1 - gamma) V_i, of each player.

    `p1`, `p2`: float[5] cooperation probabilities in states (start, CC, CD, DC, DD), each
    seen from that player's own side. V_i = p0^T (I - gamma P)^-1 r_i, with p0 the joint
    distribution of the first round and P the transition matrix between joint outcomes.
    """
    return memory1_visits(p1, p2, gamma) @ payoff.reshape(4, 2)  # rows CC, CD, DC, DD


def exact_values(theta1: jax.Array, theta2: jax.Array, payoff: jax.Array, gamma) -> jax.Array:
    """`memory1_values` for logits: p = sigmoid(theta). Differentiable in both thetas."""
    return memory1_values(jax.nn.sigmoid(theta1), jax.nn.sigmoid(theta2), payoff, gamma)


for _name, _payoff in PAYOFFS.items():
    register(
        EnvSpec(
            name=_name,
            entry=MatrixGame,
            params={"payoff": _payoff},
            description=f"iterated 2x2 matrix game, payoff preset {_name}",
        )
    )

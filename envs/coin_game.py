"""Coin Game on a G x G torus (Lerer & Peysakhovich 2017; Foerster et al. 2018, LOLA).

Two agents, 0 = red and 1 = blue, and one coin, red or blue (its owner), on the board.
Step order:
1. Both agents move at once, one cell north, east, south or west (actions 0-3; action 4
   stays, with `num_moves=5`), wrapping around the edges. Agents never block each other:
   they may share a cell and pass through each other.
2. Every agent now on the coin's cell picks it up and gets `pickup_reward` (+1). If an
   agent that is not the coin's owner picked it up, the owner gets `-penalty` (-2). When
   both land on it at once, both get +1 and the owner also pays the penalty for the
   other's pickup (so the owner nets -1, the other +1).
3. If the coin was picked up, a new one appears at once, on a uniformly random cell not
   occupied by an agent, with a uniformly random colour.
4. The step counter advances; the episode is truncated (never terminated) when it reaches
   `episode_length`.
A new episode puts each agent on a uniformly random cell (independently: they may start
on the same cell) and the coin on a uniformly random free cell with a random colour.

Observation (uint8[G, G, 4] per agent, binary): the agent's own position, the other
agent's position, a coin of the agent's own colour, a coin of the other's colour. With
`egocentric=True` the grid is shifted (torus) so that the observing agent is at the
centre cell (G // 2, G // 2).

Also here: the scripted pairs behind the reference points of docs/envs/coin_game.md,
`own_coin_policy` (take only one's own coins by a shortest path) and `nearest_coin_policy`
(take every coin). That page lists every default and its source.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from marl.env import Env
from marl.registry import EnvSpec, register
from marl.render import EMPTY
from marl.spaces import Box, Discrete
from marl.validation import check_choice, check_range

RED, BLUE = 0, 1
NORTH, EAST, SOUTH, WEST, STAY = range(5)
# (row, column) step of each action; rows grow southwards, columns eastwards.
_MOVES = np.array([(-1, 0), (0, 1), (1, 0), (0, -1), (0, 0)], np.int32)
# Observation channels.
OWN, OTHER, OWN_COIN, OTHER_COIN = range(4)

AGENT_COLOURS = jnp.array([[220, 70, 60], [70, 110, 220]], jnp.uint8)  # red, blue
_COIN_RIM = jnp.array([235, 190, 40], jnp.uint8)  # gold
_GRID_LINE = jnp.array([150, 150, 150], jnp.uint8)
_CELL_PX = 32


@struct.dataclass
class CoinGameParams:
    episode_length: jax.Array = struct.field(default_factory=lambda: jnp.asarray(50, jnp.int32))
    pickup_reward: jax.Array = struct.field(default_factory=lambda: jnp.asarray(1.0, jnp.float32))
    penalty: jax.Array = struct.field(default_factory=lambda: jnp.asarray(2.0, jnp.float32))


@struct.dataclass
class CoinGameState:
    agent_pos: jax.Array  # int32[2, 2], (row, column) of red, blue
    coin_pos: jax.Array  # int32[2], (row, column)
    coin_owner: jax.Array  # int32[], RED or BLUE
    t: jax.Array  # int32[], steps taken in this episode


class CoinGame(Env):
    num_agents = 2
    episode_events = ("own_coin", "other_coin")

    def __init__(
        self,
        grid_size: int = 3,
        num_moves: int = 4,
        egocentric: bool = False,
        *,
        final_obs: bool = False,
    ):
        super().__init__(final_obs=final_obs)
        if grid_size < 2:
            raise ValueError(f"coin_game: grid_size must be >= 2, got {grid_size}")
        check_choice("coin_game", "num_moves", num_moves, {4, 5})
        check_choice("coin_game", "egocentric", egocentric, {False, True})
        self.grid_size = grid_size
        self.num_moves = num_moves
        # An out-of-range action inside jit stays put where staying is an action, else
        # moves north (action 0): it must be a valid action of this game.
        self.invalid_action = STAY if num_moves == 5 else NORTH
        self.egocentric = egocentric

    @property
    def default_params(self) -> CoinGameParams:
        return CoinGameParams()

    def check_params(self, params: CoinGameParams) -> None:
        check_range(self.name, "episode_length", params.episode_length, 1)
        check_range(self.name, "pickup_reward", params.pickup_reward, 0.0)
        check_range(self.name, "penalty", params.penalty, 0.0)

    # ---- the coin --------------------------------------------------------------------------
    def _new_coin(self, bits: jax.Array, agent_pos: jax.Array):
        """A coin on a uniform free cell with a uniform colour, from one uint32 of bits.

        The lowest bit is the colour; the rest picks the k-th cell among the cells without
        an agent (k modulo the number of free cells: a bias below 1e-8 on small grids).
        """
        g = self.grid_size
        cells = agent_pos[:, 0] * g + agent_pos[:, 1]
        low, high = jnp.min(cells), jnp.max(cells)
        shared = low == high
        num_free = g * g - 2 + shared.astype(jnp.int32)
        k = ((bits >> 1) % num_free.astype(jnp.uint32)).astype(jnp.int32)
        # Skip the occupied cells in increasing order: the k-th free cell.
        cell = k + (k >= low)
        cell = cell + ((cell >= high) & ~shared)
        owner = (bits & 1).astype(jnp.int32)
        return jnp.stack([cell // g, cell % g]).astype(jnp.int32), owner

    # ---- the rules -------------------------------------------------------------------------
    def init_state(self, key, params) -> CoinGameState:
        g = self.grid_size
        bits = jax.random.bits(key, (3,), jnp.uint32)
        cells = (bits[:2] % (g * g)).astype(jnp.int32)
        agent_pos = jnp.stack([cells // g, cells % g], axis=-1)
        coin_pos, coin_owner = self._new_coin(bits[2], agent_pos)
        return CoinGameState(
            agent_pos=agent_pos,
            coin_pos=coin_pos,
            coin_owner=coin_owner,
            t=jnp.asarray(0, jnp.int32),
        )

    def transition(self, key, state, actions, params):
        # 1. Move on the torus.
        agent_pos = (state.agent_pos + jnp.asarray(_MOVES)[actions]) % self.grid_size
        # 2. Pickups, and the owner's penalty when the other agent took its coin.
        on_coin = jnp.all(agent_pos == state.coin_pos, axis=-1)  # bool[2]
        is_owner = jnp.arange(2) == state.coin_owner
        own_coin = on_coin & is_owner
        other_coin = on_coin & ~is_owner
        stolen = other_coin.any()
        reward = params.pickup_reward * on_coin - params.penalty * (is_owner & stolen)
        # 3. A taken coin is replaced at once.
        new_pos, new_owner = self._new_coin(jax.random.bits(key, (), jnp.uint32), agent_pos)
        taken = on_coin.any()
        coin_pos = jnp.where(taken, new_pos, state.coin_pos)
        coin_owner = jnp.where(taken, new_owner, state.coin_owner)
        # 4. Time limit.
        t = state.t + 1
        truncated = t >= params.episode_length
        state = CoinGameState(agent_pos=agent_pos, coin_pos=coin_pos, coin_owner=coin_owner, t=t)
        info = {
            "terminated": jnp.asarray(False),
            "truncated": truncated,
            "own_coin": own_coin,
            "other_coin": other_coin,
        }
        return state, reward.astype(jnp.float32), truncated, info

    def observe(self, state, params) -> jax.Array:
        g = self.grid_size
        me = state.agent_pos  # [2, 2]: row i is the observer
        coin = jnp.broadcast_to(state.coin_pos, (2, 2))
        things = jnp.stack([me, me[::-1], coin], axis=1)  # [observer, self/other/coin, 2]
        if self.egocentric:
            things = (things - me[:, None, :] + g // 2) % g
        cells = things[..., 0] * g + things[..., 1]  # [2, 3]
        one_hot = cells[..., None] == jnp.arange(g * g)  # [2, 3, g*g]
        mine = (jnp.arange(2) == state.coin_owner)[:, None]
        channels = [one_hot[:, 0], one_hot[:, 1], one_hot[:, 2] & mine, one_hot[:, 2] & ~mine]
        return jnp.stack(channels, axis=-1).reshape(2, g, g, 4).astype(jnp.uint8)

    def observation_space(self, params=None) -> Box:
        return Box(0, 1, (self.grid_size, self.grid_size, 4), jnp.uint8)

    def action_space(self, params=None) -> Discrete:
        return Discrete(self.num_moves)

    def render(self, state, params) -> jax.Array:
        """The whole board: agents as squares (red, blue; split when they share a cell), the
        coin as a disc of its owner's colour with a gold rim, on grey with grid lines."""
        g, px = self.grid_size, _CELL_PX
        ys, xs = np.mgrid[0 : g * px, 0 : g * px]
        row, col, y, x = ys // px, xs // px, ys % px, xs % px
        image = jnp.where(((y == 0) | (x == 0))[..., None], _GRID_LINE, EMPTY)

        def at(pos):
            return (row == pos[0]) & (col == pos[1])

        r2 = (y - px / 2 + 0.5) ** 2 + (x - px / 2 + 0.5) ** 2
        rim = at(state.coin_pos) & (r2 <= (0.36 * px) ** 2)
        disc = at(state.coin_pos) & (r2 <= (0.26 * px) ** 2)
        image = jnp.where(rim[..., None], _COIN_RIM, image)
        image = jnp.where(disc[..., None], AGENT_COLOURS[state.coin_owner], image)

        inset = (y >= 4) & (y < px - 3) & (x >= 4) & (x < px - 3)
        shared = jnp.all(state.agent_pos[0] == state.agent_pos[1])
        left, right = x < px // 2, x >= px // 2
        red = at(state.agent_pos[0]) & inset & (~shared | left)
        blue = at(state.agent_pos[1]) & inset & (~shared | right)
        image = jnp.where(red[..., None], AGENT_COLOURS[RED], image)
        image = jnp.where(blue[..., None], AGENT_COLOURS[BLUE], image)
        return image.astype(jnp.uint8)

    def episode_metrics(self, totals, length):
        """`own_coin_proportion`: own-colour pickups / all pickups of the agents given (0.5,
        the indifferent value, in an episode where none was taken); `coins_per_step`: pickups
        per agent per step."""
        own = totals["own_coin"].sum(-1)
        taken = own + totals["other_coin"].sum(-1)
        # Totals may be per-step means (fractions), so guard the division without clipping.
        proportion = jnp.where(taken > 0, own / jnp.where(taken > 0, taken, 1.0), 0.5)
        per_agent = taken / totals["own_coin"].shape[-1]
        return {"own_coin_proportion": proportion, "coins_per_step": per_agent / length}


# ---- scripted pairs behind the reference points ------------------------------------------
def _locate(channel: jax.Array) -> jax.Array:
    """(row, column) of the cell set in a [G, G] channel (the first one if several)."""
    g = channel.shape[-1]
    cell = jnp.argmax(channel.reshape(-1))
    return jnp.stack([cell // g, cell % g])


def _toward(here: jax.Array, target: jax.Array, g: int) -> jax.Array:
    """First move of a shortest path on the torus: rows first, then columns."""
    down = (target[0] - here[0]) % g
    right = (target[1] - here[1]) % g
    vertical = jnp.where(down <= g // 2, SOUTH, NORTH)
    horizontal = jnp.where(right <= g // 2, EAST, WEST)
    return jnp.where(down != 0, vertical, horizontal).astype(jnp.int32)


def nearest_coin_policy(obs: jax.Array) -> jax.Array:
    """Take every coin: step along a shortest path to the coin, whatever its colour.

    `obs`: one agent's observation uint8[G, G, 4] (absolute or egocentric). Uses moves 0-3
    only, so it fits `num_moves` 4 and 5. Jittable; vmap it over agents and envs.
    """
    g = obs.shape[0]
    here = _locate(obs[..., OWN])
    coin = _locate(obs[..., OWN_COIN] | obs[..., OTHER_COIN])
    return _toward(here, coin, g)


def own_coin_policy(obs: jax.Array) -> jax.Array:
    """Take only one's own coins: a shortest path to a coin of one's own colour; while the
    coin is the other's, the first move among north, east, south, west that does not
    step on it. Same input and use as `nearest_coin_policy`."""
    g = obs.shape[0]
    here = _locate(obs[..., OWN])
    mine = obs[..., OWN_COIN].any()
    chase = _toward(here, _locate(obs[..., OWN_COIN]), g)
    coin = _locate(obs[..., OTHER_COIN])
    landing = (here[None, :] + jnp.asarray(_MOVES[:4])) % g  # [4, 2]
    safe = ~jnp.all(landing == coin, axis=-1)
    dodge = jnp.argmax(safe).astype(jnp.int32)
    return jnp.where(mine, chase, dodge)


register(
    EnvSpec(
        name="coin_game",
        entry=CoinGame,
        presets={
            "shaping": {"params": {"episode_length": 50}},
            "lola": {"params": {"episode_length": 150}},
        },
        description="Coin Game: two agents, one coin, a penalty for taking the other's coin",
    )
)

"""Commons Harvest, the common-pool resource game (docs/envs/harvest.md).

Perolat et al. 2017 ("A multi-agent reinforcement learning model of common-pool resource
appropriation"), after Janssen et al. 2010; Melting Pot's `commons_harvest__open`; the
Harvest of Hughes et al. 2018 (SSD). Agents walk a map of apple patches; an apple gives
+1; an eaten apple regrows with a probability that grows with the number of apples
around it, so a patch harvested to zero never comes back: the tragedy of the commons.
Agents can zap each other, removing the victim for a while and/or costing rewards.

Rules, in the order of one step (engine rules in `engine.py`, the pieces every apple game
shares in `apples.py`):
1. Movement: turns and relative moves of the agents on the map; walls and other agents
   block; a contested cell goes to a uniformly random claimant; no swaps.
2. Eating: an agent on a cell with an apple eats it: `apple_reward` (+1), apple gone.
3. Zapping: an agent on the map choosing FIRE_ZAP whose zap has cooled down fires a beam
   of `zap_length` x `zap_radius` (footprint shape per preset) from its new cell. Each
   shooter pays `zap_cost`; each hit costs the victim `zap_penalty`; a hit agent is
   removed for `zap_timeout` steps (none if 0). The zap then cools down `zap_cooldown`
   steps (other timers count down by one).
4. Regrowth: every apple cell with no apple and no agent on it grows one with probability
   `regrowth_prob[level]`, level = the number of `regrowth_min_neighbours` thresholds
   that L reaches, minus one, where L = apples at offsets (dr, dc) != (0, 0) with
   dr^2 + dc^2 <= `regrowth_radius_sq` (counted after eating).
5. Respawn: removed agents count down; at 0 they reappear on a random free spawn point
   with a random facing.
6. Time: `t += 1`; truncated at `episode_length` (never terminated).

Presets (`variant`): `melting_pot` (default), `perolat`, `ssd`: see PRESETS and
docs/envs/harvest.md for every value and its source.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from marl.envs.gridworld.apples import AppleGame
from marl.envs.gridworld.engine import FIRE_ZAP, Agents, Beam, GridEngine, View
from marl.envs.gridworld.maps import Layout
from marl.registry import EnvSpec, register
from marl.validation import check_range, check_that

MAP_CHANNELS = ("wall", "apple")
APPLE_CHANNEL = 1

FLOOR_RGB = (220, 205, 185)
WALL_RGB = (109, 109, 109)
GRASS_RGB = (158, 194, 101)
APPLE_RGB = (214, 88, 88)


@dataclass(frozen=True)
class MapLegend:
    """What the characters of a map file mean in this game."""

    walls: str
    apples: str  # apple cells; each starts with an apple
    spawn: str  # respawn points (and initial ones, unless `inside_spawn`)
    inside_spawn: str = ""  # initial spawn points of the first agents (Melting Pot's `Q`)


LEGENDS = {
    # Melting Pot: W wall, A grass + apple, P spawn point, Q inside spawn point.
    "meltingpot_commons_harvest_open.txt": MapLegend(
        walls="W", apples="A", spawn="P", inside_spawn="Q"
    ),
    # SSD: @ wall, A apple, P spawn point.
    "ssd_harvest.txt": MapLegend(walls="@", apples="A", spawn="P"),
    # Commons Game: @ apple, no walls, agents on random non-apple cells.
    "cpr_big.txt": MapLegend(walls="", apples="@", spawn=" "),
}


@struct.dataclass
class HarvestParams:
    apple_reward: jax.Array  # reward for eating an apple
    regrowth_prob: jax.Array  # float32[4], per-step regrowth probability of each level
    regrowth_min_neighbours: jax.Array  # int32[4], L from which each level applies
    regrowth_radius_sq: jax.Array  # neighbourhood: dr^2 + dc^2 <= this (dr, dc integers)
    zap_length: jax.Array  # beam cells ahead (<= max_zap_length)
    zap_radius: jax.Array  # beam columns to each side (<= max_zap_radius)
    zap_cooldown: jax.Array  # steps after a zap before the next one
    zap_timeout: jax.Array  # steps a hit agent is removed; 0 = not removed
    zap_cost: jax.Array  # reward the shooter loses per zap fired
    zap_penalty: jax.Array  # reward the victim loses per hit
    episode_length: jax.Array  # steps per episode


@struct.dataclass
class HarvestState:
    agents: Agents
    apples: jax.Array  # bool[A], apple present on each apple cell
    t: jax.Array  # int32[], steps taken in this episode


@dataclass(frozen=True)
class Preset:
    map_name: str
    num_agents: int
    zap_shape: str
    zap_stopped_by_agents: bool
    params: dict


PRESETS = {
    # Melting Pot commons_harvest__open (configs/substrates/commons_harvest__open.py).
    "melting_pot": Preset(
        map_name="meltingpot_commons_harvest_open.txt",
        num_agents=7,
        zap_shape="melting_pot",
        zap_stopped_by_agents=True,
        params=dict(
            apple_reward=1.0,
            regrowth_prob=[0.0, 0.0025, 0.005, 0.025],
            regrowth_min_neighbours=[0, 1, 2, 3],
            regrowth_radius_sq=4,  # L2 disc of radius 2
            zap_length=3,
            zap_radius=1,
            zap_cooldown=2,
            zap_timeout=4,
            zap_cost=0.0,
            zap_penalty=0.0,
            episode_length=1000,
        ),
    ),
    # Perolat et al. 2017 (map and regrowth as in tiagoCuervo/CommonsGame).
    "perolat": Preset(
        map_name="cpr_big.txt",
        num_agents=12,
        zap_shape="rectangle",
        zap_stopped_by_agents=False,
        params=dict(
            apple_reward=1.0,
            regrowth_prob=[0.0, 0.01, 0.05, 0.1],
            regrowth_min_neighbours=[0, 1, 3, 5],
            regrowth_radius_sq=8,  # the 5 x 5 box around the cell
            zap_length=20,
            zap_radius=2,  # 5 wide
            zap_cooldown=0,
            zap_timeout=25,
            zap_cost=0.0,
            zap_penalty=0.0,
            episode_length=1000,
        ),
    ),
    # Hughes et al. 2018 Harvest (eugenevinitsky/sequential_social_dilemma_games).
    "ssd": Preset(
        map_name="ssd_harvest.txt",
        num_agents=5,
        zap_shape="melting_pot",  # SSD's width-3 beam: centre f = 1..5, sides f = 0..4
        zap_stopped_by_agents=True,
        params=dict(
            apple_reward=1.0,
            regrowth_prob=[0.0, 0.005, 0.02, 0.05],
            regrowth_min_neighbours=[0, 1, 2, 3],
            regrowth_radius_sq=2,  # SSD compares j^2 + k^2 with 2: the 3 x 3 box
            zap_length=5,
            zap_radius=1,  # 3 wide
            zap_cooldown=0,
            zap_timeout=0,
            zap_cost=1.0,
            zap_penalty=50.0,
            episode_length=1000,
        ),
    ),
}

_INT_PARAMS = (
    "regrowth_min_neighbours",
    "regrowth_radius_sq",
    "zap_length",
    "zap_radius",
    "zap_cooldown",
    "zap_timeout",
    "episode_length",
)


class Harvest(AppleGame):
    """Commons Harvest on a static map; see the module docstring for the rules."""

    episode_events = ("apples", "fired", "zapped", "apples_left")
    _params_type = HarvestParams
    _int_params = _INT_PARAMS

    def __init__(
        self,
        variant: str = "melting_pot",
        num_agents: int | None = None,
        map_name: str | None = None,
        view_ahead: int = 9,
        view_behind: int = 1,
        view_side: int = 5,
        max_zap_length: int | None = None,
        max_zap_radius: int | None = None,
        zap_shape: str | None = None,
        zap_stopped_by_agents: bool | None = None,
        *,
        final_obs: bool = False,
    ):
        super().__init__(final_obs=final_obs)
        preset = self._choose_preset("harvest", PRESETS, LEGENDS, variant, map_name, num_agents)
        self._set_max_zap(max_zap_length, max_zap_radius)
        shape = preset.zap_shape if zap_shape is None else zap_shape
        stopped = (
            preset.zap_stopped_by_agents if zap_stopped_by_agents is None else zap_stopped_by_agents
        )

        layout = Layout.load(self.map_name)
        legend = LEGENDS[self.map_name]
        self.layout = layout
        walls = layout.mask(legend.walls)
        self.apple_cells = layout.cells(legend.apples)
        spawn = layout.cells(legend.spawn + legend.inside_spawn)
        inside = layout.mask(legend.inside_spawn).ravel()[spawn]
        n = self.num_agents
        # Melting Pot: the first agents (as many as there are inside points) start there.
        first_inside = np.arange(n)[:, None] < inside.sum()
        initial = np.where(first_inside, inside[None, :], ~inside[None, :])
        self.engine = GridEngine(
            walls,
            n,
            spawn_cells=spawn,
            initial_spawn=initial,
            respawn=~inside,
            map_channels=MAP_CHANNELS,
            view=View(view_ahead, view_behind, view_side, view_side),
            beams=(
                Beam(
                    "zap",
                    FIRE_ZAP,
                    self.max_zap_length,
                    self.max_zap_radius,
                    shape=shape,
                    stopped_by_agents=bool(stopped),
                ),
            ),
        )
        # Squared distances between apple cells (regrowth neighbourhoods), static.
        rc = np.stack(np.divmod(self.apple_cells, layout.width), -1)
        diff = rc[:, None, :] - rc[None, :, :]
        self._apple_d2 = (diff**2).sum(-1).astype(np.int32)
        np.fill_diagonal(self._apple_d2, np.iinfo(np.int32).max)
        self._apple_index = self.engine.lookup(self.apple_cells)

    # ---- params --------------------------------------------------------------------------------
    def check_params(self, params: HarvestParams) -> None:
        name = self.name
        check_range(name, "apple_reward", params.apple_reward)
        check_range(name, "regrowth_prob", params.regrowth_prob, 0.0, 1.0)
        check_range(name, "regrowth_min_neighbours", params.regrowth_min_neighbours, 0)
        check_that(
            name,
            lambda m: (m[..., 0] == 0) & (m[..., 1:] >= m[..., :-1]).all(-1),
            "param regrowth_min_neighbours={} must start at 0 and never decrease",
            params.regrowth_min_neighbours,
        )
        check_range(name, "regrowth_radius_sq", params.regrowth_radius_sq, 0)
        self._check_zap_params(params)
        check_range(name, "episode_length", params.episode_length, 1)

    # ---- episode start -------------------------------------------------------------------------
    def init_state(self, key, params) -> HarvestState:
        u = jax.random.uniform(key, (self.engine.spawn_uniforms,))
        return HarvestState(
            agents=self.engine.spawn(u),
            apples=jnp.ones(len(self.apple_cells), bool),
            t=jnp.zeros((), jnp.int32),
        )

    # ---- one step ------------------------------------------------------------------------------
    def transition(self, key, state: HarvestState, actions, params: HarvestParams):
        eng, n, a = self.engine, self.num_agents, len(self.apple_cells)
        # One draw for the whole step: move priorities, regrowth, respawn.
        u = jax.random.uniform(key, (n + a + eng.spawn_uniforms,))
        u_priority, u_regrow, u_spawn = u[:n], u[n : n + a], u[n + a :]
        on_map = state.agents.on_map

        # 1. Movement.
        agents = eng.move(state.agents, actions, u_priority)

        # 2. Eating.
        eaten, gone, reward = self._eat(state.apples, agents, params)
        apples = state.apples & ~gone

        # 3. Zapping.
        firing, zapped, reward = self._zap(agents, actions, reward, params)
        agents = eng.tick_cooldowns(agents, firing[:, None], params.zap_cooldown, on_map)
        agents = eng.remove(agents, zapped > 0, params.zap_timeout)

        # 4. Regrowth, on apple cells with no apple and no agent.
        regrowth = self.regrowth_probability(apples, params)
        apples = self._grow_apples(apples, agents, u_regrow, regrowth)

        # 5. Respawn.
        agents = eng.respawn(agents, u_spawn, was_out=~on_map)

        # 6. Time.
        t = state.t + 1
        info = self._step_info(t, params, eaten, apples, agents, fired=firing, zapped=zapped)
        state = HarvestState(agents=agents, apples=apples, t=t)
        return state, reward.astype(jnp.float32), info["truncated"], info

    def regrowth_probability(self, apples: jax.Array, params: HarvestParams) -> jax.Array:
        """float32[A]: each apple cell's regrowth probability given the apples present."""
        near = (jnp.asarray(self._apple_d2) <= params.regrowth_radius_sq).astype(jnp.float32)
        count = near @ apples.astype(jnp.float32)  # L: apples in each cell's neighbourhood
        reached = count[:, None] >= params.regrowth_min_neighbours[None, :].astype(jnp.float32)
        level = reached.sum(-1) - 1
        return params.regrowth_prob[jnp.maximum(level, 0)]

    # ---- observation ---------------------------------------------------------------------------
    def _layers(self, state: HarvestState):
        return ((self.apple_cells, state.apples, APPLE_CHANNEL),)

    # ---- rendering -----------------------------------------------------------------------------
    def render(self, state: HarvestState, params) -> jax.Array:
        """The whole map: walls, floor, grass under apple cells, apples, agents (with a
        stripe on their facing side) and the zaps fired on the last step (yellow).

        Zaps are redrawn from the state after the step, so a zap that removed an agent is
        drawn through that agent's cell."""
        eng = self.engine
        rgb = np.where(eng.walls.ravel()[:, None], WALL_RGB, FLOOR_RGB).astype(np.uint8)
        rgb[self.apple_cells] = GRASS_RGB
        rgb = self._paint_apples(rgb, state.apples, APPLE_RGB)
        zap = eng.fire(
            "zap", state.agents, state.agents.fired[:, 0], params.zap_length, params.zap_radius
        )
        return self._render(rgb, state.agents, zap)

    # ---- episode statistics --------------------------------------------------------------------
    def episode_metrics(self, totals, length):
        """Zaps fired per agent-step, times zapped per agent-step, apples eaten per agent in
        the episode, and the mean number of apples on the map over the episode's steps."""
        return self._apple_metrics(totals, length, zapped_rate="zapped")


register(
    EnvSpec(
        name="harvest",
        entry=Harvest,
        presets={name: {"kwargs": {"variant": name}} for name in PRESETS},
        description="Commons Harvest (common-pool resource): Melting Pot, Perolat 2017, SSD",
    )
)

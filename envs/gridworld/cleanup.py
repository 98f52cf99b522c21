"""Cleanup, the public-good game of Hughes et al. 2018 (docs/envs/cleanup.md).

Hughes et al. 2018 ("Inequity aversion improves cooperation in intertemporal social
dilemmas"), as implemented in eugenevinitsky/sequential_social_dilemma_games (SSD), and
Melting Pot's `clean_up`. Apples grow in an orchard only while the river is clean; waste
keeps accumulating in the river and a cleaning beam removes it. Eating an apple gives +1;
cleaning gives nothing, so every agent would rather eat while others clean: selfish
learners free-ride and the orchard dies. Agents can also zap each other.

Rules, in the order of one step (engine rules in `engine.py`, the pieces every apple game
shares in `apples.py`):
1. Movement: turns and relative moves of the agents on the map; walls and other agents
   block (river and waste cells are walkable); a contested cell goes to a uniformly
   random claimant; no swaps.
2. Eating: an agent on a cell with an apple eats it: `apple_reward` (+1), apple gone.
3. Beams, all fired at once from the cells after movement (an agent picks one action, so
   it fires at most one beam a step):
   - Zap (FIRE_ZAP): `zap_length` x `zap_radius`, stopped by walls and by the first agent
     in each column. The shooter pays `zap_cost`; each hit costs the victim
     `zap_penalty`; a hit agent is removed for `zap_timeout` steps (none if 0).
   - Clean (FIRE_CLEAN, action 8): `clean_length` x `clean_radius`, stopped by walls,
     by the first agent in each column if `clean_stopped_by_agents`, and after the first
     waste cell in each column if `clean_blocked_by_waste`. Every waste cell it covers
     becomes clean river. The shooter pays `clean_cost`. A cell covered by several
     cleaning beams is credited (`info["cleaned"]`) to one of their shooters, chosen
     uniformly at random.
   Each beam then cools down for its `*_cooldown` steps (other timers count down by one).
4. Apple growth: d = waste cells / cells that can hold waste (after cleaning); every
   apple cell with no apple and no agent grows one with probability
   `apple_growth_rate` * clip((`dirt_depletion` - d) / (`dirt_depletion` -
   `dirt_restoration`), 0, 1), i.e. 0.05 * max(0, 1 - d / 0.4) with the defaults.
5. Waste: from step `waste_start_step` + 1 on (`t >= waste_start_step` steps taken),
   while d < `waste_spawn_max_dirt`, with probability `waste_spawn_prob` one uniformly
   random clean river cell becomes waste.
6. Respawn: removed agents count down; at 0 they reappear on a random free spawn point
   with a random facing.
7. Time: `t += 1`; truncated at `episode_length` (never terminated).

Presets (`variant`): `melting_pot` (default), `ssd`: see PRESETS and docs/envs/cleanup.md
for every value and its source.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from marl.envs.gridworld import engine
from marl.envs.gridworld.apples import AppleGame
from marl.envs.gridworld.engine import FIRE_ZAP, Agents, Beam, GridEngine, View
from marl.envs.gridworld.maps import Layout
from marl.registry import EnvSpec, register
from marl.validation import check_range, check_that

FIRE_CLEAN = 8
ACTION_NAMES = (*engine.ACTION_NAMES, "FIRE_CLEAN")

MAP_CHANNELS = ("wall", "apple", "waste")
APPLE_CHANNEL, WASTE_CHANNEL = 1, 2
ZAP, CLEAN = 0, 1  # beam indices (cooldown / fired columns)

FLOOR_RGB = (220, 205, 185)
WALL_RGB = (109, 109, 109)
GRASS_RGB = (158, 194, 101)
APPLE_RGB = (214, 88, 88)
WATER_RGB = (99, 156, 194)
WASTE_RGB = (113, 75, 24)  # SSD's brown waste
CLEAN_BEAM_RGB = np.array([99, 223, 242], np.uint16)  # Melting Pot's light-blue clean beam


@dataclass(frozen=True)
class MapLegend:
    """What the characters of a map file mean in this game."""

    walls: str
    apples: str  # apple cells; none holds an apple at the start
    spawn: str  # spawn and respawn points
    waste: str  # cells that can hold waste and start dirty
    river: str  # cells that can hold waste and start clean
    water: str = ""  # water that never holds waste (drawn only)


LEGENDS = {
    # Melting Pot (clean_up.py CHAR_PREFAB_MAP): W wall, P spawn point, B / T grass +
    # potential apple, F river + dirt, H river + potential dirt, S / ~ river only; the
    # other characters are sand or grass with shadows (looks only).
    "meltingpot_clean_up.txt": MapLegend(
        walls="W", apples="BT", spawn="P", waste="F", river="H", water="S~"
    ),
    # SSD (cleanup.py): @ wall, P spawn, B apple, H waste, R river, S stream.
    "ssd_cleanup.txt": MapLegend(walls="@", apples="B", spawn="P", waste="H", river="R", water="S"),
}


@struct.dataclass
class CleanupParams:
    apple_reward: jax.Array  # reward for eating an apple
    apple_growth_rate: jax.Array  # growth probability per empty apple cell on a clean river
    dirt_depletion: jax.Array  # dirt fraction from which apples stop growing
    dirt_restoration: jax.Array  # dirt fraction up to which they grow at the full rate
    waste_spawn_prob: jax.Array  # probability per step that one clean river cell gets waste
    waste_start_step: jax.Array  # steps taken before waste starts to appear
    waste_spawn_max_dirt: jax.Array  # waste appears only while the dirt fraction is below
    zap_length: jax.Array  # zap cells ahead (<= max_zap_length)
    zap_radius: jax.Array  # zap columns to each side (<= max_zap_radius)
    zap_cooldown: jax.Array  # steps after a zap before the next one
    zap_timeout: jax.Array  # steps a zapped agent is removed; 0 = not removed
    zap_cost: jax.Array  # reward the shooter loses per zap fired
    zap_penalty: jax.Array  # reward the victim loses per hit
    clean_length: jax.Array  # cleaning beam cells ahead (<= max_clean_length)
    clean_radius: jax.Array  # cleaning beam columns to each side (<= max_clean_radius)
    clean_cooldown: jax.Array  # steps after a cleaning shot before the next one
    clean_cost: jax.Array  # reward the shooter loses per cleaning shot
    episode_length: jax.Array  # steps per episode


@struct.dataclass
class CleanupState:
    agents: Agents
    apples: jax.Array  # bool[A], apple present on each apple cell
    waste: jax.Array  # bool[D], waste on each cell that can hold waste
    t: jax.Array  # int32[], steps taken in this episode


@dataclass(frozen=True)
class Preset:
    map_name: str
    num_agents: int
    clean_stopped_by_agents: bool
    clean_blocked_by_waste: bool
    params: dict


# The rules both presets share, from Melting Pot's clean_up.py and components.lua (SSD's
# cleanup.py has the same growth constants); docs/envs/cleanup.md says why.
_COMMON = dict(
    apple_reward=1.0,
    apple_growth_rate=0.05,  # maxAppleGrowthRate / appleRespawnProbability
    dirt_depletion=0.4,  # thresholdDepletion
    dirt_restoration=0.0,  # thresholdRestoration
    waste_spawn_prob=0.5,  # dirtSpawnProbability / wasteSpawnProbability
    waste_start_step=50,  # delayStartOfDirtSpawning
    waste_spawn_max_dirt=1.0,  # never stops (Melting Pot); SSD stops at 0.4
    episode_length=1000,
)

PRESETS = {
    # Melting Pot clean_up (configs/substrates/clean_up.py, lua/levels/clean_up).
    "melting_pot": Preset(
        map_name="meltingpot_clean_up.txt",
        num_agents=7,
        clean_stopped_by_agents=False,  # only zapHit is absorbed by avatars
        clean_blocked_by_waste=True,  # DirtCleaning:onHit returns true
        params=dict(
            _COMMON,
            zap_length=3,
            zap_radius=1,
            zap_cooldown=10,
            zap_timeout=50,
            zap_cost=0.0,
            zap_penalty=0.0,
            clean_length=3,
            clean_radius=1,
            clean_cooldown=2,
            clean_cost=0.0,
        ),
    ),
    # Hughes et al. 2018 Cleanup (eugenevinitsky/sequential_social_dilemma_games).
    "ssd": Preset(
        map_name="ssd_cleanup.txt",
        num_agents=5,
        clean_stopped_by_agents=True,  # agents absorb every beam
        clean_blocked_by_waste=True,  # blocking_cells=['H']
        params=dict(
            _COMMON,
            zap_length=5,
            zap_radius=1,  # 3 wide
            zap_cooldown=0,
            zap_timeout=0,
            zap_cost=1.0,
            zap_penalty=50.0,
            clean_length=5,
            clean_radius=1,  # 3 wide
            clean_cooldown=0,
            clean_cost=0.0,
        ),
    ),
}

_INT_PARAMS = (
    "waste_start_step",
    "zap_length",
    "zap_radius",
    "zap_cooldown",
    "zap_timeout",
    "clean_length",
    "clean_radius",
    "clean_cooldown",
    "episode_length",
)


class Cleanup(AppleGame):
    """Cleanup on a static map; see the module docstring for the rules."""

    episode_events = (
        "apples",
        "fired",
        "zapped",
        "clean_fired",
        "cleaned",
        "apples_left",
        "dirt",
    )
    action_names = ACTION_NAMES
    _params_type = CleanupParams
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
        max_clean_length: int | None = None,
        max_clean_radius: int | None = None,
        clean_stopped_by_agents: bool | None = None,
        clean_blocked_by_waste: bool | None = None,
        *,
        final_obs: bool = False,
    ):
        super().__init__(final_obs=final_obs)
        preset = self._choose_preset("cleanup", PRESETS, LEGENDS, variant, map_name, num_agents)
        self._set_max_zap(max_zap_length, max_zap_radius)
        p = preset.params
        pick = lambda value, default: default if value is None else value  # noqa: E731
        self.max_clean_length = pick(max_clean_length, p["clean_length"])
        self.max_clean_radius = pick(max_clean_radius, p["clean_radius"])
        self.clean_stopped_by_agents = bool(
            pick(clean_stopped_by_agents, preset.clean_stopped_by_agents)
        )
        self.clean_blocked_by_waste = bool(
            pick(clean_blocked_by_waste, preset.clean_blocked_by_waste)
        )

        layout = Layout.load(self.map_name)
        legend = LEGENDS[self.map_name]
        self.layout = layout
        self.legend = legend
        walls = layout.mask(legend.walls)
        self.apple_cells = layout.cells(legend.apples)
        # Cells that can hold waste, in map order; which of them start dirty.
        self.waste_cells = layout.cells(legend.waste + legend.river)
        self.initial_waste = layout.mask(legend.waste).ravel()[self.waste_cells]
        self.engine = GridEngine(
            walls,
            self.num_agents,
            spawn_cells=layout.cells(legend.spawn),
            map_channels=MAP_CHANNELS,
            view=View(view_ahead, view_behind, view_side, view_side),
            beams=(
                Beam("zap", FIRE_ZAP, self.max_zap_length, self.max_zap_radius),
                Beam(
                    "clean",
                    FIRE_CLEAN,
                    self.max_clean_length,
                    self.max_clean_radius,
                    stopped_by_agents=self.clean_stopped_by_agents,
                ),
            ),
        )
        self._apple_index = self.engine.lookup(self.apple_cells)
        self._waste_index = self.engine.lookup(self.waste_cells)

    # ---- params --------------------------------------------------------------------------------
    def check_params(self, params: CleanupParams) -> None:
        name = self.name
        check_range(name, "apple_reward", params.apple_reward)
        check_range(name, "apple_growth_rate", params.apple_growth_rate, 0.0, 1.0)
        check_range(name, "dirt_depletion", params.dirt_depletion, 0.0, 1.0, open_low=True)
        check_range(name, "dirt_restoration", params.dirt_restoration, 0.0, 1.0)
        check_that(
            name,
            lambda restoration, depletion: restoration < depletion,
            "param dirt_restoration={} must be below dirt_depletion={}",
            params.dirt_restoration,
            params.dirt_depletion,
        )
        check_range(name, "waste_spawn_prob", params.waste_spawn_prob, 0.0, 1.0)
        check_range(name, "waste_start_step", params.waste_start_step, 0)
        check_range(name, "waste_spawn_max_dirt", params.waste_spawn_max_dirt, 0.0, 1.0)
        self._check_zap_params(params)
        check_range(name, "clean_length", params.clean_length, 0, self.max_clean_length)
        check_range(name, "clean_radius", params.clean_radius, 0, self.max_clean_radius)
        check_range(name, "clean_cooldown", params.clean_cooldown, 0)
        check_range(name, "clean_cost", params.clean_cost)
        check_range(name, "episode_length", params.episode_length, 1)

    # ---- episode start -------------------------------------------------------------------------
    def init_state(self, key, params) -> CleanupState:
        u = jax.random.uniform(key, (self.engine.spawn_uniforms,))
        return CleanupState(
            agents=self.engine.spawn(u),
            apples=jnp.zeros(len(self.apple_cells), bool),
            waste=jnp.asarray(self.initial_waste),
            t=jnp.zeros((), jnp.int32),
        )

    # ---- one step ------------------------------------------------------------------------------
    def transition(self, key, state: CleanupState, actions, params: CleanupParams):
        eng, n, a = self.engine, self.num_agents, len(self.apple_cells)
        # One draw for the whole step: move priorities, cleaning credit, apple growth,
        # waste (spawn or not, which cell), respawn.
        u = jax.random.uniform(key, (2 * n + a + 2 + eng.spawn_uniforms,))
        u_priority, u_credit = u[:n], u[n : 2 * n]
        u_grow = u[2 * n : 2 * n + a]
        u_waste, u_waste_cell = u[2 * n + a], u[2 * n + a + 1]
        u_spawn = u[2 * n + a + 2 :]
        on_map = state.agents.on_map

        # 1. Movement.
        agents = eng.move(state.agents, actions, u_priority)

        # 2. Eating.
        eaten, gone, reward = self._eat(state.apples, agents, params)
        apples = state.apples & ~gone

        # 3. Beams: zap and clean, both from the cells after movement.
        zapping, zapped, reward = self._zap(agents, actions, reward, params)
        cleaning = eng.ready(agents, actions, "clean")
        waste, cleaned = self._clean(agents, cleaning, state.waste, u_credit, params)
        reward = reward - params.clean_cost * cleaning
        fired = jnp.stack([zapping, cleaning], axis=1)
        cooldown = jnp.stack([params.zap_cooldown, params.clean_cooldown])
        agents = eng.tick_cooldowns(agents, fired, cooldown, on_map)
        agents = eng.remove(agents, zapped > 0, params.zap_timeout)

        # 4. Apple growth, on apple cells with no apple and no agent.
        dirt = self.dirt_fraction(waste)
        apples = self._grow_apples(apples, agents, u_grow, self.growth_probability(dirt, params))

        # 5. Waste.
        waste = self._pollute(waste, dirt, state.t, u_waste, u_waste_cell, params)

        # 6. Respawn.
        agents = eng.respawn(agents, u_spawn, was_out=~on_map)

        # 7. Time.
        t = state.t + 1
        events = dict(fired=zapping, zapped=zapped, clean_fired=cleaning, cleaned=cleaned)
        info = self._step_info(t, params, eaten, apples, agents, **events)
        info["dirt"] = self.dirt_fraction(waste)
        state = CleanupState(agents=agents, apples=apples, waste=waste, t=t)
        return state, reward.astype(jnp.float32), info["truncated"], info

    def dirt_fraction(self, waste: jax.Array) -> jax.Array:
        """float32[]: the share of the cells that can hold waste that hold it."""
        return waste.sum(-1, dtype=jnp.float32) / len(self.waste_cells)

    def growth_probability(self, dirt: jax.Array, params: CleanupParams) -> jax.Array:
        """Per-step growth probability of an empty apple cell at dirt fraction `dirt`."""
        span = params.dirt_depletion - params.dirt_restoration
        level = jnp.clip((params.dirt_depletion - dirt) / span, 0.0, 1.0)
        return params.apple_growth_rate * level

    def _waste_at(self, waste: jax.Array) -> jax.Array:
        """bool[H*W + 1]: waste on each cell (and False for "off the map")."""
        return jnp.append(waste, False)[jnp.asarray(self._waste_index)]

    def _clean(self, agents, cleaning, waste, u_credit, params):
        """Fire the cleaning beams; return the waste left and int32[N] cells credited."""
        eng, d = self.engine, len(self.waste_cells)
        waste_at = self._waste_at(waste)
        blocking = waste_at[: eng.num_cells] if self.clean_blocked_by_waste else None
        beam = eng.fire(
            "clean", agents, cleaning, params.clean_length, params.clean_radius, blocking
        )
        hit = beam.covered & waste_at[beam.cells]  # [N, F+1, 2R+1]
        target = jnp.where(hit, jnp.asarray(self._waste_index)[beam.cells], d)
        removed = jnp.zeros(d + 1, bool).at[target].set(True)[:d]
        # Credit each cleaned cell to the covering shooter with the highest draw.
        draw = jnp.broadcast_to(u_credit[:, None, None], hit.shape)
        best = jnp.full(d + 1, -1.0).at[target].max(jnp.where(hit, draw, -1.0))
        cleaned = (hit & (draw == best[target])).sum((1, 2), dtype=jnp.int32)
        return waste & ~removed, cleaned

    def _pollute(self, waste, dirt, t, u, u_cell, params):
        """One uniformly random clean cell turns to waste, when the rule allows it."""
        clean = ~waste
        num_clean = clean.sum(dtype=jnp.int32)
        pick = jnp.minimum((u_cell * num_clean).astype(jnp.int32), num_clean - 1)
        # A log-depth scan: XLA's CPU cumsum is a reduce-window, quadratic in D.
        rank = jax.lax.associative_scan(jnp.add, clean.astype(jnp.int32), axis=-1) - 1
        chosen = clean & (rank == pick)
        spawn = (
            (t >= params.waste_start_step)
            & (u < params.waste_spawn_prob)
            & (dirt < params.waste_spawn_max_dirt)
        )
        return waste | (chosen & spawn)

    # ---- observation ---------------------------------------------------------------------------
    def _layers(self, state: CleanupState):
        return (
            (self.apple_cells, state.apples, APPLE_CHANNEL),
            (self.waste_cells, state.waste, WASTE_CHANNEL),
        )

    # ---- rendering -----------------------------------------------------------------------------
    def render(self, state: CleanupState, params) -> jax.Array:
        """The whole map: walls, sand, grass under apple cells, water, waste (brown),
        apples, agents (with a stripe on their facing side), and the beams fired on the
        last step: zaps yellow, cleaning beams light blue.

        Beams are redrawn from the state after the step: a cleaning beam that stopped at
        waste it removed is drawn to the end of its footprint's reach over clean river,
        and a zap that removed an agent is drawn through that agent's cell."""
        eng, legend = self.engine, self.legend
        chars = self.layout.chars.ravel()
        rgb = np.full((eng.num_cells, 3), FLOOR_RGB, np.uint8)
        rgb[np.isin(chars, list(legend.walls))] = WALL_RGB
        rgb[np.isin(chars, list(legend.waste + legend.river + legend.water))] = WATER_RGB
        rgb[self.apple_cells] = GRASS_RGB
        waste = self._waste_at(state.waste)[: eng.num_cells]
        rgb = jnp.where(waste[:, None], jnp.asarray(WASTE_RGB, jnp.uint8), rgb)
        rgb = self._paint_apples(rgb, state.apples, APPLE_RGB)
        fired = state.agents.fired
        blocking = waste if self.clean_blocked_by_waste else None
        clean = eng.fire(
            "clean",
            state.agents,
            fired[:, CLEAN],
            params.clean_length,
            params.clean_radius,
            blocking,
        )
        clean_cells = eng.covered_cells(clean)
        tinted = ((rgb.astype(jnp.uint16) + jnp.asarray(CLEAN_BEAM_RGB)) // 2).astype(jnp.uint8)
        rgb = jnp.where(clean_cells[:, None], tinted, rgb)
        zap = eng.fire("zap", state.agents, fired[:, ZAP], params.zap_length, params.zap_radius)
        return self._render(rgb, state.agents, zap)

    # ---- episode statistics --------------------------------------------------------------------
    def episode_metrics(self, totals, length):
        """Per agent-step rates of zaps fired, zaps received, cleaning shots and waste cells
        cleaned; apples eaten per agent in the episode; and the mean over the episode's
        steps of the apples on the map and of the dirt fraction."""
        metrics = self._apple_metrics(
            totals,
            length,
            zapped_rate="zapped",
            clean_beam_rate="clean_fired",
            cleaning_rate="cleaned",
        )
        return {**metrics, "dirt_fraction": totals["dirt"] / length}


register(
    EnvSpec(
        name="cleanup",
        entry=Cleanup,
        presets={name: {"kwargs": {"variant": name}} for name in PRESETS},
        description="Cleanup (public good: clean the river so apples grow): Melting Pot, SSD",
    )
)

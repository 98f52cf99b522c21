"""Gathering (docs/envs/gathering.md): Leibo et al. 2017, "Multi-agent Reinforcement Learning in
Sequential Social Dilemmas" (AAMAS).

Two players collect apples (+1) from a patch in the middle of an open map. An eaten apple
comes back after a fixed number of steps, N_apple, so the supply is steady and only its
rate varies. A player can fire a beam along its facing; a player hit twice in a short time
is tagged: removed from the game for N_tagged steps. Tagging pays nothing by itself: its
only use is to have the apples to oneself for a while. The paper's finding: the scarcer
the apples (higher N_apple), the more the players use the beam.

Rules, in the order of one step (engine rules in `engine.py`, the pieces every apple game
shares in `apples.py`):
1. Movement: turns and relative moves of the agents on the map; walls and other agents
   block; a contested cell goes to a uniformly random claimant; no swaps.
2. Eating: an agent on a cell holding an apple eats it: `apple_reward` (+1); the apple
   is gone for exactly `apple_respawn` steps (N_apple).
3. Beams: an agent on the map choosing FIRE_ZAP whose beam has cooled down fires a
   one-cell-wide line along its facing, `beam_length` cells long, from its new cell; it
   stops before a wall and (by default) at the first agent. A hit counts towards
   tagging: hits accumulate while each comes at most `tag_window` steps after the
   previous one (else the count restarts at this hit); at `tag_hits` (2) the agent is
   tagged, removed for `tag_timeout` steps (N_tagged), and its count restarts. No
   reward for firing, hitting or being hit. The beam then cools down `beam_cooldown`
   steps.
4. Apple respawn: apples eaten before this step count down; at 0 they are back (even
   under an agent, which then eats it on its next step).
5. Agent respawn: removed agents count down; at 0 they reappear on a random free
   non-apple cell with a random facing.
6. Time: `t += 1`; truncated at `episode_length` (never terminated).

See docs/envs/gathering.md for every default and its source.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from marl.envs.gridworld.apples import AppleGame
from marl.envs.gridworld.engine import FIRE_ZAP, Agents, Beam, GridEngine, View
from marl.envs.gridworld.maps import Layout, read_map
from marl.registry import EnvSpec, register
from marl.validation import check_range

MAP_NAME = "gathering.txt"
# The map's legend (HumanCompatibleAI/multi-agent `GatheringEnv._text_to_map`): `.` ground,
# `O` apple (present at the start), `#` wall. The source draws a one-cell wall ring just
# outside the map; so does `load_layout`.
WALL, APPLE = "#", "O"
MAP_CHANNELS = ("wall", "apple")
APPLE_CHANNEL = 1

FLOOR_RGB = (0, 0, 0)  # the paper's frames: black ground, green apples, grey walls
WALL_RGB = (128, 128, 128)
APPLE_RGB = (0, 200, 0)

DEFAULTS = dict(
    apple_reward=1.0,  # Leibo et al. 2017
    apple_respawn=15,  # N_apple: HumanCompatibleAI's Gathering (swept in the paper)
    beam_length=None,  # None: the longest line on the map, so the beam reaches the wall
    beam_cooldown=0,  # the paper mentions none
    tag_hits=2,  # Leibo et al. 2017: "hit by the beam twice"
    tag_window=5,  # our choice: the paper gives no window
    tag_timeout=25,  # N_tagged: HumanCompatibleAI's Gathering (swept in the paper)
    episode_length=1000,  # Leibo et al. 2017
)
_FLOAT_PARAMS = ("apple_reward",)
_INT_PARAMS = tuple(k for k in DEFAULTS if k not in _FLOAT_PARAMS)


def load_layout() -> Layout:
    """The shipped map inside a one-cell wall ring."""
    rows = read_map(MAP_NAME)
    width = len(rows[0]) + 2
    ring = WALL * width
    return Layout.from_rows((ring, *(WALL + r + WALL for r in rows), ring), MAP_NAME)


@struct.dataclass
class GatheringParams:
    apple_reward: jax.Array  # reward for eating an apple
    apple_respawn: jax.Array  # N_apple: steps an eaten apple stays gone (>= 1)
    beam_length: jax.Array  # cells the beam reaches ahead (<= max_beam_length)
    beam_cooldown: jax.Array  # steps after firing before the next shot
    tag_hits: jax.Array  # hits that tag an agent
    tag_window: jax.Array  # a hit counts with the previous one if at most this many steps apart
    tag_timeout: jax.Array  # N_tagged: steps a tagged agent is removed; 0 = not removed
    episode_length: jax.Array  # steps per episode


@struct.dataclass
class GatheringState:
    agents: Agents
    apple_timer: jax.Array  # int32[A], steps until each apple is back; 0 = present
    hits: jax.Array  # int32[N], beam hits counting towards a tag
    last_hit: jax.Array  # int32[N], step (t) of each agent's latest hit
    t: jax.Array  # int32[], steps taken in this episode


class Gathering(AppleGame):
    """Gathering on its static map; see the module docstring for the rules."""

    episode_events = ("apples", "fired", "hit", "tagged", "apples_left")
    _params_type = GatheringParams
    _int_params = _INT_PARAMS

    def __init__(
        self,
        num_agents: int = 2,
        view_ahead: int = 15,
        view_behind: int = 0,
        view_side: int = 10,
        max_beam_length: int | None = None,
        beam_stopped_by_agents: bool = True,
        *,
        final_obs: bool = False,
    ):
        super().__init__(final_obs=final_obs)
        layout = load_layout()
        self.layout = layout
        walls = layout.mask(WALL)
        self.apple_cells = layout.cells(APPLE)
        # No spawn marks in the map: agents start and respawn on any free non-apple cell.
        spawn = layout.cells(".")
        if num_agents < 1 or num_agents > len(spawn):
            raise ValueError(
                f"gathering: num_agents must be in [1, {len(spawn)}], got {num_agents}"
            )
        self.num_agents = num_agents
        # The longest line inside the ring: a beam this long always reaches the wall.
        self.longest_line = max(layout.height, layout.width) - 3
        self.max_beam_length = self.longest_line if max_beam_length is None else max_beam_length
        self.engine = GridEngine(
            walls,
            num_agents,
            spawn_cells=spawn,
            map_channels=MAP_CHANNELS,
            view=View(view_ahead, view_behind, view_side, view_side),
            beams=(
                Beam(
                    "beam",
                    FIRE_ZAP,
                    self.max_beam_length,
                    0,
                    stopped_by_agents=bool(beam_stopped_by_agents),
                ),
            ),
        )
        self._apple_index = self.engine.lookup(self.apple_cells)
        self._preset_params = dict(DEFAULTS, beam_length=self.max_beam_length)

    # ---- params --------------------------------------------------------------------------------
    def check_params(self, params: GatheringParams) -> None:
        name = self.name
        check_range(name, "apple_reward", params.apple_reward)
        check_range(name, "apple_respawn", params.apple_respawn, 1)
        check_range(name, "beam_length", params.beam_length, 0, self.max_beam_length)
        check_range(name, "beam_cooldown", params.beam_cooldown, 0)
        check_range(name, "tag_hits", params.tag_hits, 1)
        check_range(name, "tag_window", params.tag_window, 0)
        check_range(name, "tag_timeout", params.tag_timeout, 0)
        check_range(name, "episode_length", params.episode_length, 1)

    # ---- episode start -------------------------------------------------------------------------
    def init_state(self, key, params) -> GatheringState:
        u = jax.random.uniform(key, (self.engine.spawn_uniforms,))
        n = self.num_agents
        return GatheringState(
            agents=self.engine.spawn(u),
            apple_timer=jnp.zeros(len(self.apple_cells), jnp.int32),
            hits=jnp.zeros(n, jnp.int32),
            last_hit=jnp.zeros(n, jnp.int32),
            t=jnp.zeros((), jnp.int32),
        )

    # ---- one step ------------------------------------------------------------------------------
    def transition(self, key, state: GatheringState, actions, params: GatheringParams):
        eng, n = self.engine, self.num_agents
        # One draw for the whole step: move priorities, respawn.
        u = jax.random.uniform(key, (n + eng.spawn_uniforms,))
        u_priority, u_spawn = u[:n], u[n:]
        on_map = state.agents.on_map

        # 1. Movement.
        agents = eng.move(state.agents, actions, u_priority)

        # 2. Eating.
        eaten, gone, reward = self._eat(state.apple_timer == 0, agents, params)
        timer = jnp.where(gone, params.apple_respawn, state.apple_timer)

        # 3. Beams and tagging.
        firing = eng.ready(agents, actions, "beam")
        beam = eng.fire("beam", agents, firing, params.beam_length, 0)
        hit = beam.received
        struck = hit > 0
        recent = (state.hits > 0) & (state.t - state.last_hit <= params.tag_window)
        count = jnp.where(struck, jnp.where(recent, state.hits, 0) + hit, state.hits)
        tagged = struck & (count >= params.tag_hits)
        hits = jnp.where(tagged, 0, count)
        last_hit = jnp.where(struck, state.t, state.last_hit)
        agents = eng.tick_cooldowns(agents, firing[:, None], params.beam_cooldown, on_map)
        agents = eng.remove(agents, tagged, params.tag_timeout)

        # 4. Apple respawn: apples eaten before this step count down.
        timer = jnp.where(gone, timer, jnp.maximum(timer - 1, 0))

        # 5. Agent respawn.
        agents = eng.respawn(agents, u_spawn, was_out=~on_map)

        # 6. Time.
        t = state.t + 1
        info = self._step_info(
            t, params, eaten, timer == 0, agents, fired=firing, hit=hit, tagged=tagged
        )
        state = GatheringState(agents=agents, apple_timer=timer, hits=hits, last_hit=last_hit, t=t)
        return state, reward.astype(jnp.float32), info["truncated"], info

    # ---- observation ---------------------------------------------------------------------------
    def _layers(self, state: GatheringState):
        return ((self.apple_cells, state.apple_timer == 0, APPLE_CHANNEL),)

    # ---- rendering -----------------------------------------------------------------------------
    def render(self, state: GatheringState, params) -> jax.Array:
        """The whole map: ground, walls, apples, agents (a stripe on their facing side) and
        the beams fired on the last step (yellow), redrawn from the state after the step
        (so a beam that tagged an agent is drawn through that agent's cell)."""
        eng = self.engine
        rgb = np.where(eng.walls.ravel()[:, None], WALL_RGB, FLOOR_RGB).astype(np.uint8)
        rgb = self._paint_apples(rgb, state.apple_timer == 0, APPLE_RGB)
        beam = eng.fire("beam", state.agents, state.agents.fired[:, 0], params.beam_length, 0)
        return self._render(rgb, state.agents, beam)

    # ---- episode statistics --------------------------------------------------------------------
    def episode_metrics(self, totals, length):
        """Beams fired per agent-step (the paper's aggressiveness), hits received and tags
        per agent-step, apples eaten per agent in the episode, and the mean number of
        apples on the map over the episode's steps."""
        return self._apple_metrics(totals, length, hit_rate="hit", tag_rate="tagged")


register(
    EnvSpec(
        name="gathering",
        entry=Gathering,
        description="Gathering (Leibo et al. 2017): apples respawn after N_apple steps; "
        "two beam hits remove a player for N_tagged steps",
    )
)

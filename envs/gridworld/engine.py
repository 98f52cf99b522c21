"""The shared gridworld engine: the rules every spatial game has in common.

A game (Harvest, Cleanup, Gathering) owns its resources and its step; it calls the engine
for the parts that are the same everywhere, in this order:

1. `move`: turns and moves. Moves are relative to the agent's facing. A move into a wall
   or off the map fails. A cell claimed by several movers goes to one of them, chosen
   uniformly at random (`priority`). A move into an occupied cell succeeds only if its
   occupant moves away successfully in the same step, so agents follow each other in
   chains but never swap places or rotate through a cycle. Timed-out agents do nothing.
2. `fire`: beams. A beam is a footprint of columns in front of the shooter, `length` cells
   ahead and `radius` columns to each side (shapes below), stopped by walls and, per beam
   kind, by the first agent or the first blocking resource in each column. It returns who
   hit whom and the cells it covered; consequences (removal, reward penalties, cleaning)
   are the game's. Cooldowns: `ready` / `tick_cooldowns`.
3. `remove`, then `respawn`: a removed agent leaves the map for exactly `timeout` steps
   (it cannot act, be seen or be hit) and then reappears at a random free spawn point
   with a random facing.

Plus `observe` (egocentric, rotated one-hot windows) and `render` (RGB of the whole map).
The games' pages (docs/envs/gathering.md, docs/envs/harvest.md, docs/envs/cleanup.md) give
these rules with each game's values and where each value comes from.

A game plugs in by building one `GridEngine` from its map (walls, spawn points), its
`map_channels` ("wall" then its resources) and one `Beam` per beam action, e.g. Cleanup:
`Beam("zap", FIRE_ZAP, ...)` and `Beam("clean", 8, ...)` whose `fire(..., blocking=waste)`
returns the covered cells to clean; Gathering: a radius-0 tag beam as long as the map,
with the hit-twice rule on `BeamHits.received` kept in the game's state. Resources live
in the game's state as vectors over static cell lists (`lookup` maps a cell to its
place in one) and are shown by passing `layers` to `observe`.

Conventions. Facing 0 N, 1 E, 2 S, 3 W; positions are (row, col), row 0 at the top; a
cell's flat index is `row * width + col`. Map channels are the game's: channel 0 is
always "wall", the others its resources (apple, waste, ...); cells outside the map read as
walls.

Beam footprints, in the shooter's frame (f = cells ahead, x = columns to the right):
- `"melting_pot"` (DeepMind Lab2D `hitBeam`, used by Melting Pot; for radius 1 it is
  also SSD's width-3 beam): the centre column covers f = 1..length; side column x covers
  f = 0..length - |x|, i.e. it starts beside the shooter.
- `"rectangle"` (Perolat et al. 2017 / the Commons Game): every column covers f = 1..length.
Each column is a ray from its first cell: it stops before a wall and after the first
blocker. The beam also spreads sideways from the shooter: column x exists only if none of
the cells beside the shooter (f = 0) at columns 1..|x| on that side is a wall, and (for
the melting_pot shape, whose f = 0 cells are part of the beam) none at 1..|x|-1 is a
blocker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

# ---- actions, facings, map codes -------------------------------------------------------------
NOOP, FORWARD, STEP_RIGHT, BACKWARD, STEP_LEFT, TURN_LEFT, TURN_RIGHT, FIRE_ZAP = range(8)
ACTION_NAMES = (
    "NOOP",
    "FORWARD",
    "STEP_RIGHT",
    "BACKWARD",
    "STEP_LEFT",
    "TURN_LEFT",
    "TURN_RIGHT",
    "FIRE_ZAP",
)
NORTH, EAST, SOUTH, WEST = range(4)
# (row, col) step of each facing; the move actions FORWARD..STEP_LEFT turn it by 0..3.
DIRECTIONS = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]], np.int32)

WALL_CHANNEL = 0
# Observation cells are bit sets: map channel k is bit k, then one bit per absolute facing
# of an agent standing there, then a "self" bit; the one-hot unpack is then a bitwise AND
# per channel (AVX has no 8-bit shifts; ANDs and compares vectorise).
_FACING_BITS = 4

BEAM_SHAPES = ("melting_pot", "rectangle")

# Melting Pot's player colours (colors.human_readable), cycled beyond 16 agents.
AGENT_COLORS = np.array(
    [
        (45, 110, 220),
        (125, 50, 200),
        (205, 5, 165),
        (60, 60, 60),  # not red: apples are red
        (245, 130, 0),
        (195, 180, 0),
        (125, 185, 65),
        (35, 185, 175),
        (160, 15, 200),
        (70, 150, 240),
        (235, 115, 190),
        (140, 80, 50),
        (100, 100, 100),
        (0, 80, 30),
        (255, 200, 140),
        (90, 20, 50),
    ],
    np.uint8,
)
BEAM_COLOR = np.array([252, 252, 106], np.uint8)  # Melting Pot's zap yellow


# ---- static configuration --------------------------------------------------------------------
@dataclass(frozen=True)
class View:
    """The egocentric observation window: cells ahead, behind, left and right of the agent."""

    ahead: int = 9
    behind: int = 1
    left: int = 5
    right: int = 5

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ahead + self.behind + 1, self.left + self.right + 1)


@dataclass(frozen=True)
class Beam:
    """A kind of beam. The extents set array shapes (static); a game's params choose the
    actual `length <= max_length` and `radius <= max_radius` (array leaves)."""

    name: str
    action: int
    max_length: int
    max_radius: int
    shape: str = "melting_pot"
    stopped_by_agents: bool = True

    def __post_init__(self):
        if self.shape not in BEAM_SHAPES:
            raise ValueError(f"beam {self.name}: shape {self.shape!r} is not one of {BEAM_SHAPES}")
        if self.max_length < 0 or self.max_radius < 0:
            raise ValueError(f"beam {self.name}: extents must be >= 0")


# ---- state -----------------------------------------------------------------------------------
@struct.dataclass
class Agents:
    pos: jax.Array  # int32[N, 2] (row, col); a timed-out agent keeps its last cell (unused)
    facing: jax.Array  # int32[N], 0 N, 1 E, 2 S, 3 W
    timeout: jax.Array  # int32[N], steps until it respawns; 0 = on the map
    cooldown: jax.Array  # int32[N, K], steps until beam kind k can fire again
    fired: jax.Array  # bool[N, K], beams fired on the last step (drawn by `render`)

    @property
    def on_map(self) -> jax.Array:
        return self.timeout == 0


@struct.dataclass
class BeamHits:
    fired: jax.Array  # bool[N], who fired this beam
    hits: jax.Array  # bool[N, N], hits[i, j]: shooter i's beam hit agent j
    covered: jax.Array  # bool[N, F+1, 2R+1], cells of each shooter's beam (shooter frame)
    cells: jax.Array  # int32[N, F+1, 2R+1], their flat indices (H*W where off the map)

    @property
    def received(self) -> jax.Array:
        """int32[N]: how many beams hit each agent."""
        return self.hits.sum(0).astype(jnp.int32)

    @property
    def made(self) -> jax.Array:
        """int32[N]: how many agents each shooter hit."""
        return self.hits.sum(1).astype(jnp.int32)


# ---- the engine ------------------------------------------------------------------------------
class GridEngine:
    """Static map data and the pure, jittable rules shared by the gridworld games.

    `walls`: bool[H, W]. `map_channels`: names of the observation's map channels, "wall"
    first; `static_channels`: optional bool[H, W, M] of cells that always show a channel
    (default: walls only). Games paint their resources at observation time with
    `layers`, each a tuple (static flat cells int32[K], present bool[K], channel index).
    `spawn_cells`: int32[S] flat spawn points; `initial_spawn`: bool[N, S] where each
    agent may start an episode; `respawn`: bool[S] where agents reappear after a timeout
    (both default to every spawn point).
    """

    def __init__(
        self,
        walls: np.ndarray,
        num_agents: int,
        *,
        spawn_cells: np.ndarray,
        initial_spawn: np.ndarray | None = None,
        respawn: np.ndarray | None = None,
        map_channels: Sequence[str] = ("wall",),
        static_channels: np.ndarray | None = None,
        view: View = View(),
        beams: Sequence[Beam] = (),
    ):
        walls = np.asarray(walls, bool)
        self.height, self.width = walls.shape
        self.num_cells = self.height * self.width
        self.num_agents = num_agents
        self.walls = walls
        self.map_channels = tuple(map_channels)
        if not self.map_channels or self.map_channels[0] != "wall":
            raise ValueError(f"map_channels must start with 'wall', got {self.map_channels}")
        m = len(self.map_channels)
        bits = m + _FACING_BITS + 1
        self._cell_dtype = np.uint8 if bits <= 8 else np.uint16 if bits <= 16 else np.uint32
        if bits > 32:
            raise ValueError(f"at most {32 - _FACING_BITS - 1} map channels, got {m}")
        if static_channels is None:
            static_channels = np.zeros((*walls.shape, m), bool)
            static_channels[..., WALL_CHANNEL] = walls
        static_channels = np.asarray(static_channels, bool)
        if static_channels.shape != (*walls.shape, m):
            raise ValueError(f"static_channels must be bool[H, W, {m}]")
        self._self_bit = 1 << (m + _FACING_BITS)
        base_bits = (static_channels * (1 << np.arange(m))).sum(-1).astype(self._cell_dtype)
        self.view = view
        if min(view.ahead, view.behind, view.left, view.right) < 0:
            raise ValueError(f"view extents must be >= 0, got {view}")
        self.beams = tuple(beams)
        if len({b.name for b in self.beams}) != len(self.beams):
            raise ValueError("beam names must be distinct")

        self.spawn_cells = np.asarray(spawn_cells, np.int32)
        self.spawn_pos = np.stack(np.divmod(self.spawn_cells, self.width), -1).astype(np.int32)
        s = len(self.spawn_cells)
        if initial_spawn is None:
            initial_spawn = np.ones((num_agents, s), bool)
        if respawn is None:
            respawn = np.ones(s, bool)
        self.initial_spawn = np.asarray(initial_spawn, bool)
        self.respawn_points = np.asarray(respawn, bool)
        if self.initial_spawn.shape != (num_agents, s) or self.respawn_points.shape != (s,):
            raise ValueError("initial_spawn must be bool[N, S] and respawn bool[S]")
        if walls.ravel()[self.spawn_cells].any():
            raise ValueError("a spawn point is a wall")
        if not self.respawn_points.any():
            raise ValueError("there is no respawn point")
        # Agents take their first cells in index order, each a random one still free: that
        # always works if every agent has more eligible points than earlier agents that
        # share any with it.
        for i in range(num_agents):
            shared = sum((self.initial_spawn[j] & self.initial_spawn[i]).any() for j in range(i))
            if self.initial_spawn[i].sum() <= shared:
                raise ValueError(f"too few spawn points for agent {i} of {num_agents}")
        # Agents with the same eligible points form a group (in order of first member).
        by_row = {}
        for i in range(num_agents):
            by_row.setdefault(self.initial_spawn[i].tobytes(), []).append(i)
        self._initial_groups = [
            (np.asarray(members), self.initial_spawn[members[0]]) for members in by_row.values()
        ]
        self._respawn_groups = [(np.arange(num_agents), self.respawn_points)]

        # Index num_cells is "off the map": it reads as a wall (and as no agent).
        self._walls_ext = np.append(walls.ravel(), True)
        # Observation: a padded code grid, so every window slice stays inside it.
        self._window = max(view.shape)
        self._pad = self._window
        p = self._pad
        padded = np.full((self.height + 2 * p, self.width + 2 * p), 1 << WALL_CHANNEL)
        padded[p : p + self.height, p : p + self.width] = base_bits
        self._padded_base = padded.astype(self._cell_dtype).ravel()
        self._padded_width = self.width + 2 * p
        rows, cols = np.divmod(np.arange(self.num_cells), self.width)
        self._to_padded = ((rows + p) * self._padded_width + cols + p).astype(np.int32)

    # ---- helpers -----------------------------------------------------------------------------
    def cells_of(self, pos: jax.Array) -> jax.Array:
        """Flat cell index of (row, col) positions."""
        return pos[..., 0] * self.width + pos[..., 1]

    def beam_index(self, name: str) -> int:
        for k, b in enumerate(self.beams):
            if b.name == name:
                return k
        raise ValueError(f"no beam {name!r}; beams: {[b.name for b in self.beams]}")

    def lookup(self, cells: np.ndarray) -> np.ndarray:
        """int32[H*W + 1]: each cell's position in the static cell list `cells` (a game's
        resource vector), and len(cells) for the other cells and for "off the map" (H*W)."""
        index = np.full(self.num_cells + 1, len(cells), np.int32)
        index[cells] = np.arange(len(cells))
        return index

    def _on_map_cells(self, agents: Agents, off: int) -> jax.Array:
        """Cells of the agents on the map; `off` for the others (a drop/sentinel index)."""
        return jnp.where(agents.on_map, self.cells_of(agents.pos), off)

    # ---- spawning ----------------------------------------------------------------------------
    def _place(self, pos, facing, who, groups, taken, u):
        """Put each agent in `who` on a random free eligible spawn point.

        Each agent takes the best-scored point still free among those it may use, so
        each gets a uniformly random free point. Within a group of agents sharing the same
        eligible points, the j-th agent that needs one takes the j-th best (one top_k);
        groups go in order of their first agent. `groups`: static (agent indices, eligible bool[S]);
        `u`: float[S + N] uniforms (point scores, then facings). Returns the new pos,
        facing and bool[N] placed (false where no eligible point was free)."""
        s = len(self.spawn_cells)
        scores, u_facing = u[:s], u[s:]
        spawn_pos = jnp.asarray(self.spawn_pos)
        placed = jnp.zeros(self.num_agents, bool)
        for members, eligible in groups:
            k = min(len(members), int(eligible.sum()))
            free = jnp.where(eligible & ~taken, scores, -1.0)
            best, point = jax.lax.top_k(free, k)
            wants = who[np.asarray(members)]
            rank = jnp.cumsum(wants) - 1  # the j-th agent of the group that needs a point
            slot = jnp.clip(rank, 0, k - 1)
            ok = wants & (rank < k) & (best[slot] >= 0.0)
            chosen = point[slot]
            # Groups are runs of consecutive agents (static slices, not scatters).
            lo, hi = int(members[0]), int(members[-1]) + 1
            if hi - lo == len(members):
                new = jnp.where(ok[:, None], spawn_pos[chosen], pos[lo:hi])
                pos = jnp.concatenate([pos[:lo], new, pos[hi:]])
                placed = jnp.concatenate([placed[:lo], ok, placed[hi:]])
            else:
                pos = pos.at[members].set(jnp.where(ok[:, None], spawn_pos[chosen], pos[members]))
                placed = placed.at[members].set(ok)
            if len(groups) > 1:
                taken = taken | jnp.zeros(s, bool).at[chosen].max(ok)
        new_facing = jnp.minimum((u_facing * 4).astype(jnp.int32), 3)
        return pos, jnp.where(placed, new_facing, facing), placed

    @property
    def spawn_uniforms(self) -> int:
        """How many uniforms `spawn` and `respawn` take."""
        return len(self.spawn_cells) + self.num_agents

    def spawn(self, u: jax.Array) -> Agents:
        """Every agent on a distinct random initial spawn point, random facings, no timeouts."""
        n, k = self.num_agents, len(self.beams)
        zeros = jnp.zeros((n, 2), jnp.int32)
        taken = jnp.zeros(len(self.spawn_cells), bool)
        who = jnp.ones(n, bool)
        pos, facing, _ = self._place(
            zeros, jnp.zeros(n, jnp.int32), who, self._initial_groups, taken, u
        )
        return Agents(
            pos=pos,
            facing=facing,
            timeout=jnp.zeros(n, jnp.int32),
            cooldown=jnp.zeros((n, k), jnp.int32),
            fired=jnp.zeros((n, k), bool),
        )

    # ---- 1. movement -------------------------------------------------------------------------
    def move(self, agents: Agents, actions: jax.Array, priority: jax.Array) -> Agents:
        """Turns and relative moves of the agents on the map (see the module docstring).

        `priority`: float[N]; among agents claiming one cell the highest wins (ties to the
        lower index), so uniform priorities make a uniformly random winner."""
        n = self.num_agents
        on = agents.on_map
        facing = agents.facing
        moving = on & (actions >= FORWARD) & (actions <= STEP_LEFT)
        heading = (facing + actions - FORWARD) % 4
        delta = jnp.asarray(DIRECTIONS)[heading] * moving[:, None]
        target = agents.pos + delta
        inside = (
            (target[:, 0] >= 0)
            & (target[:, 0] < self.height)
            & (target[:, 1] >= 0)
            & (target[:, 1] < self.width)
        )
        target_cell = jnp.where(inside, self.cells_of(target), self.num_cells)
        mover = moving & ~jnp.asarray(self._walls_ext)[target_cell]

        others = ~jnp.eye(n, dtype=bool)
        rivals = (target_cell[:, None] == target_cell[None, :]) & mover[None, :] & others
        index = jnp.arange(n)
        beats = (priority[:, None] > priority[None, :]) | (
            (priority[:, None] == priority[None, :]) & (index[:, None] < index[None, :])
        )
        winner = mover & jnp.all(~rivals | beats, axis=1)
        # occupant[i, j]: agent j stands on agent i's target cell.
        cell = self.cells_of(agents.pos)
        occupant = (target_cell[:, None] == cell[None, :]) & on[None, :] & others
        # Start from "nobody leaves" and let moves succeed once their cell's occupant has
        # left: chains resolve in at most N - 1 rounds; swaps and cycles never do.
        success = winner & ~occupant.any(1)
        for _ in range(n - 1):
            success = winner & jnp.all(~occupant | success[None, :], axis=1)
        pos = jnp.where(success[:, None], target, agents.pos)

        turn = jnp.where(actions == TURN_LEFT, 3, jnp.where(actions == TURN_RIGHT, 1, 0))
        facing = jnp.where(on, (facing + turn) % 4, facing)
        return agents.replace(pos=pos, facing=facing)

    # ---- 2. beams ----------------------------------------------------------------------------
    def ready(self, agents: Agents, actions: jax.Array, name: str) -> jax.Array:
        """bool[N]: agents on the map choosing this beam's action with it cooled down."""
        k = self.beam_index(name)
        beam = self.beams[k]
        return agents.on_map & (actions == beam.action) & (agents.cooldown[:, k] == 0)

    def tick_cooldowns(
        self, agents: Agents, fired: jax.Array, cooldown: jax.Array, on_map: jax.Array
    ) -> Agents:
        """After a step: a beam just fired waits `cooldown[k]` steps (bool[N, K] fired);
        other timers count down while their agent is on the map (`on_map`: at step start).

        So with cooldown c an agent that fires at step t can fire again at step t + c + 1,
        as Melting Pot's Zapper does."""
        counting = on_map[:, None] & (agents.cooldown > 0)
        timer = jnp.where(counting, agents.cooldown - 1, agents.cooldown)
        timer = jnp.where(fired, jnp.broadcast_to(cooldown, fired.shape), timer)
        return agents.replace(cooldown=timer.astype(jnp.int32), fired=fired)

    def fire(
        self,
        name: str,
        agents: Agents,
        firing: jax.Array,
        length: jax.Array,
        radius: jax.Array,
        blocking: jax.Array | None = None,
    ) -> BeamHits:
        """The beams of the agents in `firing` (bool[N]) from their current cells.

        `length`, `radius`: the footprint (ints, at most the beam's static extents).
        `blocking`: optional bool[H*W] of resource cells that stop this beam (after being
        covered), e.g. waste for a cleaning beam. Agents stop it if the beam kind says so.
        """
        beam = self.beams[self.beam_index(name)]
        f_max, r_max = beam.max_length, beam.max_radius
        f = np.arange(f_max + 1)[:, None]  # [F+1, 1]
        x = np.arange(-r_max, r_max + 1)[None, :]  # [1, 2R+1]
        rect = beam.shape == "rectangle"
        start = np.where((x == 0) | rect, 1, 0)
        length = jnp.asarray(length, jnp.int32)
        radius = jnp.asarray(radius, jnp.int32)
        end = length if rect else jnp.where(x == 0, length, length - np.abs(x))
        in_range = (np.abs(x) <= radius) & (f >= start) & (f <= end)  # [F+1, 2R+1]

        dirs = jnp.asarray(DIRECTIONS)
        ahead = dirs[agents.facing][:, :, None, None]  # [N, 2, 1, 1]
        right = dirs[(agents.facing + 1) % 4][:, :, None, None]
        ray = agents.pos[:, :, None, None] + f * ahead + x * right  # [N, 2, F+1, 2R+1]
        row, col = ray[:, 0], ray[:, 1]
        inside = (row >= 0) & (row < self.height) & (col >= 0) & (col < self.width)
        cells = jnp.where(inside, row * self.width + col, self.num_cells)

        wall = jnp.asarray(self._walls_ext)[cells]
        # Where every agent is in each shooter's frame: [i, j] cells ahead and to the right.
        d = agents.pos[None, :, :] - agents.pos[:, None, :]
        f_ij = (d * ahead[:, None, :, 0, 0]).sum(-1)
        x_ij = (d * right[:, None, :, 0, 0]).sum(-1)
        in_patch = (f_ij >= 0) & (f_ij <= f_max) & (jnp.abs(x_ij) <= r_max)
        in_patch = in_patch & agents.on_map[None, :] & ~np.eye(self.num_agents, dtype=bool)
        blocker = wall
        if beam.stopped_by_agents:
            agent_here = jnp.any(
                in_patch[:, :, None, None]
                & (f_ij[:, :, None, None] == f)
                & (x_ij[:, :, None, None] == x),
                axis=1,
            )  # [N, F+1, 2R+1]
            blocker = blocker | agent_here
        if blocking is not None:
            blocker = blocker | jnp.append(blocking, False)[cells]
        # Along a column: covered up to and including its first blocker, never a wall.
        counted = blocker & (f >= start)
        before = (jnp.cumsum(counted, axis=1) - counted) > 0
        # Sideways from the shooter, along the f = 0 cells.
        lateral_stop = wall[:, 0, :]
        if not rect:
            lateral_stop_after = (blocker & ~wall)[:, 0, :] & in_range[0]
        else:
            lateral_stop_after = jnp.zeros_like(lateral_stop)
        live_left = _side_live(
            lateral_stop[:, :r_max][:, ::-1], lateral_stop_after[:, :r_max][:, ::-1]
        )
        live_right = _side_live(lateral_stop[:, r_max + 1 :], lateral_stop_after[:, r_max + 1 :])
        centre = jnp.ones((self.num_agents, 1), bool)
        live = jnp.concatenate([live_left[:, ::-1], centre, live_right], axis=1)  # [N, 2R+1]
        covered = (
            firing[:, None, None] & in_range & live[:, None, :] & ~wall & ~before
        )  # [N, F+1, 2R+1]
        # Agent j is hit by i if j's cell, in i's frame, is covered.
        flat = jnp.where(in_patch, f_ij * (2 * r_max + 1) + x_ij + r_max, 0)
        covered_ij = jnp.take_along_axis(covered.reshape(self.num_agents, -1), flat, axis=1)
        hits = covered_ij & in_patch
        return BeamHits(fired=firing, hits=hits, covered=covered, cells=cells)

    def covered_cells(self, hits: BeamHits) -> jax.Array:
        """bool[H*W]: the cells covered by any of these beams (e.g. to draw them)."""
        n = self.num_cells
        return jnp.zeros(n + 1, bool).at[hits.cells].max(hits.covered)[:n]

    # ---- 3. timeouts and respawn -------------------------------------------------------------
    def remove(self, agents: Agents, hit: jax.Array, steps: jax.Array) -> Agents:
        """Take the agents in `hit` off the map for `steps` steps (no effect if steps <= 0)."""
        removed = hit & agents.on_map & (steps > 0)
        return agents.replace(timeout=jnp.where(removed, steps, agents.timeout).astype(jnp.int32))

    def respawn(self, agents: Agents, u: jax.Array, was_out: jax.Array | None = None) -> Agents:
        """End of a step: agents off the map since the step began (`was_out`, default: all
        off the map now) count down; those reaching 0 reappear on free respawn points
        (random point, random facing); with none free, they try again on the next step.
        So an agent removed for T steps at step t is off the map after steps t..t+T-1 and
        acts again at step t + T + 1."""
        if was_out is None:
            was_out = agents.timeout > 0
        timeout = jnp.where(was_out, jnp.maximum(agents.timeout - 1, 0), agents.timeout)
        due = was_out & (timeout == 0)
        staying = agents.on_map
        cells = jnp.where(staying, self.cells_of(agents.pos), -1)
        taken = (jnp.asarray(self.spawn_cells)[None, :] == cells[:, None]).any(0)
        pos, facing, placed = self._place(
            agents.pos, agents.facing, due, self._respawn_groups, taken, u
        )
        timeout = jnp.where(due & ~placed, 1, timeout).astype(jnp.int32)
        return agents.replace(pos=pos, facing=facing, timeout=timeout)

    # ---- observation -------------------------------------------------------------------------
    @property
    def num_channels(self) -> int:
        return len(self.map_channels) + 5

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        return (*self.view.shape, self.num_channels)

    @property
    def channel_names(self) -> tuple[str, ...]:
        return (
            *self.map_channels,
            "self",
            "other_same_facing",
            "other_facing_right",
            "other_facing_opposite",
            "other_facing_left",
        )

    def observe(self, agents: Agents, layers) -> jax.Array:
        """uint8[N, ahead+behind+1, left+right+1, C]: each agent's rotated one-hot window.

        Row 0 is the farthest row ahead, the agent sits at (ahead, left); cells beyond the
        map are walls; agents off the map are invisible and see all zeros. Channels: the
        map channels, self, then other agents facing the same way as the observer, to its
        right, opposite, to its left (`channel_names`)."""
        v, p, s = self.view, self._pad, self._window
        h_out, w_out = v.shape
        m = len(self.map_channels)
        dtype = self._cell_dtype
        grid = jnp.asarray(self._padded_base)
        for cells, present, channel in layers:
            idx = self._to_padded[np.asarray(cells)]
            bit = jnp.asarray(present, dtype) << channel
            grid = grid.at[idx].add(bit, unique_indices=True, indices_are_sorted=True)
        on = agents.on_map
        pcell = self._to_padded[0] + agents.pos[:, 0] * self._padded_width + agents.pos[:, 1]
        pcell = jnp.where(on, pcell, grid.shape[0])  # off-map agents: dropped
        grid = grid.at[pcell].add((1 << (m + agents.facing)).astype(dtype), mode="drop")
        grid = grid.reshape(-1, self._padded_width)

        # Top-left corner of the needed region, relative to the agent, per facing.
        corner = jnp.asarray(
            [
                [-v.ahead, -v.left],  # N
                [-v.left, -v.behind],  # E
                [-v.behind, -v.right],  # S
                [-v.right, -v.ahead],  # W
            ],
            jnp.int32,
        )
        start = agents.pos + p + corner[agents.facing]
        windows = jax.vmap(lambda st: jax.lax.dynamic_slice(grid, (st[0], st[1]), (s, s)))(start)
        # rot90 by k = facing turns the region to "ahead is up"; then crop it (static).
        crops = [(0, 0), (s - h_out, 0), (s - h_out, s - w_out), (0, s - w_out)]
        out = None
        for k, (r0, c0) in enumerate(crops):
            rotated = jnp.rot90(windows, k, axes=(1, 2))[:, r0 : r0 + h_out, c0 : c0 + w_out]
            out = (
                rotated
                if out is None
                else jnp.where((agents.facing == k)[:, None, None], rotated, out)
            )
        # The centre is the observer: keep its cell's map bits, mark it "self".
        centre = np.zeros(v.shape, bool)
        centre[v.ahead, v.left] = True
        map_bits = dtype((1 << m) - 1)
        out = jnp.where(centre, (out & map_bits) | dtype(self._self_bit), out)
        # Channel masks per observer: other agents by facing relative to its own.
        relative = (agents.facing[:, None] + jnp.arange(4)) % 4
        masks = jnp.concatenate(
            [
                jnp.broadcast_to(jnp.asarray(1 << np.arange(m)), (self.num_agents, m)),
                jnp.full((self.num_agents, 1), self._self_bit),
                1 << (m + relative),
            ],
            axis=1,
        ).astype(dtype) * on[:, None].astype(dtype)
        return jnp.minimum(out[..., None] & masks[:, None, None, :], 1).astype(jnp.uint8)

    # ---- rendering ---------------------------------------------------------------------------
    def render(
        self,
        cell_rgb: jax.Array,
        agents: Agents,
        beam_cells: jax.Array | None = None,
        scale: int = 8,
    ) -> jax.Array:
        """uint8[H*scale, W*scale, 3]: the map (`cell_rgb` uint8[H, W, 3]), beams tinted
        yellow (`beam_cells` bool[H*W]), agents as coloured squares with a light stripe on
        the side they face (light, so it shows on dark floors too)."""
        h, w, n = self.height, self.width, self.num_agents
        rgb = jnp.asarray(cell_rgb, jnp.uint8)
        if beam_cells is not None:
            beam = beam_cells.reshape(h, w)[..., None]
            mixed = (rgb.astype(jnp.uint16) + jnp.asarray(BEAM_COLOR, jnp.uint16)) // 2
            rgb = jnp.where(beam, mixed.astype(jnp.uint8), rgb)
        cells = self._on_map_cells(agents, self.num_cells + 1)
        who = (
            jnp.zeros(self.num_cells + 1, jnp.int32)
            .at[cells]
            .set(jnp.arange(1, n + 1), mode="drop")[: self.num_cells]
            .reshape(h, w)
        )
        facing = (
            jnp.zeros(self.num_cells + 1, jnp.int32)
            .at[cells]
            .set(agents.facing, mode="drop")[: self.num_cells]
            .reshape(h, w)
        )
        colors = jnp.asarray(AGENT_COLORS)[np.arange(n) % len(AGENT_COLORS)]
        up = lambda a: jnp.repeat(jnp.repeat(a, scale, axis=0), scale, axis=1)
        image, who_px, facing_px = up(rgb), up(who), up(facing)
        py = np.tile(np.arange(scale), h)[:, None]
        px = np.tile(np.arange(scale), w)[None, :]
        edge = max(scale // 4, 1)
        body = (py >= 1) & (py < scale - 1) & (px >= 1) & (px < scale - 1)
        nose = jnp.stack(
            [
                jnp.broadcast_to(py < 1 + edge, image.shape[:2]),
                jnp.broadcast_to(px >= scale - 1 - edge, image.shape[:2]),
                jnp.broadcast_to(py >= scale - 1 - edge, image.shape[:2]),
                jnp.broadcast_to(px < 1 + edge, image.shape[:2]),
            ]
        )
        nose_px = jnp.take_along_axis(nose, facing_px[None], axis=0)[0]
        agent_rgb = colors[jnp.maximum(who_px - 1, 0)]
        light = ((agent_rgb.astype(jnp.uint16) + 2 * 255) // 3).astype(jnp.uint8)
        drawn = jnp.where((body & nose_px)[..., None], light, agent_rgb)
        return jnp.where(((who_px > 0) & body)[..., None], drawn, image)


def _side_live(stop: jax.Array, stop_after: jax.Array) -> jax.Array:
    """Columns 1..R on one side (nearest first): live unless a wall is at or before it, or
    a blocker strictly before it, along the cells beside the shooter."""
    walls_so_far = jnp.cumsum(stop, axis=1) > 0
    blocked_before = (jnp.cumsum(stop_after, axis=1) - stop_after) > 0
    return ~walls_so_far & ~blocked_before

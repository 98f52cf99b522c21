"""Scripted gridworld bots: fixed co-players and opponents for Harvest, Cleanup and Gathering.

Each bot is a rule `(key, one agent's observation) -> int32 action`, so it fits
`marl.scripted` and `marl.policy.from_agent_rule` and can play any agent slot. Like Melting
Pot's bots it reads only its own observation: the egocentric window of
`envs/gridworld/engine.py` (`GridEngine.observe`), "ahead is up", the bot at row `ahead`,
column `left`. In that frame FORWARD moves up, STEP_RIGHT right, BACKWARD down and
STEP_LEFT left. A factory reads the static facts once from the env: the window's shape,
the channel indices (`channel_names`), the action ids and the beams' footprints (length and
radius from `env.default_params`, shape and blocking from the engine's `Beam`).

Walking uses a distance field over the window: a fixed number of min-plus relaxation sweeps
(`distance_field`) from the target cells, walls (and cells a bot must not enter) as
obstacles. Other agents are not obstacles in the field, since they move, but a step onto a
cell an agent stands on now costs 2 extra, so a bot goes around a neighbour when an equally
short way exists. Equal choices are broken at random with the key (one draw of uniforms
per decision, `Draws`). Cells outside the window are unknown and never entered on purpose.

- `greedy_eater` (Harvest, Cleanup, Gathering): steps along the shortest path to the
  nearest visible apple; never zaps or cleans. With no apple in view it explores: forward
  while the cell ahead is free, turning at random now and then (and at walls), so it does
  not walk the same loop forever.
- `cleaner` (Cleanup): fires the cleaning beam when visible waste lies in the beam's
  footprint ahead (walls and, per the game's rules, agents stop it); else it faces and walks
  to the nearest visible waste; else it heads for the river. The river's clean cells do not
  show in the observation (only waste does), but in both Cleanup maps the orchard faces the
  river across the spawn area (`envs/gridworld/maps/meltingpot_clean_up.txt`: river at the
  top, orchard at the bottom; `ssd_cleanup.txt`: river left, orchard right), so with
  apples in view it turns away from them and walks on; with neither in view it explores,
  turning often, because one look in each direction finds the river's waste from any spawn
  point (the river is at most 9 rows, the view's depth, from them). Never zaps.
- `cleaner_eater` (Cleanup): the cleaner while any waste is in view, else the greedy
  eater; it cleans the river when near it and eats in the orchard.
- `zapper` (Harvest, Cleanup, Gathering): fires the zap (Gathering's tag beam) when another
  agent is in the beam's footprint ahead; else it turns toward the nearest visible agent
  (when that agent is behind it or more to the side than ahead) or walks toward it; with no
  agent in view it plays `greedy_eater`.
- `sustainable_harvester` (Harvest): `greedy_eater` restricted to apples that have at least
  `k` other apples within radius 2 (dr^2 + dc^2 <= 4, the cell itself excluded), counted in
  the window. Eating an apple there leaves its cell with k neighbours, and Harvest's
  regrowth probability grows with that count and is 0 at none (Melting Pot's preset reaches
  its top rate at 3, hence k = 3), so patches are thinned but never emptied. The other
  apples are obstacles, since stepping on a cell eats its apple: with no eligible apple in
  view it wanders without ever stepping onto one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from marl.envs.gridworld.engine import (
    BACKWARD,
    FIRE_ZAP,
    FORWARD,
    STEP_LEFT,
    STEP_RIGHT,
    TURN_LEFT,
    TURN_RIGHT,
)

# The four moves and the (row, col) step each makes in the observation frame.
_MOVES = np.array([FORWARD, STEP_RIGHT, BACKWARD, STEP_LEFT], np.int32)
_STEPS = ((-1, 0), (0, 1), (1, 0), (0, -1))
FAR = 1 << 20  # "unreachable" in a distance field; FAR + a few never overflows int32
AGENT_COST = 2  # extra cost of stepping onto a cell another agent stands on now
EXPLORE_TURN = 0.2  # an exploring bot turns this often even when the way ahead is free
CLEANER_TURN = 0.5  # the cleaner looks around more: its target is often just off-view


# ---- static facts about the env ----------------------------------------------------------------
@dataclass(frozen=True)
class Frame:
    """The observation window and its channels, read once from the env."""

    height: int
    width: int
    ahead: int  # the bot's row
    left: int  # the bot's column
    wall: int
    apple: int
    waste: int | None  # Cleanup only
    others: tuple[int, ...]  # channels of the other agents (any facing)
    sweeps: int  # relaxation sweeps of a distance field


@dataclass(frozen=True)
class Footprint:
    """A beam's cells in the observation frame: column x (to the right) covers the cells
    f = start..end ahead, as in `GridEngine.fire`; cells beyond the window are dropped."""

    rows: np.ndarray  # int32[F+1, 2R+1], observation row of (f, x) (clipped into the window)
    cols: np.ndarray  # int32[F+1, 2R+1]
    inside: np.ndarray  # bool[F+1, 2R+1], the cell is in the window
    in_range: np.ndarray  # bool[F+1, 2R+1], the cell is in the beam's footprint
    start: np.ndarray  # int32[1, 2R+1], first f of each column
    radius: int
    rectangle: bool
    stopped_by_agents: bool


class Draws:
    """Uniforms drawn once per decision and handed out in static slices: one `uniform`
    call compiles far faster than a split and a draw in every helper."""

    def __init__(self, key, frame: Frame) -> None:
        self.u = jax.random.uniform(key, (frame.height * frame.width + 32,))
        self.used = 0

    def take(self, n: int) -> jax.Array:
        """float32[n] fresh uniforms in [0, 1)."""
        if self.used + n > self.u.shape[0]:
            raise ValueError("a bot asked for more uniforms than it drew")
        out = self.u[self.used : self.used + n]
        self.used += n
        return out

    def coin(self) -> jax.Array:
        """bool[]: a fair coin."""
        return self.take(1)[0] < 0.5


def _base(env) -> Any:
    """The env under any wrappers."""
    return getattr(env, "unwrapped", env)


def frame_of(env) -> Frame:
    """The window shape and channel indices of a gridworld env; ValueError for other envs."""
    base = _base(env)
    engine = getattr(base, "engine", None)
    names = tuple(getattr(base, "channel_names", ()))
    if engine is None or "apple" not in names:
        raise ValueError(f"gridworld bots need a gridworld apple game; got {env.name}")
    view = engine.view
    height, width = view.shape
    return Frame(
        height=height,
        width=width,
        ahead=view.ahead,
        left=view.left,
        wall=names.index("wall"),
        apple=names.index("apple"),
        waste=names.index("waste") if "waste" in names else None,
        others=tuple(i for i, n in enumerate(names) if n.startswith("other_")),
        # A shortest path inside the window is at most H * W / 2 steps only in a maze; the
        # maps are open, where 2 (H + W) sweeps reach every cell around a wall or two.
        sweeps=2 * (height + width),
    )


def footprint_of(env, action: int, length_param: str, radius_param: str | None) -> Footprint:
    """The footprint of the env's beam fired by `action`, its extents taken from the
    default params (`radius_param` None: radius 0)."""
    base = _base(env)
    frame = frame_of(env)
    beam = next(b for b in base.engine.beams if b.action == action)
    params = base.default_params
    # The window shows `ahead` rows: a longer beam may reach further, but the bot cannot
    # see what is there.
    length = min(int(getattr(params, length_param)), frame.ahead)
    radius = 0 if radius_param is None else int(getattr(params, radius_param))
    rectangle = beam.shape == "rectangle"
    f = np.arange(length + 1)[:, None]
    x = np.arange(-radius, radius + 1)[None, :]
    start = np.where((x == 0) | rectangle, 1, 0).astype(np.int32)
    end = length if rectangle else np.where(x == 0, length, length - np.abs(x))
    rows = frame.ahead - f + 0 * x
    cols = frame.left + x + 0 * f
    inside = (rows >= 0) & (cols >= 0) & (cols < frame.width)
    return Footprint(
        rows=np.clip(rows, 0, frame.height - 1).astype(np.int32),
        cols=np.clip(cols, 0, frame.width - 1).astype(np.int32),
        inside=inside,
        in_range=(f >= start) & (f <= end) & inside,
        start=start,
        radius=radius,
        rectangle=rectangle,
        stopped_by_agents=beam.stopped_by_agents,
    )


# ---- reading the observation -------------------------------------------------------------------
def _layer(obs: jax.Array, channel: int) -> jax.Array:
    """bool[H, W]: the cells showing `channel`."""
    return obs[..., channel] > 0


def _agents(obs: jax.Array, frame: Frame) -> jax.Array:
    """bool[H, W]: cells where another agent stands."""
    return jnp.any(obs[..., list(frame.others)] > 0, axis=-1)


def _centre(frame: Frame) -> np.ndarray:
    """bool[H, W]: the bot's own cell."""
    mask = np.zeros((frame.height, frame.width), bool)
    mask[frame.ahead, frame.left] = True
    return mask


# ---- walking -----------------------------------------------------------------------------------
def distance_field(targets: jax.Array, passable: jax.Array, sweeps: int) -> jax.Array:
    """int32[H, W]: steps from each cell to the nearest target through passable cells (4
    neighbours), FAR where no path is found in `sweeps` min-plus sweeps."""
    start = jnp.where(targets & passable, 0, FAR).astype(jnp.int32)

    def sweep(_, dist) -> jax.Array:
        padded = jnp.pad(dist, 1, constant_values=FAR)
        near = jnp.minimum(
            jnp.minimum(padded[:-2, 1:-1], padded[2:, 1:-1]),
            jnp.minimum(padded[1:-1, :-2], padded[1:-1, 2:]),
        )
        return jnp.where(passable, jnp.minimum(dist, near + 1), FAR)

    return jax.lax.fori_loop(0, sweeps, sweep, start)


def _neighbours(grid: jax.Array, frame: Frame, outside) -> jax.Array:
    """[4]: `grid` at the cells one move away (FORWARD, STEP_RIGHT, BACKWARD, STEP_LEFT);
    `outside` where that cell is beyond the window (e.g. no row behind in Gathering)."""
    values = []
    for dr, dc in _STEPS:
        r, c = frame.ahead + dr, frame.left + dc
        inside = 0 <= r < frame.height and 0 <= c < frame.width
        values.append(grid[r, c] if inside else jnp.asarray(outside, grid.dtype))
    return jnp.stack(values)


def step_toward(draws, targets, passable, agents, frame: Frame) -> tuple[jax.Array, jax.Array]:
    """The move along a shortest path to the nearest target, and whether there is one.

    The bot's own cell is never a target (it is already there). Ties between equally
    short moves are broken at random (`draws`)."""
    dist = distance_field(targets & ~_centre(frame), passable, frame.sweeps)
    cost = _neighbours(dist, frame, FAR).astype(jnp.float32)
    cost = cost + AGENT_COST * _neighbours(agents, frame, False)
    # Noise below 1 only reorders moves of equal cost.
    noisy = cost + 0.5 * draws.take(4)
    return jnp.asarray(_MOVES)[jnp.argmin(noisy)], jnp.min(cost) < FAR


def explore(draws, passable, agents, frame: Frame, turn_prob: float = EXPLORE_TURN) -> jax.Array:
    """Forward while the cell ahead is free (passable, no agent), else a random turn; also
    a random turn with probability `turn_prob`, so the bot does not loop forever."""
    if frame.ahead == 0:
        free = jnp.asarray(False)
    else:
        r, c = frame.ahead - 1, frame.left
        free = passable[r, c] & ~agents[r, c]
    turn = _random_turn(draws)
    go = free & (draws.take(1)[0] >= turn_prob)
    return jnp.where(go, FORWARD, turn).astype(jnp.int32)


def _random_turn(draws) -> jax.Array:
    """TURN_LEFT or TURN_RIGHT, at random."""
    return jnp.where(draws.coin(), TURN_LEFT, TURN_RIGHT).astype(jnp.int32)


def _nearest(draws, targets, frame: Frame) -> tuple[jax.Array, jax.Array]:
    """(f, x) of the nearest target in straight-line distance (f cells ahead, x to the
    right), ties at random."""
    rows, cols = np.indices((frame.height, frame.width))
    f, x = frame.ahead - rows, cols - frame.left
    noise = draws.take(frame.height * frame.width).reshape(targets.shape)
    d2 = (f**2 + x**2).astype(np.float32) + 0.5 * noise
    i = jnp.argmin(jnp.where(targets & ~_centre(frame), d2, jnp.inf))
    return jnp.asarray(f.ravel())[i], jnp.asarray(x.ravel())[i]


def face_or_step(draws, targets, passable, agents, frame: Frame) -> tuple[jax.Array, jax.Array]:
    """For beam users: turn toward the nearest target when it is behind or more to the side
    than ahead (a beam reaches ahead), else step toward it. Returns (action, found)."""
    f, x = _nearest(draws, targets, frame)
    side = jnp.where(x > 0, TURN_RIGHT, TURN_LEFT)
    turn = jnp.where(x == 0, _random_turn(draws), side)
    step, found = step_toward(draws, targets, passable, agents, frame)
    visible = jnp.any(targets & ~_centre(frame))
    turning = (f < 0) | (jnp.abs(x) > f)
    action = jnp.where(turning, turn, step).astype(jnp.int32)
    return action, visible & (turning | found)


# ---- beams -------------------------------------------------------------------------------------
def _side_live(stop: jax.Array, stop_after: jax.Array) -> jax.Array:
    """Columns 1..R on one side of the shooter (nearest first): live unless a wall is at or
    before it, or a blocker strictly before it, among the cells beside the shooter."""
    walls_so_far = jnp.cumsum(stop) > 0
    blocked_before = (jnp.cumsum(stop_after) - stop_after) > 0
    return ~walls_so_far & ~blocked_before


def beam_cover(fp: Footprint, walls: jax.Array, blockers: jax.Array) -> jax.Array:
    """bool[F+1, 2R+1]: the footprint cells a beam fired now would cover, by the rules of
    `GridEngine.fire`: each column stops before a wall and after its first blocker, and a
    column exists only if the cells beside the shooter toward it let the beam spread."""
    rows, cols, r = fp.rows, fp.cols, fp.radius
    wall = jnp.where(fp.inside, walls[rows, cols], True)  # unseen cells: as walls
    block = wall | (jnp.where(fp.inside, blockers[rows, cols], False))
    f = np.arange(rows.shape[0])[:, None]
    counted = block & (f >= fp.start)
    before = (jnp.cumsum(counted, axis=0) - counted) > 0
    lateral = wall[0]
    if fp.rectangle:
        after = jnp.zeros_like(lateral)
    else:  # the melting_pot shape covers the cells beside the shooter: they stop it too
        after = (block & ~wall)[0] & fp.in_range[0]
    left = _side_live(lateral[:r][::-1], after[:r][::-1])[::-1]
    right = _side_live(lateral[r + 1 :], after[r + 1 :])
    live = jnp.concatenate([left, jnp.ones(1, bool), right])
    return fp.in_range & live[None, :] & ~wall & ~before


def beam_hits(fp: Footprint, walls, blockers, targets) -> jax.Array:
    """bool[]: a beam fired now would cover at least one target cell."""
    covered = beam_cover(fp, walls, blockers)
    return jnp.any(covered & jnp.where(fp.inside, targets[fp.rows, fp.cols], False))


# ---- the bots ----------------------------------------------------------------------------------
def _eat_rule(frame: Frame) -> Callable:
    """(draws, obs, edible, forbidden) -> action: walk to the nearest `edible` apple, never
    entering `forbidden` cells; explore when none is reachable."""

    def rule(draws, obs, edible, forbidden) -> jax.Array:
        passable = ~_layer(obs, frame.wall) & ~forbidden
        agents = _agents(obs, frame)
        step, found = step_toward(draws, edible, passable, agents, frame)
        return jnp.where(found, step, explore(draws, passable, agents, frame))

    return rule


def greedy_eater(env) -> Callable:
    """Walk to the nearest visible apple by the shortest path; explore when none is seen."""
    frame = frame_of(env)
    eat = _eat_rule(frame)

    def rule(key, obs) -> jax.Array:
        apples = _layer(obs, frame.apple)
        return eat(Draws(key, frame), obs, apples, jnp.zeros_like(apples)).astype(jnp.int32)

    return rule


def apple_neighbours(apples: jax.Array, radius_sq: int = 4) -> jax.Array:
    """int32[H, W]: apples at offsets (dr, dc) != (0, 0) with dr^2 + dc^2 <= radius_sq,
    counting only the window (unseen cells count as no apple)."""
    r = int(np.floor(np.sqrt(radius_sq)))
    h, w = apples.shape
    padded = jnp.pad(apples.astype(jnp.int32), r)
    count = jnp.zeros((h, w), jnp.int32)
    for dr in range(-r, r + 1):
        for dc in range(-r, r + 1):
            if (dr, dc) != (0, 0) and dr * dr + dc * dc <= radius_sq:
                count = count + padded[r + dr : r + dr + h, r + dc : r + dc + w]
    return count


def sustainable_harvester(env, k: int = 3, radius_sq: int = 4) -> Callable:
    """Eat only apples with at least `k` other apples within `radius_sq`; never step onto
    the other apples (stepping on a cell eats its apple)."""
    frame = frame_of(env)
    eat = _eat_rule(frame)

    def rule(key, obs) -> jax.Array:
        apples = _layer(obs, frame.apple)
        eligible = apples & (apple_neighbours(apples, radius_sq) >= k)
        return eat(Draws(key, frame), obs, eligible, apples & ~eligible).astype(jnp.int32)

    return rule


def zapper(env) -> Callable:
    """Zap whenever an agent is in the beam's footprint; else go for the nearest visible
    agent; else eat like `greedy_eater`."""
    frame = frame_of(env)
    base = _base(env)
    beam = next(b for b in base.engine.beams if b.action == FIRE_ZAP)
    if beam.name == "zap":
        fp = footprint_of(env, FIRE_ZAP, "zap_length", "zap_radius")
    else:  # Gathering's tag beam: one cell wide
        fp = footprint_of(env, FIRE_ZAP, "beam_length", None)
    eat = _eat_rule(frame)

    def rule(key, obs) -> jax.Array:
        draws = Draws(key, frame)
        walls = _layer(obs, frame.wall)
        agents = _agents(obs, frame)
        blockers = agents if fp.stopped_by_agents else jnp.zeros_like(agents)
        fire = beam_hits(fp, walls, blockers, agents)
        chase, seen = face_or_step(draws, agents, ~walls, jnp.zeros_like(agents), frame)
        apples = _layer(obs, frame.apple)
        action = jnp.where(seen, chase, eat(draws, obs, apples, jnp.zeros_like(apples)))
        return jnp.where(fire, FIRE_ZAP, action).astype(jnp.int32)

    return rule


def cleaner(env) -> Callable:
    """Clean waste in the beam's footprint; else go for the nearest visible waste; else
    turn away from visible apples toward the river; else look around."""
    frame = frame_of(env)
    base = _base(env)
    if frame.waste is None or "FIRE_CLEAN" not in base.action_names:
        raise ValueError(f"the cleaner needs Cleanup's waste and cleaning beam; got {env.name}")
    fire_clean = base.action_names.index("FIRE_CLEAN")
    fp = footprint_of(env, fire_clean, "clean_length", "clean_radius")
    blocked_by_waste = bool(getattr(base, "clean_blocked_by_waste", True))
    rows, cols = np.indices((frame.height, frame.width))
    f_of, x_of = (frame.ahead - rows).astype(np.float32), (cols - frame.left).astype(np.float32)

    def away_from_apples(draws, apples, passable, agents) -> jax.Array:
        """Turn until the apples' centre is behind, then walk on (the river is there)."""
        n = jnp.maximum(apples.sum(), 1)
        f, x = -(apples * f_of).sum() / n, -(apples * x_of).sum() / n  # the way away
        side = jnp.where(x > 0, TURN_RIGHT, TURN_LEFT)
        turn = jnp.where(x == 0, _random_turn(draws), side)
        walk = explore(draws, passable, agents, frame)
        return jnp.where(f > jnp.abs(x), walk, turn)

    def rule(key, obs) -> jax.Array:
        draws = Draws(key, frame)
        walls = _layer(obs, frame.wall)
        waste = _layer(obs, frame.waste)
        apples = _layer(obs, frame.apple)
        agents = _agents(obs, frame)
        blockers = waste if blocked_by_waste else jnp.zeros_like(waste)
        if fp.stopped_by_agents:
            blockers = blockers | agents
        fire = beam_hits(fp, walls, blockers, waste)
        chase, seen = face_or_step(draws, waste, ~walls, agents, frame)
        away = away_from_apples(draws, apples, ~walls, agents)
        look = explore(draws, ~walls, agents, frame, CLEANER_TURN)
        idle = jnp.where(jnp.any(apples), away, look)
        action = jnp.where(seen, chase, idle)
        return jnp.where(fire, fire_clean, action).astype(jnp.int32)

    return rule


def cleaner_eater(env) -> Callable:
    """Clean while waste is in view (as `cleaner`), otherwise eat (as `greedy_eater`): the
    Cleanup cooperator that also feeds itself."""
    clean, eat = cleaner(env), greedy_eater(env)
    waste_channel = frame_of(env).waste

    def rule(key, obs) -> jax.Array:
        sees_waste = jnp.any(_layer(obs, waste_channel))
        return jnp.where(sees_waste, clean(key, obs), eat(key, obs)).astype(jnp.int32)

    return rule


BOTS = {
    "greedy_eater": greedy_eater,
    "cleaner": cleaner,
    "cleaner_eater": cleaner_eater,
    "zapper": zapper,
    "sustainable_harvester": sustainable_harvester,
}

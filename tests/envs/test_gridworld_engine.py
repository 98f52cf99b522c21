"""The shared gridworld engine's rules, each on a hand-built state on small maps."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from marl.envs.gridworld import engine
from marl.envs.gridworld.engine import (
    BACKWARD,
    EAST,
    FIRE_ZAP,
    FORWARD,
    NOOP,
    NORTH,
    SOUTH,
    STEP_LEFT,
    STEP_RIGHT,
    TURN_LEFT,
    TURN_RIGHT,
    WEST,
    Agents,
    Beam,
    GridEngine,
    View,
)
from marl.envs.gridworld.maps import Layout, parse_rows

SIZE = 21
TAG = 8  # a second beam action, for the rectangle beam
APPLE = 1  # map channel index of the apples
# Absolute (row, col) step of "ahead" and "right" for each facing, written out by hand.
AHEAD = {NORTH: (-1, 0), EAST: (0, 1), SOUTH: (1, 0), WEST: (0, -1)}
RIGHT = {NORTH: (0, 1), EAST: (1, 0), SOUTH: (0, -1), WEST: (-1, 0)}


@functools.cache
def make(walls: tuple = (), num_agents: int = 3, size: int = SIZE):
    """An open size x size map with walls at the given cells and a jitted API for it."""
    wall = np.zeros((size, size), bool)
    for r, c in walls:
        wall[r, c] = True
    spawn = np.flatnonzero(~wall.ravel()).astype(np.int32)
    eng = GridEngine(
        wall,
        num_agents,
        spawn_cells=spawn,
        initial_spawn=np.ones((num_agents, len(spawn)), bool),
        respawn=np.ones(len(spawn), bool),
        map_channels=("wall", "apple"),
        view=View(9, 1, 5, 5),
        beams=(
            Beam("zap", FIRE_ZAP, 3, 1, shape="melting_pot", stopped_by_agents=True),
            Beam("tag", TAG, 4, 2, shape="rectangle", stopped_by_agents=False),
        ),
    )
    api = {
        "move": jax.jit(eng.move),
        "fire": jax.jit(eng.fire, static_argnums=0),
        # The apple layer covers every cell (static); which hold an apple is dynamic.
        "observe": jax.jit(
            lambda a, apples: eng.observe(a, ((np.arange(size * size), apples, APPLE),))
        ),
        "respawn": jax.jit(eng.respawn),
        "ticks": jax.jit(eng.tick_cooldowns),
    }
    return eng, api


def agents(pos, facing, timeout=None, beams=2):
    n = len(pos)
    return Agents(
        pos=jnp.asarray(pos, jnp.int32),
        facing=jnp.asarray(facing, jnp.int32),
        timeout=jnp.zeros(n, jnp.int32) if timeout is None else jnp.asarray(timeout, jnp.int32),
        cooldown=jnp.zeros((n, beams), jnp.int32),
        fired=jnp.zeros((n, beams), bool),
    )


PARK = [(20, 0), (20, 20)]  # corners where the other agents stay out of the way
# The walled map: two walls far apart; tests put agents around them.
WALLS = ((5, 5), (15, 15))


def move(pos, facing, actions, walls=(), priority=None, timeout=None):
    eng, api = make(walls, len(pos))
    priority = jnp.arange(len(pos), dtype=jnp.float32) if priority is None else priority
    out = api["move"](agents(pos, facing, timeout), jnp.asarray(actions, jnp.int32), priority)
    return np.asarray(out.pos).tolist(), np.asarray(out.facing).tolist()


# ---- movement ---------------------------------------------------------------------------------
@pytest.mark.parametrize("facing", [NORTH, EAST, SOUTH, WEST])
def test_every_relative_move_for_every_facing(facing):
    expected = {
        FORWARD: AHEAD[facing],
        BACKWARD: tuple(-d for d in AHEAD[facing]),
        STEP_RIGHT: RIGHT[facing],
        STEP_LEFT: tuple(-d for d in RIGHT[facing]),
    }
    for action, (dr, dc) in expected.items():
        pos, new_facing = move([(6, 6), *PARK], [facing, 0, 0], [action, NOOP, NOOP])
        assert pos[0] == [6 + dr, 6 + dc], (facing, action)
        assert new_facing[0] == facing  # moving never turns


@pytest.mark.parametrize("facing", [NORTH, EAST, SOUTH, WEST])
def test_turns_for_every_facing(facing):
    left = {NORTH: WEST, WEST: SOUTH, SOUTH: EAST, EAST: NORTH}
    right = {NORTH: EAST, EAST: SOUTH, SOUTH: WEST, WEST: NORTH}
    for action, want in ((TURN_LEFT, left[facing]), (TURN_RIGHT, right[facing])):
        pos, new_facing = move([(6, 6), *PARK], [facing, 0, 0], [action, NOOP, NOOP])
        assert new_facing[0] == want and pos[0] == [6, 6]


def test_noop_and_fire_do_not_move():
    for action in (NOOP, FIRE_ZAP, TAG):
        pos, facing = move([(6, 6), *PARK], [EAST, 0, 0], [action, NOOP, NOOP])
        assert pos[0] == [6, 6] and facing[0] == EAST


def test_move_into_a_wall_fails():
    pos, _ = move([(6, 5), *PARK], [NORTH, 0, 0], [FORWARD, NOOP, NOOP], walls=WALLS)
    assert pos[0] == [6, 5]  # (5, 5) is a wall


def test_move_off_the_map_fails():
    pos, _ = move([(0, 6), *PARK], [NORTH, 0, 0], [FORWARD, NOOP, NOOP])
    assert pos[0] == [0, 6]
    pos, _ = move([(6, 20), *PARK], [NORTH, 0, 0], [STEP_RIGHT, NOOP, NOOP])
    assert pos[0] == [6, 20]


def test_move_into_a_cell_whose_agent_stays_fails():
    pos, _ = move([(6, 6), (5, 6), PARK[0]], [NORTH, NORTH, 0], [FORWARD, NOOP, NOOP])
    assert pos[:2] == [[6, 6], [5, 6]]


def test_two_agents_claiming_one_cell_never_both_enter_and_either_may_win():
    # Agents at (6,5) and (6,7) both step into (6,6); the third stays in a corner.
    eng, api = make((), 3)
    state = agents([(6, 5), (6, 7), PARK[0]], [EAST, WEST, 0])
    actions = jnp.asarray([FORWARD, FORWARD, NOOP], jnp.int32)
    keys = jax.random.split(jax.random.key(0), 4000)
    priorities = jax.vmap(lambda k: jax.random.uniform(k, (3,)))(keys)
    out = jax.vmap(lambda p: api["move"](state, actions, p))(priorities)
    entered = np.all(np.asarray(out.pos[:, :2]) == [6, 6], axis=-1)  # [keys, 2]
    assert (entered.sum(1) == 1).all()  # exactly one enters, every time
    wins = entered[:, 0].mean()
    assert abs(wins - 0.5) < 4 * np.sqrt(0.25 / len(keys))  # uniformly random winner
    # the loser stays where it was
    lost = ~entered
    stayed = np.all(np.asarray(out.pos[:, :2]) == np.asarray([[6, 5], [6, 7]]), axis=-1)
    assert (stayed == lost).all()


def test_agents_cannot_swap():
    pos, _ = move([(6, 6), (6, 7), PARK[0]], [EAST, WEST, 0], [FORWARD, FORWARD, NOOP])
    assert pos[:2] == [[6, 6], [6, 7]]


def test_agents_cannot_rotate_through_a_cycle():
    # Four agents on a 2 x 2 square each step into the next one's cell (clockwise).
    square = [(5, 5), (5, 6), (6, 6), (6, 5)]
    facing = [EAST, SOUTH, WEST, NORTH]
    pos, _ = move(square, facing, [FORWARD] * 4)
    assert pos == [list(p) for p in square]


def test_an_agent_may_follow_one_that_moves_away():
    # (6,6) -> (5,6) while (5,6) -> (4,6): both succeed, in one step.
    pos, _ = move([(6, 6), (5, 6), PARK[0]], [NORTH, NORTH, 0], [FORWARD, FORWARD, NOOP])
    assert pos[:2] == [[5, 6], [4, 6]]
    # ... but not if the leader is blocked.
    pos, _ = move(
        [(7, 5), (6, 5), PARK[0]], [NORTH, NORTH, 0], [FORWARD, FORWARD, NOOP], walls=WALLS
    )
    assert pos[:2] == [[7, 5], [6, 5]]


def test_timed_out_agents_cannot_act_and_do_not_block():
    pos, facing = move(
        [(6, 6), (5, 6), PARK[0]],
        [NORTH, EAST, 0],
        [FORWARD, TURN_LEFT, NOOP],
        timeout=[0, 3, 0],
    )
    assert pos[0] == [5, 6]  # entered the cell the removed agent left behind
    assert facing[1] == EAST  # the removed agent did not turn


# ---- beams ------------------------------------------------------------------------------------
def relative_to_absolute(origin, facing, cells):
    (ar, ac), (rr, rc) = AHEAD[facing], RIGHT[facing]
    return {(origin[0] + f * ar + x * rr, origin[1] + f * ac + x * rc) for f, x in cells}


def covered_cells(hits, shooter=0):
    cov = np.asarray(hits.covered[shooter])
    cells = np.asarray(hits.cells[shooter])[cov]
    return {tuple(int(v) for v in divmod(c, SIZE)) for c in cells}


def fire(name, pos, facing, length, radius, walls=(), firing=None, timeout=None):
    eng, api = make(walls, len(pos))
    firing = jnp.asarray([True] + [False] * (len(pos) - 1) if firing is None else firing)
    return api["fire"](name, agents(pos, facing, timeout), firing, length, radius)


# melting_pot shape, length 3, radius 1: centre f = 1..3, sides f = 0..2 (Lab2D hitBeam).
ZAP_FOOTPRINT = {(1, 0), (2, 0), (3, 0), (0, -1), (1, -1), (2, -1), (0, 1), (1, 1), (2, 1)}


@pytest.mark.parametrize("facing", [NORTH, EAST, SOUTH, WEST])
def test_zap_covers_exactly_its_footprint(facing):
    hits = fire("zap", [(6, 6), *PARK], [facing, 0, 0], 3, 1)
    assert covered_cells(hits) == relative_to_absolute((6, 6), facing, ZAP_FOOTPRINT)
    assert not np.asarray(hits.hits).any()


@pytest.mark.parametrize("facing", [NORTH, EAST, SOUTH, WEST])
def test_rectangle_beam_covers_exactly_its_footprint(facing):
    hits = fire("tag", [(6, 6), *PARK], [facing, 0, 0], 4, 2)
    want = {(f, x) for f in range(1, 5) for x in range(-2, 3)}
    assert covered_cells(hits) == relative_to_absolute((6, 6), facing, want)


def test_beam_length_and_radius_params_shrink_the_footprint():
    hits = fire("zap", [(6, 6), *PARK], [NORTH, 0, 0], 2, 0)
    assert covered_cells(hits) == relative_to_absolute((6, 6), NORTH, {(1, 0), (2, 0)})
    hits = fire("tag", [(6, 6), *PARK], [EAST, 0, 0], 1, 1)
    want = {(1, -1), (1, 0), (1, 1)}
    assert covered_cells(hits) == relative_to_absolute((6, 6), EAST, want)


def test_nothing_is_covered_when_nobody_fires():
    hits = fire("zap", [(6, 6), (4, 6), PARK[0]], [NORTH, 0, 0], 3, 1, firing=[False] * 3)
    assert not np.asarray(hits.covered).any() and not np.asarray(hits.hits).any()


@pytest.mark.parametrize("facing", [NORTH, EAST, SOUTH, WEST])
def test_beam_stops_at_a_wall(facing):
    # The wall (5, 5) 2 ahead in the centre column: only f = 1 is covered there; the sides
    # are not affected; the wall cell itself is never covered.
    (ar, ac), (rr, rc) = AHEAD[facing], RIGHT[facing]
    shooter = (5 - 2 * ar, 5 - 2 * ac)
    hits = fire("zap", [shooter, *PARK], [facing, 0, 0], 3, 1, walls=WALLS)
    want = ZAP_FOOTPRINT - {(2, 0), (3, 0)}
    assert covered_cells(hits) == relative_to_absolute(shooter, facing, want)
    # Rectangle: the wall (15, 15) 3 ahead in the right-most column stops that column at 2.
    shooter = (15 - 3 * ar - 2 * rr, 15 - 3 * ac - 2 * rc)
    hits = fire("tag", [shooter, *PARK], [facing, 0, 0], 4, 2, walls=WALLS)
    want = {(f, x) for f in range(1, 5) for x in range(-2, 3)} - {(3, 2), (4, 2)}
    assert covered_cells(hits) == relative_to_absolute(shooter, facing, want)


def test_a_wall_beside_the_shooter_stops_the_beam_spreading_to_that_side():
    # The wall (5, 5) is right beside the shooter at (5, 4) facing N.
    hits = fire("zap", [(5, 4), *PARK], [NORTH, 0, 0], 3, 1, walls=WALLS)
    want = {(f, x) for f, x in ZAP_FOOTPRINT if x <= 0}
    assert covered_cells(hits) == relative_to_absolute((5, 4), NORTH, want)
    hits = fire("tag", [(5, 4), *PARK], [NORTH, 0, 0], 4, 2, walls=WALLS)
    want = {(f, x) for f in range(1, 5) for x in range(-2, 1)}
    assert covered_cells(hits) == relative_to_absolute((5, 4), NORTH, want)


def test_beams_stop_at_the_map_edge():
    hits = fire("tag", [(1, 6), *PARK], [NORTH, 0, 0], 4, 2)
    want = {(1, x) for x in range(-2, 3)}
    assert covered_cells(hits) == relative_to_absolute((1, 6), NORTH, want)


def test_zap_hits_the_first_agent_in_a_column_and_stops_there():
    # Shooter (6,6) facing N; agents 1 and 2 at 1 and 2 cells ahead in the centre column.
    hits = fire("zap", [(6, 6), (5, 6), (4, 6)], [NORTH, 0, 0], 3, 1)
    assert np.asarray(hits.hits).tolist() == [[False, True, False], [False] * 3, [False] * 3]
    assert (4, 6) not in covered_cells(hits)
    assert np.asarray(hits.received).tolist() == [0, 1, 0]
    assert np.asarray(hits.made).tolist() == [1, 0, 0]


def test_rectangle_beam_not_stopped_by_agents_hits_everyone_in_it():
    hits = fire("tag", [(6, 6), (5, 6), (3, 7)], [NORTH, 0, 0], 4, 2)
    assert np.asarray(hits.hits)[0].tolist() == [False, True, True]


def test_zap_hits_an_agent_beside_the_shooter():
    # The melting_pot shape covers the cells beside the shooter (f = 0).
    hits = fire("zap", [(6, 6), (6, 5), PARK[0]], [NORTH, 0, 0], 3, 1)
    assert np.asarray(hits.hits)[0].tolist() == [False, True, False]


def test_several_shooters_fire_at_once_and_hits_add_up():
    hits = fire("zap", [(6, 4), (6, 8), (6, 6)], [EAST, WEST, 0], 3, 1, firing=[True, True, False])
    assert np.asarray(hits.received).tolist() == [0, 0, 2]


def test_a_timed_out_agent_cannot_be_hit_and_does_not_stop_beams():
    hits = fire("zap", [(6, 6), (5, 6), (4, 6)], [NORTH, 0, 0], 3, 1, timeout=[0, 2, 0])
    assert np.asarray(hits.hits)[0].tolist() == [False, False, True]


def test_a_timed_out_agent_cannot_fire():
    eng, api = make((), 3)
    state = agents([(6, 6), *PARK], [NORTH, 0, 0], timeout=[1, 0, 0])
    actions = jnp.asarray([FIRE_ZAP, FIRE_ZAP, NOOP], jnp.int32)
    assert np.asarray(eng.ready(state, actions, "zap")).tolist() == [False, True, False]


def test_cooldown_blocks_firing_for_exactly_cooldown_steps():
    eng, api = make((), 3)
    state = agents([(6, 6), *PARK], [NORTH, 0, 0])
    actions = jnp.asarray([FIRE_ZAP, TAG, NOOP], jnp.int32)
    cooldowns = jnp.asarray([2, 0], jnp.int32)  # zap 2, tag 0
    fired_zap, fired_tag = [], []
    for _ in range(8):
        on = state.on_map
        fired = jnp.stack([eng.ready(state, actions, "zap"), eng.ready(state, actions, "tag")], 1)
        state = api["ticks"](state, fired, cooldowns, on)
        fired_zap.append(bool(fired[0, 0]))
        fired_tag.append(bool(fired[1, 1]))
    assert fired_zap == [True, False, False, True, False, False, True, False]
    assert all(fired_tag)  # cooldown 0: every step


def test_cooldown_does_not_count_down_while_timed_out():
    eng, api = make((), 3)
    state = agents([(6, 6), *PARK], [NORTH, 0, 0], timeout=[3, 0, 0])
    state = state.replace(cooldown=jnp.asarray([[2, 0], [2, 0], [0, 0]], jnp.int32))
    no_fire = jnp.zeros((3, 2), bool)
    state = api["ticks"](state, no_fire, jnp.asarray([2, 0]), state.on_map)
    assert np.asarray(state.cooldown[:, 0]).tolist() == [2, 1, 0]


# ---- timeouts and respawn -----------------------------------------------------------------
def test_removed_agent_respawns_after_exactly_its_timeout():
    eng, api = make((), 3)
    state = agents([(6, 6), (0, 0), (20, 20)], [NORTH, 0, 0])
    state = eng.remove(state, jnp.asarray([True, False, False]), jnp.asarray(4))
    u = jnp.linspace(0.01, 0.99, eng.spawn_uniforms)
    assert np.asarray(state.timeout).tolist() == [4, 0, 0]
    for step in range(1, 5):
        state = api["respawn"](state, jnp.roll(u, step))
        assert bool(state.on_map[0]) == (step == 4), step
    back = tuple(np.asarray(state.pos[0]).tolist())
    assert back not in {(0, 0), (20, 20)}  # a free spawn point
    assert np.asarray(state.pos[1:]).tolist() == [[0, 0], [20, 20]]


def test_remove_with_zero_steps_does_nothing():
    eng, _ = make((), 3)
    state = agents([(6, 6), *PARK], [NORTH, 0, 0])
    state = eng.remove(state, jnp.asarray([True, True, False]), jnp.asarray(0))
    assert bool(state.on_map.all())


def test_respawn_waits_when_no_spawn_point_is_free():
    # 1 x 2 map whose only respawn point, cell (0, 0), is held by agent 1.
    eng = GridEngine(
        np.zeros((1, 2), bool),
        2,
        spawn_cells=np.asarray([0, 1], np.int32),
        initial_spawn=np.ones((2, 2), bool),
        respawn=np.asarray([True, False]),
    )
    state = agents([(0, 1), (0, 0)], [0, 0], timeout=[1, 0], beams=0)
    state = eng.respawn(state, jnp.full(eng.spawn_uniforms, 0.5))
    assert np.asarray(state.timeout).tolist() == [1, 0]
    state = state.replace(pos=jnp.asarray([[0, 1], [0, 1]]))  # agent 1 moved away
    state = eng.respawn(state, jnp.full(eng.spawn_uniforms, 0.5))
    assert np.asarray(state.timeout).tolist() == [0, 0]
    assert np.asarray(state.pos[0]).tolist() == [0, 0]


def test_spawn_puts_agents_on_distinct_eligible_cells():
    eng, _ = make((), 3)
    for seed in range(20):
        u = jax.random.uniform(jax.random.key(seed), (eng.spawn_uniforms,))
        state = eng.spawn(u)
        cells = {tuple(p) for p in np.asarray(state.pos).tolist()}
        assert len(cells) == 3
        assert bool(state.on_map.all())
        assert set(np.asarray(state.facing).tolist()) <= {0, 1, 2, 3}


def test_initial_spawn_groups_are_respected():
    layout = Layout.from_rows(parse_rows("QP..\nPPPP\n"))
    spawn = layout.cells("QP")
    inside = layout.mask("Q").ravel()[spawn]
    eng = GridEngine(
        layout.mask("#"),
        3,
        spawn_cells=spawn,
        initial_spawn=np.stack([inside, ~inside, ~inside]),
        respawn=~inside,
    )
    for seed in range(10):
        state = eng.spawn(jax.random.uniform(jax.random.key(seed), (eng.spawn_uniforms,)))
        assert np.asarray(state.pos[0]).tolist() == [0, 0]
        assert [0, 0] not in np.asarray(state.pos[1:]).tolist()


def test_too_few_spawn_points_is_an_error():
    with pytest.raises(ValueError, match="spawn points"):
        GridEngine(
            np.zeros((1, 2), bool),
            3,
            spawn_cells=np.asarray([0, 1], np.int32),
            initial_spawn=np.ones((3, 2), bool),
            respawn=np.ones(2, bool),
        )


# ---- observation ----------------------------------------------------------------------------
CH = {name: i for i, name in enumerate(make()[0].channel_names)}


def observe(pos, facing, apple_cells=(), walls=(), timeout=None):
    eng, api = make(walls, len(pos))
    apples = np.zeros(SIZE * SIZE, bool)
    for r, c in apple_cells:
        apples[r * SIZE + c] = True
    return np.asarray(api["observe"](agents(pos, facing, timeout), jnp.asarray(apples)))


@pytest.mark.parametrize("facing", [NORTH, EAST, SOUTH, WEST])
def test_an_object_k_ahead_and_l_left_appears_at_the_matching_cell(facing):
    centre = (6, 6)
    for ahead, left in [(1, 0), (3, 0), (2, 2), (1, -3), (-1, 0), (-1, 4), (5, 5), (6, -1)]:
        cell = relative_to_absolute(centre, facing, {(ahead, -left)}).pop()
        obs = observe([centre, *PARK], [facing, 0, 0], apple_cells=[cell])
        apples = obs[0, :, :, CH["apple"]]
        row, col = 9 - ahead, 5 - left  # the agent sits at row 9 (9 ahead), column 5
        assert apples.sum() == 1 and apples[row, col] == 1, (facing, ahead, left)


def test_observation_shape_and_self_at_row_9_column_5():
    obs = observe([(6, 6), *PARK], [EAST, 0, 0])
    assert obs.shape == (3, 11, 11, 7) and obs.dtype == np.uint8
    selfie = obs[0, :, :, CH["self"]]
    assert selfie.sum() == 1 and selfie[9, 5] == 1


@pytest.mark.parametrize("facing", [NORTH, EAST, SOUTH, WEST])
def test_cells_beyond_the_map_read_as_walls(facing):
    # Agent in the top-left corner: whatever it faces, the cells that fall outside the
    # map are walls, the ones inside (no walls here) are not.
    obs = observe([(0, 0), *PARK], [facing, 0, 0])
    wall = obs[0, :, :, CH["wall"]]
    for row in range(11):
        for col in range(11):
            ahead, right = 9 - row, col - 5
            (ar, ac), (rr, rc) = AHEAD[facing], RIGHT[facing]
            r, c = ahead * ar + right * rr, ahead * ac + right * rc
            outside = not (0 <= r < SIZE and 0 <= c < SIZE)
            assert wall[row, col] == outside, (facing, row, col)


def test_map_walls_appear_in_the_wall_channel():
    walled = observe([(7, 5), *PARK], [NORTH, 0, 0], walls=WALLS)[0, :, :, CH["wall"]]
    open_ = observe([(7, 5), *PARK], [NORTH, 0, 0])[0, :, :, CH["wall"]]
    diff = walled.astype(int) - open_
    assert diff[7, 5] == 1 and np.abs(diff).sum() == 1  # 2 ahead, same column


@pytest.mark.parametrize("facing", [NORTH, EAST, SOUTH, WEST])
def test_other_agents_appear_with_their_facing_relative_to_the_observer(facing):
    names = ["other_same_facing", "other_facing_right", "other_facing_opposite"]
    names.append("other_facing_left")
    other = relative_to_absolute((6, 6), facing, {(2, 0)}).pop()  # 2 ahead
    for turn, name in enumerate(names):
        obs = observe([(6, 6), other, PARK[0]], [facing, (facing + turn) % 4, 0])
        for n in names:
            plane = obs[0, :, :, CH[n]]
            assert plane.sum() == (n == name), (facing, turn, n)
        assert obs[0, 7, 5, CH[name]] == 1


def test_timed_out_agents_are_invisible_and_see_nothing():
    obs = observe([(6, 6), (5, 6), PARK[0]], [NORTH, NORTH, 0], timeout=[0, 2, 0])
    assert obs[0, :, :, CH["self"] + 1 :].sum() == 0  # agent 1 is not seen
    assert obs[1].sum() == 0  # and sees all zeros itself


def test_an_agent_standing_on_a_resource_still_shows_it():
    obs = observe([(6, 6), *PARK], [NORTH, 0, 0], apple_cells=[(6, 6)])
    assert obs[0, 9, 5, CH["apple"]] == 1 and obs[0, 9, 5, CH["self"]] == 1


def test_channel_names():
    eng, _ = make()
    assert eng.channel_names == (
        "wall",
        "apple",
        "self",
        "other_same_facing",
        "other_facing_right",
        "other_facing_opposite",
        "other_facing_left",
    )


def test_uneven_views_are_cropped_and_rotated():
    wall = np.zeros((SIZE, SIZE), bool)
    eng = GridEngine(
        wall,
        1,
        spawn_cells=np.asarray([0], np.int32),
        initial_spawn=np.ones((1, 1), bool),
        respawn=np.ones(1, bool),
        map_channels=("wall", "apple"),
        view=View(ahead=4, behind=2, left=1, right=3),
    )
    see = jax.jit(lambda a, apples: eng.observe(a, ((np.arange(SIZE * SIZE), apples, APPLE),)))
    for facing in range(4):
        for ahead, right in [(4, 0), (-2, 3), (1, -1), (0, 2)]:
            r, c = relative_to_absolute((6, 6), facing, {(ahead, right)}).pop()
            apples = jnp.zeros(SIZE * SIZE, bool).at[r * SIZE + c].set(True)
            obs = np.asarray(see(agents([(6, 6)], [facing], beams=0), apples))
            assert obs.shape == (1, 7, 5, 7)
            assert obs[0, 4 - ahead, 1 + right, 1] == 1 and obs[0, ..., 1].sum() == 1


# ---- rendering ------------------------------------------------------------------------------
def test_render_draws_agents_and_beams():
    eng, _ = make((), 3)
    rgb = np.full((SIZE, SIZE, 3), 200, np.uint8)
    state = agents([(6, 6), *PARK], [NORTH, 0, 0])
    plain = np.asarray(eng.render(rgb, state))
    assert plain.shape == (SIZE * 8, SIZE * 8, 3) and plain.dtype == np.uint8
    assert (plain[6 * 8 + 4, 6 * 8 + 4] == engine.AGENT_COLORS[0]).all()
    beam = np.zeros(SIZE * SIZE, bool)
    beam[5 * SIZE + 6] = True
    lit = np.asarray(eng.render(rgb, state, jnp.asarray(beam)))
    assert not np.array_equal(lit[5 * 8 + 4, 6 * 8 + 4], plain[5 * 8 + 4, 6 * 8 + 4])

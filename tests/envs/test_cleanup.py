"""Cleanup: presets, the cleaning beam, zaps, cooldowns, apple growth, waste, statistics."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marl
from marl.envs.gridworld.cleanup import (
    CLEAN_BEAM_RGB,
    FIRE_CLEAN,
    WASTE_RGB,
    CleanupState,
)
from marl.envs.gridworld.engine import BEAM_COLOR, FIRE_ZAP, NOOP, NORTH
from marl.metrics import episode_summary
from marl.wrappers import EpisodeStats

PRESETS = ("melting_pot", "ssd")
# A shooter standing in the river facing north, with river cells all around its beams.
SHOOTER = {"melting_pot": (5, 10), "ssd": (7, 3)}


@functools.cache
def setup(preset):
    """One env per preset, its jitted reset and step, and a transition vmapped over keys;
    tests change params by value, so nothing recompiles."""
    env, params = marl.make("cleanup", preset=preset)
    return (
        env,
        params,
        jax.jit(env.reset),
        jax.jit(env.step),
        jax.jit(jax.vmap(env.transition, (0, None, None, None))),
    )


def with_params(params, **values):
    return params.replace(
        **{k: jnp.asarray(v, getattr(params, k).dtype) for k, v in values.items()}
    )


def rc_of(env, cells):
    return [tuple(int(v) for v in divmod(int(c), env.layout.width)) for c in cells]


def far_spawns(env, near, k):
    """k spawn points more than 6 cells (Manhattan) from `near`."""
    spawn = rc_of(env, env.engine.spawn_cells)
    return [p for p in spawn if abs(p[0] - near[0]) + abs(p[1] - near[1]) > 6][:k]


def hand_built(env, pos, facing, waste=(), apples=None):
    """The reset state with agents at `pos` / `facing`, waste exactly on the `waste` cells."""
    _, params, reset, _, _ = setup(env.variant)
    _, state = reset(jax.random.key(0), params)
    river, waste = rc_of(env, env.waste_cells), set(waste)
    assert waste <= set(river), "waste only on cells that can hold it"
    state = state.replace(
        agents=state.agents.replace(
            pos=jnp.asarray(pos, jnp.int32), facing=jnp.asarray(facing, jnp.int32)
        ),
        waste=jnp.asarray([p in waste for p in river]),
    )
    if apples is not None:
        state = state.replace(apples=jnp.asarray(apples, bool))
    return state


def waste_set(env, waste):
    return {p for p, w in zip(rc_of(env, env.waste_cells), np.asarray(waste), strict=True) if w}


def actions(env, first, rest=NOOP):
    return jnp.asarray([first] + [rest] * (env.num_agents - 1), jnp.int32)


def beam_columns(preset, params):
    """The clean beam's cells per column x, nearest first, for a shooter facing north: the
    centre covers f = 1..L, side column x covers f = 0..L - |x| (Lab2D / SSD)."""
    (r, c), length, radius = SHOOTER[preset], int(params.clean_length), int(params.clean_radius)
    return {
        x: [(r - f, c + x) for f in range(1 if x == 0 else 0, length - abs(x) + 1)]
        for x in range(-radius, radius + 1)
    }


# ---- presets and maps ------------------------------------------------------------------------
def test_presets_are_those_of_envs_md():
    want = {
        "melting_pot": ("meltingpot_clean_up.txt", 7, (3, 1, 10, 50, 0, 0), (3, 1, 2), False),
        "ssd": ("ssd_cleanup.txt", 5, (5, 1, 0, 0, 1, 50), (5, 1, 0), True),
    }
    assert marl.make("cleanup")[0].variant == "melting_pot"
    for preset, (map_name, n, zap, clean, clean_stopped_by_agents) in want.items():
        env, p = marl.make("cleanup", preset=preset)
        assert (env.map_name, env.num_agents) == (map_name, n)
        got = (p.zap_length, p.zap_radius, p.zap_cooldown, p.zap_timeout, p.zap_cost)
        assert tuple(float(v) for v in (*got, p.zap_penalty)) == zap
        assert (int(p.clean_length), int(p.clean_radius), int(p.clean_cooldown)) == clean
        assert env.clean_stopped_by_agents == clean_stopped_by_agents
        assert env.clean_blocked_by_waste
        assert float(p.apple_growth_rate) == pytest.approx(0.05)
        assert float(p.dirt_depletion) == pytest.approx(0.4)
        assert float(p.waste_spawn_prob) == 0.5 and int(p.waste_start_step) == 50
        assert env.action_space(p).n == 9


def test_maps_give_river_apple_and_spawn_cells_and_initial_waste():
    env, params, reset, _, _ = setup("melting_pot")
    assert env.layout.chars.shape == (21, 30)
    assert (len(env.waste_cells), int(env.initial_waste.sum())) == (147, 79)
    assert (len(env.apple_cells), len(env.engine.spawn_cells)) == (122, 19)
    env, params, reset, _, _ = setup("ssd")
    assert env.layout.chars.shape == (25, 18)
    assert (len(env.waste_cells), int(env.initial_waste.sum())) == (119, 56)
    assert (len(env.apple_cells), len(env.engine.spawn_cells)) == (103, 10)
    obs, state = reset(jax.random.key(0), params)
    assert not bool(state.apples.any())  # no apples at the start
    assert waste_set(env, state.waste) == set(rc_of(env, env.layout.cells("H")))
    assert int(obs[..., 2].sum()) > 0  # agents see waste


def test_bad_params_are_rejected():
    with pytest.raises(ValueError, match="clean_length"):
        marl.make("cleanup", clean_length=4)  # above max_clean_length = 3
    marl.make("cleanup", clean_length=4, max_clean_length=4)
    with pytest.raises(ValueError, match="dirt_restoration"):
        marl.make("cleanup", dirt_restoration=0.5)
    with pytest.raises(ValueError, match="waste_spawn_prob"):
        marl.make("cleanup", waste_spawn_prob=1.5)
    with pytest.raises(ValueError, match="variant"):
        marl.make("cleanup", variant="nope")


# ---- the cleaning beam -----------------------------------------------------------------------
def clean_once(preset, waste, others=None):
    env, params, _, step, _ = setup(preset)
    n = env.num_agents
    shooter = SHOOTER[preset]
    pos = [shooter, *(others or [])]
    pos += far_spawns(env, shooter, n - len(pos))
    state = hand_built(env, pos, [NORTH] * n, waste)
    _, after, reward, _, info = step(jax.random.key(0), state, actions(env, FIRE_CLEAN), params)
    assert bool(info["clean_fired"][0]) and float(reward[0]) == 0.0
    return env, params, waste_set(env, after.waste), info


@pytest.mark.parametrize("preset", PRESETS)
def test_clean_beam_removes_exactly_the_waste_in_its_footprint(preset):
    env, params = setup(preset)[:2]
    columns = beam_columns(preset, params)
    (r, c), length, radius = SHOOTER[preset], int(params.clean_length), int(params.clean_radius)
    # Waste on the last cell of every column: the beam reaches all of it.
    ends = [cells[-1] for cells in columns.values()]
    _, _, left, info = clean_once(preset, ends)
    assert left == set() and int(info["cleaned"][0]) == len(ends) == 2 * radius + 1
    # Waste just outside the footprint (one further, one column further out): untouched.
    outside = [(r - length - 1, c)]
    outside += [(r - (length - abs(x)) - 1, c + x) for x in (-radius, radius)]
    outside += [(r - f, c + x) for f in range(length) for x in (-radius - 1, radius + 1)]
    _, _, left, info = clean_once(preset, outside)
    assert left == set(outside) and int(info["cleaned"].sum()) == 0


@pytest.mark.parametrize("preset", PRESETS)
def test_clean_beam_stops_at_the_first_waste_cell_in_each_column(preset):
    env, params = setup(preset)[:2]
    columns = beam_columns(preset, params)
    waste = [cells[0] for cells in columns.values()] + [cells[-1] for cells in columns.values()]
    _, _, left, info = clean_once(preset, waste)
    assert left == {cells[-1] for cells in columns.values()}
    assert int(info["cleaned"][0]) == len(columns)


def test_clean_beam_passes_agents_in_melting_pot_but_not_in_ssd():
    for preset, passes in (("melting_pot", True), ("ssd", False)):
        params = setup(preset)[1]
        centre = beam_columns(preset, params)[0]
        # Another agent on the first centre cell, waste on the one behind it.
        _, _, left, _ = clean_once(preset, [centre[1]], others=[centre[0]])
        assert (left == set()) == passes, preset


def test_two_beams_on_one_waste_cell_credit_it_once():
    env, params, _, step, _ = setup("melting_pot")
    # Two shooters side by side facing north: their side columns overlap.
    pos = [(5, 10), (5, 12), *far_spawns(env, (5, 11), 5)]
    state = hand_built(env, pos, [NORTH] * 7, [(4, 11)])
    fire = jnp.asarray([FIRE_CLEAN, FIRE_CLEAN] + [NOOP] * 5, jnp.int32)
    credited = []
    for seed in range(6):
        _, after, _, _, info = step(jax.random.key(seed), state, fire, params)
        assert int(info["cleaned"].sum()) == 1 and not bool(after.waste.any())
        credited.append(int(np.argmax(np.asarray(info["cleaned"]))))
    assert set(credited) == {0, 1}  # a random one of them


# ---- zaps and cooldowns ----------------------------------------------------------------------
def test_melting_pot_zap_removes_for_50_steps_without_penalty():
    env, params, _, step, _ = setup("melting_pot")
    pos = [(10, 10), (8, 10), *far_spawns(env, (10, 10), 5)]
    state = hand_built(env, pos, [NORTH] * 7)
    _, after, reward, _, info = step(jax.random.key(0), state, actions(env, FIRE_ZAP), params)
    assert np.asarray(info["zapped"]).tolist() == [0, 1, 0, 0, 0, 0, 0]
    assert np.asarray(reward).tolist() == [0.0] * 7
    assert int(after.agents.timeout[1]) == 50 and bool(info["timed_out"][1])


def test_ssd_zap_costs_1_and_50_without_removal():
    env, params, _, step, _ = setup("ssd")
    shooter = SHOOTER["ssd"]
    pos = [shooter, (shooter[0] - 5, shooter[1]), *far_spawns(env, shooter, 3)]
    state = hand_built(env, pos, [NORTH] * 5)
    _, _, reward, _, info = step(jax.random.key(0), state, actions(env, FIRE_ZAP), params)
    assert np.asarray(reward)[:2].tolist() == [-1.0, -50.0]
    assert int(info["zapped"][1]) == 1 and not bool(info["timed_out"].any())


def fire_sequence(preset, sequence):
    env, params, _, step, _ = setup(preset)
    shooter = SHOOTER[preset]
    n = env.num_agents
    state = hand_built(env, [shooter, *far_spawns(env, shooter, n - 1)], [NORTH] * n)
    zaps, cleans = [], []
    for i, action in enumerate(sequence):
        _, state, _, _, info = step(jax.random.key(i), state, actions(env, action), params)
        zaps.append(bool(info["fired"][0]))
        cleans.append(bool(info["clean_fired"][0]))
    return zaps, cleans


def test_melting_pot_cooldowns_zap_10_clean_2_independent():
    z, c = FIRE_ZAP, FIRE_CLEAN
    zaps, cleans = fire_sequence("melting_pot", [z, c, c, c, c, z, z, z, z, z, z, z])
    assert zaps == [True] + [False] * 10 + [True]  # fires again at t + 10 + 1
    assert cleans == [False, True, False, False, True] + [False] * 7  # again at t + 2 + 1


def test_ssd_beams_have_no_cooldown():
    z, c = FIRE_ZAP, FIRE_CLEAN
    zaps, cleans = fire_sequence("ssd", [z, z, c, c, z])
    assert zaps == [True, True, False, False, True]
    assert cleans == [False, False, True, True, False]


# ---- apple growth and waste ------------------------------------------------------------------
@pytest.mark.parametrize("preset", PRESETS)
def test_apple_growth_follows_the_dirt_fraction(preset):
    env, params, _, _, transition = setup(preset)
    n, river, d_cells = env.num_agents, rc_of(env, env.waste_cells), len(env.waste_cells)
    spawn = rc_of(env, env.engine.spawn_cells)[:n]  # not apple cells
    keys = jax.random.split(jax.random.key(1), 600)
    noop = jnp.zeros(n, jnp.int32)
    for dirty in (0, round(0.2 * d_cells), round(0.35 * d_cells), int(0.4 * d_cells) + 1, d_cells):
        state = hand_built(env, spawn, [NORTH] * n, river[:dirty])
        after, _, _, info = transition(keys, state, noop, params)
        grown = int(np.asarray(after.apples).sum())
        trials = keys.shape[0] * len(env.apple_cells)
        p = 0.05 * max(0.0, 1.0 - (dirty / d_cells) / 0.4)
        tolerance = 5 * np.sqrt(trials * p * (1 - p))
        assert abs(grown - trials * p) <= tolerance, (preset, dirty, grown, trials * p)
        if dirty / d_cells >= 0.4:
            assert grown == 0
        np.testing.assert_allclose(info["dirt"], dirty / d_cells, rtol=1e-6)


def test_waste_appears_only_after_step_50():
    env, params, _, _, _ = setup("melting_pot")
    params = with_params(params, waste_spawn_prob=1.0)
    state = hand_built(env, far_spawns(env, (0, 0), 7), [NORTH] * 7)  # a clean river
    noop = jnp.zeros(7, jnp.int32)

    def step(state, key):
        state = env.transition(key, state, noop, params)[0]
        return state, state.waste.sum()

    run = jax.jit(lambda s: jax.lax.scan(step, s, jax.random.split(jax.random.key(0), 60)))
    _, counts = run(state)
    assert np.asarray(counts).tolist() == [0] * 50 + list(range(1, 11))  # one a step from 51


def test_waste_rate_and_only_clean_cells_turn_dirty():
    env, params, _, _, transition = setup("melting_pot")
    dirty = rc_of(env, env.waste_cells)[:79]
    state = hand_built(env, far_spawns(env, (0, 0), 7), [NORTH] * 7, dirty)
    keys = jax.random.split(jax.random.key(2), 4000)
    noop = jnp.zeros(7, jnp.int32)
    before = np.asarray(state.waste)
    after = np.asarray(transition(keys, state.replace(t=jnp.int32(49)), noop, params)[0].waste)
    assert (after == before).all()  # step 50 itself: nothing yet
    after = np.asarray(transition(keys, state.replace(t=jnp.int32(50)), noop, params)[0].waste)
    new = after & ~before
    assert (after | ~before).all() and (new.sum(1) <= 1).all()  # one new cell at most
    spawned = int(new.sum())
    assert abs(spawned - 2000) <= 5 * np.sqrt(4000 * 0.25)  # probability 0.5 per step
    assert new[:, ~before].any(0).all()  # every clean cell can be picked


# ---- info, statistics, rendering -------------------------------------------------------------
def test_episode_statistics_give_the_cleanup_metrics():
    env, params, _, _, _ = setup("melting_pot")
    params = with_params(params, episode_length=5, apple_growth_rate=0.0)
    stats = EpisodeStats(env)
    _, state = jax.jit(stats.reset)(jax.random.key(0), params)
    ends = [cells[-1] for cells in beam_columns("melting_pot", params).values()]
    waste = ends + rc_of(env, env.waste_cells)[:7]  # 10 cells, 3 of them in the beam
    pos = [SHOOTER["melting_pot"], *far_spawns(env, SHOOTER["melting_pot"], 6)]
    state = state.replace(env_state=hand_built(env, pos, [NORTH] * 7, waste))
    step = jax.jit(stats.step)
    for i in range(5):
        act = actions(env, FIRE_CLEAN if i == 0 else NOOP)
        _, state, _, done, info = step(jax.random.key(i), state, act, params)
    assert bool(done)
    summary = episode_summary(env, info["episode"])
    assert float(summary["cleaning_rate"]) == pytest.approx(3 / (7 * 5))  # per agent-step
    assert float(summary["clean_beam_rate"]) == pytest.approx(1 / (7 * 5))
    assert float(summary["dirt_fraction"]) == pytest.approx(7 / 147)
    assert float(summary["zap_rate"]) == 0.0 and float(summary["apples_left"]) == 0.0
    assert float(summary["apples_per_agent"]) == 0.0 and float(summary["peace"]) == 7.0


def test_render_draws_waste_and_both_beams_distinctly():
    env, params, _, step, _ = setup("melting_pot")
    render = jax.jit(env.render)
    scale = 8
    px = lambda img, rc: tuple(np.asarray(img)[rc[0] * scale + 4, rc[1] * scale + 4])
    cleaner, zapper = SHOOTER["melting_pot"], (12, 5)
    pos = [cleaner, zapper, *far_spawns(env, (8, 8), 5)]
    state = hand_built(env, pos, [NORTH] * 7, [(1, 1)])
    fire = jnp.asarray([FIRE_CLEAN, FIRE_ZAP] + [NOOP] * 5, jnp.int32)
    _, after, _, _, _ = step(jax.random.key(0), state, fire, params)
    image = render(after, params)
    assert px(image, (1, 1)) == tuple(WASTE_RGB)
    clean_px, zap_px = px(image, (cleaner[0] - 1, cleaner[1])), px(image, (zapper[0] - 1, 5))
    water = np.asarray(px(render(state, params), (cleaner[0] - 1, cleaner[1])), np.uint16)
    assert clean_px == tuple((water + CLEAN_BEAM_RGB) // 2)
    assert clean_px != zap_px and zap_px[2] < zap_px[0]  # zap tinted yellow (BEAM_COLOR)
    assert tuple(BEAM_COLOR) != tuple(CLEAN_BEAM_RGB)


def test_info_keys_and_state_pytree():
    env, params, reset, step, _ = setup("ssd")
    _, state = reset(jax.random.key(0), params)
    assert isinstance(state, CleanupState)
    _, _, reward, _, info = step(jax.random.key(1), state, jnp.full(5, 8, jnp.int32), params)
    assert set(info) == {
        "terminated",
        "truncated",
        "apples",
        "fired",
        "zapped",
        "clean_fired",
        "cleaned",
        "timed_out",
        "apples_left",
        "dirt",
    }
    for key in ("apples", "fired", "zapped", "clean_fired", "cleaned", "timed_out"):
        assert info[key].shape == (5,)
    assert info["dirt"].shape == () and reward.shape == (5,)

"""Commons Harvest: presets, eating, zapping, timeouts, regrowth statistics, statistics."""

import functools
from importlib import resources

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marl
from marl.envs.gridworld.engine import FIRE_ZAP, FORWARD, NOOP, NORTH, SOUTH
from marl.envs.gridworld.harvest import HarvestState
from marl.envs.gridworld.maps import read_map
from marl.metrics import episode_summary
from marl.wrappers import EpisodeStats

PRESETS = ("melting_pot", "perolat", "ssd")


@functools.cache
def setup(preset):
    """One env per preset with its step and a transition vmapped over keys, jitted once;
    tests change params by value (params are arguments, so nothing recompiles)."""
    env, params = marl.make("harvest", preset=preset)
    return env, params, jax.jit(env.step), jax.jit(jax.vmap(env.transition, (0, None, None, None)))


@functools.cache
def jitted(preset, method):
    env = setup(preset)[0]
    return jax.jit(getattr(env, method))


def with_params(params, **values):
    return params.replace(
        **{k: jnp.asarray(v, getattr(params, k).dtype) for k, v in values.items()}
    )


def hand_built(env, pos, facing, apples=None):
    """The reset state with agents moved to `pos` / `facing` and the given apples."""
    _, state = jitted(env.variant, "reset")(jax.random.key(0), setup(env.variant)[1])
    agents = state.agents.replace(
        pos=jnp.asarray(pos, jnp.int32), facing=jnp.asarray(facing, jnp.int32)
    )
    if apples is not None:
        state = state.replace(apples=jnp.asarray(apples, bool))
    return state.replace(agents=agents)


def apple_rc(env):
    return [tuple(int(v) for v in divmod(c, env.layout.width)) for c in env.apple_cells]


def spawn_rc(env):
    return [tuple(int(v) for v in divmod(c, env.layout.width)) for c in env.engine.spawn_cells]


# ---- presets ----------------------------------------------------------------------------------
def test_default_preset_is_melting_pot():
    env, params = marl.make("harvest")
    assert env.variant == "melting_pot" and env.num_agents == 7


def test_presets_are_those_of_envs_md():
    expected = {
        "melting_pot": dict(
            map="meltingpot_commons_harvest_open.txt",
            agents=7,
            prob=[0.0, 0.0025, 0.005, 0.025],
            min_neighbours=[0, 1, 2, 3],
            radius_sq=4,
            zap=(3, 1, 2, 4, 0.0, 0.0),  # length, radius, cooldown, timeout, cost, penalty
            shape=("melting_pot", True),
        ),
        "perolat": dict(
            map="cpr_big.txt",
            agents=12,
            prob=[0.0, 0.01, 0.05, 0.1],
            min_neighbours=[0, 1, 3, 5],
            radius_sq=8,
            zap=(20, 2, 0, 25, 0.0, 0.0),
            shape=("rectangle", False),
        ),
        "ssd": dict(
            map="ssd_harvest.txt",
            agents=5,
            prob=[0.0, 0.005, 0.02, 0.05],
            min_neighbours=[0, 1, 2, 3],
            radius_sq=2,
            zap=(5, 1, 0, 0, 1.0, 50.0),
            shape=("melting_pot", True),
        ),
    }
    for preset, want in expected.items():
        env, p = marl.make("harvest", preset=preset)
        assert env.map_name == want["map"] and env.num_agents == want["agents"]
        np.testing.assert_allclose(p.regrowth_prob, want["prob"])
        assert p.regrowth_min_neighbours.tolist() == want["min_neighbours"]
        assert int(p.regrowth_radius_sq) == want["radius_sq"]
        zap = (p.zap_length, p.zap_radius, p.zap_cooldown, p.zap_timeout, p.zap_cost)
        assert tuple(float(v) for v in (*zap, p.zap_penalty)) == want["zap"]
        beam = env.engine.beams[0]
        assert (beam.shape, beam.stopped_by_agents) == want["shape"]
        assert float(p.apple_reward) == 1.0 and int(p.episode_length) == 1000


def test_maps_apple_and_spawn_counts():
    env, _ = marl.make("harvest")
    assert env.layout.chars.shape == (18, 24) and len(env.apple_cells) == 64
    assert len(env.engine.spawn_cells) == 62  # 60 P + 2 Q
    env, _ = marl.make("harvest", preset="perolat")
    assert env.layout.chars.shape == (16, 38) and len(env.apple_cells) == 155
    assert not env.engine.walls.any() and len(env.engine.spawn_cells) == 608 - 155
    env, _ = marl.make("harvest", preset="ssd")
    assert env.layout.chars.shape == (16, 38) and len(env.apple_cells) == 155
    assert len(env.engine.spawn_cells) == 20


def test_maps_are_package_data_with_their_trailing_spaces():
    folder = resources.files("marl.envs.gridworld") / "maps"
    assert "shared" not in str(folder)
    rows = read_map("cpr_big.txt")
    assert len(rows) == 16 and {len(r) for r in rows} == {38}
    assert rows[0] == " " * 38


def test_melting_pot_first_two_agents_start_on_the_inside_spawn_points():
    env, params, _, _ = setup("melting_pot")
    for seed in range(5):
        _, state = jitted("melting_pot", "reset")(jax.random.key(seed), params)
        pos = [tuple(p) for p in np.asarray(state.agents.pos).tolist()]
        assert set(pos[:2]) == {(7, 7), (7, 16)}
        assert all(env.layout.chars[p] == "P" for p in pos[2:])
        assert len(set(pos)) == 7


def test_perolat_agents_start_on_distinct_cells_without_apples():
    env, params, _, _ = setup("perolat")
    _, state = jitted("perolat", "reset")(jax.random.key(3), params)
    pos = [tuple(p) for p in np.asarray(state.agents.pos).tolist()]
    assert len(set(pos)) == 12 and not set(pos) & set(apple_rc(env))
    assert bool(state.apples.all())


def test_bad_params_and_args_are_rejected():
    with pytest.raises(ValueError, match="zap_length"):
        marl.make("harvest", zap_length=4)  # above max_zap_length = 3
    marl.make("harvest", zap_length=4, max_zap_length=4)
    with pytest.raises(ValueError, match="regrowth_min_neighbours"):
        marl.make("harvest", regrowth_min_neighbours=[1, 1, 2, 3])
    with pytest.raises(ValueError, match="regrowth_prob"):
        marl.make("harvest", regrowth_prob=[0.0, 0.1, 0.2, 1.5])
    with pytest.raises(ValueError, match="variant"):
        marl.make("harvest", variant="nope")
    with pytest.raises(ValueError, match="map_name"):
        marl.make("harvest", map_name="gathering.txt")


# ---- eating ------------------------------------------------------------------------------------
def test_stepping_onto_an_apple_eats_it():
    env, params, step, _ = setup("melting_pot")
    # Agent 0 at (4, 9) facing N: (3, 9) ahead is an apple cell. Others far away.
    others = [(16, c) for c in range(1, 7)]
    state = hand_built(env, [(4, 9), *others], [NORTH] * 7)
    assert (3, 9) in apple_rc(env)
    actions = jnp.asarray([FORWARD] + [NOOP] * 6, jnp.int32)
    _, after, reward, _, info = step(jax.random.key(1), state, actions, params)
    assert np.asarray(reward).tolist() == [1.0] + [0.0] * 6
    assert np.asarray(info["apples"]).tolist() == [1.0] + [0.0] * 6
    assert not bool(after.apples[apple_rc(env).index((3, 9))])
    assert int(info["apples_left"]) == int(after.apples.sum())
    assert int(info["apples_left"]) <= 63  # one eaten; regrowth cannot happen under it


# ---- zapping -----------------------------------------------------------------------------------
def zap_setup(preset, victim_offset=2):
    env, params, step, _ = setup(preset)
    n = env.num_agents
    spawn = spawn_rc(env)
    # Shooter at a spawn row facing N, victim `victim_offset` cells ahead of it.
    shooter = (14, 10) if preset != "perolat" else (14, 20)
    victim = (shooter[0] - victim_offset, shooter[1])
    far = [p for p in spawn if abs(p[0] - shooter[0]) + abs(p[1] - shooter[1]) > 8]
    pos = [shooter, victim, *far[: n - 2]]
    state = hand_built(env, pos, [NORTH] * n)
    return env, params, step, state


def test_melting_pot_zap_removes_the_victim_for_exactly_4_steps():
    env, params, step, state = zap_setup("melting_pot")
    n = env.num_agents
    fire = jnp.asarray([FIRE_ZAP] + [NOOP] * (n - 1), jnp.int32)
    _, state, reward, _, info = step(jax.random.key(0), state, fire, params)
    assert np.asarray(info["zapped"]).tolist() == [0, 1] + [0] * (n - 2)
    assert np.asarray(info["fired"]).tolist() == [True] + [False] * (n - 1)
    assert np.asarray(reward).tolist() == [0.0] * n  # no penalties in Melting Pot
    out = [bool(info["timed_out"][1])]
    # While removed it cannot act (its FIRE_ZAP is ignored), sees nothing, is not seen.
    victim_fires = jnp.asarray([NOOP, FIRE_ZAP] + [NOOP] * (n - 2), jnp.int32)
    for i in range(5):
        obs, state, _, _, info = step(jax.random.key(10 + i), state, victim_fires, params)
        out.append(bool(info["timed_out"][1]))
        if out[-1]:
            assert not bool(info["fired"][1])
            assert obs[1].sum() == 0
            assert obs[0, 7, 5, 3:].sum() == 0  # no agent 2 ahead of the shooter
    assert out == [True, True, True, True, False, False]  # 4 steps out, then back
    back = tuple(np.asarray(state.agents.pos[1]).tolist())
    assert env.layout.chars[back] == "P"  # respawned on a spawn point


def test_a_removed_agent_cannot_be_hit():
    env, params, step, state = zap_setup("perolat")
    n = env.num_agents
    state = state.replace(agents=state.agents.replace(timeout=jnp.asarray([0, 5] + [0] * (n - 2))))
    fire = jnp.asarray([FIRE_ZAP] + [NOOP] * (n - 1), jnp.int32)
    _, _, _, _, info = step(jax.random.key(0), state, fire, params)
    assert int(info["zapped"][1]) == 0 and bool(info["fired"][0])


def test_melting_pot_zap_cooldown_is_2_steps():
    env, params, step, state = zap_setup("melting_pot", victim_offset=6)  # out of range
    n = env.num_agents
    fire = jnp.asarray([FIRE_ZAP] + [NOOP] * (n - 1), jnp.int32)
    fired = []
    for i in range(7):
        _, state, _, _, info = step(jax.random.key(i), state, fire, params)
        fired.append(bool(info["fired"][0]))
        assert not bool(info["zapped"].any())
    assert fired == [True, False, False, True, False, False, True]


def test_ssd_zap_costs_the_shooter_1_and_the_victim_50_without_removal():
    env, params, step, state = zap_setup("ssd", victim_offset=5)  # the far end of the beam
    n = env.num_agents
    fire = jnp.asarray([FIRE_ZAP] + [NOOP] * (n - 1), jnp.int32)
    _, state, reward, _, info = step(jax.random.key(0), state, fire, params)
    assert np.asarray(reward)[:2].tolist() == [-1.0, -50.0]
    assert not bool(info["timed_out"].any())
    # No cooldown: it fires again at once, and a miss still costs 1.
    state = state.replace(agents=state.agents.replace(facing=jnp.full(n, SOUTH)))
    _, _, reward, _, info = step(jax.random.key(1), state, fire, params)
    assert bool(info["fired"][0]) and float(reward[0]) == -1.0 and float(reward[1]) == 0.0


def test_perolat_beam_passes_through_agents_and_removes_them_for_25_steps():
    env, params, step, state = zap_setup("perolat", victim_offset=2)
    n = env.num_agents
    pos = state.agents.pos.at[2].set(jnp.asarray([14 - 12, 21]))  # 12 ahead, 1 column right
    state = state.replace(agents=state.agents.replace(pos=pos))
    fire = jnp.asarray([FIRE_ZAP] + [NOOP] * (n - 1), jnp.int32)
    _, state, _, _, info = step(jax.random.key(0), state, fire, params)
    assert np.asarray(info["zapped"])[:3].tolist() == [0, 1, 1]
    assert np.asarray(state.agents.timeout)[:3].tolist() == [0, 25, 25]


# ---- regrowth ----------------------------------------------------------------------------------
def neighbour_counts(env, params, apples):
    """L for every apple cell, counted here from map coordinates (independently of env)."""
    rc = apple_rc(env)
    r2 = int(params.regrowth_radius_sq)
    counts = []
    for i, (r, c) in enumerate(rc):
        near = [
            j
            for j, (rr, cc) in enumerate(rc)
            if j != i and (rr - r) ** 2 + (cc - c) ** 2 <= r2 and apples[j]
        ]
        counts.append(len(near))
    return np.asarray(counts)


@pytest.mark.parametrize("preset", PRESETS)
def test_empty_apple_cells_regrow_at_the_presets_probability(preset):
    env, params, _, transition = setup(preset)
    n = env.num_agents
    rng = np.random.default_rng(0)
    prob = np.asarray(params.regrowth_prob)
    mins = np.asarray(params.regrowth_min_neighbours)
    grown = np.zeros(4)
    trials = np.zeros(4)
    for config in range(3):
        apples = rng.random(len(env.apple_cells)) < 0.5
        count = neighbour_counts(env, params, apples)
        level = np.searchsorted(mins, count, side="right") - 1
        # Agents parked on cells that are not apple cells, doing nothing.
        state = hand_built(env, spawn_rc(env)[:n], [NORTH] * n, apples)
        keys = jax.random.split(jax.random.key(config), 4000)
        after, _, _, _ = transition(keys, state, jnp.zeros(n, jnp.int32), params)
        regrew = np.asarray(after.apples)[:, ~apples]  # [keys, empty cells]
        for k in range(4):
            cells = level[~apples] == k
            grown[k] += regrew[:, cells].sum()
            trials[k] += regrew.shape[0] * cells.sum()
        assert (np.asarray(after.apples)[:, apples]).all()  # nothing vanishes by itself
    for k in range(4):
        assert trials[k] > 0, (preset, k)
        expected = trials[k] * prob[k]
        tolerance = 5 * np.sqrt(trials[k] * prob[k] * (1 - prob[k])) + 1e-9
        assert abs(grown[k] - expected) <= tolerance, (preset, k, grown[k], expected)
    assert grown[0] == 0  # L = 0 never regrows


def test_an_isolated_empty_patch_never_regrows():
    env, params, step, _ = setup("melting_pot")
    # The top-left patch (rows 1-3, columns 1-3) is more than 2 cells from every other apple.
    patch = [i for i, (r, c) in enumerate(apple_rc(env)) if r <= 3 and c <= 3]
    assert len(patch) == 6
    others = [i for i in range(len(env.apple_cells)) if i not in patch]
    assert neighbour_counts(env, params, np.isin(np.arange(64), others))[patch].max() == 0
    apples = np.ones(64, bool)
    apples[patch] = False
    state = hand_built(env, spawn_rc(env)[2:9], [NORTH] * 7, apples)
    noop = jnp.zeros(7, jnp.int32)
    run = jax.jit(
        lambda key, s: jax.lax.scan(
            lambda s, k: (env.transition(k, s, noop, params)[0], s.apples[np.asarray(patch)]),
            s,
            jax.random.split(key, 999),
        )
    )
    state, seen = run(jax.random.key(0), state)
    assert not np.asarray(seen).any() and not np.asarray(state.apples[np.asarray(patch)]).any()
    assert int(state.apples.sum()) == 58  # the rest is full and stays full


def test_no_apple_grows_under_an_agent():
    env, params, _, transition = setup("melting_pot")
    params = with_params(params, regrowth_prob=[1.0, 1.0, 1.0, 1.0])
    rc = apple_rc(env)
    cell = rc.index((2, 8))
    apples = np.ones(64, bool)
    apples[cell] = False
    pos = [(2, 8), *spawn_rc(env)[2:8]]
    state = hand_built(env, pos, [NORTH] * 7, apples)
    keys = jax.random.split(jax.random.key(0), 4)
    after, _, _, _ = transition(keys, state, jnp.zeros(7, jnp.int32), params)
    assert not np.asarray(after.apples[:, cell]).any()


# ---- episodes, info, statistics ----------------------------------------------------------------
def test_truncated_at_episode_length_never_terminated():
    env, params, step, _ = setup("melting_pot")
    params = with_params(params, episode_length=3)
    _, state = jitted("melting_pot", "reset")(jax.random.key(0), params)
    dones = []
    for i in range(6):
        _, state, _, done, info = step(jax.random.key(i), state, jnp.zeros(7, jnp.int32), params)
        dones.append(bool(done))
        assert not bool(info["terminated"])
    assert dones == [False, False, True, False, False, True]


def test_info_keys_and_shapes():
    env, params, step, _ = setup("melting_pot")
    _, state = jitted("melting_pot", "reset")(jax.random.key(0), params)
    actions = jnp.full(7, FIRE_ZAP, jnp.int32)
    _, _, reward, _, info = step(jax.random.key(1), state, actions, params)
    assert set(info) == {
        "terminated",
        "truncated",
        "apples",
        "fired",
        "zapped",
        "timed_out",
        "apples_left",
    }
    for key in ("apples", "fired", "zapped", "timed_out"):
        assert info[key].shape == (7,)
    assert info["apples_left"].shape == () and reward.shape == (7,)


def test_episode_statistics_give_the_social_and_harvest_metrics():
    env, params, _, _ = setup("melting_pot")
    params = with_params(params, episode_length=5, zap_timeout=2)
    stats = EpisodeStats(env)
    n = env.num_agents
    obs, state = jax.jit(stats.reset)(jax.random.key(0), params)
    # Hand-built: agent 0 zaps agent 1 two cells ahead on the first step; then NOOPs.
    inner = hand_built(env, [(14, 10), (12, 10), *spawn_rc(env)[30:35]], [NORTH] * n)
    state = state.replace(env_state=inner)
    step = jax.jit(stats.step)
    fire = jnp.asarray([FIRE_ZAP] + [NOOP] * (n - 1), jnp.int32)
    for i in range(5):
        actions = fire if i == 0 else jnp.zeros(n, jnp.int32)
        _, state, _, done, info = step(jax.random.key(i), state, actions, params)
    assert bool(done) and bool(info["returned_episode"])
    summary = episode_summary(env, info["episode"])
    assert float(summary["peace"]) == pytest.approx((n * 5 - 2) / 5)  # out for 2 steps
    assert float(summary["zap_rate"]) == pytest.approx(1 / (n * 5))
    assert float(summary["zapped_rate"]) == pytest.approx(1 / (n * 5))
    assert float(summary["apples_per_agent"]) == 0.0
    assert float(summary["apples_left"]) == pytest.approx(64.0)
    for key in ("efficiency", "equality", "sustainability", "episode_return"):
        assert np.isfinite(float(summary[key]))


def test_observation_space_and_channel_names():
    env, params = marl.make("harvest")
    assert env.observation_space(params).shape == (11, 11, 7)
    assert env.channel_names[:3] == ("wall", "apple", "self")
    assert env.action_space(params).n == 8
    env, params = marl.make("harvest", view_ahead=5, view_behind=0, view_side=2)
    obs, _ = jax.jit(env.reset)(jax.random.key(0), params)
    assert obs.shape == (7, 6, 5, 7)


def test_render_shows_zaps():
    env, params, step, state = zap_setup("melting_pot", victim_offset=6)
    n = env.num_agents
    render = jitted("melting_pot", "render")
    before = np.asarray(render(state, params))
    fire = jnp.asarray([FIRE_ZAP] + [NOOP] * (n - 1), jnp.int32)
    _, after_state, _, _, _ = step(jax.random.key(0), state, fire, params)
    after = np.asarray(render(after_state, params))
    assert before.shape == (18 * 8, 24 * 8, 3)
    changed = np.any(before != after, axis=-1)
    # The zap covers (13, 10) ahead of the shooter at (14, 10): that cell changed colour.
    assert changed[13 * 8 + 4, 10 * 8 + 4]


def test_state_is_a_pytree_of_arrays():
    env, params, _, _ = setup("melting_pot")
    _, state = jitted("melting_pot", "reset")(jax.random.key(0), params)
    assert isinstance(state, HarvestState)
    assert all(isinstance(x, jax.Array) for x in jax.tree.leaves(state))

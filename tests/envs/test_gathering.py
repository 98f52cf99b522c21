"""Gathering: map, apples respawning after N_apple, the beam, tagging, statistics."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marl
from marl.envs.gridworld.engine import BACKWARD, EAST, FIRE_ZAP, FORWARD, NOOP, NORTH, SOUTH, WEST
from marl.metrics import episode_summary
from marl.rollout import random_rollout
from marl.wrappers import EpisodeStats

# The map inside its wall ring: the apple diamond is centred on (6, 16).
APPLES = {(4, 16), *((5, c) for c in (15, 16, 17)), *((6, c) for c in range(14, 19))}
APPLES |= {(7, 15), (7, 16), (7, 17), (8, 16)}


@functools.cache
def setup():
    """The env inside the statistics wrapper, its step jitted once: every hand-built test
    goes through it, changing params by value (they are arguments: nothing recompiles)."""
    env, params = marl.make("gathering")
    stats = EpisodeStats(env)
    return env, params, stats, jax.jit(stats.step), jax.jit(stats.reset)


def with_params(**values):
    params = setup()[1]
    return params.replace(
        **{k: jnp.asarray(v, getattr(params, k).dtype) for k, v in values.items()}
    )


def hand_built(pos, facing):
    """A fresh episode (wrapped) with the agents moved to `pos` / `facing`."""
    _, params, _, _, reset = setup()
    _, state = reset(jax.random.key(0), params)
    agents = state.env_state.agents.replace(
        pos=jnp.asarray(pos, jnp.int32), facing=jnp.asarray(facing, jnp.int32)
    )
    return state.replace(env_state=state.env_state.replace(agents=agents))


def play(state, actions, params, steps):
    """Step `steps` times with fixed actions; returns the final state and the per-step
    (obs, reward, info) as numpy."""
    step = setup()[3]
    actions = jnp.asarray(actions, jnp.int32)
    out = []
    for i in range(steps):
        obs, state, reward, _, info = step(jax.random.key(i), state, actions, params)
        out.append((np.asarray(obs), np.asarray(reward), jax.tree.map(np.asarray, info)))
    return state, out


def apple_present(state, rc):
    env = setup()[0]
    i = [tuple(divmod(int(c), env.layout.width)) for c in env.apple_cells].index(rc)
    return bool(state.env_state.apple_timer[i] == 0)


# ---- map and params ----------------------------------------------------------------------------
def test_map_is_the_shipped_map_inside_a_wall_ring():
    env, params = marl.make("gathering")
    chars = env.layout.chars
    assert chars.shape == (13, 33) and env.num_agents == 2
    ring = np.ones(chars.shape, bool)
    ring[1:-1, 1:-1] = False
    assert (env.engine.walls == ring).all()
    got = {tuple(divmod(int(c), 33)) for c in env.apple_cells}
    assert got == APPLES
    # Agents start and respawn on any free non-apple cell.
    assert len(env.engine.spawn_cells) == 11 * 31 - 13
    assert env.observation_space(params).shape == (16, 21, 7)  # 15 ahead, 10 to each side
    assert env.action_space(params).n == 8


def test_default_params_and_bad_values():
    _, p = marl.make("gathering")
    assert float(p.apple_reward) == 1.0 and int(p.episode_length) == 1000
    assert int(p.tag_hits) == 2 and int(p.beam_length) == 30  # 30: the longest line
    for bad in (
        dict(apple_respawn=0),
        dict(beam_length=31),
        dict(tag_hits=0),
        dict(tag_window=-1),
        dict(num_agents=0),
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            marl.make("gathering", **bad)
    env, _ = marl.make("gathering", max_beam_length=40, beam_length=40, num_agents=3)
    assert env.num_agents == 3


# ---- apples ------------------------------------------------------------------------------------
def test_an_eaten_apple_is_gone_for_exactly_n_apple_steps():
    params = with_params(apple_respawn=3)
    # Agent 0 steps S onto the apple at (4, 16), then backs off; agent 1 far away.
    state = hand_built([(3, 16), (1, 1)], [SOUTH, NORTH])
    state, out = play(state, [FORWARD, NOOP], params, 1)
    assert out[0][1].tolist() == [1.0, 0.0] and out[0][2]["apples"].tolist() == [1.0, 0.0]
    assert not apple_present(state, (4, 16)) and int(out[0][2]["apples_left"]) == 12
    present = []
    for _ in range(4):
        state, out = play(state, [BACKWARD, NOOP], params, 1)
        present.append(apple_present(state, (4, 16)))
    assert present == [False, False, True, True]  # gone after steps 0, 1, 2; back after 3


def test_an_apple_returns_under_a_standing_agent_who_eats_it_next_step():
    params = with_params(apple_respawn=3)
    state = hand_built([(4, 16), (1, 1)], [SOUTH, NORTH])
    _, out = play(state, [NOOP, NOOP], params, 6)
    assert [r[0] for _, r, _ in out] == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]  # every N_apple + 1


# ---- the beam ----------------------------------------------------------------------------------
def test_the_beam_is_a_line_that_stops_at_the_wall():
    env, params, *_ = setup()
    state = hand_built([(6, 10), (1, 1)], [EAST, NORTH]).env_state
    fire = jax.jit(
        lambda agents, length: env.engine.fire("beam", agents, jnp.asarray([1, 0], bool), length, 0)
    )
    covered = []
    for facing, length in ((EAST, 30), (WEST, 30), (EAST, 4)):
        agents = state.agents.replace(facing=jnp.asarray([facing, NORTH]))
        beam = fire(agents, length)
        cells = np.asarray(beam.cells[0])[np.asarray(beam.covered[0])]
        assert not env.engine.walls.ravel()[cells].any()
        assert set(cells // 33) == {6}  # one row: a line along the facing
        covered.append(len(cells))
    assert covered == [21, 9, 4]  # columns 11..31 up to the wall, 1..9 the other way, 4 cells


def test_the_default_beam_hits_across_the_whole_map_and_is_drawn():
    env, params, *_ = setup()
    state = hand_built([(6, 1), (6, 31)], [EAST, WEST])
    _, out = play(state, [FIRE_ZAP, NOOP], params, 1)
    assert out[0][2]["hit"].tolist() == [0, 1]
    _, out = play(state, [FIRE_ZAP, NOOP], with_params(beam_length=29), 1)
    assert out[0][2]["hit"].tolist() == [0, 0] and bool(out[0][2]["fired"][0])
    after, _ = play(state, [FIRE_ZAP, NOOP], params, 1)
    render = jax.jit(env.render)
    before_img = np.asarray(render(state.env_state, params))
    after_img = np.asarray(render(after.env_state, params))
    middle = (6 * 8 + 4, 16 * 8 + 4)  # an apple cell on the beam's row
    assert (before_img[middle] != after_img[middle]).any()


# ---- tagging -----------------------------------------------------------------------------------
SHOOTER_AND_VICTIM = ([(6, 1), (6, 5)], [EAST, NORTH])


def test_two_hits_within_the_window_remove_the_victim_for_exactly_n_tagged_steps():
    params = with_params(tag_window=3, tag_timeout=4)
    state = hand_built(*SHOOTER_AND_VICTIM)
    # Victim keeps choosing FIRE_ZAP (facing the wall): ignored while it is removed.
    state, out = play(state, [FIRE_ZAP, FIRE_ZAP], params, 1)
    info = out[0][2]
    assert info["hit"].tolist() == [0, 1] and not info["timed_out"].any()  # one hit: nothing
    state, _ = play(state, [NOOP, FIRE_ZAP], params, 2)
    state, out = play(state, [FIRE_ZAP, FIRE_ZAP], params, 6)  # 3 steps after the first hit
    assert out[0][2]["tagged"].tolist() == [False, True]
    out_of_game = [bool(info["timed_out"][1]) for _, _, info in out]
    assert out_of_game == [True] * 4 + [False] * 2
    for obs, reward, info in out[1:4]:  # steps that began with the victim removed
        assert info["hit"][1] == 0 and not info["fired"][1]  # cannot be hit, cannot act
        assert obs[1].sum() == 0 and obs[0, ..., 3:].sum() == 0  # blind and invisible
        assert reward.tolist() == [0.0, 0.0]
    env = setup()[0]
    back = tuple(np.asarray(state.env_state.agents.pos[1]).tolist())
    assert env.layout.chars[back] == "."  # respawned on a free non-apple cell


def test_hits_farther_apart_than_the_window_do_not_tag():
    params = with_params(tag_window=3, tag_timeout=4)
    state = hand_built(*SHOOTER_AND_VICTIM)
    fire_at = {0, 4, 5}  # 4 steps apart: the count restarts; then 1 step apart: tagged
    tagged = []
    for i in range(6):
        state, out = play(state, [FIRE_ZAP if i in fire_at else NOOP, NOOP], params, 1)
        tagged.append(bool(out[0][2]["tagged"][1]))
        assert out[0][1].tolist() == [0.0, 0.0]  # no reward for tagging, none for being hit
    assert tagged == [False] * 5 + [True]


# ---- statistics --------------------------------------------------------------------------------
def test_episode_statistics_give_the_social_and_gathering_metrics():
    params = with_params(episode_length=6, tag_timeout=2)
    # The victim steps onto the apple at (4, 16) and is hit there twice from (1, 16).
    state = hand_built([(1, 16), (3, 16)], [SOUTH, SOUTH])
    state, out = play(state, [FIRE_ZAP, FORWARD], params, 1)
    state, out2 = play(state, [FIRE_ZAP, NOOP], params, 1)
    state, out3 = play(state, [NOOP, NOOP], params, 4)
    steps = [*out, *out2, *out3]
    assert steps[0][1].tolist() == [0.0, 1.0] and steps[1][2]["tagged"].tolist() == [0, 1]
    info = steps[-1][2]
    assert bool(info["returned_episode"])
    summary = {k: float(v) for k, v in episode_summary(setup()[0], info["episode"]).items()}
    t, n = 6, 2
    assert summary["peace"] == pytest.approx((n * t - 2) / t)  # removed for 2 steps
    assert summary["efficiency"] == pytest.approx(1 / t)
    assert summary["equality"] == pytest.approx(0.5)  # returns (0, 1)
    assert summary["zap_rate"] == pytest.approx(2 / (n * t))
    assert summary["hit_rate"] == pytest.approx(2 / (n * t))
    assert summary["tag_rate"] == pytest.approx(1 / (n * t))
    assert summary["apples_per_agent"] == pytest.approx(0.5)
    assert summary["apples_left"] == pytest.approx(12.0)  # one apple gone all episode


def test_higher_n_apple_gives_fewer_apples_per_step_under_random_play():
    env, params, *_ = setup()

    def rates(n_apple):
        p = params.replace(apple_respawn=n_apple)
        keys = jax.random.split(jax.random.key(0), 32)
        _, (_, reward, _, info) = jax.vmap(lambda k: random_rollout(env, p, k, 200))(keys)
        return reward.mean(), info["apples_left"].mean()

    eaten, left = jax.jit(jax.vmap(rates))(jnp.asarray([1, 100]))
    assert float(eaten[1]) < 0.6 * float(eaten[0]) and float(left[1]) < float(left[0])

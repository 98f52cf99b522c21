"""Episode statistics and reward transforms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marl
from marl.wrappers import Collective, EpisodeStats, InequityAversion, SocialValueOrientation


def run(env, params, actions_seq, seed=0):
    _, state = env.reset(jax.random.key(seed), params)
    outs = []
    for t, actions in enumerate(actions_seq):
        obs, state, reward, done, info = env.step(
            jax.random.key(seed + 1 + t), state, jnp.asarray(actions, jnp.int32), params
        )
        outs.append((obs, reward, done, info))
    return state, outs


def test_episode_stats_report_the_finished_episode_and_restart():
    env, params = marl.make("ipd", horizon=3)
    # CC, DC, DD | CC : episode 1 returns (-1+0-2, -1-3-2), then a new episode starts
    state, outs = run(EpisodeStats(env), params, [[0, 0], [1, 0], [1, 1], [0, 0]])
    done_flags = [bool(o[2]) for o in outs]
    assert done_flags == [False, False, True, False]
    info = outs[2][3]
    assert bool(info["returned_episode"])
    np.testing.assert_allclose(info["episode"]["returns"], [-3.0, -6.0])
    assert int(info["episode"]["length"]) == 3
    np.testing.assert_allclose(info["episode"]["events"]["cooperated"], [1, 2])
    # the running totals restarted with the new episode
    np.testing.assert_allclose(state.running.returns, [-1.0, -1.0])
    assert int(state.running.length) == 1
    # and the first observation after done is the fresh episode's (start state)
    np.testing.assert_array_equal(outs[2][0], np.eye(5)[[0, 0]])


def test_episode_stats_time_positive_rewards_for_sustainability():
    env, params = marl.make("ipd_classic", horizon=4)
    # positive payoffs everywhere except S = 0: agent 0 plays C vs D at step 2 (gets 0)
    _, outs = run(EpisodeStats(env), params, [[0, 0], [0, 1], [1, 1], [0, 0]])
    episode = outs[-1][3]["episode"]
    np.testing.assert_allclose(episode["reward_steps"], [3, 4])
    np.testing.assert_allclose(episode["reward_time_sum"], [1 + 3 + 4, 1 + 2 + 3 + 4])
    summary = marl.episode_summary(env, episode)
    assert float(summary["sustainability"]) == pytest.approx((8 / 3 + 10 / 4) / 2)
    assert float(summary["peace"]) == pytest.approx(2.0)  # nobody is ever removed


def test_episode_stats_jit_and_vmap():
    env, params = marl.make("spgg")
    wrapped = EpisodeStats(env)
    keys = jax.random.split(jax.random.key(0), 4)
    obs, state = jax.jit(jax.vmap(wrapped.reset, (0, None)))(keys, params)
    actions = jnp.ones((4, 3), jnp.int32)
    step = jax.jit(jax.vmap(wrapped.step, (0, 0, 0, None)))
    for _ in range(3):
        obs, state, reward, done, info = step(keys, state, actions, params)
    assert bool(done.all())
    np.testing.assert_allclose(info["episode"]["events"]["contribution"], 1.0)


def test_collective_mean_and_sum_keep_the_env_reward():
    env, params = marl.make("ipd")
    _, outs = run(Collective(env), params, [[0, 1]])
    np.testing.assert_allclose(outs[0][1], [-1.5, -1.5])
    np.testing.assert_allclose(outs[0][3]["env_reward"], [-3.0, 0.0])
    _, outs = run(Collective(env, aggregate="sum"), params, [[0, 1]])
    np.testing.assert_allclose(outs[0][1], [-3.0, -3.0])


def test_stats_under_a_transform_describe_the_games_own_rewards():
    env, params = marl.make("ipd", horizon=1)
    wrapped = EpisodeStats(Collective(env))
    _, outs = run(wrapped, params, [[0, 1]])
    np.testing.assert_allclose(outs[0][3]["episode"]["returns"], [-3.0, 0.0])


def test_inequity_aversion_hand_computed_over_two_steps():
    env, params = marl.make("ipd_classic", horizon=5)
    wrapped = InequityAversion(env, alpha=5.0, beta=0.05, gamma=0.5, lam=1.0)
    p = wrapped.default_params.replace(env=params)
    _, outs = run(wrapped, p, [[0, 1], [0, 0]])
    # step 1: r = (0, 5); e = (0, 5): agent 0 envies 5, agent 1 feels guilt 5
    np.testing.assert_allclose(outs[0][1], [0 - 5 * 5, 5 - 0.05 * 5], rtol=1e-6)
    # step 2: r = (3, 3); e = 0.5 * (0, 5) + 3 = (3, 5.5)
    np.testing.assert_allclose(outs[1][1], [3 - 5 * 2.5, 3 - 0.05 * 2.5], rtol=1e-6)


def test_inequity_aversion_smoothing_restarts_each_episode():
    env, params = marl.make("ipd_classic", horizon=1)
    wrapped = InequityAversion(env)
    state, _ = run(wrapped, wrapped.default_params.replace(env=params), [[0, 1]])
    np.testing.assert_array_equal(state.smoothed, 0.0)


def test_inequity_weights_vmap_as_params():
    env, params = marl.make("ipd_classic")
    wrapped = InequityAversion(env)
    base = wrapped.default_params.replace(env=params)
    alphas = jnp.array([0.0, 5.0])
    batch = jax.vmap(lambda a: base.replace(weights={**base.weights, "alpha": a}))(alphas)
    _, state = wrapped.reset(jax.random.key(0), base)
    step = lambda p: wrapped.step(jax.random.key(1), state, jnp.array([0, 1]), p)[2]
    rewards = jax.vmap(step)(batch)
    np.testing.assert_allclose(rewards[:, 0], [0.0, -25.0])


def test_svo_penalises_distance_from_the_target_angle():
    env, params = marl.make("ipd_classic")
    wrapped = SocialValueOrientation(env, w=1.0, theta=float(np.pi / 4))
    p = wrapped.default_params.replace(env=params)
    _, outs = run(wrapped, p, [[0, 0], [0, 1]])
    np.testing.assert_allclose(outs[0][1], [3.0, 3.0], atol=1e-6)  # equal rewards: 45 degrees
    # (0, 5): agent 0 at angle pi/2, agent 1 at angle 0
    np.testing.assert_allclose(outs[1][1], [-np.pi / 4, 5 - np.pi / 4], rtol=1e-5)


def test_unknown_transform_or_weight_is_refused():
    env, _ = marl.make("ipd")
    with pytest.raises(ValueError, match="unknown reward transform 'selfish'"):
        marl.reward_transform(env, "selfish")
    with pytest.raises(ValueError, match=r"unknown weight \['delta'\]"):
        marl.reward_transform(env, "inequity_aversion", delta=1.0)
    with pytest.raises(ValueError, match=r"gamma=1.5 is out of range"):
        marl.reward_transform(env, "inequity_aversion", gamma=1.5)
    with pytest.raises(ValueError, match=r"aggregate='max'"):
        marl.reward_transform(env, "collective", aggregate="max")

"""Matrix games: payoffs, memory-1 observations, stopping rules, and the exact value."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marl
from marl.envs.matrix import PAYOFFS, exact_values, memory1_values

C, D = 0, 1


def play(env, params, state, a1, a2, key=0):
    actions = jnp.array([a1, a2], jnp.int32)
    return env.step(jax.random.key(key), state, actions, params)


@pytest.mark.parametrize("name", list(PAYOFFS))
@pytest.mark.parametrize("a1, a2", [(C, C), (C, D), (D, C), (D, D)])
def test_each_player_is_paid_its_entry_of_the_payoff_table(name, a1, a2):
    env, params = marl.make(name)
    _, state = env.reset(jax.random.key(0), params)
    _, _, reward, _, _ = play(env, params, state, a1, a2)
    np.testing.assert_array_equal(reward, np.asarray(PAYOFFS[name], np.float32)[a1, a2])


def test_ipd_preset_is_the_lola_table():
    table = np.asarray(marl.make("ipd")[1].payoff)
    assert table[C, C].tolist() == [-1, -1] and table[C, D].tolist() == [-3, 0]
    assert table[D, C].tolist() == [0, -3] and table[D, D].tolist() == [-2, -2]


@pytest.mark.parametrize(
    "a1, a2, seen_by_1, seen_by_2", [(C, C, 1, 1), (C, D, 2, 3), (D, C, 3, 2), (D, D, 4, 4)]
)
def test_each_player_sees_the_last_round_with_its_own_action_first(a1, a2, seen_by_1, seen_by_2):
    env, params = marl.make("ipd")
    obs, state = env.reset(jax.random.key(0), params)
    np.testing.assert_array_equal(obs, np.eye(5)[[0, 0]])  # both start in "start"
    obs, *_ = play(env, params, state, a1, a2)
    np.testing.assert_array_equal(obs, np.eye(5)[[seen_by_1, seen_by_2]])


def test_horizon_truncates_and_never_terminates():
    env, params = marl.make("ipd", horizon=3)
    _, state = env.reset(jax.random.key(0), params)
    dones = []
    for t in range(3):
        _, state, _, done, info = play(env, params, state, C, C, key=t)
        dones.append((bool(done), bool(info["truncated"]), bool(info["terminated"])))
    assert dones == [(False, False, False), (False, False, False), (True, True, False)]


def test_continuation_probability_sets_the_mean_episode_length():
    gamma = 0.8
    env, params = marl.make("ipd", horizon=10_000, continue_prob=gamma)
    _, state = env.reset(jax.random.key(0), params)
    keys = jax.random.split(jax.random.key(1), 20_000)
    states = jax.vmap(lambda _: state)(keys)
    actions = jnp.zeros((keys.shape[0], 2), jnp.int32)
    *_, done, info = jax.vmap(env.step, (0, 0, 0, None))(keys, states, actions, params)
    # Each round ends the episode with probability 1 - gamma, as termination.
    assert abs(float(done.mean()) - (1 - gamma)) < 0.01
    assert bool(info["terminated"][done].all())


def _mc_average_reward(p1, p2, gamma, episodes=4000):
    """(1 - gamma) * mean episode return in the sampled ipd, with gamma as continuation."""
    env, params = marl.make("ipd", horizon=2000, continue_prob=gamma)
    probs = jnp.stack([p1, p2])

    def episode(key):
        key_reset, key_run = jax.random.split(key)
        obs, state = env.reset(key_reset, params)

        def round_(carry, k):
            obs, state, total, alive = carry
            k_act, k_env = jax.random.split(k)
            p_cooperate = (obs * probs).sum(-1)
            actions = (jax.random.uniform(k_act, (2,)) >= p_cooperate).astype(jnp.int32)
            obs, state, reward, done, _ = env.step(k_env, state, actions, params)
            total = total + alive * reward
            return (obs, state, total, alive & ~done), None

        carry = (obs, state, jnp.zeros(2), jnp.asarray(True))
        (_, _, total, _), _ = jax.lax.scan(round_, carry, jax.random.split(key_run, 300))
        return total

    totals = jax.jit(jax.vmap(episode))(jax.random.split(jax.random.key(0), episodes))
    return (1 - gamma) * np.asarray(totals).mean(0), (1 - gamma) * np.asarray(totals).std(0)


def test_exact_value_agrees_with_monte_carlo_of_the_sampled_game():
    gamma = 0.9  # episodes of mean length 10; 300 rounds leave < 1e-13 of the tail
    p1 = jnp.array([0.9, 0.7, 0.2, 0.6, 0.1])
    p2 = jnp.array([0.5, 0.8, 0.3, 0.4, 0.5])
    exact = np.asarray(memory1_values(p1, p2, marl.make("ipd")[1].payoff, gamma))
    estimate, spread = _mc_average_reward(p1, p2, gamma)
    # Tolerance: 4 standard errors of the mean over 4000 episodes.
    tolerance = 4 * spread / np.sqrt(4000)
    assert np.all(np.abs(exact - estimate) < tolerance), (exact, estimate, tolerance)


def test_all_cooperate_earns_minus_one_per_step_in_ipd():
    payoff = marl.make("ipd")[1].payoff
    values = memory1_values(jnp.ones(5), jnp.ones(5), payoff, 0.96)
    np.testing.assert_allclose(values, [-1.0, -1.0], atol=1e-5)


def test_always_defect_against_always_cooperate_takes_the_temptation():
    payoff = marl.make("ipd")[1].payoff
    values = memory1_values(jnp.zeros(5), jnp.ones(5), payoff, 0.96)
    np.testing.assert_allclose(values, [0.0, -3.0], atol=1e-5)


def test_exact_value_gradient_matches_finite_differences():
    payoff = marl.make("ipd")[1].payoff
    theta1 = jax.random.normal(jax.random.key(0), (5,))
    theta2 = jax.random.normal(jax.random.key(1), (5,))
    value_1 = lambda t1, t2: exact_values(t1, t2, payoff, 0.96)[0]
    grads = jax.grad(value_1, argnums=(0, 1))(theta1, theta2)
    eps = 1e-3
    for arg, grad in enumerate(grads):
        for i in range(5):
            bump = jnp.zeros(5).at[i].set(eps)
            args_hi = [theta1, theta2]
            args_lo = [theta1, theta2]
            args_hi[arg] = args_hi[arg] + bump
            args_lo[arg] = args_lo[arg] - bump
            numeric = (value_1(*args_hi) - value_1(*args_lo)) / (2 * eps)
            np.testing.assert_allclose(grad[i], numeric, rtol=2e-2, atol=2e-4)


def test_exact_value_is_symmetric_under_swapping_players():
    payoff = marl.make("ipd")[1].payoff
    p, q = jnp.array([0.9, 0.7, 0.2, 0.6, 0.1]), jnp.array([0.5, 0.8, 0.3, 0.4, 0.5])
    forward = memory1_values(p, q, payoff, 0.96)
    backward = memory1_values(q, p, payoff, 0.96)
    np.testing.assert_allclose(forward, backward[::-1], rtol=1e-5)


def test_cooperation_rate_counts_c_actions_over_the_episode():
    env, params = marl.make("ipd", horizon=4)
    wrapped = marl.EpisodeStats(env)
    _, state = wrapped.reset(jax.random.key(0), params)
    for t, (a1, a2) in enumerate([(C, C), (C, D), (D, D), (C, C)]):
        _, state, _, done, info = wrapped.step(
            jax.random.key(t), state, jnp.array([a1, a2], jnp.int32), params
        )
    assert bool(done)
    summary = marl.episode_summary(env, info["episode"])
    assert float(summary["cooperation_rate"]) == pytest.approx(5 / 8)
